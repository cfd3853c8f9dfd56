/**
 * The ops console's script, first part: DOM helpers that only ever set text,
 * the token (asked for once, kept in sessionStorage, asked again on a 401),
 * the REST helper that sends it, and the live part fed by the /ws/client
 * stats message (cards, charts, workers, queue by priority, tenants).
 * dashboard-tasks.ts follows it in the same <script>; dashboard.ts calls
 * `start()`. Plain browser JavaScript in a template string: no
 * backslashes (dashboard-tasks.ts, which needs them, is a String.raw),
 * backticks or template placeholders inside.
 */

export const DASHBOARD_CORE_JS = `
const $ = (id) => document.getElementById(id);
const SVG_NS = 'http://www.w3.org/2000/svg';
const HISTORY = 300;
const TOKEN_KEY = 'taskgrid.token';

/** An element with attributes and children; strings become text nodes, never HTML. */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === 'class') node.className = value;
    else if (key === 'data') Object.assign(node.dataset, value);
    else if (key.startsWith('on')) node[key] = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child !== undefined && child !== null) node.append(typeof child === 'object' ? child : String(child));
  }
  return node;
}
function cell(text) { return el('td', {}, text); }
function two(n) { return String(n).padStart(2, '0'); }
/** Local time, to the second: 2024-05-01 13:04:05. */
function when(ms) {
  if (ms === undefined) return '–';
  const d = new Date(ms);
  return d.getFullYear() + '-' + two(d.getMonth() + 1) + '-' + two(d.getDate()) + ' ' +
    two(d.getHours()) + ':' + two(d.getMinutes()) + ':' + two(d.getSeconds());
}
function badge(status) { return el('span', { class: 'badge ' + status }, status); }
function short(id) { return String(id).slice(0, 8); }

// The token: from ?token= (then dropped from the address bar) or this tab's session storage.
let token = takeUrlToken() || sessionStorage.getItem(TOKEN_KEY) || '';
let asking = null;
function takeUrlToken() {
  const params = new URLSearchParams(location.search);
  const given = params.get('token');
  if (!given) return '';
  sessionStorage.setItem(TOKEN_KEY, given);
  params.delete('token');
  const rest = params.toString();
  history.replaceState(null, '', location.pathname + (rest ? '?' + rest : '') + location.hash);
  return given;
}
function showTokenState() { $('token-state').hidden = !token; }
/** Shows the token form (once, however many requests were refused) until one is given. */
function askToken(reason) {
  if (asking) return asking;
  asking = new Promise((resolve) => {
    $('token-why').textContent = reason;
    $('token-input').value = '';
    $('token-dialog').hidden = false;
    $('token-input').focus();
    $('token-form').onsubmit = (event) => {
      event.preventDefault();
      token = $('token-input').value;
      sessionStorage.setItem(TOKEN_KEY, token);
      $('token-dialog').hidden = true;
      asking = null;
      showTokenState();
      resolve();
    };
  });
  return asking;
}
function forgetToken() {
  token = '';
  sessionStorage.removeItem(TOKEN_KEY);
  location.reload();
}

/** A REST call with the bearer token; a 401 asks for the token and tries again. */
async function api(method, path) {
  for (;;) {
    const headers = token ? { authorization: 'Bearer ' + token } : {};
    const res = await fetch(path, { method, headers });
    if (res.status === 401) {
      await askToken(token ? 'The grid refused that token: enter it again.' : 'This grid needs a token.');
      continue;
    }
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error((body.error && body.error.message) || method + ' ' + path + ' answered ' + res.status);
    return body;
  }
}
/** Runs fn now and then every ms while the tab is visible; fn handles its own errors. */
function every(ms, fn) {
  const tick = async () => {
    if (!document.hidden) await fn();
    setTimeout(tick, ms);
  };
  tick();
}

// The live part: one stats message a second over /ws/client.
const rate = [];
const latency = [];
function svgNode(tag, attrs, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}
function draw(svg, values, color) {
  const max = Math.max(1, ...values);
  const step = 600 / (HISTORY - 1);
  const offset = HISTORY - values.length;
  const points = values.map((v, i) => ((offset + i) * step).toFixed(1) + ',' + (155 - (v / max) * 145).toFixed(1)).join(' ');
  svg.replaceChildren(
    svgNode('text', { x: 6, y: 14, 'font-size': 12, fill: '#667' }, 'max ' + Math.round(max)),
    svgNode('polyline', { fill: 'none', stroke: color, 'stroke-width': 2, points }),
  );
}
function loadBar(fraction) {
  const bar = el('div', { class: 'bar' });
  bar.style.width = Math.min(100, Math.max(0, 100 * fraction)) + '%';
  return el('td', {}, bar);
}
function workerRow(w) {
  const labels = w.labels && w.labels.length > 0 ? w.labels.join(', ') : '–';
  const name = short(w.id) + (w.draining ? ' (draining)' : '');
  const tr = el('tr', { data: { worker: w.id }, class: w.draining ? 'draining' : '', title: w.id },
    cell(name), cell(w.address), cell(w.tenant || 'any'), cell(labels), cell(w.threads), cell(w.in_flight),
    loadBar(w.in_flight / Math.max(1, w.threads * 4)), cell(w.completed));
  return tr;
}
function renderPriorities(counts) {
  const max = Math.max(1, ...counts.map((c) => c.queued));
  $('priorities').replaceChildren(...counts.map((c) => el('tr', { data: { priority: c.priority } },
    cell(c.priority > 0 ? '+' + c.priority : c.priority), cell(c.queued), loadBar(c.queued / max))));
  $('priorities-note').textContent = counts.length === 0 ? 'empty' : counts.length + (counts.length === 1 ? ' level' : ' levels');
}
function renderTenants(tenants) {
  // With a tokens file the server counts tasks by tenant (this server's counts since it started).
  $('tenants-table').hidden = !tenants;
  $('tenants').replaceChildren(...(tenants || []).map((t) => el('tr', { data: { tenant: t.tenant } },
    cell(t.tenant), cell(t.submitted), cell(t.completed), cell(t.failed), cell(t.cancelled))));
}
function renderStats(s) {
  $('mode').textContent = s.mode;
  $('queue').textContent = s.queue_depth;
  $('workers-count').textContent = s.workers.length;
  $('rate').textContent = Math.round(s.completed_per_s);
  $('latency').textContent = s.latency_p50_ms + ' / ' + s.latency_p95_ms;
  rate.push(s.completed_per_s);
  latency.push(s.latency_p50_ms);
  if (rate.length > HISTORY) { rate.shift(); latency.shift(); }
  draw($('chart-rate'), rate, '#4c78a8');
  draw($('chart-latency'), latency, '#f58518');
  $('workers').replaceChildren(...s.workers.map(workerRow));
  if (s.queue_by_priority) renderPriorities(s.queue_by_priority);
  renderTenants(s.tenants);
}
function setStatus(text, className) {
  $('status').textContent = text;
  $('status').className = className;
}
function connect() {
  const base = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws/client';
  // A browser cannot put a header on a WebSocket: the token goes as ?token=, which the server also reads.
  const ws = new WebSocket(token ? base + '?token=' + encodeURIComponent(token) : base);
  let opened = false;
  ws.onopen = () => {
    opened = true;
    setStatus('live', '');
    ws.send(JSON.stringify({ type: 'watch' }));
  };
  ws.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.type === 'stats') renderStats(message);
  };
  ws.onclose = () => {
    setStatus('disconnected, retrying…', 'down');
    // Refused before it opened: if for the token, a REST call asks for it before the next try.
    const check = opened ? Promise.resolve() : api('GET', '/workers?limit=1').catch(() => {});
    check.then(() => setTimeout(connect, 1000));
  };
}
`;
