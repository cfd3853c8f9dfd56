/**
 * The queue is three structures, so that the default (priority 0, no delay)
 * costs what a plain FIFO list costs, and priorities stay exact:
 * - `queue`, a LIST of priority-0 task ids, FIFO;
 * - `prio`, a ZSET of the other QUEUED ids, scored so that a lower score runs
 *   first: (PRIORITY_MAX - priority) * SEQ_SPAN + seq (PRIORITY_SCORE below).
 *   Scores under ZERO_SCORE are priorities above 0 (they run before the
 *   list), scores above it are priorities below 0 (they run after it); `seq`,
 *   a counter taken at submit, keeps FIFO within one priority across servers;
 * - `delayed`, a ZSET of WAITING ids by the time they become QUEUED.
 * Lua stays O(log n) per task, as BullMQ's prioritized and delayed sets.
 */

/** Gives each priority a band of scores wide enough for 2^44 submits; the largest score stays below 2^53. */
export const SEQ_SPAN = 2 ** 44;
export const PRIORITY_MAX = 100;
/** The score priority 0 would have: the boundary between `prio`'s two halves. */
export const ZERO_SCORE = PRIORITY_MAX * SEQ_SPAN;

/** Lua: the `prio` score of a priority and a seq (both numbers). */
const PRIORITY_SCORE = `
local function prio_score(p, seq) return (${PRIORITY_MAX} - p) * ${SEQ_SPAN} + seq end
`;

/**
 * Lua: puts a task that has just become QUEUED where its priority says: at
 * the tail of the list, or (`head`) back at its head; in `prio` by score,
 * which returns it to its place either way. Expects local `queue`, `prio`.
 */
const PUSH_STEP = `
${PRIORITY_SCORE}
local function push_queued(id, p, seq, head)
  p = tonumber(p) or 0
  if p == 0 then
    if head then redis.call('LPUSH', queue, id) else redis.call('RPUSH', queue, id) end
  else
    redis.call('ZADD', prio, prio_score(p, tonumber(seq) or 0), id)
  end
end
`;

/**
 * Lua: ends a task that never ran as FAILED with the given error text (a
 * deadline passed), keeping it in the dead-letter set. Expects locals
 * `failed_set`, `now`, `ttl`; the caller removes it from where it waited.
 */
const FAIL_UNSTARTED_STEP = `
local function fail_unstarted(key, id, err, seq)
  redis.call('HSET', key, 'status', 'FAILED', 'result', err, 'finished', now)
  redis.call('ZADD', failed_set, tonumber(seq) or 0, id)
  if ttl > 0 then redis.call('EXPIRE', key, ttl) end
end
`;

/**
 * The claim step, shared by two scripts: lease up to N tasks, higher
 * priorities first, then the list, then lower priorities. Ids whose task is
 * no longer QUEUED (cancelled, expired) are dropped; a task whose deadline
 * has passed fails instead of running. Expects locals `queue`, `prio`,
 * `leases`, `deadlines`, `failed_set`, `task_head`, `max`, `owner`, `now`,
 * `expiry`, `ttl`, `deadline_err`, `events`, and returns { drained, id1,
 * fn1, args1, attempt1, timeout1, created1, deadline1 or '', ... }, drained
 * being 1 when the queue is empty after the claim.
 */
