/**
 * The benchmark's figures: every figure is the median of its runs, reported
 * with min, max and every sample.
 *
 * @module
 */

/** A figure: the median of the runs, with min, max and every sample. */
export interface Stat {
  median: number;
  min: number;
  max: number;
  samples: number[];
}

/** The median, min and max of `samples` (NaN for none); a NaN sample (not read) is left out. */
export function statOf(samples: number[]): Stat {
  const sorted = samples.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  const n = sorted.length;
  const median = n === 0
    ? Number.NaN
    : n % 2 === 1
    ? sorted[(n - 1) / 2]
    : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  return { median, min: sorted[0] ?? Number.NaN, max: sorted[n - 1] ?? Number.NaN, samples };
}
