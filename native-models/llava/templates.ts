// Chat templates. A GGUF that carries a template uses its own; LLaVA-1.5 ships none and wants Vicuna's;
// the user can override with a llama.cpp template name or a Jinja template. Names are checked here: llama.cpp
// aborts the whole process on a name it does not know.

/** The names llama.cpp's llm_chat_apply_template knows (llama-chat.cpp). */
export const TEMPLATE_NAMES = [
  'chatml',
  'llama2',
  'llama2-sys',
  'llama2-sys-bos',
  'llama2-sys-strip',
  'mistral-v1',
  'mistral-v3',
  'mistral-v3-tekken',
  'mistral-v7',
  'mistral-v7-tekken',
  'phi3',
  'phi4',
  'falcon3',
  'zephyr',
  'monarch',
  'gemma',
  'orion',
  'openchat',
  'vicuna',
  'vicuna-orca',
  'deepseek',
  'deepseek2',
  'deepseek3',
  'command-r',
  'llama3',
  'chatglm3',
  'chatglm4',
  'glmedge',
  'minicpm',
  'exaone3',
  'exaone4',
  'rwkv-world',
  'granite',
  'gigachat',
  'megrez',
  'yandex',
  'bailing',
  'llama4',
  'smolvlm',
  'hunyuan-moe',
  'kimi-k2',
] as const;

export class TemplateError extends Error {
  override readonly name = 'TemplateError';
  readonly code = 'unknown-template';
}

export type TemplateChoice =
  | { kind: 'model' } // the GGUF's own Jinja template
  | { kind: 'named'; name: string }
  | { kind: 'jinja'; source: string };

export function chooseTemplate(
  override: string | null | undefined,
  model: { chatTemplate: string | null; architecture: string },
  projector: { projectorType: string },
): TemplateChoice {
  if (override) {
    if (override.includes('{%') || override.includes('{{')) return { kind: 'jinja', source: override };
    if (!(TEMPLATE_NAMES as readonly string[]).includes(override)) {
      throw new TemplateError(
        `unknown chat template "${override}": use one of ${TEMPLATE_NAMES.join(', ')}, or a Jinja template`,
      );
    }
    return { kind: 'named', name: override };
  }
  if (model.chatTemplate) return { kind: 'model' };
  // LLaVA-1.5: a llama text model with an MLP projector and no template of its own was trained on Vicuna's format.
  if (model.architecture === 'llama' && projector.projectorType === 'mlp') return { kind: 'named', name: 'vicuna' };
  return { kind: 'named', name: 'chatml' };
}

export function describeTemplate(t: TemplateChoice): string {
  return t.kind === 'model' ? "the model's own" : t.kind === 'named' ? t.name : 'custom Jinja';
}
