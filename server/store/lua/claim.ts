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

import { DEPS_FAIL_STEP, DEPS_RELEASE_STEP } from './dependencies.js';

/** Gives each priority a band of scores wide enough for 2^44 submits; the largest score stays below 2^53. */
export const SEQ_SPAN = 2 ** 44;
export const PRIORITY_MAX = 100;
/** The score priority 0 would have: the boundary between `prio`'s two halves. */
export const ZERO_SCORE = PRIORITY_MAX * SEQ_SPAN;

/**
 * The lane key heads and keys every lane-aware script takes, as six ARGV
 * items from `at` on (redis-store.ts #laneArgs builds them): the heads of a
 * lane's list and `prio` keys, the HASH of RUNNING counts per limited
 * function, the ZSET of lane virtual times, the STRING of the latest virtual
 * time served, and the HASH of lanes (lane id → concurrency limit).
 */
export function laneLocals(at: number): string {
  return `local lane_q_head, lane_p_head, running, vt_key, vt_now_key, lanes_key = ARGV[${at}], ARGV[${at + 1}], ARGV[${at + 2}], ARGV[${at + 3}], ARGV[${at + 4}], ARGV[${at + 5}]`;
}

/** Lua: the `prio` score of a priority and a seq (both numbers). */
const PRIORITY_SCORE = `
local function prio_score(p, seq) return (${PRIORITY_MAX} - p) * ${SEQ_SPAN} + seq end
`;

/**
 * Lua: the list and `prio` keys of a lane (see lanes.ts): the default lane's
 * are `queue` and `prio`, another's are built from the lane key heads.
 * Expects locals `queue`, `prio`, `lane_q_head`, `lane_p_head`.
 */
const LANE_KEYS_STEP = `
local function lane_keys(lane)
  if lane == nil or lane == false or lane == '' then return queue, prio end
  return lane_q_head .. lane, lane_p_head .. lane
end
-- The function a lane limits, or '' (see lanes.ts laneId: its part 'f=<id>').
local function lane_fn(lane)
  if not lane or lane == '' then return '' end
  return string.match(lane, 'f=([^;]+)') or ''
end
`;

/**
 * Lua: puts a task that has just become QUEUED where its lane and priority
 * say: at the tail of the lane's list, or (`head`) back at its head; in its
 * `prio` by score, which returns it to its place either way.
 */
const PUSH_STEP = `
${PRIORITY_SCORE}
${LANE_KEYS_STEP}
local function push_queued(id, p, seq, head, lane)
  local q, z = lane_keys(lane)
  p = tonumber(p) or 0
  if p == 0 then
    if head then redis.call('LPUSH', q, id) else redis.call('RPUSH', q, id) end
  else
    redis.call('ZADD', z, prio_score(p, tonumber(seq) or 0), id)
  end
end
`;

/**
 * Lua: a RUNNING task of a function with a concurrency limit (`cfn`) ended
 * or went back: one fewer runs, and whoever waits for room should look.
 * Expects locals `running`, and `freed` (a flag the caller publishes on).
 */
const FREE_SLOT_STEP = `
local freed = false
local function free_slot(lane)
  local cfn = lane_fn(lane)
  if cfn ~= '' then
    redis.call('HINCRBY', running, cfn, -1)
    freed = true
  end
end
`;

/**
 * Lua: ends a task that never ran as FAILED with the given error text (a
 * deadline passed), keeping it in the dead-letter set. Expects locals
 * `failed_set`, `now`, `ttl`; the caller removes it from where it waited.
 */
const FAIL_UNSTARTED_STEP = `
${DEPS_FAIL_STEP}
local function fail_unstarted(key, id, err, seq)
  redis.call('HSET', key, 'status', 'FAILED', 'result', err, 'finished', now)
  redis.call('ZADD', failed_set, tonumber(seq) or 0, id)
  if ttl > 0 then redis.call('EXPIRE', key, ttl) end
  fail_dependents(id, 'failed', now, ttl, failed_set)
end
`;

/** Tasks taken from one lane before the fairest lane is chosen again. */
const LANE_CHUNK = 32;

