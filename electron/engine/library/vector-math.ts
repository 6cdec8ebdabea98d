// Plain-JavaScript vector arithmetic: the exact scan the index is tested and benchmarked against, and the dot
// product that confirms scores.

export interface Hit {
  id: number;
  score: number;
}

/**
 * The k best of `count` rows of `vectors` (row-major, `query.length` values a row) by dot product with `query`,
 * optionally among the rows whose id `accept` allows; best first. Plain JavaScript: the reference the engine is
 * tested and benchmarked against (`exact_js_p50_ms`).
 */
export function exactScan(
  vectors: Float32Array,
  ids: ArrayLike<number>,
  query: Float32Array,
  k: number,
  accept?: (id: number) => boolean,
  count = ids.length,
): Hit[] {
  const dim = query.length;
  // A small sorted buffer of the best k: cheaper than sorting every score.
  const top: Hit[] = [];
  let worst = Number.NEGATIVE_INFINITY;
  for (let r = 0; r < count; r++) {
    const id = ids[r]!;
    if (accept && !accept(id)) continue;
    const o = r * dim;
    // four accumulators: about twice as fast as one on V8
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let d = 0;
    for (; d + 3 < dim; d += 4) {
      s0 += vectors[o + d]! * query[d]!;
      s1 += vectors[o + d + 1]! * query[d + 1]!;
      s2 += vectors[o + d + 2]! * query[d + 2]!;
      s3 += vectors[o + d + 3]! * query[d + 3]!;
    }
    for (; d < dim; d++) s0 += vectors[o + d]! * query[d]!;
    const s = s0 + s1 + s2 + s3;
    if (top.length === k && s <= worst) continue;
    let i = top.length;
    while (i > 0 && top[i - 1]!.score < s) i--;
    top.splice(i, 0, { id, score: s });
    if (top.length > k) top.pop();
    worst = top[top.length - 1]!.score;
  }
  return top;
}

/** The exact dot product of two vectors of the same length. */
export function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, dim: number): number {
  let s0 = 0;
  let s1 = 0;
  let d = 0;
  for (; d + 1 < dim; d += 2) {
    s0 += a[ao + d]! * b[bo + d]!;
    s1 += a[ao + d + 1]! * b[bo + d + 1]!;
  }
  for (; d < dim; d++) s0 += a[ao + d]! * b[bo + d]!;
  return s0 + s1;
}
