import { FREE_SLOT_STEP, PUSH_STEP } from './claim.js';
import { DEPS_FAIL_STEP, DEPS_RELEASE_STEP } from './dependencies.js';

/**
 * complete: apply outcomes to RUNNING tasks of the same attempt (the attempt
 * fences late duplicates: the first terminal result wins). A FAILED outcome
 * of a task with a retry policy and runs left does not finish it: the task
 * waits out its backoff (WAITING, in `delayed`), keeping the error under
 * `e<attempt>`. A finished task keeps `owner`, who ran it (GET /task's
 * `worker`); one that waits to run again loses it until its next lease.
 * Runs are attempts minus leases handed back uncounted. A terminal outcome
 * of a task that others wait for releases or fails them (lua/dependencies.ts).
 *   KEYS[1] leases, KEYS[2] events channel, KEYS[3] delayed, KEYS[4] failed set,
 *   KEYS[5] running counts of limited functions (see lanes.ts), KEYS[6] queue, KEYS[7] prio
 *   ARGV[1] task key head, ARGV[2] now (ms), ARGV[3] result TTL (s, 0 = keep), ARGV[4] instance id
 *   ARGV[5] outcomes as ONE argument, JSON text of [[id, attempt, status, run_ms, final 0|1], ...]
 *   (final: no retry, e.g. a deadline that passed before the task started)
 *   ARGV[6..] each outcome's value (JSON text of the result or error), in the same order: moved
 *   into the hash, never decoded, as the enqueue scripts do with arguments; then the
 *   function key head and the lane list and `prio` key heads (the last three items)
 *   returns { finished ids..., '|', retried ids... }; publishes "<instance> f <id,id,...>" and,
 *   for retries, "* w <earliest run_at>"
 */
export const COMPLETE_LUA = `
local running = KEYS[5]
local task_head, queue, prio = ARGV[1], KEYS[6], KEYS[7]
local fn_head, lane_q_head, lane_p_head = ARGV[#ARGV - 2], ARGV[#ARGV - 1], ARGV[#ARGV]
${PUSH_STEP}
${DEPS_FAIL_STEP}
${DEPS_RELEASE_STEP}
${FREE_SLOT_STEP}
local applied = {}
local retried = {}
local now = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local next_due = false
for i, o in ipairs(cjson.decode(ARGV[5])) do
  local id = o[1]
  local key = ARGV[1] .. id
  local f = redis.call('HMGET', key, 'status', 'attempts', 'r_max', 'released', 'r_backoff', 'r_delay', 'r_max_delay', 'seq', 'lane', 'dependents')
  if f[1] == 'RUNNING' and tonumber(f[2]) == o[2] then
    free_slot(f[9])
    local runs = tonumber(f[2]) - (tonumber(f[4]) or 0)
    redis.call('ZREM', KEYS[1], id)
    if o[3] == 'FAILED' and o[5] ~= 1 and f[3] and runs < tonumber(f[3]) then
      redis.call('HDEL', key, 'owner')
      local wait = tonumber(f[6])
      if f[5] == 'exponential' then wait = wait * 2 ^ (runs - 1) end
      if f[7] and wait > tonumber(f[7]) then wait = tonumber(f[7]) end
      local at = now + math.floor(wait)
      redis.call('HSET', key, 'status', 'WAITING', 'e' .. o[2], ARGV[5 + i], 'run_ms', o[4], 'run_at', at)
      redis.call('HDEL', key, 'progress')
      redis.call('ZADD', KEYS[3], at, id)
      if not next_due or at < next_due then next_due = at end
      retried[#retried + 1] = id
    else
      if o[3] == 'CANCELLED' then
        redis.call('HSET', key, 'status', 'CANCELLED', 'run_ms', o[4], 'finished', now)
      else
        redis.call('HSET', key, 'status', o[3], 'result', ARGV[5 + i], 'run_ms', o[4], 'finished', now)
        if o[3] == 'FAILED' then redis.call('ZADD', KEYS[4], tonumber(f[8]) or 0, id) end
      end
      if ttl > 0 then redis.call('EXPIRE', key, ttl) end
      applied[#applied + 1] = id
      if f[10] then deps_settle(id, o[3], now, ttl, KEYS[4], KEYS[3], fn_head) end
    end
  end
end
if #applied > 0 then
  redis.call('PUBLISH', KEYS[2], ARGV[4] .. ' f ' .. table.concat(applied, ','))
end
-- '*': this server's lifecycle timer must hear it too.
if next_due then redis.call('PUBLISH', KEYS[2], '* w ' .. next_due) end
-- A limited function has room again: whoever waits for it should look.
if freed then redis.call('PUBLISH', KEYS[2], '* q') end
deps_announce(KEYS[2])
applied[#applied + 1] = '|'
for _, id in ipairs(retried) do applied[#applied + 1] = id end
return applied
`;
