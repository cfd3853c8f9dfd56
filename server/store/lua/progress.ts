/**
 * progress: store what a running function reported, only while the task is
 * RUNNING under the same attempt (an earlier attempt's late update, or one
 * that arrives after the result, changes nothing).
 *   KEYS[1] the task key, KEYS[2] events channel
 *   ARGV[1] attempt, ARGV[2] JSON text of {value, note?, at}, ARGV[3] instance id, ARGV[4] id,
 *   ARGV[5] the progress field's name
 *   returns 1 when stored, else 0, and publishes "<instance> p <id> <json>" when stored
 */
export const PROGRESS_LUA = `
local f = redis.call('HMGET', KEYS[1], 'status', 'attempts')
if f[1] ~= 'RUNNING' or f[2] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], ARGV[5], ARGV[2])
redis.call('PUBLISH', KEYS[2], ARGV[3] .. ' p ' .. ARGV[4] .. ' ' .. ARGV[2])
return 1
`;