const CLAIM_STEP = `
${FAIL_UNSTARTED_STEP}
local out = {0}
local expired = {}
local function take(id)
  local key = task_head .. id
  local f = redis.call('HMGET', key, 'status', 'fn', 'args', 'timeout', 'created', 'deadline', 'seq')
  if f[1] ~= 'QUEUED' then return end
  if f[6] then
    redis.call('ZREM', deadlines, id)
    if tonumber(f[6]) < tonumber(now) then
      fail_unstarted(key, id, deadline_err, f[7])
      expired[#expired + 1] = id
      return
    end
  end
  local attempt = redis.call('HINCRBY', key, 'attempts', 1)
  redis.call('HSET', key, 'status', 'RUNNING', 'started', now, 'owner', owner)
  redis.call('ZADD', leases, expiry, id)
  out[#out + 1] = id
  out[#out + 1] = f[2]
  out[#out + 1] = f[3]
  out[#out + 1] = attempt
  out[#out + 1] = f[4]
  out[#out + 1] = f[5]
  out[#out + 1] = f[6] or ''
end
local function take_prio(low, count)
  local range
  if low then
    range = redis.call('ZRANGEBYSCORE', prio, '(${ZERO_SCORE}', '+inf', 'LIMIT', 0, count)
  else
    range = redis.call('ZRANGEBYSCORE', prio, '-inf', '(${ZERO_SCORE}', 'LIMIT', 0, count)
  end
  if #range == 0 then return 0 end
  redis.call('ZREM', prio, unpack(range))
  for _, id in ipairs(range) do take(id) end
  return #range
end
local left = tonumber(max)
local has_prio = redis.call('ZCARD', prio) > 0
if has_prio then left = left - take_prio(false, left) end
if left > 0 then
  local ids = redis.call('LPOP', queue, left)
  if ids then
    for _, id in ipairs(ids) do take(id) end
    left = left - #ids
  end
end
if has_prio and left > 0 then take_prio(true, left) end
if redis.call('LLEN', queue) == 0 and (not has_prio or redis.call('ZCARD', prio) == 0) then
  out[1] = 1
end
if #expired > 0 then
  -- '*': every server, this one too, announces these outcomes from the channel.
  redis.call('PUBLISH', events, '* f ' .. table.concat(expired, ','))
end
return out
`;

/**
 * claim: lease up to N tasks from the head of the queue.
 *   KEYS[1] queue, KEYS[2] leases, KEYS[3] prio, KEYS[4] deadlines, KEYS[5] failed set,
 *   KEYS[6] events channel
 *   ARGV[1] task key head, ARGV[2] max, ARGV[3] owner, ARGV[4] now (ms), ARGV[5] lease expiry (ms),
 *   ARGV[6] result TTL (s), ARGV[7] DeadlineExceededError JSON text
 */
export const CLAIM_LUA = `
local queue, leases, prio, deadlines, failed_set, events = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local task_head, max, owner, now, expiry = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local ttl, deadline_err = tonumber(ARGV[6]), ARGV[7]
${CLAIM_STEP}`;

/**
 * The enqueue step. New tasks arrive as ONE argument, JSON text of
 * [[id, idempotency key or '', [field, value, ...], priority, run_at or '',
 * deadline or ''], ...], the fields being the task's first hash but its
 * arguments (script-io.ts builds it from task-hash.ts): one argument instead
 * of several per task keeps the client from writing thousands of small
 * buffers per batch. Each task's argument text comes as its own ARGV item
 * from `args_from` on, in the same order, and is only moved into the hash,
 * never decoded: cjson would parse (and unescape) every byte of a large
 * argument, which cost more than carrying it to Redis.
 *
 * Each stored task takes the next `seq` (its place in FIFO order across
 * servers, and its score in the index that GET /tasks pages through), then
 * goes to the list, to `prio` (a priority other than 0) or to `delayed` (a
 * run_at: it is stored WAITING).
 *
 * Two guards make a failed submit safe to retry:
 * - a deadline in Redis's clock: a call that Redis runs after the server gave
 *   up on it (Redis was paused, the reply was slow) stores nothing, so a 503
 *   never leaves a task behind; the reply is then {-1};
 * - idempotency keys: a task whose key is known is not stored again; its
 *   position and the task id stored under the key come back in the reply.
 * Expects locals `queue`, `prio`, `delayed`, `deadlines`, `index`, `seq_key`,
 * `task_head`, `idem_head`, `tasks_json`, `args_from`, `deadline`,
 * `idem_ttl`; leaves `dups` = { position, existing id, ... }, `stored` (how
 * many were stored), `prioritized` (some runnable one has a priority) and
 * `next_due` (the earliest run_at or deadline stored, or false).
 */
const ENQUEUE_STEP = `
local clock = redis.call('TIME')
if tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000) > tonumber(deadline) then
  return { -1 }
end
${PUSH_STEP}
local rows = cjson.decode(tasks_json)
local seq = redis.call('INCRBY', seq_key, #rows) - #rows
local listed = {}
local dups = {}
local stored = 0
local prioritized = false
local next_due = false
local function due(at)
  at = tonumber(at)
  if not next_due or at < next_due then next_due = at end
end
for i, t in ipairs(rows) do
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
    local id = t[1]
    seq = seq + 1
    stored = stored + 1
    redis.call('HSET', task_head .. id, 'args', ARGV[args_from + i - 1], 'seq', seq, unpack(t[3]))
    redis.call('ZADD', index, seq, id)
    if t[5] ~= '' then
      redis.call('ZADD', delayed, t[5], id)
      due(t[5])
    elseif t[4] ~= 0 then
      redis.call('ZADD', prio, prio_score(t[4], seq), id)
      prioritized = true
    else
      listed[#listed + 1] = id
    end
    if t[6] ~= '' then
      redis.call('ZADD', deadlines, t[6], id)
      due(t[6])
    end
  end
end
for i = 1, #listed, 1000 do
  redis.call('RPUSH', queue, unpack(listed, i, math.min(i + 999, #listed)))
end
`;

