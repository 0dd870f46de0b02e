// Real-browser end-to-end tests of the connect flow: the built `hitch serve --demo`, host pages on other
// origins that load /sdk/hitch.js exactly as a host app would, and headless Debian Chromium driven by
// playwright-core. Each case clicks through the popup and asserts what the host page's promise settled to.
//
// Run: npm run e2e (needs Go and /usr/bin/chromium; scripts/test installs chromium when missing).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { SHOTS, freePort, launchChromium, run, sleep, startHitch, withContext } from './harness.mjs';

/** Everything before() sets up and after() tears down. */
const env = {
  hitchServer: null, // startHitch()'s handle
  hitch: '', // http://127.0.0.1:PORT, the Hitch origin
  host: '', // the plain host page's origin
  coopHost: '', // the host page that sends Cross-Origin-Opener-Policy: same-origin
  evil: '', // an origin nobody allowed, for forged messages
  token: '',
  servers: [],
  browser: null,
};

/** A host page as a customer's app would serve it: the SDK by script tag, the token rendered by its backend. */
function hostPage(title) {
  const cfg = JSON.stringify({ baseUrl: env.hitch, token: env.token });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<script src="${env.hitch}/sdk/hitch.js"></script></head>
<body>
<h1>${title}</h1>
<button id="connect" type="button">Connect an app</button>
<script>
window.__result = undefined;
window.__opts = {};
window.__seen = [];
window.addEventListener('message', function (e) { window.__seen.push({ origin: e.origin, data: e.data }); });
// Arms the next click of #connect with these options.
window.runConnect = function (opts) { window.__opts = opts || {}; window.__result = undefined; };
document.getElementById('connect').addEventListener('click', function () {
  var hitch = new Hitch(Object.assign(${cfg}, window.__hitch || {}));
  hitch.ui.connect(window.__opts).then(
    function (v) { window.__result = { ok: true, value: v }; },
    function (e) { window.__result = { ok: false, code: e && e.code, name: e && e.name, message: e && e.message }; }
  );
});
</script>
</body></html>`;
}

/** Serves one origin: `/` is the host page; headers are added to that page only. */
async function startHost(title, headers = {}) {
  const port = await freePort();
  const srv = http.createServer((req, res) => {
    if (req.url === '/' || req.url.startsWith('/?')) {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', ...headers });
      res.end(hostPage(title));
      return;
    }
    if (req.url === '/frame') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><title>frame</title><p>another origin</p>');
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise((res) => srv.listen(port, '127.0.0.1', res));
  env.servers.push(srv);
  return `http://127.0.0.1:${port}`;
}

const logTail = () => env.hitchServer?.logTail() ?? '';

/** Calls the JSON API from Node as the host's backend would (no Origin header). */
async function api(method, p) {
  const r = await fetch(env.hitch + p, { method, headers: { Authorization: 'Bearer ' + env.token } });
  const body = await r.json();
  assert.equal(r.status, 200, `${method} ${p}: ${r.status} ${JSON.stringify(body)}`);
  return body;
}

before(async () => {
  const t0 = Date.now();
  env.host = await startHost('Host app');
  env.coopHost = await startHost('Host app (COOP)', { 'Cross-Origin-Opener-Policy': 'same-origin' });
  env.evil = await startHost('Someone else');
  env.hitchServer = await startHitch({ HITCH_ALLOWED_ORIGINS: `${env.host},${env.coopHost}` });
  env.hitch = env.hitchServer.url;
  const tBuild = Date.now();
  const { stdout } = await run(env.hitchServer.bin, ['token', '--tenant', 'e2e', '--name', 'E2E Inc.'], { cwd: env.hitchServer.tmp, env: env.hitchServer.env() });
  env.token = stdout.trim();
  assert.match(env.token, /^\S{20,}$/);
  env.browser = await launchChromium();
  console.log(`setup: go build + server ${tBuild - t0} ms, browser ${Date.now() - tBuild} ms (chromium ${env.browser.version()})`);
});

after(async () => {
  await env.browser?.close().catch(() => {});
  await env.hitchServer?.stop();
  for (const s of env.servers) s.close();
});

/** A test body with a fresh browser context (own cookies). */
function e2e(name, fn) {
  test(name, () => withContext(env.browser, { name, viewport: { width: 1000, height: 760 }, logTail }, fn));
}

