/**
 * The swarm's WebSocket client: one TCP socket, a fixed upgrade request and
 * a frame reader for what a taskgrid server sends (text or binary messages,
 * possibly fragmented, pings, a close). ws's client costs an http.request, a
 * random key and its hash, and several objects per connection; on a 2-core
 * machine that the swarm shares with the server, that cost would pace the
 * figure meant to be the server's. A client's frames must be masked; the
 * mask key here is zero, which leaves the payload as it is (RFC 6455 §5.3
 * asks for an unpredictable key to protect proxies, which a local benchmark
 * has none of).
 */

import { connect, type Socket } from 'node:net';

export interface SwarmSocketEvents {
  /** The server accepted the upgrade (101). */
  open(): void;
  /** One whole message (text or binary, fragments joined). */
  message(data: Buffer): void;
  /** The socket is gone, for whatever reason; called once. */
  close(): void;
}

const OP_CONTINUATION = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;
const HEAD_END = Buffer.from('\r\n\r\n');
const EMPTY = Buffer.alloc(0);

/** A frame from client to server: FIN, `opcode`, masked with a zero key. */
function clientFrame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  const extra = length < 126 ? 0 : length < 65_536 ? 2 : 8;
  const frame = Buffer.allocUnsafe(2 + extra + 4 + length);
  frame[0] = 0x80 | opcode;
  if (extra === 0) frame[1] = 0x80 | length;
  else if (extra === 2) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  frame.writeUInt32BE(0, 2 + extra);
  payload.copy(frame, 2 + extra + 4);
  return frame;
}

export class SwarmSocket {
  readonly #socket: Socket;
  readonly #events: SwarmSocketEvents;
  #pending: Buffer = EMPTY;
  #upgraded = false;
  #fragments: Buffer[] = [];
  #closed = false;

  constructor(url: URL, events: SwarmSocketEvents) {
    this.#events = events;
    const port = Number(url.port || 80);
    this.#socket = connect({ host: url.hostname, port, noDelay: true });
    this.#socket.on('connect', () =>
      this.#socket.write(
        `GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\n` +
          'Connection: Upgrade\r\nSec-WebSocket-Key: c3dhcm0tY29ubmVjdGlvbg==\r\n' +
          'Sec-WebSocket-Version: 13\r\n\r\n',
      ),
    );
    this.#socket.on('data', (chunk: Buffer) => this.#read(chunk));
    this.#socket.on('error', () => {});
    this.#socket.on('close', () => this.#gone());
  }

  send(text: string): void {
    if (!this.#closed) this.#socket.write(clientFrame(OP_TEXT, Buffer.from(text)));
  }

  terminate(): void {
    this.#socket.destroy();
  }

  #gone(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#events.close();
  }

  #read(chunk: Buffer): void {
    let data = this.#pending.length > 0 ? Buffer.concat([this.#pending, chunk]) : chunk;
    if (!this.#upgraded) {
      const end = data.indexOf(HEAD_END);
      if (end < 0) {
        this.#pending = data;
        return;
      }
      // A refused upgrade (429, 503 from the connection caps) ends here: the caller reconnects.
      if (!data.subarray(0, 13).toString('latin1').startsWith('HTTP/1.1 101')) {
        this.terminate();
        return;
      }
      this.#upgraded = true;
      data = data.subarray(end + HEAD_END.length);
      this.#events.open();
    }
    let at = 0;
    while (!this.#closed) {
      const frame = this.#frameAt(data, at);
      if (!frame) break;
      at = frame.next;
      this.#onFrame(frame.fin, frame.opcode, frame.payload);
    }
    this.#pending = at < data.length ? data.subarray(at) : EMPTY;
  }

  /** The whole frame starting at `at`, or undefined until all of it has arrived. */
  #frameAt(
    data: Buffer,
    at: number,
  ): { fin: boolean; opcode: number; payload: Buffer; next: number } | undefined {
    if (data.length - at < 2) return undefined;
    const b0 = data[at] ?? 0;
    const b1 = data[at + 1] ?? 0;
    let length = b1 & 0x7f;
    let start = at + 2;
    if (length === 126) {
      if (data.length - at < 4) return undefined;
      length = data.readUInt16BE(at + 2);
      start += 2;
    } else if (length === 127) {
      if (data.length - at < 10) return undefined;
      length = Number(data.readBigUInt64BE(at + 2));
      start += 8;
    }
    // A server never masks its frames (RFC 6455 §5.1); the bit is not expected here.
    if (data.length - start < length) return undefined;
    return {
      fin: (b0 & 0x80) !== 0,
      opcode: b0 & 0x0f,
      payload: data.subarray(start, start + length),
      next: start + length,
    };
  }

  #onFrame(fin: boolean, opcode: number, payload: Buffer): void {
    switch (opcode) {
      case OP_TEXT:
      case OP_BINARY:
      case OP_CONTINUATION: {
        if (fin && this.#fragments.length === 0) {
          this.#events.message(payload);
          return;
        }
        this.#fragments.push(payload);
        if (!fin) return;
        const whole = Buffer.concat(this.#fragments);
        this.#fragments = [];
        this.#events.message(whole);
        return;
      }
      case OP_PING:
        this.#socket.write(clientFrame(OP_PONG, payload));
        return;
      case OP_CLOSE:
        // No closing handshake: the swarm only needs the socket gone, as after a crash.
        this.#socket.destroy();
        return;
      default:
        return; // pongs and unknown control frames carry nothing the swarm needs
    }
  }
}
