// Test environment for the SDK: the real bundle (built in memory exactly as `npm run build` builds it)
// plus small fakes of the browser window and fetch. The fakes are the environment, not the thing under test.
import { bundle } from '../build.mjs';

export const HITCH = 'https://hitch.test';

let built;
/** The built bundles: {files, mod} where mod is the ESM bundle imported without any window present. */
export async function load() {
  if (!built) {
    const files = await bundle();
    const mod = await import('data:text/javascript;base64,' + Buffer.from(files['hitch.mjs']).toString('base64'));
    built = { files, mod };
  }
  return built;
}

function fakeElement(tag) {
  const el = {
    tag,
    style: {},
    children: [],
    parent: null,
    onclick: null,
    src: '',
    contentWindow: tag === 'iframe' ? { frame: true } : undefined,
    get isConnected() {
      return !!this.parent && (this.parent.isBody || this.parent.isConnected);
    },
    append(c) {
      c.parent = el;
      el.children.push(c);
    },
    remove() {
      if (el.parent) el.parent.children.splice(el.parent.children.indexOf(el), 1);
      el.parent = null;
    },
  };
  return el;
}

function fakePopup() {
  const body = fakeElement('body');
  body.isBody = true;
  body.appendChild = (c) => body.append(c);
  const p = {
    closed: false,
    /** The text the SDK put in the blank popup while it loads. */
    get written() {
      return body.children.map((c) => c.textContent || '').join('');
    },
    navigations: [],
    document: { body, title: '', createElement: fakeElement },
    location: { replace: (u) => p.navigations.push(u) },
    close: () => (p.closed = true),
  };
  return p;
}

/** A fake browser window: records window.open calls, holds listeners, has a tiny DOM for modal mode. */
export function fakeWindow() {
  const listeners = {};
  const body = fakeElement('body');
  body.isBody = true;
  return {
    screenX: 100,
    screenY: 50,
    outerWidth: 1280,
    outerHeight: 820,
    blocked: false,
    opened: [],
    body,
    document: { body, createElement: fakeElement },
    addEventListener(t, f) {
      (listeners[t] ||= new Set()).add(f);
    },
    removeEventListener(t, f) {
      listeners[t]?.delete(f);
    },
    count(t) {
      return listeners[t]?.size || 0;
    },
    emit(t, ev) {
      for (const f of [...(listeners[t] || [])]) f(ev);
    },
    open(url, name, features) {
      if (this.blocked) return null;
      const p = fakePopup();
      p.args = [url, name, features];
      this.opened.push(p);
      return p;
    },
  };
}

/**
 * A fake fetch. `route({method, url, path, search, headers, body})` returns {status, body} (body an object,
 * a raw string, or undefined for none), 'throw' for a network failure, or a promise of either.
 */
export function fakeFetch(route) {
  const calls = [];
  const fn = async (url, init = {}) => {
    const u = new URL(url);
    const req = {
      method: init.method || 'GET',
      url,
      path: u.pathname,
      search: u.search,
      headers: init.headers || {},
      body: init.body === undefined ? undefined : JSON.parse(init.body),
    };
    calls.push(req);
    const res = await route(req);
    if (res === 'throw') throw new TypeError('Failed to fetch');
    const text = res.body === undefined ? '' : typeof res.body === 'string' ? res.body : JSON.stringify(res.body);
    return { ok: res.status >= 200 && res.status < 300, status: res.status, text: async () => text };
  };
  fn.calls = calls;
  return fn;
}

/** Installs the fakes as the globals the SDK uses; returns a restore function. */
export function install(win, fetch) {
  const prev = { window: globalThis.window, fetch: globalThis.fetch };
  globalThis.window = win;
  globalThis.fetch = fetch;
  return () => {
    globalThis.window = prev.window;
    globalThis.fetch = prev.fetch;
    if (prev.window === undefined) delete globalThis.window;
  };
}

/** Waits until cond() is true (polling), failing after ms. */
export async function until(cond, ms = 3000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting for ' + cond);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Lets pending promise callbacks run. */
export const tick = (ms = 20) => new Promise((r) => setTimeout(r, ms));

/** Tracks whether a promise has settled, without consuming its rejection. */
export function track(p) {
  const t = { settled: false, value: undefined, error: undefined };
  t.promise = p.then(
    (v) => ((t.settled = true), (t.value = v)),
    (e) => ((t.settled = true), (t.error = e)),
  );
  return t;
}

export const connection = {
  id: 'con_1',
  name: 'HubSpot',
  tenantKey: 'acme',
  appKey: 'hubspot',
  authType: 'oauth2',
  disconnected: false,
  error: null,
};
