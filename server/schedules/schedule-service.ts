/**
 * What the schedule endpoints do, independent of transport: check a new
 * schedule (cron, time zone, payload, function), store it with its first
 * slot, list and delete. Firing is the Scheduler's.
 */

import { validate as isUuid, v4 as uuidv4 } from 'uuid';
import { BadIdError, NotFoundError, TooLargeError } from '../../shared/errors.js';
import { checkArgsPayload } from '../../shared/serialize.js';
import type { ScheduleRecord, ScheduleStore } from '../store/schedule-store.js';
import type { TaskStore } from '../store/task-store.js';
import { Cron, DEFAULT_TIMEZONE } from './cron.js';

export interface NewSchedule {
  function_id: string;
  cron: string;
  /** JSON text of the argument array, as execute_function's payload. */
  payload: string;
  timezone?: string | undefined;
  priority?: number | undefined;
  timeout_ms?: number | undefined;
}

export interface ScheduleServiceDeps {
  store: TaskStore;
  /** Largest argument payload a task takes (bytes). */
  argsBytes: number;
}

export class ScheduleService {
  readonly #store: TaskStore;
  readonly #schedules: ScheduleStore;
  readonly #argsBytes: number;

  constructor(deps: ScheduleServiceDeps) {
    this.#store = deps.store;
    this.#schedules = deps.store.schedules;
    this.#argsBytes = deps.argsBytes;
  }

  /**
   * Checks and stores a schedule of `tenant` (undefined: `default`) for one
   * of its functions; rejects with BadPayloadError, TooLargeError or NotFoundError.
   */
  async create(input: NewSchedule, tenant?: string): Promise<ScheduleRecord> {
    const cron = Cron.parse(input.cron, input.timezone ?? DEFAULT_TIMEZONE);
    if (Buffer.byteLength(input.payload) > this.#argsBytes) {
      throw new TooLargeError(
        `An argument payload is larger than the limit of ${this.#argsBytes} bytes`,
      );
    }
    checkArgsPayload(input.payload);
    const fn = isUuid(input.function_id)
      ? await this.#store.getFunction(input.function_id)
      : undefined;
    if (!fn || fn.tenant !== tenant) {
      throw new NotFoundError(
        `No function with id ${input.function_id.slice(0, 64)}; register it first`,
      );
    }
    const now = Date.now();
    const schedule: ScheduleRecord = {
      id: uuidv4(),
      function_id: input.function_id,
      cron: cron.expression,
      payload: input.payload,
      timezone: input.timezone,
      priority: input.priority,
      timeout_ms: input.timeout_ms,
      next_run_at: cron.next(now),
      created_at: now,
      tenant,
    };
    await this.#schedules.add(schedule);
    return schedule;
  }

  /** The schedules of `tenant` (undefined: `default`). */
  async list(tenant?: string): Promise<ScheduleRecord[]> {
    return (await this.#schedules.list()).filter((s) => s.tenant === tenant);
  }

  /** Deletes a schedule of `tenant`; another tenant's is not found. */
  async delete(id: string, tenant?: string): Promise<void> {
    if (!isUuid(id)) throw new BadIdError('schedule_id', id);
    // Whose it is never changes: a read before the delete decides for good.
    const owned = await this.#schedules.get(id);
    if (!owned || owned.tenant !== tenant || !(await this.#schedules.delete(id))) {
      throw new NotFoundError(`No schedule with id ${id}`);
    }
  }
}