/**
 * The claim step, shared by two scripts: lease up to N tasks from the lanes
 * the holder may take from (`lane_args`: lane, weight, limited function or
 * '', limit or 0, per lane). Within a lane, higher priorities first, then
 * the list, then lower priorities; across lanes, the lane with the least
 * virtual time (tasks taken ÷ weight) next, LANE_CHUNK at a time, and a
 * lane whose function is at its concurrency limit is passed over. The
 * default lane alone (the common case) is taken from directly. Ids whose
 * task is no longer QUEUED (cancelled, expired) are dropped; a task whose
 * deadline has passed fails instead of running. Expects locals `queue`,
 * `prio`, `lane_q_head`, `lane_p_head`, `running`, `vt_key`, `leases`,
 * `deadlines`, `failed_set`, `task_head`, `max`, `owner`, `now`, `expiry`,
 * `ttl`, `deadline_err`, `events`, `lane_args`, `floor_score`, and returns { drained,
 * the highest priority left for the holder or '', id1,
 * fn1, args1 or '' (its text is in bulk_args), attempt1, timeout1, created1,
 * deadline1 or '', priority1 or '', ... }, drained
 * being 1 when nothing the holder may take is left.
 */
const CLAIM_STEP = `
${FAIL_UNSTARTED_STEP}
${LANE_KEYS_STEP}
local out = {0, ''}
local expired = {}
local function take(id, cfn)
  local key = task_head .. id
  local f = redis.call('HMGET', key, 'status', 'fn', 'args', 'timeout', 'created', 'deadline', 'seq', 'prio')
  if f[1] ~= 'QUEUED' then return 0 end
  if f[6] then
    redis.call('ZREM', deadlines, id)
    if tonumber(f[6]) < tonumber(now) then
      fail_unstarted(key, id, deadline_err, f[7])
      expired[#expired + 1] = id
      return 0
    end
  end
  local attempt = redis.call('HINCRBY', key, 'attempts', 1)
  redis.call('HSET', key, 'status', 'RUNNING', 'started', now, 'owner', owner)
  redis.call('ZADD', leases, expiry, id)
  if cfn ~= '' then redis.call('HINCRBY', running, cfn, 1) end
  out[#out + 1] = id
  out[#out + 1] = f[2]
  -- No args: they are in bulk_args, which the caller reads with a plain HGET (never through Lua).
  out[#out + 1] = f[3] or ''
  out[#out + 1] = attempt
  out[#out + 1] = f[4]
  out[#out + 1] = f[5]
  out[#out + 1] = f[6] or ''
  out[#out + 1] = f[8] or ''
  return 1
end
-- Up to count ids off one lane (higher priorities, the list, lower ones);
-- returns how many ids left the lane and how many tasks were taken.
-- A claim with a floor (floor_score: the score of its lowest priority's first
-- seq past the last, exclusive) takes nothing of a lower priority.
local zero_allowed = floor_score == '' or tonumber(floor_score) > ${ZERO_SCORE}
local low_top = '+inf'
if floor_score ~= '' then low_top = '(' .. floor_score end
local high_top = '(${ZERO_SCORE}'
if not zero_allowed then high_top = '(' .. floor_score end
local function take_from(q, z, count, cfn)
  local popped, taken = 0, 0
  local has_prio = redis.call('ZCARD', z) > 0
  local function from_prio(low)
    if count - popped <= 0 then return end
    local range
    if low then
      if not zero_allowed then return end
      range = redis.call('ZRANGEBYSCORE', z, '(${ZERO_SCORE}', low_top, 'LIMIT', 0, count - popped)
    else
      range = redis.call('ZRANGEBYSCORE', z, '-inf', high_top, 'LIMIT', 0, count - popped)
    end
    if #range == 0 then return end
    redis.call('ZREM', z, unpack(range))
    popped = popped + #range
    for _, id in ipairs(range) do taken = taken + take(id, cfn) end
  end
  if has_prio then from_prio(false) end
  if count - popped > 0 and zero_allowed then
    local ids = redis.call('LPOP', q, count - popped)
    if ids then
      popped = popped + #ids
      for _, id in ipairs(ids) do taken = taken + take(id, cfn) end
    end
  end
  if has_prio then from_prio(true) end
  return popped, taken
end
local function has_work(q, z)
  return redis.call('LLEN', q) > 0 or redis.call('ZCARD', z) > 0
end
-- What is left: the highest priority a lane holds, and the reply's, over lanes.
local function lane_top(q, z)
  local first = redis.call('ZRANGE', z, 0, 0, 'WITHSCORES')
  local p = false
  if #first > 0 then p = ${PRIORITY_MAX} - math.floor(tonumber(first[2]) / ${SEQ_SPAN}) end
  if redis.call('LLEN', q) > 0 and (not p or p < 0) then p = 0 end
  return p
end
local function note_top(p)
  if p and (out[2] == '' or p > out[2]) then out[2] = p end
end
local n = #lane_args / 4
if n == 1 and lane_args[1] == '' then
  take_from(queue, prio, tonumber(max), '')
  if not has_work(queue, prio) then out[1] = 1 else note_top(lane_top(queue, prio)) end
else
  -- Room a lane has: what is left to take, less what its function's limit allows.
  local function room(i, left)
    local limit = tonumber(lane_args[i * 4])
    if limit == 0 then return left end
    local busy = tonumber(redis.call('HGET', running, lane_args[i * 4 - 1])) or 0
    return math.min(left, limit - busy)
  end
  local left = tonumber(max)
  local more = true
  -- Lanes that gave nothing this claim (all they hold is below its floor).
  local spent = {}
  while left > 0 and more do
    local best, best_vt, best_room = nil, 0, 0
    for i = 1, n do
      local q, z = lane_keys(lane_args[i * 4 - 3])
      if not spent[i] and has_work(q, z) then
        local r = room(i, left)
        if r > 0 then
          local vt = tonumber(redis.call('ZSCORE', vt_key, lane_args[i * 4 - 3])) or 0
          if not best or vt < best_vt then best, best_vt, best_room = i, vt, r end
        end
      end
    end
    if not best then
      more = false
    else
      local lane = lane_args[best * 4 - 3]
      local q, z = lane_keys(lane)
      local popped = take_from(q, z, math.min(best_room, ${LANE_CHUNK}), lane_args[best * 4 - 1])
      if popped == 0 then spent[best] = true end
      left = left - popped
      local vt = best_vt + popped / tonumber(lane_args[best * 4 - 2])
      redis.call('ZADD', vt_key, vt, lane)
      redis.call('SET', vt_now_key, vt)
    end
  end
  out[1] = 1
  for i = 1, n do
    local q, z = lane_keys(lane_args[i * 4 - 3])
    if has_work(q, z) and room(i, 1) > 0 then
      out[1] = 0
      note_top(lane_top(q, z))
    end
  end
end
if #expired > 0 then
  -- '*': every server, this one too, announces these outcomes from the channel.
  redis.call('PUBLISH', events, '* f ' .. table.concat(expired, ','))
end
deps_announce(events)
return out
`;

