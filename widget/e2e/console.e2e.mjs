// Real-browser tests of the admin console (/console) on the built `hitch serve --demo`: sign in with the
// credentials the demo prints, find a connection the refresh worker disconnected, reconnect it through the
// sandbox OAuth provider, archive another, add a webhook endpoint and redeliver an event to a receiver
// running here; plus the refusals (CSRF, signed out). Every page is screenshotted to test-results/screenshots/.
//
// Run: npm run e2e (needs Go and /usr/bin/chromium).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { freePort, launchChromium, run, shot, sleep, startHitch, withContext } from './harness.mjs';

const env = { hitch: null, url: '', email: '', password: '', tenantToken: '', adminToken: '', browser: null, receiver: null, hooks: [] };

async function api(method, p, body, token = env.tenantToken) {
  const r = await fetch(env.url + p, {
    method,
    headers: { Authorization: 'Bearer ' + token, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

/** Flips the sandbox provider's switches (JSON, from this process: no browser origin). */
async function control(sw) {
  const r = await fetch(env.url + '/sandbox/oauth/control', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(sw) });
  assert.equal(r.status, 200, await r.text());
}

async function until(what, fn, ms = 30_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await sleep(200);
  }
}

/** Walks a popup or tab from the sandbox-oauth consent interstitial through the provider's Approve. */
async function approveSandbox(page) {
  await page.getByRole('button', { name: /Continue to Sandbox OAuth/ }).click();
  await page.waitForURL((u) => u.pathname === '/sandbox/oauth/authorize');
  await page.getByRole('button', { name: 'Approve' }).click();
}

before(async () => {
  // A webhook receiver that answers 200 and remembers what it got.
  const port = await freePort();
  env.receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      env.hooks.push({ id: req.headers['webhook-id'], type: JSON.parse(body || '{}').type });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise((res) => env.receiver.listen(port, '127.0.0.1', res));
  env.receiverURL = `http://127.0.0.1:${port}/hooks`;

  env.hitch = await startHitch({ HITCH_WORKSPACE_NAME: 'Acme Cloud' });
  env.url = env.hitch.url;
  // `serve --demo` prints the demo console account with a fresh password.
  const log = env.hitch.log();
  env.email = /email:\s+(\S+)/.exec(log)?.[1];
  env.password = /password:\s+(\S+)/.exec(log)?.[1];
  assert.ok(env.email && env.password, 'demo console credentials printed:\n' + env.hitch.logTail());
  const token = async (...args) => (await run(env.hitch.bin, ['token', ...args], { cwd: env.hitch.tmp, env: env.hitch.env() })).stdout.trim();
  env.tenantToken = await token('--tenant', 'acme', '--name', 'Acme Inc.');
  env.adminToken = await token('--admin');
  env.browser = await launchChromium();
});

after(async () => {
  await env.browser?.close().catch(() => {});
  await env.hitch?.stop();
  env.receiver?.close();
});

/** A test with a fresh browser context on the shared server. */
function e2e(name, fn) {
  test(name, () => withContext(env.browser, { name, viewport: { width: 1280, height: 900 }, logTail: () => env.hitch.logTail() }, fn));
}

/** Signs in through the form; returns the page, now on the dashboard (or `next`). */
async function signIn(context, next = '/console') {
  const page = await context.newPage();
  await page.goto(env.url + next);
  await page.waitForURL((u) => u.pathname === '/console/login');
  await page.getByLabel('Email').fill(env.email);
  await page.getByLabel('Password').fill(env.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.pathname === next);
  return page;
}

e2e('console: a disconnected connection is found on the dashboard and reconnected; another is archived', async (context) => {
  // A sandbox OAuth connection whose tokens live 2 s and whose next refresh the provider refuses for good:
  // the refresh worker marks it disconnected on its own.
  await control({ accessTokenTTL: '2s', failNextRefresh: 'permanent' });
  const started = await api('POST', '/connect', { appKey: 'sandbox-oauth', name: 'Acme CRM' });
  assert.equal(started.status, 200, JSON.stringify(started.body));
  const user = await context.newPage();
  await user.goto(started.body.url);
  await approveSandbox(user);
  const done = await until('the connect session to complete', async () => {
    const s = await api('GET', `/connect/${started.body.id}`);
    return s.body.status === 'completed' && s.body;
  });
  await user.close();
  const crmID = done.connection.id;
  await until('the refresh worker to disconnect it', async () => (await api('GET', `/connections/${crmID}`)).body.disconnected);
  await control({ accessTokenTTL: '1h', failNextRefresh: '' });
  const key = await api('POST', '/connect', { appKey: 'sandbox-apikey', name: 'Acme Key', credentials: { apiKey: 'sandbox-good' } });
  assert.equal(key.status, 201, JSON.stringify(key.body));
  const keyID = key.body.connection.id;

  // Signed out, the console shows the sign-in page.
  const login = await context.newPage();
  await login.goto(env.url + '/console/connections');
  await login.waitForURL((u) => u.pathname === '/console/login');
  await shot(login, 'console-01-sign-in.png');
  await login.close();

  const page = await signIn(context);
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  const attention = page.locator('a[href="/console/connections/' + crmID + '"]').first();
  await attention.waitFor();
  await shot(page, 'console-02-dashboard.png');

  // From the dashboard to the connection, its error and refresh history.
  await attention.click();
  await page.waitForURL((u) => u.pathname === '/console/connections/' + crmID);
  await page.getByText('invalid_grant').first().waitFor();
  await shot(page, 'console-03-connection-disconnected.png');

  await page.goto(env.url + '/console/connections?state=disconnected');
  await page.locator('a[href="/console/connections/' + crmID + '"]').first().waitFor();
  await shot(page, 'console-04-connections-disconnected.png');

  // Reconnect: a connect link, opened in a popup, through the sandbox provider.
  await page.goto(env.url + '/console/connections/' + crmID);
  await page.getByRole('button', { name: 'Reconnect' }).click();
  await page.waitForURL((u) => u.pathname.startsWith('/console/sessions/cs_'));
  await shot(page, 'console-05-reconnect-link.png');
  const [popup] = await Promise.all([context.waitForEvent('page'), page.getByRole('link', { name: /Open connect window/ }).click()]);
  await popup.waitForLoadState('load');
  await approveSandbox(popup);
  // The session page notices on its own (it polls) and offers the connection.
  await page.getByRole('link', { name: 'View the connection' }).waitFor({ timeout: 30_000 });
  await shot(page, 'console-06-reconnected.png');
  const after = await api('GET', `/connections/${crmID}`);
  assert.equal(after.body.disconnected, false, 'reconnected, same id');
  await page.getByRole('link', { name: 'View the connection' }).click();
  await page.waitForURL((u) => u.pathname === '/console/connections/' + crmID);

  // Archive the API-key connection, with the confirmation step.
  await page.goto(env.url + '/console/connections/' + keyID);
  await page.getByRole('link', { name: 'Archive' }).click();
  await page.waitForURL((u) => u.pathname === `/console/connections/${keyID}/archive`);
  await shot(page, 'console-07-archive-confirm.png');
  await page.getByRole('button', { name: 'Archive connection' }).click();
  await page.waitForURL((u) => u.pathname === '/console/connections/' + keyID);
  const archived = await api('GET', `/connections/${keyID}`);
  assert.ok(archived.body.archivedAt, 'archived');
  await shot(page, 'console-08-archived.png');

  await page.goto(env.url + '/console/tenants');
  await page.getByText('acme', { exact: true }).first().waitFor();
  await shot(page, 'console-09-tenants.png');
});

e2e('console: add a webhook endpoint, see a delivery arrive and redeliver it', async (context) => {
  const page = await signIn(context, '/console/webhooks');
  await shot(page, 'console-10-webhooks.png');
  await page.getByRole('link', { name: 'Add endpoint' }).first().click();
  await page.waitForURL((u) => u.pathname === '/console/webhooks/new');
  await page.getByLabel('Endpoint URL').fill(env.receiverURL);
  await shot(page, 'console-11-webhook-new.png');
  await page.getByRole('button', { name: 'Add endpoint' }).click();
  await page.waitForURL((u) => /^\/console\/webhooks\/whe_/.test(u.pathname));
  const secret = await page.locator('#flash-secret').inputValue();
  assert.match(secret, /^whsec_/, 'the signing secret is shown once');
  await shot(page, 'console-12-webhook-created.png');
  await page.reload();
  assert.equal(await page.locator('#flash-secret').count(), 0, 'the secret is not shown again');

  // An event: a new connection. The dispatcher inside serve delivers it to the receiver.
  const made = await api('POST', '/connect', { appKey: 'sandbox-apikey', name: 'Hook test', credentials: { apiKey: 'sandbox-good' } });
  assert.equal(made.status, 201);
  const first = await until('the webhook to arrive', () => env.hooks.find((h) => h.type === 'connection.created'));
  await until('the delivery to show in the log', async () => {
    await page.reload();
    return (await page.getByRole('link', { name: 'connection.created' }).count()) > 0;
  });
  await shot(page, 'console-13-webhook-deliveries.png');
  await page.getByRole('link', { name: 'connection.created' }).first().click();
  await page.waitForURL((u) => u.pathname.includes('/deliveries/'));
  const before = env.hooks.length;
  await page.getByRole('button', { name: 'Redeliver now' }).click();
  const again = await until('the redelivery', () => env.hooks.length > before && env.hooks[env.hooks.length - 1]);
  assert.equal(again.id, first.id, 'a redelivery keeps its webhook-id');
  await shot(page, 'console-14-webhook-redelivered.png');
});

e2e('console: apps settings, CSRF refusal, sign-out and signed-out access', async (context) => {
  const page = await signIn(context, '/console/apps');
  await shot(page, 'console-15-apps.png');
  await page.goto(env.url + '/console/apps/hubspot');
  await page.getByLabel('Client ID').fill('hubspot-client-id');
  await page.getByLabel('Client secret').fill('hubspot-very-secret-value');
  await shot(page, 'console-16-app-client.png');
  await page.getByRole('button', { name: /Save/ }).first().click();
  await page.waitForURL((u) => u.pathname === '/console/apps/hubspot');
  assert.ok(!(await page.content()).includes('hubspot-very-secret-value'), 'the client secret is never shown');
  const apps = await (await fetch(env.url + '/apps?search=hubspot')).json();
  assert.equal(apps.items[0].key, 'hubspot');
  assert.equal(apps.items[0].configured, true, 'the console client configures the app');

  await page.goto(env.url + '/console/connections/new?tenant=acme');
  await page.getByRole('button', { name: 'Create connect link' }).waitFor();
  await shot(page, 'console-17-connection-new.png');
  await page.goto(env.url + '/console/connections');
  await shot(page, 'console-18-connections.png');
  const missing = await page.goto(env.url + '/console/connections/con_nosuchthing');
  assert.equal(missing.status(), 404);
  await page.getByRole('heading', { name: 'Not found' }).waitFor();
  await shot(page, 'console-19-not-found.png');

  // A form post without the token is refused, and nothing changes.
  const status = await page.evaluate(async () => {
    const r = await fetch('/console/apps/hubspot/enabled', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'enabled=false' });
    return r.status;
  });
  assert.equal(status, 403);
  const still = await (await fetch(env.url + '/apps?search=hubspot')).json();
  assert.equal(still.items[0]?.key, 'hubspot', 'a refused post did not turn the app off');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL((u) => u.pathname === '/console/login');
  for (const p of ['/console', '/console/connections', '/console/webhooks', '/console/apps/hubspot', '/console/tenants']) {
    await page.goto(env.url + p);
    assert.equal(new URL(page.url()).pathname, '/console/login', `${p} signed out`);
  }
  // A browser that never signed in gets nothing either.
  const stranger = await (await env.browser.newContext()).newPage();
  await stranger.goto(env.url + '/console/connections');
  assert.equal(new URL(stranger.url()).pathname, '/console/login');
  await stranger.context().close();
});

test('console: a sign-in ends after HITCH_CONSOLE_SESSION_TTL', async () => {
  // Its own server, with a 3-second sign-in lifetime.
  const name = 'console: a sign-in ends after HITCH_CONSOLE_SESSION_TTL';
  const short = await startHitch({ HITCH_CONSOLE_SESSION_TTL: '3s' });
  try {
    await withContext(env.browser, { name, viewport: { width: 1280, height: 900 }, logTail: short.logTail }, async (context) => {
      const log = short.log();
      const email = /email:\s+(\S+)/.exec(log)?.[1];
      const password = /password:\s+(\S+)/.exec(log)?.[1];
      const page = await context.newPage();
      await page.goto(short.url + '/console/tenants');
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill(password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL((u) => u.pathname === '/console/tenants');
      await sleep(3500);
      await page.goto(short.url + '/console/connections');
      assert.equal(new URL(page.url()).pathname, '/console/login', 'an expired sign-in reaches the sign-in page');
      await page.getByText('Your session has expired').waitFor();
      await shot(page, 'console-20-session-expired.png');
    });
  } finally {
    await short.stop();
  }
});
