// Hitch embed SDK. No dependencies; nothing touches `window` until a method runs,
// so importing this module on a server is safe.

/** A connection between the tenant and an app (never holds credentials). */
export interface Connection {
  id: string;
  name: string;
  tenantKey: string;
  appKey: string;
  authType: string;
  disconnected: boolean;
  error: { code: string; message: string } | null;
  createdAt: string;
  updatedAt: string;
  archivedAt: string | null;
  lastRefreshAt: string | null;
  nextRefreshAt: string | null;
  retryAttempts: number;
  input: Record<string, unknown>;
}

/** Options of `new Hitch`. Give `token` or `fetchToken`. */
export interface HitchOptions {
  baseUrl: string;
  token?: string;
  fetchToken?: () => Promise<string>;
  mode?: 'popup' | 'modal';
}

/** What starts a connect session (POST /connect). */
export interface ConnectOptions {
  intent?: string;
  appKey?: string;
  connectionId?: string;
  name?: string;
}

/** Body of POST /connect; `credentials` creates an apiKey/basic connection at once. */
export interface ConnectBody extends ConnectOptions {
  credentials?: Record<string, string>;
}

/** A started connect session. */
export interface ConnectSession {
  id: string;
  url: string;
  status: string;
  expiresAt: string;
}

/** State of a connect session (GET /connect/{id}). */
export interface SessionState {
  id: string;
  status: 'pending' | 'completed' | 'failed' | 'cancelled' | 'expired';
  connection?: Connection;
  error?: { code: string; message: string };
  detached?: boolean;
}

/** Filters of GET /connections. */
export interface FindOptions {
  appKey?: string;
  disconnected?: boolean;
  includeArchived?: boolean;
  search?: string;
  limit?: number;
  cursor?: string;
}

/** A page of connections; `cursor` is empty on the last page. */
export interface ConnectionPage {
  items: Connection[];
  cursor: string | null;
}

/** Every failure of the SDK. `status` is the HTTP status when the API answered. */
export class HitchError extends Error {
  code: string;
  status?: number;
  constructor(code: string, message?: string, status?: number) {
    super(message || code);
    this.name = 'HitchError';
    this.code = code;
    this.status = status;
  }
}

type Token = () => Promise<string>;
type Settle = (v: Connection | null | Error) => void;

const W = 480;
const H = 720;

/** Client of one Hitch deployment. */
export class Hitch {
  /** HitchError, reachable from the script-tag global. */
  static HitchError = HitchError;

  private _base: string;
  private _origin: string;
  private _token: Token;
  private _modal: boolean;

  /** The hosted connect flow: popup (default) or modal overlay. */
  ui: { connect(o?: ConnectOptions): Promise<Connection | null> };
  /** Connection listing. */
  connections: { find(o?: FindOptions): Promise<ConnectionPage> };

  constructor(o: HitchOptions) {
    this._base = o.baseUrl.replace(/\/+$/, '');
    this._origin = new URL(o.baseUrl).origin;
    const { token, fetchToken } = o;
    if (!token && !fetchToken) throw new TypeError('Hitch: token or fetchToken required');
    this._token = async () => {
      let t: unknown;
      try {
        t = token || (await fetchToken!());
      } catch (e) {
        throw new HitchError('unauthorized', 'fetchToken failed: ' + (e as Error)?.message);
      }
      if (typeof t != 'string' || !t) throw new HitchError('unauthorized', 'fetchToken gave no token');
      return t;
    };
    this._modal = o.mode == 'modal';
    this.ui = { connect: (c) => this._ui(c || {}) };
    this.connections = {
      find: (f = {}) => {
        const q = new URLSearchParams();
        for (const [k, v] of Object.entries(f)) if (v != null) q.set(k, String(v));
        const s = String(q);
        return this._req('GET', '/connections' + (s ? '?' + s : ''));
      },
    };
  }

  /** POST /connect: a session `{id,url,status,expiresAt}`, or `{connection}` when created at once. */
  connect(body: ConnectBody): Promise<ConnectSession | { connection: Connection }> {
    return this._req('POST', '/connect', body);
  }

  /** A connect session by id; `get(wait)` long-polls up to `wait` seconds while pending. */
  session(id: string): { get(wait?: number): Promise<SessionState> } {
    return { get: (w) => this._req('GET', '/connect/' + enc(id) + (w ? '?wait=' + w : '')) };
  }

  /** A connection by id: `get()`, or `archive()` (DELETE, idempotent). */
  connection(id: string): { get(): Promise<Connection>; archive(): Promise<unknown> } {
    const p = '/connections/' + enc(id);
    return { get: () => this._req('GET', p), archive: () => this._req('DELETE', p) };
  }

