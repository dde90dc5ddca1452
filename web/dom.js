// Building the page: elements, the badges every page shares (exposure, severity, category,
// address class), addresses, and the "data taken at" stamp each view carries.
import { t, time, ago, toMillis } from './i18n.js';

// h('a', {href, class, onclick}, 'text', child, [more]): attributes starting with "on" are
// listeners; null, false and undefined children are skipped. Nothing is parsed as HTML: data from
// the agent (process names, command lines) is always text, and every text and tooltip goes through
// visible(), so a hostile name cannot break a line or reverse what follows it.
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

// The same for SVG elements (the charts).
export function svg(tag, attrs, ...children) {
  return build(document.createElementNS('http://www.w3.org/2000/svg', tag), attrs, children);
}

// Control characters and bidirectional formatting characters (U+061C, U+200E-F, U+202A-E,
// U+2066-9, and the line and paragraph separators) as visible escapes, "\u202e", as the CLI shows
// them (collectors/untrusted_text.h).
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;
// A tooltip may keep its line breaks (one reason a line): it cannot forge a row.
export function visible(text, keepNewlines = false) {
  return text.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    if (c === '\n') return keepNewlines ? c : '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    return code < 0x80 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

// Text another program chose (a process name, a user), isolated from the text around it so that
// right-to-left letters in it cannot reorder the sentence or the row it sits in.
export const untrusted = (text) => text ? h('bdi', {}, text) : text;

function build(el, attrs, children) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'title' || key.startsWith('aria-')) el.setAttribute(key, visible(String(value), key === 'title'));
    else if (key === 'class') el.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : value);
    else el.setAttribute(key, value === true ? '' : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : visible(String(child)));
  }
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// The agent's severities, most severe first.
export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'];

export function badge(kind, value, text, title) {
  return h('span', { class: `badge ${kind}-${value}`, title }, text ?? t(`${kind}.${value}`));
}

export const exposureBadge = (value) => badge('exposure', value, t(`exposure.${value}`), t(`exposure.${value}.hint`));
export const severityBadge = (value) => badge('sev', value, t(`sev.${value}`));
export const categoryBadge = (value) => value && value !== 'none' ? badge('cat', value, t(`cat.${value}`), t(`cat.${value}.meaning`)) : null;
export const classBadge = (value) => value && value !== 'none' ? badge('class', value, t(`class.${value}`)) : null;

// "127.0.0.1:22", "[::1]:22", or "*" for an address-less socket; always left to right.
export function endpoint(address, port) {
  if (!address) return h('bdi', { class: 'mono muted' }, '*');
  const host = address.includes(':') ? `[${address}]` : address;
  return h('bdi', { class: 'mono', dir: 'ltr' }, port == null ? address : `${host}:${port}`);
}

export const mono = (text) => h('bdi', { class: 'mono', dir: 'ltr' }, text ?? '—');

// When this view's data was taken; turned "not current" by the app while the agent is away.
export function stamp(at, key = 'stamp.taken') {
  const el = h('p', { class: 'stamp', 'data-at': toMillis(at) });
  el.append(h('span', {}, t(key, { time: time(at) })), ' ', h('span', { class: 'age muted' }, `(${ago(at)})`),
    h('strong', { class: 'stale-note' }, t('stamp.stale')));
  return el;
}

export function refreshStamps(stale) {
  for (const el of document.querySelectorAll('.stamp')) {
    el.classList.toggle('stale', stale);
    const age = el.querySelector('.age');
    if (age) age.textContent = `(${ago(Number(el.dataset.at))})`;
  }
}

export function errorBox(message) {
  return h('p', { class: 'error', role: 'alert' }, message);
}

export function empty(text) { return h('p', { class: 'empty muted' }, text); }

// A titled section: <section><h2>title</h2>…</section>
export function section(title, ...children) {
  return h('section', { class: 'panel' }, h('h2', {}, title), ...children);
}

// A labelled control: label text above the field.
export function field(label, control, extra) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  return h('div', { class: ['field', extra] }, h('label', { for: id }, label), control);
}

export function select(options, value, attrs = {}) {
  return h('select', attrs, options.map(([v, text]) => h('option', { value: v, selected: String(v) === String(value ?? '') }, text)));
}

// A compact table; columns: [{label, className, sort}] and a row renderer returning cells.
export function table(caption, columns, rows, renderRow, { sortKey, onSort } = {}) {
  const head = h('tr', {}, columns.map((column) => {
    const ariaSort = column.sort && sortKey?.replace(/^-/, '') === column.sort
      ? (sortKey.startsWith('-') ? 'descending' : 'ascending') : null;
    const inner = column.sort && onSort
      ? h('button', { type: 'button', class: 'sort', onclick: () => onSort(column.sort) }, column.label,
        h('span', { 'aria-hidden': 'true', class: 'arrow' }, ariaSort === 'ascending' ? '▲' : ariaSort === 'descending' ? '▼' : ''))
      : column.label;
    return h('th', { scope: 'col', class: column.className, 'aria-sort': ariaSort }, inner);
  }));
  const body = h('tbody', {}, rows.map((row, i) => {
    const cells = renderRow(row, i);
    return cells instanceof Node ? cells : h('tr', {}, cells.map((cell, c) => h('td', { class: columns[c]?.className }, cell)));
  }));
  return h('div', { class: 'scroll' }, h('table', { class: 'grid' }, h('caption', { class: 'sr' }, caption), h('thead', {}, head), body));
}

export function chip(label, onRemove) {
  return h('span', { class: 'chip' }, label,
    h('button', { type: 'button', class: 'chip-x', 'aria-label': t('filter.remove', { name: label }), onclick: onRemove }, '×'));
}
