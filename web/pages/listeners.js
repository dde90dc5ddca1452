// Listeners: what is listening, grouped by program — who owns it (pid, user, executable, command
// line), what each port usually is, and who can reach it. What is open on every interface, and
// what an alert is about, stands out.
import { api } from '../api.js';
import { t, num } from '../i18n.js';
import { h, replace, stamp, table, field, endpoint, exposureBadge, categoryBadge, severityBadge, mono, untrusted, empty, SEVERITIES } from '../dom.js';

// The open alert about this listener: same protocol, port and program as its evidence.
export function alertFor(socket, alerts) {
  let worst = null;
  for (const alert of alerts) {
    const e = alert.last_evidence || {};
    if (alert.kind !== 'listener' || e.proto !== socket.proto || e.local_port !== socket.local_port) continue;
    if ((e.exe || e.process) !== (socket.exe || socket.process)) continue;
    if (!worst || SEVERITIES.indexOf(alert.severity) < SEVERITIES.indexOf(worst.severity)) worst = alert;
  }
  return worst;
}

export function mount(ctx) {
  const stampSlot = h('div');
  const summary = h('p', { class: 'summary-line' });
  const list = h('div', { class: 'groups' });
  const filter = h('input', { type: 'search', value: ctx.params.q || '', autocomplete: 'off', spellcheck: 'false', placeholder: t('listeners.filter.placeholder') });
  const exposed = h('input', { type: 'checkbox', checked: ctx.params.exposed === 'true' });
  let last = null;
  const apply = () => {
    ctx.setParams({ q: filter.value.trim(), exposed: exposed.checked ? 'true' : '' });
    if (last) render(...last);
  };
  filter.addEventListener('input', apply);
  exposed.addEventListener('change', apply);
  replace(ctx.root,
    h('header', { class: 'page-head' }, h('h1', {}, t('listeners.title')), stampSlot),
    h('form', { class: 'filters', role: 'search', onsubmit: (e) => e.preventDefault() },
      field(t('listeners.filter'), filter, 'grow'),
      h('div', { class: 'field check' }, h('label', {}, exposed, ' ', t('listeners.exposed')))),
    summary, list);

  function render(data, alerts) {
    const text = filter.value.trim().toLowerCase();
    const matches = (g, s) => !text || [g.program, g.exe, g.user, s.service, String(s.local_port), s.local_addr]
      .some((v) => v && String(v).toLowerCase().includes(text));
    const groups = data.programs.map((g) => ({ ...g, shown: g.listeners.filter((s) => matches(g, s) && (!exposed.checked || s.exposure === 'all' || s.exposure === 'address')) }))
      .filter((g) => g.shown.length);
    const everywhere = data.programs.reduce((n, g) => n + g.listeners.filter((s) => s.exposure === 'all').length, 0);
    replace(summary, t('listeners.summary', { n: num(data.total), programs: num(data.programs.length), all: num(everywhere) }));
    if (!groups.length) {
      replace(list, empty(t(data.total ? 'listeners.nomatch' : 'listeners.none')));
      return;
    }
    replace(list, groups.map((g) => {
      const name = g.program || t(`owner.${g.owner_status}`);
      const rows = g.shown.map((s) => ({ s, alert: alertFor(s, alerts) }));
      const worst = rows.map((r) => r.alert).filter(Boolean).sort((a, b) => SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity))[0];
      return h('article', { class: ['group', `group-${g.exposure}`, worst && 'group-alerted'], 'aria-label': name },
        h('header', { class: 'group-head' },
          h('h2', {}, g.program ? h('a', { href: `#/connections?process=${encodeURIComponent(g.program)}`, title: t('listeners.connections', { name }) }, untrusted(name)) : name),
          exposureBadge(g.exposure),
          worst ? h('a', { href: '#/alerts', class: 'badge-link' }, severityBadge(worst.severity)) : null,
          h('span', { class: 'owner muted' },
            g.user ? t('listeners.user', { user: g.user }) : null, ' ',
            g.pids.length ? t('listeners.pids', { pids: g.pids.join(', ') }) : null)),
        g.exe || g.cmdline ? h('dl', { class: 'process' },
          g.exe ? [h('dt', {}, t('col.exe')), h('dd', {}, mono(g.exe))] : null,
          g.cmdline ? [h('dt', {}, t('col.cmdline')), h('dd', {}, mono(g.cmdline))] : null) : null,
        table(t('listeners.of', { name }), [
          { label: t('col.proto') }, { label: t('col.address') }, { label: t('col.port'), className: 'num' }, { label: t('col.service') },
          { label: t('col.category') }, { label: t('col.exposure') }, { label: t('col.alert') },
        ], rows, ({ s, alert }) => h('tr', { class: [alert && `row-sev-${alert.severity}`, s.exposure === 'all' && 'row-all'] },
          h('td', {}, s.proto), h('td', {}, endpoint(s.local_addr, null)),
          h('td', { class: 'num' }, h('a', { href: `#/ports/${s.local_port}?proto=${s.proto}`, class: 'mono', title: t('listeners.explain', { port: s.local_port }) }, String(s.local_port))),
          h('td', {}, s.service || h('span', { class: 'muted' }, t('service.unknown'))),
          h('td', {}, categoryBadge(s.port_category)), h('td', {}, exposureBadge(s.exposure)),
          h('td', {}, alert ? h('a', { href: `#/alerts?status=${alert.status}`, title: alert.reasons?.map((r) => r.reason).join('\n') }, severityBadge(alert.severity), ' ', alert.reasons?.map((r) => r.rule).join(', ')) : ''))));
    }));
  }

  async function refresh() {
    const [data, active] = await Promise.all([api('/api/v1/listeners'), api('/api/v1/alerts?status=active&limit=10000')]);
    last = [data, active.alerts];
    replace(stampSlot, stamp(data.taken_at));
    render(data, active.alerts);
  }

  return { refresh, every: 10000, onLive: (type) => type !== 'snapshot' };
}
