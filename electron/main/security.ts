// Electron's security checklist, as code: the web preferences of every window, the Content-Security-Policy, the
// permission policy, navigation and window.open rules, and the check that an IPC message comes from the app's own
// page. The renderer is treated as untrusted: a bug in it (or in a dependency of it) must not reach the machine.
import type { Session, WebContents, WebPreferences } from 'electron';
import { APP_HOST, APP_SCHEME } from './protocol.ts';

/**
 * Where the app's own pages come from: the Vite dev server in development, otherwise the packaged renderer folder,
 * served as `app://glance/` (protocol.ts). Never `file://`: no file page is the app's.
 */
export interface AppLocation {
  /** The dev server (`MAIN_WINDOW_VITE_DEV_SERVER_URL`); its origin is the app's. Only in development. */
  devServerUrl?: string;
  /** The packaged renderer folder (absolute path), served as `app://glance/`: set, that origin is the app's. */
  rendererDir?: string;
}

/** The preferences of every window Glance opens: isolated, sandboxed, no Node, nothing experimental. */
export function secureWebPreferences(preload: string): WebPreferences {
  return {
    preload,
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
    safeDialogs: true,
  };
}

export interface CspOptions {
  /** Development only: the Vite dev server, whose HMR socket and injected styles the page needs. */
  devServerUrl?: string;
  /**
   * Allows inline styles (`style="…"` attributes and `<style>` elements). Off in production: Vite extracts the
   * Svelte components' CSS to files. The dev server injects CSS as `<style>` elements, so development needs it.
   */
  allowInlineStyles?: boolean;
}

/**
 * The Content-Security-Policy of the app's pages. Nothing remote, no eval, no inline script, no plugins, no frames;
 * images from the app, from `glance:` (thumbnails and attachments, served by id) and from data:/blob: URLs (pasted
 * and dropped images before they are sent).
 */
export function contentSecurityPolicy(o: CspOptions = {}): string {
  const dev = o.devServerUrl ? new URL(o.devServerUrl) : null;
  const hmr = dev ? [`${dev.protocol === 'https:' ? 'wss' : 'ws'}://${dev.host}`, dev.origin] : [];
  const inline = (o.allowInlineStyles ?? Boolean(dev)) ? ["'unsafe-inline'"] : [];
  const directives: [string, ...string[]][] = [
    ['default-src', "'none'"],
    ['script-src', "'self'"],
    ['style-src', "'self'", ...inline],
    ['img-src', "'self'", 'glance:', 'data:', 'blob:'],
    ['font-src', "'self'"],
    ['connect-src', "'self'", ...hmr],
    ['object-src', "'none'"],
    ['base-uri', "'none'"],
    ['form-action', "'none'"],
    ['frame-ancestors', "'none'"],
  ];
  return directives.map((d) => d.join(' ')).join('; ');
}

/** The policy of the packaged app. */
export const CSP = contentSecurityPolicy();

/**
 * Whether a URL is one of the app's own pages: the `app://glance` origin in the package (the protocol handler
 * serves nothing outside the renderer folder there), the dev server's origin in development. `file://` never is.
 */
export function isAppUrl(url: string, app: AppLocation): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.protocol === `${APP_SCHEME}:`) {
    // Node parses app: as a non-special scheme (its origin is "null"): compare the parts. Chromium lower-cases the
    // host of a standard scheme, so the app's own URLs always arrive as exactly `app://glance/…`.
    return Boolean(app.rendererDir) && u.host === APP_HOST && u.username === '' && u.password === '';
  }
  if (!app.devServerUrl) return false;
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return false;
  return u.origin === new URL(app.devServerUrl).origin;
}

/**
 * Permissions a page of the app may have; everything else (camera, microphone, geolocation, notifications, screen
 * capture, HID/USB/serial, MIDI, sensors, idle detection, storage access, …) is denied, for every page.
 * - `clipboard-sanitized-write`: `navigator.clipboard.writeText` for the "copy answer" button.
 * Screen capture is not here on purpose: the main process captures the screen (desktopCapturer) and hands the
 * renderer an image; no page ever calls getDisplayMedia.
 */
export const ALLOWED_PERMISSIONS: ReadonlySet<string> = new Set(['clipboard-sanitized-write']);

