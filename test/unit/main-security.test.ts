// The security checklist of the main process, checked without Electron: web preferences, CSP, permissions,
// navigation rules and the IPC sender check.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Session, WebContents } from 'electron';
import { describe, expect, it, vi } from 'vitest';
import {
  AppContents,
  applySessionSecurity,
  CSP,
  contentSecurityPolicy,
  type FrameLike,
  hardenContents,
  isAppUrl,
  permissionAllowed,
  type SenderEventLike,
  secureWebPreferences,
  trustedSender,
} from '../../electron/main/security.ts';
import { repoRoot } from '../fixtures/repo.ts';

// security.ts needs only Electron's types; this makes sure nothing loads the real module by accident.
vi.mock('electron', () => ({}));

const rendererDir = path.resolve('/opt/Glance/resources/app.asar/.vite/renderer/main_window');
// The packaged page is served by the app scheme (protocol.ts); the same file as a file:// page is not the app.
const appPage = 'app://glance/index.html';
const filePage = pathToFileURL(path.join(rendererDir, 'index.html')).toString();
const packaged = { rendererDir };
const dev = { devServerUrl: 'http://localhost:5173' };

describe('web preferences', () => {
  it('isolate, sandbox and keep Node out of every page', () => {
    expect(secureWebPreferences('/x/preload.js')).toMatchObject({
      preload: '/x/preload.js',
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      webviewTag: false,
      spellcheck: false,
      navigateOnDragDrop: false,
    });
  });
});

describe('Content-Security-Policy', () => {
  const directives = (csp: string) =>
    new Map(
      csp.split(';').map((d) => {
        const [name, ...values] = d.trim().split(/\s+/);
        return [name!, values];
      }),
    );

  it('allows only the app itself in production', () => {
    const d = directives(CSP);
    expect(d.get('default-src')).toEqual(["'none'"]);
    expect(d.get('script-src')).toEqual(["'self'"]);
    expect(d.get('style-src')).toEqual(["'self'"]);
    expect(d.get('img-src')).toEqual(["'self'", 'glance:', 'data:', 'blob:']);
    expect(d.get('connect-src')).toEqual(["'self'"]);
    expect(d.get('font-src')).toEqual(["'self'"]);
    for (const none of ['object-src', 'base-uri', 'form-action', 'frame-ancestors']) {
      expect(d.get(none)).toEqual(["'none'"]);
    }
  });

  it('has no eval, no inline script and no remote origin', () => {
    for (const csp of [CSP, contentSecurityPolicy(dev)]) {
      expect(csp).not.toContain('unsafe-eval');
      expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
      expect(csp).not.toMatch(/https?:\/\/(?!localhost:5173)/);
      expect(csp).not.toMatch(/(^|\s)\*(\s|;|$)/);
    }
    expect(CSP).not.toMatch(/https?:|wss?:/);
  });

  it('lets the dev server in during development only', () => {
    const d = directives(contentSecurityPolicy(dev));
    expect(d.get('connect-src')).toEqual(["'self'", 'ws://localhost:5173', 'http://localhost:5173']);
    expect(d.get('style-src')).toEqual(["'self'", "'unsafe-inline'"]);
    expect(d.get('script-src')).toEqual(["'self'"]);
  });
});

/** A session whose handlers the test can call. */
function fakeSession() {
  const ses = {
    webRequest: { onHeadersReceived: vi.fn() },
    setPermissionRequestHandler: vi.fn(),
    setPermissionCheckHandler: vi.fn(),
    setDevicePermissionHandler: vi.fn(),
  } satisfies Parameters<typeof applySessionSecurity>[0];
  return ses;
}
type HeadersListener = Parameters<Session['webRequest']['onHeadersReceived']>[0];
type RequestHandler = NonNullable<Parameters<Session['setPermissionRequestHandler']>[0]>;
type CheckHandler = NonNullable<Parameters<Session['setPermissionCheckHandler']>[0]>;
type Permission = Parameters<RequestHandler>[1];

