/**
 * A WebSocket client by hand, on a bare TCP socket, for tests that must
 * control what goes on the wire: send an upgrade with any headers, read the
 * answer, then stream one frame of any announced length in chunks and see
 * how much the server let through before it closed the connection.
 */

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';

export interface Upgrade {
  socket: Socket;
  status: number;
  /** The raw response head and whatever body followed in the same read. */
  response: string;
}

/** Sends an upgrade request for `path` on the server at `baseUrl`; resolves with the answer's status. */
export function rawUpgrade(
  baseUrl: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<Upgrade> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    let head = '';
    socket.once('error', reject);
    socket.on('connect', () => {
      const lines = [
        `GET ${path} HTTP/1.1`,
        `Host: ${url.host}`,
        'Upgrade: websocket',
        'Connection: Upgrade',
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
        'Sec-WebSocket-Version: 13',
        ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
      ];
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.off('error', reject);
      socket.on('error', () => {});
      const status = Number(head.slice(9, 12));
      // A refusal is followed by its body and the end of the stream: wait for it.
      if (status === 101) resolve({ socket, status, response: head });
      else {
        socket.on('data', (more: Buffer) => {
          head += more.toString('latin1');
        });
        socket.once('close', () => resolve({ socket, status, response: head }));
      }
    };
    socket.on('data', onData);
  });
}

/** The header of one masked client text frame announcing `length` payload bytes (mask key 0: payload as is). */
export function frameHeader(length: number): Buffer {
  const header = Buffer.alloc(14);
  header[0] = 0x81; // FIN, text
  header[1] = 0x80 | 127; // masked, 64-bit length
  header.writeBigUInt64BE(BigInt(length), 2);
  // bytes 10..13: mask key 0, so XOR leaves the payload unchanged
  return header;
}

/** One complete masked client text frame. */
export function textFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  return Buffer.concat([frameHeader(payload.length), payload]);
}

/**
 * Streams a frame announcing `prefix` + `total` bytes (the rest filled with
 * `fill`), respecting back-pressure, until it is all written or the server
 * closes the connection. Resolves with the payload bytes the socket took.
 */
export function streamFrame(
  socket: Socket,
  prefix: string,
  total: number,
  fill = 0x78,
): Promise<{ written: number; complete: boolean }> {
  const start = Buffer.from(prefix);
  const chunk = Buffer.alloc(64 * 1024, fill);
  return new Promise((resolve) => {
    let written = 0;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      resolve({ written, complete: written >= total });
    };
    socket.once('close', finish);
    socket.on('error', () => {});
    socket.write(frameHeader(total));
    socket.write(start);
    written = start.length;
    const pump = () => {
      while (!done && !socket.destroyed && written < total) {
        const piece = chunk.subarray(0, Math.min(chunk.length, total - written));
        written += piece.length;
        if (!socket.write(piece)) {
          socket.once('drain', pump);
          return;
        }
      }
      if (written >= total) finish();
    };
    pump();
  });
}

/** Resident set size of a process in MiB, from /proc (Linux). */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
  return Math.round(kb / 1024);
}
