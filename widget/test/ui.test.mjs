import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { load, fakeFetch, fakeWindow, install, until, tick, track, HITCH, connection } from './harness.mjs';

const { mod } = await load();
const { Hitch, HitchError } = mod;

const LINK = HITCH + '/connect/ses_1/open?code=one-time';
const session = { id: 'ses_1', url: LINK, status: 'pending', expiresAt: '2030-01-01T00:00:00Z' };

let cleanup = [];
afterEach(() => {
  for (const f of cleanup.splice(0)) f();
});

// Sets up a fake window and a fetch that answers POST /connect with `session` and everything else
// with `more(req)`. Returns the pieces a test looks at.
function setup({ more = () => ({ status: 500 }), post = () => ({ status: 200, body: session }), opts = {} } = {}) {
  const win = fakeWindow();
  const fetch = fakeFetch((r) => (r.method === 'POST' && r.path === '/connect' ? post(r) : more(r)));
  cleanup.push(install(win, fetch));
  const hitch = new Hitch({ baseUrl: HITCH, token: 'tok', ...opts });
  return { win, fetch, hitch };
}

// Makes the fallback's user-close grace period look elapsed.
function pastGrace() {
  const now = Date.now;
  Date.now = () => now() + 60_000;
  cleanup.push(() => (Date.now = now));
}

const msg = (popup, data, origin = HITCH) => ({ origin, source: popup, data });
const result = (over = {}) => ({ source: 'hitch', type: 'hitch:result', sessionId: 'ses_1', status: 'completed', connection, ...over });

// Starts ui.connect and waits until the popup was sent to the connect link.
async function started(s, opts = { intent: 'CRM' }) {
  const p = track(s.hitch.ui.connect(opts));
  assert.equal(s.win.opened.length, 1, 'popup opened synchronously');
  const popup = s.win.opened[0];
  await until(() => popup.navigations.length === 1 || p.settled);
  return { p, popup };
}

test('opens the popup synchronously, then posts and navigates to the connect link', async () => {
  const s = setup();
  const p = track(s.hitch.ui.connect({ intent: 'CRM', name: 'Sales' }));
  // Nothing awaited yet: the popup must already exist, the request not yet sent.
  assert.equal(s.win.opened.length, 1);
  assert.equal(s.fetch.calls.length, 0);
  const popup = s.win.opened[0];
  const [url, name, features] = popup.args;
  assert.equal(url, '');
  assert.match(name, /^hitch_connect_[a-z0-9]+$/);
  assert.equal(features, 'popup,width=480,height=720,left=500,top=100');
  assert.match(popup.written, /Loading…/);

  await until(() => popup.navigations.length === 1);
  assert.deepEqual(popup.navigations, [LINK]);
  assert.equal(s.fetch.calls.length, 1);
  const post = s.fetch.calls[0];
  assert.equal(post.url, HITCH + '/connect');
  assert.equal(post.headers.Authorization, 'Bearer tok');
  assert.deepEqual(post.body, { intent: 'CRM', name: 'Sales' });
  assert.equal(p.settled, false);
  assert.equal(popup.closed, false);

  s.win.emit('message', msg(popup, result()));
  await p.promise;
  assert.deepEqual(p.value, connection);
  assert.equal(s.win.count('message'), 0, 'message listener removed');
});

test('two popups get distinct window names', async () => {
  const s = setup();
  const a = s.hitch.ui.connect().catch((e) => e);
  const b = s.hitch.ui.connect().catch((e) => e);
  assert.notEqual(s.win.opened[0].args[1], s.win.opened[1].args[1]);
  for (const p of s.win.opened) p.close();
  await Promise.all([a, b]);
});

test('popup_blocked when window.open returns null; nothing is sent', async () => {
  const s = setup();
  s.win.blocked = true;
  await assert.rejects(s.hitch.ui.connect({ intent: 'CRM' }), (e) => e instanceof HitchError && e.code === 'popup_blocked');
  await tick();
  assert.equal(s.fetch.calls.length, 0);
  assert.equal(s.win.count('message'), 0);
});