/**
 * claim: lease up to N tasks from the lanes a holder may take from.
 *   KEYS[1] queue, KEYS[2] leases, KEYS[3] prio, KEYS[4] deadlines, KEYS[5] failed set,
 *   KEYS[6] events channel
 *   ARGV[1] task key head, ARGV[2] max, ARGV[3] owner, ARGV[4] now (ms), ARGV[5] lease expiry (ms),
 *   ARGV[6] result TTL (s), ARGV[7] DeadlineExceededError JSON text, ARGV[8..13] lane locals,
 *   ARGV[14] '' or the floor: the `prio` score below which the lowest priority taken lies
 *   (claimFloor; a sharded store's claim of the shards that may hold higher priorities),
 *   ARGV[15..] lane args (lane, weight, function or '', limit or 0 per lane)
 */
export const CLAIM_LUA = `
local queue, leases, prio, deadlines, failed_set, events = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local task_head, max, owner, now, expiry = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local ttl, deadline_err = tonumber(ARGV[6]), ARGV[7]
${laneLocals(8)}
local floor_score = ARGV[14]
local lane_args = { unpack(ARGV, 15) }
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
 * A task with a lane (lanes.ts; row items 7 and 8: lane id or '', the
 * lane's concurrency limit or 0) goes to that lane's list or `prio`. A
 * ninth item, `dref`, marks a task with references (lua/dependencies.ts):
 * it is stored WAITING for them, or FAILED.
 * Expects locals `queue`, `prio`, `delayed`, `deadlines`, `index`, `seq_key`,
 * `task_head`, `idem_head`, `tasks_json`, `args_from`, `deadline`,
 * `idem_ttl`, `ttl`, `failed_set` and the lane locals; leaves `dups` = { position, existing id,
 * ... }, `stored` (how many were stored), `highest` (the highest priority
 * of a runnable one stored) and `any_priority` (one of them is not 0), `new_lanes` and `next_due` (the earliest run_at or
 * deadline stored, or false).
 */
const ENQUEUE_STEP = `
-- A task whose argument text is '' here has it in its hash's bulk_args already, written by a
-- plain HSET (with an expiry, in case this script never runs) in the same MULTI
-- (script-io.ts, BULK_ARGS_BYTES); a task this call does not store drops that hash.
local function bulk(i) return ARGV[args_from + i - 1] == '' end
local function drop_bulk(i, id) if bulk(i) then redis.call('DEL', task_head .. id) end end
local clock = redis.call('TIME')
if tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000) > tonumber(deadline) then
  for i, t in ipairs(cjson.decode(tasks_json)) do drop_bulk(i, t[1]) end
  return { -1 }