/** Opens the host page at origin and arms runConnect. */
async function hostTab(context, origin = env.host) {
  const page = await context.newPage();
  await page.goto(origin + '/');
  await page.waitForFunction(() => typeof window.Hitch == 'function' && typeof window.runConnect == 'function');
  return page;
}

/** Clicks Connect with opts and returns the popup the SDK opened, sized like the real one. */
async function openPopup(context, page, opts) {
  await page.evaluate((o) => window.runConnect(o), opts);
  const [popup] = await Promise.all([context.waitForEvent('page'), page.click('#connect')]);
  await popup.setViewportSize({ width: 480, height: 720 });
  return popup;
}

/** Waits until a popup page's path matches re (after the connect-link code was swapped and cleaned). */
async function at(popup, re) {
  await popup.waitForURL((u) => re.test(u.pathname), { timeout: 30_000 });
  await popup.waitForLoadState('load');
}

const sessionOf = (popup) => new URL(popup.url()).pathname.split('/')[2];

async function shot(popup, name) {
  await popup.screenshot({ path: path.join(SHOTS, name), fullPage: true });
}

/** The host page's settled promise: {ok:true,value} or {ok:false,code,...}. */
async function result(page, timeout = 30_000) {
  await page.waitForFunction(() => window.__result !== undefined, null, { timeout });
  return page.evaluate(() => window.__result);
}

const SESSION_PATH = /^\/popup\/cs_[^/]+$/;

/** Consent interstitial -> provider consent page; returns after the provider's page loaded. */
async function throughConsent(popup, shots) {
  await at(popup, /^\/popup\/cs_[^/]+\/app\/sandbox-oauth$/);
  const go = popup.getByRole('button', { name: /Continue to Sandbox OAuth/ });
  await go.waitFor();
  if (shots) await shot(popup, '02-consent-sandbox-oauth.png');
  await go.click();
  await at(popup, /^\/sandbox\/oauth\/authorize$/);
  await popup.getByRole('button', { name: 'Approve' }).waitFor();
  if (shots) await shot(popup, '03-provider-consent.png');
}

e2e('connect by intent CRM through sandbox-oauth resolves with the connection', async (context) => {
  const page = await hostTab(context);
  const popup = await openPopup(context, page, { intent: 'CRM' });
  await at(popup, SESSION_PATH);
  assert.ok(!popup.url().includes('/c/'), 'the connect-link code stays out of the final URL');
  await popup.getByRole('heading', { name: 'Connect an app' }).waitFor();
  const rows = await popup.locator('#hitch-results .app-row [data-name]').allTextContents();
  assert.ok(rows.length > 1, `ranked list: ${rows}`);
  assert.ok(rows.includes('Sandbox OAuth'), `Sandbox OAuth among the CRM results: ${rows}`);
  // Apps that can be connected now (links) come before those that are not configured (inert rows).
  const kinds = await popup.locator('#hitch-results .app-row').evaluateAll((els) => els.map((e) => e.tagName));
  assert.equal(kinds[0], 'A', `first result is not connectable: ${rows}`);
  assert.deepEqual(kinds, [...kinds].sort(), `connectable apps first: ${kinds}`);
  assert.equal(await popup.locator('a.app-row', { hasText: 'Sandbox OAuth' }).count(), 1);
  await shot(popup, '01-find-the-app.png');

  await popup.locator('a.app-row', { hasText: 'Sandbox OAuth' }).click();
  await throughConsent(popup, true);
  const closed = popup.waitForEvent('close', { timeout: 30_000 });
  await popup.getByRole('button', { name: 'Approve' }).click();
  await at(popup, SESSION_PATH).catch(() => {}); // it may already be closing
  // The result page closes itself 1.2 s after the hand-off; a screenshot of it is best effort here
  // (case 6 keeps a result page open and screenshots it for sure).
  await shot(popup, '04-result-completed.png').catch(() => {});
  await closed; // the popup closes itself

  const r = await result(page);
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.match(r.value.id, /^con_/);
  assert.equal(r.value.appKey, 'sandbox-oauth');
  assert.equal(r.value.authType, 'oauth2');
  assert.equal(r.value.tenantKey, 'e2e');
  const stored = await api('GET', '/connections/' + r.value.id);
  assert.equal(stored.id, r.value.id);
});

