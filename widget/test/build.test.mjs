import { test } from 'node:test';
import assert from 'node:assert/strict';
import vm from 'node:vm';
import { gzipSync } from 'node:zlib';
import { bundle } from '../build.mjs';

const files = await bundle();

test('the ES module imports and constructs on a server without touching window or document', async () => {
  const touched = [];
  for (const name of ['window', 'document', 'self', 'open', 'addEventListener']) {
    Object.defineProperty(globalThis, name, {
      configurable: true,
      get() {
        touched.push(name);
        throw new Error(name + ' read');
      },
    });
  }
  try {
    // A comment makes this import distinct from any cached copy of the bundle.
    const src = files['hitch.mjs'] + '\n//server';
    const { Hitch, HitchError } = await import('data:text/javascript;base64,' + Buffer.from(src).toString('base64'));
    const h = new Hitch({ baseUrl: 'https://hitch.test', token: 't' });
    assert.equal(typeof h.ui.connect, 'function');
    assert.equal(typeof h.connections.find, 'function');
    assert.equal(Hitch.HitchError, HitchError);
    assert.equal(new HitchError('x').code, 'x');
  } finally {
    for (const name of ['window', 'document', 'self', 'open', 'addEventListener']) delete globalThis[name];
  }
  assert.deepEqual(touched, []);
});

test('the script-tag bundle sets the global Hitch to the class and nothing else', () => {
  const ctx = vm.createContext({ URL, URLSearchParams });
  const before = new Set(Object.keys(ctx));
  vm.runInContext(files['hitch.js'], ctx);
  assert.deepEqual(Object.keys(ctx).filter((k) => !before.has(k)), ['Hitch']);
  const Hitch = ctx.Hitch;
  assert.equal(typeof Hitch, 'function');
  const h = new Hitch({ baseUrl: 'https://hitch.test', token: 't' });
  assert.equal(typeof h.ui.connect, 'function');
  assert.equal(new Hitch.HitchError('popup_blocked').code, 'popup_blocked');
});

test('each bundle is under 3 KB gzipped', () => {
  for (const [name, text] of Object.entries(files)) {
    const gz = gzipSync(text, { level: 9 }).length;
    assert.ok(gz < 3072, `${name}: ${gz} B gzipped`);
  }
});
