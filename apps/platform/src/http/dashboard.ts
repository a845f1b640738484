import type { CacheStats } from '@cacheport/cache-core'
import type { SessionUser } from '../auth/users.js'
import type { CopyrightItem, Faculty } from '../domain.js'
import { WORKFLOW_FILTERS } from '../domain.js'
import type { ItemPage } from '../services/item-query-service.js'
import { escapeHtml } from './html.js'

/** What the server renders the dashboard from; the script then keeps it current. */
export interface DashboardState {
  filter: { status: string; faculty: string; search: string; page: number; perPage: number }
  page: ItemPage
  faculties: Faculty[]
  caches: Record<string, CacheStats & { status: string }>
  backend: string
  /** The instance's name, shown in the header so that two tabs on two instances are told apart. */
  instance?: string | undefined
  /** Who is signed in: admins also see the upload form and the cache clear buttons. */
  user: SessionUser
  /** The session's CSRF token, sent back in `X-CSRF-Token` on every state-changing request. */
  csrfToken: string
}

const TAB_LABELS: Record<string, string> = {
  All: 'All',
  ToDo: 'To do',
  InProgress: 'In progress',
  Done: 'Done',
}

function fileExistsCell(item: CopyrightItem): string {
  const state = item.fileExists === null ? 'unknown' : item.fileExists ? 'exists' : 'missing'
  const text = { unknown: 'not checked', exists: 'exists', missing: 'missing' }[state]
  return `<span class="fe fe-${state}" data-testid="file-exists-${item.materialId}">${text}</span> <button type="button" class="link check-file" data-id="${item.materialId}">check</button>`
}

function row(item: CopyrightItem): string {
  return `<tr data-testid="item-row" data-id="${item.materialId}">
<td class="num">${item.materialId}</td>
<td><div class="title">${escapeHtml(item.title)}</div><div class="sub">${escapeHtml(item.filename)}</div></td>
<td><div>${escapeHtml(item.courseCode)}</div><div class="sub">${escapeHtml(item.courseName)}</div></td>
<td>${escapeHtml(item.faculty)}</td>
<td><span class="wf wf-${escapeHtml(item.workflowStatus)}">${escapeHtml(TAB_LABELS[item.workflowStatus] ?? item.workflowStatus)}</span></td>
<td class="sub date">${escapeHtml(item.modifiedAt.slice(0, 10))}</td>
<td>${fileExistsCell(item)}</td>
</tr>`
}

function cacheRows(caches: DashboardState['caches'], admin: boolean): string {
  return Object.entries(caches)
    .map(
      ([name, s]) => `<tr data-testid="cache-${escapeHtml(name)}">
<td><strong>${escapeHtml(name)}</strong><div class="sub" data-testid="adapter-${escapeHtml(name)}">${escapeHtml(s.adapter)}</div></td>
<td><span class="status status-${escapeHtml(s.status)}">${escapeHtml(s.status)}</span></td>
<td class="num">${s.hits}</td><td class="num" data-testid="l1-hits-${escapeHtml(name)}">${s.l1Hits}</td>
<td class="num" data-testid="stale-hits-${escapeHtml(name)}">${s.staleHits}</td><td class="num">${s.misses}</td>
<td class="num" data-testid="hit-rate-${escapeHtml(name)}">${(s.hitRate * 100).toFixed(1)}%</td>
<td>${admin ? `<button type="button" class="small clear-cache" data-cache="${escapeHtml(name)}" data-testid="clear-${escapeHtml(name)}">Clear</button>` : ''}</td>
</tr>`,
    )
    .join('')
}