e2e('deny at the provider rejects with access_denied', async (context) => {
  const page = await hostTab(context);
  const popup = await openPopup(context, page, { appKey: 'sandbox-oauth' });
  await throughConsent(popup, false);
  await popup.getByRole('button', { name: 'Deny' }).click();
  const r = await result(page);
  assert.deepEqual({ ok: r.ok, code: r.code, name: r.name }, { ok: false, code: 'access_denied', name: 'HitchError' });
  await at(popup, SESSION_PATH);
  await popup.getByRole('heading').first().waitFor();
  await shot(popup, '05-result-denied.png');
  assert.ok(!popup.isClosed(), 'an error result stays open so the user can read it');
  await popup.close();
});

e2e('closing the popup on the find-the-app page resolves null', async (context) => {
  const page = await hostTab(context);
  const popup = await openPopup(context, page, { intent: 'CRM' });
  await at(popup, SESSION_PATH);
  const id = sessionOf(popup);
  await popup.getByRole('heading', { name: 'Connect an app' }).waitFor();
  const t0 = Date.now();
  await popup.close();
  // The SDK waits ~8 s after navigating before it takes a close as the user's (a COOP cut looks the same).
  const r = await result(page, 25_000);
  assert.deepEqual(r, { ok: true, value: null });
  console.log(`close -> null after ${Date.now() - t0} ms`);
  const s = await api('GET', '/connect/' + id);
  assert.equal(s.status, 'cancelled', 'the SDK cancels the abandoned session');
});

let apiKeyConnection = '';

e2e('API-key app: a refused key shows the provider message and saves nothing, then a good key connects', async (context) => {
  const before = (await api('GET', '/connections')).items.length;
  const page = await hostTab(context);
  const popup = await openPopup(context, page, { appKey: 'sandbox-apikey' });
  await at(popup, /^\/popup\/cs_[^/]+\/app\/sandbox-apikey$/);
  const key = popup.locator('input[name=apiKey]');
  await key.fill('sandbox-bad');
  await popup.getByRole('button', { name: 'Connect' }).click();
  await popup.getByText('The API key is not valid.').waitFor();
  await popup.getByText('did not accept these credentials').waitFor();
  assert.equal(await key.inputValue(), '', 'a refused secret is not written back into the form');
  assert.ok(!(await popup.content()).includes('sandbox-bad'), 'the refused key is not echoed anywhere in the page');
  await shot(popup, '06-credentials-refused.png');
  assert.equal((await api('GET', '/connections?appKey=sandbox-apikey')).items.length, 0, 'a refused key saved a connection');
  assert.equal((await api('GET', '/connections')).items.length, before);
  assert.equal(await page.evaluate(() => window.__result), undefined, 'a refusal does not settle the promise');

  await key.fill('sandbox-good');
  const closed = popup.waitForEvent('close', { timeout: 30_000 });
  await popup.getByRole('button', { name: 'Connect' }).click();
  await closed;
  const r = await result(page);
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.match(r.value.id, /^con_/);
  assert.equal(r.value.appKey, 'sandbox-apikey');
  assert.equal(r.value.authType, 'apiKey');
  assert.equal(JSON.stringify(r.value).includes('sandbox-good'), false, 'the connection never carries the key');
  assert.equal((await api('GET', '/connections?appKey=sandbox-apikey')).items.length, 1);
  apiKeyConnection = r.value.id;
});

e2e('reconnect keeps the same connection id', async (context) => {
  assert.ok(apiKeyConnection, 'needs the API-key case to have run first');
  const page = await hostTab(context);
  const popup = await openPopup(context, page, { connectionId: apiKeyConnection });
  await at(popup, /^\/popup\/cs_[^/]+\/app\/sandbox-apikey$/);
  await popup.getByRole('heading', { name: /Reconnect Sandbox API key/i }).waitFor();
  await shot(popup, '07-reconnect.png');
  await popup.locator('input[name=apiKey]').fill('sandbox-good');
  const closed = popup.waitForEvent('close', { timeout: 30_000 });
  await popup.getByRole('button', { name: 'Connect' }).click();
  await closed;
  const r = await result(page);
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.equal(r.value.id, apiKeyConnection);
  assert.equal((await api('GET', '/connections?appKey=sandbox-apikey')).items.length, 1, 'reconnect made a second connection');
});

