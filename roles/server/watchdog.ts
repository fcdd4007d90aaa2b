/**
 * {@linkcode Watchdog}: one lazily re-armed timer a connection, for the read
 * and idle timeouts.
 *
 * @module
 */

/**
 * Closes a connection whose peer keeps the server waiting too long. One timer
 * per connection, re-armed lazily: arming with a later deadline than the
 * timer's only moves the deadline (the timer, when it fires, sleeps again for
 * the rest), so a busy connection costs no timer call per frame.
 */
export class Watchdog {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #firesAt = 0;
  #deadline = Number.POSITIVE_INFINITY;
  #reason = "";
  #onExpire: (reason: string) => void;

  /** A disarmed watchdog that calls `onExpire` with the reason given to {@linkcode arm}. */
  constructor(onExpire: (reason: string) => void) {
    this.#onExpire = onExpire;
  }

  /** Expires `ms` from now with `reason`, unless re-armed or disarmed before. */
  arm(ms: number, reason: string): void {
    const now = performance.now();
    this.#deadline = now + ms;
    this.#reason = reason;
    if (this.#timer !== undefined) {
      if (this.#firesAt <= this.#deadline) return;
      clearTimeout(this.#timer);
    }
    this.#schedule(ms, now);
  }

  /** Nothing is awaited from the peer: no deadline. */
  disarm(): void {
    this.#deadline = Number.POSITIVE_INFINITY;
  }

  /** Disarms and drops the timer (at the end of the connection). */
  stop(): void {
    this.#deadline = Number.POSITIVE_INFINITY;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(ms: number, now: number): void {
    this.#firesAt = now + ms;
    this.#timer = setTimeout(this.#fire, ms);
  }

  #fire = (): void => {
    this.#timer = undefined;
    if (this.#deadline === Number.POSITIVE_INFINITY) return;
    const now = performance.now();
    const left = this.#deadline - now;
    if (left > 0) this.#schedule(left, now);
    else this.#onExpire(this.#reason);
  };
}
