// Synthetic embeddings shaped like CLIP's for the search benchmark (npm run bench:search), not uniform noise:
// uniform 512-d vectors are the worst case for any graph index and unlike photos.
//
// - A few thousand cluster centres, each a random unit vector plus a direction shared by all of them (CLIP's image
//   embeddings live in a narrow cone: unrelated photos still have a cosine of about 0.3-0.4).
// - Each photo is its cluster's centre plus Gaussian noise, normalised. The noise is chosen per cluster so that two
//   photos of the same cluster have a cosine of 0.7-0.9, as two photos of one scene or subject do under CLIP.
//   Cluster sizes are skewed (a few large subjects, many small ones).
// - 1% of photos (every index i with i % 100 === 50) are a planted near-copy of an earlier photo, at a cosine drawn in
//   [0.975, 0.995] exactly (the noise is made orthogonal to the original before mixing).
// - Text queries are unit vectors near the centres, noisier than photos (cosine 0.45-0.65 to their centre).
// - Each photo has a tag in 0..9; tag 0 keeps about 10% of photos (the filtered search's filter).
//
// Everything is a pure function of (seed, index): any photo can be generated alone, so a million vectors are made in
// chunks without being held twice. Photo ids are index + 1, as SQLite's rowids start at 1.
import { seededRandom } from '../fixtures/random.ts';

