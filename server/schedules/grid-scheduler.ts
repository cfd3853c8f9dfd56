/**
 * The Scheduler as a GridServer runs it: each fire is an ordinary submit
 * through the TaskService (so it is checked, counted and dispatched like any
 * other), and a resync of the store's events (Redis reconnected) makes it
 * look at the schedules again.
 */

import type { Logger } from 'pino';
import type { TaskStore } from '../store/task-store.js';
import type { TaskService } from '../task-service.js';
import { Scheduler } from './scheduler.js';

export function gridScheduler(store: TaskStore, service: TaskService, log: Logger): Scheduler {
  return new Scheduler({
    schedules: store.schedules,
    submit: async (schedule, { idempotencyKey }) => {
      const { ids } = await service.submit(schedule.function_id, [schedule.payload], {
        priority: schedule.priority,
        timeoutMs: schedule.timeout_ms,
        idempotencyKeys: [idempotencyKey],
        // A fire submits as the tenant that made the schedule (its function's).
        tenant: schedule.tenant,
      });
      const [id] = ids;
      if (id === undefined) throw new Error('a submit of one payload answered no task id');
      return id;
    },
    onResync: (listener) =>
      store.subscribe((event) => {
        if (event.type === 'resync') listener();
      }),
    log,
  });
}
