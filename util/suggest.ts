/**
 * "Did you mean ...?": the known word a typo most likely meant.
 *
 * @module
 */

/** Options of {@linkcode closest}. */
export interface ClosestOptions {
  /**
   * Largest edit distance that still counts as a near miss.
   * @default max(2, a third of the candidate's length)
   */
  maxDistance?: number;
}

/**
 * The candidate `word` most likely meant (case-insensitive): the nearest by
 * edit distance when near enough, else one that ends with `_word` or `.word`
 * (`PORT` for `SERVER_PORT`, `amount` for `loop.amount`); undefined when none.
 */
export function closest(
  word: string,
  candidates: readonly string[],
  options: ClosestOptions = {},
): string | undefined {
  const lower = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  if (best !== undefined) {
    const limit = options.maxDistance ?? Math.max(2, Math.floor(best.length / 3));
    if (bestDistance <= limit) return best;
  }
  return candidates.find((candidate) => {
    const c = candidate.toLowerCase();
    return c.endsWith(`_${lower}`) || c.endsWith(`.${lower}`);
  });
}

/** Optimal string alignment distance (a transposition counts as one edit). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => {
    const row = new Array<number>(cols).fill(0);
    row[0] = i;
    return row;
  });
  for (let j = 0; j < cols; j++) d[0][j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[rows - 1][cols - 1];
}
