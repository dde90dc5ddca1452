// The dashboard end to end, as an operator meets it: the real agent on a temporary database, the
// page in Debian's headless Chromium. Log in with the token; a program from a temporary directory
// starts listening on 31337 and shows up on Listeners by itself (no reload); the connections
// narrow to it by search, by a click on its name and on its port; its alert is there, with why,
// and is acknowledged and silenced; the port explainer and the history know it; Arabic lays the
// page out right to left; and when the agent goes away the page says so and comes back with it.
// Screenshots of each step go to the artifacts directory.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Agent, tempDir, waitFor, listenerProgram, launchBrowser, screenshot, sleep } from './support.mjs';

const PORT = 31337;
const dir = tempDir('e2e');
const agent = new Agent(dir);
let browser, page, listener, client;
const consoleErrors = [];
const requests = [];

before(async () => {
  await agent.start();
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1360, height: 900 }, locale: 'en-US' });
  page.on('console', (message) => { if (message.type() === 'error') consoleErrors.push(message.text()); });
  page.on('pageerror', (error) => consoleErrors.push(error.message));
  page.on('request', (request) => requests.push(request.url()));
});

after(async () => {
  client?.destroy();
  listener?.kill('SIGKILL');
  await browser?.close();
  await agent.stop();
});

const main = () => page.locator('main');

