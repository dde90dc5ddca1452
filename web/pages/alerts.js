// Alerts: open, acknowledged and resolved, with how often and since when; acknowledge, silence
// for a while, or accept into the baseline; and whether each notification target got them.
import { api, query } from '../api.js';
import { t, num, time, ago } from '../i18n.js';
import { h, replace, stamp, section, select, severityBadge, badge, endpoint, mono, untrusted, empty, errorBox, SEVERITIES } from '../dom.js';

const STATUSES = ['active', 'open', 'acknowledged', 'resolved', 'all'];
const SILENCE = ['15m', '1h', '2h', '8h', '24h', '7d'];

function evidenceFacts(e) {
  if (!e || !Object.keys(e).length) return null;
  const rows = [
    ['col.program', untrusted(e.process || e.name)], ['col.pid', e.pid], ['col.user', untrusted(e.user)], ['col.exe', e.exe && mono(e.exe)],
    ['col.cmdline', e.cmdline && mono(e.cmdline)],
    ['col.local', e.local_addr !== undefined ? endpoint(e.local_addr, e.local_port) : null],
    ['col.remote', e.remote_addr && e.direction !== 'listen' ? endpoint(e.remote_addr, e.remote_port) : null],
    ['col.service', e.service], ['col.state', e.state],
  ].filter(([, v]) => v !== undefined && v !== null && v !== '');
  return h('dl', { class: 'facts' }, rows.map(([key, value]) => [h('dt', {}, t(key)), h('dd', {}, value)]));
}

