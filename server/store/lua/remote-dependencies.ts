import { laneLocals, PUSH_STEP } from './claim.js';
import { DEPS_FAIL_STEP, DEPS_RELEASE_STEP } from './dependencies.js';

/**
 * Dependencies across shards, on a store sharded over a Redis Cluster. A
 * script touches one shard's slot, so a task that waits for a task of
 * another shard waits on a copy of it in its own shard: a hash under the
 * dependency's id with `status` REMOTE, which the dependency scripts
 * (lua/dependencies.ts) treat as any unfinished task. Messages carry the
 * rest, each through the sender's outbox (a LIST in its slot), relayed by
 * one server at a time (server/store/shard-relay.ts), at least once; every
 * step below is idempotent, so a message relayed twice changes nothing more.
 *
 * 1. proxy, on the dependent's shard, before its submit, with the
 *    dependency's state read just before: a copy that is missing, or ended
 *    FAILED or CANCELLED (the dependency may have been retried since), takes
 *    that state when it is an end (so the submit resolves at once, as on one
 *    Redis), or becomes REMOTE and `w <id> <this shard>` goes out; a
 *    dependency that is gone leaves no copy (the submit fails it as expired).
 * 2. watch, on the dependency's shard: an ended (or gone) dependency sends
 *    `r <id> <shard>` at once; else the shard joins its REMOTE_SUFFIX set and
 *    the dependency is flagged, so that its end sends `r …` (deps_remote).
 *    A FAILED or CANCELLED end is named in the message (`r <id> <shard>
 *    FAILED`): the dependency may be retried, and even complete, before the
 *    message is relayed, and its dependents must still fail, as on one Redis.
 * 3. settle, on the dependent's shard, with the end the message names, else
 *    the outcome read when `r` was relayed: the copy takes it (and the result
 *    TTL), and its dependents are released or failed there, as a local
 *    dependency's end does.
 */

/**
 *   KEYS[1] outbox, KEYS[2] events channel
 *   ARGV[1] task key head, ARGV[2] this shard's number, ARGV[3] result TTL (s, 0 = keep),
 *   ARGV[4..] triples: a dependency's id, and its status and result as read just before
 *   in its own shard ('' when it is gone)
 *   returns how many watch messages went out
 */
export const PROXY_LUA = `
local sent = 0
local ttl = tonumber(ARGV[3])
for i = 4, #ARGV, 3 do
  local id, status, result = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local key = ARGV[1] .. id
  local s = redis.call('HGET', key, 'status')
  if not s or s == 'FAILED' or s == 'CANCELLED' then
    redis.call('DEL', key)
    if status == 'COMPLETED' or status == 'FAILED' or status == 'CANCELLED' then
      -- Ended already: the copy is final at once, and the submit resolves against it.
      redis.call('HSET', key, 'status', status, 'result', result)
      if ttl > 0 then redis.call('EXPIRE', key, ttl) end
    elseif status ~= '' then
      redis.call('HSET', key, 'status', 'REMOTE')
      redis.call('RPUSH', KEYS[1], 'w ' .. id .. ' ' .. ARGV[2])
      sent = sent + 1
    end
  end
end
if sent > 0 then redis.call('PUBLISH', KEYS[2], '* o') end
return sent
`;

/**
 *   KEYS[1] outbox, KEYS[2] events channel
 *   ARGV[1] task key head, ARGV[2] the REMOTE_SUFFIX, ARGV[3..] pairs: dependency id, waiting shard
 *   returns how many outcome messages went out at once
 */
export const WATCH_LUA = `
local sent = 0
for i = 3, #ARGV, 2 do
  local id, shard = ARGV[i], ARGV[i + 1]
  local key = ARGV[1] .. id
  local s = redis.call('HGET', key, 'status')
  if not s or s == 'COMPLETED' or s == 'FAILED' or s == 'CANCELLED' then
    local tail = ''
    if s == 'FAILED' or s == 'CANCELLED' then tail = ' ' .. s end
    redis.call('RPUSH', KEYS[1], 'r ' .. id .. ' ' .. shard .. tail)
    sent = sent + 1
  else
    redis.call('SADD', key .. ARGV[2], shard)
    redis.call('HSET', key, 'dependents', 1)
  end
end
if sent > 0 then redis.call('PUBLISH', KEYS[2], '* o') end
return sent
`;

/**
 *   KEYS[1] events channel, KEYS[2] failed set, KEYS[3] delayed, KEYS[4] queue, KEYS[5] prio
 *   ARGV[1] task key head, ARGV[2] dependency id, ARGV[3] its status ('' when it is gone),
 *   ARGV[4] its result (COMPLETED), ARGV[5] now (ms), ARGV[6] result TTL (s, 0 = keep),
 *   ARGV[7] function key head, ARGV[8..13] lane args (laneLocals)
 *   returns 1 when the copy took the outcome, 0 when it had already
 */
export const SETTLE_LUA = `
local task_head, queue, prio = ARGV[1], KEYS[4], KEYS[5]
${laneLocals(8)}
${PUSH_STEP}
${DEPS_FAIL_STEP}
${DEPS_RELEASE_STEP}
local id, status = ARGV[2], ARGV[3]
local key = task_head .. id
local f = redis.call('HMGET', key, 'status', 'dependents')
if f[1] ~= 'REMOTE' then return 0 end
local now, ttl = tonumber(ARGV[5]), tonumber(ARGV[6])
if status == 'COMPLETED' then
  redis.call('HSET', key, 'status', 'COMPLETED', 'result', ARGV[4])
  if ttl > 0 then redis.call('EXPIRE', key, ttl) end
  if f[2] then release_dependents(id, now, ttl, KEYS[2], KEYS[3], ARGV[7]) end
else
  local how = 'expired'
  if status == 'FAILED' then how = 'failed' elseif status == 'CANCELLED' then how = 'cancelled' end
  if how == 'expired' then
    redis.call('DEL', key)
  else
    redis.call('HSET', key, 'status', status)
    if ttl > 0 then redis.call('EXPIRE', key, ttl) end
  end
  fail_dependents(id, how, now, ttl, KEYS[2])
end
deps_announce(KEYS[1])
return 1
`;

/**
 * The first messages of a shard's outbox, for the caller to relay, once it
 * holds the shard's relay lock (taken or renewed here).
 *   KEYS[1] outbox, KEYS[2] relay lock; ARGV[1] instance id, ARGV[2] lock ms, ARGV[3] max
 */
export const OUTBOX_TAKE_LUA = `
if redis.call('LLEN', KEYS[1]) == 0 then return {} end
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[1] then return {} end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[3]) - 1)
`;

/**
 * Drops the first `count` messages, relayed, while the caller still holds the lock.
 *   KEYS[1] outbox, KEYS[2] relay lock; ARGV[1] instance id, ARGV[2] count
 */
export const OUTBOX_DONE_LUA = `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('LTRIM', KEYS[1], tonumber(ARGV[2]), -1)
redis.call('DEL', KEYS[2])
return 1
`;
