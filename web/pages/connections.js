// Connections: every socket, filtered, sorted and paged by the agent (so 50k sockets cost one
// page of rows), searched by port, address or program. A click on a program or a port narrows
// the list to it; the filters live in the address bar, so a view can be shared or bookmarked.
import { api, query } from '../api.js';
import { t, num } from '../i18n.js';
import { h, replace, stamp, table, field, select, chip, endpoint, exposureBadge, classBadge, mono, untrusted, empty } from '../dom.js';

const SELECTS = {
  proto: ['tcp', 'udp', 'raw', 'packet'],
  state: ['listen', 'estab', 'syn-sent', 'syn-recv', 'fin-wait-1', 'fin-wait-2', 'time-wait', 'close-wait', 'last-ack', 'closing', 'unconn'],
  exposure: ['all', 'address', 'loopback', 'none'],
  direction: ['listen', 'inbound', 'outbound', 'local', 'none'],
  remote_class: ['public', 'private', 'loopback', 'multicast', 'none'],
};
const CHIPS = ['port', 'pid', 'process', 'user', 'local', 'remote'];
const SIZES = [50, 100, 200, 500];
const KEYS = ['q', ...Object.keys(SELECTS), ...CHIPS, 'listening', 'sort', 'offset', 'limit'];

export function mount(ctx) {
  const filters = {};
  for (const key of KEYS) if (ctx.params[key]) filters[key] = ctx.params[key];
  let controller = null;

  const search = h('input', { type: 'search', value: filters.q || '', placeholder: t('conn.search.placeholder'), autocomplete: 'off', spellcheck: 'false' });
  let typing = null;
  search.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => set({ q: search.value.trim() }), 300);
  });
  const selects = Object.entries(SELECTS).map(([key, values]) => {
    const control = select([['', t('filter.any')], ...values.map((v) => [v, key === 'proto' || key === 'state' ? v : t(`${key === 'remote_class' ? 'class' : key}.${v}`)])],
      filters[key], { 'data-filter': key, onchange: (e) => set({ [key]: e.target.value }) });
    return field(t(`filter.${key}`), control);
  });
  const listening = h('input', { type: 'checkbox', checked: filters.listening === 'true', onchange: (e) => set({ listening: e.target.checked ? 'true' : '' }) });
  const size = select(SIZES.map((n) => [n, num(n)]), filters.limit || 100, { onchange: (e) => set({ limit: e.target.value }) });
  const chips = h('div', { class: 'chips', 'aria-live': 'polite' });
  const summary = h('div', { class: 'summary' });
  const results = h('div', { 'aria-busy': 'true' });
  const form = h('form', { class: 'filters', role: 'search', onsubmit: (e) => { e.preventDefault(); set({ q: search.value.trim() }); } },
    field(t('conn.search'), search, 'grow'), ...selects,
    h('div', { class: 'field check' }, h('label', {}, listening, ' ', t('filter.listening'))),
    field(t('conn.pagesize'), size));
  replace(ctx.root,
    h('header', { class: 'page-head' }, h('h1', {}, t('conn.title')), h('p', { class: 'muted' }, t('conn.help'))),
    form, chips, summary, results);

  // Changing a filter goes back to the first page; paging keeps the filters.
  function set(changes, keepOffset = false) {
    Object.assign(filters, changes);
    if (!keepOffset) delete filters.offset;
    for (const [key, value] of Object.entries(filters)) if (value === '' || value == null) delete filters[key];
    ctx.setParams(filters);
    ctx.refresh();
  }

  function sortBy(key) {
    set({ sort: filters.sort === key ? `-${key}` : key });
  }

  const program = (s) => s.process
    ? h('button', { type: 'button', class: 'link', title: t('conn.filterprogram', { name: s.process }), onclick: () => set({ process: s.process }) }, untrusted(s.process))
    : h('span', { class: 'muted' }, t(`owner.${s.owner_status}`));
  const port = (s, which) => {
    const value = s[`${which}_port`];
    // A listener's or an unconnected socket's peer is the wildcard: shown as "*".
    if (which === 'remote' && (!value || s.remote_class === 'none')) return endpoint(null);
    if (value == null) return endpoint(s[`${which}_addr`], null);
    const address = s[`${which}_addr`] || '*';
    return h('bdi', { class: 'mono', dir: 'ltr' }, address.includes(':') ? `[${address}]:` : `${address}:`,
      h('button', { type: 'button', class: 'link mono', title: t('conn.filterport', { port: value }), onclick: () => set({ port: String(value) }) }, String(value)));
  };

  async function refresh() {
    replace(chips, CHIPS.filter((k) => filters[k]).map((k) => chip(`${t(`filter.${k}`)}: ${filters[k]}`, () => set({ [k]: '' }))));
    controller?.abort();
    controller = new AbortController();
    results.setAttribute('aria-busy', 'true');
    const params = Object.fromEntries(KEYS.filter((k) => filters[k]).map((k) => [k, filters[k]]));
    const data = await api(`/api/v1/sockets${query(params)}`, { signal: controller.signal });
    results.setAttribute('aria-busy', 'false');
    const first = data.total ? data.offset + 1 : 0;
    const last = data.offset + data.sockets.length;
    const limit = Number(data.limit);
    const pager = h('nav', { class: 'pager', 'aria-label': t('conn.pages') },
      h('button', { type: 'button', disabled: data.offset === 0, onclick: () => set({ offset: String(Math.max(0, data.offset - limit)) }, true) }, t('conn.prev')),
      h('span', { class: 'range' }, t('conn.range', { first: num(first), last: num(last), total: num(data.total) })),
      h('button', { type: 'button', disabled: data.next_offset == null, onclick: () => set({ offset: String(data.next_offset) }, true) }, t('conn.next')));
    replace(summary, stamp(data.taken_at),
      h('p', { class: 'match-count', 'data-total': data.total }, t('conn.total', { total: num(data.total), all: num(data.snapshot_sockets) })), pager);
    if (!data.sockets.length) {
      replace(results, empty(t('conn.none')));
      return;
    }
    replace(results, table(t('conn.title'), [
      { label: t('col.proto'), sort: 'proto' }, { label: t('col.state'), sort: 'state' },
      { label: t('col.local'), sort: 'local_port' }, { label: t('col.remote'), sort: 'remote_addr' },
      { label: t('col.class') }, { label: t('col.exposure') }, { label: t('col.program'), sort: 'process' },
      { label: t('col.pid'), sort: 'pid', className: 'num' }, { label: t('col.user'), sort: 'user' }, { label: t('col.service'), sort: 'service' },
    ], data.sockets, (s) => [
      s.proto, s.state, port(s, 'local'), port(s, 'remote'), classBadge(s.remote_class), exposureBadge(s.exposure), program(s),
      s.pid == null ? '' : mono(String(s.pid)), s.user || '',
      s.service ? h('a', { href: `#/ports/${s.service_port}` }, s.service) : '',
    ], { sortKey: filters.sort, onSort: sortBy }));
  }

  return { refresh, every: 10000, onLive: (type) => type.startsWith('listener_') };
}
