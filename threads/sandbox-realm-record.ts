/**
 * What the realm guard records of a task thread's realm before any task code
 * runs: the built-in objects tasks share (see sandbox-realm-guard.ts for what
 * is done with the record).
 */

import {
  ObjectGetOwnPropertySymbols,
  ObjectKeys,
  ReflectGetOwnPropertyDescriptor,
  ReflectGetPrototypeOf,
  ReflectOwnKeys,
  SafeSet,
} from './sandbox-primordials.js';

export type Key = string | symbol;

/**
 * The built-in modules whose exports (and exported classes' prototypes) are
 * recorded: the ones through which a task touches files, the network,
 * crypto, buffers and events, where a replaced function would see or change
 * another function's data.
 */
export const GUARDED_MODULES = [
  'buffer',
  'crypto',
  'dns',
  'events',
  'fs',
  'fs/promises',
  'http',
  'https',
  'net',
  'path',
  'stream',
  'tls',
  'url',
  'util',
  'zlib',
] as const;

/** ECMAScript's global constructors and namespaces (WebAssembly is V8's). */
const INTRINSIC_GLOBALS = [
  'AggregateError',
  'Array',
  'ArrayBuffer',
  'Atomics',
  'BigInt',
  'BigInt64Array',
  'BigUint64Array',
  'Boolean',
  'DataView',
  'Date',
  'Error',
  'EvalError',
  'FinalizationRegistry',
  'Float32Array',
  'Float64Array',
  'Function',
  'Int16Array',
  'Int32Array',
  'Int8Array',
  'Intl',
  'JSON',
  'Map',
  'Math',
  'Number',
  'Object',
  'Promise',
  'Proxy',
  'RangeError',
  'ReferenceError',
  'Reflect',
  'RegExp',
  'Set',
  'SharedArrayBuffer',
  'String',
  'Symbol',
  'SyntaxError',
  'TypeError',
  'URIError',
  'Uint16Array',
  'Uint32Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'WeakMap',
  'WeakRef',
  'WeakSet',
  'WebAssembly',
];

/** Intrinsics no global names, reached through instances. */
function hiddenIntrinsics(): [string, object][] {
  const proto = (value: unknown) => Object.getPrototypeOf(value) as object;
  const arrayIterator = proto([][Symbol.iterator]());
  return [
    ['%GeneratorFunction%', proto(function* () {}).constructor],
    ['%AsyncGeneratorFunction%', proto(async function* () {}).constructor],
    ['%AsyncFunction%', proto(async () => {}).constructor],
    ['%ArrayIteratorPrototype%', arrayIterator],
    ['%IteratorPrototype%', proto(arrayIterator)],
    ['%AsyncIteratorPrototype%', proto(proto(async function* () {}.prototype))],
    ['%MapIteratorPrototype%', proto(new Map()[Symbol.iterator]())],
    ['%SetIteratorPrototype%', proto(new Set()[Symbol.iterator]())],
    ['%StringIteratorPrototype%', proto(''[Symbol.iterator]())],
    ['%RegExpStringIteratorPrototype%', proto(/a/[Symbol.matchAll](''))],
    ['%TypedArray%', proto(Int8Array)],
  ];
}

export function isObject(value: unknown): value is object {
  return (typeof value === 'object' && value !== null) || typeof value === 'function';
}

export interface Recorded {
  object: object;
  name: string;
  /** Own keys when recorded. */
  keys: Set<Key>;
  /** One of CORE: its counts of enumerable and symbol keys are compared on every check. */
  counted: boolean;
  enumerable: number;
  symbols: number;
}

/**
 * The objects whose keys are counted on every check, to find additions by
 * assignment (`Object.prototype.then = …`, `Array.prototype[0] = …`): those
 * that property lookups and feature tests go through most. Counting
 * allocates, so not every recorded object is counted; additions by a define
 * are seen on every recorded object (sandbox-realm-watch.ts).
 */
function coreObjects(loadModule: (name: string) => unknown): Set<unknown> {
  const events = loadModule('events') as { prototype?: unknown };
  const stream = loadModule('stream') as Record<string, { prototype?: unknown }>;
  const proto = (value: unknown) => Object.getPrototypeOf(value) as object;
  return new Set<unknown>([
    Object,
    Object.prototype,
    Function.prototype,
    Array,
    Array.prototype,
    String,
    String.prototype,
    Number,
    Number.prototype,
    Boolean.prototype,
    Symbol,
    Symbol.prototype,
    BigInt.prototype,
    Promise,
    Promise.prototype,
    Error,
    Error.prototype,
    RegExp.prototype,
    Date.prototype,
    Map.prototype,
    Set.prototype,
    WeakMap.prototype,
    ArrayBuffer.prototype,
    Uint8Array.prototype,
    proto(Uint8Array.prototype), // %TypedArray%.prototype
    proto([][Symbol.iterator]()),
    proto(proto([][Symbol.iterator]())), // %IteratorPrototype%
    JSON,
    Math,
    Reflect,
    Buffer.prototype,
    events?.prototype,
    stream?.Readable?.prototype,
    stream?.Writable?.prototype,
  ]);
}

/** Property reads to compare: owner, key, expected value (parallel arrays). */
export interface Reads {
  owners: object[];
  keys: Key[];
  values: unknown[];
}

