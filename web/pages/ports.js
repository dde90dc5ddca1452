// Port explainer: for any port, what it usually is and what its number means — its category,
// the service usually found there and its protocol — and who holds it on this host right now.
import { api, query } from '../api.js';
import { t, num } from '../i18n.js';
import { h, replace, stamp, section, table, field, select, exposureBadge, categoryBadge, severityBadge, mono, untrusted, empty } from '../dom.js';

const EXAMPLES = [22, 53, 80, 443, 3306, 5432, 6379, 31337];

export function mount(ctx) {
  const port = /^\d{1,5}$/.test(ctx.arg) && Number(ctx.arg) <= 65535 ? Number(ctx.arg) : null;
  const proto = ['tcp', 'udp'].includes(ctx.params.proto) ? ctx.params.proto : '';
  const input = h('input', { type: 'number', min: 0, max: 65535, required: true, value: port ?? '', inputmode: 'numeric' });
  const protoSelect = select([['', t('ports.both')], ['tcp', 'TCP'], ['udp', 'UDP']], proto);
  const go = (p, pr) => { location.hash = `#/ports/${p}${query({ proto: pr })}`; };
  const body = h('div');
  replace(ctx.root,
    h('header', { class: 'page-head' }, h('h1', {}, t('ports.title')), h('p', { class: 'muted' }, t('ports.help'))),
    h('form', { class: 'filters', onsubmit: (e) => { e.preventDefault(); if (input.checkValidity()) go(input.value, protoSelect.value); else input.reportValidity(); } },
      field(t('ports.port'), input), field(t('col.proto'), protoSelect),
      h('div', { class: 'field' }, h('span', { class: 'label-spacer', 'aria-hidden': 'true' }, ' '), h('button', { type: 'submit', class: 'primary' }, t('ports.explain')))),
    h('p', { class: 'examples' }, t('ports.try'), ' ', EXAMPLES.map((p) => h('a', { href: `#/ports/${p}`, class: 'chip' }, String(p)))),
    body);
  if (port === null) {
    replace(body, ctx.arg ? h('p', { class: 'error', role: 'alert' }, t('ports.bad', { value: ctx.arg })) : empty(t('ports.pick')));
    return { refresh: async () => {}, every: Infinity };
  }

  async function refresh() {
    const [r, active] = await Promise.all([api(`/api/v1/ports/${port}${query({ proto })}`), api('/api/v1/alerts?status=active&limit=10000')]);
    // What alerted about this port: the rules' reasons say what the port is known for here.
    const alerts = active.alerts.filter((a) => [a.last_evidence?.local_port, a.last_evidence?.remote_port].includes(port));
    const protocols = r.protocol ? [r.protocol] : ['tcp', 'udp'];
    const reach = !r.held ? 'free' : !r.listening ? 'connected' : r.exposure;
    replace(body,
      stamp(r.taken_at),
      h('section', { class: 'panel explain' },
        h('h2', {}, t('ports.heading', { port: r.port, proto: r.protocol ? `/${r.protocol}` : '' }), ' ',
          r.service ? h('span', { class: 'service' }, r.service) : null),
        h('dl', { class: 'facts wide' },
          h('dt', {}, t('ports.service')), h('dd', {}, r.service ? t('ports.service.is', { service: r.service }) : t('ports.service.none')),
          h('dt', {}, t('col.category')), h('dd', {}, categoryBadge(r.port_category), ' ', t(`cat.${r.port_category}.meaning`)),
          h('dt', {}, t('ports.privileged')), h('dd', {}, t(r.privileged ? 'ports.privileged.yes' : 'ports.privileged.no')),
          h('dt', {}, t('col.proto')), h('dd', {}, h('ul', { class: 'plain' }, protocols.map((p) => h('li', {}, h('strong', {}, p.toUpperCase()), ': ', t(`proto.${p}.meaning`))))),
          h('dt', {}, t('ports.here')), h('dd', {}, r.listening ? exposureBadge(r.exposure) : null, ' ', t(`reach.${reach}`))),
        h('p', { class: 'links' },
          h('a', { href: `#/connections?port=${port}` }, t('ports.connections')), ' · ',
          h('a', { href: `#/history?mode=port&port=${port}` }, t('ports.history')))),
      alerts.length ? section(t('ports.alerts'), h('ul', { class: 'reasons' }, alerts.flatMap((a) => (a.reasons || []).map((reason) =>
        h('li', {}, severityBadge(reason.severity), ' ', h('a', { href: `#/alerts?status=${a.status}` }, reason.rule), ': ', reason.reason))))) : null,
      section(t('ports.holders'), r.holders.length
        ? table(t('ports.holders'), [{ label: t('col.program') }, { label: t('col.pid'), className: 'num' }, { label: t('col.user') }, { label: t('col.exe') },
          { label: t('ports.listening') }, { label: t('ports.conns'), className: 'num' }], r.holders, (x) => [
          x.process ? h('a', { href: `#/connections?process=${encodeURIComponent(x.process)}` }, untrusted(x.process)) : t(`owner.${x.owner_status}`),
          x.pid == null ? '' : mono(String(x.pid)), untrusted(x.user) || '', x.exe ? mono(x.exe) : '',
          x.listening.length ? x.listening.map((l) => h('div', {}, mono(l))) : h('span', { class: 'muted' }, '—'), num(x.connections)])
        : empty(t('ports.free'))));
  }

  return { refresh, every: 10000, onLive: (type) => type.startsWith('listener_') };
}
