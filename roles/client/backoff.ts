/**
 * The client's retry policy, written once: exponential backoff with "equal
 * jitter" (half the step, plus up to the other half at random), passed as an
 * option wherever a retry happens: connection attempts and reconnects after a
 * drop.
 *
 * @module
 */

import { sleep } from "../shutdown.ts";

/** The pause before retry number `attempt` (1 = the first retry), in milliseconds. */
export type Backoff = (attempt: number) => number;

/** Options of {@linkcode equalJitterBackoff}. */
export interface EqualJitterOptions {
  /** Step of the first retry; it doubles each retry. @default 50 */
  firstMs?: number;
  /** Largest step. @default 2000 */
  maxMs?: number;
}

/**
 * Steps of `firstMs` doubling up to `maxMs`; each pause is half the step plus
 * up to the other half at random, so that agencies that failed together do
 * not retry together.
 */
export function equalJitterBackoff(options: EqualJitterOptions = {}): Backoff {
  const firstMs = options.firstMs ?? 50;
  const maxMs = options.maxMs ?? 2000;
  return function backoff(attempt) {
    const step = Math.min(firstMs * 2 ** (attempt - 1), maxMs);
    return step / 2 + Math.random() * step / 2;
  };
}

/** The client's backoff: about 50 ms doubling up to 2 s. */
export const DEFAULT_BACKOFF: Backoff = equalJitterBackoff();

/** Options of {@linkcode waitToRetry}. */
export interface WaitToRetryOptions {
  /** The policy. @default DEFAULT_BACKOFF */
  backoff?: Backoff;
  /** `performance.now()` the pause never goes past. */
  deadline: number;
  /** Aborting it ends the pause at once. */
  signal: AbortSignal;
}

/**
 * Sleeps the backoff of retry `attempt`, but not past the deadline.
 *
 * @throws the signal's reason when it is aborted meanwhile.
 */
export async function waitToRetry(attempt: number, options: WaitToRetryOptions): Promise<void> {
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const pause = Math.min(backoff(attempt), options.deadline - performance.now());
  if (!(await sleep(pause, options.signal))) options.signal.throwIfAborted();
}
