// Which local API the engine runs: `glance serve` passes its own in GLANCE_API (so a restarted engine serves again
// with the same port and models); the desktop app's comes from its settings (off by default).
import * as v from 'valibot';
import { isWebOrigin } from '../../../common/local-api.ts';

export { DEFAULT_API_PORT } from '../../../common/local-api.ts';

const origin = v.pipe(v.string(), v.check(isWebOrigin, 'an http(s) origin'));

export const apiConfig = v.strictObject({
  port: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(65535)),
  /** The chat model `serve` was given: files with the name requests use, or a catalog id; absent: the settings'. */
  chat: v.optional(
    v.union([
      v.strictObject({
        label: v.string(),
        model: v.string(),
        mmproj: v.string(),
        contextSize: v.optional(v.number()),
        gpuLayers: v.optional(v.union([v.number(), v.literal('auto')])),
        chatTemplate: v.optional(v.nullable(v.string())),
      }),
      v.strictObject({ catalogId: v.string() }),
    ]),
  ),
  /** A CLIP model folder for embeddings; absent: the library's model. */
  clipDir: v.optional(v.string()),
  origins: v.optional(v.array(origin)),
});
export type ApiConfig = v.InferOutput<typeof apiConfig>;

/** GLANCE_API's value, or null when it is not set; a malformed one is an error (the serve command wrote it). */
export function apiConfigFromEnv(raw: string | undefined): ApiConfig | null {
  if (!raw) return null;
  return v.parse(apiConfig, JSON.parse(raw));
}
