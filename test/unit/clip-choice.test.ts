import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ClipChoiceError,
  clipChoice,
  clipOptions,
  DEFAULT_CLIP,
  saveClip,
  savedClip,
} from '../../electron/engine/clip-choice.ts';
import { openDatabase } from '../../electron/engine/db/database.ts';
import { LibraryStore } from '../../electron/engine/library/store.ts';
import { glancePaths } from '../../electron/engine/paths.ts';

describe("the library's CLIP model", () => {
  const paths = glancePaths('/data/glance');

  it('is the default catalog model until one is chosen, then the chosen one', () => {
    const store = new LibraryStore(openDatabase(':memory:'));
    expect(savedClip(store)).toEqual(DEFAULT_CLIP);
    expect(clipOptions(paths, savedClip(store))).toEqual({
      modelDir: path.join('/data/glance', 'models', 'clip-vit-base-patch32'),
      variant: 'fp32',
    });
    saveClip(store, clipChoice('some/folder', 'quantized'));
    expect(clipOptions(paths, savedClip(store))).toEqual({
      modelDir: path.resolve('some/folder'),
      variant: 'quantized',
    });
    saveClip(store, clipChoice('clip-vit-base-patch16'));
    expect(clipOptions(paths, savedClip(store)).modelDir).toBe(
      path.join('/data/glance', 'models', 'clip-vit-base-patch16'),
    );
  });

  it('says how to repair a damaged setting instead of falling back silently', () => {
    const store = new LibraryStore(openDatabase(':memory:'));
    store.setSetting('clip_model', '{"model": 3');
    expect(() => savedClip(store)).toThrow(ClipChoiceError);
    expect(() => savedClip(store)).toThrow(/unreadable .*glance models use ID\|DIR sets it again/);
  });
});
