/**
 * The messages between the shards of a sharded store: dependencies across
 * shards (lua/remote-dependencies.ts says what each message does). Every
 * server relays, one at a time per shard (a lock with a TTL in the shard's
 * slot): woken by `* o` on a shard's channel, and every second in case an
 * event was missed or a relaying server died. A message leaves the outbox
 * only after it was carried, so it is relayed at least once.
 */

import { UnavailableError } from '../../shared/errors.js';
import { TASK_STATUSES } from '../../shared/types.js';
import {
  OUTBOX_DONE_LUA,
  OUTBOX_TAKE_LUA,
  PROXY_LUA,
  SETTLE_LUA,
  WATCH_LUA,
} from './lua/remote-dependencies.js';
import { REMOTE_SUFFIX } from './redis-keys.js';
import { luaScript } from './redis-link.js';
import { integer, ReplyReader, stringArray } from './redis-reply.js';
import type { ShardPort } from './redis-store.js';
import { shardOfId } from './shard-map.js';

const SCRIPTS = {
  proxy: luaScript(PROXY_LUA),
  watch: luaScript(WATCH_LUA),
  settle: luaScript(SETTLE_LUA),
  take: luaScript(OUTBOX_TAKE_LUA),
  done: luaScript(OUTBOX_DONE_LUA),
  // '' for a missing field: the reply stays an array of strings.
  outcome: luaScript(
    "local f = redis.call('HMGET', KEYS[1], 'status', 'result') return { f[1] or '', f[2] or '' }",
  ),
};

/** Messages relayed per outbox read. */
const BATCH = 100;
/** How long a relaying server holds a shard's outbox before another may take over. */
const LOCK_MS = 10_000;
/** How often every outbox is looked at without an event. */
const SWEEP_MS = 1000;

const ENDED = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);

export class ShardRelay {
  readonly #ports: ShardPort[];
  readonly #onError: (error: Error) => void;
  /** Shards being relayed now, and those woken again meanwhile. */
  readonly #busy = new Set<number>();
  readonly #again = new Set<number>();
  #timer: NodeJS.Timeout | undefined;

  constructor(ports: ShardPort[], onError: (error: Error) => void) {
    this.#ports = ports;
    this.#onError = onError;
  }

  start(): void {
    this.#timer = setInterval(() => {
      for (let s = 0; s < this.#ports.length; s += 1) this.poke(s);
    }, SWEEP_MS);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /**
   * Before tasks are submitted to `shard`: each of their dependencies kept in
   * another shard gets a copy here, and is asked to report its end.
   */
  async proxy(shard: number, ids: readonly string[]): Promise<void> {
    const states = await Promise.all(
      ids.map(async (id) => {
        const outcome = await this.#outcome(shardOfId(id, this.#ports.length), id);
        return [id, outcome?.status ?? '', outcome?.result ?? ''];
      }),
    );
    const port = this.#port(shard);
    const sent = await port.run(
      SCRIPTS.proxy,
      [port.keys.outbox, port.keys.events],
      [port.keys.taskHead, String(shard), String(port.resultTtlSeconds), ...states.flat()],
    );
    if (integer(sent, 'proxy') > 0) this.poke(shard);
  }

  /** Relays shard `shard`'s outbox until it is empty (or another server holds it). */
  poke(shard: number): void {
    if (this.#busy.has(shard)) {
      this.#again.add(shard);
      return;
    }
    this.#busy.add(shard);
    this.#relay(shard)
      .catch((error: unknown) => {
        // Left in the outbox: the next sweep relays it.
        if (!(error instanceof UnavailableError)) {
          this.#onError(error instanceof Error ? error : new Error(String(error)));
        }
      })
      .finally(() => {
        this.#busy.delete(shard);
        if (this.#again.delete(shard)) this.poke(shard);
      });
  }

  async #relay(shard: number): Promise<void> {
    const port = this.#port(shard);
    const { outbox, relayLock } = port.keys;
    for (;;) {
      const messages = stringArray(
        await port.run(
          SCRIPTS.take,
          [outbox, relayLock],
          [port.instanceId, String(LOCK_MS), String(BATCH)],
        ),
        'outbox',
      );
      if (messages.length === 0) return;
      await Promise.all(messages.map((m) => this.#carry(shard, m)));
      const done = await port.run(
        SCRIPTS.done,
        [outbox, relayLock],
        [port.instanceId, String(messages.length)],
      );
      if (integer(done, 'outbox done') !== 1 || messages.length < BATCH) return;
    }
  }

  /** One message from shard `from`'s outbox. */
  async #carry(from: number, message: string): Promise<void> {
    const [kind, id = '', to = '', end = ''] = message.split(' ');
    const target = Number(to);
    if (!Number.isInteger(target) || target < 0 || target >= this.#ports.length) return;
    if (kind === 'w') {
      await this.#watch(shardOfId(id, this.#ports.length), id, target);
    } else if (kind === 'r' && (end === 'FAILED' || end === 'CANCELLED')) {
      // That end, whatever the dependency did since (a retry): its dependents fail, as on one Redis.
      await this.#settle(target, id, { status: end, result: '' });
    } else if (kind === 'r') {
      const outcome = await this.#outcome(from, id);
      // Running again (retried since it ended): wait for its next end.
      if (outcome && !ENDED.has(outcome.status)) await this.#watch(from, id, target);
      else await this.#settle(target, id, outcome);
    }
  }

  async #watch(shard: number, id: string, waiting: number): Promise<void> {
    const port = this.#port(shard);
    await port.run(
      SCRIPTS.watch,
      [port.keys.outbox, port.keys.events],
      [port.keys.taskHead, REMOTE_SUFFIX, id, String(waiting)],
    );
  }

  async #outcome(
    shard: number,
    id: string,
  ): Promise<{ status: string; result: string } | undefined> {
    const port = this.#port(shard);
    const read = new ReplyReader(
      stringArray(await port.run(SCRIPTS.outcome, [port.keys.task(id)], []), 'outcome'),
      'outcome',
    );
    const status = read.text('status');
    const result = read.text('result');
    read.end();
    if (status === '') return undefined;
    if (!(TASK_STATUSES as readonly string[]).includes(status)) {
      throw new Error(`task ${id} has status ${status.slice(0, 20)} in shard ${shard}`);
    }
    return { status, result };
  }

  async #settle(
    shard: number,
    id: string,
    outcome: { status: string; result: string } | undefined,
  ): Promise<void> {
    const port = this.#port(shard);
    const k = port.keys;
    await port.run(
      SCRIPTS.settle,
      [k.events, k.failed, k.delayed, k.queue, k.prio],
      [
        k.taskHead,
        id,
        outcome?.status ?? '',
        outcome?.result ?? '',
        String(Date.now()),
        String(port.resultTtlSeconds),
        k.functionHead,
        ...port.laneArgs,
      ],
    );
  }

  #port(shard: number): ShardPort {
    const port = this.#ports[shard];
    if (!port) throw new Error(`no shard ${shard}`);
    return port;
  }
}
