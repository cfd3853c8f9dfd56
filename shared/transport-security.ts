/**
 * What the worker, the SDK and the CLI check before a token leaves the
 * process, and how they word a TLS failure. A token sent over plain ws:// or
 * http:// to another host can be read by anyone on the path, so it is refused
 * unless the caller says `insecure` (loopback never leaves the machine).
 */

import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { OptionError } from './options.js';

/** True for the names and addresses that always mean this machine. */
export function isLoopbackName(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return (
    name === 'localhost' ||
    name.endsWith('.localhost') ||
    name === '::1' ||
    /^127(\.\d{1,3}){3}$/.test(name) ||
    /^::ffff:127(\.\d{1,3}){3}$/.test(name)
  );
}

const PLAIN = new Set(['ws:', 'http:']);

/**
 * Throws an OptionError naming `option` (the URL option) when `url` would
 * carry a token in clear to a host other than this one.
 */
export function checkTokenTransport(
  option: string,
  url: string,
  hasToken: boolean,
  insecure: boolean,
): void {
  if (!hasToken || insecure) return;
  const parsed = new URL(url);
  if (!PLAIN.has(parsed.protocol) || isLoopbackName(parsed.hostname)) return;
  const secure = parsed.protocol === 'ws:' ? 'wss://' : 'https://';
  throw new OptionError(
    option,
    `a ${secure} URL: a token goes to another host (${parsed.host}) only encrypted, unless \`insecure\` (--insecure) is set`,
    url,
  );
}

/** A PEM file's text, or an OptionError naming `option` and why it could not be read. */
export function pemFileOption(option: string, path: unknown): string {
  if (typeof path !== 'string' || path === '') {
    throw new OptionError(option, 'a file path', path);
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new OptionError(option, `a readable PEM file (reading it failed: ${code})`, path);
  }
  if (!text.includes('-----BEGIN ')) {
    throw new OptionError(option, 'a PEM file (this one holds no -----BEGIN block)', path);
  }
  return text;
}

/** Trusted roots for a connection given a private CA: the system's and that one. */
export function trustedRoots(ca: string): string[] {
  return [...rootCertificates, ca];
}

/** PEM text given as an option (a string or a Buffer holding it). */
export function pemOption(option: string, value: unknown): string {
  const text = Buffer.isBuffer(value) ? value.toString('utf8') : value;
  if (typeof text === 'string' && text.includes('-----BEGIN ')) return text;
  throw new OptionError(option, 'PEM text (a string or Buffer with -----BEGIN …)', value);
}

/** OpenSSL's codes for "this certificate is not one I trust", as Node reports them. */
const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
]);
const EXPIRED = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);

/**
 * A sentence for a TLS verification failure (the server's certificate is
 * not trusted, expired, or names another host); undefined for any other
 * error, which is a network problem worth retrying.
 */
export function tlsRefusal(error: unknown, url: string): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string') return undefined;
  const host = new URL(url).host;
  if (UNTRUSTED.has(code)) {
    return (
      `TLS: the certificate of ${host} is not signed by a CA this process trusts (${code}); ` +
      'pass the CA that signed it with --ca FILE (the `ca` option)'
    );
  }
  if (EXPIRED.has(code)) return `TLS: the certificate of ${host} is not valid now (${code})`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return `TLS: the certificate of ${host} does not name that host (${code}): connect by a name it lists`;
  }
  return undefined;
}

/** `url` fit for a log line or an error: its password (a Redis ACL user's, say) replaced by `***`. */
export function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password === '') return url;
    parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}