/**
 * enqueue: store new tasks (see ENQUEUE_STEP).
 *   KEYS[1] queue, KEYS[2] events channel, KEYS[3] prio, KEYS[4] delayed, KEYS[5] deadlines,
 *   KEYS[6] index, KEYS[7] seq
 *   ARGV[1] task key head, ARGV[2] idempotency key head, ARGV[3] tasks JSON (see ENQUEUE_STEP),
 *   ARGV[4] instance id, ARGV[5] deadline (ms, Redis clock), ARGV[6] idempotency key TTL (s),
 *   ARGV[7..] each task's argument text
 *   returns { #dups / 2, dups... } or { -1 } past the deadline; publishes "<instance> q"
 *   when tasks were stored and "<instance> w <ms>" with the earliest run_at or deadline
 */
export const ENQUEUE_LUA = `
local queue, prio, delayed, deadlines, index, seq_key = KEYS[1], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local task_head, idem_head, tasks_json = ARGV[1], ARGV[2], ARGV[3]
local deadline, idem_ttl, args_from = ARGV[5], ARGV[6], 7
${ENQUEUE_STEP}
if prioritized then redis.call('PUBLISH', KEYS[2], ARGV[4] .. ' q p')
elseif stored > 0 then redis.call('PUBLISH', KEYS[2], ARGV[4] .. ' q') end
if next_due then redis.call('PUBLISH', KEYS[2], ARGV[4] .. ' w ' .. next_due) end
local out = { #dups / 2 }
for _, v in ipairs(dups) do out[#out + 1] = v end
return out
`;

/**
 * enqueue-claim: store new tasks, then claim, in one round trip. Used when
 * a dispatcher has room the moment tasks arrive, so a submit and its lease
 * cost one call, and order still holds (older and higher tasks are claimed
 * first).
 *   KEYS[1] queue, KEYS[2] leases, KEYS[3] events channel, KEYS[4] prio, KEYS[5] delayed,
 *   KEYS[6] deadlines, KEYS[7] index, KEYS[8] seq, KEYS[9] failed set
 *   ARGV[1] task key head, ARGV[2] idempotency key head, ARGV[3] max, ARGV[4] owner,
 *   ARGV[5] now (ms), ARGV[6] lease expiry (ms), ARGV[7] instance id,
 *   ARGV[8] tasks JSON (see ENQUEUE_STEP), ARGV[9] deadline (ms, Redis clock),
 *   ARGV[10] idempotency key TTL (s), ARGV[11] result TTL (s),
 *   ARGV[12] DeadlineExceededError JSON text, ARGV[13..] each task's argument text
 *   returns { #dups / 2, dups..., then the claim reply } or { -1 } past the deadline
 */
export const ENQUEUE_CLAIM_LUA = `
local queue, leases, events = KEYS[1], KEYS[2], KEYS[3]
local prio, delayed, deadlines, index, seq_key, failed_set = KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local task_head, idem_head = ARGV[1], ARGV[2]
local max, owner, now, expiry = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local tasks_json, deadline, idem_ttl, args_from = ARGV[8], ARGV[9], ARGV[10], 13
local ttl, deadline_err = tonumber(ARGV[11]), ARGV[12]
${ENQUEUE_STEP}
if prioritized then redis.call('PUBLISH', events, ARGV[7] .. ' q p')
elseif stored > 0 then redis.call('PUBLISH', events, ARGV[7] .. ' q') end
if next_due then redis.call('PUBLISH', events, ARGV[7] .. ' w ' .. next_due) end
local claimed = (function()
${CLAIM_STEP}
end)()
local out = { #dups / 2 }
for _, v in ipairs(dups) do out[#out + 1] = v end
for _, v in ipairs(claimed) do out[#out + 1] = v end
return out
`;

export { FAIL_UNSTARTED_STEP, PUSH_STEP };
