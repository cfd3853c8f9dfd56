/**
 * The schedule endpoints (POST /schedules, GET /schedules,
 * DELETE /schedule/:schedule_id), mounted beside the REST API; bodies are
 * parsed here and the ScheduleService does the rest.
 */

import { Router } from 'express';
import type { ScheduleService } from '../schedules/schedule-service.js';
import type { ScheduleRecord } from '../store/schedule-store.js';
import { callerTenant } from './auth.js';
import { parseScheduleBody, type ScheduleView } from './schedule-schemas.js';

export function schedulesApi(schedules: ScheduleService): Router {
  const router = Router({ strict: false });

  router.post('/schedules', async (req, res) => {
    const created = await schedules.create(parseScheduleBody(req.body), callerTenant(req));
    res.status(201).json({ schedule_id: created.id, next_run_at: created.next_run_at });
  });

  router.get('/schedules', async (req, res) => {
    res.json({ schedules: (await schedules.list(callerTenant(req))).map(scheduleView) });
  });

  router.delete('/schedule/:schedule_id', async (req, res) => {
    await schedules.delete(req.params.schedule_id, callerTenant(req));
    res.json({ schedule_id: req.params.schedule_id, deleted: true });
  });

  return router;
}

/** A schedule as the API shows it: its tenant is the caller's, and not shown. */
function scheduleView(s: ScheduleRecord): ScheduleView {
  const { id, tenant, ...rest } = s;
  return { schedule_id: id, ...rest };
}
