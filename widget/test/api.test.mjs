import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load, fakeFetch, fakeWindow, install, HITCH, connection } from './harness.mjs';

const { mod } = await load();
const { Hitch, HitchError } = mod;

// Runs fn with a fake fetch answering `route`; returns the recorded calls.
async function withFetch(route, fn) {
  const f = fakeFetch(route);
  const restore = install(fakeWindow(), f);
  try {
    await fn();
  } finally {
    restore();
  }
  return f.calls;
}

test('constructor needs a token source and a valid baseUrl', () => {
  assert.throws(() => new Hitch({ baseUrl: HITCH }), TypeError);
  assert.throws(() => new Hitch({ baseUrl: 'not a url', token: 't' }), TypeError);
});

test('connections.find builds the query string', async () => {
  const cases = [
    { name: 'no filters', opts: undefined, want: '/connections' },
    { name: 'empty', opts: {}, want: '/connections' },
    {
      name: 'all filters, encoded, undefined dropped',
      opts: { appKey: 'hubspot', disconnected: false, includeArchived: true, search: 'a b&c=d', limit: 10, cursor: 'x/y+z', name: undefined },
      want: '/connections?appKey=hubspot&disconnected=false&includeArchived=true&search=a+b%26c%3Dd&limit=10&cursor=x%2Fy%2Bz',
    },
    { name: 'null dropped', opts: { appKey: null, disconnected: true }, want: '/connections?disconnected=true' },
  ];
  for (const c of cases) {
    const page = { items: [connection], cursor: 'next' };
    const calls = await withFetch(
      () => ({ status: 200, body: page }),
      async () => {
        const got = await new Hitch({ baseUrl: HITCH, token: 'tok' }).connections.find(c.opts);
        assert.deepEqual(got, page, c.name);
      },
    );
    assert.equal(calls.length, 1, c.name);
    assert.equal(calls[0].method, 'GET', c.name);
    assert.equal(calls[0].url, HITCH + c.want, c.name);
    assert.equal(calls[0].headers.Authorization, 'Bearer tok', c.name);
    assert.equal(calls[0].body, undefined, c.name);
  }
});

test('connection(id).get uses GET and archive uses DELETE, id escaped', async () => {
  const calls = await withFetch(
    (r) => (r.method === 'DELETE' ? { status: 204 } : { status: 200, body: connection }),
    async () => {
      const h = new Hitch({ baseUrl: HITCH + '/', token: 'tok' });
      assert.deepEqual(await h.connection('con/1?x').get(), connection);
      assert.equal(await h.connection('con_1').archive(), undefined);
    },
  );
  assert.deepEqual(
    calls.map((c) => [c.method, c.url]),
    [
      ['GET', HITCH + '/connections/con%2F1%3Fx'],
      ['DELETE', HITCH + '/connections/con_1'],
    ],
  );
});

test('connect posts JSON; session(id).get passes wait', async () => {
  const calls = await withFetch(
    (r) => ({ status: 200, body: r.method === 'POST' ? { id: 'ses_1', url: HITCH + '/c/x', status: 'pending', expiresAt: 'T' } : { id: 'ses_1', status: 'pending' } }),
    async () => {
      const h = new Hitch({ baseUrl: HITCH + '/base', token: 'tok' });
      assert.equal((await h.connect({ intent: 'CRM', credentials: { apiKey: 'k' } })).id, 'ses_1');
      assert.equal((await h.session('ses_1').get(5)).status, 'pending');
      await h.session('ses_1').get();
    },
  );
  assert.equal(calls[0].url, HITCH + '/base/connect');
  assert.equal(calls[0].method, 'POST');
  assert.equal(calls[0].headers['Content-Type'], 'application/json');
  assert.deepEqual(calls[0].body, { intent: 'CRM', credentials: { apiKey: 'k' } });
  assert.equal(calls[1].url, HITCH + '/base/connect/ses_1?wait=5');
  assert.equal(calls[2].url, HITCH + '/base/connect/ses_1');
});

test('errors map to HitchError', async () => {
  const cases = [
    { name: 'server code', res: { status: 404, body: { error: { code: 'not_found', message: 'no such connection' } } }, code: 'not_found', status: 404, message: 'no such connection' },
    { name: '401 is unauthorized whatever the code', res: { status: 401, body: { error: { code: 'token_expired', message: 'expired' } } }, code: 'unauthorized', status: 401, message: 'expired' },
    { name: 'no envelope', res: { status: 502, body: '<html>bad gateway</html>' }, code: 'http_502', status: 502 },
    { name: 'network failure', res: 'throw', code: 'network_error', status: undefined },
    { name: 'garbled success body', res: { status: 200, body: '{not json' }, code: 'network_error', status: undefined },
  ];
  for (const c of cases) {
    await withFetch(
      () => c.res,
      async () => {
        const err = await new Hitch({ baseUrl: HITCH, token: 'tok' }).connection('con_1').get().then(
          () => assert.fail(c.name + ': resolved'),
          (e) => e,
        );
        assert.ok(err instanceof HitchError, c.name);
        assert.ok(err instanceof Error, c.name);
        assert.equal(err.name, 'HitchError', c.name);
        assert.equal(err.code, c.code, c.name);
        assert.equal(err.status, c.status, c.name);
        if (c.message) assert.equal(err.message, c.message, c.name);
      },
    );
  }
});

test('fetchToken is called for each API call and its token never reaches a URL', async () => {
  let n = 0;
  const fetchToken = async () => 'secret-token-' + ++n;
  const calls = await withFetch(
    () => ({ status: 200, body: { items: [], cursor: null } }),
    async () => {
      const h = new Hitch({ baseUrl: HITCH, fetchToken });
      await h.connections.find({ search: 'x' });
      await h.connection('c').get();
    },
  );
  assert.equal(n, 2);
  assert.deepEqual(
    calls.map((c) => c.headers.Authorization),
    ['Bearer secret-token-1', 'Bearer secret-token-2'],
  );
  for (const c of calls) assert.ok(!c.url.includes('secret'), c.url);
});

test('fetchToken failures are unauthorized and send nothing', async () => {
  for (const fetchToken of [async () => { throw new Error('backend down'); }, async () => '', async () => 42]) {
    const calls = await withFetch(
      () => ({ status: 200, body: {} }),
      async () => {
        await assert.rejects(new Hitch({ baseUrl: HITCH, fetchToken }).connection('c').get(), (e) => e instanceof HitchError && e.code === 'unauthorized');
      },
    );
    assert.equal(calls.length, 0);
  }
});
