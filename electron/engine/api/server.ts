// The local API: an OpenAI-compatible HTTP server, so that editors, scripts and agents use Glance's models and
// library without the window. It runs inside the engine process (engine-main.ts), beside the window's services and
// on the same chat queue; `glance serve` and the Settings switch both start it there.
//
// A local server is an attack surface: web pages in the person's browser and other users of the machine can reach
// it. So, in this order, before any body is read:
//   1. it listens on 127.0.0.1 and ::1 only;
//   2. Host must be localhost, 127.0.0.1 or [::1] with this port (a DNS-rebinding page sends its own name): 403;
//   3. a request with an Origin header (a browser's) is refused unless that origin is allowed in settings (no CORS
//      by default): 403;
//   4. a bearer token is required (generated at first start, kept in the data folder, readable by its owner only),
//      compared in constant time: 401;
// then the body is bounded (413), parsed with a depth limit, and validated with the contract's schema library; a
// request never names a path (images are data: URLs or glance://photo/<id>). Errors are OpenAI's error object.
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as v from 'valibot';
import {
  type ApiBackend,
  ApiError,
  type ApiImage,
  type ChatCompletionBody,
  chatCompletionBody,
  type EmbeddingsBody,
  embeddingsBody,
  issueText,
  parseImageUrl,
  searchBody,
} from './schema.ts';

export interface ApiLimits {
  /** Bytes of a request body (default 32 MiB: a few screenshots as data URLs). */
  bodyBytes: number;
  /** Images in one request, all messages together (default 8). */
  images: number;
  /** Nesting depth of a JSON body (default 32). */
  depth: number;
}

const DEFAULT_LIMITS: Readonly<ApiLimits> = { bodyBytes: 32 * 1024 * 1024, images: 8, depth: 32 };

export interface ApiServerOptions {
  /** 0: any free port (tests). */
  port: number;
  token: string;
  backend: ApiBackend;
  /** Origins (scheme://host[:port]) whose pages may call the API; none by default. */
  allowedOrigins?: readonly string[];
  limits?: Partial<ApiLimits>;
  /** Hosts to listen on (default 127.0.0.1 and ::1; ::1 is skipped where the machine has no IPv6 loopback). */
  hosts?: readonly string[];
}

export interface ApiServer {
  port: number;
  /** The base URL clients use (http://127.0.0.1:PORT/v1). */
  url: string;
  close(): Promise<void>;
}

