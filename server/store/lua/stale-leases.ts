/**
 * stale-leases: RUNNING tasks whose lease ran out, or whose owner instance
 * stopped renewing its liveness key (a server that died), so they can be
 * requeued.
 *   KEYS[1] leases
 *   ARGV[1] key prefix, ARGV[2] now (ms), ARGV[3] limit
 *   returns { id1, attempt1, id2, attempt2, ... }
 */
export const STALE_LEASES_LUA = `
local out = {}
local rows = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[3]) - 1, 'WITHSCORES')
local alive = {}
for i = 1, #rows, 2 do
  local id = rows[i]
  local key = ARGV[1] .. 'task:' .. id
  local f = redis.call('HMGET', key, 'owner', 'attempts')
  local stale = tonumber(rows[i + 1]) < tonumber(ARGV[2])
  if not stale and f[1] then
    local instance = string.match(f[1], '^[^/]+')
    if alive[instance] == nil then
      alive[instance] = redis.call('EXISTS', ARGV[1] .. 'instance:' .. instance) == 1
    end
    stale = not alive[instance]
  end
  if stale then
    out[#out + 1] = id
    out[#out + 1] = f[2] or '0'
  end
end
return out
`;
