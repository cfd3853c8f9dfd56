/**
 * Lanes: the queue is split by what decides who may run a task, so that
 * nothing waits behind a task it could run before (no head-of-line
 * blocking): its tenant, its labels (a task runs only on a worker whose
 * labels include all of them) and, for a function with a concurrency limit,
 * its function (at most n RUNNING at once). A task that has none of these is
 * in the default lane, the one queue the grid always had: a grid that uses
 * none of this pays nothing for it.
 *
 * A claim names the lanes its holder may take from (`eligibleLanes`), and
 * the store takes from them fairly: each lane has a virtual time that grows
 * by tasks taken ÷ its tenant's weight, and the lane furthest behind goes
 * first (start-time fair queuing, as a weighted fair scheduler does).
 */

export interface LaneSpec {
  tenant?: string | undefined;
  /** Sorted, without repeats. */
  labels: readonly string[];
  /** The function, when it has a concurrency limit, and the limit. */
  limited?: { fn: string; limit: number } | undefined;
}

/** What a lane holds and who may take from it, as the store keeps it. */
export interface LaneInfo extends LaneSpec {
  id: string;
}

/** Who a claim is for: its holder's labels and tenant; `key` names the pair. */
export interface ClaimFilter {
  key: string;
  labels: ReadonlySet<string>;
  tenant: string | undefined;
}

export const DEFAULT_LANE = '';

export const ANY_HOLDER: ClaimFilter = { key: '', labels: new Set(), tenant: undefined };

/** The filter of a holder with these labels and tenant. */
export function claimFilter(labels: readonly string[], tenant: string | undefined): ClaimFilter {
  const sorted = normaliseLabels(labels);
  if (sorted.length === 0 && tenant === undefined) return ANY_HOLDER;
  return { key: `${tenant ?? ''}|${sorted.join(',')}`, labels: new Set(sorted), tenant };
}

export function normaliseLabels(labels: readonly string[]): string[] {
  return [...new Set(labels)].sort();
}

/** The lane id of a spec: '' for the default lane, else its parts in a fixed order. */
export function laneId(spec: LaneSpec): string {
  const parts: string[] = [];
  if (spec.tenant !== undefined) parts.push(`t=${spec.tenant}`);
  if (spec.labels.length > 0) parts.push(`l=${spec.labels.join(',')}`);
  if (spec.limited) parts.push(`f=${spec.limited.fn}`);
  return parts.join(';');
}

/** The spec a lane id was made from (the limit is kept beside it: see LaneInfo). */
export function parseLaneId(id: string, limit: number | undefined): LaneInfo {
  const info: LaneInfo = { id, labels: [] };
  if (id === DEFAULT_LANE) return info;
  for (const part of id.split(';')) {
    const [kind, value = ''] = [part.slice(0, 1), part.slice(2)];
    if (kind === 't') info.tenant = value;
    else if (kind === 'l') info.labels = value.split(',');
    else if (kind === 'f' && limit !== undefined) info.limited = { fn: value, limit };
  }
  return info;
}

/** May a holder with this filter take from this lane? */
export function laneServes(lane: LaneSpec, filter: ClaimFilter): boolean {
  if (filter.tenant !== undefined && lane.tenant !== filter.tenant) return false;
  for (const label of lane.labels) if (!filter.labels.has(label)) return false;
  return true;
}
