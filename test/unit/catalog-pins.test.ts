// The catalog's supply-chain pins: every model resolves at one reviewed commit, and the files with a published
// SHA-256 carry it. The unpinned set is spelled out so that losing a pin, or adding an unpinned model, fails here.
import { describe, expect, it } from 'vitest';
import { filesOf } from '../../electron/engine/models/model-manager.ts';
import { ALL_MODELS, isCommit } from '../../native-models/catalog.ts';

/** Models for which no public commit could be found: they resolve `main` and are trusted on first use. */
const UNPINNED_REVISION = ['clip-vit-base-patch16', 'gemma-3-4b'];
/** Models whose files carry no catalog SHA-256 (trusted on first use). */
const NO_FILE_HASHES = ['clip-vit-base-patch16', 'gemma-3-4b'];

describe('catalog pins', () => {
  it('every model names a 40-hex commit, except the flagged unpinned ones', () => {
    const unpinned = ALL_MODELS.filter((e) => !isCommit(e.revision)).map((e) => e.id);
    expect(unpinned.sort()).toEqual(UNPINNED_REVISION);
    for (const id of unpinned) expect(ALL_MODELS.find((e) => e.id === id)!.revision).toBe('main');
  });

  it('every file of the other models carries a lower-case SHA-256', () => {
    for (const e of ALL_MODELS) {
      const files = filesOf(e);
      if (NO_FILE_HASHES.includes(e.id)) {
        expect(files.every((f) => f.sha256 === undefined)).toBe(true);
        continue;
      }
      for (const f of files) expect(f.sha256, `${e.id}: ${f.file}`).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('pins the values read from public sources', () => {
    const byId = Object.fromEntries(ALL_MODELS.map((e) => [e.id, e]));
    expect(byId['clip-vit-base-patch32']!.revision).toBe('d15189d7028b43f1d3e65039190477f6af591c2a');
    expect(byId['smolvlm-500m']!.revision).toBe('72e986006ef53e37cdd3f6d4241c90b0f01df376');
    expect(byId['qwen2.5-vl-3b']!.revision).toBe('5037fcf163dd95d1e41d1974465f0898ed108ca2');
    expect(byId['llava-1.5-7b']!.revision).toBe('9b713a64048c7f982ec3969e60e9f61f7a2730c2');
    const hash = (id: string, file: string) => filesOf(byId[id]!).find((f) => f.file === file)?.sha256;
    expect(hash('clip-vit-base-patch32', 'onnx/vision_model.onnx')).toBe(
      'fd6e1402a588279d1723c7534d4bcba5bc0b14b47dfab0e46f8c47b8270d7d40',
    );
    expect(hash('llava-1.5-7b', 'ggml-model-q4_k.gguf')).toBe(
      '7ac9c2f7b8d76cc7f3118cdf0953ebab7a7a9b12bad5dbe237219d2ab61765ea',
    );
    expect(hash('qwen2.5-vl-3b', 'Qwen2.5-VL-3B-Instruct-Q4_K_M.gguf')).toBe(
      'd02fe9b69ad8cadbbd228e387667af66612c44bed29ffc8eb1e7caf9ac486c12',
    );
  });

  it('isCommit accepts only a full lower-case commit id', () => {
    expect(isCommit('d15189d7028b43f1d3e65039190477f6af591c2a')).toBe(true);
    for (const bad of ['main', 'v1.0', 'd15189d', 'D15189D7028B43F1D3E65039190477F6AF591C2A', `${'a'.repeat(40)}0`]) {
      expect(isCommit(bad)).toBe(false);
    }
  });
});
