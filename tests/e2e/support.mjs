// What the dashboard's browser tests share: the real portwatch agent on a temporary database,
// Debian's Chromium driven by playwright-core, programs that hold sockets, and waiting.
//
// The tests run inside a network namespace of their own (run.sh), so the agent sees only the
// sockets they open and every byte stays on that namespace's loopback.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, existsSync, readFileSync, copyFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BINARY = process.env.PORTWATCH_BINARY || join(ROOT, 'build/dev/portwatch');
export const ARTIFACTS = process.env.PORTWATCH_E2E_ARTIFACTS || join(ROOT, 'build/e2e-artifacts');
export const CHROMIUM = process.env.PORTWATCH_CHROMIUM || '/usr/bin/chromium';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls `check` until it returns something truthy, or fails naming `what`.
export async function waitFor(check, what, timeout = 15000) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last) return last;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${last})`);
    await sleep(100);
  }
}

export function tempDir(name) {
  return mkdtempSync(join(tmpdir(), `portwatch-${name}-`));
}

// The real agent: `portwatch agent --listen 127.0.0.1:PORT` on a database in `dir`. Its URL and
// token come from the files it writes beside the database, as a user would read them.
export class Agent {
  constructor(dir, { interval = '250ms', port = 0, extraConfig = '' } = {}) {
    this.dir = dir;
    this.state = join(dir, 'state');
    mkdirSync(this.state, { recursive: true });
    this.db = join(this.state, 'history.db');
    this.config = join(dir, 'portwatch.yaml');
    writeFileSync(this.config, `interval: ${interval}\n${extraConfig}`);
    this.port = port;
    this.stderr = '';
  }

  async start() {
    if (!existsSync(BINARY)) throw new Error(`no portwatch binary at ${BINARY}: build it, or set PORTWATCH_BINARY`);
    rmSync(join(this.state, 'api.address'), { force: true });
    this.process = spawn(BINARY, ['agent', '--config', this.config, '--db', this.db, '--listen', `127.0.0.1:${this.port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.process.stderr.on('data', (chunk) => { this.stderr += chunk; });
    this.exited = new Promise((r) => this.process.on('exit', r));
    const address = join(this.state, 'api.address');
    this.url = await waitFor(() => existsSync(address) && readFileSync(address, 'utf8').trim(), `the agent's api.address\n${this.stderr}`);
    this.port = Number(new URL(this.url).port);
    this.token = readFileSync(join(this.state, 'api.token'), 'utf8').trim();
    await waitFor(async () => (await fetch(`${this.url}/readyz`)).ok, 'the agent to be ready');
    return this;
  }

  async stop() {
    if (!this.process || this.process.exitCode !== null) return;
    this.process.kill('SIGTERM');
    await Promise.race([this.exited, sleep(5000)]);
    if (this.process.exitCode === null) this.process.kill('SIGKILL');
  }

  async api(path, init = {}) {
    const response = await fetch(`${this.url}${path}`, { ...init, headers: { Authorization: `Bearer ${this.token}`, ...(init.headers || {}) } });
    const body = await response.json();
    if (!response.ok) throw new Error(`${path}: ${response.status} ${body.error}`);
    return body;
  }
}

// A program copied to `dir` under `name` (so its exe lives in a temporary directory) listening
// on 0.0.0.0:port and accepting every connection. Resolves once the port is bound.
export async function listenerProgram(dir, name, port) {
  const program = join(dir, name);
  copyFileSync('/usr/bin/python3', program);
  const script = [
    'import socket, sys',
    's = socket.socket()',
    's.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
    `s.bind(("0.0.0.0", ${port}))`,
    's.listen(16)',
    'print("ready", flush=True)',
    'held = []',
    'while True: held.append(s.accept()[0])',
  ].join('\n');
  const child = spawn(program, ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolveReady, reject) => {
    child.stdout.on('data', (chunk) => { if (String(chunk).includes('ready')) resolveReady(); });
    child.on('exit', (code) => reject(new Error(`${name} exited with ${code} before listening`)));
  });
  return child;
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
}

export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}
