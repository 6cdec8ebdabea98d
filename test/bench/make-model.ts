// npm run bench:make-model [-- OUT_DIR]: the benchmarks' random-weight CLIP ViT-B/32 (see random-clip.ts).
import path from 'node:path';
import { VIT_B_32, writeRandomClip } from './random-clip.ts';

const dir = path.resolve(process.argv[2] ?? process.env.GLANCE_BENCH_MODEL ?? '/tmp/clip-random');
const started = Date.now();
await writeRandomClip(dir, VIT_B_32, { log: (line) => console.log(line) });
console.log(`random CLIP ViT-B/32 ready in ${dir} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
