/**
 * requeue: return leased tasks to the head of the queue, or fail them with
 * the given error once they reached the attempt cap.
 *   KEYS[1] queue, KEYS[2] leases, KEYS[3] events channel
 *   ARGV[1] key prefix, ARGV[2] now (ms), ARGV[3] max attempts, ARGV[4] instance id,
 *   ARGV[5] result TTL (s), ARGV[6] error JSON template with %d for attempts
 *   ARGV[7..] pairs: id, attempt
 *   returns { requeued ids..., '|', failed ids... }
 */
export const REQUEUE_LUA = `
local requeued = {}
local failed = {}
local cap = tonumber(ARGV[3])
local ttl = tonumber(ARGV[5])
for i = 7, #ARGV, 2 do
  local id = ARGV[i]
  local key = ARGV[1] .. 'task:' .. id
  local f = redis.call('HMGET', key, 'status', 'attempts')
  if f[1] == 'RUNNING' and f[2] == ARGV[i + 1] then
    redis.call('ZREM', KEYS[2], id)
    redis.call('HDEL', key, 'owner')
    if tonumber(f[2]) >= cap then
      local err = string.gsub(ARGV[6], '%%d', f[2])
      redis.call('HSET', key, 'status', 'FAILED', 'result', err, 'finished', ARGV[2])
      if ttl > 0 then redis.call('EXPIRE', key, ttl) end
      failed[#failed + 1] = id
    else
      redis.call('HSET', key, 'status', 'QUEUED')
      requeued[#requeued + 1] = id
    end
  end
end
for i = #requeued, 1, -1 do redis.call('LPUSH', KEYS[1], requeued[i]) end
if #requeued > 0 then redis.call('PUBLISH', KEYS[3], ARGV[4] .. ' q') end
if #failed > 0 then
  redis.call('PUBLISH', KEYS[3], ARGV[4] .. ' f ' .. table.concat(failed, ','))
end
local out = requeued
out[#out + 1] = '|'
for _, id in ipairs(failed) do out[#out + 1] = id end
return out
`;
