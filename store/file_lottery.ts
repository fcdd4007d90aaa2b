/**
 * {@linkcode Lottery} over the CSV file and its journal ({@linkcode BetStore}):
 * the sequence of each agency's batches (so a resent batch is never stored
 * twice), which agencies are done, the draw barrier, and each agency's
 * winners. It resumes from what the store recovered after a restart.
 *
 * @module
 */

import { describeError } from "../util/mod.ts";
import { LOTTERY_WINNER_NUMBER, validateBet, type ValidateBetOptions } from "./bet.ts";
import { validCsvRows } from "./csv/mod.ts";
import {
  BatchSequenceError,
  type DoneOutcome,
  type Lottery,
  type SequenceViolation,
  type SubmitOutcome,
  type SubmittedBatch,
  type WinnersByAgency,
} from "./lottery.ts";
import { packedDocument, unpackBet } from "./packed_bets.ts";
import type { BatchKey, BetStore } from "./store.ts";
import { AgencyRoll } from "./agency_roll.ts";

/** What a {@linkcode FileLottery} needs. */
export interface FileLotteryOptions {
  /** Where bets are stored and read back for the draw. */
  store: BetStore;
  /** How many distinct agencies must be done before the draw. */
  agencies: number;
  /** Today, for birthdate validation. @default new Date() */
  today?: Date;
}

/**
 * Where a batch id stands in its agency's sequence (see {@linkcode FileLottery.batchStatus}):
 * `next`, the one expected (last accepted + 1), is stored; `duplicate`, already accepted (a
 * resend after a reconnect), is acknowledged, not stored; the rest are violations.
 */
export type BatchStatus = "next" | "duplicate" | SequenceViolation;

const STORED: SubmitOutcome = Object.freeze({ kind: "stored" });
const DUPLICATE: SubmitOutcome = Object.freeze({ kind: "duplicate" });

