// The local OpenAI-compatible API, served by a real engine process as `glance serve` runs it (EngineSupervisor with
// GLANCE_API), with a random-weight LLaVA pair and the tiny CLIP over a small indexed library. The official `openai`
// npm package is the client where a client is the point (models, chat with an image streamed and not, embeddings,
// an abort); raw HTTP for what a well-behaved client never sends (no token, a foreign Host, an Origin, a body too
// large, a bad picture), 429 when busy, the engine killed mid-request, and a fuzz of the JSON bodies.

import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiConfig } from '../../electron/engine/api/config.ts';
import type { ApiStatus } from '../../electron/engine/process/contract.ts';
import { EngineSupervisor } from '../../electron/engine/process/supervisor.ts';
import * as img from '../fixtures/images.ts';
import { installTinyClip } from '../fixtures/installed-model.ts';
import { seededRandom } from '../fixtures/random.ts';
import { writeTinyLlava } from '../fixtures/tiny-llava.ts';

const CHAT = 'tiny-llava';
let tmp: string;
let home: string;
let engine: EngineSupervisor;
let status: ApiStatus;
let client: OpenAI;
let port: number;
let redPng: Buffer;
let redId: number;
let clipId: string;

/** A port free now (the API must come back on the same one after a restart, so 0 will not do). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

const dataUrl = (bytes: Buffer, type = 'png') => `data:image/${type};base64,${bytes.toString('base64')}`;

/** A raw HTTP exchange: status, headers and the body as JSON (or text). */
function raw(o: {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  host?: string;
}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; json: unknown; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: o.method ?? 'GET',
        path: o.path,
        headers: {
          Host: o.host ?? `127.0.0.1:${port}`,
          ...(o.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
          ...o.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown = null;
          try {
            json = JSON.parse(text);
          } catch {}
          resolve({ status: res.statusCode!, headers: res.headers, json, text });
        });
      },
    );
    req.on('error', reject);
    if (o.body !== undefined) req.write(o.body);
    req.end();
  });
}

/** A PNG of the given size with no pixel data: its header alone (what a decompression bomb's looks like). */
function pngHeaderOnly(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([
    signature,
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(64))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const auth = () => ({ Authorization: `Bearer ${status.token}` });
const chatBody = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model: CHAT, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 2, ...extra });

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-api-'));
  home = path.join(tmp, 'home');
  await installTinyClip(home);
  const photos = path.join(tmp, 'photos');
  await img.writeSolid(path.join(photos, 'red.png'), [230, 10, 10], 60, 40);
  await img.writeSolid(path.join(photos, 'blue.png'), [10, 10, 230], 60, 40);
  redPng = await readFile(path.join(photos, 'red.png'));
  // wide enough that a long answer takes seconds: an abort that did not stop it would show
  const llava = await writeTinyLlava(path.join(tmp, 'llava'), { nEmbd: 256 });
  port = await freePort();
  const config: ApiConfig = {
    port,
    chat: { label: CHAT, model: llava.model, mmproj: llava.mmproj, contextSize: 32_768 },
  };
  engine = new EngineSupervisor({ home, env: { GLANCE_API: JSON.stringify(config) }, backoffMs: 100 });
  await engine.start();
  // the library: one folder indexed with the tiny CLIP
  await engine.call('libAddFolder', { path: photos });
  await engine.call('libIndex');
  redId = (await engine.call('libSearch', { text: 'a photo of something red.', limit: 1 }))[0]!.id;
  status = await engine.call('apiStatus');
  client = new OpenAI({ baseURL: status.url!, apiKey: status.token!, maxRetries: 0 });
}, 120_000);

afterAll(async () => {
  await engine?.stop();
  await rm(tmp, { recursive: true, force: true });
});

