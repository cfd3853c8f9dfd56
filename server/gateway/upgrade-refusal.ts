/**
 * Answers an HTTP upgrade with an error instead of a WebSocket: the status
 * and `{error: {code, message}}` body from the one error table, before any
 * WebSocket frame is read.
 */

import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TaskgridError } from '../../shared/errors.js';

export function refuseUpgrade(socket: Duplex, error: TaskgridError): void {
  const status = error.httpStatus;
  const body = JSON.stringify({ error: { code: error.code, message: error.message } });
  const retry = status === 429 || status === 503 ? 'Retry-After: 1\r\n' : '';
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      'Connection: close\r\n' +
      'Content-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n${retry}\r\n${body}`,
    // The peer sends nothing after its upgrade request; drop the socket once the answer is out.
    () => socket.destroy(),
  );
}
