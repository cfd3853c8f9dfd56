/**
 * The ops console served at GET /, one page: workers with their labels and
 * load, queue depth and the queue by priority, throughput and latency over
 * the last five minutes, fed by the server over /ws/client (one stats
 * message a second); the failed tasks (GET /tasks?status=FAILED, the
 * dead-letter view); a task browser (GET /tasks, filtered by status and
 * function, paged with its cursor); each task's detail (GET /task/:id:
 * arguments, result or error with stack, attempts, timings, worker) with
 * Retry and Cancel; and the functions (GET /functions), each a click away
 * from its tasks.
 *
 * The page loads without a token (it holds no data); when the grid answers
 * 401 it asks for one, keeps it in sessionStorage and sends it as a bearer
 * header on every request (a `?token=` it was opened with is taken the
 * same way and dropped from the address bar). Text from the server (task
 * arguments, results and errors are the user's own) is set as text, never
 * as HTML. Plain HTML, CSS, SVG and script: no build step, nothing fetched
 * from elsewhere. The script is in dashboard-script.ts and
 * dashboard-tasks.ts, the stylesheet in dashboard-style.ts.
 */

import { DASHBOARD_CORE_JS } from './dashboard-script.js';
import { DASHBOARD_CSS } from './dashboard-style.js';
import { DASHBOARD_TASKS_JS } from './dashboard-tasks.js';

const STATUS_OPTIONS = ['QUEUED', 'WAITING', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED']
  .map((s) => `<option value="${s}">${s}</option>`)
  .join('');

const BODY = `
<h1>taskgrid</h1>
<div class="sub">mode <b id="mode">…</b> · <span id="status">connecting…</span>
  <span id="token-state" hidden>· token set <button id="forget-token" type="button">Forget token</button></span></div>
<div class="cards">
  <div class="card"><div class="label">Queue depth</div><div class="value" id="queue">0</div></div>
  <div class="card"><div class="label">Workers</div><div class="value" id="workers-count">0</div></div>
  <div class="card"><div class="label">Completed / s</div><div class="value" id="rate">0</div></div>
  <div class="card"><div class="label">Latency p50 / p95 (ms)</div><div class="value" id="latency">–</div></div>
</div>
<div class="charts">
  <div><div class="label">Throughput, last 5 min (tasks/s)</div><svg id="chart-rate" viewBox="0 0 600 160" preserveAspectRatio="none"></svg></div>
  <div><div class="label">Latency p50, last 5 min (ms)</div><svg id="chart-latency" viewBox="0 0 600 160" preserveAspectRatio="none"></svg></div>
</div>
<div class="row">
  <div>
    <h2>Workers</h2>
    <table>
      <thead><tr><th>Worker</th><th>Address</th><th>Tenant</th><th>Labels</th><th>Threads</th><th>In flight</th><th>Load</th><th>Completed</th></tr></thead>
      <tbody id="workers"></tbody>
    </table>
  </div>
  <div>
    <h2>Queue by priority <span class="note" id="priorities-note">…</span></h2>
    <table>
      <thead><tr><th>Priority</th><th>Queued</th><th></th></tr></thead>
      <tbody id="priorities"></tbody>
    </table>
  </div>
</div>
<table id="tenants-table" hidden>
  <thead><tr><th>Tenant</th><th>Submitted</th><th>Completed</th><th>Failed</th><th>Cancelled</th></tr></thead>
  <tbody id="tenants"></tbody>
</table>
<h2>Failed tasks <span class="note" id="failed-note">loading…</span></h2>
<table>
  <thead><tr><th>Task</th><th>Function</th><th>Attempts</th><th>Finished</th><th>Error</th><th></th></tr></thead>
  <tbody id="failed"></tbody>
</table>
<h2 id="tasks-title">Tasks <span class="note" id="tasks-note">loading…</span></h2>
<div class="toolbar">
  <label>Status <select id="filter-status"><option value="">any</option>${STATUS_OPTIONS}</select></label>
  <label>Function <select id="filter-function"><option value="">any</option></select></label>
  <button id="tasks-refresh" type="button">Refresh</button>
  <span class="spacer"></span>
  <button id="tasks-newer" type="button" disabled>← Newer</button>
  <button id="tasks-older" type="button" disabled>Older →</button>
</div>
<table>
  <thead><tr><th>Task</th><th>Function</th><th>Status</th><th>Priority</th><th>Attempts</th><th>Created</th><th>Run ms</th><th>Worker</th><th></th></tr></thead>
  <tbody id="tasks"></tbody>
</table>
<h2>Functions <span class="note" id="functions-note">loading…</span></h2>
<table>
  <thead><tr><th>Name</th><th>Function</th><th>Created</th><th>Labels</th><th>Concurrency</th><th>Timeout</th><th>Retry</th><th></th></tr></thead>
  <tbody id="functions"></tbody>
</table>
<aside id="detail" hidden aria-label="Task detail">
  <h2><span>Task <span class="mono" id="detail-id"></span></span><button id="detail-close" type="button">Close</button></h2>
  <div class="actions">
    <button id="detail-retry" type="button">Retry</button>
    <button id="detail-cancel" type="button">Cancel</button>
    <span class="note" id="detail-outcome"></span>
  </div>
  <dl id="detail-fields"></dl>
  <h3>Arguments</h3>
  <pre id="detail-args"></pre>
  <section id="detail-result-box" hidden><h3>Result</h3><pre id="detail-result"></pre></section>
  <section id="detail-error-box" hidden>
    <h3>Error</h3>
    <div class="error" id="detail-error"></div>
    <pre id="detail-stack"></pre>
  </section>
  <section id="detail-errors-box" hidden><h3>Errors by attempt</h3><ol id="detail-errors"></ol></section>
</aside>
<div id="token-dialog" hidden>
  <form id="token-form">
    <h2>Token</h2>
    <div class="note" id="token-why">This grid needs a token.</div>
    <input id="token-input" type="password" autocomplete="off" required aria-label="Token">
    <button type="submit">Use token</button>
    <div class="note">Kept in this tab's session storage only.</div>
  </form>
</div>`;

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>taskgrid</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${DASHBOARD_CSS}</style>
</head>
<body>
${BODY}
<script>
'use strict';
${DASHBOARD_CORE_JS}
${DASHBOARD_TASKS_JS}
start();
</script>
</body>
</html>
`;