const STYLE = `
:root{--bg:#f5f6f8;--card:#fff;--ink:#1d2433;--muted:#6b7385;--line:#e3e6ec;--accent:#0b5cad;--accent-soft:#e6f0fb}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--ink)}
header{background:#14213d;color:#fff;padding:14px 28px;display:flex;align-items:baseline;gap:16px}
header h1{font-size:18px;margin:0}header .sub{color:#b9c3d8}header .user{margin-left:auto;color:#b9c3d8}
main{display:grid;grid-template-columns:minmax(0,1fr) 450px;gap:20px;padding:20px 28px;max-width:1500px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:16px}
.card h2{font-size:14px;margin:0 0 10px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}
.toolbar{display:flex;gap:10px;flex-wrap:wrap;margin-bottom:12px}
#faculty-select{max-width:320px}
select,input[type=search]{font:inherit;padding:6px 8px;border:1px solid var(--line);border-radius:6px;background:#fff}
input[type=search]{min-width:260px}
.tabs{display:flex;gap:4px;border-bottom:1px solid var(--line);margin-bottom:8px}
.tab{font:inherit;border:0;background:none;padding:8px 14px;cursor:pointer;color:var(--muted);border-bottom:2px solid transparent}
.tab[aria-selected=true]{color:var(--accent);border-bottom-color:var(--accent);font-weight:600}
.badge{display:inline-block;min-width:24px;padding:0 7px;margin-left:6px;border-radius:10px;background:var(--accent-soft);color:var(--accent);font-size:12px;text-align:center}
table{width:100%;border-collapse:collapse}th,td{text-align:left;padding:7px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:12px;color:var(--muted);font-weight:600}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.title{font-weight:500}.date{white-space:nowrap}.sub{color:var(--muted);font-size:12px}
.wf{font-size:12px;padding:1px 8px;border-radius:10px;background:#eef0f4}.wf-Done{background:#e3f4e8;color:#1c6b36}.wf-InProgress{background:#fff3d6;color:#8a5a00}
.fe{font-size:12px}.fe-exists{color:#1c6b36}.fe-missing{color:#b3261e}.fe-unknown{color:var(--muted)}
button{font:inherit;cursor:pointer;border:1px solid var(--accent);background:var(--accent);color:#fff;border-radius:6px;padding:6px 12px}
button.small{padding:2px 10px;font-size:12px;background:#fff;color:var(--accent)}button.link{border:0;background:none;color:var(--accent);padding:0;font-size:12px}
button:disabled{opacity:.5;cursor:default}
.pager{display:flex;align-items:center;gap:10px;margin-top:10px;color:var(--muted)}
.status{font-size:12px}.status-ready{color:#1c6b36}.status-unavailable{color:#b3261e}
#upload-result{margin-top:10px;font-size:13px}#upload-result.error{color:#b3261e}#upload-progress{width:100%}.rejections{margin:6px 0 0;padding-left:18px;color:#8a5a00}
.side{display:flex;flex-direction:column;gap:20px;min-width:0}
#cache-panel table th,#cache-panel table td{padding:6px 3px;font-size:13px}.muted{color:var(--muted)}
#hit-chart{width:100%;height:80px;margin-top:10px;background:#fafbfc;border:1px solid var(--line);border-radius:4px}#hit-chart .grid{stroke:var(--line)}
.source{font-size:12px;padding:1px 8px;border-radius:10px;background:#eef0f4}.source-upstream{background:#fff3d6;color:#8a5a00}.source-stale{background:#fde2e1;color:#b3261e}.source-l1,.source-memory{background:#e3f4e8;color:#1c6b36}.source-redis{background:#e6f0fb;color:#0b5cad}
#osiris-result.error{color:#b3261e}
`

