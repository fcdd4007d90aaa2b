/**
 * The lottery's state machine, free of sockets: which agencies are done, the
 * draw barrier, and each agency's winners.
 *
 * @module
 */

import { type Bet, hasWon, validateBet } from "./bet.ts";
import type { BetStore } from "./store.ts";

/** Winners' documents by agency. */
export type WinnersByAgency = ReadonlyMap<number, readonly string[]>;

/** What a {@linkcode Lottery} needs. */
export interface LotteryOptions {
  /** Where bets are stored and read back for the draw. */
  store: BetStore;
  /** How many distinct agencies must be done before the draw. */
  agencies: number;
  /** Today, for birthdate validation. @default new Date() */
  today?: Date;
}

/** Outcome of {@linkcode Lottery.markDone}. */
export type DoneOutcome = "first" | "repeated" | "last";

/**
 * The central lottery: validates and stores bets, counts the agencies that are
 * done, and runs the draw exactly once when the last one is.
 *
 * Waiting for the draw is a promise, not polling: every winners query awaits
 * the same promise, which the draw resolves.
 */
export class Lottery {
  #store: BetStore;
  #agencies: number;
  #today?: Date;
  #done = new Set<number>();
  #drawn = Promise.withResolvers<WinnersByAgency>();
  #drawStarted = false;

  /** Creates a lottery over an open store. */
  constructor(options: LotteryOptions) {
    this.#store = options.store;
    this.#agencies = options.agencies;
    this.#today = options.today;
    // A failed draw is reported to whoever waits; never as an unhandled rejection.
    this.#drawn.promise.catch(() => {});
  }

  /** How many agencies take part. */
  get agencies(): number {
    return this.#agencies;
  }

  /** How many distinct agencies have said they are done. */
  get doneCount(): number {
    return this.#done.size;
  }

  /** Whether the draw has been started. */
  get drawStarted(): boolean {
    return this.#drawStarted;
  }

  /** Whether `agency` is a valid agency number for this lottery. */
  isAgency(agency: number): boolean {
    return Number.isInteger(agency) && agency >= 1 && agency <= this.#agencies;
  }

  /** Whether `agency` has said it is done. */
  isDone(agency: number): boolean {
    return this.#done.has(agency);
  }

  /**
   * Checks every bet of a batch; returns the first problem (naming the bet's
   * position, field and value) or `undefined` when all are valid.
   */
  validate(bets: readonly Bet[]): string | undefined {
    const options = { agencies: this.#agencies, today: this.#today };
    for (let i = 0; i < bets.length; i++) {
      const reason = validateBet(bets[i], options);
      if (reason !== undefined) return `Bet ${i + 1} of ${bets.length}: ${reason}`;
    }
    return undefined;
  }

  /** Stores a validated batch; resolves once it is durable (written and fsync'd). */
  store(bets: Bet[]): Promise<void> {
    return this.#store.storeBets(bets);
  }

  /**
   * Records that `agency` is done. Returns `"last"` when this completes the
   * set of agencies (the caller then runs {@linkcode draw}), `"repeated"` when
   * it was already done, `"first"` otherwise.
   */
  markDone(agency: number): DoneOutcome {
    if (this.#done.has(agency)) return "repeated";
    this.#done.add(agency);
    return this.#done.size === this.#agencies ? "last" : "first";
  }

  /**
   * Runs the draw once: streams every stored bet through `hasWon` and groups
   * the winners' documents by agency. Later calls return the same result.
   */
  draw(): Promise<WinnersByAgency> {
    if (this.#drawStarted) return this.#drawn.promise;
    this.#drawStarted = true;
    this.#computeWinners().then(this.#drawn.resolve, this.#drawn.reject);
    return this.#drawn.promise;
  }

  /** Resolves with the documents of `agency`'s winners once the draw is done. */
  async winners(agency: number): Promise<readonly string[]> {
    const byAgency = await this.#drawn.promise;
    return byAgency.get(agency) ?? [];
  }

  async #computeWinners(): Promise<WinnersByAgency> {
    const byAgency = new Map<number, string[]>();
    for await (const bet of this.#store.loadBets()) {
      if (!hasWon(bet)) continue;
      const documents = byAgency.get(bet.agency);
      if (documents) documents.push(bet.document);
      else byAgency.set(bet.agency, [bet.document]);
    }
    return byAgency;
  }
}
