// glance classify IMAGE... --labels LABEL LABEL... : zero-shot probabilities per image, as a table or JSON.
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_CLIP_ID } from '../../../native-models/catalog.ts';
import { VARIANTS, type Variant } from '../../../native-models/clip/model.ts';
import { isProvider, PROVIDERS } from '../../../native-models/clip/providers.ts';
import { PHOTO_TEMPLATES } from '../../../native-models/clip/zero-shot.ts';
import { ModelError } from '../../../native-models/errors.ts';
import { ClassifyInputError, type ClassifyResult, classifyFiles } from '../../engine/classify.ts';
import { isPhotoFile } from '../../engine/library/scan.ts';
import { glancePaths, modelDir, resolveHome } from '../../engine/paths.ts';
import { formatScores } from '../format.ts';
import { type CliIo, EXIT, UsageError } from '../io.ts';
import { ensureClip } from '../library-context.ts';

export const usage = `Usage: glance classify IMAGE... --labels LABEL LABEL... [options]

Zero-shot classification with CLIP: the probability of each label for each image.

Options:
  --labels LABEL...      two or more labels (every word after --labels up to the next option)
  --labels-file FILE     labels, one per line
  --template T           a prompt template with {} for the label, e.g. "a photo of a {}." (repeatable)
  --ensemble             average over Glance's built-in photo templates
  --top N                show the N most likely labels per image (default: all)
  --json                 print JSON instead of a table
  --model DIR            a CLIP model folder (default: the installed clip-vit-base-patch32)
  --variant V            ${VARIANTS.join(' | ')} (default fp32)
  --provider P           ${PROVIDERS.join(' | ')} (default cpu; falls back to cpu with a message)
  --threads N            ONNX Runtime threads
  --batch N              images per model call (default 8)
  --logit-scale X        softmax temperature (default: the model's, 100 for OpenAI CLIP)
  --yes, -y              download the CLIP model without asking when it is not installed
  --home DIR             Glance's data folder (default: GLANCE_HOME, else the app-data folder)
`;

/** `--labels a b c` takes every following word up to the next option, as the README shows it. */
function takeLabels(argv: string[]): { rest: string[]; labels: string[] } {
  const rest: string[] = [];
  const labels: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] !== '--labels') {
      rest.push(argv[i]!);
      continue;
    }
    while (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) labels.push(argv[++i]!);
  }
  return { rest, labels };
}

function positiveInt(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a whole number above 0 (got "${v}")`);
  return n;
}

/** Folders on the command line stand for the images directly inside them. */
async function expandImages(args: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const a of args) {
    const st = await stat(a).catch(() => null);
    if (st?.isDirectory()) {
      // the library's own rule, so that classify and indexing take the same files from a folder (no SVG)
      const names = (await readdir(a)).filter(isPhotoFile).sort();
      out.push(...names.map((n) => path.join(a, n)));
    } else {
      out.push(a); // missing files become per-file errors, reported with the rest
    }
  }
  return out;
}

export async function classifyCommand(argv: string[], io: CliIo): Promise<number> {
  const { rest, labels } = takeLabels(argv);
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      'labels-file': { type: 'string' },
      template: { type: 'string', multiple: true },
      ensemble: { type: 'boolean' },
      top: { type: 'string' },
      json: { type: 'boolean' },
      model: { type: 'string' },
      variant: { type: 'string' },
      provider: { type: 'string' },
      threads: { type: 'string' },
      batch: { type: 'string' },
      'logit-scale': { type: 'string' },
      home: { type: 'string' },
      yes: { type: 'boolean', short: 'y' },
    },
  });
  if (values['labels-file']) {
    const text = await readFile(values['labels-file'], 'utf8').catch(() => {
      throw new UsageError(`cannot read the labels file ${values['labels-file']}`);
    });
    labels.push(
      ...text
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter(Boolean),
    );
  }
  if (positionals.length === 0) throw new UsageError('give at least one image');
  if (labels.length < 2)
    throw new UsageError('give at least two labels: --labels "a photo of a cat" "a photo of a dog"');
  const variant = values.variant ?? 'fp32';
  if (!(VARIANTS as readonly string[]).includes(variant)) {
    throw new UsageError(`--variant must be one of ${VARIANTS.join(', ')}`);
  }
  const provider = values.provider ?? 'cpu';
  if (!isProvider(provider)) throw new UsageError(`--provider must be one of ${PROVIDERS.join(', ')}`);
  let logitScale: number | undefined;
  if (values['logit-scale'] !== undefined) {
    logitScale = Number(values['logit-scale']);
    if (!(logitScale > 0)) throw new UsageError('--logit-scale must be a positive number');
  }
  const top = positiveInt('top', values.top);
  const templates = [...(values.ensemble ? PHOTO_TEMPLATES : []), ...(values.template ?? [])];
  const dir = values.model ?? modelDir(glancePaths(resolveHome(values.home, io.env)));
  const files = await expandImages(positionals);
  if (files.length === 0) throw new UsageError('the folders given contain no images');
  if (!values.model) {
    // the installed catalog model: offered for download when missing (ensureClip)
    const home = resolveHome(values.home, io.env);
    await ensureClip({ model: DEFAULT_CLIP_ID, variant: variant as Variant }, home, io, {
      yes: values.yes,
      purpose: 'classify images',
    });
  }

  const json = values.json ?? false;
  const threads = positiveInt('threads', values.threads);
  const batchSize = positiveInt('batch', values.batch);
  let summary: Awaited<ReturnType<typeof classifyFiles>>;
  try {
    summary = await classifyFiles(
      {
        modelDir: dir,
        files,
        labels,
        templates,
        variant: variant as Variant,
        provider,
        ...(threads ? { threads } : {}),
        ...(batchSize ? { batchSize } : {}),
        ...(logitScale ? { logitScale } : {}),
      },
      json ? undefined : (r: ClassifyResult) => io.out(formatScores(r, top)),
    );
  } catch (err) {
    if (err instanceof ClassifyInputError) throw new UsageError(err.message);
    if (err instanceof ModelError) {
      const hint =
        err.code === 'model-folder-missing' && !values.model
          ? '\nPut a CLIP ONNX export there (see "Models" in the README) or pass --model DIR.'
          : '';
      io.err(`glance: ${err.message}${hint}\n`);
      return EXIT.model;
    }
    throw err;
  }
  for (const note of summary.model.notes) io.err(`note: ${note}\n`);
  if (json) {
    const results = summary.results.map((r) =>
      r.ok ? { ...r, scores: [...r.scores].sort((a, b) => b.probability - a.probability).slice(0, top) } : r,
    );
    io.out(`${JSON.stringify({ model: summary.model, results }, null, 2)}\n`);
  }
  const failed = summary.results.filter((r) => !r.ok).length;
  if (failed > 0) io.err(`${failed} of ${summary.results.length} images could not be classified\n`);
  return failed > 0 ? EXIT.someFailed : EXIT.ok;
}