export class RealmRecord {
  readonly objects: Recorded[] = [];
  readonly byObject = new Map<object, Recorded>();
  /** Object-valued data properties: read and compared by identity. */
  readonly values: Reads = { owners: [], keys: [], values: [] };
  /**
   * Accessors of intrinsics: their getter is looked up (not called) and
   * compared. Node's accessors are not: many are lazy and replace themselves
   * with a value on first use.
   */
  readonly getters: Reads = { owners: [], keys: [], values: [] };

  has(object: object): boolean {
    return this.byObject.has(object);
  }

  #core = new Set<unknown>();

  setCore(core: Set<unknown>): void {
    this.#core = core;
  }

  add(object: object, name: string, intrinsic: boolean): void {
    if (this.byObject.has(object) || object === globalThis) return;
    const keys = ReflectOwnKeys(object);
    for (const key of keys) {
      const desc = ReflectGetOwnPropertyDescriptor(object, key);
      if (!desc) continue;
      let reads: Reads | undefined;
      // A non-writable value can change only through a define, which is watched.
      if ('value' in desc) reads = isObject(desc.value) && desc.writable ? this.values : undefined;
      else reads = intrinsic && desc.get ? this.getters : undefined;
      if (!reads) continue;
      reads.owners.push(object);
      reads.keys.push(key);
      reads.values.push('value' in desc ? desc.value : desc.get);
    }
    const enumerable = ObjectKeys(object).length;
    const recorded: Recorded = {
      object,
      name,
      keys: new SafeSet(keys),
      counted: this.#core.has(object),
      enumerable,
      symbols: ObjectGetOwnPropertySymbols(object).length,
    };
    this.objects.push(recorded);
    this.byObject.set(object, recorded);
  }
}

/** A class: a function whose prototype holds more than its constructor. */
function isClass(value: object): boolean {
  if (typeof value !== 'function') return false;
  const desc = ReflectGetOwnPropertyDescriptor(value, 'prototype');
  return !!desc && isObject(desc.value) && ReflectOwnKeys(desc.value).length > 1;
}

/** Records a root, its prototype chain, `.prototype`, and the classes it holds. */
function collect(record: RealmRecord, root: object, rootName: string, intrinsic: boolean): void {
  const queue: [object, string][] = [[root, rootName]];
  for (let i = 0; i < queue.length; i++) {
    const [object, name] = queue[i] as [object, string];
    if (record.has(object)) continue;
    record.add(object, name, intrinsic);
    const proto = ReflectGetPrototypeOf(object);
    if (proto) queue.push([proto, `[[Prototype]] of ${name}`]);
    for (const key of ReflectOwnKeys(object)) {
      const desc = ReflectGetOwnPropertyDescriptor(object, key);
      if (!desc || !('value' in desc) || !isObject(desc.value) || typeof key !== 'string') continue;
      const value = desc.value as object;
      if (key === 'prototype') queue.push([value, `${name}.prototype`]);
      // A namespace's or module's classes (Intl.Collator, http.Agent) and their prototypes.
      else if (i === 0 && isClass(value)) queue.push([value, `${name}.${key}`]);
    }
  }
}

/**
 * Records the intrinsics, Node's globals (reading a lazy one loads it now,
 * before any task) and the guarded modules' exports.
 */
export function recordRealm(loadModule: (name: string) => unknown): RealmRecord {
  const record = new RealmRecord();
  record.setCore(coreObjects(loadModule));
  const global = globalThis as unknown as Record<Key, unknown>;
  for (const name of INTRINSIC_GLOBALS) {
    const value = global[name];
    if (isObject(value)) collect(record, value, name, true);
  }
  for (const [name, object] of hiddenIntrinsics()) collect(record, object, name, true);
  const intrinsicNames = new SafeSet<Key>(INTRINSIC_GLOBALS);
  for (const key of ReflectOwnKeys(globalThis)) {
    if (intrinsicNames.has(key) || typeof key !== 'string') continue;
    let value: unknown;
    try {
      value = global[key];
    } catch {
      continue;
    }
    if (isObject(value)) collect(record, value, key, false);
  }
  for (const name of GUARDED_MODULES) {
    let exports: unknown;
    try {
      exports = loadModule(name);
    } catch {
      continue;
    }
    if (isObject(exports)) collect(record, exports, name, false);
  }
  return record;
}

/** globalThis as recorded: its keys, descriptors and what reading each gives. */
export interface GlobalRecord {
  keys: Set<Key>;
  descs: [Key, PropertyDescriptor][];
  enumerable: number;
  symbols: number;
  /** Object-valued globals; for a (Node) getter, what it returned. */
  reads: Reads;
}

export function recordGlobals(): GlobalRecord {
  const global = globalThis as unknown as Record<Key, unknown>;
  const keys = ReflectOwnKeys(globalThis);
  const descs: [Key, PropertyDescriptor][] = [];
  const reads: Reads = { owners: [], keys: [], values: [] };
  for (const key of keys) {
    const desc = ReflectGetOwnPropertyDescriptor(globalThis, key);
    if (!desc) continue;
    descs.push([key, Object.freeze({ __proto__: null, ...desc }) as PropertyDescriptor]);
    // Primitive globals (NaN, Infinity, undefined) are read-only.
    const value = global[key];
    if (!isObject(value)) continue;
    reads.owners.push(globalThis);
    reads.keys.push(key);
    reads.values.push(value);
  }
  return {
    keys: new SafeSet(keys),
    descs,
    enumerable: ObjectKeys(globalThis).length,
    symbols: ObjectGetOwnPropertySymbols(globalThis).length,
    reads,
  };
}
