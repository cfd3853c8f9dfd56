/**
 * The claim step, shared by two scripts: lease up to N tasks from the head
 * of the queue. Ids whose task is no longer QUEUED (cancelled, expired) are
 * dropped. Expects locals `queue`, `leases`, `prefix`, `max`, `owner`, `now`,
 * `expiry` and returns { popped, id1, fn1, args1, attempt1, timeout1, ... }.
 */
const CLAIM_STEP = `
local ids = redis.call('LPOP', queue, max)
if not ids then return {0} end
local out = {#ids}
for _, id in ipairs(ids) do
  local key = prefix .. 'task:' .. id
  local f = redis.call('HMGET', key, 'status', 'fn', 'args', 'timeout')
  if f[1] == 'QUEUED' then
    local attempt = redis.call('HINCRBY', key, 'attempts', 1)
    redis.call('HSET', key, 'status', 'RUNNING', 'started', now, 'owner', owner)
    redis.call('ZADD', leases, expiry, id)
    out[#out + 1] = id
    out[#out + 1] = f[2]
    out[#out + 1] = f[3]
    out[#out + 1] = attempt
    out[#out + 1] = f[4]
  end
end
return out
`;

/**
 * claim: lease up to N tasks from the head of the queue.
 *   KEYS[1] queue, KEYS[2] leases
 *   ARGV[1] key prefix, ARGV[2] max, ARGV[3] owner, ARGV[4] now (ms), ARGV[5] lease expiry (ms)
 */
export const CLAIM_LUA = `
local queue, leases = KEYS[1], KEYS[2]
local prefix, max, owner, now, expiry = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
${CLAIM_STEP}`;

/**
 * enqueue-claim: store new tasks as QUEUED at the tail of the queue, then
 * claim from the head, in one round trip. Used when a dispatcher has room
 * the moment tasks arrive, so a submit and its lease cost one call, and FIFO
 * order still holds (older tasks are claimed first).
 *   KEYS[1] queue, KEYS[2] leases, KEYS[3] events channel
 *   ARGV[1] key prefix, ARGV[2] max, ARGV[3] owner, ARGV[4] now (ms), ARGV[5] lease expiry (ms),
 *   ARGV[6] instance id, ARGV[7..] groups of 5: id, fn, args, timeout, created
 */
export const ENQUEUE_CLAIM_LUA = `
local queue, leases = KEYS[1], KEYS[2]
local prefix, max, owner, now, expiry = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
for i = 7, #ARGV, 5 do
  redis.call('HSET', prefix .. 'task:' .. ARGV[i], 'fn', ARGV[i + 1], 'args', ARGV[i + 2],
    'status', 'QUEUED', 'attempts', '0', 'timeout', ARGV[i + 3], 'created', ARGV[i + 4])
  redis.call('RPUSH', queue, ARGV[i])
end
redis.call('PUBLISH', KEYS[3], ARGV[6] .. ' q')
${CLAIM_STEP}`;
