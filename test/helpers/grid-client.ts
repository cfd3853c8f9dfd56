/** A small REST client for tests: JSON in, `{status, body}` out. */

import { deserialize } from '../../shared/serialize.js';

export interface Reply<T = Record<string, unknown>> {
  status: number;
  body: T;
}

export class GridClient {
  readonly base: string;
  readonly headers: Record<string, string>;

  constructor(base: string, token?: string) {
    this.base = base.replace(/\/$/, '');
    this.headers = token ? { authorization: `Bearer ${token}` } : {};
  }

  async call<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<Reply<T>> {
    const init: RequestInit = { method, headers: { ...this.headers } };
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] = 'application/json';
    }
    const res = await fetch(this.base + path, init);
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body: parsed as T };
  }

  async register(source: string, name = 'fn'): Promise<string> {
    const reply = await this.call<{ function_id: string }>('POST', '/register_function', {
      name,
      payload: source,
    });
    if (reply.status !== 201) throw new Error(`register failed: ${JSON.stringify(reply)}`);
    return reply.body.function_id;
  }

  async submit(functionId: string, args: unknown[], timeoutMs?: number): Promise<string> {
    const reply = await this.call<{ task_id: string }>('POST', '/execute_function', {
      function_id: functionId,
      payload: JSON.stringify(args),
      ...(timeoutMs ? { timeout_ms: timeoutMs } : {}),
    });
    if (reply.status !== 201) throw new Error(`submit failed: ${JSON.stringify(reply)}`);
    return reply.body.task_id;
  }

  async batch(functionId: string, argLists: unknown[][]): Promise<string[]> {
    const reply = await this.call<{ task_ids: string[] }>('POST', '/execute_batch', {
      function_id: functionId,
      payloads: argLists.map((a) => JSON.stringify(a)),
    });
    if (reply.status !== 201) throw new Error(`batch failed: ${JSON.stringify(reply)}`);
    return reply.body.task_ids;
  }

  /** Long-polls until the task is terminal (or the deadline passes). */
  async wait(taskId: string, timeoutMs = 30_000): Promise<{ status: string; result?: string }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const reply = await this.call<{ status: string; result?: string }>(
        'GET',
        `/result/${taskId}?wait=${Math.min(10_000, Math.max(1, deadline - Date.now()))}`,
      );
      const s = reply.body.status;
      if (s === 'COMPLETED' || s === 'FAILED' || s === 'CANCELLED' || Date.now() >= deadline) {
        return reply.body;
      }
    }
  }

  async value(taskId: string): Promise<unknown> {
    const body = await this.wait(taskId);
    if (body.status !== 'COMPLETED')
      throw new Error(`task ${taskId} ended ${JSON.stringify(body)}`);
    return deserialize(body.result as string);
  }

  /** Waits for many tasks with bounded concurrency; returns their final bodies in order. */
  async waitAll(ids: string[], concurrency = 64): Promise<{ status: string; result?: string }[]> {
    const out: { status: string; result?: string }[] = new Array(ids.length);
    let next = 0;
    const lane = async () => {
      while (next < ids.length) {
        const i = next++;
        out[i] = await this.wait(ids[i] as string, 120_000);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, lane));
    return out;
  }
}
