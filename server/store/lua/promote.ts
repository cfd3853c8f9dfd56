/**
 * promote: the store's clock work, run by each server's lifecycle timer.
 * WAITING tasks whose time came (a delay, a retry's backoff) become QUEUED
 * where their priority says; QUEUED or WAITING tasks whose deadline passed
 * before they started end FAILED (DeadlineExceededError) and never run.
 * At most `limit` of each per call; the reply says when to call again.
 *   KEYS[1] queue, KEYS[2] prio, KEYS[3] delayed, KEYS[4] deadlines, KEYS[5] failed set,
 *   KEYS[6] events channel
 *   ARGV[1] task key head, ARGV[2] now (ms), ARGV[3] limit, ARGV[4] result TTL (s),
 *   ARGV[5] DeadlineExceededError JSON text, ARGV[6] instance id, ARGV[7..12] lane locals
 *   returns { next due (ms) or -1, more 0|1, promoted count, highest priority promoted (or 0),
 *   failed ids... }
 */

import { FAIL_UNSTARTED_STEP, laneLocals, PUSH_STEP } from './claim.js';

export const PROMOTE_LUA = `
local queue, prio, delayed, deadlines, failed_set, events = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local task_head, now, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local ttl, deadline_err = tonumber(ARGV[4]), ARGV[5]
${laneLocals(7)}
${PUSH_STEP}
${FAIL_UNSTARTED_STEP}
local more = 0
local promoted = 0
local highest = false
local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, limit)
if #due == limit then more = 1 end
for _, id in ipairs(due) do
  redis.call('ZREM', delayed, id)
  local key = task_head .. id
  local f = redis.call('HMGET', key, 'status', 'prio', 'seq', 'lane')
  if f[1] == 'WAITING' then
    redis.call('HSET', key, 'status', 'QUEUED')
    push_queued(id, f[2], f[3], false, f[4])
    promoted = promoted + 1
    local p = tonumber(f[2]) or 0
    if not highest or p > highest then highest = p end
  end
end
local failed = {}
local expired = redis.call('ZRANGEBYSCORE', deadlines, '-inf', '(' .. now, 'LIMIT', 0, limit)
if #expired == limit then more = 1 end
for _, id in ipairs(expired) do
  redis.call('ZREM', deadlines, id)
  local key = task_head .. id
  local f = redis.call('HMGET', key, 'status', 'seq', 'prio', 'lane')
  if f[1] == 'QUEUED' or f[1] == 'WAITING' then
    local q, z = lane_keys(f[4])
    -- LREM walks the list from its head, where a task that waited this long usually is.
    if f[1] == 'QUEUED' and not f[3] then redis.call('LREM', q, 1, id) end
    redis.call('ZREM', z, id)
    redis.call('ZREM', delayed, id)
    fail_unstarted(key, id, deadline_err, f[2])
    failed[#failed + 1] = id
  end
end
deps_announce(events)
-- Promoted tasks may have priorities: say so, as a submit of such tasks does.
if highest then redis.call('PUBLISH', events, ARGV[6] .. ' q p ' .. highest) end
if #failed > 0 then redis.call('PUBLISH', events, ARGV[6] .. ' f ' .. table.concat(failed, ',')) end
local next_due = -1
local d = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
if d[2] then next_due = tonumber(d[2]) end
local e = redis.call('ZRANGE', deadlines, 0, 0, 'WITHSCORES')
if e[2] and (next_due == -1 or tonumber(e[2]) < next_due) then next_due = tonumber(e[2]) end
local out = { next_due, more, promoted, highest or 0 }
for _, id in ipairs(failed) do out[#out + 1] = id end
return out
`;
