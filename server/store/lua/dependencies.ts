/**
 * Results as arguments, in the scripts that end tasks: an element
 * `{"$task": id}` of a task's argument array makes it wait (WAITING) for
 * that task, and run with the element replaced by its result.
 *
 * What is kept (besides the record's `deps`, the ids of `depends_on`):
 * - on the dependent's hash, `dref`: `<id> <start> <end> ...`, where each
 *   reference sits in `args` (UTF-8 bytes, from 0, end excluded), in order;
 *   and `dwait`: how many dependencies have not COMPLETED, present only
 *   while it waits for them;
 * - on a dependency's hash, `dependents` = 1 once some task waits for it,
 *   so that the complete script looks for dependents only then (the common
 *   task costs nothing more); and a SET of those tasks' ids beside its hash
 *   (RedisKeys.dependents), deleted when it ends.
 *
 * Release happens in the script that stores a dependency's result, on
 * whichever server: each waiting dependent's `dwait` drops by one; at zero
 * its `args` are rebuilt by splicing the dependencies' result texts (JSON
 * text of the values, kept as is) in place of the references, byte for
 * byte, never decoding JSON (cjson would re-encode numbers), and it goes
 * where its priority says (`push_queued`), or to `delayed` when its own
 * `run_at` is still ahead; or CANCELLED, when its function was deleted
 * while it waited. A retry-policy retry of a dependency (WAITING again)
 * touches nothing here: only a terminal outcome does.
 *
 * A dependency that ends FAILED or CANCELLED (or whose result expired
 * before the last one came) fails each waiting dependent with
 * DependencyFailedError, and their dependents in turn, walking a stack
 * rather than recursing, in the same script.
 *
 * On a store sharded over a cluster, dependents in other shards wait on a
 * copy of the dependency in their own shard (lua/remote-dependencies.ts):
 * the dependency keeps the numbers of those shards in a SET beside its hash
 * (REMOTE_SUFFIX), and when it ends, these scripts put one message per shard
 * in their own shard's outbox (`r <id> <shard>`, with ` FAILED` or
 * ` CANCELLED` after it for such an end) and publish `* o`; a relay
 * on some server carries the outcome over. On one Redis the SET never exists.
 */

import { DependencyFailedError } from '../../../shared/errors.js';
import { DEPENDENTS_SUFFIX, OUTBOX_AFTER_HEAD, REMOTE_SUFFIX } from '../redis-keys.js';

/** Stands for the dependency's id in the error templates. */
const ID_MARK = 'DEPENDENCY_ID_MARK';

function template(how: 'failed' | 'cancelled' | 'expired'): string {
  // Long brackets: JSON text needs no escaping there (it never holds `]==]`).
  return `[==[${JSON.stringify(new DependencyFailedError(ID_MARK, how).toData())}]==]`;
}

/**
 * Lua: failing dependents, and the events of what this script did to
 * dependents. Expects local `task_head`. Defines `fail_dependents(root,
 * how, at, ttl, failed_set)` (`how`: 'failed', 'cancelled' or 'expired'),
 * `deps_fail_one` and `deps_announce(events)`, which the script calls
 * once, before it returns.
 */
