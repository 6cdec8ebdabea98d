// Which ONNX Runtime execution provider runs a session. CPU is the default and always works; an accelerator is
// used only when the user asks for it, this build of onnxruntime-node has it for this platform, and a session
// actually starts on it. Otherwise the session runs on CPU and the caller gets a sentence saying why.
import * as ort from 'onnxruntime-node';

export const PROVIDERS = ['cpu', 'cuda', 'coreml', 'dml'] as const;
export type Provider = (typeof PROVIDERS)[number];

const LABEL: Record<Provider, string> = { cpu: 'CPU', cuda: 'CUDA', coreml: 'CoreML', dml: 'DirectML' };
const PLATFORMS: Record<Provider, NodeJS.Platform[]> = {
  cpu: ['linux', 'darwin', 'win32'],
  cuda: ['linux', 'win32'],
  coreml: ['darwin'],
  dml: ['win32'],
};

export function isProvider(name: string): name is Provider {
  return (PROVIDERS as readonly string[]).includes(name);
}

/** Why `provider` cannot be tried here, or null when it can. */
export function unavailableReason(
  provider: Provider,
  platform: NodeJS.Platform = process.platform,
  backends: readonly { name: string }[] = ort.listSupportedBackends(),
): string | null {
  if (provider === 'cpu') return null;
  if (!PLATFORMS[provider].includes(platform)) return `${LABEL[provider]} does not exist on ${platform}`;
  if (!backends.some((b) => b.name === provider)) {
    return `this build of onnxruntime-node has no ${LABEL[provider]} support on ${platform}`;
  }
  return null;
}

export interface StartedSession {
  session: ort.InferenceSession;
  provider: Provider;
  /** Set when the session fell back to CPU: what was asked for and why it did not work. */
  fallback?: string;
}

/** Creates a session on the requested provider, falling back to CPU with a reason. */
export async function startSession(
  file: string,
  provider: Provider,
  options: ort.InferenceSession.SessionOptions = {},
): Promise<StartedSession> {
  const reason = unavailableReason(provider);
  if (!reason && provider !== 'cpu') {
    try {
      // ONNX Runtime logs a failed provider load as an error of its own; the fallback note says it better.
      const session = await ort.InferenceSession.create(file, {
        ...options,
        executionProviders: [provider],
        logSeverityLevel: 4,
      });
      return { session, provider };
    } catch (err) {
      const why = (err instanceof Error ? err.message : String(err)).split('\n')[0];
      const session = await ort.InferenceSession.create(file, { ...options, executionProviders: ['cpu'] });
      return { session, provider: 'cpu', fallback: `${LABEL[provider]} could not start (${why}); running on CPU` };
    }
  }
  const session = await ort.InferenceSession.create(file, { ...options, executionProviders: ['cpu'] });
  return reason ? { session, provider: 'cpu', fallback: `${reason}; running on CPU` } : { session, provider: 'cpu' };
}