export function mount(ctx) {
  const status = STATUSES.includes(ctx.params.status) ? ctx.params.status : 'active';
  const severity = SEVERITIES.includes(ctx.params.severity) ? ctx.params.severity : '';
  const stampSlot = h('div');
  const list = h('div');
  const targets = h('div');
  const open = new Set();
  const tabs = h('div', { class: 'segmented', role: 'group', 'aria-label': t('alerts.status') },
    STATUSES.map((s) => h('a', { href: `#/alerts${query({ status: s, severity })}`, 'aria-current': s === status ? 'true' : null }, t(`alerts.tab.${s}`))));
  const minimum = select([['', t('filter.any')], ...SEVERITIES.map((s) => [s, t('alerts.atleast', { severity: t(`sev.${s}`) })])], severity, {
    id: 'alert-severity', onchange: (e) => { location.hash = `#/alerts${query({ status, severity: e.target.value })}`; },
  });
  replace(ctx.root,
    h('header', { class: 'page-head' }, h('h1', {}, t('alerts.title')), stampSlot),
    h('div', { class: 'toolbar' }, tabs, h('div', { class: 'field inline' }, h('label', { for: 'alert-severity' }, t('alerts.severity')), minimum)),
    list,
    section(t('alerts.targets'), targets));

  async function act(alert, action, body, row) {
    const note = row.querySelector('.action-error');
    try {
      await api(`/api/v1/alerts/${alert.id}/${action}`, { method: 'POST', body });
      ctx.announce(t(`alerts.done.${action}`, { id: alert.id }));
      await ctx.refresh();
    } catch (error) {
      if (note) replace(note, error.message);
    }
  }

  function actions(alert, row) {
    if (alert.status === 'resolved' && !alert.silenced_until) return h('span', { class: 'muted' }, alert.accepted ? t('alerts.accepted') : '');
    const duration = select(SILENCE.map((d) => [d, t(`silence.${d}`)]), '2h', { 'aria-label': t('alerts.silencefor') });
    const confirm = h('span', { class: 'confirm', hidden: true },
      h('span', {}, t('alerts.accept.confirm')), ' ',
      h('button', { type: 'button', class: 'danger', onclick: () => act(alert, 'accept', undefined, row) }, t('alerts.accept.yes')),
      h('button', { type: 'button', onclick: () => { confirm.hidden = true; acceptButton.hidden = false; acceptButton.focus(); } }, t('alerts.cancel')));
    const acceptButton = h('button', { type: 'button', onclick: () => { confirm.hidden = false; acceptButton.hidden = true; confirm.querySelector('button').focus(); } }, t('alerts.accept'));
    return h('div', { class: 'actions' },
      alert.status === 'open' ? h('button', { type: 'button', class: 'primary', onclick: () => act(alert, 'ack', undefined, row) }, t('alerts.ack')) : null,
      h('span', { class: 'silence' }, duration, h('button', { type: 'button', onclick: () => act(alert, 'silence', { for: duration.value }, row) }, t('alerts.silence'))),
      alert.accepted ? h('span', { class: 'muted' }, t('alerts.accepted')) : [acceptButton, confirm],
      h('span', { class: 'action-error error', role: 'alert' }));
  }

  async function details(alert, cell) {
    const full = await api(`/api/v1/alerts/${alert.id}`);
    replace(cell,
      h('div', { class: 'detail-grid' },
        h('div', {}, h('h3', {}, t('alerts.reasons')),
          h('ul', { class: 'reasons' }, (full.reasons || []).map((r) => h('li', {}, severityBadge(r.severity), ' ', h('strong', {}, r.rule), r.mitre ? h('span', { class: 'muted' }, ` (${r.mitre})`) : null, h('br'), r.reason))),
          h('h3', {}, t('alerts.evidence')), evidenceFacts(full.last_evidence) || empty(t('alerts.noevidence'))),
        h('div', {}, h('h3', {}, t('alerts.timeline')),
          h('ol', { class: 'timeline' }, full.events.map((e) => h('li', {}, h('time', { datetime: e.at }, time(e.at)), ' ', t(`alert.event.${e.event}`), e.detail ? h('span', { class: 'muted' }, ` — ${/^\d{12,}$/.test(e.detail) ? t('alerts.until', { time: time(Number(e.detail)) }) : e.detail}`) : null))),
          h('h3', {}, t('alerts.deliveries')),
          full.deliveries.length
            ? h('ul', { class: 'deliveries' }, full.deliveries.map((d) => h('li', {}, h('strong', {}, d.target), ' ', badge('delivery', d.status, t(`delivery.${d.status}`)), ' ',
              t(`alert.event.${d.event}`), ' · ', t('alerts.attempts', { n: num(d.attempts) }),
              d.last_error ? h('span', { class: 'error-text' }, ` — ${d.last_error}`) : null)))
            : empty(t('alerts.nodeliveries')))));
  }

  function row(alert) {
    const id = `alert-${alert.id}`;
    const detail = h('td', { colspan: 6, class: 'detail' });
    const detailRow = h('tr', { id: `${id}-detail`, class: 'detail-row', hidden: !open.has(alert.id) }, detail);
    const toggle = h('button', {
      type: 'button', class: 'link expander', 'aria-expanded': String(open.has(alert.id)), 'aria-controls': `${id}-detail`,
      onclick: () => {
        const show = detailRow.hidden;
        detailRow.hidden = !show;
        toggle.setAttribute('aria-expanded', String(show));
        if (show) { open.add(alert.id); details(alert, detail).catch((e) => replace(detail, errorBox(e.message))); } else open.delete(alert.id);
      },
    }, alert.title);
    if (open.has(alert.id)) details(alert, detail).catch((e) => replace(detail, errorBox(e.message)));
    const actionCell = h('td', {});
    const main = h('tr', { id, class: ['alert-row', `row-sev-${alert.severity}`], 'data-status': alert.status },
      h('td', {}, severityBadge(alert.severity)),
      h('td', { class: 'alert-what' }, toggle, h('div', { class: 'muted small' }, (alert.reasons || []).map((r) => r.reason).join(' · '))),
      h('td', { class: 'num' }, num(alert.count)),
      h('td', {}, h('time', { datetime: alert.first_seen, title: time(alert.first_seen) }, ago(alert.first_seen)), h('br'),
        h('span', { class: 'muted small' }, t('alerts.last', { when: ago(alert.last_seen) }))),
      h('td', {}, badge('status', alert.status, t(`status.${alert.status}`)),
        alert.silenced_until && Date.parse(alert.silenced_until) > Date.now() ? h('div', { class: 'muted small' }, t('alerts.silenced', { until: time(alert.silenced_until) })) : null,
        alert.resolved_at ? h('div', { class: 'muted small' }, t('alerts.resolvedat', { when: time(alert.resolved_at) })) : null),
      actionCell);
    actionCell.append(actions(alert, main));
    return [main, detailRow];
  }

  async function refresh() {
    const [data, notifications] = await Promise.all([
      api(`/api/v1/alerts${query({ status: status === 'all' ? '' : status, severity, limit: 500 })}`),
      api('/api/v1/notifications?limit=1'),
    ]);
    replace(stampSlot, stamp(Date.now(), 'stamp.queried'));
    replace(list, data.alerts.length
      ? h('div', { class: 'scroll' }, h('table', { class: 'grid alerts' },
        h('caption', { class: 'sr' }, t('alerts.title')),
        h('thead', {}, h('tr', {}, ['col.severity', 'col.alert', 'col.count', 'col.seen', 'col.status', 'col.actions'].map((k) => h('th', { scope: 'col', class: k === 'col.count' ? 'num' : null }, t(k))))),
        h('tbody', {}, data.alerts.map(row))))
      : empty(t(`alerts.none.${status}`)));
    const names = Object.keys(notifications.targets);
    replace(targets, names.length
      ? h('div', { class: 'scroll' }, h('table', { class: 'grid' }, h('caption', { class: 'sr' }, t('alerts.targets')),
        h('thead', {}, h('tr', {}, ['col.target', 'delivery.pending', 'delivery.delivered', 'delivery.failed', 'delivery.skipped'].map((k, i) => h('th', { scope: 'col', class: i ? 'num' : null }, t(k))))),
        h('tbody', {}, names.map((name) => {
          const c = notifications.targets[name];
          return h('tr', { class: c.failed ? 'row-sev-high' : null }, h('td', {}, name), ...['pending', 'delivered', 'failed', 'skipped'].map((k) => h('td', { class: 'num' }, num(c[k]))));
        }))))
      : empty(t('alerts.notargets')));
  }

  return { refresh, every: 10000, onLive: (type) => type.startsWith('alert_') };
}