export const DEPS_FAIL_STEP = `
local deps_ended = {}
local deps_queued = 0
local deps_highest = false
local deps_any_priority = false
local deps_due = false
local deps_outbox = false
local deps_templates = { failed = ${template('failed')}, cancelled = ${template('cancelled')}, expired = ${template('expired')} }
local function deps_set(id) return task_head .. id .. '${DEPENDENTS_SUFFIX}' end
local function deps_error(dep, how)
  return (string.gsub(deps_templates[how], '${ID_MARK}', dep, 1))
end
local function deps_fail_one(id, err, at, ttl, failed_set)
  local key = task_head .. id
  local seq = redis.call('HGET', key, 'seq')
  redis.call('HSET', key, 'status', 'FAILED', 'result', err, 'finished', at)
  redis.call('HDEL', key, 'dwait')
  redis.call('ZADD', failed_set, tonumber(seq) or 0, id)
  if ttl > 0 then redis.call('EXPIRE', key, ttl) end
  deps_ended[#deps_ended + 1] = id
end
-- Dependents in other shards (a sharded store) hear of the end through the outbox.
-- A failure or cancel is named in the message: the dependency may be retried (and
-- complete) before the message is relayed, and its dependents must fail as here.
local deps_remote_ends = { failed = ' FAILED', cancelled = ' CANCELLED' }
local function deps_remote(id, how)
  local set = task_head .. id .. '${REMOTE_SUFFIX}'
  local shards = redis.call('SMEMBERS', set)
  if #shards == 0 then return end
  redis.call('DEL', set)
  local tail = deps_remote_ends[how or ''] or ''
  for _, shard in ipairs(shards) do
    redis.call('RPUSH', task_head .. '${OUTBOX_AFTER_HEAD}', 'r ' .. id .. ' ' .. shard .. tail)
  end
  deps_outbox = true
end
local function fail_dependents(root, how, at, ttl, failed_set)
  local stack = { root, how }
  while #stack > 0 do
    local ended_how = table.remove(stack)
    local dep = table.remove(stack)
    deps_remote(dep, ended_how)
    local set = deps_set(dep)
    local waiting = redis.call('SMEMBERS', set)
    if #waiting > 0 then
      redis.call('DEL', set)
      local err = deps_error(dep, ended_how)
      for _, id in ipairs(waiting) do
        local f = redis.call('HMGET', task_head .. id, 'status', 'dwait')
        if f[1] == 'WAITING' and f[2] then
          deps_fail_one(id, err, at, ttl, failed_set)
          stack[#stack + 1] = id
          stack[#stack + 1] = 'failed'
        end
      end
    end
  end
end
local function deps_announce(events)
  -- '*': every server, this one too, hears these from the channel.
  for i = 1, #deps_ended, 500 do
    redis.call('PUBLISH', events, '* f ' .. table.concat(deps_ended, ',', i, math.min(i + 499, #deps_ended)))
  end
  -- As a submit says it: the highest priority released, when one is not 0.
  if deps_any_priority then redis.call('PUBLISH', events, '* q p ' .. deps_highest)
  elseif deps_queued > 0 then redis.call('PUBLISH', events, '* q') end
  if deps_due then redis.call('PUBLISH', events, '* w ' .. deps_due) end
  if deps_outbox then redis.call('PUBLISH', events, '* o') end
end
`;

/**
 * Lua: holding new tasks and releasing them. Expects DEPS_FAIL_STEP and
 * PUSH_STEP before it (and their locals, the lane ones too). Defines `deps_hold(id, dref, at,
 * ttl, failed_set)` for a task being stored with references: true when it
 * now waits (WAITING) or failed at once (a dependency already FAILED,
 * CANCELLED or gone), false when every dependency had COMPLETED: its args
 * are built and the caller queues it as any task. And `deps_settle(id,
 * status, at, ttl, failed_set, delayed, fn_head)` for a task that just
 * ended: a dependent whose function was deleted while it waited is
 * CANCELLED instead of released.
 */
