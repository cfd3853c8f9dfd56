/**
 * claim: lease up to N tasks from the head of the queue.
 *   KEYS[1] queue, KEYS[2] leases
 *   ARGV[1] key prefix, ARGV[2] max, ARGV[3] owner, ARGV[4] now (ms), ARGV[5] lease expiry (ms)
 *   returns { popped, id1, fn1, args1, attempt1, timeout1, id2, ... }
 * Ids whose task is no longer QUEUED (cancelled, expired) are dropped.
 */
export const CLAIM_LUA = `
local ids = redis.call('LPOP', KEYS[1], ARGV[2])
if not ids then return {0} end
local out = {#ids}
for _, id in ipairs(ids) do
  local key = ARGV[1] .. 'task:' .. id
  local f = redis.call('HMGET', key, 'status', 'fn', 'args', 'timeout')
  if f[1] == 'QUEUED' then
    local attempt = redis.call('HINCRBY', key, 'attempts', 1)
    redis.call('HSET', key, 'status', 'RUNNING', 'started', ARGV[4], 'owner', ARGV[3])
    redis.call('ZADD', KEYS[2], ARGV[5], id)
    out[#out + 1] = id
    out[#out + 1] = f[2]
    out[#out + 1] = f[3]
    out[#out + 1] = attempt
    out[#out + 1] = f[4]
  end
end
return out
`;
