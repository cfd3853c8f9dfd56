/**
 * Keeps one function's tasks from corrupting the globals another function's
 * tasks see on the same thread (issue 11, defect 10b).
 *
 * At thread start, before any task code, it records the realm: every own
 * property of globalThis; the JavaScript intrinsics (constructors, their
 * prototypes, namespaces such as JSON and Math, the hidden iterator and
 * generator prototypes); and Node's objects tasks reach (process, Buffer,
 * console, the web classes on globalThis, and the exports of the commonly
 * imported built-in modules, with the prototypes of the classes they export).
 * `verify()`, which the runtime calls whenever the thread switches from one
 * function to another, compares the realm with that record (a fast pass of
 * identity reads; a slower pass that undoes changes only when one is seen):
 *
 * - globalThis: added, removed or changed properties are undone (accidental
 *   globals of sloppy code are common, and removing them is cheap);
 * - recorded objects: a property added by assignment to one of the core
 *   prototypes and namespaces (CORE in sandbox-realm-record.ts, say
 *   `Object.prototype.then`), or added by a define to any recorded object,
 *   is deleted; a replaced method (`JSON.parse = …`, `fs.readFileSync = …`),
 *   a deleted one, a redefined one, a changed prototype, or a frozen /
 *   sealed object cannot be undone safely, so `verify()` reports it and the
 *   runtime hands the thread back to the pool for a fresh one.
 *
 * How it stays cheap: a replacement by assignment is seen by reading each
 * recorded property (and looking up each recorded getter) and comparing
 * identities, with no allocation; an addition by assignment to a core
 * object is seen by a count of its enumerable and symbol keys (built-in
 * methods are not enumerable, so those counts are small). Everything else
 * that can reshape an object (define, change the prototype, freeze) goes
 * through the wrappers of sandbox-realm-watch.ts, which tell the guard.
 * Attributes of built-ins are never changed: that would turn off V8's fast
 * paths (for-of, RegExp). A check costs about 0.1 ms, so the runtime runs a
 * function's queued tasks together and checks only when it switches.
 *
 * Not covered (documented in README): primitive settings such as
 * `Error.stackTraceLimit`; properties added by assignment to recorded objects
 * outside CORE (say `fs.extra = …`); Node's accessors (`process.stdout`);
 * objects deeper than the ones recorded (`http.globalAgent`'s options, a
 * module's internal state, `util.inspect.defaultOptions`); modules outside
 * GUARDED_MODULES; and callbacks a task leaves behind that fire later than
 * the one event-loop turn the runtime gives them before a check: they run
 * during whatever task is on the thread then, and what they change is seen
 * at the next switch.
 */

import {
  FunctionConstructor,
  MapGet,
  ObjectGetOwnPropertySymbols,
  ObjectKeys,
  ReflectApply,
  ReflectDefineProperty,
  ReflectDeleteProperty,
  ReflectGetOwnPropertyDescriptor,
  ReflectOwnKeys,
  SafeSet,
  SetAdd,
  SetClear,
  SetHas,
  StringSlice,
} from './sandbox-primordials.js';
import {
  type Key,
  type Reads,
  type Recorded,
  recordGlobals,
  recordRealm,
} from './sandbox-realm-record.js';
import { watchReshapes } from './sandbox-realm-watch.js';

export { GUARDED_MODULES } from './sandbox-realm-record.js';

export interface RealmGuard {
  /**
   * Undoes the changes it safely can. Returns undefined when the realm is as
   * recorded afterwards, else a short description of the first change that
   * cannot be undone.
   */
  verify(): string | undefined;
  /** Sizes of the record, for tests and the README. */
  readonly size: { objects: number; reads: number; globals: number };
}

type ReadChunk = (o: object[], k: Key[], v: unknown[], g: (o: object, k: Key) => unknown) => number;

const lookupGetter = (Object.prototype as unknown as { __lookupGetter__: () => unknown })
  .__lookupGetter__;
/** The getter an object has (own or inherited) for a key, without calling it. */
const getterOf = (object: object, key: Key): unknown => ReflectApply(lookupGetter, object, [key]);

/**
 * Generated straight-line code, in chunks, one local per object: each read
 * site has its own inline cache, so thousands of reads cost microseconds
 * where a generic loop costs many more. Returns the index of the first
 * mismatch, or -1.
 */
function compileReads(reads: Reads, viaGetter: boolean): () => number {
  const CHUNK = 400;
  const { owners, keys, values } = reads;
  const chunks: ReadChunk[] = [];
  for (let start = 0; start < owners.length; start += CHUNK) {
    let body = 'let x;\n';
    let last: object | undefined;
    const end = Math.min(owners.length, start + CHUNK);
    for (let i = start; i < end; i++) {
      if (owners[i] !== last) {
        body += `x = o[${i}];\n`;
        last = owners[i];
      }
      const key = keys[i];
      const literal = typeof key === 'string' ? JSON.stringify(key) : `k[${i}]`;
      const read = viaGetter ? `g(x, ${literal})` : `x[${literal}]`;
      body += `if (${read} !== v[${i}]) return ${i};\n`;
    }
    chunks.push(new FunctionConstructor('o', 'k', 'v', 'g', `${body}return -1;`) as ReadChunk);
  }
  return () => {
    for (let c = 0; c < chunks.length; c++) {
      const failed = (chunks[c] as ReadChunk)(owners, keys, values, getterOf);
      if (failed >= 0) return failed;
    }
    return -1;
  };
}