export const DEPS_RELEASE_STEP = `
local function deps_args(key)
  local f = redis.call('HMGET', key, 'args', 'dref')
  local args = f[1]
  local out = {}
  local pos = 1
  for dep, s, e in string.gmatch(f[2] or '', '(%S+) (%d+) (%d+)') do
    local r = redis.call('HMGET', task_head .. dep, 'status', 'result')
    if r[1] ~= 'COMPLETED' or not r[2] then return false, dep end
    out[#out + 1] = string.sub(args, pos, tonumber(s))
    out[#out + 1] = r[2]
    pos = tonumber(e) + 1
  end
  out[#out + 1] = string.sub(args, pos)
  return table.concat(out)
end
local function deps_ready(id, key, at, ttl, failed_set)
  local args, gone = deps_args(key)
  if not args then
    deps_fail_one(id, deps_error(gone, 'expired'), at, ttl, failed_set)
    fail_dependents(id, 'failed', at, ttl, failed_set)
    return false
  end
  redis.call('HSET', key, 'args', args)
  redis.call('HDEL', key, 'dref', 'dwait')
  return true
end
local function deps_hold(id, dref, at, ttl, failed_set)
  local key = task_head .. id
  redis.call('HSET', key, 'dref', dref)
  local seen = {}
  local pending = {}
  for dep in string.gmatch(dref, '(%S+) %d+ %d+') do
    if not seen[dep] then
      seen[dep] = true
      local s = redis.call('HGET', task_head .. dep, 'status')
      if not s or s == 'FAILED' or s == 'CANCELLED' then
        local how = 'expired'
        if s == 'FAILED' then how = 'failed' elseif s == 'CANCELLED' then how = 'cancelled' end
        deps_fail_one(id, deps_error(dep, how), at, ttl, failed_set)
        return true
      end
      if s ~= 'COMPLETED' then pending[#pending + 1] = dep end
    end
  end
  if #pending == 0 then return not deps_ready(id, key, at, ttl, failed_set) end
  for _, dep in ipairs(pending) do
    redis.call('SADD', deps_set(dep), id)
    redis.call('HSET', task_head .. dep, 'dependents', 1)
  end
  redis.call('HSET', key, 'status', 'WAITING', 'dwait', #pending)
  return true
end
local function release_dependents(root, at, ttl, failed_set, delayed, fn_head)
  deps_remote(root, 'completed')
  local set = deps_set(root)
  local waiting = redis.call('SMEMBERS', set)
  redis.call('DEL', set)
  local ready = {}
  for _, id in ipairs(waiting) do
    local key = task_head .. id
    local f = redis.call('HMGET', key, 'status', 'dwait', 'prio', 'seq', 'run_at', 'lane', 'fn')
    if f[1] == 'WAITING' and f[2] then
      local left = redis.call('HINCRBY', key, 'dwait', -1)
      if left > 0 then
        -- It still waits for another dependency.
      elseif redis.call('EXISTS', fn_head .. f[7]) == 0 then
        -- Its function was deleted while it waited: cancelled, as the delete cancels what waits.
        redis.call('HSET', key, 'status', 'CANCELLED', 'finished', at)
        redis.call('HDEL', key, 'dwait')
        if ttl > 0 then redis.call('EXPIRE', key, ttl) end
        deps_ended[#deps_ended + 1] = id
        fail_dependents(id, 'cancelled', at, ttl, failed_set)
      elseif deps_ready(id, key, at, ttl, failed_set) then
        f[2] = id
        ready[#ready + 1] = f
      end
    end
  end
  -- In submit order (a SET has none), so released tasks keep FIFO within a priority.
  table.sort(ready, function(x, y) return (tonumber(x[4]) or 0) < (tonumber(y[4]) or 0) end)
  for _, f in ipairs(ready) do
    local id = f[2]
    local run_at = tonumber(f[5])
    if run_at and run_at > tonumber(at) then
      redis.call('ZADD', delayed, run_at, id)
      if not deps_due or run_at < deps_due then deps_due = run_at end
    else
      redis.call('HSET', task_head .. id, 'status', 'QUEUED')
      push_queued(id, f[3], f[4], false, f[6])
      deps_queued = deps_queued + 1
      local p = tonumber(f[3]) or 0
      if p ~= 0 then deps_any_priority = true end
      if not deps_highest or p > deps_highest then deps_highest = p end
    end
  end
end
local function deps_settle(id, status, at, ttl, failed_set, delayed, fn_head)
  if status == 'COMPLETED' then release_dependents(id, at, ttl, failed_set, delayed, fn_head)
  elseif status == 'CANCELLED' then fail_dependents(id, 'cancelled', at, ttl, failed_set)
  else fail_dependents(id, 'failed', at, ttl, failed_set) end
end
`;
