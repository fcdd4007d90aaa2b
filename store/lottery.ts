/**
 * The lottery's state machine, free of sockets: the sequence of each agency's
 * batches (so a resent batch is never stored twice), which agencies are done,
 * the draw barrier, and each agency's winners. It resumes from what the store
 * recovered after a restart.
 *
 * @module
 */

import {
  type Bet,
  hasWon,
  LOTTERY_WINNER_NUMBER,
  type PackedBets,
  packedDocument,
  unpackBet,
  validateBet,
} from "./bet.ts";
import { validCsvRows } from "./csv.ts";
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

/** A packed batch checked by {@linkcode Lottery.checkPacked}: its store rows, or why not. */
export type CheckedBatch =
  | {
    /** The store rows of every bet. */
    rows: Uint8Array;
    /** Bets in it. */
    count: number;
    /** Agency and document of each winning bet, for the draw. */
    winners: [number, string][];
    reason?: undefined;
  }
  | {
    /** The first bad bet: its position, field and value. */
    reason: string;
    rows?: undefined;
  };

/** Outcome of {@linkcode Lottery.markDone}. */
export type DoneOutcome = "first" | "repeated" | "last";

/**
 * Where a batch id stands in its agency's sequence (see {@linkcode Lottery.batchStatus}):
 * - `next`: the one expected (last accepted + 1): store it;
 * - `duplicate`: already accepted (a resend after a reconnect): acknowledge, do not store;
 * - `gap`: past the next one: some batch is missing;
 * - `after_done`: a new batch of an agency that said it is done;
 * - `invalid`: 0 (ids start at 1).
 */
export type BatchStatus = "next" | "duplicate" | "gap" | "after_done" | "invalid";

/**
 * The central lottery: validates and stores bets, counts the agencies that are
 * done, and runs the draw exactly once when the last one is.
 *
 * Batches of an agency carry ids 1, 2, 3... The lottery remembers, per
 * agency, the last id accepted (in order of arrival: a batch is accepted when
 * handed to the store, before it is durable) and the last one durable; a
 * resent id is a duplicate and is never stored twice. Both, and the set of
 * agencies done, start from what the store recovered from its journal.
 *
 * Waiting for the draw is a promise, not polling: every winners query awaits
 * the same promise, which the draw resolves.
 */
export class Lottery {
  #store: BetStore;
  #agencies: number;
  #today?: Date;
  /** Last batch id accepted, by agency (index 0 unused). */
  #accepted: Uint32Array;
  /** Last batch id durable, by agency. */
  #durable: Uint32Array;
  /** Durability of the last batch accepted, by agency, while it is pending. */
  #pending: (Promise<void> | undefined)[];
  /** Ids of rejected batches, by agency (rare). */
  #rejected = new Map<number, Set<number>>();
  /** Agencies whose "done" is durable. */
  #done = new Set<number>();
  /** Agencies that said they are done: the promise of that being durable. */
  #doneRequested = new Map<number, Promise<DoneOutcome>>();
  #drawn = Promise.withResolvers<WinnersByAgency>();
  #drawStarted = false;
  /** Winners of the batches stored by this lottery, noted as each is committed. */
  #winners = new Map<number, string[]>();
  /** Whether the store held bets before this lottery: then the draw reads them all back. */
  #storeHadBets: boolean;

  /** Creates a lottery over an open store, resuming from what the store recovered. */
  constructor(options: LotteryOptions) {
    this.#store = options.store;
    this.#agencies = options.agencies;
    this.#today = options.today;
    this.#accepted = new Uint32Array(options.agencies + 1);
    this.#durable = new Uint32Array(options.agencies + 1);
    this.#pending = new Array(options.agencies + 1);
    const recovered = options.store.recovery;
    this.#storeHadBets = recovered.bets > 0;
    for (const [agency, batchId] of recovered.lastBatch) {
      if (!this.isAgency(agency)) continue;
      this.#accepted[agency] = batchId;
      this.#durable[agency] = batchId;
    }
    for (const [agency, ids] of recovered.rejected) {
      if (this.isAgency(agency)) this.#rejected.set(agency, new Set(ids));
    }
    for (const agency of recovered.done) {
      if (!this.isAgency(agency)) continue;
      this.#done.add(agency);
      this.#doneRequested.set(agency, Promise.resolve("repeated"));
    }
    // A failed draw is reported to whoever waits; never as an unhandled rejection.
    this.#drawn.promise.catch(() => {});
  }

