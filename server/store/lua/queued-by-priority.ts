import { PRIORITY_MAX, SEQ_SPAN } from './claim.js';

/**
 * queued-by-priority: how many QUEUED tasks each priority has, over every
 * lane (the ops console's queue view, read with the dashboard's stats at
 * most once a second, never per task). A lane's list holds priority 0; its
 * `prio` ZSET scores a task (PRIORITY_MAX - priority) * SEQ_SPAN + seq, so
 * each priority is one band of scores: the script jumps from the lowest
 * score left to the end of its band, one ZRANGEBYSCORE and one ZCOUNT per
 * priority present, O(log n) each, whatever the queue's length.
 *   KEYS pairs, one per lane: its list, its `prio` ZSET
 *   returns { priority, count, ... } for each priority with QUEUED tasks, in no order
 */
export const QUEUED_BY_PRIORITY_LUA = `
local span, top = ${SEQ_SPAN}, ${PRIORITY_MAX}
local counts = {}
local function add(p, n)
  if n > 0 then counts[p] = (counts[p] or 0) + n end
end
-- Scores up to 2^53 as exact decimal text (tostring would round them to 14 digits).
local function score_text(x) return string.format('%.0f', x) end
for i = 1, #KEYS, 2 do
  add(0, redis.call('LLEN', KEYS[i]))
  local z = KEYS[i + 1]
  local from = '-inf'
  while true do
    local first = redis.call('ZRANGEBYSCORE', z, from, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
    if #first == 0 then break end
    local band = math.floor(tonumber(first[2]) / span)
    local after = score_text((band + 1) * span)
    add(top - band, redis.call('ZCOUNT', z, score_text(band * span), '(' .. after))
    from = after
  end
end
local out = {}
for p, n in pairs(counts) do
  out[#out + 1] = p
  out[#out + 1] = n
end
return out
`;
