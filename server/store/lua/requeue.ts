import { FREE_SLOT_STEP, laneLocals, PUSH_STEP } from './claim.js';
import { DEPS_FAIL_STEP } from './dependencies.js';

/**
 * requeue: return leased tasks to the head of the queue (a task with a
 * priority goes back to its place in `prio`). A counted return
 * (the task's worker or server was lost) fails the task with the given error
 * once it was lost `cap` times; a release (a shutdown, a claim that could not
 * be handed on) is not the task's fault and is never counted. `attempts`
 * keeps growing either way: it is the fencing token of each lease, so a late
 * result of an earlier lease can never be taken for the current one.
 *   KEYS[1] queue, KEYS[2] leases, KEYS[3] events channel, KEYS[4] prio, KEYS[5] failed set
 *   ARGV[1] task key head, ARGV[2] now (ms), ARGV[3] max losses (0 = release, not counted),
 *   ARGV[4] instance id, ARGV[5] result TTL (s), ARGV[6] error JSON template with %d for losses
 *   ARGV[7..12] lane locals, ARGV[13..] pairs: id, attempt
 *   returns { requeued ids..., '|', failed ids... }
 */
export const REQUEUE_LUA = `
local queue, prio, task_head = KEYS[1], KEYS[4], ARGV[1]
${laneLocals(7)}
${PUSH_STEP}
${DEPS_FAIL_STEP}
${FREE_SLOT_STEP}
local requeued = {}
local listed = {}
local failed = {}
local cap = tonumber(ARGV[3])
local ttl = tonumber(ARGV[5])
for i = 13, #ARGV, 2 do
  local id = ARGV[i]
  local key = ARGV[1] .. id
  local f = redis.call('HMGET', key, 'status', 'attempts', 'released', 'prio', 'seq', 'lane')
  if f[1] == 'RUNNING' and f[2] == ARGV[i + 1] then
    free_slot(f[6])
    redis.call('ZREM', KEYS[2], id)
    -- The next attempt reports its own progress.
    redis.call('HDEL', key, 'owner', 'progress')
    local lost = tonumber(f[2]) - (tonumber(f[3]) or 0)
    if cap == 0 then
      redis.call('HINCRBY', key, 'released', 1)
      redis.call('HSET', key, 'status', 'QUEUED')
      requeued[#requeued + 1] = id
      listed[#listed + 1] = f
    elseif lost >= cap then
      local err = string.gsub(ARGV[6], '%%d', tostring(lost))
      redis.call('HSET', key, 'status', 'FAILED', 'result', err, 'finished', ARGV[2])
      redis.call('ZADD', KEYS[5], tonumber(f[5]) or 0, id)
      if ttl > 0 then redis.call('EXPIRE', key, ttl) end
      failed[#failed + 1] = id
      fail_dependents(id, 'failed', ARGV[2], ttl, KEYS[5])
    else
      redis.call('HSET', key, 'status', 'QUEUED')
      requeued[#requeued + 1] = id
      listed[#listed + 1] = f
    end
  end
end
for i = #requeued, 1, -1 do push_queued(requeued[i], listed[i][4], listed[i][5], true, listed[i][6]) end
-- A limited function has room again: every server (this one too) should look.
if freed then redis.call('PUBLISH', KEYS[3], '* q') end
if #requeued > 0 then
  -- As a submit says it: the highest priority back in the queue, when one is not 0.
  local highest, any = false, false
  for _, f in ipairs(listed) do
    local p = tonumber(f[4]) or 0
    if p ~= 0 then any = true end
    if not highest or p > highest then highest = p end
  end
  if any then redis.call('PUBLISH', KEYS[3], ARGV[4] .. ' q p ' .. highest)
  else redis.call('PUBLISH', KEYS[3], ARGV[4] .. ' q') end
end
if #failed > 0 then
  redis.call('PUBLISH', KEYS[3], ARGV[4] .. ' f ' .. table.concat(failed, ','))
end
deps_announce(KEYS[3])
local out = requeued
out[#out + 1] = '|'
for _, id in ipairs(failed) do out[#out + 1] = id end
return out
`;