/** Starts the server; rejects with a message a person can act on when the port is taken. */
export async function startApiServer(o: ApiServerOptions): Promise<ApiServer> {
  const limits: ApiLimits = { ...DEFAULT_LIMITS, ...o.limits };
  const hosts = o.hosts ?? ['127.0.0.1', '::1'];
  const servers: Server[] = [];
  let port = o.port;
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res, { ...o, port, limits }).catch((err) => sendError(req, res, toApiError(err)));
  };
  for (const [i, host] of hosts.entries()) {
    const server = createServer(handler);
    // a slow client cannot hold a connection open for ever (headers within 10 s, a body within 60 s)
    server.headersTimeout = 10_000;
    server.requestTimeout = 60_000;
    try {
      await listen(server, host, port);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // no IPv6 loopback on this machine: IPv4 alone
      if (i > 0 && (code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT')) continue;
      await Promise.all(servers.map(closeServer));
      if (code === 'EADDRINUSE') {
        throw new Error(`port ${port} is in use by another program: choose another port (--port, or Settings)`);
      }
      throw err;
    }
    port = (server.address() as AddressInfo).port;
    servers.push(server);
  }
  return {
    port,
    url: `http://127.0.0.1:${port}/v1`,
    close: async () => {
      await Promise.all(servers.map(closeServer));
    },
  };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

type Context = ApiServerOptions & { port: number; limits: ApiLimits };

async function handle(req: IncomingMessage, res: ServerResponse, c: Context): Promise<void> {
  // 1-3: who is asking, before anything is read
  if (!allowedHost(req.headers.host, c.port)) {
    throw new ApiError(403, 'permission_error', 'forbidden_host', 'the Host header must be localhost with this port');
  }
  const origin = req.headers.origin;
  if (origin !== undefined) {
    if (!c.allowedOrigins?.includes(origin)) {
      throw new ApiError(
        403,
        'permission_error',
        'forbidden_origin',
        `requests from web pages (${origin}) are refused unless the origin is allowed in Glance's settings`,
      );
    }
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Vary', 'Origin');
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        'Access-Control-Allow-Methods': 'GET, POST',
        'Access-Control-Allow-Headers': 'Authorization, Content-Type',
        'Access-Control-Max-Age': '600',
      });
      res.end();
      return;
    }
  }
  if (!authorized(req.headers.authorization, c.token)) {
    throw new ApiError(
      401,
      'authentication_error',
      'invalid_api_key',
      'a bearer token is required: Authorization: Bearer <token> (shown in Settings and by `glance serve --print-token`)',
    );
  }
  const url = new URL(req.url ?? '/', 'http://localhost');
  const route = `${req.method} ${url.pathname.replace(/\/+$/, '')}`;
  switch (route) {
    case 'GET /v1/models':
      return sendJson(res, 200, { object: 'list', data: await c.backend.models() });
    case 'POST /v1/chat/completions':
      return chatCompletions(res, c, v.parse(chatCompletionBody, await readJson(req, c.limits)));
    case 'POST /v1/embeddings':
      return embeddings(res, c, v.parse(embeddingsBody, await readJson(req, c.limits)));
    case 'POST /v1/glance/search': {
      const body = v.parse(searchBody, await readJson(req, c.limits));
      return sendJson(res, 200, { object: 'list', data: await c.backend.search(body) });
    }
  }
  const known = ['/v1/models', '/v1/chat/completions', '/v1/embeddings', '/v1/glance/search'];
  if (known.includes(url.pathname.replace(/\/+$/, ''))) {
    throw new ApiError(405, 'invalid_request_error', 'method_not_allowed', `${req.method} is not allowed here`);
  }
  throw new ApiError(404, 'not_found_error', 'unknown_url', `there is no ${url.pathname} here`);
}

/** localhost, 127.0.0.1 or [::1], with this server's port. */
function allowedHost(host: string | undefined, port: number): boolean {
  if (!host) return false;
  const h = host.toLowerCase();
  return h === `localhost:${port}` || h === `127.0.0.1:${port}` || h === `[::1]:${port}`;
}

function authorized(header: string | undefined, token: string): boolean {
  const m = /^Bearer (\S+)$/.exec(header ?? '');
  if (!m) return false;
  const given = Buffer.from(m[1]!);
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

/** The body as JSON: refused when larger than the limit (before it is read when Content-Length says so). */
async function readJson(req: IncomingMessage, limits: ApiLimits): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new ApiError(415, 'invalid_request_error', 'unsupported_media_type', 'send the body as application/json');
  }
  const tooLarge = () =>
    new ApiError(
      413,
      'invalid_request_error',
      'request_too_large',
      `the request body is larger than ${limits.bodyBytes / (1024 * 1024)} MiB`,
    );
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (declared > limits.bodyBytes) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limits.bodyBytes) throw tooLarge();
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new ApiError(400, 'invalid_request_error', 'invalid_json', `the body is not JSON: ${(err as Error).message}`);
  }
  if (depthOf(body, limits.depth) > limits.depth) {
    throw new ApiError(400, 'invalid_request_error', 'too_deep', `the JSON body nests deeper than ${limits.depth}`);
  }
  return body;
}

/** Nesting depth, counted without recursion, stopping past `max`. */
function depthOf(value: unknown, max: number): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [x, d] = stack.pop()!;
    if (d > deepest) deepest = d;
    if (deepest > max) return deepest;
    if (x && typeof x === 'object') for (const child of Object.values(x)) stack.push([child, d + 1]);
  }
  return deepest;
}