const SCRIPT = `
const state = JSON.parse(document.getElementById('initial-filter').textContent);
const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
// Every state-changing request carries the session's CSRF token; the server refuses it otherwise.
const send = (method, url, body) => fetch(url, { method, headers: { 'x-csrf-token': csrfToken, ...(body && !(body instanceof FormData) ? { 'content-type': 'application/json' } : {}) }, body: body instanceof FormData || body === undefined ? body : JSON.stringify(body) });
const $ = (id) => document.getElementById(id);
const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]));
const LABELS = ${JSON.stringify(TAB_LABELS)};
function feCell(it) {
  const s = it.fileExists === null ? 'unknown' : it.fileExists ? 'exists' : 'missing';
  const t = {unknown:'not checked', exists:'exists', missing:'missing'}[s];
  return '<span class="fe fe-' + s + '" data-testid="file-exists-' + it.materialId + '">' + t + '</span> <button type="button" class="link check-file" data-id="' + it.materialId + '">check</button>';
}
function render(page) {
  $('items-body').innerHTML = page.items.map((it) => '<tr data-testid="item-row" data-id="' + it.materialId + '">' +
    '<td class="num">' + it.materialId + '</td>' +
    '<td><div class="title">' + esc(it.title) + '</div><div class="sub">' + esc(it.filename) + '</div></td>' +
    '<td><div>' + esc(it.courseCode) + '</div><div class="sub">' + esc(it.courseName) + '</div></td>' +
    '<td>' + esc(it.faculty) + '</td>' +
    '<td><span class="wf wf-' + esc(it.workflowStatus) + '">' + esc(LABELS[it.workflowStatus] || it.workflowStatus) + '</span></td>' +
    '<td class="sub date">' + esc(it.modifiedAt.slice(0, 10)) + '</td><td>' + feCell(it) + '</td></tr>').join('') ||
    '<tr><td colspan="7" class="muted">No items match.</td></tr>';
  for (const [status, n] of Object.entries(page.counts)) {
    const badge = document.querySelector('[data-testid="count-' + status + '"]');
    if (badge) badge.textContent = n.toLocaleString('en');
  }
  document.querySelectorAll('.tab').forEach((t) => t.setAttribute('aria-selected', String(t.dataset.status === state.status)));
  $('page-info').textContent = 'Page ' + page.page + ' of ' + page.totalPages + ' (' + page.total.toLocaleString('en') + ' items)';
  $('prev-page').disabled = page.page <= 1;
  $('next-page').disabled = page.page >= page.totalPages;
}
async function load() {
  const q = new URLSearchParams({ status: state.status, page: state.page, perPage: state.perPage });
  if (state.faculty) q.set('faculty', state.faculty);
  if (state.search) q.set('search', state.search);
  history.replaceState(null, '', '/?' + q);
  const res = await fetch('/api/items?' + q);
  const body = await res.json();
  if (!res.ok) { $('items-body').innerHTML = '<tr><td colspan="7" class="muted">' + esc(body.message) + '</td></tr>'; return; }
  render(body);
  loadStats();
}
async function loadStats() {
  const res = await fetch('/api/cache/stats');
  if (!res.ok) return;
  const body = await res.json();
  for (const [name, s] of Object.entries(body.caches)) {
    const row = document.querySelector('[data-testid="cache-' + name + '"]');
    if (!row) continue;
    const cells = row.querySelectorAll('td');
    cells[1].innerHTML = '<span class="status status-' + esc(s.status) + '">' + esc(s.status) + '</span>';
    cells[2].textContent = s.hits; cells[3].textContent = s.l1Hits; cells[4].textContent = s.staleHits;
    cells[5].textContent = s.misses; cells[6].textContent = (s.hitRate * 100).toFixed(1) + '%';
  }
  renderChart(body.history);
  const l = body.countsLatency;
  const fmt = (x) => x.count ? x.avgMs.toFixed(1) + ' ms avg (' + x.count + ')' : 'none yet';
  $('counts-latency').innerHTML = 'Filter counts: cached <strong data-testid="latency-cached">' + fmt(l.cached) + '</strong> · uncached <strong data-testid="latency-uncached">' + fmt(l.uncached) + '</strong>';
}
const COLORS = ['#0b5cad', '#c2410c', '#15803d', '#7c3aed'];
// Hit rate per 10 s interval, one line per cache; intervals without reads leave a gap.
function renderChart(history) {
  const svg = $('hit-chart');
  const w = 400, h = 80, n = Math.max(history.length, 2);
  const x = (i) => (i * (w - 10)) / (n - 1) + 5;
  const y = (rate) => h - 5 - rate * (h - 10);
  const names = Object.keys(history[history.length - 1]?.caches ?? {});
  svg.innerHTML = '<line x1="0" x2="' + w + '" y1="' + y(1) + '" y2="' + y(1) + '" class="grid"/><line x1="0" x2="' + w + '" y1="' + y(0.5) + '" y2="' + y(0.5) + '" class="grid"/>' +
    names.map((name, k) => {
      const segments = []; let current = [];
      history.forEach((p, i) => { const r = p.caches[name]?.hitRate; if (r === null || r === undefined) { if (current.length) segments.push(current); current = []; } else current.push(x(i).toFixed(1) + ',' + y(r).toFixed(1)); });
      if (current.length) segments.push(current);
      return segments.map((pts) => pts.length === 1 ? '<circle data-cache="' + esc(name) + '" cx="' + pts[0].split(',')[0] + '" cy="' + pts[0].split(',')[1] + '" r="2.5" fill="' + COLORS[k % 4] + '"/>' : '<polyline data-cache="' + esc(name) + '" fill="none" stroke-width="2" stroke="' + COLORS[k % 4] + '" points="' + pts.join(' ') + '"/>').join('');
    }).join('');
  $('hit-chart-legend').innerHTML = names.map((name, k) => '<span style="color:' + COLORS[k % 4] + '">■ ' + esc(name) + '</span>').join(' ') + ' <span class="muted">hit rate per 10 s, last ' + Math.round(history.length / 6) + ' min</span>';
}
$('osiris-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const out = $('osiris-result');
  const q = new URLSearchParams({ type: $('osiris-type').value, q: $('osiris-query').value.trim() });
  out.textContent = 'Looking up…';
  const res = await fetch('/api/osiris/lookup?' + q);
  const body = await res.json();
  if (!res.ok) { out.className = 'error'; out.textContent = body.message; return; }
  out.className = '';
  const r = body.result;
  const what = !r ? 'not found' : body.type === 'course' ? esc(r.name) + ' · ' + esc(r.faculty) + ' · ' + (r.partial ? 'teachers unavailable (not cached)' : r.teachers.length + ' teachers') : esc(r.mainName) + ' · ' + esc(r.faculty) + (r.email ? ' · ' + esc(r.email) : '');
  const age = body.ageSeconds === null ? '' : ' · age ' + (body.ageSeconds < 120 ? body.ageSeconds + ' s' : Math.round(body.ageSeconds / 60) + ' min');
  out.innerHTML = '<div data-testid="osiris-answer">' + what + '</div><div class="sub"><span class="source source-' + esc(body.source) + '" data-testid="osiris-source">' + esc(body.source) + '</span>' + age + ' · ' + body.ms.toFixed(1) + ' ms</div>';
  loadStats();
});
loadStats();
setInterval(loadStats, 10000);
document.querySelectorAll('.tab').forEach((tab) => tab.addEventListener('click', () => { state.status = tab.dataset.status; state.page = 1; load(); }));
$('faculty-select').addEventListener('change', (e) => { state.faculty = e.target.value; state.page = 1; load(); });
$('per-page-select').addEventListener('change', (e) => { state.perPage = Number(e.target.value); state.page = 1; load(); });
let timer;
$('search-input').addEventListener('input', (e) => { clearTimeout(timer); timer = setTimeout(() => { state.search = e.target.value.trim(); state.page = 1; load(); }, 250); });
$('prev-page').addEventListener('click', () => { state.page--; load(); });
$('next-page').addEventListener('click', () => { state.page++; load(); });
$('items-body').addEventListener('click', async (e) => {
  const btn = e.target.closest('.check-file');
  if (!btn) return;
  btn.disabled = true;
  const res = await fetch('/api/canvas/items/' + btn.dataset.id + '/file-exists');
  const body = await res.json();
  const cell = document.querySelector('[data-testid="file-exists-' + btn.dataset.id + '"]');
  if (res.ok) { cell.className = 'fe fe-' + (body.exists ? 'exists' : 'missing'); cell.textContent = body.exists ? 'exists' : 'missing'; }
  else { cell.className = 'fe fe-missing'; cell.textContent = 'error'; cell.title = body.message; }
  btn.disabled = false;
  loadStats();
});
$('check-page').addEventListener('click', async () => {
  const ids = [...document.querySelectorAll('[data-testid="item-row"]')].map((r) => Number(r.dataset.id));
  $('check-page').disabled = true;
  await send('POST', '/api/canvas/check', { materialIds: ids });
  $('check-page').disabled = false;
  load();
});
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
function showProgress(p) {
  const bar = $('upload-progress');
  const total = Math.max(1, p.rows - p.dropped);
  bar.hidden = false; bar.max = total; bar.value = p.processed;
  $('upload-result').className = '';
  $('upload-result').textContent = 'Batch ' + p.batchId + ': ' + p.processed.toLocaleString('en') + ' of ' + total.toLocaleString('en') + ' rows merged…';
}
function showSummary(p) {
  const out = $('upload-result');
  out.className = p.status === 'failed' ? 'error' : '';
  const counts = p.created + ' created, ' + p.updated + ' updated, ' + p.unchanged + ' unchanged, ' + p.rejected + ' rejected';
  out.innerHTML = '<div data-testid="upload-summary">Batch ' + p.batchId + (p.status === 'failed' ? ' failed (' + esc(p.error) + ') after ' : ': ') + counts + '</div>' +
    (p.rejections.length ? '<ul class="rejections" data-testid="upload-rejections">' + p.rejections.slice(0, 10).map((r) => '<li>row ' + r.row + ': ' + esc(r.reason) + '</li>').join('') + (p.rejected > 10 ? '<li>… ' + (p.rejected - 10) + ' more</li>' : '') + '</ul>' : '');
}
$('upload-form')?.addEventListener('submit', async (e) => {
  e.preventDefault();
  const out = $('upload-result');
  const file = $('upload-input').files[0];
  if (!file) { out.className = 'error'; out.textContent = 'Choose a Qlik export first.'; return; }
  const data = new FormData(); data.append('file', file);
  out.className = ''; out.textContent = 'Uploading and checking…';
  $('upload-submit').disabled = true;
  try {
    const res = await send('POST', '/api/ingest/qlik', data);
    let p = await res.json();
    if (!res.ok) { out.className = 'error'; out.textContent = p.message; return; }
    while (p.status === 'processing') {
      showProgress(p);
      await sleep(250);
      const next = await fetch('/api/ingest/batches/' + p.batchId);
      if (!next.ok) break;
      p = await next.json();
    }
    $('upload-progress').value = $('upload-progress').max;
    showSummary(p);
    load();
  } finally {
    $('upload-submit').disabled = false;
  }
});
document.querySelectorAll('.clear-cache').forEach((b) => b.addEventListener('click', async () => {
  await send('POST', '/api/cache/' + encodeURIComponent(b.dataset.cache) + '/clear');
  loadStats();
}));
$('sign-out').addEventListener('click', async () => { await send('DELETE', '/api/session'); location.assign('/login'); });
`