/**
 * The central lottery on one machine's files: validates and stores bets,
 * counts the agencies that are done, and runs the draw exactly once when the
 * last one is.
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
export class FileLottery extends AgencyRoll implements Lottery {
  #store: BetStore;
  #agencies: number;
  #rules: ValidateBetOptions;
  /** Last batch id accepted, by agency (index 0 unused). */
  #accepted: Uint32Array;
  /** Last batch id durable, by agency. */
  #durable: Uint32Array;
  /** Durability of the last batch accepted, by agency, while it is pending. */
  #pending: (Promise<void> | undefined)[];
  /** Ids of rejected batches, by agency (rare). */
  #rejected = new Map<number, Set<number>>();
  /** Agencies whose "done" is durable. */
  #done: Set<number>;
  /** Agencies that said they are done: the promise of that being durable. */
  #doneRequested = new Map<number, Promise<DoneOutcome>>();
  #drawn = Promise.withResolvers<WinnersByAgency>();
  #drawStarted = false;
  /** Winners of the batches stored by this lottery, noted as each is committed. */
  #winners = new Map<number, string[]>();
  /** Whether the store held bets before this lottery: then the draw reads them all back. */
  #storeHadBets: boolean;

  /** Creates a lottery over an open store, resuming from what the store recovered. */
  constructor(options: FileLotteryOptions) {
    const done = new Set<number>();
    super(options.agencies, done);
    this.#done = done;
    this.#store = options.store;
    this.#agencies = options.agencies;
    this.#rules = { agencies: options.agencies, today: options.today };
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
   * {@inheritDoc Lottery.submit}
   *
   * The next batch is checked on its bytes and made into store rows in the same
   * pass (only a bad bet is ever made into an object, to name it); the rows are
   * handed to the store before this returns.
   */
  submit(batch: SubmittedBatch): Promise<SubmitOutcome> {
    const { agency, batchId } = batch;
    switch (this.batchStatus(agency, batchId)) {
      case "next":
        return this.#storeNext(batch);
      case "duplicate":
        return this.#acknowledgeDuplicate(agency, batchId);
      case "after_done":
        throw new BatchSequenceError(
          `Bets after agency done: batch ${batchId} of agency ${agency}`,
          { violation: "after_done" },
        );
      case "gap":
        throw new BatchSequenceError(
          `Batch out of order: ${batchId} of agency ${agency} (expected ${
            this.nextBatchId(agency)
          })`,
          { violation: "gap" },
        );
      case "invalid":
        throw new BatchSequenceError(`Invalid batch id: ${batchId} (batch ids start at 1)`, {
          violation: "invalid",
        });
    }
  }

  /** Validates the next batch and stores its rows, or uses its id up as rejected. */
  #storeNext(batch: SubmittedBatch): Promise<SubmitOutcome> {
    const { agency, batchId, bets } = batch;
    const { rows, invalid } = validCsvRows(bets, this.#rules);
    if (rows === undefined) {
      const reason = `Bet ${invalid + 1} of ${bets.count}: ${
        validateBet(unpackBet(bets, invalid), this.#rules)
      }`;
      return this.#reject(agency, batchId).then(
        (): SubmitOutcome => ({ kind: "rejected", reason, resent: false }),
        (error: unknown) => storageFailed(error, reason),
      );
    }
    const count = bets.count;
    const winners: [number, string][] = [];
    for (let i = 0; i < count; i++) {
      if (bets.numbers[i] === LOTTERY_WINNER_NUMBER) {
        winners.push([bets.agencies[i], packedDocument(bets, i)]);
      }
    }
    // The rows are copied by the store before this returns: `bets` may be reused at once.
    return this.#accept(agency, batchId, {
      winners,
      write: (key) => this.#store.storeBatchRows(rows, { ...key, count }),
    }).then(() => STORED, (error: unknown) => storageFailed(error));
  }

  /**
   * Accepts the next batch of `agency` as rejected (its bets invalid): no row
   * is stored, but its id is used up, durably, so the agency's next batch is
   * not a gap after a restart. Resolves once that is durable.
   */
  #reject(agency: number, batchId: number): Promise<void> {
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

  /** A resent batch: answered once its first copy is durable, never stored twice. */
  async #acknowledgeDuplicate(agency: number, batchId: number): Promise<SubmitOutcome> {
    if (!(await this.#whenDurable(agency, batchId))) {
      const reason = `Storage failed: batch ${batchId} of agency ${agency} was not stored`;
      return { kind: "storageFailed", reason, resent: true };
    }
    if (this.#rejected.get(agency)?.has(batchId)) {
      const reason = `Batch ${batchId} of agency ${agency} was rejected before (invalid bets); ` +
        "batch ids are never reused";
      return { kind: "rejected", reason, resent: true };
    }
    return DUPLICATE;
  }

  /**
   * Resolves once an accepted batch id of `agency` is durable: `true`, or
   * `false` when the store failed to make it so.
   */
  async #whenDurable(agency: number, batchId: number): Promise<boolean> {
    if (batchId <= this.#durable[agency]) return true;
    try {
      await this.#pending[agency];
    } catch {
      // Reported as false below.
    }
    return batchId <= this.#durable[agency];
  }

  /** {@inheritDoc Lottery.done} */
  done(agency: number): Promise<DoneOutcome> {
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
   * Runs the draw once: streams every stored bet through the winning number and
   * groups the winners' documents by agency. Later calls return the same result.
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

/** What {@linkcode FileLottery} hands to the store for an accepted batch. */
interface AcceptedBatch {
  /** Agency and document of each winning bet. */
  winners: [number, string][];
  /** Stores the batch under its key; resolves once durable. */
  write(key: BatchKey): Promise<void>;
}

/** The outcome of a first copy the store failed to make durable. */
function storageFailed(error: unknown, invalid?: string): SubmitOutcome {
  const reason = `Storage failed: ${describeError(error)}`;
  return { kind: "storageFailed", reason, resent: false, invalid };
}
