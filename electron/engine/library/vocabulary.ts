// The tag vocabulary: labels with their CLIP prompts, grouped in categories, plus the neutral prompts every label
// must beat. Glance ships a default (resources/vocabulary.json); a person's own copy in the data folder wins.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface VocabularyLabel {
  name: string;
  category: string;
  prompts: string[];
  threshold?: number;
}

export interface Vocabulary {
  labels: VocabularyLabel[];
  neutral: string[];
  /** Identifies this content: auto tags made with another vocabulary are recomputed. */
  hash: string;
  source: string;
}

/**
 * The shipped resources folder: GLANCE_RESOURCES when the desktop app sets it (its bundles do not sit where the
 * sources do), else the repository's resources/ beside the sources (the CLI, tests).
 */
export const DEFAULT_VOCABULARY = path.join(
  process.env.GLANCE_RESOURCES ??
    path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'resources'),
  'vocabulary.json',
);

export class VocabularyError extends Error {
  override readonly name = 'VocabularyError';
  readonly code = 'vocabulary-invalid';
}

const strings = (v: unknown): v is string[] =>
  Array.isArray(v) && v.length > 0 && v.every((s) => typeof s === 'string' && s.trim().length > 0);

export function parseVocabulary(raw: unknown, source: string): Vocabulary {
  const bad = (what: string) => new VocabularyError(`${source}: ${what}`);
  if (!raw || typeof raw !== 'object') throw bad('is not a JSON object');
  const v = raw as { neutral?: unknown; categories?: unknown };
  if (!strings(v.neutral)) throw bad('"neutral" must be a list of prompts');
  if (!Array.isArray(v.categories)) throw bad('"categories" must be a list');
  const labels: VocabularyLabel[] = [];
  const seen = new Set<string>();
  for (const [ci, c] of v.categories.entries()) {
    const cat = c as { name?: unknown; labels?: unknown };
    if (typeof cat?.name !== 'string' || !Array.isArray(cat.labels)) {
      throw bad(`category ${ci + 1} needs a "name" and a list of "labels"`);
    }
    for (const l of cat.labels as { name?: unknown; prompts?: unknown; threshold?: unknown }[]) {
      const name = typeof l?.name === 'string' ? l.name.trim() : '';
      if (!name) throw bad(`a label in "${cat.name}" has no name`);
      if (!strings(l.prompts)) throw bad(`label "${name}" needs a list of prompts`);
      if (l.threshold !== undefined && typeof l.threshold !== 'number')
        throw bad(`label "${name}": threshold is not a number`);
      if (seen.has(name.toLowerCase())) throw bad(`label "${name}" appears twice`);
      seen.add(name.toLowerCase());
      labels.push({
        name,
        category: cat.name,
        prompts: l.prompts,
        ...(typeof l.threshold === 'number' ? { threshold: l.threshold } : {}),
      });
    }
  }
  if (labels.length === 0) throw bad('has no labels');
  const hash = createHash('sha256')
    .update(JSON.stringify({ labels, neutral: v.neutral }))
    .digest('hex')
    .slice(0, 16);
  return { labels, neutral: v.neutral, hash, source };
}

export async function loadVocabulary(file: string): Promise<Vocabulary> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new VocabularyError(`cannot read the vocabulary ${file}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new VocabularyError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  return parseVocabulary(raw, file);
}

/** The person's vocabulary in the data folder if there is one, else the default. */
export async function vocabularyFor(home: string): Promise<Vocabulary> {
  const own = path.join(home, 'vocabulary.json');
  return loadVocabulary(existsSync(own) ? own : DEFAULT_VOCABULARY);
}