describe('session security', () => {
  it('sets the CSP header on every response, replacing any other policy', () => {
    const ses = fakeSession();
    applySessionSecurity(ses, packaged);
    const listener = ses.webRequest.onHeadersReceived.mock.calls[0]![0] as NonNullable<HeadersListener>;
    for (const [url, resourceType] of [
      [appPage, 'mainFrame'],
      ['glance://thumb/1', 'image'],
      ['http://localhost:5173/@vite/client', 'script'],
    ] as const) {
      const callback = vi.fn();
      listener(
        {
          id: 1,
          url,
          method: 'GET',
          resourceType,
          referrer: '',
          timestamp: 0,
          statusLine: 'HTTP/1.1 200 OK',
          statusCode: 200,
          responseHeaders: { 'content-security-policy': ["default-src *; script-src 'unsafe-eval'"], 'X-A': ['b'] },
        },
        callback,
      );
      const headers = callback.mock.calls[0]![0].responseHeaders as Record<string, string[]>;
      expect(headers['Content-Security-Policy']).toEqual([CSP]);
      expect(headers['content-security-policy']).toBeUndefined();
      expect(headers['X-A']).toEqual(['b']);
      expect(headers['X-Content-Type-Options']).toEqual(['nosniff']);
    }
  });

  it('denies camera, microphone, location, notifications and the rest; allows only clipboard writes to the app', () => {
    const ses = fakeSession();
    applySessionSecurity(ses, packaged);
    const request = ses.setPermissionRequestHandler.mock.calls[0]![0] as RequestHandler;
    const check = ses.setPermissionCheckHandler.mock.calls[0]![0] as CheckHandler;
    const contents = { getURL: () => appPage } as unknown as WebContents;
    const ask = (permission: Permission, requestingUrl = appPage) => {
      const callback = vi.fn();
      request(contents, permission, callback, { isMainFrame: true, requestingUrl });
      return callback.mock.calls[0]![0] as boolean;
    };
    const denied: Permission[] = [
      'media',
      'display-capture',
      'geolocation',
      'notifications',
      'midi',
      'midiSysex',
      'hid',
      'serial',
      'usb',
      'openExternal',
      'clipboard-read',
      'fullscreen',
      'pointerLock',
      'idle-detection',
      'sensors',
      'storage-access',
      'window-management',
      'local-fonts',
      'unknown',
    ];
    for (const p of denied) {
      expect(ask(p), p).toBe(false);
      expect(check(contents, p, 'app://glance', { isMainFrame: true, requestingUrl: appPage }), p).toBe(false);
    }
    expect(ask('clipboard-sanitized-write')).toBe(true);
    expect(
      check(contents, 'clipboard-sanitized-write', 'app://glance', { isMainFrame: true, requestingUrl: appPage }),
    ).toBe(true);
    // …but not for a page that is not the app's
    expect(ask('clipboard-sanitized-write', 'https://evil.example/')).toBe(false);
    expect(check(null, 'clipboard-sanitized-write', 'https://evil.example', { isMainFrame: true })).toBe(false);
    const device = ses.setDevicePermissionHandler.mock.calls[0]![0] as () => boolean;
    expect(device()).toBe(false);
  });

  it('permissionAllowed needs both a listed permission and an app page', () => {
    expect(permissionAllowed('clipboard-sanitized-write', appPage, packaged)).toBe(true);
    expect(permissionAllowed('clipboard-sanitized-write', undefined, packaged)).toBe(false);
    expect(permissionAllowed('media', appPage, packaged)).toBe(false);
  });
});

