// Overview: the answers at a glance — how many sockets of which kind, what is reachable from
// other hosts, what alerted, the trend over the last hour, day or week, and whether the agent
// itself is keeping up.
import { api, query } from '../api.js';
import { t, num, bytes, micros, seconds, time } from '../i18n.js';
import { h, replace, section, stamp, exposureBadge, severityBadge, table, empty, SEVERITIES } from '../dom.js';
import { lineChart } from '../chart.js';

const RANGES = { '1h': ['1h', '30s', 3600e3], '24h': ['24h', '5m', 86400e3], '7d': ['7d', '30m', 7 * 86400e3] };
const EXPOSURES = ['all', 'address', 'loopback'];

function card(label, value, { href, tone, hint } = {}) {
  const body = [h('span', { class: 'card-value' }, value), h('span', { class: 'card-label' }, label), hint && h('span', { class: 'card-hint muted' }, hint)];
  return href ? h('a', { class: ['card', tone], href }, body) : h('div', { class: ['card', tone] }, body);
}

function bar(value, total, tone) {
  const meter = h('meter', { class: tone, min: 0, max: Math.max(1, total), value });
  return meter;
}

export function mount(ctx) {
  let range = RANGES[ctx.params.range] ? ctx.params.range : '1h';
  const stampSlot = h('div');
  const cards = h('div', { class: 'cards' });
  const exposure = h('div');
  const severity = h('div');
  const chart = h('div');
  const states = h('div');
  const health = h('div');
  const rangeButtons = h('div', { class: 'segmented', role: 'group', 'aria-label': t('overview.range') },
    Object.keys(RANGES).map((key) => h('button', {
      type: 'button', 'aria-pressed': String(key === range), 'data-range': key,
      onclick: () => {
        range = key;
        for (const b of rangeButtons.children) b.setAttribute('aria-pressed', String(b.dataset.range === key));
        ctx.setParams({ range: key });
        ctx.refresh();
      },
    }, t(`range.${key}`))));
  replace(ctx.root,
    h('header', { class: 'page-head' }, h('h1', {}, t('overview.title')), stampSlot),
    cards,
    h('div', { class: 'columns' },
      section(t('overview.exposure'), h('p', { class: 'muted small' }, t('overview.exposure.help')), exposure),
      section(t('overview.alerts'), severity)),
    section(t('overview.chart'), rangeButtons, chart),
    h('div', { class: 'columns' }, section(t('overview.states'), states), section(t('overview.health'), health)));

  async function refresh() {
    const [since, step, span] = RANGES[range];
    const [status, active, samples] = await Promise.all([
      api('/api/v1/status'),
      api('/api/v1/alerts?status=active&limit=10000'),
      api(`/api/v1/history/samples${query({ since, step })}`),
    ]);
    const snap = status.last_snapshot;
    replace(stampSlot, snap ? stamp(snap.taken_at) : h('p', { class: 'stamp' }, t('overview.nosnapshot')));
    const byExposure = snap?.listeners_by_exposure || {};
    const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0]));
    for (const alert of active.alerts) bySeverity[alert.severity]++;
    const open = active.alerts.filter((a) => a.status === 'open').length;
    const worst = SEVERITIES.find((s) => bySeverity[s] > 0);

    replace(cards,
      card(t('overview.sockets'), num(snap?.sockets), { href: '#/connections' }),
      card(t('overview.listening'), num(snap?.listeners), { href: '#/listeners' }),
      card(t('overview.established'), num(snap?.established), { href: '#/connections?state=estab' }),
      card(t('overview.processes'), num(snap?.processes)),
      card(t('overview.everywhere'), num(byExposure.all ?? 0), {
        href: '#/connections?listening=true&exposure=all', tone: byExposure.all ? 'tone-warn' : 'tone-ok', hint: t('overview.everywhere.hint'),
      }),
      card(t('overview.openalerts'), num(open), {
        href: '#/alerts', tone: worst ? `tone-sev-${worst}` : 'tone-ok',
        hint: active.alerts.length - open ? t('overview.acknowledged', { n: num(active.alerts.length - open) })
          : t(open ? 'overview.needsattention' : 'overview.allclear'),
      }));

    const listeners = EXPOSURES.reduce((sum, e) => sum + (byExposure[e] || 0), 0);
    replace(exposure, h('ul', { class: 'bars' }, EXPOSURES.map((e) => h('li', {},
      h('a', { href: `#/connections?listening=true&exposure=${e}` }, exposureBadge(e)),
      bar(byExposure[e] || 0, listeners, `m-${e}`),
      h('span', { class: 'bar-value' }, num(byExposure[e] || 0))))));

    replace(severity, active.alerts.length
      ? h('ul', { class: 'bars' }, SEVERITIES.map((s) => h('li', {},
        h('a', { href: `#/alerts?severity=${s}` }, severityBadge(s)),
        bar(bySeverity[s], active.alerts.length, `m-${s}`),
        h('span', { class: 'bar-value' }, num(bySeverity[s])))))
      : empty(t('overview.noalerts')));

    const now = Date.now();
    replace(chart, lineChart(samples.samples, [
      { key: 'established', label: t('chart.established') },
      { key: 'listeners', label: t('chart.listeners') },
    ], now - span, now, t('overview.chart')));

    const protocols = Object.keys(snap?.by_state || {});
    const stateNames = [...new Set(protocols.flatMap((p) => Object.keys(snap.by_state[p])))].sort();
    replace(states, protocols.length
      ? table(t('overview.states'), [{ label: t('col.proto') }, ...stateNames.map((s) => ({ label: s, className: 'num' })), { label: t('col.total'), className: 'num' }],
        protocols, (p) => [h('a', { href: `#/connections?proto=${p}` }, p),
          ...stateNames.map((s) => snap.by_state[p][s] ? h('a', { href: `#/connections?proto=${p}&state=${encodeURIComponent(s.toLowerCase())}` }, num(snap.by_state[p][s])) : h('span', { class: 'muted' }, '·')),
          num(Object.values(snap.by_state[p]).reduce((a, b) => a + b, 0))])
      : empty(t('overview.nosnapshot')));

    const behind = status.store?.behind;
    replace(health, h('dl', { class: 'facts' },
      h('dt', {}, t('health.snapshot')), h('dd', {}, snap ? time(snap.taken_at) : '—'),
      h('dt', {}, t('health.duration')), h('dd', {}, micros(snap?.duration_us), ' ', h('span', { class: 'muted' }, t('health.interval', { ms: num(status.interval_ms) }))),
      h('dt', {}, t('health.store')), h('dd', {}, bytes(status.store?.size_bytes), ' ', behind ? h('span', { class: 'badge sev-high' }, t('health.behind')) : h('span', { class: 'badge tone-ok' }, t('health.current'))),
      h('dt', {}, t('health.outbox')), h('dd', {}, t('health.outbox.value', { pending: num(status.outbox?.pending), failed: num(status.outbox?.failed) }), ' ',
        status.outbox?.failed ? h('a', { href: '#/alerts?view=deliveries' }, t('health.outbox.see')) : null),
      h('dt', {}, t('health.uptime')), h('dd', {}, seconds(status.uptime_s)),
      h('dt', {}, t('health.version')), h('dd', {}, h('bdi', {}, status.version)),
      h('dt', {}, t('health.database')), h('dd', {}, h('bdi', { class: 'mono' }, status.database)),
      snap?.warnings?.length ? [h('dt', {}, t('health.warnings')), h('dd', {}, snap.warnings.join('; '))] : null));
  }

  return { refresh, every: 5000, onLive: (type) => type !== 'snapshot' };
}
