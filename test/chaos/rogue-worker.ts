/**
 * A worker that holds the token and misbehaves: it sends malformed frames,
 * results for tasks it was never given, results holding a lone surrogate,
 * or results over the result limit. The grid must refuse or isolate each of
 * these without harm to any other task (invariant 5). Tasks it is handed are
 * reported, so the checker does not hold their results against the grid.
 */

import WebSocket from 'ws';
import { PROTOCOL_VERSION } from '../../shared/protocol.js';
import type { Prng } from './prng.js';

export const ROGUE_BEHAVIOURS = ['malformed', 'foreign', 'surrogate', 'oversized'] as const;
export type RogueBehaviour = (typeof ROGUE_BEHAVIOURS)[number];

export interface RogueOptions {
  wsUrl: string;
  token: string;
  behaviour: RogueBehaviour;
  durationMs: number;
  prng: Prng;
  /** Ids of tasks other workers are running, for results it was never given. */
  foreignIds: () => string[];
  onTasks: (ids: string[]) => void;
  /** Called once the server welcomed it. */
  onWelcome: () => void;
}

export interface RogueReport {
  received: string[];
  /** Results it sent. */
  sent: number;
  /** Close code, when the server closed the socket. */
  closedByServer: number | undefined;
  detail: string;
}

interface TaskFrame {
  id: string;
  attempt: number;
}

const MALFORMED = [
  ['not JSON', () => '{"type":'],
  ['wrong shape', () => '{"type":"results","results":[{"id":42}]}'],
  ['unknown type', () => '{"type":"bogus"}'],
  ['deep nesting', () => `${'['.repeat(300_000)}${']'.repeat(300_000)}`],
] as const;

/** 8.5 MiB: over the 8 MiB result limit, well under the 64 MiB frame limit. */
const OVERSIZED_CHARS = 8.5 * 1024 * 1024;

export async function runRogue(o: RogueOptions): Promise<RogueReport> {
  const report: RogueReport = { received: [], sent: 0, closedByServer: undefined, detail: '' };
  const ws = new WebSocket(o.wsUrl);
  ws.on('error', () => {});
  let closing = false;
  const closed = new Promise<void>((resolve) =>
    ws.once('close', (code) => {
      if (!closing) report.closedByServer = code;
      resolve();
    }),
  );
  const opened = await Promise.race([
    new Promise<boolean>((resolve) => ws.once('open', () => resolve(true))),
    closed.then(() => false),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 3000)),
  ]);
  if (!opened) {
    ws.terminate();
    report.detail = 'could not connect';
    return report;
  }
  const send = (frame: unknown) => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame));
  };
  let mode = 'push';
  let oversizedLeft = 2;
  const answer = (tasks: TaskFrame[]) => {
    const results = [];
    for (const task of tasks) {
      if (o.behaviour === 'surrogate') {
        // JSON.stringify escapes it, so the server parses a raw lone surrogate.
        results.push({
          id: task.id,
          attempt: task.attempt,
          status: 'COMPLETED',
          value: '"\ud800"',
          run_ms: 1,
        });
      } else if (o.behaviour === 'oversized' && oversizedLeft > 0) {
        oversizedLeft--;
        const value = JSON.stringify('x'.repeat(OVERSIZED_CHARS));
        results.push({ id: task.id, attempt: task.attempt, status: 'COMPLETED', value, run_ms: 1 });
      }
    }
    if (results.length > 0) {
      send({ type: 'results', results });
      report.sent += results.length;
    }
    if (mode === 'pull') send({ type: 'pull', max: 2 });
  };
  ws.on('message', (data) => {
    let message: { type?: string; mode?: string; tasks?: TaskFrame[] };
    try {
      message = JSON.parse(String(data));
    } catch {
      return;
    }
    if (message.type === 'welcome') {
      mode = message.mode ?? 'push';
      o.onWelcome();
      if (mode === 'pull') send({ type: 'pull', max: 2 });
    } else if (message.type === 'tasks' && message.tasks) {
      const ids = message.tasks.map((t) => t.id);
      report.received.push(...ids);
      o.onTasks(ids);
      answer(message.tasks);
    }
  });
  send({
    type: 'hello',
    version: PROTOCOL_VERSION,
    threads: 2,
    token: o.token,
    name: 'chaos-rogue',
  });
  await new Promise((r) => setTimeout(r, 200));

  if (o.behaviour === 'malformed') {
    const [name, frame] = o.prng.pick(MALFORMED);
    if (ws.readyState === ws.OPEN) ws.send(frame());
    report.detail = `sent a ${name} frame`;
    await Promise.race([closed, new Promise((r) => setTimeout(r, 2000))]);
    if (report.closedByServer === undefined)
      report.detail += '; the server did not close the socket';
  } else if (o.behaviour === 'foreign') {
    const ids = o
      .foreignIds()
      .filter((id) => !report.received.includes(id))
      .slice(0, 6);
    const results = ids.flatMap((id) =>
      [1, 2, 3].map((attempt) => ({
        id,
        attempt,
        status: 'COMPLETED',
        value: '"rogue"',
        run_ms: 1,
      })),
    );
    if (results.length > 0) send({ type: 'results', results });
    report.sent += results.length;
    report.detail = `sent results for ${ids.length} task(s) it does not hold: ${ids.join(',')}`;
  } else {
    report.detail = `answers tasks with ${o.behaviour === 'surrogate' ? 'a lone surrogate' : '8.5 MiB results'}`;
  }
  await Promise.race([closed, new Promise((r) => setTimeout(r, o.durationMs))]);
  closing = report.closedByServer === undefined;
  ws.close(1000);
  await Promise.race([closed, new Promise((r) => setTimeout(r, 1000))]);
  ws.terminate();
  return report;
}
