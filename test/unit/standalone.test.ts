// A clone on its own runs its tests: nothing in the repository reaches for the data folder that sat beside the
// development checkout. Its third-party data lives in test/fixtures/vendor/ instead (sources and licences there).
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../fixtures/repo.ts';

// Spelled in pieces so that this file does not match itself.
const FORBIDDEN = [`..${'/'}shared`, `GLANCE_${'SHARED'}`];

/** Tracked files and new ones git would add (not ignored): what a clone holds, or will once committed. */
function repositoryFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: repoRoot,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return out.split('\0').filter((f) => f && statSync(path.join(repoRoot, f), { throwIfNoEntry: false })?.isFile());
}

describe('the repository stands on its own', () => {
  it('no file but the prose (*.md) names the folder beside the checkout or its variable', () => {
    const files = repositoryFiles();
    expect(files).toContain('test/fixtures/vendor/bpe_simple_vocab_16e6.txt.gz');
    const offenders = files
      .filter((f) => !f.endsWith('.md'))
      .filter((f) => {
        const text = readFileSync(path.join(repoRoot, f)).toString('latin1');
        return FORBIDDEN.some((s) => text.includes(s));
      });
    expect(offenders).toEqual([]);
  });

  it('keeps each vendored file under 2 MB, with its source and licence beside it', () => {
    const vendor = repositoryFiles().filter((f) => f.startsWith('test/fixtures/vendor/'));
    expect(vendor).toEqual(
      expect.arrayContaining([
        'test/fixtures/vendor/README.md',
        'test/fixtures/vendor/ggml-vocab-llama-spm.gguf',
        'test/fixtures/vendor/tokenizer-reference.jsonl',
      ]),
    );
    for (const f of vendor) expect(statSync(path.join(repoRoot, f)).size, f).toBeLessThan(2_000_000);
    const readme = readFileSync(path.join(repoRoot, 'test/fixtures/vendor/README.md'), 'utf8');
    for (const f of vendor.filter((v) => !v.endsWith('README.md'))) expect(readme).toContain(path.basename(f));
  });
});
