/**
 * list-tasks: one page of GET /tasks, newest first, from an index ZSET
 * scored by `seq` (every task, or the dead-letter set of FAILED ones).
 * Entries whose task expired are trimmed on the way. A page stops at `limit`
 * matches or after `scan` entries, whichever comes first, so a filter that
 * matches little never blocks Redis; the cursor then resumes the scan.
 *   KEYS[1] the index
 *   ARGV[1] task key head, ARGV[2] cursor (a seq: list below it) or '', ARGV[3] limit,
 *   ARGV[4] status or '', ARGV[5] function id or '', ARGV[6] scan cap,
 *   ARGV[7] tenant, '' for tasks stored without one (`default`); absent: any tenant
 *   returns { next cursor or '', id, seq, created, id, seq, created... } (seq and created: what
 *   a sharded store merges its shards' pages by)
 */
export const LIST_TASKS_LUA = `
local head, limit, status, fn, cap = ARGV[1], tonumber(ARGV[3]), ARGV[4], ARGV[5], tonumber(ARGV[6])
local tenant = ARGV[7]
local top = '+inf'
if ARGV[2] ~= '' then top = '(' .. ARGV[2] end
local ids = {}
local scanned = 0
local last = false
local done = false
while #ids < limit * 3 and scanned < cap do
  local page = redis.call('ZREVRANGEBYSCORE', KEYS[1], top, '-inf', 'WITHSCORES', 'LIMIT', 0, math.min(200, cap - scanned))
  if #page == 0 then done = true break end
  for i = 1, #page, 2 do
    local id = page[i]
    scanned = scanned + 1
    last = page[i + 1]
    local f = redis.call('HMGET', head .. id, 'status', 'fn', 'tenant', 'created')
    if not f[1] then
      redis.call('ZREM', KEYS[1], id)
    elseif (status == '' or f[1] == status) and (fn == '' or f[2] == fn)
        and (tenant == nil or (f[3] or '') == tenant) then
      ids[#ids + 1] = id
      ids[#ids + 1] = page[i + 1]
      ids[#ids + 1] = f[4] or '0'
      if #ids == limit * 3 then break end
    end
  end
  top = '(' .. last
end
local cursor = ''
if not done and last then cursor = last end
local out = { cursor }
for _, id in ipairs(ids) do out[#out + 1] = id end
return out
`;
