/** What the perf harness and its swarm process (swarm-process.ts) say to each other over IPC. */

export interface ConnectOrder {
  type: 'connect';
  /** The server's worker endpoint, ws://host:port/ws. */
  url: string;
  connections: number;
  /** Threads each connection announces in its hello (sets the server's credit for it). */
  threads: number;
  /**
   * Handshakes (open → welcome) in progress at once while the swarm first
   * connects. Kept under the server's listen backlog (4096, capped by
   * somaxconn) and the kernel's SYN backlog (tcp_max_syn_backlog, 2048 here)
   * so no SYN is dropped: a dropped SYN costs a 1 s retransmit, which would
   * be the swarm's pacing showing, not the server's.
   */
  window: number;
}

export interface StatsOrder {
  type: 'stats';
}

export type SwarmOrder = ConnectOrder | StatsOrder;

export interface SwarmStats {
  /** Connections that have a welcome and are open now. */
  welcomed: number;
  /** Tasks answered since the swarm started. */
  answered: number;
  /** Connects made after a connection closed (reconnect attempts, failed or not). */
  reconnects: number;
}

export type SwarmReport =
  | { type: 'ready' }
  /** Every connection of the first connect order has its welcome (the swarm's own clock). */
  | { type: 'connected'; connections: number; ms: number }
  | ({ type: 'stats' } & SwarmStats)
  | { type: 'failed'; message: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** Checks an order from the harness (IPC is structured-cloned, but still untyped). */
export function parseOrder(value: unknown): SwarmOrder {
  if (isRecord(value) && value.type === 'stats') return { type: 'stats' };
  if (
    isRecord(value) &&
    value.type === 'connect' &&
    typeof value.url === 'string' &&
    Number.isInteger(value.connections) &&
    Number.isInteger(value.threads) &&
    Number.isInteger(value.window)
  ) {
    return {
      type: 'connect',
      url: value.url,
      connections: value.connections as number,
      threads: value.threads as number,
      window: value.window as number,
    };
  }
  throw new Error(`Unexpected order from the harness: ${JSON.stringify(value)}`);
}

/** Checks a report from the swarm process. */
export function parseReport(value: unknown): SwarmReport {
  if (isRecord(value)) {
    const n = (key: string) => (typeof value[key] === 'number' ? (value[key] as number) : NaN);
    switch (value.type) {
      case 'ready':
        return { type: 'ready' };
      case 'connected':
        return { type: 'connected', connections: n('connections'), ms: n('ms') };
      case 'stats':
        return {
          type: 'stats',
          welcomed: n('welcomed'),
          answered: n('answered'),
          reconnects: n('reconnects'),
        };
      case 'failed':
        return { type: 'failed', message: String(value.message) };
    }
  }
  throw new Error(`Unexpected report from the swarm: ${JSON.stringify(value)}`);
}
