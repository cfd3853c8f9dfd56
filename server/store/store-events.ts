/** A tiny typed listener list for store events (no EventEmitter string names). */

import type { StoreEvent, StoreListener } from './task-store.js';

export class StoreEvents {
  readonly #listeners = new Set<StoreListener>();

  add(listener: StoreListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(event: StoreEvent): void {
    for (const listener of this.#listeners) listener(event);
  }

  clear(): void {
    this.#listeners.clear();
  }
}
