// The test-only bridge: the built renderer served over HTTP, with window.glance provided by a client script that
// carries the same contract over a WebSocket to the real router logic (dispatch), the real backend and a real engine
// process. Only on 127.0.0.1. Pictures (glance://…) are served by id through the backend's resolvers, as the app's
// protocol handler does.
import { EventEmitter } from 'node:events';
import { readFile, stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import sharp from 'sharp';
import { WebSocketServer } from 'ws';
import { EngineSupervisor } from '../../electron/engine/process/supervisor.ts';
import { CHANNELS } from '../../electron/ipc/contract.ts';
import { captionProgressView, createBackend } from '../../electron/main/backend.ts';
import { type CaptureFlow, createCaptureFlow } from '../../electron/main/capture/flow.ts';
import { dispatch } from '../../electron/main/router.ts';

export interface Bridge {
  url: string;
  engine: EngineSupervisor;
  /** Screenshot-and-ask as the hotkey drives it: start() readies the frame the #capture overlay shows. */
  capture: CaptureFlow;
  /** What the "native folder picker" answers next. */
  pickFolder: { next: string | null };
  /**
   * Every app event as the window gets it ('chat.token', 'library.progress', ...), for tests to wait on; and
   * 'captions.photo', each photo the caption job finished (the engine's captionsPhoto, which the window does not get).
   */
  events: EventEmitter;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.webp': 'image/webp',
};

/** Bytes cross JSON as {__bytes: base64}; glance:// URLs become this server's /glance/… */
const CLIENT = `
(() => {
  const ws = new WebSocket('ws://' + location.host + '/ws');
  const open = new Promise((resolve) => ws.addEventListener('open', resolve, { once: true }));
  const pending = new Map();
  const listeners = new Map();
  let next = 1;
  const enc = (v) => JSON.stringify(v, (k, x) => {
    if (x instanceof Uint8Array) { let s = ''; for (const b of x) s += String.fromCharCode(b); return { __bytes: btoa(s) }; }
    return x;
  });
  const dec = (text) => JSON.parse(text.replaceAll('glance://', location.origin + '/glance/'));
  ws.addEventListener('message', (m) => {
    const msg = dec(m.data);
    if (msg.event) { for (const l of listeners.get(msg.event) ?? []) l(msg.payload); return; }
    const p = pending.get(msg.id); pending.delete(msg.id); p?.(msg.result);
  });
  const channels = __CHANNELS__;
  const api = {};
  for (const c of channels) {
    api[c] = async (arg) => { await open; const id = next++; ws.send(enc({ id, channel: c, arg })); return new Promise((r) => pending.set(id, r)); };
  }
  api.on = (event, listener) => {
    const set = listeners.get(event) ?? new Set(); set.add(listener); listeners.set(event, set);
    return () => set.delete(listener);
  };
  window.glance = Object.freeze(api);
})();
`;

export async function startBridge(opts: {
  home: string;
  rendererDir: string;
  env?: NodeJS.ProcessEnv;
}): Promise<Bridge> {
  const sockets = new Set<import('ws').WebSocket>();
  const events = new EventEmitter();
  const broadcast = (event: string, payload: unknown) => {
    events.emit(event, payload);
    const text = JSON.stringify({ event, payload });
    for (const s of sockets) s.send(text);
  };
  const engine = new EngineSupervisor({
    home: opts.home,
    events: {
      chatToken: (e) => broadcast('chat.token', e),
      libraryProgress: (p) => broadcast('library.progress', p),
      duplicatesProgress: (p) => broadcast('library.duplicatesProgress', p),
      modelsProgress: (p) => broadcast('models.progress', p),
      // as the app's main process sends it: photo names, paths only to show
      captionsProgress: (p) => broadcast('captions.progress', captionProgressView(p)),
      // not an event of the window: for tests to wait on a photo captioned ('captions.photo')
      captionsPhoto: (e) => events.emit('captions.photo', e),
    },
    onStatus: (s) => broadcast('engine.status', s),
    backoffMs: 200,
  });
  await engine.start();
  const pickFolder = { next: null as string | null };
  // No screens here: a fixed 1280x800 display whose "screen" is white with one dark band.
  const backendCapture = createCaptureFlow({
    engine,
    platform: 'linux',
    grab: async () => {
      const d = {
        id: 1,
        bounds: { x: 0, y: 0, width: 1280, height: 800 },
        workArea: { x: 0, y: 0, width: 1280, height: 770 },
        scaleFactor: 1,
      };
      const png = await sharp({
        create: { width: d.bounds.width, height: d.bounds.height, channels: 3, background: '#ffffff' },
      })
        .composite([
          {
            input: { create: { width: 600, height: 40, channels: 3, background: '#202020' } },
            left: 100,
            top: 100,
          },
        ])
        .png()
        .toBuffer();
      return { png: new Uint8Array(png), width: d.bounds.width, height: d.bounds.height, display: d };
    },
    openOverlay: () => {},
    closeOverlay: () => {},
    openAskWindow: () => {},
    closeAskWindow: () => {},
    showChat: () => {},
  });
  const backend = createBackend({
    engine,
    dataFolder: opts.home,
    pickFolder: async () => pickFolder.next,
    capture: backendCapture,
  });
  const client = CLIENT.replace('__CHANNELS__', JSON.stringify(Object.keys(CHANNELS)));

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    try {
      if (url.pathname === '/bridge.js') {
        res.writeHead(200, { 'content-type': TYPES['.js']! }).end(client);
        return;
      }
      const shot = /^\/glance\/capture\/([0-9a-f]{32})$/.exec(url.pathname);
      if (shot) {
        const bytes = await backendCapture.image(shot[1]!);
        if (!bytes) throw new Error('not found');
        res.writeHead(200, { 'content-type': 'image/png' }).end(bytes);
        return;
      }
      const pic = /^\/glance\/(thumb|attachment)\/([0-9a-f]+)$/.exec(url.pathname);
      if (pic) {
        const file =
          pic[1] === 'thumb'
            ? await backend.resolveThumbnail(Number(pic[2]))
            : await backend.resolveAttachment(pic[2]!);
        if (!file) throw new Error('not found');
        const bytes = await readFile(file);
        res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' }).end(bytes);
        return;
      }
      const rel = url.pathname === '/' ? 'index.html' : decodeURIComponent(url.pathname).replace(/^\/+/, '');
      const file = path.resolve(opts.rendererDir, rel);
      if (!file.startsWith(path.resolve(opts.rendererDir) + path.sep) || !(await stat(file)).isFile())
        throw new Error('not found');
      let body: Buffer | string = await readFile(file);
      // the page gets the bridge before its own scripts, the way the preload runs before the renderer
      if (rel === 'index.html')
        body = body.toString('utf8').replace('<head>', '<head><script src="/bridge.js"></script>');
      res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  const wss = new WebSocketServer({ server, path: '/ws' });
  wss.on('connection', (ws) => {
    sockets.add(ws);
    ws.on('close', () => sockets.delete(ws));
    ws.on('message', async (data) => {
      const msg = JSON.parse(data.toString(), (_k, x) =>
        x && typeof x === 'object' && typeof x.__bytes === 'string'
          ? new Uint8Array(Buffer.from(x.__bytes, 'base64'))
          : x,
      ) as { id: number; channel: string; arg: unknown };
      const result = await dispatch(backend.handlers, msg.channel, msg.arg);
      ws.send(JSON.stringify({ id: msg.id, result }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    engine,
    capture: backendCapture,
    pickFolder,
    events,
    async close() {
      for (const s of sockets) s.terminate();
      wss.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await engine.stop();
    },
  };
}