test('a failed POST closes the popup and rejects with the server code', async () => {
  const cases = [
    { name: 'server code', post: { status: 422, body: { error: { code: 'unknown_app', message: 'no app nope' } } }, code: 'unknown_app', status: 422 },
    { name: '401', post: { status: 401, body: { error: { code: 'invalid_token', message: 'bad token' } } }, code: 'unauthorized', status: 401 },
    { name: 'network', post: 'throw', code: 'network_error' },
    { name: 'link on another origin', post: { status: 200, body: { ...session, url: 'https://evil.test/x' } }, code: 'invalid_response' },
    { name: 'javascript link', post: { status: 200, body: { ...session, url: 'javascript:alert(1)' } }, code: 'invalid_response' },
    { name: 'no session id', post: { status: 200, body: { url: LINK } }, code: 'invalid_response' },
  ];
  for (const c of cases) {
    const s = setup({ post: () => c.post });
    const { p, popup } = await started(s, { appKey: 'nope' });
    await p.promise;
    assert.ok(p.error instanceof HitchError, c.name);
    assert.equal(p.error.code, c.code, c.name);
    assert.equal(p.error.status, c.status, c.name);
    assert.equal(popup.closed, true, c.name + ': popup closed');
    assert.deepEqual(popup.navigations, [], c.name + ': never navigated');
    assert.equal(s.win.count('message'), 0, c.name);
    cleanup.splice(0).forEach((f) => f());
  }
});

test('a POST answered with a connection resolves it and closes the popup', async () => {
  const s = setup({ post: () => ({ status: 201, body: { connection } }) });
  const { p, popup } = await started(s);
  await p.promise;
  assert.deepEqual(p.value, connection);
  assert.equal(popup.closed, true);
});

test('messages are accepted only from the popup, the Hitch origin and the session', async () => {
  const s = setup();
  const { p, popup } = await started(s);
  const ignored = [
    ['wrong origin', msg(popup, result(), 'https://evil.test')],
    ['origin with path-like prefix', msg(popup, result(), HITCH + '.evil.test')],
    ['wrong source', msg({ other: true }, result())],
    ['no source', msg(null, result())],
    ['wrong session', msg(popup, result({ sessionId: 'ses_2' }))],
    ['missing session', msg(popup, result({ sessionId: undefined }))],
    ['wrong data.source', msg(popup, result({ source: 'nango' }))],
    ['wrong type', msg(popup, result({ type: 'hitch:other' }))],
    ['unknown status', msg(popup, result({ status: 'pending' }))],
    ['completed without a connection', msg(popup, result({ connection: undefined }))],
    ['string data', msg(popup, 'hitch:result')],
    ['null data', msg(popup, null)],
  ];
  for (const [name, ev] of ignored) {
    s.win.emit('message', ev);
    await tick(2);
    assert.equal(p.settled, false, name + ' was not ignored');
  }
  s.win.emit('message', msg(popup, result()));
  await p.promise;
  assert.deepEqual(p.value, connection);
  // Later messages change nothing.
  s.win.emit('message', msg(popup, result({ status: 'failed', error: { code: 'x' } })));
  await tick();
  assert.deepEqual(p.value, connection);
  assert.equal(p.error, undefined);
});

test('a message before the session exists is ignored', async () => {
  let answer;
  const s = setup({ post: () => new Promise((r) => (answer = r)) });
  const p = track(s.hitch.ui.connect({ intent: 'CRM' }));
  const popup = s.win.opened[0];
  await until(() => answer);
  s.win.emit('message', msg(popup, result()));
  await tick();
  assert.equal(p.settled, false);
  answer({ status: 200, body: session });
  await until(() => popup.navigations.length === 1);
  assert.equal(p.settled, false);
  s.win.emit('message', msg(popup, result()));
  await p.promise;
  assert.deepEqual(p.value, connection);
});

test('message outcomes', async () => {
  const cases = [
    { name: 'cancelled resolves null', data: result({ status: 'cancelled', connection: undefined }), value: null },
    { name: 'access_denied', data: result({ status: 'failed', connection: undefined, error: { code: 'access_denied', message: 'denied' } }), code: 'access_denied', message: 'denied' },
    { name: 'invalid_credentials', data: result({ status: 'failed', error: { code: 'invalid_credentials', message: 'bad key' } }), code: 'invalid_credentials' },
    { name: 'failed without error', data: result({ status: 'failed', connection: undefined }), code: 'provider_error' },
  ];
  for (const c of cases) {
    const s = setup();
    const { p, popup } = await started(s);
    s.win.emit('message', msg(popup, c.data));
    await p.promise;
    if (c.code) {
      assert.ok(p.error instanceof HitchError, c.name);
      assert.equal(p.error.code, c.code, c.name);
      if (c.message) assert.equal(p.error.message, c.message, c.name);
    } else {
      assert.equal(p.error, undefined, c.name);
      assert.equal(p.value, c.value, c.name);
    }
    cleanup.splice(0).forEach((f) => f());
  }
});

test('fallback: popup closed, session completed -> connection', async () => {
  const s = setup({ more: () => ({ status: 200, body: { id: 'ses_1', status: 'completed', connection } }) });
  const { p, popup } = await started(s);
  popup.closed = true;
  await p.promise;
  assert.deepEqual(p.value, connection);
  const rest = s.fetch.calls.slice(1);
  assert.deepEqual(
    rest.map((c) => [c.method, c.url]),
    [['GET', HITCH + '/connect/ses_1?wait=2']],
  );
  assert.equal(rest[0].headers.Authorization, 'Bearer tok');
});