  /** How many agencies take part. */
  get agencies(): number {
    return this.#agencies;
  }

  /** How many distinct agencies are done (durably). */
  get doneCount(): number {
    return this.#done.size;
  }

  /** Whether every agency is done (durably): the draw may run. */
  get allDone(): boolean {
    return this.#done.size === this.#agencies;
  }

  /** Whether the draw has been started. */
  get drawStarted(): boolean {
    return this.#drawStarted;
  }

  /** Whether `agency` is a valid agency number for this lottery. */
  isAgency(agency: number): boolean {
    return Number.isInteger(agency) && agency >= 1 && agency <= this.#agencies;
  }

  /** Whether `agency` has said it is done (durable or being made durable). */
  isDone(agency: number): boolean {
    return this.#doneRequested.has(agency);
  }

  /** The batch id `agency` is expected to send next. */
  nextBatchId(agency: number): number {
    return this.#accepted[agency] + 1;
  }

  /** Where `batchId` stands in the sequence of `agency` (a valid agency). */
  batchStatus(agency: number, batchId: number): BatchStatus {
    if (batchId < 1) return "invalid";
    const accepted = this.#accepted[agency];
    if (batchId <= accepted) return "duplicate";
    if (this.#doneRequested.has(agency)) return "after_done";
    return batchId === accepted + 1 ? "next" : "gap";
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

  /**
   * {@linkcode validate} for packed bets, checked on the bytes, and when all
   * are valid their store rows, made in the same pass (only a bad bet is ever
   * made into an object, to name it).
   */
  checkPacked(bets: PackedBets): CheckedBatch {
    const options = { agencies: this.#agencies, today: this.#today };
    const { rows, invalid } = validCsvRows(bets, options);
    if (rows === undefined) {
      const reason = validateBet(unpackBet(bets, invalid), options);
      return { reason: `Bet ${invalid + 1} of ${bets.count}: ${reason}` };
    }
    const winners: [number, string][] = [];
    for (let i = 0; i < bets.count; i++) {
      if (bets.numbers[i] === LOTTERY_WINNER_NUMBER) {
        winners.push([bets.agencies[i], packedDocument(bets, i)]);
      }
    }
    return { rows, count: bets.count, winners };
  }

  /**
   * Whether an accepted batch id of `agency` was rejected (its bets invalid):
   * a resend of it is answered as rejected again, never as stored.
   */
  wasRejected(agency: number, batchId: number): boolean {
    return this.#rejected.get(agency)?.has(batchId) ?? false;
  }

  /**
   * Accepts the `next` batch of `agency` (see {@linkcode batchStatus}) and
   * stores its validated bets. The id counts as accepted at once; the promise
   * resolves once the batch is durable (written, fsync'd, journaled).
   *
   * @throws {RangeError} when `batchId` is not the next one.
   */
  storeBatch(agency: number, batchId: number, bets: readonly Bet[]): Promise<void> {
    const winners = bets.filter(hasWon).map((bet): [number, string] => [bet.agency, bet.document]);
    return this.#accept(agency, batchId, {
      winners,
      write: (key) => this.#store.storeBatch(bets, key),
    });
  }

  /**
   * {@linkcode storeBatch} for a batch checked by {@linkcode checkPacked}:
   * its rows go to the store as they are.
   *
   * @throws {RangeError} when `batchId` is not the next one.
   */
  storeChecked(
    agency: number,
    batchId: number,
    batch: CheckedBatch & { rows: Uint8Array },
  ): Promise<void> {
    const { rows, count, winners } = batch;
    return this.#accept(agency, batchId, {
      winners,
      write: (key) => this.#store.storeBatchRows(rows, { ...key, count }),
    });
  }

  /**
   * Accepts the `next` batch of `agency` as rejected (its bets invalid): no
   * row is stored, but its id is used up, durably, so the agency's next batch
   * is not a gap after a restart. Resolves once that is durable.
   *
   * @throws {RangeError} when `batchId` is not the next one.
   */
  rejectBatch(agency: number, batchId: number): Promise<void> {
    const promise = this.#accept(agency, batchId, {
      winners: [],
      write: (key) => this.#store.storeBatch([], key),
    });
    const ids = this.#rejected.get(agency);
    if (ids === undefined) this.#rejected.set(agency, new Set([batchId]));
    else ids.add(batchId);
    return promise;
  }

  #accept(agency: number, batchId: number, batch: AcceptedBatch): Promise<void> {
    if (batchId !== this.#accepted[agency] + 1 || this.#doneRequested.has(agency)) {
      throw new RangeError(
        `Batch out of sequence: ${batchId} of agency ${agency} (expected ${
          this.#accepted[agency] + 1
        })`,
      );
    }
    this.#accepted[agency] = batchId;
    const durable = batch.write({ agency, batchId }).then(() => {
      this.#noteWinners(batch.winners);
      // Flushes complete in order, so ids become durable in order.
      this.#durable[agency] = batchId;
      if (this.#accepted[agency] === batchId) this.#pending[agency] = undefined;
    });
    this.#pending[agency] = durable;
    return durable;
  }

  /**
   * Resolves once an accepted batch id of `agency` is durable: `true`, or
   * `false` when the store failed to make it so.
   */
  async whenDurable(agency: number, batchId: number): Promise<boolean> {
    if (batchId <= this.#durable[agency]) return true;
    try {
      await this.#pending[agency];
    } catch {
      // Reported as false below.
    }
    return batchId <= this.#durable[agency];
  }

  /**
   * Records, durably, that `agency` is done; resolves once the record is
   * fsync'd. Resolves `"last"` when this completes the set of agencies (the
   * caller then runs {@linkcode draw}), `"repeated"` when it was already done
   * (or being made so), `"first"` otherwise.
   */
  markDone(agency: number): Promise<DoneOutcome> {
    const previous = this.#doneRequested.get(agency);
    if (previous !== undefined) return previous.then(() => "repeated");
    const outcome = this.#store.markDone(agency).then((): DoneOutcome => {
      this.#done.add(agency);
      return this.#done.size === this.#agencies ? "last" : "first";
    });
    this.#doneRequested.set(agency, outcome);
    // A failed record may be retried by a later AGENCY_DONE (the store refuses it anyway).
    outcome.catch(() => this.#doneRequested.delete(agency));
    return outcome;
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

  /** Adds winners of a batch just made durable to the draw's result. */
  #noteWinners(winners: [number, string][]): void {
    for (const [agency, document] of winners) {
      const documents = this.#winners.get(agency);
      if (documents) documents.push(document);
      else this.#winners.set(agency, [document]);
    }
  }

  async #computeWinners(): Promise<WinnersByAgency> {
    if (!this.#storeHadBets) {
      // Every bet stored went through #accept, which noted the winners as their batch was
      // committed (in the order of the file): nothing to read back.
      await this.#store.flushed();
      return this.#winners;
    }
    // Bets from before a restart: read the whole file back, packed (only a winner's
    // document is ever made into a string).
    const byAgency = new Map<number, string[]>();
    for await (const chunk of this.#store.loadPacked()) {
      const { numbers, agencies, count } = chunk;
      for (let i = 0; i < count; i++) {
        if (numbers[i] !== LOTTERY_WINNER_NUMBER) continue;
        const documents = byAgency.get(agencies[i]);
        if (documents) documents.push(packedDocument(chunk, i));
        else byAgency.set(agencies[i], [packedDocument(chunk, i)]);
      }
    }
    return byAgency;
  }
}

/** What {@linkcode Lottery} hands to the store for an accepted batch. */
interface AcceptedBatch {
  /** Agency and document of each winning bet. */
  winners: [number, string][];
  /** Stores the batch under its key; resolves once durable. */
  write(key: { agency: number; batchId: number }): Promise<void>;
}
