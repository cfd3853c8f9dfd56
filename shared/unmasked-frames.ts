/**
 * The masking key of the frames the worker and the SDK send: all zeros,
 * which ws then neither applies nor removes (the server skips unmasking a
 * zero key). Masking (RFC 6455 §10.3) keeps a hostile page's script from
 * shaping the bytes a caching proxy sees; these peers are Node processes,
 * not pages, so it buys nothing here, and ws's JavaScript masking loop cost
 * ~110 MB/s of one core (a 64 KiB argument batch: a fifth of the SDK's CPU).
 * A zero key is a valid key: every server reads these frames as any other.
 */
export function zeroMask(mask: Buffer): void {
  mask.fill(0);
}