test('fallback outcomes from GET /connect/{id}', async () => {
  const cases = [
    { name: 'expired', body: { id: 'ses_1', status: 'expired' }, code: 'session_expired' },
    { name: 'failed access_denied', body: { id: 'ses_1', status: 'failed', error: { code: 'access_denied', message: 'no' } }, code: 'access_denied' },
    { name: 'failed', body: { id: 'ses_1', status: 'failed' }, code: 'provider_error' },
    { name: 'cancelled', body: { id: 'ses_1', status: 'cancelled' }, value: null },
    { name: 'GET fails', res: { status: 503, body: { error: { code: 'unavailable', message: 'db down' } } }, code: 'unavailable' },
  ];
  for (const c of cases) {
    const s = setup({ more: () => c.res || { status: 200, body: c.body } });
    const { p, popup } = await started(s);
    popup.closed = true;
    await p.promise;
    if (c.code) assert.equal(p.error?.code, c.code, c.name);
    else assert.equal(p.value, c.value, c.name);
    assert.equal(s.fetch.calls.filter((r) => r.path.endsWith('/cancel')).length, 0, c.name + ': no cancel');
    cleanup.splice(0).forEach((f) => f());
  }
});

test('fallback: user closed the popup (pending, not detached) -> cancel, null', async () => {
  for (const cancel of [{ status: 204 }, { status: 500 }, 'throw']) {
    const s = setup({ more: (r) => (r.path.endsWith('/cancel') ? cancel : { status: 200, body: { id: 'ses_1', status: 'pending' } }) });
    const { p, popup } = await started(s);
    pastGrace();
    popup.closed = true;
    await p.promise;
    assert.equal(p.error, undefined, JSON.stringify(cancel));
    assert.equal(p.value, null);
    assert.deepEqual(
      s.fetch.calls.slice(1).map((c) => [c.method, c.url, c.headers.Authorization]),
      [
        ['GET', HITCH + '/connect/ses_1?wait=2', 'Bearer tok'],
        ['POST', HITCH + '/connect/ses_1/cancel', 'Bearer tok'],
      ],
    );
    cleanup.splice(0).forEach((f) => f());
  }
});

test('fallback: detached popup (COOP) keeps long-polling until the outcome', async () => {
  const answers = [
    { id: 'ses_1', status: 'pending', detached: true },
    { id: 'ses_1', status: 'pending', detached: true },
    { id: 'ses_1', status: 'completed', connection },
  ];
  const s = setup({ more: () => ({ status: 200, body: answers.shift() }) });
  const { p, popup } = await started(s);
  pastGrace(); // detached wins even after the grace period
  popup.closed = true;
  await p.promise;
  assert.deepEqual(p.value, connection);
  assert.deepEqual(
    s.fetch.calls.slice(1).map((c) => c.search),
    ['?wait=2', '?wait=25', '?wait=25'],
  );
});

test('fallback: a handle cut right after navigation waits for the popup to report detached', async () => {
  // The popup page has not told the server yet on the first poll; no cancel may be sent.
  const answers = [
    { id: 'ses_1', status: 'pending' },
    { id: 'ses_1', status: 'pending', detached: true },
    { id: 'ses_1', status: 'completed', connection },
  ];
  const s = setup({ more: () => ({ status: 200, body: answers.shift() }) });
  const { p, popup } = await started(s);
  popup.closed = true;
  await p.promise;
  assert.deepEqual(p.value, connection);
  assert.deepEqual(
    s.fetch.calls.slice(1).map((c) => c.method + ' ' + c.search),
    ['GET ?wait=2', 'GET ?wait=2', 'GET ?wait=25'],
  );
});

test('a message arriving during the fallback settles once and stops polling', async () => {
  let release;
  const s = setup({ more: () => new Promise((r) => (release = r)) });
  const { p, popup } = await started(s);
  popup.closed = true;
  await until(() => release);
  s.win.emit('message', msg(popup, result()));
  await p.promise;
  release({ status: 200, body: { id: 'ses_1', status: 'pending', detached: true } });
  await tick(50);
  assert.deepEqual(p.value, connection);
  assert.equal(s.fetch.calls.length, 2, 'no poll after settling');
});

