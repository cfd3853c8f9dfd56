/**
 * Copies of the built-ins a task thread's own code relies on, taken when this
 * module is first evaluated: before any task code runs in the thread. Task
 * code can replace `JSON.parse`, `Map.prototype.get` or `Array.prototype.push`
 * for the whole thread; the runtime and the realm guard call these copies
 * instead, so they are never fooled (the idea of Node's own `primordials`).
 *
 * Methods are "uncurried": `MapGet(map, key)` calls the original
 * `Map.prototype.get` with `map` as `this`, without looking anything up on the
 * map or its prototype at call time.
 */

const { bind, call } = Function.prototype;
// bind.bind(call)(fn) is call.bind(fn): a function that calls fn with its first argument as `this`.
const uncurry = bind.bind(call) as (fn: unknown) => unknown;

export const ReflectApply = Reflect.apply;
export const ReflectOwnKeys = Reflect.ownKeys;
export const ReflectGetOwnPropertyDescriptor = Reflect.getOwnPropertyDescriptor;
export const ReflectDefineProperty = Reflect.defineProperty;
export const ReflectDeleteProperty = Reflect.deleteProperty;
export const ReflectGetPrototypeOf = Reflect.getPrototypeOf;
export const ReflectIsExtensible = Reflect.isExtensible;
export const ObjectFreeze = Object.freeze;
export const ObjectKeys = Object.keys;
export const ObjectGetOwnPropertySymbols = Object.getOwnPropertySymbols;

export const JSONParse = JSON.parse;
export const JSONStringify = JSON.stringify;
export const FunctionConstructor = Function;
export const DateNow = Date.now;
export const NumberIsFinite = Number.isFinite;
export const MathMax = Math.max;
export const MathMin = Math.min;
export const StringConstructor = String;

export const AtomicsLoad = Atomics.load;
export const AtomicsStore = Atomics.store;
export const AtomicsWait = Atomics.wait;

const perf = performance;
const perfNow = perf.now;
/** performance.now() through the original method, on the original object. */
export const PerformanceNow = (): number => ReflectApply(perfNow, perf, []) as number;

export const SafeMap = Map;
export const MapGet = uncurry(Map.prototype.get) as <K, V>(map: Map<K, V>, key: K) => V | undefined;
export const MapSet = uncurry(Map.prototype.set) as <K, V>(map: Map<K, V>, key: K, v: V) => void;
export const MapHas = uncurry(Map.prototype.has) as <K, V>(map: Map<K, V>, key: K) => boolean;
export const MapDelete = uncurry(Map.prototype.delete) as <K, V>(map: Map<K, V>, key: K) => boolean;
export const SafeSet = Set;
export const SetHas = uncurry(Set.prototype.has) as <T>(set: Set<T>, value: T) => boolean;
export const SetAdd = uncurry(Set.prototype.add) as <T>(set: Set<T>, value: T) => void;
export const SetClear = uncurry(Set.prototype.clear) as <T>(set: Set<T>) => void;
export const SetDelete = uncurry(Set.prototype.delete) as <T>(set: Set<T>, value: T) => boolean;

export const StringSlice = uncurry(String.prototype.slice) as (
  text: string,
  start: number,
  end?: number,
) => string;

/**
 * Appends to an array without [[Set]]: a plain `a[i] = v` or `push` would
 * consult setters that task code may have put on Array.prototype.
 */
export function append<T>(list: T[], value: T): void {
  ReflectDefineProperty(list, list.length, {
    __proto__: null,
    value,
    writable: true,
    enumerable: true,
    configurable: true,
  } as PropertyDescriptor);
}