async function chatCompletions(res: ServerResponse, c: Context, body: ChatCompletionBody): Promise<void> {
  let images = 0;
  const messages = body.messages.map((m) => {
    const parts = typeof m.content === 'string' ? [{ type: 'text' as const, text: m.content }] : m.content;
    const text: string[] = [];
    const pictures: ApiImage[] = [];
    for (const p of parts) {
      if (p.type === 'text') text.push(p.text);
      else {
        if (m.role !== 'user') {
          throw new ApiError(400, 'invalid_request_error', 'invalid_image', 'only user messages can hold images');
        }
        if (++images > c.limits.images) {
          throw new ApiError(
            400,
            'invalid_request_error',
            'too_many_images',
            `a request holds at most ${c.limits.images} images`,
          );
        }
        pictures.push(parseImageUrl(p.image_url.url));
      }
    }
    return { role: m.role, text: text.join('\n'), images: pictures };
  });
  const stops =
    body.stop === undefined || body.stop === null ? [] : typeof body.stop === 'string' ? [body.stop] : body.stop;
  const id = `chatcmpl-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
  const created = Math.floor(Date.now() / 1000);
  // a client that goes away stops the generation (the response closes before it is finished)
  const abort = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) abort.abort(new Error('the client disconnected'));
  });
  const stream = body.stream === true;
  const filter = stopFilter(stops);
  let streaming = false;
  const chunk = (delta: Record<string, unknown>, finish: string | null) => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model: body.model,
    choices: [{ index: 0, delta, finish_reason: finish }],
  });
  const write = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`);
  /** The answer has begun: from here an error can only end the stream (its status is sent). */
  const begin = () => {
    if (streaming || !stream) return;
    streaming = true;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
    });
    write(chunk({ role: 'assistant', content: '' }, null));
  };
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  const result = await c.backend
    .chat({
      model: body.model,
      messages,
      ...(maxTokens != null ? { maxTokens } : {}),
      ...(body.temperature != null ? { temperature: body.temperature } : {}),
      ...(body.seed != null ? { seed: body.seed } : {}),
      signal: abort.signal,
      onToken: (token) => {
        begin();
        const { emit, stop } = filter.push(token);
        if (stream && emit) write(chunk({ content: emit }, null));
        return stop;
      },
    })
    .catch((err) => {
      if (!streaming) throw err;
      // mid-stream: an error event, then the end
      if (!res.writableEnded && !res.destroyed) {
        write(toApiError(err).body());
        res.end('data: [DONE]\n\n');
      }
      return null;
    });
  if (!result) return;
  const tail = filter.end();
  const finish = !filter.stopped && result.generatedTokens >= result.maxTokens ? 'length' : 'stop';
  const usage = {
    prompt_tokens: result.promptTokens,
    completion_tokens: result.generatedTokens,
    total_tokens: result.promptTokens + result.generatedTokens,
  };
  if (stream) {
    begin();
    if (tail) write(chunk({ content: tail }, null));
    write(chunk({}, finish));
    if (body.stream_options?.include_usage) write({ ...chunk({}, null), choices: [], usage });
    res.end('data: [DONE]\n\n');
    return;
  }
  // the client went away while the answer was written (a request's stream is destroyed once read: not that)
  if (res.destroyed) return;
  sendJson(res, 200, {
    id,
    object: 'chat.completion',
    created,
    model: result.model,
    choices: [
      { index: 0, message: { role: 'assistant', content: filter.text }, finish_reason: finish, logprobs: null },
    ],
    usage,
  });
}

/**
 * Stop sequences over a token stream: text that could be the start of a stop sequence is held back until it is
 * known not to be; the first stop sequence met ends the answer, itself left out (as OpenAI does).
 */
