/**
 * schedule-advance: the compare-and-set that makes a schedule's fire happen
 * once across servers. Only the caller that finds next_run_at still at the
 * slot it saw moves it on, and leases the fire until its task is stored.
 *   KEYS[1] the schedule's hash, KEYS[2] schedules by next run, KEYS[3] fire leases
 *   ARGV[1] schedule id, ARGV[2] slot (ms), ARGV[3] next slot (ms), ARGV[4] fired at (ms),
 *   ARGV[5] next-run field, ARGV[6] last-run field, ARGV[7] lease end (ms), ARGV[8] fire member
 *   returns 1 when this call advanced it, 0 when the schedule is gone or was advanced already
 */
export const SCHEDULE_ADVANCE_LUA = `
if redis.call('HGET', KEYS[1], ARGV[5]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[5], ARGV[3], ARGV[6], ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[7], ARGV[8])
return 1
`;

/**
 * schedule-retake: takes over a fire whose lease ended (its server died
 * between winning the slot and storing the task). Drops the fire instead
 * when its schedule was deleted meanwhile.
 *   KEYS[1] the schedule's hash, KEYS[2] fire leases
 *   ARGV[1] fire member, ARGV[2] now (ms), ARGV[3] new lease end (ms), ARGV[4] next-run field
 *   returns 1 when this call took it over, else 0
 */
export const SCHEDULE_RETAKE_LUA = `
local lease = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not lease or tonumber(lease) > tonumber(ARGV[2]) then return 0 end
if redis.call('HEXISTS', KEYS[1], ARGV[4]) == 0 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
`;

/**
 * schedule-finish: ends a fire: drops its lease and notes the task it
 * submitted, unless the schedule was deleted meanwhile (an HSET alone would
 * bring back a partial hash).
 *   KEYS[1] the schedule's hash, KEYS[2] fire leases
 *   ARGV[1] fire member, ARGV[2] next-run field (in every schedule), ARGV[3] last-task field,
 *   ARGV[4] task id, or empty when the fire stored none
 *   returns 1 when the task was recorded, else 0
 */
export const SCHEDULE_FINISH_LUA = `
redis.call('ZREM', KEYS[2], ARGV[1])
if ARGV[4] == '' or redis.call('HEXISTS', KEYS[1], ARGV[2]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[3], ARGV[4])
return 1
`;
