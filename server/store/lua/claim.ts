/**
 * The claim step, shared by two scripts: lease up to N tasks from the head
 * of the queue. Ids whose task is no longer QUEUED (cancelled, expired) are
 * dropped. Expects locals `queue`, `leases`, `task_head`, `max`, `owner`,
 * `now`, `expiry` and returns { drained, id1, fn1, args1, attempt1, timeout1,
 * created1, ... }, drained being 1 when the queue is empty after the claim.
 */
const CLAIM_STEP = `
local ids = redis.call('LPOP', queue, max)
if not ids then return {1} end
local out = {0}
for _, id in ipairs(ids) do
  local key = task_head .. id
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
if redis.call('LLEN', queue) == 0 then out[1] = 1 end
return out
`;

/**
 * claim: lease up to N tasks from the head of the queue.
 *   KEYS[1] queue, KEYS[2] leases
 *   ARGV[1] task key head, ARGV[2] max, ARGV[3] owner, ARGV[4] now (ms), ARGV[5] lease expiry (ms)
 */
export const CLAIM_LUA = `
local queue, leases = KEYS[1], KEYS[2]
local task_head, max, owner, now, expiry = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
${CLAIM_STEP}`;

/**
 * The enqueue step. New tasks arrive as ONE argument, JSON text of
 * [[id, idempotency key or '', [field, value, ...]], ...], the fields being
 * the task's first hash but its arguments (script-io.ts builds it from
 * task-hash.ts): one argument instead of several per task keeps the client
 * from writing thousands of small buffers per batch. Each task's argument
 * text comes as its own ARGV item from `args_from` on, in the same order, and
 * is only moved into the hash, never decoded: cjson would parse (and unescape)
 * every byte of a large argument, which cost more than carrying it to Redis.
 *
 * Two guards make a failed submit safe to retry:
 * - a deadline in Redis's clock: a call that Redis runs after the server gave
 *   up on it (Redis was paused, the reply was slow) stores nothing, so a 503
 *   never leaves a task behind; the reply is then {-1};
 * - idempotency keys: a task whose key is known is not stored again; its
 *   position and the task id stored under the key come back in the reply.
 * Expects locals `queue`, `task_head`, `idem_head`, `tasks_json`, `args_from`,
 * `deadline`, `idem_ttl`; leaves `dups` = { position, existing id, ... } and `ids` (the
 * ids stored).
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
  if t[2] ~= '' then
    local ikey = idem_head .. t[2]
    existing = redis.call('GET', ikey)
    if not existing then redis.call('SET', ikey, t[1], 'EX', idem_ttl) end
  end
  if existing then
    -- A client now holds this id: a late undo of its first submit must keep it.
    if redis.call('EXISTS', task_head .. existing) == 1 then
      redis.call('HSET', task_head .. existing, 'acked', '1')
    end
    dups[#dups + 1] = i
    dups[#dups + 1] = existing
  else
    redis.call('HSET', task_head .. t[1], 'args', ARGV[args_from + i - 1], unpack(t[3]))
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
 *   ARGV[1] task key head, ARGV[2] idempotency key head, ARGV[3] tasks JSON (see ENQUEUE_STEP),
 *   ARGV[4] instance id, ARGV[5] deadline (ms, Redis clock), ARGV[6] idempotency key TTL (s),
 *   ARGV[7..] each task's argument text
 *   returns { #dups / 2, dups... } or { -1 } past the deadline
 */
export const ENQUEUE_LUA = `
local queue, task_head, idem_head, tasks_json = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
local deadline, idem_ttl, args_from = ARGV[5], ARGV[6], 7
${ENQUEUE_STEP}
if #ids > 0 then redis.call('PUBLISH', KEYS[2], ARGV[4] .. ' q') end
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
 *   ARGV[1] task key head, ARGV[2] idempotency key head, ARGV[3] max, ARGV[4] owner,
 *   ARGV[5] now (ms), ARGV[6] lease expiry (ms), ARGV[7] instance id,
 *   ARGV[8] tasks JSON (see ENQUEUE_STEP), ARGV[9] deadline (ms, Redis clock),
 *   ARGV[10] idempotency key TTL (s), ARGV[11..] each task's argument text
 *   returns { #dups / 2, dups..., then the claim reply } or { -1 } past the deadline
 */
export const ENQUEUE_CLAIM_LUA = `
local queue, leases = KEYS[1], KEYS[2]
local task_head, idem_head = ARGV[1], ARGV[2]
local max, owner, now, expiry = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local tasks_json, deadline, idem_ttl, args_from = ARGV[8], ARGV[9], ARGV[10], 11
${ENQUEUE_STEP}
if #ids > 0 then redis.call('PUBLISH', KEYS[3], ARGV[7] .. ' q') end
local claimed = (function()
${CLAIM_STEP}
end)()
local out = { #dups / 2 }
for _, v in ipairs(dups) do out[#out + 1] = v end
for _, v in ipairs(claimed) do out[#out + 1] = v end
return out
`;
