/**
 * A second host for tests: a network namespace joined to the root one by a
 * veth pair, with addresses from 10.254.0.0/16 that exist only while the
 * test runs. Needs root and iproute2; `netnsUnavailable()` says why not.
 */

import { execFileSync, spawnSync } from 'node:child_process';

export interface SecondHost {
  /** The namespace's name, for `ip netns exec`. */
  name: string;
  /** The root namespace's end of the link (where the server listens). */
  hostIp: string;
  /** The namespace's end. */
  peerIp: string;
  /** Takes the link down: packets between the two stop, sockets are not told. */
  cut(): void;
  restore(): void;
  /** The command line that runs `args` inside the namespace. */
  command(args: string[]): { file: string; args: string[] };
  remove(): void;
}

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Why namespaces cannot be made here, or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== 'linux')
    return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0)
    return 'creating network namespaces needs root (run the tests as root)';
  const probe = spawnSync('ip', ['-V'], { stdio: 'ignore' });
  if (probe.error || probe.status !== 0) return '`ip` (iproute2) is not installed';
  return undefined;
}

export function makeSecondHost(): SecondHost {
  // Unique per process so parallel runs on one machine do not collide.
  const n = process.pid % 250;
  const name = `tg-test-${process.pid}`;
  const hostDev = `tgh${process.pid}`.slice(0, 15);
  const peerDev = `tgp${process.pid}`.slice(0, 15);
  const hostIp = `10.254.${n}.1`;
  const peerIp = `10.254.${n}.2`;
  ip(['netns', 'add', name]);
  try {
    ip(['link', 'add', hostDev, 'type', 'veth', 'peer', 'name', peerDev]);
    ip(['link', 'set', peerDev, 'netns', name]);
    ip(['addr', 'add', `${hostIp}/30`, 'dev', hostDev]);
    ip(['link', 'set', hostDev, 'up']);
    ip(['-n', name, 'addr', 'add', `${peerIp}/30`, 'dev', peerDev]);
    ip(['-n', name, 'link', 'set', peerDev, 'up']);
    ip(['-n', name, 'link', 'set', 'lo', 'up']);
  } catch (error) {
    spawnSync('ip', ['netns', 'del', name]);
    spawnSync('ip', ['link', 'del', hostDev]);
    throw error;
  }
  return {
    name,
    hostIp,
    peerIp,
    cut: () => ip(['link', 'set', hostDev, 'down']),
    restore: () => ip(['link', 'set', hostDev, 'up']),
    command: (args) => ({ file: 'ip', args: ['netns', 'exec', name, ...args] }),
    remove: () => {
      // Deleting the namespace deletes its end of the pair, and with it ours.
      spawnSync('ip', ['netns', 'del', name]);
      spawnSync('ip', ['link', 'del', hostDev]);
    },
  };
}