end
${PUSH_STEP}
${DEPS_FAIL_STEP}
${DEPS_RELEASE_STEP}
local deps_at = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local rows = cjson.decode(tasks_json)
local new_lanes = {}
local seq = redis.call('INCRBY', seq_key, #rows) - #rows
local listed = {}
local indexed = {}
local dups = {}
local stored = 0
-- The highest priority among the runnable tasks stored (nil: none), and whether one is not 0.
local highest = nil
local any_priority = false
local function runnable(p)
  if p ~= 0 then any_priority = true end
  if highest == nil or p > highest then highest = p end
end
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
    if existing ~= t[1] then drop_bulk(i, t[1]) end
  else
    local id = t[1]
    seq = seq + 1
    stored = stored + 1
    if bulk(i) then
      redis.call('PERSIST', task_head .. id)
      redis.call('HSET', task_head .. id, 'seq', seq, unpack(t[3]))
    else
      redis.call('HSET', task_head .. id, 'args', ARGV[args_from + i - 1], 'seq', seq, unpack(t[3]))
    end
    indexed[#indexed + 1] = seq
    indexed[#indexed + 1] = id
    local lane = t[7]
    if lane ~= '' then
      -- A new lane is announced, so that every server learns who may take from it.
      if redis.call('HSETNX', lanes_key, lane, t[8]) == 1 then new_lanes[#new_lanes + 1] = lane end
    end
    if t[9] and deps_hold(id, t[9], deps_at, ttl, failed_set) then
      -- It waits for its dependencies (lua/dependencies.ts), or failed at once with one.
    elseif t[5] ~= '' then
      redis.call('ZADD', delayed, t[5], id)
      due(t[5])
    elseif lane ~= '' then
      local q, z = lane_keys(lane)
      -- A lane that had nothing queued starts at the virtual time served last: no credit saved up.
      if redis.call('LLEN', q) == 0 and redis.call('ZCARD', z) == 0 then
        local vt = tonumber(redis.call('ZSCORE', vt_key, lane)) or 0
        local vt_now = tonumber(redis.call('GET', vt_now_key)) or 0
        if vt < vt_now then redis.call('ZADD', vt_key, vt_now, lane) end
      end
      push_queued(id, t[4], seq, false, lane)
      runnable(t[4])
    elseif t[4] ~= 0 then
      redis.call('ZADD', prio, prio_score(t[4], seq), id)
      runnable(t[4])
    else
      listed[#listed + 1] = id
      runnable(0)
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
-- One ZADD per 500 tasks: a call per task would cost more than the insert itself.
for i = 1, #indexed, 1000 do
  redis.call('ZADD', index, unpack(indexed, i, math.min(i + 999, #indexed)))
end
`;

/**
 * enqueue: store new tasks (see ENQUEUE_STEP).
 *   KEYS[1] queue, KEYS[2] events channel, KEYS[3] prio, KEYS[4] delayed, KEYS[5] deadlines,
 *   KEYS[6] index, KEYS[7] seq, KEYS[8] failed set
 *   ARGV[1] task key head, ARGV[2] idempotency key head, ARGV[3] tasks JSON (see ENQUEUE_STEP),
 *   ARGV[4] instance id, ARGV[5] deadline (ms, Redis clock), ARGV[6] idempotency key TTL (s),
 *   ARGV[7..12] lane locals, ARGV[13] result TTL (s), ARGV[14..] each task's argument text
 *   ('' when it is in bulk_args: see ENQUEUE_STEP)
 *   returns { #dups / 2, dups... } or { -1 } past the deadline; publishes "<instance> q"
 *   when tasks were stored and "<instance> w <ms>" with the earliest run_at or deadline
 */
export const ENQUEUE_LUA = `
local queue, prio, delayed, deadlines, index, seq_key = KEYS[1], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local task_head, idem_head, tasks_json = ARGV[1], ARGV[2], ARGV[3]
local deadline, idem_ttl, args_from = ARGV[5], ARGV[6], 14
local ttl, failed_set = tonumber(ARGV[13]), KEYS[8]
${laneLocals(7)}
${ENQUEUE_STEP}
deps_announce(KEYS[2])
for _, lane in ipairs(new_lanes) do redis.call('PUBLISH', KEYS[2], ARGV[4] .. ' l ' .. lane) end
if any_priority then redis.call('PUBLISH', KEYS[2], ARGV[4] .. ' q p ' .. highest)
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
 *   ARGV[12] DeadlineExceededError JSON text, ARGV[13..18] lane locals, ARGV[19] the claim's
 *   floor (as claim's ARGV[14]), ARGV[20] k, the number of lane arg items, ARGV[21..20+k]
 *   lane args (as claim's), then each task's argument text ('' when it is in bulk_args)
 *   returns { #dups / 2, dups..., then the claim reply } or { -1 } past the deadline
 */
export const ENQUEUE_CLAIM_LUA = `
local queue, leases, events = KEYS[1], KEYS[2], KEYS[3]
local prio, delayed, deadlines, index, seq_key, failed_set = KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local task_head, idem_head = ARGV[1], ARGV[2]
local max, owner, now, expiry = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local tasks_json, deadline, idem_ttl = ARGV[8], ARGV[9], ARGV[10]
local ttl, deadline_err = tonumber(ARGV[11]), ARGV[12]
${laneLocals(13)}
local lane_count = tonumber(ARGV[20])
local lane_args = { unpack(ARGV, 21, 20 + lane_count) }
local args_from = 21 + lane_count
${ENQUEUE_STEP}
deps_announce(events)
for _, lane in ipairs(new_lanes) do redis.call('PUBLISH', events, ARGV[7] .. ' l ' .. lane) end
if any_priority then redis.call('PUBLISH', events, ARGV[7] .. ' q p ' .. highest)
elseif stored > 0 then redis.call('PUBLISH', events, ARGV[7] .. ' q') end
if next_due then redis.call('PUBLISH', events, ARGV[7] .. ' w ' .. next_due) end
local floor_score = ARGV[19]
local claimed = (function()
${CLAIM_STEP}
end)()
local out = { #dups / 2 }
for _, v in ipairs(dups) do out[#out + 1] = v end
for _, v in ipairs(claimed) do out[#out + 1] = v end
return out
`;

/** The floor a claim gets to take only priorities of at least `priority` (ARGV[14] of CLAIM_LUA). */
export function claimFloor(priority: number | undefined): string {
  if (priority === undefined) return '';
  return String(BigInt(PRIORITY_MAX - priority + 1) * BigInt(SEQ_SPAN));
}

export { FAIL_UNSTARTED_STEP, FREE_SLOT_STEP, LANE_KEYS_STEP, PUSH_STEP };
