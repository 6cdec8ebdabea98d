import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSession, unavailableReason } from '../../native-models/clip/providers.ts';
import { writeTinyClip } from '../fixtures/tiny-clip.ts';

describe('execution provider choice', () => {
  const backends = [{ name: 'cpu' }, { name: 'cuda' }];

  it('allows CPU everywhere and accelerators only where they exist', () => {
    expect(unavailableReason('cpu', 'linux', [])).toBeNull();
    expect(unavailableReason('cuda', 'linux', backends)).toBeNull();
    expect(unavailableReason('coreml', 'linux', backends)).toMatch(/CoreML does not exist on linux/);
    expect(unavailableReason('dml', 'darwin', backends)).toMatch(/DirectML does not exist on darwin/);
    expect(unavailableReason('coreml', 'darwin', [{ name: 'cpu' }])).toMatch(/no CoreML support/);
  });

  describe('with a real session', () => {
    let tmp: string;
    let file: string;
    beforeAll(async () => {
      tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-ep-'));
      file = path.join((await writeTinyClip(tmp)).dir, 'onnx', 'text_model.onnx');
    });
    afterAll(() => rm(tmp, { recursive: true, force: true }));

    it('starts on CPU when asked', async () => {
      const s = await startSession(file, 'cpu');
      expect(s.provider).toBe('cpu');
      expect(s.fallback).toBeUndefined();
      await s.session.release();
    });

    it('falls back to CPU with a reason when the accelerator cannot start', async () => {
      // No CUDA on this machine (the CUDA libraries are not installed): the session must still start.
      const s = await startSession(file, process.platform === 'darwin' ? 'dml' : 'coreml');
      expect(s.provider).toBe('cpu');
      expect(s.fallback).toMatch(/running on CPU$/);
      await s.session.release();
    });
  });
});
