/**
 * A private CA and a server certificate signed by it, made at run time with
 * openssl (nothing secret is kept in the repository), plus a second CA that
 * signed nothing: the "wrong CA" a worker may be given.
 */

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPki {
  dir: string;
  /** The CA that signed the server certificate. */
  caFile: string;
  /** A CA that signed nothing here. */
  otherCaFile: string;
  certFile: string;
  keyFile: string;
  /** A key that does not belong to certFile. */
  strayKeyFile: string;
  cleanup(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function makeCa(dir: string, name: string): void {
  openssl(
    [
      'req',
      '-x509',
      ...EC,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-subj',
      `/CN=taskgrid test ${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
}

/** `ips` and `names` go into the server certificate's subjectAltName. */
export function makeTestPki(
  ips: string[] = ['127.0.0.1'],
  names: string[] = ['localhost'],
): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'taskgrid-pki-'));
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  openssl(
    [
      'req',
      ...EC,
      '-keyout',
      'server.key',
      '-out',
      'server.csr',
      '-subj',
      '/CN=taskgrid test server',
    ],
    dir,
  );
  const san = [...ips.map((ip) => `IP:${ip}`), ...names.map((n) => `DNS:${n}`)].join(',');
  writeFileSync(
    join(dir, 'server.ext'),
    `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n`,
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.pem',
      '-days',
      '2',
      '-extfile',
      'server.ext',
    ],
    dir,
  );
  openssl(
    [
      'genpkey',
      '-algorithm',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-out',
      'stray.key',
    ],
    dir,
  );
  return {
    dir,
    caFile: join(dir, 'ca.pem'),
    otherCaFile: join(dir, 'other-ca.pem'),
    certFile: join(dir, 'server.pem'),
    keyFile: join(dir, 'server.key'),
    strayKeyFile: join(dir, 'stray.key'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
