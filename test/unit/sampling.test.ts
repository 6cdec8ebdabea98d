// The sampling settings Glance runs each model family with, and the CLI's --temperature and --seed.
import { describe, expect, it } from 'vitest';
import { samplingFromValues } from '../../electron/cli/chat-context.ts';
import { UsageError } from '../../electron/cli/io.ts';
import {
  bindingSampling,
  FAMILY_SAMPLING,
  familyOf,
  MAX_SEED,
  samplingFor,
} from '../../native-models/llava/sampling.ts';

describe('model families', () => {
  it('are told from the projector type and the text model', () => {
    expect(familyOf({ architecture: 'llama' }, { projectorType: 'mlp' })).toBe('llava-1.5');
    expect(familyOf({ architecture: 'llama' }, { projectorType: 'idefics3' })).toBe('smolvlm');
    expect(familyOf({ architecture: 'qwen2vl' }, { projectorType: 'qwen2.5vl_merger' })).toBe('qwen2.5-vl');
    expect(familyOf({ architecture: 'gemma3' }, { projectorType: 'gemma3' })).toBe('gemma-3');
    expect(familyOf({ architecture: 'mistral' }, { projectorType: 'mlp' })).toBe('other');
    expect(familyOf({ architecture: 'llama' }, { projectorType: 'pixtral' })).toBe('other');
  });

  it("use each card's recommended settings", () => {
    expect(FAMILY_SAMPLING['qwen2.5-vl']).toMatchObject({
      temperature: 0.1,
      topK: 1,
      topP: 0.001,
      repeatPenalty: 1.05,
    });
    expect(FAMILY_SAMPLING['gemma-3']).toMatchObject({ temperature: 1, topK: 64, topP: 0.95 });
    expect(FAMILY_SAMPLING.smolvlm.temperature).toBe(0);
    expect(FAMILY_SAMPLING['llava-1.5']).toMatchObject({ temperature: 0.2, topP: 0.7 });
  });
});

describe('samplingFor', () => {
  it("takes the caller's temperature and seed over the family's, and draws a seed when none is given", () => {
    expect(samplingFor('gemma-3', { temperature: 0, seed: 5 })).toEqual({
      family: 'gemma-3',
      ...FAMILY_SAMPLING['gemma-3'],
      temperature: 0,
      seed: 5,
    });
    expect(samplingFor('smolvlm', {}, () => 77).seed).toBe(77);
    const drawn = samplingFor('other').seed;
    expect(Number.isInteger(drawn) && drawn >= 0 && drawn <= MAX_SEED).toBe(true);
  });

  it('refuses values the binding would misread', () => {
    expect(() => samplingFor('other', { temperature: -1 })).toThrow(/temperature must be a number from 0 to 5/);
    expect(() => samplingFor('other', { temperature: Number.NaN })).toThrow(/temperature/);
    expect(() => samplingFor('other', { seed: 2 ** 31 })).toThrow(/seed must be a whole number from 0 to 2147483647/);
    expect(() => samplingFor('other', { seed: 1.5 })).toThrow(/seed/);
  });

  it('names every sampler of the binding, with XTC off (its default drops the likeliest token one time in ten)', () => {
    const o = bindingSampling(samplingFor('llava-1.5', { seed: 3 }));
    expect(o).toMatchObject({ temperature: 0.2, top_p: 0.7, top_k: 0, min_p: 0, seed: 3, xtc_probability: 0 });
    expect(o).toMatchObject({ typical_p: 1, mirostat: 0, dry_multiplier: 0, penalty_freq: 0, penalty_present: 0 });
  });
});

describe('--temperature and --seed', () => {
  it('parse into the engine options', () => {
    expect(samplingFromValues({ temperature: '0', seed: '42' })).toEqual({ temperature: 0, seed: 42 });
    expect(samplingFromValues({ temperature: '0.7' })).toEqual({ temperature: 0.7 });
    expect(samplingFromValues({})).toEqual({});
  });

  it('refuse what is not a temperature or a seed, saying what is', () => {
    for (const temperature of ['hot', '', '-0.5', '6', 'NaN']) {
      expect(() => samplingFromValues({ temperature })).toThrow(UsageError);
    }
    for (const seed of ['-1', '1.5', 'x', '', '2147483648']) {
      expect(() => samplingFromValues({ seed })).toThrow(/--seed must be a whole number from 0 to 2147483647/);
    }
  });
});
