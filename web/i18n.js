// Languages: the strings of i18n/<lang>.json, English as the fallback for any missing key, and
// numbers, times and durations formatted for the chosen language. Arabic lays the page out
// right to left; digits stay Latin in both, as ports and addresses are.
const RTL = new Set(['ar']);
export const LANGUAGES = ['en', 'ar'];
const STORE = 'portwatch.lang';
let lang = 'en';
let strings = {};
let fallback = {};
let locale = 'en';

async function load(code) {
  const response = await fetch(`/assets/i18n/${code}.json`);
  if (!response.ok) throw new Error(`cannot load the ${code} strings (HTTP ${response.status})`);
  return response.json();
}

export function language() { return lang; }

export function savedLanguage() {
  const saved = localStorage.getItem(STORE);
  if (LANGUAGES.includes(saved)) return saved;
  const browser = (navigator.language || 'en').slice(0, 2);
  return LANGUAGES.includes(browser) ? browser : 'en';
}

export async function setLanguage(code) {
  if (!LANGUAGES.includes(code)) code = 'en';
  if (!Object.keys(fallback).length) fallback = await load('en');
  strings = code === 'en' ? fallback : await load(code);
  lang = code;
  locale = `${code}-u-nu-latn`;
  localStorage.setItem(STORE, code);
  const root = document.documentElement;
  root.lang = code;
  root.dir = RTL.has(code) ? 'rtl' : 'ltr';
  translateStatic(document);
}

// Elements in the page shell carry data-i18n (text) or data-i18n-label (aria-label).
export function translateStatic(root) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-label]')) {
    el.setAttribute('aria-label', t(el.dataset.i18nLabel));
  }
}

// t(key, {n: 3}): the string for key with {n} replaced.
export function t(key, params) {
  let text = strings[key] ?? fallback[key] ?? key;
  if (params) text = text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? params[name] : m));
  return text;
}

export function num(value) {
  return value == null ? '—' : new Intl.NumberFormat(locale).format(value);
}

export function bytes(value) {
  if (value == null) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (value >= 1024 && i < units.length - 1) { value /= 1024; i++; }
  const digits = i === 0 || value >= 100 ? 0 : 1;
  return `${new Intl.NumberFormat(locale, { maximumFractionDigits: digits }).format(value)} ${units[i]}`;
}

// A moment given as ISO text or Unix milliseconds.
export function toMillis(at) { return typeof at === 'number' ? at : Date.parse(at); }

export function time(at, withDate = true) {
  if (at == null) return '—';
  const options = withDate ? { dateStyle: 'medium', timeStyle: 'medium' } : { timeStyle: 'medium' };
  return new Intl.DateTimeFormat(locale, options).format(new Date(toMillis(at)));
}

export function shortTime(at, span) {
  const options = span > 2 * 86400e3 ? { month: 'short', day: 'numeric', hour: '2-digit' }
    : { hour: '2-digit', minute: '2-digit' };
  return new Intl.DateTimeFormat(locale, options).format(new Date(at));
}

export function ago(at) {
  const seconds = Math.round((toMillis(at) - Date.now()) / 1000);
  const format = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });
  const steps = [[60, 'second'], [3600, 'minute'], [86400, 'hour'], [Infinity, 'day']];
  let unit = 1;
  for (const [limit, name] of steps) {
    if (Math.abs(seconds) < limit) return format.format(Math.round(seconds / unit), name);
    unit = limit;
  }
  return '';
}

export function micros(us) {
  if (us == null) return '—';
  return us < 1000 ? `${num(us)} µs` : `${new Intl.NumberFormat(locale, { maximumFractionDigits: 1 }).format(us / 1000)} ms`;
}

export function seconds(total) {
  if (total == null) return '—';
  const d = Math.floor(total / 86400), h = Math.floor(total / 3600) % 24, m = Math.floor(total / 60) % 60;
  return d ? t('time.dh', { d, h }) : h ? t('time.hm', { h, m }) : t('time.ms', { m, s: total % 60 });
}