/** Arms the host page for a modal connect with opts and clicks Connect; returns the overlay's frame. */
async function openModal(page, opts) {
  await page.evaluate((o) => {
    window.__hitch = { mode: 'modal' };
    window.runConnect(o);
  }, opts);
  await page.click('#connect');
  await page.locator('iframe[title="Connect"]').waitFor();
  return page.frameLocator('iframe[title="Connect"]');
}

e2e('modal mode: an API-key app connects inside the overlay', async (context) => {
  const page = await hostTab(context);
  const frame = await openModal(page, { appKey: 'sandbox-apikey' });
  const key = frame.locator('input[name=apiKey]');
  await key.fill('sandbox-good');
  await shot(page, '10-modal-credentials.png');
  await frame.getByRole('button', { name: 'Connect' }).click();
  const r = await result(page);
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.equal(r.value.appKey, 'sandbox-apikey');
  await page.locator('iframe[title="Connect"]').waitFor({ state: 'detached' });
});

e2e('modal mode: OAuth consent continues in a popup (providers refuse frames) and the overlay resolves', async (context) => {
  const page = await hostTab(context);
  const frame = await openModal(page, { appKey: 'sandbox-oauth' });
  const go = frame.getByRole('button', { name: /Continue to Sandbox OAuth/ });
  await go.waitFor();
  await shot(page, '11-modal-consent.png');
  const [popup] = await Promise.all([context.waitForEvent('page'), go.click()]);
  await at(popup, /^\/sandbox\/oauth\/authorize$/);
  await frame.getByText(/Continue in the Sandbox OAuth window/).waitFor();
  await shot(page, '12-modal-waiting.png');
  const closed = popup.waitForEvent('close', { timeout: 30_000 });
  await popup.getByRole('button', { name: 'Approve' }).click();
  await closed; // the popup closes itself after the provider step
  const r = await result(page);
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.equal(r.value.appKey, 'sandbox-oauth');
  assert.equal(r.value.authType, 'oauth2');
  const stored = await api('GET', '/connections/' + r.value.id);
  assert.equal(stored.id, r.value.id);
  await page.locator('iframe[title="Connect"]').waitFor({ state: 'detached' });
});

e2e('host page with COOP same-origin: the opener link is cut and GET /connect/{id} delivers the result', async (context) => {
  const page = await hostTab(context, env.coopHost);
  const popup = await openPopup(context, page, { appKey: 'sandbox-oauth' });
  await at(popup, /^\/popup\/cs_[^/]+\/app\/sandbox-oauth$/);
  const id = sessionOf(popup);
  assert.equal(await popup.evaluate(() => window.opener), null, 'COOP should cut the opener link');
  // The popup page tells the server it lost its opener.
  let s;
  for (const end = Date.now() + 5000; Date.now() < end; await sleep(100)) {
    s = await api('GET', '/connect/' + id);
    if (s.detached) break;
  }
  assert.equal(s.detached, true, `session not marked detached: ${JSON.stringify(s)}`);
  assert.equal(s.status, 'pending');

  await throughConsent(popup, false);
  await popup.getByRole('button', { name: 'Approve' }).click();
  await at(popup, SESSION_PATH);
  // No opener to hand off to: the page stays and says so.
  await popup.getByText('You can close this window now.').waitFor();
  await shot(popup, '08-result-detached.png');
  const r = await result(page, 30_000);
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.match(r.value.id, /^con_/);
  assert.equal(r.value.appKey, 'sandbox-oauth');
  assert.equal((await api('GET', '/connect/' + id)).connection.id, r.value.id);
  assert.equal(
    (await page.evaluate(() => window.__seen)).length,
    0,
    'with the opener cut no message can reach the host page'
  );
  await popup.close();
});

