/** Which tasks `grid.tasks()` lists, checked once, and the GET /tasks query string it becomes. */

import { choiceOption, intOption, objectOption, textOption } from '../shared/options.js';
import { TASK_PAGE_LIMIT } from '../shared/task-info.js';
import { TASK_STATUSES, type TaskStatus } from '../shared/types.js';

/** Which tasks `grid.tasks()` lists, newest first. */
export interface TaskFilter {
  status?: TaskStatus;
  functionId?: string;
  /** Tasks per page, 1…1000; the server's default (100) when absent. */
  limit?: number;
  /** The `nextCursor` of the page before. */
  cursor?: string;
}

const FILTER_KEYS = ['status', 'functionId', 'limit', 'cursor'] as const;

/** A filter, checked (a fresh object); throws OptionError naming the field at fault. */
export function taskFilter(value: unknown): TaskFilter {
  const given = objectOption('filter', value, FILTER_KEYS);
  const filter: TaskFilter = {};
  if (given.status !== undefined)
    filter.status = choiceOption('status', given.status, TASK_STATUSES);
  if (given.functionId !== undefined)
    filter.functionId = textOption('functionId', given.functionId);
  if (given.limit !== undefined)
    filter.limit = intOption('limit', given.limit, 1, TASK_PAGE_LIMIT.max);
  if (given.cursor !== undefined) filter.cursor = textOption('cursor', given.cursor);
  return filter;
}

/** GET /tasks's query string for a filter (checked first), `?` included when not empty. */
export function taskQuery(value: unknown): string {
  const filter = taskFilter(value);
  const query = new URLSearchParams();
  if (filter.status !== undefined) query.set('status', filter.status);
  if (filter.functionId !== undefined) query.set('function_id', filter.functionId);
  if (filter.limit !== undefined) query.set('limit', String(filter.limit));
  if (filter.cursor !== undefined) query.set('cursor', filter.cursor);
  const text = query.toString();
  return text ? `?${text}` : '';
}
