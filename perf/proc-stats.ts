/** What /proc says about a process: resident memory, open files and the open-file limit. */

import { readdirSync, readFileSync } from 'node:fs';

export function rssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

/** Resident memory in MB (MiB), to one decimal. */
export function rssMb(pid: number): number {
  return Math.round(rssKb(pid) / 102.4) / 10;
}

/** CPU time the process (all its threads) has used, user + system, in seconds. */
export function cpuSeconds(pid: number): number {
  // Fields after the parenthesised name: utime and stime are the 12th and 13th (clock ticks).
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** USER_HZ: 100 on Linux for every architecture Node runs on. */
const CLOCK_TICKS = 100;

export function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** The soft limit on open files (`ulimit -n` as the process has it). */
export function fdLimit(pid: number): number {
  const limits = readFileSync(`/proc/${pid}/limits`, 'utf8');
  return Number(/Max open files\s+(\d+)/.exec(limits)?.[1] ?? Number.NaN);
}
