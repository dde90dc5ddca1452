// The dashboard's shell: language and theme, logging in with the API token, the hash router
// (#/page/arg?filters), the connection banner, the live event stream, and refreshing the page on
// view. Pages (pages/*.js) export mount(ctx) and return {refresh, every, onLive}.
import { api, connection, connectionState, token } from './api.js';
import { startLive } from './live.js';
import { setLanguage, savedLanguage, t, num, time } from './i18n.js';
import { h, replace, refreshStamps, errorBox } from './dom.js';

// Each page's module loads when it is first shown, so the first paint waits only for its own.
const PAGES = {
  overview: () => import('./pages/overview.js'),
  listeners: () => import('./pages/listeners.js'),
  connections: () => import('./pages/connections.js'),
  alerts: () => import('./pages/alerts.js'),
  history: () => import('./pages/history.js'),
  ports: () => import('./pages/ports.js'),
};
const HEARTBEAT_MS = 10000;
const RETRY_MS = 3000;
const $ = (id) => document.getElementById(id);
const main = $('main');

let current = null;  // {name, arg, page, lastRefresh, error}
let unlocked = false;
let live = null;
let lastOk = null;
let lastBeat = 0;
let pendingRefresh = null;

// ---- routing ----

function parseHash() {
  const raw = location.hash.startsWith('#/') ? location.hash.slice(2) : '';
  const [path, search] = raw.split('?');
  const [name, arg] = path.split('/').map(decodeURIComponent);
  return { name: PAGES[name] ? name : 'overview', arg: arg || '', params: Object.fromEntries(new URLSearchParams(search || '')) };
}

function hashFor(name, arg, params = {}) {
  const search = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== '' && v != null)).toString();
  return `#/${name}${arg ? `/${encodeURIComponent(arg)}` : ''}${search ? `?${search}` : ''}`;
}

