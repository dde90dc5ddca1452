// The dashboard's files on their own, without a browser: the size budget, the two languages
// saying the same things, nothing inline the Content-Security-Policy would block, nothing
// fetched from elsewhere, and the live stream's parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from './support.mjs';
import { parseBlock } from '../../web/live.js';

const WEB = join(ROOT, 'web');
const BUDGET = 150 * 1024;

function files(dir = WEB) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}
const read = (path) => readFileSync(path, 'utf8');
const scripts = () => files().filter((f) => f.endsWith('.js'));

test('the whole dashboard (HTML, JS, CSS) is under 150 KB uncompressed', () => {
  const code = files().filter((f) => /\.(html|js|css)$/.test(f));
  const total = code.reduce((sum, f) => sum + statSync(f).size, 0);
  const everything = files().reduce((sum, f) => sum + statSync(f).size, 0);
  console.log(`dashboard: ${total} bytes of HTML+JS+CSS, ${everything} bytes with strings and icon`);
  assert.ok(total < BUDGET, `HTML+JS+CSS is ${total} bytes, over the ${BUDGET} budget`);
  assert.ok(everything < BUDGET, `web/ is ${everything} bytes, over the ${BUDGET} budget`);
});

test('English and Arabic have the same keys, and every key the code names exists', () => {
  const en = JSON.parse(read(join(WEB, 'i18n/en.json')));
  const ar = JSON.parse(read(join(WEB, 'i18n/ar.json')));
  assert.deepEqual(Object.keys(ar).sort(), Object.keys(en).sort());
  for (const [key, value] of Object.entries(ar)) {
    const placeholders = (text) => (text.match(/\{\w+\}/g) || []).sort();
    assert.deepEqual(placeholders(value), placeholders(en[key]), `placeholders of ${key}`);
    assert.ok(value.trim(), `ar.json leaves ${key} empty`);
  }
  const html = read(join(WEB, 'index.html'));
  const named = new Set([...html.matchAll(/data-i18n(?:-label)?="([^"]+)"/g)].map((m) => m[1]));
  for (const file of scripts()) {
    for (const m of read(file).matchAll(/\bt\('([a-z][\w.-]*)'/g)) named.add(m[1]);
  }
  // Keys built from the agent's own vocabulary, as the pages build them.
  const families = {
    sev: ['critical', 'high', 'medium', 'low', 'info'],
    exposure: ['all', 'address', 'loopback', 'none'],
    class: ['public', 'private', 'loopback', 'multicast', 'none'],
    direction: ['listen', 'inbound', 'outbound', 'local', 'none'],
    owner: ['known', 'kernel', 'no-permission', 'process-gone', 'not-collected'],
    status: ['open', 'acknowledged', 'resolved'],
    'alert.event': ['opened', 'reopened', 'resolved', 'acknowledged', 'silenced', 'accepted', 'escalated'],
    delivery: ['pending', 'delivered', 'failed', 'skipped'],
    cat: ['well-known', 'registered', 'dynamic'],
    reach: ['free', 'connected', 'all', 'address', 'loopback', 'none'],
  };
  for (const [prefix, values] of Object.entries(families)) for (const v of values) named.add(`${prefix}.${v}`);
  for (const v of ['well-known', 'registered', 'dynamic']) named.add(`cat.${v}.meaning`);
  for (const v of ['all', 'address', 'loopback', 'none']) named.add(`exposure.${v}.hint`);
  const missing = [...named].filter((key) => !(key in en));
  assert.deepEqual(missing, [], 'keys the code uses but en.json lacks');
});

test('index.html preloads the modules the shell imports, so they load at once, not level by level', () => {
  const html = read(join(WEB, 'index.html'));
  const preloaded = [...html.matchAll(/rel="modulepreload" href="\/assets\/([^"]+)"/g)].map((m) => m[1]).sort();
  // app.js's static imports and theirs; pages come with import() when first shown.
  const imported = new Set();
  const walk = (module) => {
    for (const m of read(join(WEB, module)).matchAll(/^import [^;]* from '\.\/([^']+)';/gm)) {
      if (!imported.has(m[1])) { imported.add(m[1]); walk(m[1]); }
    }
  };
  walk('app.js');
  assert.deepEqual(preloaded, [...imported].sort());
  for (const page of scripts().map((f) => relative(WEB, f)).filter((f) => f.startsWith('pages/'))) {
    assert.match(read(join(WEB, 'app.js')), new RegExp(`import\\('\\./${page}'\\)`), `app.js does not load ${page}`);
  }
});

test('nothing inline, nothing from elsewhere, no innerHTML', () => {
  const html = read(join(WEB, 'index.html'));
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'an inline <script>');
  assert.doesNotMatch(html, /<style|\sstyle=/, 'an inline style');
  assert.doesNotMatch(html, /\son[a-z]+=/, 'an inline event handler');
  for (const file of files().filter((f) => !f.endsWith('.json'))) {
    const code = file.endsWith('.js');
    const text = read(file).replace(/xmlns="http:\/\/www\.w3\.org\/2000\/svg"|'http:\/\/www\.w3\.org\/2000\/svg'/g, '');
    const name = relative(WEB, file);
    assert.doesNotMatch(text, /https?:\/\//, `${name} refers to another site`);
    assert.doesNotMatch(text, /@import|url\(/, `${name} loads a stylesheet or font`);
    if (!code) continue;
    assert.doesNotMatch(text, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/, `${name} builds HTML from text`);
    assert.doesNotMatch(text, /setAttribute\('style'|\bstyle:/, `${name} sets an inline style`);
  }
});

test('the live stream parser reads ids, types and data, and skips keep-alives', () => {
  assert.deepEqual(parseBlock('id: 7\nevent: alert_opened\ndata: {"id":1}'), { id: '7', type: 'alert_opened', data: '{"id":1}' });
  assert.deepEqual(parseBlock('data: a\ndata: b'), { id: null, type: 'message', data: 'a\nb' });
  assert.equal(parseBlock(': keep-alive'), null);
  assert.equal(parseBlock('retry: 2000'), null);
});
