// Broken model files through the real engine process and the real chat path: before issue 10 each of these reached
// llama.cpp and the engine died with SIGSEGV ("the engine stopped unexpectedly"). Now the pre-flight check refuses
// them with a message, the engine stays up (same pid, no restart), and the next request with good files is answered.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineSupervisor } from '../../electron/engine/process/supervisor.ts';
import type { VisionChatLoadOptions } from '../../native-models/llava/vision-chat.ts';
import { withoutTensor, writeGguf } from '../fixtures/gguf-writer.ts';
import * as img from '../fixtures/images.ts';
import { type TinyLlava, tinyProjectorSpec, writeTinyLlava } from '../fixtures/tiny-llava.ts';

let tmp: string;
let tiny: TinyLlava;
let good: VisionChatLoadOptions;
let engine: EngineSupervisor;
let photo: string;

const options = { maxTokens: 4, seed: 7, temperature: 0 };

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-gguf-preflight-'));
  tiny = await writeTinyLlava(path.join(tmp, 'model'));
  good = { model: tiny.model, mmproj: tiny.mmproj, contextSize: 512 };
  photo = await img.writeSolid(path.join(tmp, 'photo.png'), [200, 30, 30], 40, 40);
  engine = new EngineSupervisor({ home: path.join(tmp, 'home'), backoffMs: 100 });
  await engine.start();
});

afterAll(async () => {
  await engine?.stop();
  await rm(tmp, { recursive: true, force: true });
});

async function ask(model: VisionChatLoadOptions) {
  const c = await engine.call('chatCreate', {});
  return engine.call('chatSend', { conversationId: c.id, text: 'What is this?', images: [photo], model, options });
}

describe('a bad model file never reaches llama.cpp', () => {
  it('a LLaVA projector without mm.0.bias is refused by name, and the engine lives on', async () => {
    const pid = engine.pid;
    const mmproj = path.join(tmp, 'mmproj-no-mm0-bias.gguf');
    // A projector of the tiny pair's shape and width, less one tensor.
    await writeGguf(mmproj, withoutTensor(tinyProjectorSpec('mlp', { nEmbd: tiny.nEmbd }), 'mm.0.bias'));
    const err = await ask({ ...good, mmproj }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'not-a-projector' });
    expect((err as Error).message).toMatch(
      /the projector lacks mm\.0\.bias: it is incomplete or not a LLaVA-1\.5 projector; download it again/,
    );
    expect(engine.pid).toBe(pid);
    expect(engine.state().restarts).toBe(0);
  });

  it('a text model whose GGUF version is 99 is refused by name, and the engine lives on', async () => {
    const pid = engine.pid;
    const model = path.join(tmp, 'model-v99.gguf');
    const bytes = await readFile(tiny.model);
    bytes.writeUInt32LE(99, 4); // the version field, right after "GGUF"
    await writeFile(model, bytes);
    const err = await ask({ ...good, model }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'not-gguf' });
    expect((err as Error).message).toMatch(/GGUF version 99, and llama\.cpp reads versions 2 and 3 only/);
    expect(engine.pid).toBe(pid);
    expect(engine.state().restarts).toBe(0);
  });

  it('the same engine then answers with the good pair', async () => {
    const pid = engine.pid;
    const m = await ask(good);
    expect(m.role).toBe('assistant');
    expect(m.stats!.promptTokens).toBeGreaterThan(tiny.imageTokens);
    expect(engine.pid).toBe(pid);
    expect(engine.state().restarts).toBe(0);
  });
});
