import { LANE_KEYS_STEP, laneLocals } from './claim.js';

/**
 * discard: undo an enqueue whose caller was told it failed (its reply came
 * after the server had answered 503). The tasks are removed as if never
 * stored, and so are their idempotency keys, so a retry stores them afresh;
 * except a task whose key a retry already repeated (`acked`): that client
 * holds its id now, so it stays.
 *   KEYS[1] queue, KEYS[2] leases, KEYS[3] prio, KEYS[4] delayed, KEYS[5] deadlines, KEYS[6] index
 *   ARGV[1] task key head, ARGV[2] idempotency key head, ARGV[3..8] lane locals,
 *   ARGV[9..] pairs: id, idempotency key or ''
 */
export const DISCARD_LUA = `
local queue, prio = KEYS[1], KEYS[3]
${laneLocals(3)}
${LANE_KEYS_STEP}
for i = 9, #ARGV, 2 do
  local id, idem = ARGV[i], ARGV[i + 1]
  local key = ARGV[1] .. id
  local f = redis.call('HMGET', key, 'acked', 'lane')
  if f[1] ~= '1' then
    redis.call('DEL', key)
    local q, z = lane_keys(f[2])
    redis.call('LREM', q, 1, id)
    redis.call('ZREM', z, id)
    for k = 2, 6 do redis.call('ZREM', KEYS[k], id) end
    if idem ~= '' and redis.call('GET', ARGV[2] .. idem) == id then
      redis.call('DEL', ARGV[2] .. idem)
    end
  end
end
return 0
`;
