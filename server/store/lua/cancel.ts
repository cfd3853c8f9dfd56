import { FREE_SLOT_STEP, LANE_KEYS_STEP, laneLocals } from './claim.js';
import { DEPS_FAIL_STEP } from './dependencies.js';

/**
 * cancel: QUEUED, WAITING or RUNNING → CANCELLED.
 *   KEYS[1] queue, KEYS[2] leases, KEYS[3] events channel, KEYS[4] prio, KEYS[5] delayed,
 *   KEYS[6] deadlines, KEYS[7] failed set (its dependents fail: lua/dependencies.ts)
 *   ARGV[1] task key head, ARGV[2] id, ARGV[3] now (ms), ARGV[4] instance id, ARGV[5] result TTL (s),
 *   ARGV[6..11] lane locals
 *   returns false for an unknown id, else { previous status, owner or '', changed 0|1 }
 */
export const CANCEL_LUA = `
local queue, prio, task_head = KEYS[1], KEYS[4], ARGV[1]
${laneLocals(6)}
${DEPS_FAIL_STEP}
${LANE_KEYS_STEP}
${FREE_SLOT_STEP}
local key = ARGV[1] .. ARGV[2]
local f = redis.call('HMGET', key, 'status', 'owner', 'prio', 'lane')
if not f[1] then return false end
if f[1] ~= 'QUEUED' and f[1] ~= 'WAITING' and f[1] ~= 'RUNNING' then return { f[1], '', 0 } end
redis.call('HSET', key, 'status', 'CANCELLED', 'finished', ARGV[3])
redis.call('HDEL', key, 'owner')
if tonumber(ARGV[5]) > 0 then redis.call('EXPIRE', key, tonumber(ARGV[5])) end
if f[1] == 'QUEUED' then
  local q, z = lane_keys(f[4])
  if f[3] then redis.call('ZREM', z, ARGV[2]) else redis.call('LREM', q, 1, ARGV[2]) end
end
if f[1] == 'RUNNING' then free_slot(f[4]) end
-- A limited function has room again: every server (this one too) should look.
if freed then redis.call('PUBLISH', KEYS[3], '* q') end
redis.call('ZREM', KEYS[5], ARGV[2])
redis.call('ZREM', KEYS[6], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[2])
local owner = f[2] or ''
redis.call('PUBLISH', KEYS[3], ARGV[4] .. ' c ' .. ARGV[2] .. ' ' .. owner)
redis.call('PUBLISH', KEYS[3], ARGV[4] .. ' f ' .. ARGV[2])
fail_dependents(ARGV[2], 'cancelled', ARGV[3], tonumber(ARGV[5]), KEYS[7])
deps_announce(KEYS[3])
return { f[1], owner, 1 }
`;