function describe(key: Key): string {
  return typeof key === 'symbol' ? '[symbol]' : StringSlice(key, 0, 60);
}

function sameDescriptor(a: PropertyDescriptor, b: PropertyDescriptor): boolean {
  return (
    a.value === b.value &&
    a.get === b.get &&
    a.set === b.set &&
    a.writable === b.writable &&
    a.enumerable === b.enumerable &&
    a.configurable === b.configurable
  );
}

/**
 * Records the realm and starts watching it. Call it before any task code
 * runs; `loadModule` returns a built-in module's exports
 * (process.getBuiltinModule).
 */
export function guardRealm(loadModule: (name: string) => unknown): RealmGuard {
  /** A change that cannot be undone, seen by a wrapper. */
  let broken: string | undefined;
  /** A global was defined or redefined: compare descriptors and restore. */
  let globalsTouched = false;
  /** Recorded objects that were given a new property by a define. */
  const touched = new SafeSet<Recorded>();
  let byObject: Map<object, Recorded> = new Map();
  // Wrap first, so that the wrappers are what is recorded.
  watchReshapes((target, key, shape) => {
    if (target === globalThis) {
      if (shape) broken ??= 'globalThis was frozen or its prototype changed';
      else globalsTouched = true;
      return;
    }
    const r = MapGet(byObject, target);
    if (!r) return;
    if (shape) broken ??= `${r.name} was frozen, sealed or given another prototype`;
    else if (key === undefined || SetHas(r.keys, key)) broken ??= `${r.name} was redefined`;
    else SetAdd(touched, r);
  });
  const record = recordRealm(loadModule);
  byObject = record.byObject;
  // globalThis last: reading lazy globals above may have turned them into data properties.
  const globals = recordGlobals();
  const readGlobals = compileReads(globals.reads, false);
  const readValues = compileReads(record.values, false);
  const readGetters = compileReads(record.getters, true);
  const objects = record.objects;
  const nameOf = (object: object) => MapGet(byObject, object)?.name ?? 'a built-in';

  /** Deletes added globals and puts back changed ones. */
  function restoreGlobals(): string | undefined {
    globalsTouched = false;
    const now = ReflectOwnKeys(globalThis);
    for (let i = 0; i < now.length; i++) {
      const key = now[i] as Key;
      if (SetHas(globals.keys, key)) continue;
      if (!ReflectDeleteProperty(globalThis, key)) return `global ${describe(key)} was added`;
    }
    for (let i = 0; i < globals.descs.length; i++) {
      // No destructuring here: array destructuring runs the (replaceable) iterator.
      const entry = globals.descs[i] as [Key, PropertyDescriptor];
      const key = entry[0];
      const want = entry[1];
      const desc = ReflectGetOwnPropertyDescriptor(globalThis, key);
      if (desc && sameDescriptor(desc, want)) continue;
      if (!ReflectDefineProperty(globalThis, key, want)) {
        return `global ${describe(key)} was changed`;
      }
    }
    return undefined;
  }

  /** Deletes the keys added to a recorded object; reports a deleted one. */
  function removeAdditions(r: Recorded): string | undefined {
    const keys = ReflectOwnKeys(r.object);
    let kept = 0;
    for (let k = 0; k < keys.length; k++) {
      const key = keys[k] as Key;
      if (SetHas(r.keys, key)) kept++;
      else if (!ReflectDeleteProperty(r.object, key)) {
        return `${describe(key)} was added to ${r.name} and cannot be removed`;
      }
    }
    return kept === r.keys.size ? undefined : `a property of ${r.name} was deleted`;
  }

  return {
    size: {
      objects: objects.length,
      reads: record.values.owners.length + record.getters.owners.length,
      globals: globals.descs.length,
    },
    verify(): string | undefined {
      if (broken) return broken;
      if (
        globalsTouched ||
        ObjectKeys(globalThis).length !== globals.enumerable ||
        ObjectGetOwnPropertySymbols(globalThis).length !== globals.symbols ||
        readGlobals() >= 0
      ) {
        const failed = restoreGlobals();
        if (failed) return failed;
      }
      let failed = readValues();
      if (failed >= 0) {
        const owner = record.values.owners[failed] as object;
        return `${nameOf(owner)}.${describe(record.values.keys[failed] as Key)} was replaced`;
      }
      failed = readGetters();
      if (failed >= 0) {
        const owner = record.getters.owners[failed] as object;
        return `${nameOf(owner)}.${describe(record.getters.keys[failed] as Key)} was removed`;
      }
      for (let i = 0; i < objects.length; i++) {
        const r = objects[i] as Recorded;
        const changed =
          SetHas(touched, r) ||
          (r.counted &&
            (ObjectKeys(r.object).length !== r.enumerable ||
              ObjectGetOwnPropertySymbols(r.object).length !== r.symbols));
        if (changed) {
          const removed = removeAdditions(r);
          if (removed) return removed;
        }
      }
      SetClear(touched);
      return undefined;
    },
  };
}
