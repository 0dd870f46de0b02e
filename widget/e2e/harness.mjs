// Shared parts of the browser tests: building and running `hitch serve --demo` on a free port with its own
// SQLite database, and launching Debian's Chromium through playwright-core (never a downloaded browser).
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const SHOTS = path.join(ROOT, 'test-results', 'screenshots');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const run = promisify(execFile);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function freePort() {
  const s = net.createServer();
  await new Promise((res) => s.listen(0, '127.0.0.1', res));
  const { port } = s.address();
  await new Promise((res) => s.close(res));
  return port;
}

/**
 * A built hitch binary serving --demo from a temporary directory. `extraEnv` adds HITCH_* settings.
 * Returns {url, bin, tmp, env(extra), log(), logTail(), stop()}.
 */
export async function startHitch(extraEnv = {}) {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'hitch-e2e-'));
  await mkdir(SHOTS, { recursive: true });
  const bin = path.join(tmp, 'hitch');
  await run('go', ['build', '-o', bin, './cmd/hitch'], { cwd: ROOT });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // The caller's environment minus any HITCH_* that could point the binary elsewhere.
  const envFor = (extra) => {
    const e = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HITCH_')) e[k] = v;
    return { ...e, HITCH_DATABASE_URL: `sqlite://${tmp}/hitch.db`, HITCH_LOG_LEVEL: 'info', ...extra };
  };
  const lines = [];
  const server = spawn(bin, ['serve', '--demo'], {
    cwd: tmp,
    env: envFor({ HITCH_LISTEN: `127.0.0.1:${port}`, ...extraEnv }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout.on('data', (b) => lines.push(String(b)));
  server.stderr.on('data', (b) => lines.push(String(b)));
  const log = () => lines.join('');
  const logTail = () => log().split('\n').slice(-40).join('\n');
  const end = Date.now() + 30_000;
  for (;;) {
    if (server.exitCode != null) throw new Error('hitch exited:\n' + logTail());
    try {
      if ((await fetch(url + '/readyz')).ok) break;
    } catch {}
    if (Date.now() > end) throw new Error(`${url} not ready:\n` + logTail());
    await sleep(100);
  }
  const stop = async () => {
    if (server.exitCode == null) {
      server.kill('SIGTERM');
      await new Promise((res) => {
        const t = setTimeout(() => (server.kill('SIGKILL'), res()), 5000);
        server.once('exit', () => (clearTimeout(t), res()));
      });
    }
    await rm(tmp, { recursive: true, force: true });
  };
  return { url, bin, tmp, env: envFor, log, logTail, stop, server };
}

/** Headless Debian Chromium; playwright adds --headless and a fresh temporary --user-data-dir itself. */
export function launchChromium() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, name), fullPage: true });
}

/**
 * Runs fn(context) in a fresh browser context (own cookies). Script errors and CSP refusals on any page fail
 * it; failed loads (a favicon 404, the 422 of a refused form) are pages' normal answers, not problems. On
 * failure the tail of the server log (logTail()) is printed under the test's name.
 */
export async function withContext(browser, { name, viewport, logTail }, fn) {
  const context = await browser.newContext({ viewport });
  const problems = [];
  context.on('weberror', (e) => problems.push('uncaught: ' + e.error().message));
  context.on('console', (m) => {
    if (m.type() == 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`${m.page()?.url()}: ${m.text()}`);
  });
  try {
    await fn(context);
    assert.deepEqual(problems, [], 'console errors');
  } catch (e) {
    console.error(`--- hitch log (last lines) for "${name}":\n${logTail()}`);
    throw e;
  } finally {
    await context.close();
  }
}