describe('what counts as the app', () => {
  it('is the app://glance origin in the package, never a file:// page', () => {
    expect(isAppUrl(appPage, packaged)).toBe(true);
    expect(isAppUrl(`${appPage}#ask`, packaged)).toBe(true);
    expect(isAppUrl('app://glance/assets/index-abc.js', packaged)).toBe(true);
    expect(isAppUrl('app://glance/', packaged)).toBe(true);
    // file:// is not the app's, not even the renderer folder's own files
    expect(isAppUrl(filePage, packaged)).toBe(false);
    expect(isAppUrl(`${filePage}#ask`, packaged)).toBe(false);
    expect(isAppUrl(pathToFileURL(path.join(rendererDir, 'assets', 'x.js')).toString(), packaged)).toBe(false);
    expect(isAppUrl('file:///tmp/evil.html', packaged)).toBe(false);
    expect(isAppUrl('file:///etc/passwd', packaged)).toBe(false);
    // other hosts and origins of the scheme, and look-alikes
    expect(isAppUrl('app://evil/index.html', packaged)).toBe(false);
    expect(isAppUrl('app://glance.evil.example/index.html', packaged)).toBe(false);
    expect(isAppUrl('app://glance:8080/index.html', packaged)).toBe(false);
    expect(isAppUrl('app://user@glance/index.html', packaged)).toBe(false);
    expect(isAppUrl('app:///index.html', packaged)).toBe(false);
    expect(isAppUrl('glance://thumb/1', packaged)).toBe(false);
    expect(isAppUrl('https://glance/index.html', packaged)).toBe(false);
    expect(isAppUrl('http://localhost:5173/', packaged)).toBe(false);
    expect(isAppUrl('javascript:alert(1)', packaged)).toBe(false);
    expect(isAppUrl('data:text/html,<script>1</script>', packaged)).toBe(false);
  });

  it('is the dev server origin in development', () => {
    expect(isAppUrl('http://localhost:5173/#ask', dev)).toBe(true);
    expect(isAppUrl('http://localhost:5174/', dev)).toBe(false);
    expect(isAppUrl('https://localhost:5173/', dev)).toBe(false);
    expect(isAppUrl('http://localhost.evil.example:5173/', dev)).toBe(false);
    expect(isAppUrl(appPage, dev)).toBe(false);
    expect(isAppUrl(filePage, dev)).toBe(false);
    expect(isAppUrl('not a url', dev)).toBe(false);
  });
});

/** A WebContents whose listeners the test can fire. */
function fakeContents() {
  const listeners = new Map<string, (...args: unknown[]) => void>();
  const contents = {
    // Electron's `on` returns the WebContents for chaining; hardenContents does not chain.
    on: vi.fn((name: string, fn: (...args: unknown[]) => void) => {
      listeners.set(name, fn);
      return undefined as never;
    }),
    setWindowOpenHandler: vi.fn(),
  } satisfies Parameters<typeof hardenContents>[0];
  const fire = (name: string, url: string) => {
    const event = { url, preventDefault: vi.fn(), isMainFrame: true, isSameDocument: false, frame: null };
    listeners.get(name)!(event, url);
    return event.preventDefault.mock.calls.length > 0;
  };
  return { contents, listeners, fire };
}

describe('navigation and new windows', () => {
  it('stays inside the app: another origin is blocked, the app itself is not', () => {
    const { contents, fire } = fakeContents();
    hardenContents(contents, packaged);
    for (const event of ['will-navigate', 'will-frame-navigate', 'will-redirect']) {
      expect(fire(event, 'https://evil.example/'), event).toBe(true);
      expect(fire(event, 'file:///etc/passwd'), event).toBe(true);
      expect(fire(event, filePage), event).toBe(true);
      expect(fire(event, 'app://evil/index.html'), event).toBe(true);
      expect(fire(event, 'javascript:alert(1)'), event).toBe(true);
      expect(fire(event, `${appPage}#ask`), event).toBe(false);
    }
    const devContents = fakeContents();
    hardenContents(devContents.contents, dev);
    expect(devContents.fire('will-navigate', 'http://localhost:5173/#capture')).toBe(false);
    expect(devContents.fire('will-navigate', 'http://localhost:8080/')).toBe(true);
  });

  it('denies window.open and <webview>', () => {
    const { contents, listeners } = fakeContents();
    hardenContents(contents, packaged);
    const handler = contents.setWindowOpenHandler.mock.calls[0]![0] as (d: unknown) => { action: string };
    expect(handler({ url: appPage })).toEqual({ action: 'deny' });
    expect(handler({ url: 'https://evil.example/' })).toEqual({ action: 'deny' });
    const event = { preventDefault: vi.fn() };
    listeners.get('will-attach-webview')!(event, {}, { src: 'https://evil.example/' });
    expect(event.preventDefault).toHaveBeenCalled();
  });
});