  private async _req(method: string, path: string, body?: unknown, token?: Token): Promise<any> {
    const t = await (token || this._token)();
    let r: Response | undefined;
    let data: any;
    try {
      r = await fetch(this._base + path, {
        method,
        headers: body ? { Authorization: 'Bearer ' + t, 'Content-Type': 'application/json' } : { Authorization: 'Bearer ' + t },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await r.text();
      data = text ? JSON.parse(text) : undefined;
    } catch (e) {
      // An unreadable body matters only on success; on failure the status still tells.
      if (!r || r.ok) throw new HitchError('network_error', (e as Error)?.message);
    }
    if (!r!.ok) {
      const e = (data && data.error) || {};
      throw new HitchError(r!.status == 401 ? 'unauthorized' : e.code || 'http_' + r!.status, e.message, r!.status);
    }
    return data;
  }

  private _ui(opts: ConnectOptions): Promise<Connection | null> {
    // Runs synchronously up to the first await: the window must open inside the caller's click.
    const w = window;
    const origin = this._origin;
    let win: Window | null;
    let frame: HTMLIFrameElement | undefined;
    let overlay: HTMLElement | undefined;
    let id: string | undefined;
    let timer: ReturnType<typeof setInterval> | undefined;
    let navAt = 0;
    let done = false;
    let t: Promise<string> | undefined;
    // One token per ui.connect call, fetched lazily and reused by its follow-up requests.
    const token = () => (t ||= this._token());

    return new Promise<Connection | null>((resolve, reject) => {
      const unmount = () => {
        clearInterval(timer);
        if (overlay) {
          w.removeEventListener('keydown', onKey);
          overlay.remove();
        }
      };
      const settle: Settle = (v) => {
        if (done) return;
        done = true;
        w.removeEventListener('message', onMessage);
        unmount();
        v instanceof Error ? reject(v) : resolve(v);
      };
      const outcome = (s: Partial<SessionState>): Connection | null | HitchError =>
        s.status == 'completed'
          ? s.connection || null
          : s.status == 'cancelled'
            ? null
            : s.status == 'expired'
              ? new HitchError('session_expired', 'connect session expired')
              : new HitchError((s.error && s.error.code) || 'provider_error', s.error && s.error.message);
      const onMessage = (e: MessageEvent) => {
        const d = e.data;
        if (
          e.origin === origin &&
          e.source === win &&
          id &&
          d &&
          d.source === 'hitch' &&
          d.type === 'hitch:result' &&
          d.sessionId === id &&
          /^(completed|failed|cancelled)$/.test(d.status) &&
          (d.status != 'completed' || (d.connection && typeof d.connection == 'object'))
        )
          settle(outcome(d));
      };
      // The window is gone (closed by the user, or its handle cut by COOP): ask the server.
      const closed = async () => {
        unmount();
        if (!id) return; // the session is still being created; its POST handler calls us again
        const path = '/connect/' + enc(id);
        try {
          for (let wait = 2; !done; ) {
            const s: SessionState = await this._req('GET', path + '?wait=' + wait, 0, token);
            if (s.status != 'pending') return settle(outcome(s));
            if (s.detached) wait = 25;
            // A COOP cut looks like a close right after navigation, before the popup page could tell the
            // server it is detached: give it a few seconds before taking the close as the user's.
            else if (Date.now() - navAt > 8e3) {
              await this._req('POST', path + '/cancel', 0, token).catch(() => {});
              return settle(null);
            }
          }
        } catch (e) {
          settle(e as HitchError);
        }
      };
      const onKey = (e: KeyboardEvent) => e.key == 'Escape' && closed();
      // Ends before the connect link loads: the popup only shows "Loading…", so close it.
      const end = (v: Connection | Error) => {
        frame || win!.close();
        settle(v);
      };

      if (this._modal) {
        const d = w.document;
        overlay = d.createElement('div');
        overlay.style.cssText =
          'position:fixed;inset:0;z-index:2147483647;display:flex;align-items:center;justify-content:center;background:rgba(0,0,0,.5)';
        frame = d.createElement('iframe');
        frame.title = 'Connect';
        frame.style.cssText = `width:${W}px;height:${H}px;max-width:100%;max-height:100%;border:0;border-radius:8px;background:#fff`;
        overlay.onclick = (e) => e.target == overlay && closed();
        overlay.append(frame);
        d.body.append(overlay);
        w.addEventListener('keydown', onKey);
        win = frame.contentWindow;
      } else {
        const left = w.screenX + (w.outerWidth - W) / 2;
        const top = w.screenY + (w.outerHeight - H) / 2;
        win = w.open('', 'hitch_connect_' + Math.random().toString(36).slice(2), `popup,width=${W},height=${H},left=${left},top=${top}`);
        if (!win) return reject(new HitchError('popup_blocked', 'the browser blocked the connect popup'));
        try {
          // about:blank is same-origin with this page (and inherits its CSP, so no inline style markup:
          // CSSOM assignments are allowed where style attributes are not); if it is not, this throws and the
          // popup stays blank.
          const d = win.document, p = d.createElement('p');
          d.title = 'Hitch';
          p.textContent = 'Loading…';
          p.style.cssText = 'font:16px sans-serif;text-align:center;margin-top:40vh';
          (d.body || d.documentElement).appendChild(p);
        } catch {}
      }
      w.addEventListener('message', onMessage);

      this._req('POST', '/connect', opts, token).then((r: ConnectSession & { connection?: Connection }) => {
        if (r.connection) return end(r.connection);
        let url: URL | undefined;
        try {
          url = new URL(r.url, this._base);
        } catch {}
        // Only a Hitch page may be loaded: the popup is still same-origin with this page until it navigates.
        if (!url || url.origin !== origin || !r.id) return end(new HitchError('invalid_response', 'bad connect link'));
        id = r.id;
        const href = url.href;
        if (frame) {
          frame.src = href + (href.includes('?') ? '&' : '?') + 'mode=modal';
          if (!overlay!.isConnected) closed();
          return;
        }
        // Closed while the session was being created: plainly the user's doing, no COOP grace.
        if (win!.closed) return closed();
        try {
          win!.location.replace(href);
        } catch {}
        navAt = Date.now();
        timer = setInterval(() => win!.closed && closed(), 400);
      }, end);
    });
  }
}

const enc = encodeURIComponent;