e2e('forged postMessages (another origin, a Hitch-origin frame, the host itself, the popup on another origin or for another session) are ignored', async (context) => {
  const page = await hostTab(context);
  const popup = await openPopup(context, page, { intent: 'CRM' });
  await at(popup, SESSION_PATH);
  const sessionId = sessionOf(popup);
  const forged = { source: 'hitch', type: 'hitch:result', sessionId, status: 'completed', connection: { id: 'con_forged' } };

  // Frames on an unallowed origin and on the Hitch origin itself (right origin, but not the popup).
  await page.evaluate(
    ([evil, hitch]) =>
      Promise.all(
        [evil + '/frame', hitch + '/healthz'].map(
          (src) =>
            new Promise((res, rej) => {
              const f = document.createElement('iframe');
              f.src = src;
              f.onload = res;
              f.onerror = rej;
              document.body.append(f);
            })
        )
      ),
    [env.evil, env.hitch]
  );
  const evilFrame = page.frames().find((f) => f.url().startsWith(env.evil));
  const hitchFrame = page.frames().find((f) => f.url().startsWith(env.hitch));
  assert.ok(evilFrame && hitchFrame, 'both frames loaded');
  await evilFrame.evaluate((m) => window.parent.postMessage(m, '*'), forged);
  await hitchFrame.evaluate((m) => window.parent.postMessage(m, '*'), forged);
  await page.evaluate((m) => window.postMessage(m, '*'), forged);
  // The popup window itself while it shows another origin's page (as a provider's page could): right
  // source, wrong origin. Then it comes back to its session page, which its cookie still opens.
  const sessionURL = popup.url();
  await popup.goto(env.evil + '/frame');
  await popup.evaluate((m) => window.opener.postMessage(m, '*'), forged);

  await page.waitForFunction(() => window.__seen.filter((m) => m.data && m.data.sessionId).length >= 4);
  const seen = await page.evaluate(() => window.__seen.map((m) => m.origin));
  assert.deepEqual(seen.sort(), [env.evil, env.evil, env.hitch, env.host].sort(), 'every forged message was delivered');
  await sleep(300);
  assert.equal(await page.evaluate(() => window.__result), undefined, 'a forged message settled the promise');

  // Back on its Hitch page, the popup itself (right origin, right source) for another session.
  await popup.goto(sessionURL);
  await popup.evaluate((m) => window.opener.postMessage(m, '*'), { ...forged, sessionId: 'cs_other' });
  await page.waitForFunction(() => window.__seen.filter((m) => m.data && m.data.sessionId).length >= 5);
  await sleep(300);
  assert.equal(await page.evaluate(() => window.__result), undefined, "another session's message settled the promise");

  // The real flow still completes and its connection is the one that arrives.
  await popup.locator('a.app-row', { hasText: 'Sandbox OAuth' }).click();
  await throughConsent(popup, false);
  const closed = popup.waitForEvent('close', { timeout: 30_000 });
  await popup.getByRole('button', { name: 'Approve' }).click();
  await closed;
  const r = await result(page);
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.notEqual(r.value.id, 'con_forged');
  assert.match(r.value.id, /^con_/);
  assert.equal((await api('GET', '/connect/' + sessionId)).connection.id, r.value.id);
});

e2e('the demo host page at /demo connects through the sandbox, lists the connection and logs its event', async (context) => {
  const page = await context.newPage();
  await page.goto(env.hitch + '/demo');
  await page.getByRole('button', { name: 'Connect CRM' }).waitFor();
  await page.locator('#connections td.empty').waitFor();
  await page.screenshot({ path: path.join(SHOTS, '09-demo-before.png') });
  const [popup] = await Promise.all([context.waitForEvent('page'), page.click('#connect-crm')]);
  await popup.setViewportSize({ width: 480, height: 720 });
  await at(popup, SESSION_PATH);
  await popup.locator('a.app-row', { hasText: 'Sandbox OAuth' }).click();
  await throughConsent(popup, false);
  await popup.getByRole('button', { name: 'Approve' }).click();
  await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('Connected'), null, { timeout: 30_000 });
  const id = (await page.textContent('#status')).match(/con_[0-9a-z]+/)[0];
  await page.locator('#connections tr', { hasText: 'sandbox-oauth' }).first().waitFor();
  await page.locator('#events li', { hasText: id }).waitFor({ timeout: 10_000 });
  assert.match(await page.locator('#events li', { hasText: id }).first().textContent(), /connection\.created/);
  await page.screenshot({ path: path.join(SHOTS, '10-demo-after.png') });
});
