/**
 * The retry-task script: a FAILED or CANCELLED task runs again under the same id (POST
 * /task/:id/retry): QUEUED at the tail of its priority (a new `seq`), kept
 * until it finishes again. The last error moves to `e<attempt>` with the others; the
 * counts of lost leases and of runs start afresh (`released` = attempts),
 * while `attempts` itself keeps growing, as it fences late results.
 *   KEYS[1] queue, KEYS[2] prio, KEYS[3] failed set, KEYS[4] events channel, KEYS[5] seq
 * A task whose references were never resolved (it failed with
 * DependencyFailedError) waits for its dependencies again, or fails again at
 * once when one still has not COMPLETED (lua/dependencies.ts).
 *   ARGV[1] task key head, ARGV[2] id, ARGV[3] instance id, ARGV[4..9] lane locals,
 *   ARGV[10] result TTL (s), ARGV[11] now (ms)
 *   returns false for an unknown id, else { previous status, changed 0|1 }
 */

import { laneLocals, PUSH_STEP } from './claim.js';
import { DEPS_FAIL_STEP, DEPS_RELEASE_STEP } from './dependencies.js';

export const RETRY_TASK_LUA = `
local queue, prio, task_head = KEYS[1], KEYS[2], ARGV[1]
${laneLocals(4)}
${PUSH_STEP}
${DEPS_FAIL_STEP}
${DEPS_RELEASE_STEP}
local id = ARGV[2]
local key = ARGV[1] .. id
local f = redis.call('HMGET', key, 'status', 'attempts', 'result', 'prio', 'lane', 'dref')
if not f[1] then return false end
if f[1] ~= 'FAILED' and f[1] ~= 'CANCELLED' then return { f[1], 0 } end
if f[1] == 'FAILED' and f[3] then redis.call('HSET', key, 'e' .. f[2], f[3]) end
redis.call('HDEL', key, 'result', 'finished', 'run_ms', 'started', 'run_at', 'progress', 'owner')
local seq = redis.call('INCR', KEYS[5])
redis.call('HSET', key, 'status', 'QUEUED', 'released', f[2] or 0, 'seq', seq)
redis.call('PERSIST', key)
redis.call('ZREM', KEYS[3], id)
if f[6] and deps_hold(id, f[6], ARGV[11], tonumber(ARGV[10]), KEYS[3]) then
  deps_announce(KEYS[4])
else
  push_queued(id, f[4], seq, false, f[5])
end
if (tonumber(f[4]) or 0) ~= 0 then redis.call('PUBLISH', KEYS[4], ARGV[3] .. ' q p ' .. f[4])
else redis.call('PUBLISH', KEYS[4], ARGV[3] .. ' q') end
redis.call('PUBLISH', KEYS[4], ARGV[3] .. ' r ' .. id)
return { f[1], 1 }
`;
