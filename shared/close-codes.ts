/**
 * Every WebSocket close code the grid sends or acts on, named once (as ws's
 * lib/constants.js). 1000–1015 are the protocol's own (RFC 6455 §7.4.1);
 * 4000–4999 are ours, numbered after the HTTP status of the same meaning
 * (4401 ~ 401). Which error closes with which code is ERROR_TABLE in
 * errors.ts; README "Sockets" lists them for peers.
 */

export const CloseCode = {
  /** A client closing its own socket. */
  Normal: 1000,
  /** The server or the worker is going away (shutdown, drain). */
  GoingAway: 1001,
  /** A frame, or the bytes before the hello, over the limit (ws sends it for maxPayload too). */
  TooLarge: 1009,
  /** The server failed on its side. */
  InternalError: 1011,
  /** The server cannot serve now (store down, draining); the peer may come back later. */
  TryAgainLater: 1013,
  /** A malformed frame, a message not allowed now, or no hello in time. */
  BadFrame: 4400,
  /** A missing or wrong token: reconnecting cannot help. */
  Unauthorized: 4401,
  /** No token, and the socket came from a page of another origin. */
  ForbiddenOrigin: 4403,
  NotFound: 4404,
  /** The peer speaks another protocol version: reconnecting cannot help. */
  VersionMismatch: 4406,
  /** The worker missed its heartbeats; its tasks went back to the queue. */
  MissedHeartbeats: 4408,
  /** A newer connection with the same worker id took this one's place (HTTP 409's family). */
  Replaced: 4409,
  UnsupportedMediaType: 4415,
  /** Over a per-socket limit (subscriptions). */
  TooMany: 4429,
} as const;

export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];