/** A well-mixed 32-bit hash of a few integers (murmur3's finaliser over a running combination). */
export function mix(...xs: number[]): number {
  let h = 0x9e3779b9;
  for (const x of xs) {
    h = Math.imul(h ^ (x >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

const U32 = 4294967296;

/** Fills `out` with standard normal values (Box-Muller) from `next`. */
function gaussians(next: () => number, out: Float32Array | Float64Array): void {
  for (let d = 0; d < out.length; d += 2) {
    const u1 = (next() + 1) / (U32 + 1); // in (0, 1]
    const u2 = next() / U32;
    const r = Math.sqrt(-2 * Math.log(u1));
    out[d] = r * Math.cos(2 * Math.PI * u2);
    if (d + 1 < out.length) out[d + 1] = r * Math.sin(2 * Math.PI * u2);
  }
}

function normalise(v: Float32Array | Float64Array): void {
  let s = 0;
  for (let d = 0; d < v.length; d++) s += v[d]! * v[d]!;
  const inv = 1 / Math.sqrt(s);
  for (let d = 0; d < v.length; d++) v[d]! *= inv;
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let d = 0; d < a.length; d++) s += a[d]! * b[d]!;
  return s;
}

export interface SyntheticOptions {
  vectors: number;
  seed?: number;
  dim?: number;
  /** default: one centre per 25 photos, between 1 and 4,000 */
  centres?: number;
}

/** Within-cluster cosine of photos is drawn per cluster in this range. */
export const CLUSTER_COSINE: readonly [number, number] = [0.7, 0.9];
/** Planted copies sit at exactly a cosine in this range from their original. */
export const COPY_COSINE: readonly [number, number] = [0.975, 0.995];
/** Queries' cosine to their centre. */
export const QUERY_COSINE: readonly [number, number] = [0.45, 0.65];
/** The tag a filtered search keeps: about 10% of photos. */
export const FILTER_TAG = 0;
/** The share of the shared direction in every centre: a² / (1 + a²) is the centres' mutual cosine (~0.375). */
const SHARED = Math.sqrt(0.6);

export class SyntheticEmbeddings {
  readonly n: number;
  readonly seed: number;
  readonly dim: number;
  readonly centreCount: number;
  /** centreCount × dim unit vectors */
  readonly centres: Float32Array;
  /** per cluster: squared norm of the noise added to its unit centre (within-cluster cosine = 1 / (1 + s)) */
  private readonly spread: Float64Array;
  private readonly noise: Float64Array;

  constructor(opts: SyntheticOptions) {
    this.n = opts.vectors;
    this.seed = opts.seed ?? 1;
    this.dim = opts.dim ?? 512;
    this.centreCount = opts.centres ?? Math.max(1, Math.min(4000, Math.round(this.n / 25)));
    const { dim, centreCount } = this;
    this.noise = new Float64Array(dim);
    const shared = new Float64Array(dim);
    gaussians(seededRandom(mix(this.seed, 0x5ea7ed)), shared);
    normalise(shared);
    this.centres = new Float32Array(centreCount * dim);
    this.spread = new Float64Array(centreCount);
    const c = new Float64Array(dim);
    for (let k = 0; k < centreCount; k++) {
      const next = seededRandom(mix(this.seed, 0xce47e, k));
      gaussians(next, c);
      normalise(c);
      for (let d = 0; d < dim; d++) c[d] = c[d]! + SHARED * shared[d]!;
      normalise(c);
      this.centres.set(c, k * dim);
      const cos = CLUSTER_COSINE[0] + (CLUSTER_COSINE[1] - CLUSTER_COSINE[0]) * (next() / U32);
      this.spread[k] = 1 / cos - 1;
    }
  }

  id(i: number): number {
    return i + 1;
  }

  index(id: number): number {
    return id - 1;
  }

  /** The photo at `i` is a planted near-copy of originalOf(i) when this is true: exactly 1 in 100. */
  isCopy(i: number): boolean {
    return i % 100 === 50;
  }

  /** The index of the photo that `i` is a near-copy of, or -1. */
  originalOf(i: number): number {
    if (!this.isCopy(i)) return -1;
    let o = mix(this.seed, 0xc0b1, i) % i;
    if (this.isCopy(o)) o--;
    return o;
  }

  /** [original, copy] indices of every planted pair. */
  plantedPairs(): [number, number][] {
    const out: [number, number][] = [];
    for (let i = 50; i < this.n; i += 100) out.push([this.originalOf(i), i]);
    return out;
  }

  /** The cluster of photo `i` (a copy's is its original's). */
  clusterOf(i: number): number {
    const o = this.originalOf(i);
    if (o >= 0) return this.clusterOf(o);
    // skewed sizes: u^1.5 puts more photos in low-numbered clusters
    const u = mix(this.seed, 0xc1a5, i) / U32;
    return Math.min(this.centreCount - 1, Math.floor(this.centreCount * u ** 1.5));
  }

  tag(i: number): number {
    return mix(this.seed, 0x7a9, i) % 10;
  }

  /** Writes photo `i`'s unit vector into `out` (length dim), which it returns. */
  photo(i: number, out = new Float32Array(this.dim)): Float32Array {
    const { dim, noise } = this;
    const o = this.originalOf(i);
    if (o >= 0) {
      const p = this.photo(o, out);
      const next = seededRandom(mix(this.seed, 0xd0b, i));
      gaussians(next, noise);
      const along = dot(noise, p);
      for (let d = 0; d < dim; d++) noise[d] = noise[d]! - along * p[d]!;
      normalise(noise);
      const cos = COPY_COSINE[0] + (COPY_COSINE[1] - COPY_COSINE[0]) * (next() / U32);
      const sin = Math.sqrt(1 - cos * cos);
      for (let d = 0; d < dim; d++) out[d] = cos * p[d]! + sin * noise[d]!;
      normalise(out);
      return out;
    }
    const k = this.clusterOf(i);
    gaussians(seededRandom(mix(this.seed, 0xf07, i)), noise);
    const sigma = Math.sqrt(this.spread[k]! / dim);
    const c = k * dim;
    for (let d = 0; d < dim; d++) out[d] = this.centres[c + d]! + sigma * noise[d]!;
    normalise(out);
    return out;
  }

  /** Photos [from, to) as one row-major Float32Array. */
  chunk(from: number, to: number): Float32Array {
    const out = new Float32Array((to - from) * this.dim);
    for (let i = from; i < to; i++) this.photo(i, out.subarray((i - from) * this.dim, (i - from + 1) * this.dim));
    return out;
  }

  /** `count` text queries: unit vectors near the centres of randomly chosen photos' clusters. */
  queries(count: number): Float32Array[] {
    const { dim } = this;
    const out: Float32Array[] = [];
    const noise = new Float64Array(dim);
    for (let j = 0; j < count; j++) {
      const next = seededRandom(mix(this.seed, 0x9e7, j));
      const k = this.clusterOf(next() % this.n);
      gaussians(next, noise);
      const cos = QUERY_COSINE[0] + (QUERY_COSINE[1] - QUERY_COSINE[0]) * (next() / U32);
      // |noise|² = s with cos(q, centre) = 1 / sqrt(1 + s)
      const sigma = Math.sqrt((1 / (cos * cos) - 1) / dim);
      const q = new Float32Array(dim);
      for (let d = 0; d < dim; d++) q[d] = this.centres[k * dim + d]! + sigma * noise[d]!;
      normalise(q);
      out.push(q);
    }
    return out;
  }
}