let mounting = 0;
async function mount() {
  if (!unlocked) return;
  const { name, arg, params } = parseHash();
  const attempt = ++mounting;
  let module;
  try {
    module = await PAGES[name]();
  } catch (error) {
    current = null;  // mounted again once the agent answers (see the connection listener)
    replace(main, errorBox(t('error.load', { message: error.message })));
    return;
  }
  if (attempt !== mounting || !unlocked) return;  // another page was asked for meanwhile
  for (const link of document.querySelectorAll('#nav a')) {
    if (link.dataset.page === name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const root = h('div', { class: 'page' });
  replace(main, root);
  const ctx = {
    root, arg, params,
    setParams(next, nextArg = arg) { history.replaceState(null, '', hashFor(name, nextArg, next)); },
    announce,
    refresh: () => refreshPage(),
  };
  current = { name, page: module.mount(ctx), lastRefresh: 0, error: null };
  document.title = `${t(`nav.${name}`)} · portwatch`;
  refreshPage();
}

async function refreshPage() {
  const mine = current;
  if (!mine) return;
  mine.lastRefresh = Date.now();
  try {
    await mine.page.refresh();
    mine.error?.remove();
    mine.error = null;
    lastOk = Date.now();
  } catch (error) {
    if (mine !== current || error.name === 'AbortError') return;
    if (error.kind === 'http') {
      mine.error?.remove();
      mine.error = errorBox(t('error.agent', { message: error.message }));
      main.prepend(mine.error);
    }
  }
  refreshStamps(connectionState() !== 'ok');
}

function scheduleRefresh() {
  clearTimeout(pendingRefresh);
  pendingRefresh = setTimeout(refreshPage, 300);
}

// ---- the agent's status, the connection banner, logging in ----

function showStatus(status) {
  $('host').textContent = status.host || '';
  const active = status.alerts?.active;
  const count = $('alert-count');
  count.hidden = !active;
  count.textContent = num(active);
  count.setAttribute('aria-label', t('nav.alerts.active', { n: num(active) }));
}

async function heartbeat() {
  lastBeat = Date.now();
  try {
    showStatus(await api('/api/v1/status'));
    return true;
  } catch {
    return false;
  }
}

function showBanner(stateName) {
  const banner = $('banner');
  if (stateName !== 'offline') {
    banner.hidden = true;
    return;
  }
  replace(banner,
    h('strong', {}, t('banner.offline', { url: location.origin })), ' ',
    t('banner.retrying'), ' ',
    lastOk ? t('banner.last', { time: time(lastOk) }) : '',
    ' ', h('button', { type: 'button', class: 'ghost', onclick: () => heartbeat() }, t('banner.retry')));
  banner.hidden = false;
}

let previousState = 'unknown';
connection.addEventListener('change', (event) => {
  const next = event.detail;
  const recovered = next === 'ok' && previousState !== 'unknown';
  previousState = next;
  showBanner(next);
  refreshStamps(next !== 'ok');
  if (next === 'auth' && unlocked) lock(t('login.rejected'));
  if (recovered && unlocked) {
    if (current) refreshPage();
    else mount();
  }
});

function lock(message) {
  unlocked = false;
  current = null;
  live?.stop();
  live = null;
  setLive('off');
  document.body.classList.add('locked');
  const input = h('input', { id: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true, 'aria-describedby': 'login-help' });
  const status = h('p', { class: 'error', role: 'alert', id: 'login-error' }, message || '');
  status.hidden = !message;
  const form = h('form', { class: 'login panel', 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title' }, t('login.title')),
    h('p', { id: 'login-help' }, t('login.help'), ' ', h('code', {}, 'portwatch token')),
    h('div', { class: 'field' }, h('label', { for: 'token' }, t('login.token')), input),
    status,
    h('button', { type: 'submit', class: 'primary' }, t('login.submit')),
    h('p', { class: 'muted small' }, t('login.storage')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const value = input.value.trim();
    try {
      await api('/api/v1/status', { credential: value });
      token.set(value);
      unlock();
    } catch (error) {
      status.textContent = error.kind === 'auth' ? t('login.wrong') : error.kind === 'offline' ? t('login.offline') : error.message;
      status.hidden = false;
      input.select();
    }
  });
  replace(main, form);
  document.title = `${t('login.title')} · portwatch`;
  input.focus();
}

function unlock(status) {
  unlocked = true;
  document.body.classList.remove('locked');
  $('logout').hidden = !token.get();
  live?.stop();
  live = startLive({ onEvent: onLiveEvent, onState: (up) => setLive(up ? 'on' : 'off') });
  if (status) {
    lastBeat = Date.now();
    showStatus(status);
  } else {
    heartbeat();
  }
  mount();
}

// Which of: the API wants no token, the saved token works, or a login is needed. With a saved
// token the page starts at once and its own requests find out (a 401 locks it again); without
// one, a first question to the agent tells, while the strings load (`ready`).
async function start(ready) {
  if (token.get()) {
    await ready;
    unlock();
    return;
  }
  let status = null;
  let failure = null;
  try {
    status = await api('/api/v1/status');
  } catch (error) {
    failure = error;
  }
  await ready;
  if (!failure) unlock(status);
  else if (failure.kind === 'auth') lock(token.get() ? t('login.rejected') : '');
  else if (failure.kind === 'offline') setTimeout(() => start(ready), RETRY_MS);
  else unlock();
}

// ---- live events ----

let liveState = 'off';
let lastSnapshotAt = null;

function setLive(state) {
  liveState = state;
  const el = $('live');
  el.className = `live live-${state}`;
  el.textContent = state === 'on'
    ? t('live.on', { time: lastSnapshotAt ? time(lastSnapshotAt, false) : '…' })
    : t(unlocked ? 'live.reconnecting' : 'live.off');
}

function describeSocket(socket) {
  const port = socket.local_port ?? '';
  return t('live.socket', { program: socket.process || t('owner.unknown'), port, proto: socket.proto });
}

function onLiveEvent(type, data) {
  if (type === 'snapshot') {
    lastSnapshotAt = data.taken_at;
    if (liveState === 'on') setLive('on');
  } else if (type === 'listener_appeared' || type === 'listener_disappeared') {
    announce(t(`live.${type}`, { what: describeSocket(data.socket || {}) }));
  } else if (type.startsWith('alert_')) {
    announce(t('live.alert', { event: t(`alert.event.${type.slice(6)}`), severity: t(`sev.${data.severity}`), title: data.title || '' }), data.severity);
    heartbeat();
  }
  if (current?.page.onLive?.(type, data)) scheduleRefresh();
}

// Visible toasts that screen readers hear too (the region is aria-live polite).
function announce(text, severity) {
  const region = $('announce');
  const toast = h('div', { class: ['toast', severity && `sev-${severity}`] }, text);
  region.append(toast);
  while (region.children.length > 4) region.firstChild.remove();
  setTimeout(() => toast.remove(), 8000);
}

// ---- theme, language, timers ----

function applyTheme(theme) {
  document.documentElement.dataset.theme = theme;
  localStorage.setItem('portwatch.theme', theme);
  const button = $('theme');
  button.setAttribute('aria-pressed', String(theme === 'dark'));
}

function savedTheme() {
  const saved = localStorage.getItem('portwatch.theme');
  if (saved === 'dark' || saved === 'light') return saved;
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

function tick() {
  const now = Date.now();
  refreshStamps(connectionState() !== 'ok');
  if (!unlocked) return;  // start() retries on its own until the agent answers
  const offline = connectionState() !== 'ok';
  if (now - lastBeat >= (offline ? RETRY_MS : HEARTBEAT_MS)) heartbeat();
  if (!offline && current && now - current.lastRefresh >= (current.page.every || 10000)) refreshPage();
}

async function init() {
  const ready = setLanguage(savedLanguage());
  PAGES[parseHash().name]().catch(() => {});  // start loading the first page's module now
  applyTheme(savedTheme());
  $('lang').value = savedLanguage();
  $('lang').addEventListener('change', async (event) => {
    await setLanguage(event.target.value);
    setLive(liveState);
    if (unlocked) mount();
    else lock();
  });
  $('theme').addEventListener('click', () => applyTheme(document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark'));
  $('logout').addEventListener('click', () => { token.clear(); lock(); });
  window.addEventListener('hashchange', () => { if (location.hash.startsWith('#/')) mount(); });
  setInterval(tick, 1000);
  await start(ready.then(() => setLive('off')));
}

init();
