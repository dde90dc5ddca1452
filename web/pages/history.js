// History: what was listening and connected at a moment, a port's or a remote address's past,
// and the listeners that came and went — all from the agent's SQLite history.
import { api, query } from '../api.js';
import { t, num, time } from '../i18n.js';
import { h, replace, stamp, table, field, select, endpoint, mono, untrusted, empty } from '../dom.js';

const MODES = ['events', 'at', 'port', 'remote'];
const SINCE = ['1h', '24h', '7d', '30d'];
const SHOWN = 300;  // rows drawn per table; the count says how many there were

// "2026-11-24T03:10" in the browser's time zone, for <input type=datetime-local>.
function localInput(ms) {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60e3);
  return d.toISOString().slice(0, 16);
}

// `total`: how many there were in all, when the server sent only the first page.
function socketsTable(caption, sockets, lifetimes, total = sockets.length) {
  const columns = [
    ...(lifetimes ? [{ label: t('col.opened') }, { label: t('col.closed') }] : []),
    { label: t('col.proto') }, { label: t('col.state') }, { label: t('col.local') }, { label: t('col.remote') },
    { label: t('col.program') }, { label: t('col.pid'), className: 'num' }, { label: t('col.user') },
  ];
  return [
    total > Math.min(sockets.length, SHOWN) ? h('p', { class: 'muted small' }, t('history.shown', { shown: num(Math.min(sockets.length, SHOWN)), total: num(total) })) : null,
    table(caption, columns, sockets.slice(0, SHOWN), (s) => [
      ...(lifetimes ? [time(s.opened_at), s.closed_at ? time(s.closed_at) : h('span', { class: 'badge tone-ok' }, t('history.stillopen'))] : []),
      s.proto, s.state, endpoint(s.local_addr, s.local_port), s.remote_addr ? endpoint(s.remote_addr, s.remote_port) : '',
      untrusted(s.process) || h('span', { class: 'muted' }, t(`owner.${s.owner_status}`)), s.pid == null ? '' : mono(String(s.pid)), untrusted(s.user) || '']),
  ];
}

export function mount(ctx) {
  const mode = MODES.includes(ctx.params.mode) ? ctx.params.mode : 'events';
  const p = ctx.params;
  const since = SINCE.includes(p.since) ? p.since : '24h';
  const result = h('div');
  const tabs = h('div', { class: 'segmented', role: 'group', 'aria-label': t('history.question') },
    MODES.map((m) => h('a', { href: `#/history?mode=${m}`, 'aria-current': m === mode ? 'true' : null }, t(`history.mode.${m}`))));
  const sinceSelect = select(SINCE.map((s) => [s, t(`range.${s}`)]), since);
  let control = null;
  if (mode === 'at') control = h('input', { type: 'datetime-local', required: true, step: 1, value: p.at ? localInput(Date.parse(p.at)) : localInput(Date.now() - 600e3) });
  if (mode === 'port') control = h('input', { type: 'number', min: 1, max: 65535, required: true, value: p.port || '' });
  if (mode === 'remote') control = h('input', { type: 'text', required: true, value: p.remote || '', placeholder: '203.0.113.7, 10.0.0.0/8', spellcheck: 'false' });
  const submit = (e) => {
    e.preventDefault();
    if (control && !control.checkValidity()) { control.reportValidity(); return; }
    const next = { mode, since: sinceSelect.value };
    if (mode === 'at') next.at = new Date(control.value).toISOString();
    if (mode === 'port') next.port = control.value;
    if (mode === 'remote') next.remote = control.value.trim();
    location.hash = `#/history${query(next)}`;
  };
  replace(ctx.root,
    h('header', { class: 'page-head' }, h('h1', {}, t('history.title')), h('p', { class: 'muted' }, t('history.help'))),
    tabs,
    h('form', { class: 'filters', onsubmit: submit },
      control ? field(t(`history.field.${mode}`), control, 'grow') : null,
      mode !== 'at' ? field(t('history.since'), sinceSelect) : null,
      h('div', { class: 'field' }, h('span', { class: 'label-spacer', 'aria-hidden': 'true' }, ' '), h('button', { type: 'submit', class: 'primary' }, t('history.show')))),
    result);

  const ready = mode === 'events' || (mode === 'at' && p.at) || (mode === 'port' && p.port) || (mode === 'remote' && p.remote);
  async function refresh() {
    if (!ready) { replace(result, empty(t(`history.ask.${mode}`))); return; }
    if (mode === 'at') {
      // The server pages the moment as it pages the present: the first SHOWN of each, and counts.
      const [listening, other] = await Promise.all([true, false].map((listen) =>
        api(`/api/v1/history/state${query({ at: p.at, listening: String(listen), sort: 'local_port', limit: SHOWN })}`)));
      const part = (key, data) => [
        h('h2', {}, t(key, { n: num(data.total) })),
        data.sockets.length ? socketsTable(t(key, { n: data.total }), data.sockets, false, data.total) : empty(t('history.nothing'))];
      replace(result, stamp(listening.at, 'stamp.at'), ...part('history.listening', listening), ...part('history.connected', other));
      return;
    }
    if (mode === 'events') {
      const data = await api(`/api/v1/history/listener-events${query({ since })}`);
      replace(result, stamp(data.until, 'stamp.queried'),
        h('p', { class: 'summary-line' }, t('history.events.count', { n: num(data.total), since: t(`range.${since}`) })),
        data.events.length ? table(t('history.mode.events'), [{ label: t('col.when') }, { label: t('col.change') }, { label: t('col.proto') }, { label: t('col.local') },
          { label: t('col.program') }, { label: t('col.user') }], data.events.slice().reverse().slice(0, SHOWN), (e) => [
          time(e.at), h('span', { class: `badge change-${e.event}` }, t(`history.${e.event}`)), e.proto,
          h('a', { href: `#/ports/${e.local_port}` }, endpoint(e.local_addr, e.local_port)), untrusted(e.process) || t(`owner.${e.owner_status}`), untrusted(e.user) || ''])
          : empty(t('history.noevents')));
      return;
    }
    const data = mode === 'port'
      ? await api(`/api/v1/history/ports/${encodeURIComponent(p.port)}${query({ since })}`)
      : await api(`/api/v1/history/connections${query({ remote: p.remote, since })}`);
    replace(result, stamp(data.until, 'stamp.queried'),
      h('p', { class: 'summary-line' }, t(`history.${mode}.count`, { n: num(data.total), what: mode === 'port' ? p.port : p.remote, since: t(`range.${since}`) })),
      data.sockets.length ? socketsTable(t(`history.mode.${mode}`), data.sockets.slice().sort((a, b) => b.opened_at - a.opened_at), true) : empty(t('history.nothing')));
  }

  return { refresh, every: mode === 'events' ? 30000 : Infinity, onLive: (type) => mode === 'events' && type.startsWith('listener_') };
}
