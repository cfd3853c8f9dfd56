import { LANE_KEYS_STEP, laneLocals } from './claim.js';
import { DEPS_FAIL_STEP } from './dependencies.js';

/**
 * delete-function: removes a function and cancels its tasks that have not
 * started (QUEUED and WAITING); RUNNING ones finish. It walks the queue,
 * `prio` and `delayed`, so it costs time in proportion to what is queued:
 * an operator's call, not a hot path. List entries of cancelled tasks stay
 * behind (the claim step drops them).
 *   KEYS[1] function key, KEYS[2] functions set, KEYS[3] queue, KEYS[4] prio, KEYS[5] delayed,
 *   KEYS[6] deadlines, KEYS[7] events channel, KEYS[8] failed set (for dependents: lua/dependencies.ts)
 *   ARGV[1] task key head, ARGV[2] function id, ARGV[3] now (ms), ARGV[4] result TTL (s),
 *   ARGV[5] instance id, ARGV[6..11] lane locals
 *   returns -1 for an unknown function, else { cancelled count, ids... }
 */
export const DELETE_FUNCTION_LUA = `
if redis.call('DEL', KEYS[1]) == 0 then return { -1 } end
local queue, prio = KEYS[3], KEYS[4]
${laneLocals(6)}
${LANE_KEYS_STEP}
redis.call('ZREM', KEYS[2], ARGV[2])
local head, target, now, ttl = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local task_head = head
${DEPS_FAIL_STEP}
local cancelled = {}
local function consider(id, zset)
  local key = head .. id
  local f = redis.call('HMGET', key, 'status', 'fn')
  if f[2] == target and (f[1] == 'QUEUED' or f[1] == 'WAITING') then
    redis.call('HSET', key, 'status', 'CANCELLED', 'finished', now)
    if ttl > 0 then redis.call('EXPIRE', key, ttl) end
    redis.call('ZREM', KEYS[6], id)
    cancelled[#cancelled + 1] = id
    fail_dependents(id, 'cancelled', now, ttl, KEYS[8])
    return true
  end
  return false
end
local function walk_list(key)
  local n = redis.call('LLEN', key)
  for start = 0, n - 1, 1000 do
    for _, id in ipairs(redis.call('LRANGE', key, start, start + 999)) do consider(id) end
  end
end
local function walk_zset(key)
  local gone = {}
  local size = redis.call('ZCARD', key)
  for start = 0, size - 1, 1000 do
    for _, id in ipairs(redis.call('ZRANGE', key, start, start + 999)) do
      if consider(id) then gone[#gone + 1] = id end
    end
  end
  for i = 1, #gone, 1000 do redis.call('ZREM', key, unpack(gone, i, math.min(i + 999, #gone))) end
end
-- The Memory store walks in the same order: each lane's list then prio, then delayed.
local lanes = redis.call('HKEYS', lanes_key)
table.sort(lanes)
table.insert(lanes, 1, '')
for _, lane in ipairs(lanes) do
  local q, z = lane_keys(lane)
  walk_list(q)
  walk_zset(z)
end
walk_zset(KEYS[5])
for i = 1, #cancelled, 500 do
  redis.call('PUBLISH', KEYS[7], ARGV[5] .. ' f ' .. table.concat(cancelled, ',', i, math.min(i + 499, #cancelled)))
end
deps_announce(KEYS[7])
local out = { #cancelled }
for _, id in ipairs(cancelled) do out[#out + 1] = id end
return out
`;
