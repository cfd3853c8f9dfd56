/**
 * Who may call, and for which tenant: the single `--token`, the entries of a
 * tokens file (`--tokens`, tokens-file.ts), or nobody when neither is set.
 *
 * Tenants partition the grid: functions, tasks and schedules belong to the
 * tenant whose client token created them, and every other tenant is told
 * they do not exist (404). The tenant-less objects, made by clients of the
 * single `--token` (or of no token at all), are the tenant `default`; a
 * tokens-file entry with tenant `default` shares them. Objects of `default`
 * are stored with no tenant field at all, so a grid without a tokens file
 * stores exactly what it did before tenants existed.
 *
 * For dispatch (store/lanes.ts): a task's lane carries its tenant
 * (undefined for `default`), each lane is weighed by `weightOf(tenant)`, and
 * a worker's claim filter carries its worker token's tenant (undefined: it
 * runs any tenant's tasks).
 *
 * Tokens are compared in constant time: the given token is hashed once and
 * compared with every known token's hash, without stopping at a match.
 *
 * TODO(dependencies): a `{"$task": id}` argument must name a task of the
 * submitter's tenant; another tenant's is refused as an unknown one is.
 */

import { createHash, timingSafeEqual } from 'node:crypto';

/** The tenant of objects stored without one (clients of `--token`, or of no token). */
export const DEFAULT_TENANT = 'default';

/** One entry of a tokens file, checked (tokens-file.ts). */
export type TokenEntry =
  | {
      readonly role: 'client';
      readonly token: string;
      readonly tenant: string;
      readonly weight: number;
    }
  | { readonly role: 'worker'; readonly token: string; readonly tenant: string | undefined };

/** What a token lets its bearer do. */
export interface Credential {
  /** May use the REST API and /ws/client. */
  readonly client: boolean;
  /** May connect to /ws as a worker. */
  readonly worker: boolean;
  /**
   * A client's tenant: undefined for `default` (what it creates is stored
   * with no tenant). A worker's: the only tenant whose tasks it runs, or
   * undefined for any.
   */
  readonly tenant: string | undefined;
}

/** The single `--token`, and anyone when no token is set: a client of `default` and a worker for all. */
const FULL: Credential = Object.freeze({ client: true, worker: true, tenant: undefined });

interface Known {
  readonly digest: Buffer;
  readonly credential: Credential;
}

function digestOf(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** The stored tenant of what a client of `tenant` creates: none for `default`. */
export function storedTenant(tenant: string): string | undefined {
  return tenant === DEFAULT_TENANT ? undefined : tenant;
}

/** The name of an object's tenant as metrics and the dashboard show it. */
export function tenantName(tenant: string | undefined): string {
  return tenant ?? DEFAULT_TENANT;
}

export class Tenants {
  readonly #known: readonly Known[];
  readonly #weights: ReadonlyMap<string, number>;
  /** A tokens file is in use: objects carry tenants, metrics are labelled by them. */
  readonly enabled: boolean;
  /** Some token is required (`--token` or a tokens file). */
  readonly required: boolean;
  /** Every client tenant of the tokens file, and `default`: bounded by the file. */
  readonly names: readonly string[];

  /** `entries` already checked (tokens-file.ts); `token` is the single `--token`, if any. */
  constructor(token: string | undefined, entries: readonly TokenEntry[] | undefined) {
    const known: Known[] = [];
    const weights = new Map<string, number>([[DEFAULT_TENANT, 1]]);
    if (token !== undefined) known.push({ digest: digestOf(token), credential: FULL });
    for (const entry of entries ?? []) {
      if (entry.role === 'client') {
        weights.set(entry.tenant, entry.weight);
        const tenant = storedTenant(entry.tenant);
        known.push({
          digest: digestOf(entry.token),
          credential: { client: true, worker: false, tenant },
        });
      } else {
        const credential = { client: false, worker: true, tenant: entry.tenant };
        known.push({ digest: digestOf(entry.token), credential });
      }
    }
    this.#known = known;
    this.#weights = weights;
    this.enabled = entries !== undefined;
    this.required = known.length > 0;
    this.names = [...weights.keys()].sort();
  }

  /**
   * What `given` lets its bearer do; undefined for a wrong or missing token.
   * Everyone is a full client and worker when no token is set.
   */
  authenticate(given: string | undefined): Credential | undefined {
    if (!this.required) return FULL;
    if (given === undefined) return undefined;
    const digest = digestOf(given);
    let found: Credential | undefined;
    // Every entry is compared, a match or not: the time taken says nothing about which.
    for (const known of this.#known) {
      if (timingSafeEqual(known.digest, digest)) found ??= known.credential;
    }
    return found;
  }

  /** A tenant's weight in fair dispatch: from the tokens file, 1 when it says none. */
  weightOf(tenant: string | undefined): number {
    return this.#weights.get(tenantName(tenant)) ?? 1;
  }
}