describe('the API as `glance serve` runs it', () => {
  it('listens on the loopback with the port asked for, and a token kept for its owner only', async () => {
    expect(status).toMatchObject({
      enabled: true,
      running: true,
      port,
      url: `http://127.0.0.1:${port}/v1`,
      error: null,
    });
    expect(status.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await readFile(status.tokenFile, 'utf8')).trim()).toBe(status.token);
    if (process.platform !== 'win32') expect((await stat(status.tokenFile)).mode & 0o777).toBe(0o600);
  });

  it('lists the chat and CLIP models (openai client)', async () => {
    const models = [];
    for await (const m of client.models.list()) models.push(m);
    const kinds = Object.fromEntries(models.map((m) => [m.id, (m as unknown as { kind: string }).kind]));
    expect(kinds[CHAT]).toBe('chat');
    clipId = models.find((m) => (m as unknown as { kind: string }).kind === 'clip')!.id;
    expect(clipId).toBeTruthy();
    expect(models.every((m) => m.object === 'model' && m.owned_by === 'glance')).toBe(true);
  });

  it('answers about an image, streamed token by token, ending with usage and [DONE] (openai client)', async () => {
    const stream = await client.chat.completions.create({
      model: CHAT,
      messages: [
        { role: 'system', content: 'Be brief.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What colour is this?' },
            { type: 'image_url', image_url: { url: dataUrl(redPng) } },
          ],
        },
      ],
      max_tokens: 12,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    const pieces: string[] = [];
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | null | undefined = null;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      expect(chunk.object).toBe('chat.completion.chunk');
      const choice = chunk.choices[0];
      if (choice?.delta.content) pieces.push(choice.delta.content);
      if (choice?.finish_reason) finish = choice.finish_reason;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(pieces.length).toBeGreaterThan(1); // token by token, not one block
    expect(chunks).toBeGreaterThan(pieces.length); // the role chunk, the finish chunk, the usage chunk
    expect(finish).toBe('length'); // the tiny model never ends by itself: 12 tokens
    expect(usage!.completion_tokens).toBe(12);
    // the image took positions in the prompt: more than the words alone
    expect(usage!.prompt_tokens).toBeGreaterThan(20);
    expect(usage!.total_tokens).toBe(usage!.prompt_tokens + usage!.completion_tokens);
  });

  it('answers without streaming, with a library photo by id, and stops at a stop sequence', async () => {
    const ask = (extra: Partial<OpenAI.ChatCompletionCreateParamsNonStreaming> = {}) =>
      client.chat.completions.create({
        model: CHAT,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Describe it.' },
              { type: 'image_url', image_url: { url: `glance://photo/${redId}` } },
            ],
          },
        ],
        max_tokens: 24,
        temperature: 0,
        seed: 7,
        ...extra,
      });
    const whole = await ask();
    expect(whole.object).toBe('chat.completion');
    expect(whole.model).toBe(CHAT);
    expect(whole.choices[0]!.finish_reason).toBe('length');
    const text = whole.choices[0]!.message.content!;
    expect(text.length).toBeGreaterThan(4);
    expect(whole.usage!.completion_tokens).toBe(24);
    // greedy: the same answer again, cut where a piece of it first appears (OpenAI leaves the stop sequence out)
    const stop = text.slice(3, 5);
    const cut = await ask({ stop: [stop] });
    expect(cut.choices[0]!.message.content).toBe(text.slice(0, text.indexOf(stop)));
    expect(cut.choices[0]!.finish_reason).toBe('stop');
  });

  it('gives CLIP embeddings for text and for an image as a data URL (openai client)', async () => {
    const r = await client.embeddings.create({
      model: clipId,
      input: ['a photo of something red.', dataUrl(redPng), 'a photo of something blue.'],
    });
    expect(r.data.map((d) => d.index)).toEqual([0, 1, 2]);
    const [red, picture, blue] = r.data.map((d) => d.embedding);
    const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);
    for (const e of [red!, picture!, blue!]) expect(dot(e, e)).toBeCloseTo(1, 4);
    // the tiny CLIP's "red" is a red picture's embedding (less what resizing a small PNG changes): near 1, not blue
    expect(dot(red!, picture!)).toBeGreaterThan(0.98);
    expect(dot(red!, picture!)).toBeGreaterThan(dot(blue!, picture!));
    // float encoding gives the same numbers
    const floats = (await raw({
      method: 'POST',
      path: '/v1/embeddings',
      headers: auth(),
      body: JSON.stringify({ input: 'a photo of something red.', encoding_format: 'float' }),
    })) as { json: { data: { embedding: number[] }[] } };
    expect(floats.json.data[0]!.embedding.length).toBe(red!.length);
    for (const [i, x] of floats.json.data[0]!.embedding.entries()) expect(x).toBeCloseTo(red![i]!, 6);
  });

  it('searches the library, with tags and paths', async () => {
    const r = await raw({
      method: 'POST',
      path: '/v1/glance/search',
      headers: auth(),
      body: JSON.stringify({ query: 'a photo of something blue.', limit: 2 }),
    });
    expect(r.status).toBe(200);
    const hits = (r.json as { data: { id: number; path: string; score: number; tags: string[] }[] }).data;
    expect(hits).toHaveLength(2);
    expect(path.basename(hits[0]!.path)).toBe('blue.png');
    expect(hits[0]!.score).toBeGreaterThan(hits[1]!.score);
    expect(Array.isArray(hits[0]!.tags)).toBe(true);
  });

  it('stops generating when the client goes away (openai client abort)', async () => {
    const abort = new AbortController();
    const stream = await client.chat.completions.create(
      { model: CHAT, messages: [{ role: 'user', content: 'On and on.' }], max_tokens: 30_000, stream: true },
      { signal: abort.signal },
    );
    let received = 0;
    // the client ends its stream quietly on an abort (openai-node swallows its own AbortError)
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) received++;
      if (received === 3) abort.abort();
    }
    expect(received).toBe(3);
    // The engine's queue empties at once; 30,000 tokens of this model would take far longer than the poll allows.
    await expect.poll(async () => (await engine.call('apiStatus')).requests, { timeout: 5_000 }).toBe(0);
    const next = await client.chat.completions.create({
      model: CHAT,
      messages: [{ role: 'user', content: 'Next.' }],
      max_tokens: 2,
    });
    expect(next.usage!.completion_tokens).toBe(2);
  });
});