test('closing the popup before the session exists cancels it at once', async () => {
  let answer;
  const s = setup({
    post: () => new Promise((r) => (answer = r)),
    more: (r) => (r.path.endsWith('/cancel') ? { status: 204 } : { status: 200, body: { id: 'ses_1', status: 'pending' } }),
  });
  const p = track(s.hitch.ui.connect({ intent: 'CRM' }));
  const popup = s.win.opened[0];
  await until(() => answer);
  popup.close();
  answer({ status: 200, body: session });
  await p.promise;
  assert.equal(p.value, null);
  assert.ok(s.fetch.calls.some((c) => c.path === '/connect/ses_1/cancel'));
});

test('fetchToken: one call per ui.connect, reused by the fallback; token never in a URL', async () => {
  let n = 0;
  const s = setup({
    opts: { token: undefined, fetchToken: async () => 'secret-' + ++n },
    more: (r) => (r.path.endsWith('/cancel') ? { status: 204 } : { status: 200, body: { id: 'ses_1', status: 'pending' } }),
  });
  const { p, popup } = await started(s);
  assert.equal(n, 1, 'token fetched after the popup opened');
  pastGrace();
  popup.closed = true;
  await p.promise;
  assert.equal(n, 1);
  assert.equal(s.fetch.calls.length, 3);
  for (const c of s.fetch.calls) {
    assert.equal(c.headers.Authorization, 'Bearer secret-1');
    assert.ok(!c.url.includes('secret'), c.url);
  }
  assert.ok(!popup.navigations.some((u) => u.includes('secret')));
});

test('fetchToken failure closes the popup and rejects unauthorized', async () => {
  const s = setup({ opts: { token: undefined, fetchToken: async () => { throw new Error('no session'); } } });
  const { p, popup } = await started(s);
  await p.promise;
  assert.equal(p.error?.code, 'unauthorized');
  assert.equal(popup.closed, true);
  assert.equal(s.fetch.calls.length, 0);
});

test('modal: iframe overlay, messages from the frame, Escape and backdrop close', async () => {
  for (const how of ['message', 'escape', 'backdrop']) {
    const s = setup({
      opts: { mode: 'modal' },
      more: (r) => (r.path.endsWith('/cancel') ? { status: 204 } : { status: 200, body: { id: 'ses_1', status: 'pending' } }),
    });
    const p = track(s.hitch.ui.connect({ appKey: 'hubspot' }));
    assert.equal(s.win.opened.length, 0, 'no popup in modal mode');
    const overlay = s.win.body.children[0];
    const frame = overlay.children[0];
    assert.equal(frame.tag, 'iframe');
    assert.match(overlay.style.cssText, /position:fixed/);
    assert.match(frame.style.cssText, /width:480px;height:720px/);
    await until(() => frame.src);
    assert.equal(frame.src, LINK + '&mode=modal');

    if (how === 'message') {
      s.win.emit('message', msg({ other: true }, result())); // not the frame
      s.win.emit('message', msg(frame.contentWindow, result(), 'https://evil.test'));
      await tick();
      assert.equal(p.settled, false);
      s.win.emit('message', msg(frame.contentWindow, result()));
      await p.promise;
      assert.deepEqual(p.value, connection);
      assert.equal(s.fetch.calls.length, 1);
    } else {
      if (how === 'escape') {
        s.win.emit('keydown', { key: 'Enter' });
        overlay.onclick({ target: frame });
        await tick();
        assert.equal(p.settled, false, 'other keys and clicks inside do nothing');
        s.win.emit('keydown', { key: 'Escape' });
      } else overlay.onclick({ target: overlay });
      await p.promise;
      assert.equal(p.value, null);
      assert.deepEqual(
        s.fetch.calls.slice(1).map((c) => c.method + ' ' + c.path + c.search),
        ['GET /connect/ses_1?wait=2', 'POST /connect/ses_1/cancel'],
      );
    }
    assert.equal(s.win.body.children.length, 0, how + ': overlay removed');
    assert.equal(s.win.count('keydown'), 0, how);
    assert.equal(s.win.count('message'), 0, how);
    cleanup.splice(0).forEach((f) => f());
  }
});

test('modal: a connect link without a query gets ?mode=modal', async () => {
  const s = setup({ opts: { mode: 'modal' }, post: () => ({ status: 200, body: { ...session, url: HITCH + '/c/abc' } }) });
  s.hitch.ui.connect().catch(() => {});
  const frame = s.win.body.children[0].children[0];
  await until(() => frame.src);
  assert.equal(frame.src, HITCH + '/c/abc?mode=modal');
});

test('modal: a failed POST removes the overlay', async () => {
  const s = setup({ opts: { mode: 'modal' }, post: () => ({ status: 401, body: { error: { code: 'x', message: 'm' } } }) });
  await assert.rejects(s.hitch.ui.connect(), (e) => e.code === 'unauthorized' && e.status === 401);
  assert.equal(s.win.body.children.length, 0);
  assert.equal(s.win.count('keydown'), 0);
});
