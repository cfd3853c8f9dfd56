/**
 * The ops console's script, second part (after dashboard-script.ts, in the
 * same <script>): the failed-task list, the task browser (filters and
 * cursor paging over GET /tasks), the functions list, a task's detail, and
 * the Retry and Cancel actions, each showing its outcome. Everything from
 * the server goes in as text. A String.raw, so a backslash is the page's
 * own; no backticks or template placeholders inside.
 */

export const DASHBOARD_TASKS_JS = String.raw`
const FAILED_LIMIT = 50;
const PAGE = 20;
const LIST_EVERY_MS = 3000;
const FUNCTIONS_EVERY_MS = 10000;
const DETAIL_EVERY_MS = 1000;
/** Arguments and results longer than this are cut in the detail (GET /task has them whole). */
const MAX_SHOWN = 20000;
const TERMINAL = ['COMPLETED', 'FAILED', 'CANCELLED'];
const RETRYABLE = ['FAILED', 'CANCELLED'];
const CANCELLABLE = ['QUEUED', 'WAITING', 'RUNNING'];
const functionNames = new Map();
let functionsReadAt = 0;
/** The browser's filters and place; seq drops a page that a newer request overtook. */
const browse = { status: '', fn: '', cursor: undefined, before: [], next: undefined, seq: 0 };
const detail = { id: undefined, timer: undefined };
const taskPath = (id) => '/task/' + encodeURIComponent(id);
function fnName(id) { return functionNames.get(id) || short(id); }
function runMs(task) {
  return task.started_at !== undefined && task.finished_at !== undefined ? task.finished_at - task.started_at : undefined;
}
const UUID_LIKE = /^[0-9a-f]{8}-[0-9a-f-]{27}$/i;
/** A worker's name in a list: a generated (UUID) id cut to 8 characters, a chosen one whole. */
function workerShort(id) { return UUID_LIKE.test(id) ? short(id) : id; }
/** The parts of a task's worker, '<server instance>/<worker id>'. */
function ownerParts(owner) {
  const slash = owner.indexOf('/');
  return slash < 0 ? { server: '', worker: owner } : { server: owner.slice(0, slash), worker: owner.slice(slash + 1) };
}
function workerCell(owner) {
  return el('td', { class: 'nowrap', title: owner || '' }, owner ? workerShort(ownerParts(owner).worker) : '–');
}
/** The detail's worker: its id, and the server it was connected to (the whole owner in the title). */
function workerDetail(owner) {
  if (!owner) return undefined;
  const { server, worker } = ownerParts(owner);
  return el('span', { title: owner }, worker + (server ? ' on server ' + short(server) : ''));
}
/** JSON text, indented when it parses; cut at MAX_SHOWN characters. */
function pretty(text) {
  let out = text;
  try { out = JSON.stringify(JSON.parse(text), null, 2); } catch { /* not JSON: as it came */ }
  return out.length > MAX_SHOWN ? out.slice(0, MAX_SHOWN) + '\n… ' + (out.length - MAX_SHOWN) + ' more characters' : out;
}
/** The {name, message, code?, stack?} of a FAILED task's result text. */
function errorOf(text) {
  try {
    const e = JSON.parse(text);
    if (e && typeof e === 'object') return e;
  } catch { /* not JSON */ }
  return { name: 'Error', message: String(text) };
}
/** A row that opens a task's detail on click or Enter; its buttons act without opening it. */
function taskRow(task, cells) {
  const tr = el('tr', { class: 'open', tabindex: 0, data: { task: task.task_id, status: task.status } }, ...cells);
  tr.onclick = (event) => { if (!event.target.closest('button')) openDetail(task.task_id); };
  tr.onkeydown = (event) => { if (event.key === 'Enter') openDetail(task.task_id); };
  return tr;
}

// Retry and Cancel: the button shows the new status, or show() the refusal.
async function act(kind, id, button, show) {
  button.disabled = true;
  try {
    const retry = kind === 'retry';
    const reply = await api(retry ? 'POST' : 'DELETE', retry ? taskPath(id) + '/retry' : taskPath(id));
    button.textContent = reply.status;
    show((retry ? 'retried: ' : 'cancelled: ') + reply.status, '');
    if (detail.id === id) refreshDetail();
    return reply;
  } catch (error) {
    button.disabled = false;
    show(kind + ' refused: ' + error.message, 'bad');
    return undefined;
  }
}
/** What a list's Retry or Cancel answered, by task id: shown again when the list is read anew. */
const outcomes = new Map();
const OUTCOME_KEPT_MS = 15000;
function actionCell(task) {
  const td = el('td', {});
  const note = el('span', { class: 'note' });
  const paint = (text, cls) => {
    note.textContent = ' ' + text;
    note.className = 'note ' + cls;
  };
  const show = (text, cls) => {
    paint(text, cls);
    outcomes.set(task.task_id, { text, cls, at: Date.now() });
  };
  const earlier = outcomes.get(task.task_id);
  if (earlier && Date.now() - earlier.at < OUTCOME_KEPT_MS) paint(earlier.text, earlier.cls);
  else outcomes.delete(task.task_id);
  if (RETRYABLE.includes(task.status)) {
    const b = el('button', { type: 'button', class: 'retry' }, 'Retry');
    b.onclick = () => act('retry', task.task_id, b, show);
    td.append(b);
  }
  if (CANCELLABLE.includes(task.status)) {
    const b = el('button', { type: 'button', class: 'cancel' }, 'Cancel');
    b.onclick = () => act('cancel', task.task_id, b, show);
    td.append(b);
  }
  td.append(note);
  return td;
}

// The failed tasks: the dead-letter view, newest first.
function lastError(task) {
  const last = task.errors && task.errors[task.errors.length - 1];
  return last ? last.name + ': ' + last.message : '';
}
function failedRow(task) {
  const error = el('td', { class: 'error' }, lastError(task));
  const button = el('button', { type: 'button', class: 'retry' }, 'Retry');
  const tr = taskRow(task, [el('td', { class: 'mono' }, task.task_id), cell(fnName(task.function_id)),
    cell(task.attempts), el('td', { class: 'nowrap' }, when(task.finished_at)), error, el('td', {}, button)]);
  button.onclick = async () => {
    // A refusal takes the error's place; a success shows on the button (and data-retried).
    const show = (text, cls) => { if (cls === 'bad') error.textContent = text; };
    const reply = await act('retry', task.task_id, button, show);
    if (reply) tr.dataset.retried = reply.status;
  };
  return tr;
}
async function loadFailed() {
  try {
    const page = await api('GET', '/tasks?status=FAILED&limit=' + FAILED_LIMIT);
    await namesFor(page.tasks);
    $('failed').replaceChildren(...page.tasks.map(failedRow));
    const more = page.next_cursor ? ' (the newest ' + FAILED_LIMIT + ')' : '';
    $('failed-note').textContent = page.tasks.length === 0 ? 'none' : page.tasks.length + more;
  } catch (error) {
    $('failed-note').textContent = 'unavailable: ' + error.message;
  }
}

// The task browser: GET /tasks with the filters, one page at a time.
function tasksPath() {
  const query = new URLSearchParams({ limit: String(PAGE) });
  if (browse.status) query.set('status', browse.status);
  if (browse.fn) query.set('function_id', browse.fn);
  if (browse.cursor) query.set('cursor', browse.cursor);
  return '/tasks?' + query.toString();
}
function browseRow(task) {
  const ms = runMs(task);
  return taskRow(task, [el('td', { class: 'mono', title: task.task_id }, short(task.task_id)),
    cell(fnName(task.function_id)), el('td', {}, badge(task.status)), cell(task.priority), cell(task.attempts),
    el('td', { class: 'nowrap' }, when(task.created_at)), cell(ms === undefined ? '–' : ms),
    workerCell(task.worker), actionCell(task)]);
}
async function loadTasks() {
  const seq = ++browse.seq;
  try {
    const page = await api('GET', tasksPath());
    await namesFor(page.tasks);
    if (seq !== browse.seq) return;
    browse.next = page.next_cursor;
    $('tasks').replaceChildren(...page.tasks.map(browseRow));
    const filters = [browse.status, browse.fn && fnName(browse.fn)].filter(Boolean).join(', ');
    $('tasks-note').textContent = 'page ' + (browse.before.length + 1) + ' · ' + page.tasks.length +
      (page.tasks.length === 1 ? ' task' : ' tasks') + (filters ? ' · ' + filters : '');
    $('tasks-newer').disabled = browse.before.length === 0;
    $('tasks-older').disabled = !browse.next;
  } catch (error) {
    if (seq === browse.seq) $('tasks-note').textContent = 'unavailable: ' + error.message;
  }
}
function setFilter(status, fn) {
  browse.status = status;
  browse.fn = fn;
  browse.cursor = undefined;
  browse.before = [];
  $('filter-status').value = status;
  ensureFunctionOption(fn);
  $('filter-function').value = fn;
  return loadTasks();
}
function pageOlder() {
  if (!browse.next) return;
  browse.before.push(browse.cursor);
  browse.cursor = browse.next;
  loadTasks();
}
function pageNewer() {
  if (browse.before.length === 0) return;
  browse.cursor = browse.before.pop();
  loadTasks();
}

// Functions: the list, and the function filter's options.
function ensureFunctionOption(id) {
  const select = $('filter-function');
  if (!id || [...select.options].some((o) => o.value === id)) return;
  select.append(el('option', { value: id }, fnName(id)));
}
function fillFunctionFilter(functions) {
  const select = $('filter-function');
  const chosen = select.value;
  select.replaceChildren(el('option', { value: '' }, 'any'),
    ...functions.map((f) => el('option', { value: f.function_id }, f.name + ' (' + short(f.function_id) + ')')));
  ensureFunctionOption(chosen);
  select.value = chosen;
}
function retryText(retry) {
  return retry ? retry.max_attempts + ' × ' + retry.backoff + ' ' + retry.delay_ms + ' ms' : '–';
}
function functionRow(f) {
  const show = el('button', { type: 'button', class: 'show-tasks' }, 'Tasks');
  const open = () => { setFilter(browse.status, f.function_id); $('tasks-title').scrollIntoView(); };
  show.onclick = open;
  const tr = el('tr', { class: 'open', tabindex: 0, data: { function: f.function_id } }, cell(f.name),
    el('td', { class: 'mono', title: f.function_id }, short(f.function_id)), cell(when(f.created_at)),
    cell(f.labels ? f.labels.join(', ') : '–'), cell(f.concurrency === undefined ? '–' : f.concurrency),
    cell(f.timeout_ms === undefined ? '–' : f.timeout_ms + ' ms'), cell(retryText(f.retry)), el('td', {}, show));
  tr.onclick = (event) => { if (!event.target.closest('button')) open(); };
  tr.onkeydown = (event) => { if (event.key === 'Enter') open(); };
  return tr;
}
/** Tasks of a function registered since the list was read: read it again (at most every 2 s). */
async function namesFor(tasks) {
  const unknown = tasks.some((t) => !functionNames.has(t.function_id));
  if (unknown && Date.now() - functionsReadAt > 2000) await loadFunctions();
}
async function loadFunctions() {
  functionsReadAt = Date.now();
  try {
    const reply = await api('GET', '/functions');
    functionNames.clear();
    for (const f of reply.functions) functionNames.set(f.function_id, f.name);
    $('functions').replaceChildren(...reply.functions.map(functionRow));
    $('functions-note').textContent = reply.functions.length === 0 ? 'none' : String(reply.functions.length);
    fillFunctionFilter(reply.functions);
  } catch (error) {
    $('functions-note').textContent = 'unavailable: ' + error.message;
  }
}

// A task's detail: every field GET /task/:id has, refreshed while it is not finished.
function idButton(id) {
  const b = el('button', { type: 'button', class: 'link mono' }, short(id));
  b.onclick = () => openDetail(id);
  return b;
}
function functionLink(id) {
  const b = el('button', { type: 'button', class: 'link' }, fnName(id) + ' (' + short(id) + ')');
  b.onclick = () => { setFilter('', id); $('tasks-title').scrollIntoView(); };
  return b;
}
function progressText(p) {
  return Math.round(p.value * 100) + '%' + (p.note ? ' · ' + p.note : '') + ' (at ' + when(p.at) + ')';
}
/** [field, label, value] of a task, the value text or a node; absent ones left out. */
function detailFields(task) {
  const ms = runMs(task);
  const wait = task.started_at === undefined ? undefined : task.started_at - task.created_at;
  return [
    ['status', 'Status', badge(task.status)],
    ['function', 'Function', functionLink(task.function_id)],
    ['priority', 'Priority', task.priority],
    ['labels', 'Labels', task.labels && task.labels.join(', ')],
    ['attempts', 'Attempts', task.attempts],
    ['worker', 'Worker', workerDetail(task.worker)],
    ['progress', 'Progress', task.progress && progressText(task.progress)],
    ['waiting_for', 'Waiting for', task.waiting_for],
    ['depends_on', 'Depends on', task.depends_on && el('span', {}, ...task.depends_on.map(idButton))],
    ['created', 'Created', when(task.created_at)],
    ['run_at', 'Runs at', task.run_at === undefined ? undefined : when(task.run_at)],
    ['deadline', 'Deadline', task.deadline_at === undefined ? undefined : when(task.deadline_at)],
    ['started', 'Started', task.started_at === undefined ? undefined : when(task.started_at)],
    ['finished', 'Finished', task.finished_at === undefined ? undefined : when(task.finished_at)],
    ['wait_ms', 'Queue wait', wait === undefined ? undefined : wait + ' ms'],
    ['run_ms', 'Run', ms === undefined ? undefined : ms + ' ms'],
  ].filter((f) => f[2] !== undefined && f[2] !== '');
}
function renderOutcome(task) {
  const failed = task.status === 'FAILED' && task.result !== undefined;
  const completed = task.status === 'COMPLETED' && task.result !== undefined;
  $('detail-result-box').hidden = !completed;
  $('detail-result').textContent = completed ? pretty(task.result) : '';
  $('detail-error-box').hidden = !failed;
  const error = failed ? errorOf(task.result) : undefined;
  $('detail-error').textContent = error ? error.name + (error.code ? ' [' + error.code + ']' : '') + ': ' + error.message : '';
  $('detail-stack').textContent = error && error.stack ? error.stack : '(no stack)';
  const errors = task.errors || [];
  $('detail-errors-box').hidden = errors.length === 0;
  $('detail-errors').replaceChildren(...errors.map((e) => el('li', {}, 'attempt ' + e.attempt + ': ' + e.name + ': ' + e.message)));
}
function renderDetail(task) {
  $('detail').dataset.status = task.status;
  $('detail-id').textContent = task.task_id;
  $('detail-fields').replaceChildren(...detailFields(task).flatMap(([field, label, value]) =>
    [el('dt', {}, label), el('dd', { data: { field } }, value)]));
  $('detail-args').textContent = task.args === undefined ? '(not given by this server)' : pretty(task.args);
  renderOutcome(task);
  $('detail-retry').disabled = !RETRYABLE.includes(task.status);
  $('detail-cancel').disabled = !CANCELLABLE.includes(task.status);
  $('detail-retry').textContent = 'Retry';
  $('detail-cancel').textContent = 'Cancel';
}
async function refreshDetail() {
  clearTimeout(detail.timer);
  const id = detail.id;
  if (!id) return;
  try {
    const task = await api('GET', taskPath(id));
    if (detail.id !== id) return;
    renderDetail(task);
    if (!TERMINAL.includes(task.status)) detail.timer = setTimeout(refreshDetail, DETAIL_EVERY_MS);
  } catch (error) {
    if (detail.id === id) showDetailOutcome('unavailable: ' + error.message, 'bad');
  }
}
function showDetailOutcome(text, cls) {
  $('detail-outcome').textContent = text;
  $('detail-outcome').className = 'note ' + cls;
}
function openDetail(id) {
  detail.id = id;
  delete $('detail').dataset.status;
  $('detail-id').textContent = id;
  $('detail-fields').replaceChildren();
  showDetailOutcome('', '');
  $('detail').hidden = false;
  return refreshDetail();
}
function closeDetail() {
  detail.id = undefined;
  clearTimeout(detail.timer);
  $('detail').hidden = true;
}

async function start() {
  showTokenState();
  $('forget-token').onclick = forgetToken;
  $('detail-close').onclick = closeDetail;
  document.addEventListener('keydown', (event) => { if (event.key === 'Escape') closeDetail(); });
  $('detail-retry').onclick = () => act('retry', detail.id, $('detail-retry'), showDetailOutcome);
  $('detail-cancel').onclick = () => act('cancel', detail.id, $('detail-cancel'), showDetailOutcome);
  $('filter-status').onchange = () => setFilter($('filter-status').value, browse.fn);
  $('filter-function').onchange = () => setFilter(browse.status, $('filter-function').value);
  $('tasks-refresh').onclick = () => { loadFunctions(); loadTasks(); loadFailed(); };
  $('tasks-older').onclick = pageOlder;
  $('tasks-newer').onclick = pageNewer;
  // The first call asks for the token if the grid needs one; the rest then carry it.
  await loadFunctions();
  connect();
  every(LIST_EVERY_MS, loadFailed);
  every(LIST_EVERY_MS, loadTasks);
  setTimeout(() => every(FUNCTIONS_EVERY_MS, loadFunctions), FUNCTIONS_EVERY_MS);
}
`;
