// The local API's requests, validated with valibot (the contract's schema library), its errors (OpenAI's error
// object), and the backend it serves from (engine-backend.ts: the engine's chat service, CLIP and library).
import * as v from 'valibot';

/** An image in a request: bytes from a data: URL, or a library photo (glance://photo/<id>). Never a path or a URL. */
export type ApiImage = { bytes: Uint8Array } | { photoId: number };

export interface ApiModel {
  id: string;
  object: 'model';
  created: number;
  owned_by: 'glance';
  /** Glance's own field: 'chat' (a vision chat model) or 'clip' (embeddings). */
  kind: 'chat' | 'clip';
}

export interface ApiChatRequest {
  model: string;
  messages: { role: 'system' | 'user' | 'assistant'; text: string; images: ApiImage[] }[];
  maxTokens?: number;
  temperature?: number;
  seed?: number;
  /** Aborted when the client goes away: the generation stops. */
  signal: AbortSignal;
  /** Each piece of the answer; returning true ends the answer there (a stop sequence). */
  onToken?: (token: string) => boolean;
}

export interface ApiChatResult {
  /** The model that answered. */
  model: string;
  text: string;
  promptTokens: number;
  generatedTokens: number;
  /** The token budget it ran under: an answer that used all of it ended for length. */
  maxTokens: number;
}

export interface ApiEmbedRequest {
  model?: string;
  inputs: ({ text: string } | { image: ApiImage })[];
}

export interface ApiSearchHit {
  id: number;
  path: string;
  score: number | null;
  taken_at: number | null;
  tags: string[];
  caption: string | null;
}

export interface ApiBackend {
  models(): Promise<ApiModel[]>;
  chat(r: ApiChatRequest): Promise<ApiChatResult>;
  embed(r: ApiEmbedRequest): Promise<{ model: string; vectors: Float32Array[]; tokens: number }>;
  search(q: SearchBody): Promise<ApiSearchHit[]>;
}

export type ApiErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_error';

/** An HTTP status with OpenAI's error object: `{error: {message, type, code, param}}`. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly type: ApiErrorType,
    readonly code: string,
    message: string,
    /** Seconds, for 429 and 503: sent as Retry-After. */
    readonly retryAfter?: number,
  ) {
    super(message);
  }
  body() {
    return { error: { message: this.message, type: this.type, code: this.code, param: null } };
  }
}

/** valibot's issues as one sentence: where (the JSON path) and what. */
export function issueText(issues: readonly v.BaseIssue<unknown>[]): string {
  return issues
    .slice(0, 3)
    .map((i) => {
      const where = v.getDotPath(i);
      return where ? `${where}: ${i.message}` : i.message;
    })
    .join('; ');
}

const IMAGE_TYPES = /^data:image\/(png|jpeg|jpg|webp|gif|bmp|tiff|heic|heif|avif);base64,/i;

/**
 * An image_url: `data:image/<type>;base64,<data>` (the bytes) or `glance://photo/<id>` (a library photo). Anything
 * else (http(s) URLs, file: URLs, paths) is refused: the API never fetches or opens what a request names.
 */
export function parseImageUrl(url: string): ApiImage {
  const photo = /^glance:\/\/photo\/([1-9][0-9]{0,15})$/.exec(url);
  if (photo) return { photoId: Number(photo[1]) };
  const data = IMAGE_TYPES.exec(url);
  if (data) {
    const b64 = url.slice(data[0].length);
    if (!b64 || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) {
      throw new ApiError(400, 'invalid_request_error', 'invalid_image', 'the data: URL does not hold base64 data');
    }
    return { bytes: new Uint8Array(Buffer.from(b64, 'base64')) };
  }
  throw new ApiError(
    400,
    'invalid_request_error',
    'invalid_image',
    'an image must be a data: URL (data:image/png;base64,…) or glance://photo/<id>: Glance never fetches a URL or opens a path from a request',
  );
}

const MAX_TEXT = 1_000_000;
const text = v.pipe(v.string(), v.maxLength(MAX_TEXT));
const modelId = v.pipe(v.string(), v.minLength(1), v.maxLength(256));

const textPart = v.looseObject({ type: v.literal('text'), text });
const imagePart = v.looseObject({
  type: v.literal('image_url'),
  image_url: v.looseObject({ url: v.pipe(v.string(), v.maxLength(64 * 1024 * 1024)), detail: v.optional(v.string()) }),
});
const message = v.looseObject({
  role: v.picklist(['system', 'developer', 'user', 'assistant']),
  content: v.union([text, v.pipe(v.array(v.variant('type', [textPart, imagePart])), v.maxLength(64))]),
});

export const chatCompletionBody = v.pipe(
  v.looseObject({
    model: modelId,
    messages: v.pipe(v.array(message), v.minLength(1), v.maxLength(256)),
    stream: v.optional(v.nullable(v.boolean())),
    stream_options: v.optional(v.nullable(v.looseObject({ include_usage: v.optional(v.boolean()) }))),
    max_tokens: v.optional(v.nullable(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(32_768)))),
    max_completion_tokens: v.optional(v.nullable(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(32_768)))),
    temperature: v.optional(v.nullable(v.pipe(v.number(), v.minValue(0), v.maxValue(2)))),
    seed: v.optional(v.nullable(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(2 ** 31 - 1)))),
    stop: v.optional(
      v.nullable(
        v.union([
          v.pipe(v.string(), v.minLength(1), v.maxLength(256)),
          v.pipe(v.array(v.pipe(v.string(), v.minLength(1), v.maxLength(256))), v.maxLength(4)),
        ]),
      ),
    ),
    n: v.optional(v.nullable(v.literal(1, 'only one choice (n = 1) is written'))),
  }),
  // developer messages are system messages (OpenAI's newer name)
  v.transform((b) => ({
    ...b,
    messages: b.messages.map((m) => ({ ...m, role: m.role === 'developer' ? ('system' as const) : m.role })),
  })),
);
export type ChatCompletionBody = v.InferOutput<typeof chatCompletionBody>;

export const embeddingsBody = v.looseObject({
  model: v.optional(modelId),
  input: v.union([
    v.pipe(v.string(), v.minLength(1), v.maxLength(64 * 1024 * 1024)),
    v.pipe(
      v.array(v.pipe(v.string(), v.minLength(1), v.maxLength(64 * 1024 * 1024))),
      v.minLength(1),
      v.maxLength(256),
    ),
  ]),
  encoding_format: v.optional(v.picklist(['float', 'base64'])),
  dimensions: v.optional(v.pipe(v.number(), v.integer())),
});
export type EmbeddingsBody = v.InferOutput<typeof embeddingsBody>;

const ms = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(8.64e15));
export const searchBody = v.strictObject({
  query: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(1000))),
  tags: v.optional(v.pipe(v.array(v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(100))), v.maxLength(20))),
  folder_id: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  /** Milliseconds since 1970 (taken date, else modified). */
  from: v.optional(ms),
  to: v.optional(ms),
  limit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(500))),
  /** Which text encoder reads the query (default: the settings'): see `glance search --lang`. */
  lang: v.optional(v.picklist(['auto', 'en', 'multi'])),
});
export type SearchBody = v.InferOutput<typeof searchBody>;
