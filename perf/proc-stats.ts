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

export function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** The soft limit on open files (`ulimit -n` as the process has it). */
export function fdLimit(pid: number): number {
  const limits = readFileSync(`/proc/${pid}/limits`, 'utf8');
  return Number(/Max open files\s+(\d+)/.exec(limits)?.[1] ?? Number.NaN);
}