export function permissionAllowed(permission: string, requestingUrl: string | undefined, app: AppLocation): boolean {
  return ALLOWED_PERMISSIONS.has(permission) && requestingUrl !== undefined && isAppUrl(requestingUrl, app);
}

type SessionLike = {
  webRequest: Pick<Session['webRequest'], 'onHeadersReceived'>;
} & Pick<Session, 'setPermissionRequestHandler' | 'setPermissionCheckHandler' | 'setDevicePermissionHandler'>;

/**
 * The session's share of the checklist: the CSP header on every response (the app:// handler sets it on its own
 * responses too; the renderer's HTML also carries the policy as a meta tag), and the permission policy.
 */
export function applySessionSecurity(ses: SessionLike, app: AppLocation, csp?: string): void {
  const policy = csp ?? contentSecurityPolicy(app.devServerUrl ? { devServerUrl: app.devServerUrl } : {});
  ses.webRequest.onHeadersReceived((details, callback) => {
    const headers: Record<string, string[]> = {};
    for (const [name, value] of Object.entries(details.responseHeaders ?? {})) {
      // A server's own policy (the dev server's, say) is replaced, not combined.
      if (name.toLowerCase() !== 'content-security-policy') headers[name] = value;
    }
    headers['Content-Security-Policy'] = [policy];
    headers['X-Content-Type-Options'] = ['nosniff'];
    callback({ responseHeaders: headers });
  });
  ses.setPermissionRequestHandler((contents, permission, callback, details) => {
    callback(permissionAllowed(permission, details.requestingUrl || contents?.getURL(), app));
  });
  ses.setPermissionCheckHandler((contents, permission, _origin, details) =>
    permissionAllowed(permission, details.requestingUrl || contents?.getURL(), app),
  );
  ses.setDevicePermissionHandler(() => false);
}

type ContentsLike = Pick<WebContents, 'on' | 'setWindowOpenHandler'>;

/**
 * Rules for every WebContents the app creates: navigation only within the app, no new windows from a page, no
 * `<webview>`. Links to the web are not followed; Glance never shows remote content.
 */
export function hardenContents(contents: ContentsLike, app: AppLocation): void {
  const stayInApp = (event: { preventDefault(): void; url: string }) => {
    if (!isAppUrl(event.url, app)) event.preventDefault();
  };
  contents.on('will-navigate', stayInApp);
  contents.on('will-frame-navigate', stayInApp);
  contents.on('will-redirect', stayInApp);
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
}

/** The WebContents of the windows Glance created: IPC from any other WebContents is refused. */
export class AppContents {
  private readonly byId = new Map<number, Pick<WebContents, 'id' | 'send' | 'isDestroyed'>>();

  add(contents: Pick<WebContents, 'id' | 'send' | 'isDestroyed' | 'once'>): void {
    const id = contents.id;
    this.byId.set(id, contents);
    contents.once('destroyed', () => this.byId.delete(id));
  }

  has(id: number): boolean {
    return this.byId.has(id);
  }

  /** The live ones, for events the app pushes to every window. */
  all(): Pick<WebContents, 'id' | 'send' | 'isDestroyed'>[] {
    return [...this.byId.values()].filter((c) => !c.isDestroyed());
  }
}

/** What trustedSender reads of a frame: Electron's WebFrameMain has all of it. */
export interface FrameLike {
  readonly url: string;
  readonly parent: object | null;
  readonly frameTreeNodeId: number;
  readonly detached: boolean;
}

/** What trustedSender reads of an IPC event: Electron's IpcMainInvokeEvent has all of it. */
export interface SenderEventLike {
  readonly sender: { readonly id: number; readonly mainFrame: FrameLike };
  readonly senderFrame: FrameLike | null;
}

/**
 * The sender check for every IPC call: the main frame (never a subframe) of a WebContents the app created, showing
 * one of the app's own pages.
 */
export function trustedSender(app: AppLocation, contents: Pick<AppContents, 'has'>) {
  return (event: SenderEventLike): boolean => {
    const frame = event.senderFrame;
    if (!frame || frame.detached || frame.parent !== null) return false;
    if (frame.frameTreeNodeId !== event.sender.mainFrame.frameTreeNodeId) return false;
    if (!contents.has(event.sender.id)) return false;
    return isAppUrl(frame.url, app);
  };
}