function stopFilter(stops: readonly string[]) {
  let text = ''; // the answer so far, stop sequences cut
  let pending = '';
  let stopped = false;
  const held = (s: string) => {
    // the longest suffix of s that is a proper prefix of a stop sequence
    let keep = 0;
    for (const stop of stops) {
      for (let n = Math.min(stop.length - 1, s.length); n > keep; n--) {
        if (s.endsWith(stop.slice(0, n))) {
          keep = n;
          break;
        }
      }
    }
    return keep;
  };
  return {
    push(token: string): { emit: string; stop: boolean } {
      if (stopped) return { emit: '', stop: true };
      pending += token;
      let cut = -1;
      for (const stop of stops) {
        const at = pending.indexOf(stop);
        if (at >= 0 && (cut < 0 || at < cut)) cut = at;
      }
      if (cut >= 0) {
        const emit = pending.slice(0, cut);
        text += emit;
        pending = '';
        stopped = true;
        return { emit, stop: true };
      }
      const keep = held(pending);
      const emit = pending.slice(0, pending.length - keep);
      pending = pending.slice(pending.length - keep);
      text += emit;
      return { emit, stop: false };
    },
    /** What was held back when the answer ended without a stop sequence. */
    end(): string {
      const rest = stopped ? '' : pending;
      text += rest;
      pending = '';
      return rest;
    },
    get stopped() {
      return stopped;
    },
    get text() {
      return text;
    },
  };
}

async function embeddings(res: ServerResponse, c: Context, body: EmbeddingsBody): Promise<void> {
  const inputs = typeof body.input === 'string' ? [body.input] : body.input;
  const images = inputs.filter((i) => i.startsWith('data:') || i.startsWith('glance:')).length;
  if (images > c.limits.images) {
    throw new ApiError(
      400,
      'invalid_request_error',
      'too_many_images',
      `a request holds at most ${c.limits.images} images`,
    );
  }
  const items = inputs.map((i) =>
    i.startsWith('data:') || i.startsWith('glance:') ? { image: parseImageUrl(i) } : { text: i },
  );
  const r = await c.backend.embed({ ...(body.model ? { model: body.model } : {}), inputs: items });
  const base64 = body.encoding_format === 'base64';
  sendJson(res, 200, {
    object: 'list',
    model: r.model,
    data: r.vectors.map((vec, index) => ({
      object: 'embedding',
      index,
      embedding: base64 ? Buffer.from(vec.buffer, vec.byteOffset, vec.byteLength).toString('base64') : Array.from(vec),
    })),
    usage: { prompt_tokens: r.tokens, total_tokens: r.tokens },
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

function sendError(req: IncomingMessage, res: ServerResponse, e: ApiError): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  if (e.retryAfter !== undefined) res.setHeader('Retry-After', String(e.retryAfter));
  if (!req.complete) {
    // The body was not read (too large, or refused before it): the connection closes after the answer rather than
    // reading the rest, so a client cannot make the server swallow a body of any size.
    res.setHeader('Connection', 'close');
    res.on('finish', () => req.destroy());
  }
  sendJson(res, e.status, e.body());
}

/** Any failure as OpenAI's error object with the right status; the message is always a sentence, never empty. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof v.ValiError) {
    return new ApiError(400, 'invalid_request_error', 'invalid_request', issueText(err.issues));
  }
  const e = err as { code?: unknown; message?: unknown };
  const message = typeof e?.message === 'string' && e.message ? e.message : String(err);
  const code = typeof e?.code === 'string' ? e.code : '';
  // a picture that is not one, broken, or a decompression bomb: the request's fault
  if (code.startsWith('image-')) return new ApiError(400, 'invalid_request_error', 'invalid_image', message);
  switch (code) {
    case 'busy':
      return new ApiError(429, 'rate_limit_error', 'busy', message, 2);
    case 'bad-request':
    case 'text-model-missing':
      return new ApiError(400, 'invalid_request_error', 'invalid_request', message);
    case 'not-found':
    case 'photo-not-indexed':
    case 'photo-missing':
      return new ApiError(404, 'not_found_error', 'not_found', message);
    case 'unknown-model':
    case 'model-not-installed':
      return new ApiError(404, 'not_found_error', 'model_not_found', message);
    case 'no-chat-model':
    case 'mmproj-missing':
    case 'model-folder-missing':
    case 'model-file-missing':
      return new ApiError(503, 'server_error', 'model_unavailable', message);
    case 'engine-stopped':
    case 'engine-crashed':
      return new ApiError(503, 'server_error', 'engine_restarting', message, 2);
  }
  return new ApiError(500, 'server_error', 'internal', message);
}
