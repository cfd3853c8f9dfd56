/**
 * complete: apply outcomes to RUNNING tasks of the same attempt (the attempt
 * fences late duplicates: the first terminal result wins).
 *   KEYS[1] leases, KEYS[2] events channel
 *   ARGV[1] task key head, ARGV[2] now (ms), ARGV[3] result TTL (s, 0 = keep), ARGV[4] instance id
 *   ARGV[5] outcomes as ONE argument, JSON text of [[id, attempt, status, run_ms], ...]
 *   ARGV[6..] each outcome's value (JSON text of the result or error), in the same order: moved
 *   into the hash, never decoded, as the enqueue scripts do with arguments
 *   returns the ids applied, and publishes "<instance> f <id,id,...>"
 */
export const COMPLETE_LUA = `
local applied = {}
local ttl = tonumber(ARGV[3])
for i, o in ipairs(cjson.decode(ARGV[5])) do
  local id = o[1]
  local key = ARGV[1] .. id
  local f = redis.call('HMGET', key, 'status', 'attempts')
  if f[1] == 'RUNNING' and tonumber(f[2]) == o[2] then
    if o[3] == 'CANCELLED' then
      redis.call('HSET', key, 'status', 'CANCELLED', 'run_ms', o[4], 'finished', ARGV[2])
    else
      redis.call('HSET', key, 'status', o[3], 'result', ARGV[5 + i], 'run_ms', o[4], 'finished', ARGV[2])
    end
    redis.call('HDEL', key, 'owner')
    redis.call('ZREM', KEYS[1], id)
    if ttl > 0 then redis.call('EXPIRE', key, ttl) end
    applied[#applied + 1] = id
  end
end
if #applied > 0 then
  redis.call('PUBLISH', KEYS[2], ARGV[4] .. ' f ' .. table.concat(applied, ','))
end
return applied
`;
