// Which llama.cpp build runs a model, and how many of its layers go to the GPU. Detection is by what the machine
// has (Metal on Apple silicon, an NVIDIA driver for CUDA, a Vulkan loader), and the layer count comes from a
// memory estimate unless the user sets it. A GPU load that fails falls back to CPU (see llama-node.ts).
import { existsSync } from 'node:fs';

export type Backend = 'metal' | 'cuda' | 'vulkan' | 'cpu';

/** llama.node's builds: the default one has Metal on macOS and is CPU-only elsewhere. */
export const VARIANT: Record<Backend, 'default' | 'cuda' | 'vulkan'> = {
  metal: 'default',
  cpu: 'default',
  cuda: 'cuda',
  vulkan: 'vulkan',
};

const LINUX_LIBS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/lib/aarch64-linux-gnu'];

/** GPU backends worth trying on this machine, best first; 'cpu' always last. */
export function candidateBackends(
  platform: NodeJS.Platform = process.platform,
  arch: string = process.arch,
  exists: (p: string) => boolean = existsSync,
): Backend[] {
  if (platform === 'darwin') return arch === 'arm64' ? ['metal', 'cpu'] : ['cpu'];
  const out: Backend[] = [];
  if (platform === 'linux') {
    if (exists('/proc/driver/nvidia/version') || LINUX_LIBS.some((d) => exists(`${d}/libcuda.so.1`))) out.push('cuda');
    if (LINUX_LIBS.some((d) => exists(`${d}/libvulkan.so.1`)) && exists('/dev/dri')) out.push('vulkan');
  } else if (platform === 'win32') {
    const sys = `${process.env.SystemRoot ?? 'C:\\Windows'}\\System32`;
    if (exists(`${sys}\\nvcuda.dll`)) out.push('cuda');
    if (exists(`${sys}\\vulkan-1.dll`)) out.push('vulkan');
  }
  out.push('cpu');
  return out;
}

export interface LayerEstimateInput {
  /** Bytes of the model file (weights dominate). */
  modelBytes: number;
  projectorBytes: number;
  layers: number;
  /** KV cache for the whole context (gguf-check's kvBytesPerToken x context size). */
  kvBytes: number;
  /** Free memory of the GPU in bytes. */
  gpuFreeBytes: number;
}

/**
 * Layers that fit in the GPU's memory: weights spread evenly over the layers, plus the projector, the KV cache
 * and a fixed reserve for compute buffers, with 10% headroom.
 */
export function estimateGpuLayers(i: LayerEstimateInput): number {
  const reserve = 512 * 1024 * 1024;
  const budget = i.gpuFreeBytes * 0.9 - reserve - i.projectorBytes - i.kvBytes;
  if (budget <= 0 || i.layers <= 0) return 0;
  const perLayer = i.modelBytes / (i.layers + 1); // +1: embeddings and output
  // all layers plus the output layer fit: llama.cpp takes any number above the count as "everything"
  if (budget >= i.modelBytes) return i.layers + 1;
  return Math.max(0, Math.floor(budget / perLayer));
}
