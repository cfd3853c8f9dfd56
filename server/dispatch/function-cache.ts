/**
 * Function sources by id. Functions never change once registered, so a
 * source read once from the store is good forever.
 */

import type { FunctionSource, TaskAssignment } from '../../shared/types.js';
import type { TaskStore } from '../store/task-store.js';

export class FunctionCache {
  readonly #store: TaskStore;
  readonly #sources = new Map<string, string>();

  constructor(store: TaskStore) {
    this.#store = store;
  }

  remember(id: string, source: string): void {
    this.#sources.set(id, source);
  }

  /** Sources of the functions these tasks call, except those in `skip`. */
  async forTasks(
    tasks: readonly TaskAssignment[],
    skip?: ReadonlySet<string>,
  ): Promise<FunctionSource[]> {
    const ids = new Set<string>();
    for (const task of tasks) if (!skip?.has(task.fn)) ids.add(task.fn);
    const out: FunctionSource[] = [];
    const missing: string[] = [];
    for (const id of ids) {
      const source = this.#sources.get(id);
      if (source === undefined) missing.push(id);
      else out.push({ id, source });
    }
    const loaded = await Promise.all(missing.map((id) => this.#store.getFunction(id)));
    for (const fn of loaded) {
      if (!fn) continue;
      this.#sources.set(fn.id, fn.source);
      out.push({ id: fn.id, source: fn.source });
    }
    return out;
  }
}
