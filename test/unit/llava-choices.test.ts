import { describe, expect, it } from 'vitest';
import { candidateBackends, estimateGpuLayers } from '../../native-models/llava/backend.ts';
import { chooseTemplate, TemplateError } from '../../native-models/llava/templates.ts';

describe('backend choice', () => {
  const has =
    (...paths: string[]) =>
    (p: string) =>
      paths.includes(p);

  it('Metal on Apple silicon, CPU on Intel Macs', () => {
    expect(candidateBackends('darwin', 'arm64', has())).toEqual(['metal', 'cpu']);
    expect(candidateBackends('darwin', 'x64', has())).toEqual(['cpu']);
  });

  it('CUDA when an NVIDIA driver is there, Vulkan with a loader and a GPU device, CPU always last', () => {
    expect(candidateBackends('linux', 'x64', has())).toEqual(['cpu']);
    expect(candidateBackends('linux', 'x64', has('/proc/driver/nvidia/version'))).toEqual(['cuda', 'cpu']);
    expect(candidateBackends('linux', 'x64', has('/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/dev/dri'))).toEqual([
      'vulkan',
      'cpu',
    ]);
    expect(candidateBackends('linux', 'x64', has('/usr/lib/x86_64-linux-gnu/libvulkan.so.1'))).toEqual(['cpu']);
    expect(candidateBackends('win32', 'x64', has('C:\\Windows\\System32\\nvcuda.dll'))).toEqual(['cuda', 'cpu']);
  });

  it('GPU layers follow the free memory', () => {
    const GB = 1024 ** 3;
    const base = { modelBytes: 4 * GB, projectorBytes: 0.6 * GB, layers: 32, kvBytes: 0.5 * GB };
    expect(estimateGpuLayers({ ...base, gpuFreeBytes: 24 * GB })).toBe(33); // everything
    const half = estimateGpuLayers({ ...base, gpuFreeBytes: 4 * GB });
    expect(half).toBeGreaterThan(0);
    expect(half).toBeLessThan(32);
    expect(estimateGpuLayers({ ...base, gpuFreeBytes: 1 * GB })).toBe(0);
  });
});

describe('chat template choice', () => {
  const llava = { chatTemplate: null, architecture: 'llama' };
  const mlp = { projectorType: 'mlp' };

  it("uses the model's own template when the GGUF has one", () => {
    expect(
      chooseTemplate(
        null,
        { chatTemplate: '{% for m in messages %}{% endfor %}', architecture: 'gemma3' },
        { projectorType: 'gemma3' },
      ),
    ).toEqual({
      kind: 'model',
    });
  });

  it('gives LLaVA-1.5 (llama + mlp projector, no template) Vicuna, and others ChatML', () => {
    expect(chooseTemplate(undefined, llava, mlp)).toEqual({ kind: 'named', name: 'vicuna' });
    expect(
      chooseTemplate(undefined, { chatTemplate: null, architecture: 'qwen2' }, { projectorType: 'qwen2.5vl_merger' }),
    ).toEqual({
      kind: 'named',
      name: 'chatml',
    });
  });

  it('takes a user override by name or as Jinja, and refuses unknown names (llama.cpp would abort)', () => {
    expect(chooseTemplate('chatml', llava, mlp)).toEqual({ kind: 'named', name: 'chatml' });
    expect(chooseTemplate('{{ messages }}', llava, mlp)).toMatchObject({ kind: 'jinja' });
    expect(() => chooseTemplate('vicunya', llava, mlp)).toThrow(TemplateError);
    expect(() => chooseTemplate('vicunya', llava, mlp)).toThrow(/unknown chat template "vicunya"/);
  });
});
