/**
 * renew: extend the leases of tasks this server still holds. A lease is
 * renewed only while the task is RUNNING under the same attempt: once a peer
 * requeued it (this server was frozen, or judged dead) and it was leased
 * again, the old holder must let go instead of keeping the new lease alive.
 *   KEYS[1] leases
 *   ARGV[1] task key head, ARGV[2] lease expiry (ms), ARGV[3..] pairs: id, attempt
 *   returns the ids this server no longer holds
 */
export const RENEW_LUA = `
local gone = {}
for i = 3, #ARGV, 2 do
  local id = ARGV[i]
  local f = redis.call('HMGET', ARGV[1] .. id, 'status', 'attempts')
  if f[1] == 'RUNNING' and f[2] == ARGV[i + 1] then
    redis.call('ZADD', KEYS[1], ARGV[2], id)
  else
    gone[#gone + 1] = id
  end
end
return gone
`;
