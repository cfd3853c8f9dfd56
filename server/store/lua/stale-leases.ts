/**
 * stale-leases: RUNNING tasks whose lease ran out, or whose owner instance
 * stopped renewing its liveness key (a server that died), so they can be
 * requeued. Expired leases are found by score, oldest first, however many
 * leases there are; dead owners are looked for in a window of the set that
 * moves on each call (the cursor), so every lease is looked at in turn.
 * Entries whose task is gone or no longer RUNNING are removed.
 *   KEYS[1] leases
 *   ARGV[1] task key head, ARGV[2] instance key head, ARGV[3] now (ms), ARGV[4] limit,
 *   ARGV[5] cursor
 *   returns { next cursor, id1, attempt1, id2, attempt2, ... }
 */
export const STALE_LEASES_LUA = `
local task_head, instance_head = ARGV[1], ARGV[2]
local now, limit, cursor = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now, 'LIMIT', 0, limit)
local window = redis.call('ZRANGE', KEYS[1], cursor, cursor + limit - 1)
local next_cursor = 0
if #window == limit then next_cursor = cursor + limit end
local out = { next_cursor }
local seen = {}
local alive = {}
local function look(id, is_expired)
  if seen[id] then return end
  seen[id] = true
  local f = redis.call('HMGET', task_head .. id, 'status', 'owner', 'attempts')
  if f[1] ~= 'RUNNING' then
    redis.call('ZREM', KEYS[1], id)
    return
  end
  local stale = is_expired
  if not stale then
    local instance = string.match(f[2] or '', '^[^/]+') or ''
    if alive[instance] == nil then
      alive[instance] = redis.call('EXISTS', instance_head .. instance) == 1
    end
    stale = not alive[instance]
  end
  if stale then
    out[#out + 1] = id
    out[#out + 1] = f[3] or '0'
  end
end
for _, id in ipairs(expired) do look(id, true) end
for _, id in ipairs(window) do look(id, false) end
return out
`;
