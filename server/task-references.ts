/**
 * Results as arguments, at submit: finds the elements `{"$task": "<id>"}`
 * of an argument array and where they sit in its text, so the store can
 * put each dependency's result text there byte for byte when it completes
 * (lua/dependencies.ts), without parsing the arguments again.
 *
 * An argument array with no object element that has a `$task` key costs one
 * `typeof` per element here: the common task is not looked at twice.
 */

import { validate as isUuid } from 'uuid';
import { BadPayloadError } from '../shared/errors.js';
import type { TaskReference, TaskStore } from './store/task-store.js';

export const REFERENCE_KEY = '$task';

/** The references among the elements, or undefined when there are none. */
export function findReferences(
  text: string,
  elements: readonly unknown[],
): TaskReference[] | undefined {
  let first = -1;
  for (let i = 0; i < elements.length; i++) {
    if (isReferenceLike(elements[i])) {
      first = i;
      break;
    }
  }
  if (first < 0) return undefined;
  const spans = elementSpans(text);
  if (spans.length !== elements.length) {
    // The scanner and JSON.parse disagree: a bug here, never the client's.
    throw new Error(`found ${spans.length} elements where JSON.parse found ${elements.length}`);
  }
  const refs: TaskReference[] = [];
  for (let i = first; i < elements.length; i++) {
    const element = elements[i];
    if (!isReferenceLike(element)) continue;
    const span = spans[i] as [number, number];
    refs.push({ id: referenceId(element, i), start: span[0], end: span[1] });
  }
  return refs;
}

/** The distinct ids of references, in order of first use. */
export function referencedIds(refs: readonly TaskReference[]): string[] {
  return [...new Set(refs.map((r) => r.id))];
}

function isReferenceLike(value: unknown): value is object {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.hasOwn(value, REFERENCE_KEY)
  );
}

function referenceId(element: object, position: number): string {
  const keys = Object.keys(element);
  const id: unknown = Object.getOwnPropertyDescriptor(element, REFERENCE_KEY)?.value;
  if (keys.length !== 1) {
    throw new BadPayloadError(
      `Expected argument ${position} to be a task reference {"$task": "<task id>"} with no other key, got keys ${keys.slice(0, 5).join(', ')}`,
    );
  }
  if (typeof id !== 'string' || !isUuid(id)) {
    const got = typeof id === 'string' ? `\`${id.slice(0, 64)}\`` : typeof id;
    throw new BadPayloadError(
      `Expected argument ${position} {"$task": …} to name a task id (a UUID), got ${got}`,
    );
  }
  return id.toLowerCase();
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/**
 * `[start, end)` of each top-level element of the JSON array `text` (which
 * JSON.parse has accepted), without its surrounding whitespace.
 */
export function elementSpans(text: string): [number, number][] {
  const spans: [number, number][] = [];
  let depth = 0;
  let start = -1;
  let last = -1;
  for (let i = text.indexOf('[') + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      if (start < 0) start = i;
      for (i++; text.charCodeAt(i) !== QUOTE; i++) if (text.charCodeAt(i) === BACKSLASH) i++;
      last = i;
      continue;
    }
    if (isSpace(c)) continue;
    if (depth === 0 && (c === COMMA || c === CLOSE_ARRAY)) {
      if (start >= 0) spans.push([start, last + 1]);
      start = -1;
      if (c === CLOSE_ARRAY) break;
      continue;
    }
    if (start < 0) start = i;
    if (c === OPEN_ARRAY || c === OPEN_OBJECT) depth++;
    else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) depth--;
    last = i;
  }
  return spans;
}

/**
 * Throws BadPayloadError (400) naming the first id that is no known task of
 * `tenant` (another tenant's is as unknown as a missing one): a submit that
 * references one stores nothing. One store round trip for the whole batch.
 * A dependency that expires between this and the store's step fails its
 * dependent there (DependencyFailedError, "expired").
 */
export async function checkDependencies(
  store: Pick<TaskStore, 'taskOwners'>,
  refs: readonly (readonly TaskReference[] | undefined)[],
  tenant: string | undefined,
): Promise<void> {
  const ids = new Set<string>();
  for (const list of refs) for (const ref of list ?? []) ids.add(ref.id);
  if (ids.size === 0) return;
  const wanted = [...ids];
  const owners = await store.taskOwners(wanted);
  const missing = wanted.findIndex(
    (_, i) => owners[i] === undefined || owners[i]?.tenant !== tenant,
  );
  if (missing >= 0) {
    throw new BadPayloadError(
      `Expected {"$task": id} to name a known task, got ${wanted[missing]}, which is unknown (or expired)`,
    );
  }
}
