/**
 * trim-index: drops the oldest index entries whose task expired (its result
 * TTL ran out), so the listing indexes shrink with the tasks they list and
 * Redis memory stays bounded by what is retained. Looks at the `limit`
 * oldest entries of each index; the reply says whether all of them were gone
 * (then more may be: call again soon).
 *   KEYS[1] index, KEYS[2] failed set
 *   ARGV[1] task key head, ARGV[2] limit
 *   returns { entries removed, 1 when every entry looked at was removed }
 */
export const TRIM_INDEX_LUA = `
local removed = 0
local all_gone = 1
for k = 1, 2 do
  local oldest = redis.call('ZRANGE', KEYS[k], 0, tonumber(ARGV[2]) - 1)
  local gone = {}
  for _, id in ipairs(oldest) do
    if redis.call('EXISTS', ARGV[1] .. id) == 0 then gone[#gone + 1] = id end
  end
  if #gone > 0 then redis.call('ZREM', KEYS[k], unpack(gone)) end
  if #gone < #oldest or #oldest == 0 then all_gone = 0 end
  removed = removed + #gone
end
return { removed, all_gone }
`;
