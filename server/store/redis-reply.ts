/**
 * Readers for what Redis and our Lua scripts answer. Replies arrive as
 * `unknown`; each is checked here, at the Redis boundary, instead of cast, so
 * a reply of the wrong shape fails loudly, naming what was wrong.
 */

/** A reply that is not what the command or script promises. */
export class ReplyError extends Error {
  constructor(what: string, problem: string) {
    super(`Malformed Redis reply for ${what}: ${problem}`);
    this.name = 'ReplyError';
  }
}

/** A short, printable picture of a raw value, for error messages. */
export function show(raw: unknown): string {
  if (typeof raw === 'string')
    return JSON.stringify(raw.length > 80 ? `${raw.slice(0, 80)}…` : raw);
  return (JSON.stringify(raw) ?? String(raw)).slice(0, 200);
}

/** One reply item as text: Lua strings come back as strings, Lua numbers as integers. */
function itemText(item: unknown): string | undefined {
  if (typeof item === 'string') return item;
  if (typeof item === 'number') return String(item);
  if (Buffer.isBuffer(item)) return item.toString('utf8');
  return undefined;
}

/** An array reply whose items are strings or integers, read as strings; nil is empty. */
export function stringArray(raw: unknown, what: string): string[] {
  if (raw === null || raw === undefined) return [];
  if (!Array.isArray(raw)) throw new ReplyError(what, `expected an array, got ${show(raw)}`);
  return raw.map((item: unknown, i) => {
    const text = itemText(item);
    if (text === undefined) throw new ReplyError(what, `item ${i} is ${show(item)}`);
    return text;
  });
}

/** A flat hash reply (HGETALL): field → value; nil is empty. */
export function hash(raw: unknown, what: string): Record<string, string> {
  if (raw === null || raw === undefined) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ReplyError(what, `expected a hash, got ${show(raw)}`);
  }
  const out: Record<string, string> = {};
  for (const [field, value] of Object.entries(raw)) {
    const text = itemText(value);
    if (text === undefined) throw new ReplyError(what, `field \`${field}\` is ${show(value)}`);
    out[field] = text;
  }
  return out;
}

/** A bulk string reply or nil (HGET): nil is undefined. */
export function optionalString(raw: unknown, what: string): string | undefined {
  if (raw === null || raw === undefined) return undefined;
  if (typeof raw === 'string') return raw;
  throw new ReplyError(what, `expected a string or nil, got ${show(raw)}`);
}

/** An integer reply (DEL, LLEN, HSET). */
export function integer(raw: unknown, what: string): number {
  if (typeof raw === 'number' && Number.isSafeInteger(raw)) return raw;
  throw new ReplyError(what, `expected an integer, got ${show(raw)}`);
}

const INTEGER = /^-?\d{1,16}$/;

/** `value` as an integer; `where` names it in the error (`field \`attempts\``). */
function integerIn(value: string, what: string, where: string): number {
  if (!INTEGER.test(value)) {
    throw new ReplyError(what, `${where} should be an integer, got ${show(value)}`);
  }
  return Number(value);
}

/** `value`, which must be one of `allowed`; `where` names it in the error. */
function memberIn<T extends string>(
  value: string,
  allowed: readonly T[],
  what: string,
  where: string,
): T {
  const found = allowed.find((a) => a === value);
  if (found === undefined) {
    throw new ReplyError(
      what,
      `${where} should be one of ${allowed.join(', ')}, got ${show(value)}`,
    );
  }
  return found;
}

/**
 * Reads the items of an array reply in order, each checked for the shape the
 * script promises; every problem names the reply, the item and what came.
 */
export class ReplyReader {
  readonly #items: readonly string[];
  readonly #what: string;
  #at = 0;

  constructor(items: readonly string[], what: string) {
    this.#items = items;
    this.#what = what;
  }

  /** True while items are left. */
  get more(): boolean {
    return this.#at < this.#items.length;
  }

  /** The next item, which must be there. */
  text(name: string): string {
    const item = this.#items[this.#at];
    if (item === undefined) {
      throw new ReplyError(
        this.#what,
        `${name} missing at item ${this.#at} of ${this.#items.length}`,
      );
    }
    this.#at++;
    return item;
  }

  /** The next item, a non-empty id. */
  id(name: string): string {
    const item = this.text(name);
    if (item === '') throw new ReplyError(this.#what, `${this.#last(name)} is empty`);
    return item;
  }

  /** The next item, an integer. */
  int(name: string): number {
    return integerIn(this.text(name), this.#what, this.#last(name));
  }

  /** The item just read, as an integer. */
  previousInt(name: string): number {
    return integerIn(this.#items[this.#at - 1] ?? '', this.#what, this.#last(name));
  }

  /** The next item, which must be one of `allowed`. */
  oneOf<T extends string>(name: string, allowed: readonly T[]): T {
    return memberIn(this.text(name), allowed, this.#what, this.#last(name));
  }

  /** Fails unless every item was read. */
  end(): void {
    if (this.#at !== this.#items.length) {
      throw new ReplyError(
        this.#what,
        `${this.#items.length - this.#at} item(s) left over after item ${this.#at}`,
      );
    }
  }

  /** Names the item just read. */
  #last(name: string): string {
    return `${name} at item ${this.#at - 1}`;
  }
}

/**
 * Reads the fields of a hash reply, each checked for the shape the store
 * writes; every problem names the record, the field and what came.
 */
export class HashReader {
  readonly #fields: Readonly<Record<string, string>>;
  readonly #what: string;

  private constructor(fields: Readonly<Record<string, string>>, what: string) {
    this.#fields = fields;
    this.#what = what;
  }

  /** A hash reply (HGETALL) to read; undefined when it is empty (no such key). */
  static of(raw: unknown, what: string): HashReader | undefined {
    const fields = hash(raw, what);
    return Object.keys(fields).length === 0 ? undefined : new HashReader(fields, what);
  }

  /** A field that must be there (it may be empty). */
  text(field: string): string {
    const value = this.#fields[field];
    if (value === undefined) throw new ReplyError(this.#what, `field \`${field}\` is missing`);
    return value;
  }

  /** A field that may be absent. */
  optionalText(field: string): string | undefined {
    return this.#fields[field];
  }

  /** An integer field that must be there. */
  int(field: string): number {
    return integerIn(this.text(field), this.#what, `field \`${field}\``);
  }

  /** An integer field that may be absent. */
  optionalInt(field: string): number | undefined {
    const value = this.optionalText(field);
    return value === undefined ? undefined : integerIn(value, this.#what, `field \`${field}\``);
  }

  /** A finite number field that may be absent. */
  optionalNumber(field: string): number | undefined {
    const value = this.optionalText(field);
    if (value === undefined) return undefined;
    const n = Number(value);
    if (value === '' || !Number.isFinite(n)) {
      throw new ReplyError(this.#what, `field \`${field}\` should be a number, got ${show(value)}`);
    }
    return n;
  }

  /** Every field whose name starts with `head`, as [rest of the name, value] pairs. */
  withHead(head: string): [string, string][] {
    const out: [string, string][] = [];
    for (const [field, value] of Object.entries(this.#fields)) {
      if (field.startsWith(head)) out.push([field.slice(head.length), value]);
    }
    return out;
  }

  /** A field whose value must be one of `allowed`. */
  oneOf<T extends string>(field: string, allowed: readonly T[]): T {
    return memberIn(this.text(field), allowed, this.#what, `field \`${field}\``);
  }
}