function uploadCard(): string {
  return `<section class="card">
    <h2>Qlik ingest</h2>
    <form id="upload-form" data-testid="upload-form">
      <input id="upload-input" data-testid="upload-input" type="file" name="file" accept=".csv,.xlsx,text/csv">
      <p><button type="submit" id="upload-submit" data-testid="upload-submit">Upload export</button></p>
    </form>
    <progress id="upload-progress" data-testid="upload-progress" hidden value="0" max="1"></progress>
    <div id="upload-result" data-testid="upload-result" class="muted">CSV or XLSX with the Qlik columns.</div>
  </section>`
}

/** The dashboard page: workflow tabs with count badges, filters, items, upload and cache panel. */
export function renderDashboard(state: DashboardState): string {
  const { filter, page, faculties, user } = state
  const admin = user.role === 'admin'
  const tabs = WORKFLOW_FILTERS.map(
    (status) =>
      `<button type="button" class="tab" role="tab" data-status="${status}" data-testid="tab-${status}" aria-selected="${status === filter.status}">${TAB_LABELS[status]}<span class="badge" data-testid="count-${status}">${page.counts[status].toLocaleString('en')}</span></button>`,
  ).join('')
  const facultyOptions = [
    '<option value="">All faculties</option>',
    ...faculties.map(
      (f) =>
        `<option value="${escapeHtml(f.abbreviation)}"${f.abbreviation === filter.faculty ? ' selected' : ''}>${escapeHtml(f.abbreviation)} — ${escapeHtml(f.name)}</option>`,
    ),
  ].join('')
  const perPage = [25, 50, 100]
    .map((n) => `<option value="${n}"${n === filter.perPage ? ' selected' : ''}>${n} per page</option>`)
    .join('')
  const initial = JSON.stringify(filter).replace(/</g, '\\u003c')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="csrf-token" content="${escapeHtml(state.csrfToken)}">
<title>Easy Access${state.instance ? ` (${escapeHtml(state.instance)})` : ''} — copyright items</title><style>${STYLE}</style></head>
<body>
<header><h1>Easy Access</h1><span class="sub">Copyright review of course material · cache backend <strong data-testid="backend">${escapeHtml(state.backend)}</strong>${state.instance ? ` · instance <strong data-testid="instance">${escapeHtml(state.instance)}</strong>` : ''}</span>
<span class="user"><span data-testid="signed-in-user">${escapeHtml(user.username)}</span> (${escapeHtml(user.role)}) <button type="button" class="small" id="sign-out" data-testid="sign-out">Sign out</button></span></header>
<main>
<section class="card">
  <div class="toolbar">
    <select id="faculty-select" data-testid="faculty-select" aria-label="Faculty">${facultyOptions}</select>
    <input id="search-input" data-testid="search-input" type="search" placeholder="Search title, file, course, department, remarks" value="${escapeHtml(filter.search)}" aria-label="Search">
    <select id="per-page-select" data-testid="per-page-select" aria-label="Items per page">${perPage}</select>
    <button type="button" id="check-page" class="small" data-testid="check-page">Check files on this page</button>
  </div>
  <nav class="tabs" id="workflow-tabs" role="tablist">${tabs}</nav>
  <table id="items-table" data-testid="items-table">
    <thead><tr><th class="num">Material id</th><th>Title / file</th><th>Course</th><th>Faculty</th><th>Workflow</th><th>Modified</th><th>File in Canvas</th></tr></thead>
    <tbody id="items-body">${page.items.map(row).join('') || '<tr><td colspan="7" class="muted">No items match.</td></tr>'}</tbody>
  </table>
  <div class="pager"><button type="button" id="prev-page" class="small" data-testid="prev-page"${page.page <= 1 ? ' disabled' : ''}>Previous</button>
  <span id="page-info" data-testid="page-info">Page ${page.page} of ${page.totalPages} (${page.total.toLocaleString('en')} items)</span>
  <button type="button" id="next-page" class="small" data-testid="next-page"${page.page >= page.totalPages ? ' disabled' : ''}>Next</button></div>
</section>
<aside class="side">
  ${admin ? uploadCard() : ''}
  <section class="card" id="osiris-panel" data-testid="osiris-panel">
    <h2>Osiris and people pages</h2>
    <form id="osiris-form" class="toolbar">
      <select id="osiris-type" data-testid="osiris-type" aria-label="Look up"><option value="course">Course</option><option value="person">Person</option></select>
      <input id="osiris-query" data-testid="osiris-query" type="search" placeholder="2025-202500095-1B or a name" aria-label="Course code or name" required minlength="2">
      <button type="submit" class="small" data-testid="osiris-submit">Look up</button>
    </form>
    <div id="osiris-result" data-testid="osiris-result" class="muted">Shows whether the answer came from L1, Redis, the memory cache, a stale copy (grace) or the upstream, and its age.</div>
  </section>
  <section class="card" id="cache-panel" data-testid="cache-panel">
    <h2>Caches</h2>
    <table><thead><tr><th>Cache</th><th>Status</th><th class="num">Hits</th><th class="num" title="Hits answered in-process, without asking the shared store">L1</th><th class="num" title="Old values served while a refresh ran or an upstream failed">Stale</th><th class="num">Misses</th><th class="num">Hit rate</th><th></th></tr></thead>
    <tbody>${cacheRows(state.caches, admin)}</tbody></table>
    <svg id="hit-chart" data-testid="hit-chart" viewBox="0 0 400 80" preserveAspectRatio="none" role="img" aria-label="Hit rate over the last minutes"></svg>
    <div id="hit-chart-legend" class="sub"></div>
    <p id="counts-latency" data-testid="counts-latency" class="sub"></p>
    <p class="muted"><a href="/metrics">/metrics</a> · <a href="/health">/health</a> · <a href="/api/cache/stats">stats</a></p>
  </section>
</aside>
</main>
<script type="application/json" id="initial-filter">${initial}</script>
<script>${SCRIPT}</script>
</body></html>`
}
