/**
 * What the server says about each connected worker (GET /workers, and a part
 * of it in the dashboard's stats frames). One TypeBox schema is the static
 * type, the OpenAPI entry and the stats frame's check, so the three cannot
 * drift apart.
 */

import { type Static, Type } from '@sinclair/typebox';

export const WorkerInfoSchema = Type.Object({
  id: Type.String({ description: 'Worker id; `local` for the in-process pool' }),
  address: Type.String({ description: 'Remote address, or `in-process`' }),
  threads: Type.Integer({ minimum: 0 }),
  in_flight: Type.Integer({ minimum: 0, description: 'Tasks the worker holds now' }),
  completed: Type.Integer({ minimum: 0, description: 'Results taken from it since it connected' }),
  connected_since: Type.String({ format: 'date-time' }),
  last_heartbeat: Type.String({ format: 'date-time' }),
  draining: Type.Boolean({ description: 'Finishing what it holds and taking nothing new' }),
  labels: Type.Array(Type.String(), { description: 'What it can run (`--label`)' }),
  tenant: Type.Optional(
    Type.String({
      description: "The only tenant whose tasks it runs (its worker token's); absent: any tenant's",
    }),
  ),
});

export type WorkerInfo = Static<typeof WorkerInfoSchema>;

/**
 * The part of WorkerInfo a dashboard's stats frame carries; `labels` and
 * `draining` came later, so a frame from an older server may lack them.
 */
export const WorkerLoadSchema = Type.Object({
  ...Type.Pick(WorkerInfoSchema, ['id', 'address', 'threads', 'in_flight', 'completed', 'tenant'])
    .properties,
  labels: Type.Optional(WorkerInfoSchema.properties.labels),
  draining: Type.Optional(WorkerInfoSchema.properties.draining),
});

/**
 * One page of GET /workers (`?limit=` or `?cursor=` given): workers ordered
 * by id, `total` of all connected now, and `next_cursor` while more follow.
 * A worker connected through the whole walk is on exactly one page.
 */
export const WorkerPageSchema = Type.Object({
  workers: Type.Array(WorkerInfoSchema),
  total: Type.Integer({ minimum: 0, description: 'Workers connected now, on any page' }),
  next_cursor: Type.Optional(
    Type.String({ description: 'Pass as `cursor` for the next page; absent on the last page' }),
  ),
});

export type WorkerPage = Static<typeof WorkerPageSchema>;
