/**
 * Wraps every way task code can reshape an existing object other than by
 * assigning to it: define a property (Object.defineProperty / defineProperties,
 * Reflect.defineProperty, __defineGetter__ / __defineSetter__), change its
 * prototype (Object / Reflect.setPrototypeOf, the `__proto__` setter) or its
 * extensibility (Object.freeze / seal / preventExtensions,
 * Reflect.preventExtensions). Each wrapper reports the target to the realm
 * guard, then calls the original. With these, the guard's checks between
 * tasks are reads of recorded values, never a full walk: a method redefined
 * as a getter cannot hide from them.
 *
 * The wrappers keep each function's name and length; only identity and
 * `toString()` show the difference.
 */

import {
  ReflectApply,
  ReflectDefineProperty,
  ReflectGetOwnPropertyDescriptor,
  ReflectOwnKeys,
  StringConstructor,
} from './sandbox-primordials.js';
import { isObject, type Key } from './sandbox-realm-record.js';

/** `key` is the property a define names; undefined for defineProperties and shape changes. */
export type OnReshape = (target: object, key: Key | undefined, shape: boolean) => void;

/** The key a define call names, computed once (an object key's toString runs once, as it would). */
function propertyKey(key: unknown): Key {
  if (typeof key === 'symbol' || typeof key === 'string') return key;
  if (!isObject(key)) return StringConstructor(key);
  const holder = { __proto__: null, [key as never]: 0 };
  return ReflectOwnKeys(holder)[0] as Key;
}

type Fn = (...args: never[]) => unknown;

export function watchReshapes(onReshape: OnReshape): void {
  const report = (target: unknown, key: Key | undefined, shape: boolean) => {
    if (isObject(target)) onReshape(target, key, shape);
  };
  const original = (owner: object, name: string) =>
    (ReflectGetOwnPropertyDescriptor(owner, name) as PropertyDescriptor).value as Fn;
  const objectDefine = original(Object, 'defineProperty');
  const objectDefineAll = original(Object, 'defineProperties');
  const reflectDefine = original(Reflect, 'defineProperty');
  const defineGetter = original(Object.prototype, '__defineGetter__');
  const defineSetter = original(Object.prototype, '__defineSetter__');
  const objectSetProto = original(Object, 'setPrototypeOf');
  const reflectSetProto = original(Reflect, 'setPrototypeOf');
  const freeze = original(Object, 'freeze');
  const seal = original(Object, 'seal');
  const objectPrevent = original(Object, 'preventExtensions');
  const reflectPrevent = original(Reflect, 'preventExtensions');
  const protoAccessor = ReflectGetOwnPropertyDescriptor(
    Object.prototype,
    '__proto__',
  ) as PropertyDescriptor;
  const protoSetter = protoAccessor.set as Fn;

  // Methods of object literals: named like the originals, and (like them) not constructors.
  const objectWrappers = {
    defineProperty(o: object, p: PropertyKey, a: object) {
      const key = propertyKey(p);
      report(o, key, false);
      return ReflectApply(objectDefine, Object, [o, key, a]);
    },
    defineProperties(o: object, props: object) {
      // Which keys `props` names is left to the real call (it may be a proxy): any counts.
      report(o, undefined, false);
      return ReflectApply(objectDefineAll, Object, [o, props]);
    },
    setPrototypeOf(o: object, proto: object | null) {
      report(o, undefined, true);
      return ReflectApply(objectSetProto, Object, [o, proto]);
    },
    freeze(o: unknown) {
      report(o, undefined, true);
      return ReflectApply(freeze, Object, [o]);
    },
    seal(o: unknown) {
      report(o, undefined, true);
      return ReflectApply(seal, Object, [o]);
    },
    preventExtensions(o: unknown) {
      report(o, undefined, true);
      return ReflectApply(objectPrevent, Object, [o]);
    },
  };
  const reflectWrappers = {
    defineProperty(o: object, p: PropertyKey, a: object) {
      const key = propertyKey(p);
      report(o, key, false);
      return ReflectApply(reflectDefine, Reflect, [o, key, a]);
    },
    setPrototypeOf(o: object, proto: object | null) {
      report(o, undefined, true);
      return ReflectApply(reflectSetProto, Reflect, [o, proto]);
    },
    preventExtensions(o: object) {
      report(o, undefined, true);
      return ReflectApply(reflectPrevent, Reflect, [o]);
    },
  };
  const prototypeWrappers = {
    __defineGetter__(this: object, p: PropertyKey, fn: unknown) {
      const key = propertyKey(p);
      report(this, key, false);
      return ReflectApply(defineGetter, this, [key, fn]);
    },
    __defineSetter__(this: object, p: PropertyKey, fn: unknown) {
      const key = propertyKey(p);
      report(this, key, false);
      return ReflectApply(defineSetter, this, [key, fn]);
    },
    set __proto__(proto: unknown) {
      report(this, undefined, true);
      ReflectApply(protoSetter, this, [proto]);
    },
  };
  for (const [owner, wrappers] of [
    [Object, objectWrappers],
    [Reflect, reflectWrappers],
    [Object.prototype, prototypeWrappers],
  ] as const) {
    for (const key of ReflectOwnKeys(wrappers)) {
      const wrapper = ReflectGetOwnPropertyDescriptor(wrappers, key) as PropertyDescriptor;
      const desc = ReflectGetOwnPropertyDescriptor(owner, key) as PropertyDescriptor;
      const change = wrapper.set ? { set: wrapper.set } : { value: wrapper.value };
      ReflectDefineProperty(owner, key, { ...desc, ...change });
    }
  }
}
