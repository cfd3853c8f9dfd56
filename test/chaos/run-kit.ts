/**
 * What every seeded run opens on its topology before load starts: the
 * history and task book, the registered task kinds, the store's finish log
 * and reader, and the observers (long-polls and socket subscribers on the
 * tasks it watches, the re-reader, the health prober, the RSS sampler), all
 * started. Each is stopped by a function pushed onto `stoppers`, which the
 * run calls in reverse when it ends.
 */

import { FinishLog } from '../helpers/finish-log.js';
import { History } from './history.js';
import { call, errorText, field } from './http.js';
import { HealthProber, RssSampler } from './monitors.js';
import { LongPollers, ReReader } from './readers.js';
import { StoreReader } from './store-reader.js';
import { Subscribers } from './subscribers.js';
import { TaskBook, type TrackedTask } from './task-book.js';
import { KIND_NAMES, KINDS, type KindName } from './task-kinds.js';
import type { Topology } from './topology.js';

/** Registers every task kind on `url`; their function ids by kind. */
export async function register(url: string, token: string): Promise<Record<KindName, string>> {
  const ids = {} as Record<KindName, string>;
  for (const name of KIND_NAMES) {
    const kind = KINDS[name];
    const answer = await call(
      url,
      token,
      'POST',
      '/register_function',
      { name, payload: kind.source, timeout_ms: kind.fnTimeoutMs },
      10_000,
    );
    const id = field(answer.body, 'function_id');
    if (answer.status !== 201 || typeof id !== 'string')
      throw new Error(`registering ${name} answered ${answer.status} ${errorText(answer.body)}`);
    ids[name] = id;
  }
  return ids;
}

export async function mapLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<unknown>,
) {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: limit }, lane));
}

export interface RunKit {
  servers: { label: string; url: string }[];
  history: History;
  book: TaskBook;
  functionIds: Record<KindName, string>;
  finishLog: FinishLog;
  store: StoreReader;
  readerCtx: {
    book: TaskBook;
    history: History;
    servers: { label: string; url: string }[];
    token: string;
    seed: number;
  };
  pollers: LongPollers;
  subscribers: Subscribers;
  rereader: ReReader;
  prober: HealthProber;
  rss: RssSampler;
}

export interface RunKitOptions {
  topology: Topology;
  prefix: string;
  token: string;
  seed: number;
  pollWaitMs: number;
  /** The tasks long-polls and subscribers follow (all by default). */
  watched?: (task: TrackedTask) => boolean;
  stoppers: (() => unknown)[];
}

export async function openRunKit(o: RunKitOptions): Promise<RunKit> {
  const { topology, token, stoppers } = o;
  const servers = topology.servers.map((s) => ({ label: s.label, url: s.url }));
  const history = new History();
  const book = new TaskBook();
  const functionIds = await register(servers[0]?.url as string, token);
  history.record({ kind: 'register', start: history.t0, end: Date.now(), target: 'server0' });
  const cluster = topology.options.cluster;
  const finishLog = cluster
    ? await FinishLog.startOnCluster(cluster.seeds, o.prefix, cluster.shards)
    : await FinishLog.start(topology.redis.url, o.prefix);
  stoppers.push(() => finishLog.close());
  const store = cluster
    ? await StoreReader.openCluster(cluster.seeds, o.prefix, cluster.shards)
    : await StoreReader.open(topology.redis.url, o.prefix);
  stoppers.push(() => store.close());

  const readerCtx = { book, history, servers, token, seed: o.seed };
  const pollers = new LongPollers(readerCtx, o.pollWaitMs);
  const subscribers = new Subscribers(book, history, servers, token);
  stoppers.push(() => subscribers.close());
  const watched = o.watched ?? (() => true);
  book.onAccepted((task) => {
    if (!watched(task)) return;
    pollers.start(task);
    subscribers.start(task);
  });
  const rereader = new ReReader(readerCtx);
  const prober = new HealthProber(topology);
  const rss = new RssSampler(topology);
  rereader.start();
  prober.start();
  rss.start();
  stoppers.push(
    () => rereader.stop(),
    () => prober.stop(),
    () => rss.stop(),
  );
  return {
    servers,
    history,
    book,
    functionIds,
    finishLog,
    store,
    readerCtx,
    pollers,
    subscribers,
    rereader,
    prober,
    rss,
  };
}
