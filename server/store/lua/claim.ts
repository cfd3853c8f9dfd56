/**
 * The claim step, shared by two scripts: lease up to N tasks from the head
 * of the queue. Ids whose task is no longer QUEUED (cancelled, expired) are
 * dropped. Expects locals `queue`, `leases`, `prefix`, `max`, `owner`, `now`,
 * `expiry` and returns { popped, id1, fn1, args1, attempt1, timeout1, created1, ... }.
 */
const CLAIM_STEP = `
local ids = redis.call('LPOP', queue, max)
if not ids then return {0} end
local out = {#ids}
for _, id in ipairs(ids) do
  local key = prefix .. 'task:' .. id
  local f = redis.call('HMGET', key, 'status', 'fn', 'args', 'timeout', 'created')
  if f[1] == 'QUEUED' then
    local attempt = redis.call('HINCRBY', key, 'attempts', 1)
    redis.call('HSET', key, 'status', 'RUNNING', 'started', now, 'owner', owner)
    redis.call('ZADD', leases, expiry, id)
    out[#out + 1] = id
    out[#out + 1] = f[2]
    out[#out + 1] = f[3]
    out[#out + 1] = attempt
    out[#out + 1] = f[4]
    out[#out + 1] = f[5]
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
 * The enqueue step. New tasks arrive as ONE argument, JSON text of
 * [[id, fn, args, timeout, created, idempotency key or ''], ...]: one large
 * argument instead of six per task keeps the client from writing thousands of
 * small buffers per batch.
 *
 * Two guards make a failed submit safe to retry:
 * - a deadline in Redis's clock: a call that Redis runs after the server gave
 *   up on it (Redis was paused, the reply was slow) stores nothing, so a 503
 *   never leaves a task behind; the reply is then {-1};
 * - idempotency keys: a task whose key is known is not stored again; its
 *   position and the task id stored under the key come back in the reply.
 * Expects locals `queue`, `prefix`, `tasks_json`, `deadline`, `idem_ttl`; leaves
 * `dups` = { position, existing id, ... } and `ids` (the ids stored).
 */
const ENQUEUE_STEP = `
local clock = redis.call('TIME')
if tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000) > tonumber(deadline) then
  return { -1 }
end
local ids = {}
local dups = {}
for i, t in ipairs(cjson.decode(tasks_json)) do
  local existing = false
  if t[6] ~= '' then
    local ikey = prefix .. 'idem:' .. t[6]
    existing = redis.call('GET', ikey)
    if not existing then redis.call('SET', ikey, t[1], 'EX', idem_ttl) end
  end
  if existing then
    -- A client now holds this id: a late undo of its first submit must keep it.
    if redis.call('EXISTS', prefix .. 'task:' .. existing) == 1 then
      redis.call('HSET', prefix .. 'task:' .. existing, 'acked', '1')
    end
    dups[#dups + 1] = i
    dups[#dups + 1] = existing
  else
    redis.call('HSET', prefix .. 'task:' .. t[1], 'fn', t[2], 'args', t[3],
      'status', 'QUEUED', 'attempts', '0', 'timeout', t[4], 'created', t[5])
    ids[#ids + 1] = t[1]
  end
end
for i = 1, #ids, 1000 do
  redis.call('RPUSH', queue, unpack(ids, i, math.min(i + 999, #ids)))
end
`;

/**
 * enqueue: store new tasks as QUEUED at the tail of the queue.
 *   KEYS[1] queue, KEYS[2] events channel
 *   ARGV[1] key prefix, ARGV[2] tasks JSON (see ENQUEUE_STEP), ARGV[3] instance id,
 *   ARGV[4] deadline (ms, Redis clock), ARGV[5] idempotency key TTL (s)
 *   returns { #dups / 2, dups... } or { -1 } past the deadline
 */
export const ENQUEUE_LUA = `
local queue, prefix, tasks_json = KEYS[1], ARGV[1], ARGV[2]
local deadline, idem_ttl = ARGV[4], ARGV[5]
${ENQUEUE_STEP}
if #ids > 0 then redis.call('PUBLISH', KEYS[2], ARGV[3] .. ' q') end
local out = { #dups / 2 }
for _, v in ipairs(dups) do out[#out + 1] = v end
return out
`;

/**
 * enqueue-claim: store new tasks as QUEUED at the tail of the queue, then
 * claim from the head, in one round trip. Used when a dispatcher has room
 * the moment tasks arrive, so a submit and its lease cost one call, and FIFO
 * order still holds (older tasks are claimed first).
 *   KEYS[1] queue, KEYS[2] leases, KEYS[3] events channel
 *   ARGV[1] key prefix, ARGV[2] max, ARGV[3] owner, ARGV[4] now (ms), ARGV[5] lease expiry (ms),
 *   ARGV[6] instance id, ARGV[7] tasks JSON (see ENQUEUE_STEP),
 *   ARGV[8] deadline (ms, Redis clock), ARGV[9] idempotency key TTL (s)
 *   returns { #dups / 2, dups..., then the claim reply } or { -1 } past the deadline
 */
export const ENQUEUE_CLAIM_LUA = `
local queue, leases = KEYS[1], KEYS[2]
local prefix, max, owner, now, expiry = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local tasks_json, deadline, idem_ttl = ARGV[7], ARGV[8], ARGV[9]
${ENQUEUE_STEP}
if #ids > 0 then redis.call('PUBLISH', KEYS[3], ARGV[6] .. ' q') end
local claimed = (function()
${CLAIM_STEP}
end)()
local out = { #dups / 2 }
for _, v in ipairs(dups) do out[#out + 1] = v end
for _, v in ipairs(claimed) do out[#out + 1] = v end
return out
`;