describe('trustedSender', () => {
  const registered = (id: number) => {
    const contents = new AppContents();
    let destroyed: () => void = () => {};
    contents.add({
      id,
      send: vi.fn(),
      isDestroyed: () => false,
      once: vi.fn((_: string, fn: () => void) => {
        destroyed = fn;
      }) as never,
    });
    return { contents, destroy: () => destroyed() };
  };
  const frame = (url: string, o: Partial<FrameLike> = {}): FrameLike => ({
    url,
    parent: null,
    frameTreeNodeId: 7,
    detached: false,
    ...o,
  });
  const event = (senderFrame: FrameLike | null, id = 1, mainFrame = frame(appPage)): SenderEventLike => ({
    sender: { id, mainFrame },
    senderFrame,
  });

  it('accepts the main frame of an app window showing the app', () => {
    const { contents } = registered(1);
    expect(trustedSender(packaged, contents)(event(frame(appPage)))).toBe(true);
    expect(trustedSender(dev, contents)(event(frame('http://localhost:5173/'), 1))).toBe(true);
  });

  it('refuses a subframe, even one showing an app page', () => {
    const { contents } = registered(1);
    const sub = frame(appPage, { parent: frame(appPage), frameTreeNodeId: 8 });
    expect(trustedSender(packaged, contents)(event(sub))).toBe(false);
    // refused on its parent alone, whatever it claims otherwise
    expect(trustedSender(packaged, contents)(event(frame(appPage, { parent: frame(appPage) })))).toBe(false);
    // a frame claiming to be top-level but not the contents' main frame
    expect(trustedSender(packaged, contents)(event(frame(appPage, { frameTreeNodeId: 9 })))).toBe(false);
  });

  it('refuses another origin, a foreign file page, and a frame that is gone', () => {
    const { contents } = registered(1);
    const trust = trustedSender(packaged, contents);
    expect(trust(event(frame('https://evil.example/')))).toBe(false);
    expect(trust(event(frame('file:///tmp/evil.html')))).toBe(false);
    expect(trust(event(frame('file:///home/user/Downloads/index.html')))).toBe(false);
    // the renderer's own index.html as a file:// page is not the app either
    expect(trust(event(frame(filePage)))).toBe(false);
    expect(trust(event(frame('app://evil/index.html')))).toBe(false);
    expect(trust(event(null))).toBe(false);
    expect(trust(event(frame(appPage, { detached: true })))).toBe(false);
    expect(trustedSender(dev, contents)(event(frame('http://localhost:9999/')))).toBe(false);
  });

  it('refuses a WebContents the app did not create, or one already destroyed', () => {
    const { contents, destroy } = registered(1);
    const trust = trustedSender(packaged, contents);
    expect(trust(event(frame(appPage), 2))).toBe(false);
    expect(trust(event(frame(appPage), 1))).toBe(true);
    destroy();
    expect(trust(event(frame(appPage), 1))).toBe(false);
    expect(contents.all()).toEqual([]);
  });
});

describe('the rest of the checklist, in the sources', () => {
  const sources = (dir: string): string[] =>
    readdirSync(path.join(repoRoot, dir), { recursive: true, encoding: 'utf8' })
      .filter((f) => /\.(ts|svelte)$/.test(f))
      .map((f) => path.join(repoRoot, dir, f));

  it('no code opens links in the system browser (item 15: shell.openExternal is not used)', () => {
    const files = [...sources('electron'), ...sources('renderer/src')];
    expect(files.length).toBeGreaterThan(50);
    const users = files.filter((f) => /\bopenExternal\b/.test(readFileSync(f, 'utf8')));
    expect(users.map((f) => path.relative(repoRoot, f))).toEqual([]);
  });

  it('Electron is pinned to one release of a supported line (item 16)', () => {
    const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
      devDependencies?: Record<string, string>;
      dependencies?: Record<string, string>;
    };
    const version = pkg.devDependencies?.electron ?? pkg.dependencies?.electron ?? '';
    expect(version).toMatch(/^\d+\.\d+\.\d+$/); // exact: no range that could move
    expect(Number(version.split('.')[0])).toBeGreaterThanOrEqual(45);
  });
});