describe('what the API refuses', () => {
  it('refuses a request without the token, or with another one (401)', async () => {
    const none = await raw({ path: '/v1/models' });
    expect(none.status).toBe(401);
    expect(none.json).toMatchObject({ error: { type: 'authentication_error', code: 'invalid_api_key' } });
    expect((none.json as { error: { message: string } }).error.message).toMatch(/--print-token/);
    const wrong = await raw({ path: '/v1/models', headers: { Authorization: `Bearer ${'x'.repeat(43)}` } });
    expect(wrong.status).toBe(401);
    await expect(new OpenAI({ baseURL: status.url!, apiKey: 'nope', maxRetries: 0 }).models.list()).rejects.toThrow(
      /401/,
    );
  });

  it('refuses a foreign Host (DNS rebinding) and a web page Origin (403), before the token is even checked', async () => {
    for (const host of [`evil.example:${port}`, `localhost:${port + 1}`, 'localhost', `127.0.0.2:${port}`]) {
      const r = await raw({ path: '/v1/models', headers: auth(), host });
      expect(r.status, host).toBe(403);
      expect(r.json).toMatchObject({ error: { code: 'forbidden_host' } });
    }
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`]) {
      expect((await raw({ path: '/v1/models', headers: auth(), host })).status, host).toBe(200);
    }
    const page = await raw({ path: '/v1/models', headers: { ...auth(), Origin: 'https://evil.example' } });
    expect(page.status).toBe(403);
    expect(page.json).toMatchObject({ error: { type: 'permission_error', code: 'forbidden_origin' } });
    expect(page.headers['access-control-allow-origin']).toBeUndefined();
    // a preflight from a page gets no CORS answer either
    const preflight = await raw({
      method: 'OPTIONS',
      path: '/v1/chat/completions',
      headers: { Origin: 'http://localhost:3000' },
    });
    expect(preflight.status).toBe(403);
  });

  it('refuses a body larger than the limit (413) without reading it', async () => {
    const r = await new Promise<{ status: number; json: unknown }>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/v1/chat/completions',
          headers: { ...auth(), 'Content-Type': 'application/json', 'Content-Length': String(64 * 1024 * 1024) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(Buffer.concat(chunks).toString()) }));
        },
      );
      req.on('error', reject);
      req.write('{"model":'); // and nothing more: the answer comes from the header alone
    });
    expect(r.status).toBe(413);
    expect(r.json).toMatchObject({ error: { code: 'request_too_large' } });
    // a body that says nothing of its size but runs past the limit
    const big = await raw({
      method: 'POST',
      path: '/v1/embeddings',
      headers: { ...auth(), 'Transfer-Encoding': 'chunked' },
      body: JSON.stringify({ input: 'x'.repeat(33 * 1024 * 1024) }),
    });
    expect(big.status).toBe(413);
  });

  it('refuses a picture that is not one, a URL it would have to fetch, and too many pictures (400)', async () => {
    const ask = (url: string, n = 1) =>
      raw({
        method: 'POST',
        path: '/v1/chat/completions',
        headers: auth(),
        body: chatBody({
          messages: [
            {
              role: 'user',
              content: [
                { type: 'text', text: 'What is it?' },
                ...Array(n).fill({ type: 'image_url', image_url: { url } }),
              ],
            },
          ],
        }),
      });
    const broken = await ask(dataUrl(Buffer.from('this is not a picture at all')));
    expect(broken.status).toBe(400);
    expect(broken.json).toMatchObject({ error: { type: 'invalid_request_error', code: 'invalid_image' } });
    expect((broken.json as { error: { message: string } }).error.message).toMatch(/image 1 of message 1/);
    const truncated = await ask(dataUrl(redPng.subarray(0, redPng.length - 40)));
    expect(truncated.status).toBe(400);
    for (const url of ['https://example.com/cat.png', 'file:///etc/passwd', '/etc/passwd', 'glance://photo/../x']) {
      const r = await ask(url);
      expect(r.status, url).toBe(400);
      expect((r.json as { error: { message: string } }).error.message).toMatch(/never fetches a URL or opens a path/);
    }
    // a decompression bomb: a PNG whose header says 20,000 x 20,000 pixels, refused before any decoding
    const bomb = await ask(dataUrl(pngHeaderOnly(20_000, 20_000)));
    expect(bomb.status).toBe(400);
    expect((bomb.json as { error: { message: string } }).error.message).toMatch(
      /400 megapixels\) is above the 268 megapixels limit/,
    );
    const many = await ask(dataUrl(redPng), 9);
    expect(many.status).toBe(400);
    expect(many.json).toMatchObject({ error: { code: 'too_many_images' } });
    const missing = await ask('glance://photo/999999');
    expect(missing.status).toBe(404);
    const model = await raw({
      method: 'POST',
      path: '/v1/chat/completions',
      headers: auth(),
      body: chatBody({ model: 'gpt-4o' }),
    });
    expect(model.status).toBe(404);
    expect(model.json).toMatchObject({ error: { code: 'model_not_found' } });
    expect((model.json as { error: { message: string } }).error.message).toContain(CHAT);
  });

  it('answers 429 with Retry-After when the queue is full, never a hang', async () => {
    const aborts = Array.from({ length: 8 }, () => new AbortController());
    const started = aborts.map((a) =>
      client.chat.completions
        .create(
          { model: CHAT, messages: [{ role: 'user', content: 'Long.' }], max_tokens: 30_000, stream: true },
          { signal: a.signal },
        )
        .then(
          () => 'taken',
          (e: unknown) => e,
        ),
    );
    // the queue takes one running and four waiting; the rest are refused at once
    await expect.poll(async () => (await engine.call('apiStatus')).requests).toBe(5);
    const refused = await raw({ method: 'POST', path: '/v1/chat/completions', headers: auth(), body: chatBody() });
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('2');
    expect(refused.json).toMatchObject({ error: { type: 'rate_limit_error', code: 'busy' } });
    for (const a of aborts) a.abort();
    const outcomes = await Promise.all(started);
    expect(outcomes.filter((o) => o instanceof OpenAI.RateLimitError)).toHaveLength(3);
    await expect.poll(async () => (await engine.call('apiStatus')).requests).toBe(0);
  });

  it('survives random JSON bodies: every refusal is a 4xx with a message, never a crash', async () => {
    const rand = seededRandom(42);
    const pick = <T>(xs: T[]) => xs[Math.floor((rand() / 0x100000000) * xs.length)]!;
    const values = (depth: number): unknown => {
      const kind = pick(['n', 's', 'b', 'null', 'a', 'o', 'big', 'neg', 'u'] as const);
      if (depth > 3 && (kind === 'a' || kind === 'o')) return 1;
      switch (kind) {
        case 'n':
          return rand() / 1e6;
        case 's':
          return pick([
            '',
            'user',
            'image_url',
            'text',
            'data:image/png;base64,AAAA',
            'glance://photo/1',
            '\u0000',
            '💥',
          ]);
        case 'b':
          return rand() % 2 === 0;
        case 'null':
          return null;
        case 'a':
          return Array.from({ length: rand() % 4 }, () => values(depth + 1));
        case 'o':
          return Object.fromEntries(
            Array.from({ length: rand() % 4 }, () => [
              pick([
                'model',
                'messages',
                'role',
                'content',
                'type',
                'text',
                'image_url',
                'url',
                'input',
                'stream',
                'max_tokens',
                'stop',
                'query',
                'limit',
                '__proto__',
              ]),
              values(depth + 1),
            ]),
          );
        case 'big':
          return 1e308;
        case 'neg':
          return -1;
        case 'u':
          return 'x'.repeat(rand() % 300);
      }
    };
    const valid = JSON.parse(chatBody()) as Record<string, unknown>;
    const bodies: string[] = [
      '',
      '{',
      'null',
      '[]',
      '"text"',
      '{"model":',
      `{"model":${'['.repeat(40)}1${']'.repeat(40)}}`,
    ];
    for (let i = 0; i < 120; i++)
      if (i % 2 === 0) bodies.push(JSON.stringify(values(0)));
      else {
        // a valid request with one field replaced
        const key = pick([...Object.keys(valid), 'stop', 'temperature', 'n', 'stream']);
        bodies.push(JSON.stringify({ ...valid, [key]: values(1) }));
      }
    for (const [i, body] of bodies.entries()) {
      const target = ['/v1/chat/completions', '/v1/embeddings', '/v1/glance/search'][i % 3]!;
      const r = await raw({ method: 'POST', path: target, headers: auth(), body });
      if (r.status >= 400) {
        expect(r.status, `${target} ${body.slice(0, 200)}`).toBeLessThan(500);
        expect((r.json as { error: { message: string } }).error.message.length, body).toBeGreaterThan(0);
      }
    }
    expect((await raw({ path: '/v1/models', headers: auth() })).status).toBe(200);
  });
});

describe('the engine killed in the middle of a request', () => {
  it('the client gets an error, the engine and its API come back on the same port and token, the next request works', async () => {
    const pid = engine.pid!;
    const stream = await client.chat.completions.create({
      model: CHAT,
      messages: [{ role: 'user', content: 'On and on.' }],
      max_tokens: 30_000,
      stream: true,
    });
    await expect(
      (async () => {
        let n = 0;
        for await (const chunk of stream) {
          if (chunk.choices[0]?.delta.content && ++n === 2) process.kill(pid, 'SIGKILL');
        }
      })(),
    ).rejects.toThrow();
    await expect.poll(() => engine.pid !== undefined && engine.pid !== pid).toBe(true);
    await expect
      .poll(async () => {
        try {
          const r = await client.chat.completions.create({
            model: CHAT,
            messages: [{ role: 'user', content: 'Back?' }],
            max_tokens: 2,
          });
          return r.usage!.completion_tokens;
        } catch {
          return null;
        }
      })
      .toBe(2);
    expect((await engine.call('apiStatus')).token).toBe(status.token);
  });
});