// In the page: the texts whose colour against their background is under WCAG AA.
function lowContrastTexts() {
  const rgb = (text) => (text.match(/[\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => {
    const c = [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const [r, g, b, a = 1] = rgb(getComputedStyle(el).backgroundColor);
      if (a > 0.5) return [r, g, b];
    }
    return [255, 255, 255];
  };
  const poor = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!node.textContent.trim() || !el.offsetParent || el.closest('svg, .sr, [disabled], option')) continue;
    const style = getComputedStyle(el);
    if (Number(style.opacity) < 1) continue;
    const [l1, l2] = [luminance(rgb(style.color)), luminance(background(el))].sort((a, b) => b - a);
    const ratio = (l1 + 0.05) / (l2 + 0.05);
    const large = parseFloat(style.fontSize) >= 24 || (parseFloat(style.fontSize) >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) poor.push(`${ratio.toFixed(2)} ${el.tagName}.${el.className}: ${node.textContent.trim().slice(0, 30)}`);
  }
  return poor;
}
const visible = (selector, options = {}) => page.locator(selector).filter(options).first().waitFor({ state: 'visible', timeout: 15000 });

test('the dashboard walks an operator from login to an acknowledged alert', async (t) => {
  await t.test('asks for the token, refuses a wrong one and keeps the right one out of the URL', async () => {
    await page.goto(agent.url);
    await visible('#token');
    assert.equal(await page.locator('label[for="token"]').textContent(), 'API token');
    await page.fill('#token', 'not-the-token');
    await page.click('form.login button[type="submit"]');
    await visible('#login-error', { hasText: 'wrong' });
    await screenshot(page, '01-login-wrong-token');
    await page.fill('#token', agent.token);
    await page.press('#token', 'Enter');
    await visible('h1', { hasText: 'Overview' });
    assert.equal(await page.evaluate(() => sessionStorage.getItem('portwatch.token')), agent.token);
    assert.ok(!page.url().includes(agent.token), 'the token is in the URL');
    assert.ok(!requests.some((url) => url.includes(agent.token)), 'the token went into a request URL');
    // The 401s of logging in are the browser's console errors that should be there; none after.
    assert.ok(consoleErrors.every((text) => text.includes('401')), consoleErrors.join('\n'));
    consoleErrors.length = 0;
  });

  await t.test('the overview answers at a glance and says when its data was taken', async () => {
    await visible('.card', { hasText: 'Listening everywhere' });
    await visible('h2', { hasText: 'Listeners by exposure' });
    await visible('h2', { hasText: 'Agent health' });
    await visible('.stamp', { hasText: 'Data taken at' });
    await visible('svg.chart');
    await visible('#live.live-on');
    await page.getByRole('button', { name: 'Last week' }).click();
    await waitFor(() => page.url().includes('range=7d'), 'the week chosen');
    assert.equal(await page.getByRole('button', { name: 'Last week' }).getAttribute('aria-pressed'), 'true');
    await visible('svg.chart');
    await screenshot(page, '02-overview');
  });

  await t.test('a new listener appears on Listeners with its program, without a reload', async () => {
    await page.click('#nav a[data-page="listeners"]');
    await visible('h1', { hasText: 'Listeners' });
    await page.evaluate(() => { window.stillTheSamePage = true; });
    listener = await listenerProgram(dir, 'backdoor', PORT);
    const group = page.locator('article.group[aria-label="backdoor"]');
    await group.waitFor({ state: 'visible', timeout: 15000 });
    await visible('#announce .toast', { hasText: `New listener: backdoor on port ${PORT}/tcp` });
    assert.equal(await page.evaluate(() => window.stillTheSamePage), true, 'the page reloaded');
    const text = await group.textContent();
    assert.match(text, new RegExp(String(PORT)));
    assert.match(text, /Everywhere/);
    assert.match(text, new RegExp(`${dir}/backdoor`));
    assert.match(text, /pid \d+/);
    assert.match(text, /user root/);
    await group.locator('.badge.sev-high').first().waitFor({ timeout: 15000 });
    await screenshot(page, '03-listeners');
  });

  await t.test('connections narrow to a port by search, then to a program and a port by a click', async () => {
    client = net.connect(PORT, '127.0.0.1');
    await new Promise((resolve) => client.on('connect', resolve));
    await page.click('#nav a[data-page="connections"]');
    await visible('h1', { hasText: 'Connections' });
    await page.getByLabel('Search port, address or program').fill(String(PORT));
    // The listener, the client's end and the accepted end.
    await waitFor(async () => (await page.locator('.match-count').getAttribute('data-total')) === '3', 'three sockets on the port', 15000);
    const rows = page.locator('table.grid tbody tr');
    assert.equal(await rows.count(), 3);
    for (const row of await rows.all()) assert.match(await row.textContent(), new RegExp(String(PORT)));
    assert.match(page.url(), new RegExp(`q=${PORT}`));
    await page.getByLabel('Search port, address or program').fill('');
    await page.locator('table.grid tbody button.link', { hasText: 'backdoor' }).first().click();
    await visible('.chip', { hasText: 'Program: backdoor' });
    assert.match(page.url(), /process=backdoor/);
    await waitFor(async () => (await page.locator('.match-count').getAttribute('data-total')) === '2', 'backdoor\'s two sockets', 15000);
    for (const row of await rows.all()) assert.match(await row.textContent(), /backdoor/);
    await page.locator('table.grid tbody button.link.mono', { hasText: String(PORT) }).first().click();
    await visible('.chip', { hasText: `Port: ${PORT}` });
    assert.match(page.url(), new RegExp(`port=${PORT}`));
    await page.getByRole('button', { name: 'PID' }).click();
    await waitFor(async () => (await page.locator('th[aria-sort]').getAttribute('aria-sort')) === 'ascending', 'the PID column sorted');
    await screenshot(page, '04-connections');
  });

  await t.test('the alert for the unusual port says why, and is acknowledged and silenced', async () => {
    await page.click('#nav a[data-page="alerts"]');
    const row = page.locator('tr.alert-row', { hasText: `${PORT}` }).first();
    await row.waitFor({ timeout: 15000 });
    assert.match(await row.textContent(), /High/);
    assert.match(await row.textContent(), /backdoor/);
    await row.locator('button.expander').click();
    await visible('.reasons li', { hasText: 'backdoor_port' });
    await visible('.reasons li', { hasText: 'suspicious_exe' });
    await screenshot(page, '05-alert-open');
    const id = Number((await row.getAttribute('id')).replace('alert-', ''));
    assert.equal((await agent.api(`/api/v1/alerts/${id}`)).status, 'open');
    await row.getByRole('button', { name: 'Acknowledge' }).click();
    await visible(`#alert-${id} .badge.status-acknowledged`);
    await visible('#announce .toast', { hasText: `Alert ${id} acknowledged.` });
    assert.equal((await agent.api(`/api/v1/alerts/${id}`)).status, 'acknowledged');
    await page.locator(`#alert-${id}`).getByLabel('Silence for').selectOption('2h');
    await page.locator(`#alert-${id}`).getByRole('button', { name: 'Silence', exact: true }).click();
    await visible(`#alert-${id}`, { hasText: 'silenced until' });
    const silenced = await agent.api(`/api/v1/alerts/${id}`);
    const hours = (Date.parse(silenced.silenced_until) - Date.now()) / 3600e3;
    assert.ok(hours > 1.9 && hours <= 2, `silenced for ${hours} h`);
    await screenshot(page, '06-alert-acknowledged');
  });

  await t.test('the port explainer and the history know the port', async () => {
    await page.goto(`${agent.url}/#/ports/${PORT}`);
    await visible('h2', { hasText: `Port ${PORT}` });
    const explain = await main().textContent();
    assert.match(explain, /Registered port \(1024–49151\)/);
    assert.match(explain, /reliable and ordered/);
    assert.match(explain, /connectionless/);
    assert.match(explain, /Listening on every interface/);
    assert.match(explain, /backdoor_port: listens on 31337, a port used by backdoors/);
    await visible('table.grid td', { hasText: 'backdoor' });
    await screenshot(page, '07-port-explainer');
    await page.click('#nav a[data-page="history"]');
    await visible('table.grid td', { hasText: 'backdoor' });
    await visible('.badge.change-appeared');
    await screenshot(page, '08-history');
    // What was listening a moment ago, picked in the form, and the port's own past.
    await page.getByRole('link', { name: 'At a moment' }).click();
    const moment = page.getByLabel('Moment (your time zone)');
    await moment.fill(await page.evaluate(() => {
      const d = new Date(Date.now() - 1000);
      return new Date(d - d.getTimezoneOffset() * 60e3).toISOString().slice(0, 19);
    }));
    await page.getByRole('button', { name: 'Show' }).click();
    await visible('h2', { hasText: 'Listening then' });
    await visible('table.grid td', { hasText: 'backdoor' });
    // Listeners and the other sockets come as two server-side pages, each with its own count.
    await visible('h2', { hasText: 'Other sockets then' });
    const listeningThen = await page.locator('h2', { hasText: 'Listening then' }).textContent();
    assert.match(listeningThen, /\(\d+\)/);
    const listeners = Number(listeningThen.match(/\((\d+)\)/)[1]);
    assert.ok(listeners >= 1, `listening then: ${listeningThen}`);
    await page.goto(`${agent.url}/#/history?mode=port&port=${PORT}`);
    await visible('.summary-line', { hasText: `used port ${PORT}` });
    await visible('table.grid td', { hasText: 'backdoor' });
    await visible('.badge', { hasText: 'still open' });
  });

  await t.test('Arabic lays the page out right to left, and the dark theme applies', async () => {
    await page.click('#nav a[data-page="listeners"]');
    await page.getByLabel('Language').selectOption('ar');
    await waitFor(() => page.evaluate(() => document.documentElement.dir === 'rtl' && document.documentElement.lang === 'ar'), 'dir=rtl');
    await visible('#nav a', { hasText: 'نظرة عامة' });
    await visible('h1', { hasText: 'المنافذ المستمعة' });
    await page.locator('article.group[aria-label="backdoor"]').waitFor();
    const box = await page.locator('h1').boundingBox();
    assert.ok(box.x + box.width > 1000, 'the heading is not on the right');
    await screenshot(page, '09-listeners-arabic');
    await page.click('#theme');
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
    await page.click('#nav a[data-page="overview"]');
    await visible('h1', { hasText: 'نظرة عامة' });
    await screenshot(page, '10-overview-arabic-dark');
    await page.getByLabel('اللغة').selectOption('en');
    await waitFor(() => page.evaluate(() => document.documentElement.dir === 'ltr'), 'dir=ltr again');
  });

  await t.test('every control has a label, the keyboard reaches the pages, and nothing broke', async () => {
    for (const name of ['overview', 'listeners', 'connections', 'alerts', 'history', 'ports']) {
      await page.goto(`${agent.url}/#/${name}`);
      await page.locator('main h1').waitFor();
      const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, select, button, a[href]')]
        .filter((el) => el.offsetParent !== null)
        .filter((el) => !(el.labels?.length || el.getAttribute('aria-label') || el.textContent.trim() || el.getAttribute('title')))
        .map((el) => el.outerHTML.slice(0, 80)));
      assert.deepEqual(unlabelled, [], `unlabelled controls on ${name}`);
    }
    // From a fresh load, the keyboard alone: the skip link first, then the pages.
    await page.reload();
    await page.locator('main h1').waitFor();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.className), 'skip');
    for (let i = 0; i < 10 && !(await page.evaluate(() => document.activeElement.dataset?.page === 'listeners')); i++) {
      await page.keyboard.press('Tab');
    }
    await page.keyboard.press('Enter');
    await visible('h1', { hasText: 'Listeners' });
    // Readable contrast (WCAG AA: 4.5:1, 3:1 for large text) for every text on three pages, in
    // both themes.
    for (const theme of ['light', 'dark']) {
      await page.evaluate((value) => { document.documentElement.dataset.theme = value; }, theme);
      for (const name of ['overview', 'listeners', 'alerts']) {
        await page.goto(`${agent.url}/#/${name}`);
        await page.locator('main h1').waitFor();
        await page.locator('.stamp').first().waitFor();
        const poor = await page.evaluate(lowContrastTexts);
        assert.deepEqual(poor, [], `text below AA contrast on ${name} (${theme})`);
      }
    }
    const foreign = requests.filter((url) => !url.startsWith(agent.url) && !url.startsWith('data:'));
    assert.deepEqual(foreign, [], 'requests to anywhere but the agent');
    assert.deepEqual(consoleErrors, [], 'console errors (a CSP violation shows here)');
  });

  await t.test('when the agent goes away the page says so, keeps retrying and recovers', async () => {
    await page.goto(`${agent.url}/#/listeners`);
    await page.locator('article.group[aria-label="backdoor"]').waitFor();
    await agent.stop();
    await visible('#banner', { hasText: 'Cannot reach the portwatch agent' });
    await visible('.stamp.stale', { hasText: 'not current' });
    await visible('#live.live-off');
    await screenshot(page, '11-agent-unreachable');
    await agent.start();  // the same port and token: the page finds it again by itself
    await page.locator('#banner').waitFor({ state: 'hidden', timeout: 20000 });
    await waitFor(async () => (await page.locator('.stamp.stale').count()) === 0, 'fresh data again', 20000);
    await page.locator('article.group[aria-label="backdoor"]').waitFor();
    await sleep(100);
  });
});

test('with api.auth none on loopback the dashboard asks for no token', async () => {
  const open = new Agent(tempDir('e2e-open'), { extraConfig: 'api:\n  auth: none\n' });
  await open.start();
  const context = await browser.newContext({ locale: 'en-US' });
  try {
    const tab = await context.newPage();
    await tab.goto(open.url);
    await tab.locator('h1', { hasText: 'Overview' }).waitFor({ timeout: 15000 });
    assert.equal(await tab.locator('#token').count(), 0, 'a login form without auth');
    assert.equal(await tab.locator('#logout').isVisible(), false);
    await tab.locator('.stamp', { hasText: 'Data taken at' }).waitFor();
  } finally {
    await context.close();
    await open.stop();
  }
});
