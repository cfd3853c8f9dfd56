/**
 * The live dashboard served at GET /: workers and their load, queue depth,
 * and throughput and latency over the last five minutes, fed by the server
 * over /ws/client (one stats message a second); and the failed tasks (GET
 * /tasks?status=FAILED, the dead-letter view, read every few seconds) with
 * each one's error and a Retry button (POST /task/:id/retry). The page sends
 * the `?token=` it was opened with as a bearer header. Text from the server
 * (task errors are the task's own words) is set as text, never as HTML.
 * Plain HTML, CSS and SVG: no build step, nothing fetched from elsewhere.
 */

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>taskgrid</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  :root { font-family: system-ui, sans-serif; color: #1d2430; background: #f6f7f9; }
  body { margin: 0; padding: 24px; }
  h1 { margin: 0 0 4px; font-size: 22px; }
  .sub { color: #667; margin-bottom: 20px; }
  .cards { display: grid; grid-template-columns: repeat(4, minmax(140px, 1fr)); gap: 12px; margin-bottom: 16px; }
  .card { background: white; border-radius: 8px; padding: 14px 16px; box-shadow: 0 1px 2px #0001; }
  .card .label { color: #667; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
  .card .value { font-size: 28px; font-variant-numeric: tabular-nums; margin-top: 4px; }
  .charts { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; margin-bottom: 16px; }
  svg { width: 100%; height: 160px; background: white; border-radius: 8px; box-shadow: 0 1px 2px #0001; }
  table { width: 100%; border-collapse: collapse; background: white; border-radius: 8px; box-shadow: 0 1px 2px #0001; }
  th, td { text-align: left; padding: 8px 12px; border-bottom: 1px solid #eef; font-variant-numeric: tabular-nums; }
  th { font-size: 12px; color: #667; text-transform: uppercase; }
  .bar { height: 8px; background: #4c78a8; border-radius: 4px; }
  #status.down { color: #b33; }
  h2 { font-size: 16px; margin: 24px 0 8px; display: flex; gap: 12px; align-items: center; }
  button { font: inherit; font-size: 13px; padding: 3px 10px; border: 1px solid #c8cdd6; border-radius: 6px; background: white; cursor: pointer; }
  button:disabled { cursor: default; color: #99a; }
  .error { color: #a33; font-family: ui-monospace, monospace; font-size: 13px; word-break: break-word; }
  .note { color: #667; font-size: 13px; font-weight: normal; }
</style>
</head>
<body>
<h1>taskgrid</h1>
<div class="sub">mode <b id="mode">…</b> · <span id="status">connecting…</span></div>
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
<table>
  <thead><tr><th>Worker</th><th>Address</th><th>Tenant</th><th>Threads</th><th>In flight</th><th>Load</th><th>Completed</th></tr></thead>
  <tbody id="workers"></tbody>
</table>
<table id="tenants-table" hidden>
  <thead><tr><th>Tenant</th><th>Submitted</th><th>Completed</th><th>Failed</th><th>Cancelled</th></tr></thead>
  <tbody id="tenants"></tbody>
</table>
<h2>Failed tasks <span class="note" id="failed-note">loading…</span></h2>
<table>
  <thead><tr><th>Task</th><th>Function</th><th>Attempts</th><th>Finished</th><th>Error</th><th></th></tr></thead>
  <tbody id="failed"></tbody>
</table>
<script>
  const HISTORY = 300;
  const rate = [], latency = [];
  const $ = (id) => document.getElementById(id);
  function draw(svg, values, color) {
    const max = Math.max(1, ...values);
    const step = 600 / (HISTORY - 1);
    const offset = HISTORY - values.length;
    const points = values.map((v, i) => ((offset + i) * step).toFixed(1) + ',' + (155 - (v / max) * 145).toFixed(1)).join(' ');
    svg.innerHTML = '<text x="6" y="14" font-size="12" fill="#667">max ' + Math.round(max) + '</text>' +
      '<polyline fill="none" stroke="' + color + '" stroke-width="2" points="' + points + '"/>';
  }
  function cell(text) { const td = document.createElement('td'); td.textContent = text; return td; }
  function render(s) {
    $('mode').textContent = s.mode;
    $('queue').textContent = s.queue_depth;
    $('workers-count').textContent = s.workers.length;
    $('rate').textContent = Math.round(s.completed_per_s);
    $('latency').textContent = s.latency_p50_ms + ' / ' + s.latency_p95_ms;
    rate.push(s.completed_per_s); latency.push(s.latency_p50_ms);
    if (rate.length > HISTORY) { rate.shift(); latency.shift(); }
    draw($('chart-rate'), rate, '#4c78a8');
    draw($('chart-latency'), latency, '#f58518');
    const body = $('workers');
    body.replaceChildren(...s.workers.map((w) => {
      const tr = document.createElement('tr');
      tr.dataset.worker = w.id;
      const load = document.createElement('td');
      const bar = document.createElement('div');
      bar.className = 'bar';
      bar.style.width = Math.min(100, (100 * w.in_flight) / Math.max(1, w.threads * 4)) + '%';
      load.append(bar);
      tr.append(cell(w.id.slice(0, 8)), cell(w.address), cell(w.tenant || 'any'), cell(w.threads), cell(w.in_flight), load, cell(w.completed));
      return tr;
    }));
    // With a tokens file the server counts tasks by tenant (this server's counts since it started).
    $('tenants-table').hidden = !s.tenants;
    $('tenants').replaceChildren(...(s.tenants || []).map((t) => {
      const tr = document.createElement('tr');
      tr.dataset.tenant = t.tenant;
      tr.append(cell(t.tenant), cell(t.submitted), cell(t.completed), cell(t.failed), cell(t.cancelled));
      return tr;
    }));
  }
  const token = new URLSearchParams(location.search).get('token');
  const auth = token ? { authorization: 'Bearer ' + token } : {};
  const FAILED_LIMIT = 50, FAILED_EVERY_MS = 3000;
  async function api(method, path) {
    const res = await fetch(path, { method, headers: auth });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error((body.error && body.error.message) || method + ' ' + path + ' answered ' + res.status);
    return body;
  }
  // Error text per task and attempt: a task that lists none has its only error in its result.
  const errorTexts = new Map();
  async function errorText(task) {
    const key = task.task_id + '/' + task.attempts;
    if (errorTexts.has(key)) return errorTexts.get(key);
    const last = task.errors && task.errors[task.errors.length - 1];
    let text = last ? last.name + ': ' + last.message : '';
    if (!last) {
      try {
        const error = JSON.parse((await api('GET', '/task/' + encodeURIComponent(task.task_id))).result);
        text = error.name + ': ' + error.message;
      } catch { text = ''; }
    }
    if (errorTexts.size > 1000) errorTexts.clear();
    errorTexts.set(key, text);
    return text;
  }
  async function retry(task, button, row) {
    button.disabled = true;
    try {
      const reply = await api('POST', '/task/' + encodeURIComponent(task.task_id) + '/retry');
      row.dataset.retried = reply.status;
      button.textContent = reply.status;
    } catch (error) {
      button.disabled = false;
      row.querySelector('.error').textContent = 'retry refused: ' + error.message;
    }
  }
  async function loadFailed() {
    try {
      const page = await api('GET', '/tasks?status=FAILED&limit=' + FAILED_LIMIT);
      const texts = await Promise.all(page.tasks.map(errorText));
      $('failed').replaceChildren(...page.tasks.map((task, i) => {
        const tr = document.createElement('tr');
        tr.dataset.task = task.task_id;
        const error = cell(texts[i]);
        error.className = 'error';
        const action = document.createElement('td');
        const button = document.createElement('button');
        button.textContent = 'Retry';
        button.onclick = () => retry(task, button, tr);
        action.append(button);
        const finished = task.finished_at ? new Date(task.finished_at).toLocaleString() : '–';
        tr.append(cell(task.task_id), cell(task.function_id.slice(0, 8)), cell(task.attempts), cell(finished), error, action);
        return tr;
      }));
      const more = page.next_cursor ? ' (the newest ' + FAILED_LIMIT + ')' : '';
      $('failed-note').textContent = page.tasks.length === 0 ? 'none' : page.tasks.length + more;
    } catch (error) {
      $('failed-note').textContent = 'unavailable: ' + error.message;
    }
  }
  async function pollFailed() {
    if (!document.hidden) await loadFailed();
    setTimeout(pollFailed, FAILED_EVERY_MS);
  }
  pollFailed();
  function connect() {
    const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws/client' + (token ? '?token=' + encodeURIComponent(token) : '');
    const ws = new WebSocket(url);
    ws.onopen = () => { $('status').textContent = 'live'; $('status').className = ''; ws.send(JSON.stringify({ type: 'watch' })); };
    ws.onmessage = (event) => { const m = JSON.parse(event.data); if (m.type === 'stats') render(m); };
    ws.onclose = () => { $('status').textContent = 'disconnected, retrying…'; $('status').className = 'down'; setTimeout(connect, 1000); };
  }
  connect();
</script>
</body>
</html>
`;
