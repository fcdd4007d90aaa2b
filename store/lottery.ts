/**
 * The lottery as a session sees it: one call a batch ({@linkcode Lottery.submit}),
 * one an agency's end ({@linkcode Lottery.done}), the draw and each agency's
 * winners, and the few facts a server checks before it asks. This is the seam
 * between the connections and the storage: {@linkcode FileLottery} (the CSV
 * file and its journal) is the first implementation; a shared database may be
 * another.
 *
 * @module
 */

import type { PackedBets } from "./packed_bets.ts";

/** Winners' documents by agency. */
export type WinnersByAgency = ReadonlyMap<number, readonly string[]>;

/** A batch of one agency, as it came off the wire (protocol's PackedBetBatch has this shape). */
export interface SubmittedBatch {
  /** The agency that sent it. */
  readonly agency: number;
  /** Its place in the agency's sequence: 1, 2, 3... */
  readonly batchId: number;
  /** Its bets; possibly a view of a read buffer that the next read reuses. */
  readonly bets: PackedBets;
}

/**
 * What became of a submitted batch, once that is durable:
 * - `stored`: its bets are stored (written, fsync'd, journaled);
 * - `duplicate`: a resend of a batch already stored, acknowledged without storing it again;
 * - `rejected`: a bet is invalid (`reason` names it), or, `resent`, the batch was rejected
 *   before: no bet of it is stored, its id is used up;
 * - `storageFailed`: the storage failed to make it durable (`reason`); `resent` when it was
 *   the first copy of a resent batch that failed.
 */
export type SubmitOutcome =
  | { readonly kind: "stored" }
  | { readonly kind: "duplicate" }
  | { readonly kind: "rejected"; readonly reason: string; readonly resent: boolean }
  | {
    readonly kind: "storageFailed";
    readonly reason: string;
    readonly resent: boolean;
    /** Why the batch was being rejected when the storage failed, if it was. */
    readonly invalid?: string;
  };

/** Outcome of {@linkcode Lottery.done}: the agency's first "done", a repeat, or the last agency's. */
export type DoneOutcome = "first" | "repeated" | "last";

/**
 * Why a batch id breaks its agency's sequence:
 * - `gap`: past the next one expected: some batch is missing;
 * - `after_done`: a new batch of an agency that said it is done;
 * - `invalid`: 0 (ids start at 1).
 */
export type SequenceViolation = "gap" | "after_done" | "invalid";

/**
 * A batch id out of its agency's sequence: thrown by {@linkcode Lottery.submit}.
 * A `RangeError`: the id is bad input.
 */
export class BatchSequenceError extends RangeError {
  /** What is wrong with the id. */
  readonly violation: SequenceViolation;

  /** Creates the error; `message` names the batch and the agency. */
  constructor(message: string, options: { violation: SequenceViolation; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.name = "BatchSequenceError";
    this.violation = options.violation;
  }
}

/**
 * The central lottery: stores each agency's batches once and in order, counts
 * the agencies that are done, runs the draw once every one is, and tells each
 * agency its winners.
 */
export interface Lottery {
  /** How many agencies take part. */
  readonly agencies: number;
  /** How many distinct agencies are done (durably). */
  readonly doneCount: number;
  /** Whether every agency is done (durably): the draw may run. */
  readonly allDone: boolean;

  /** Whether `agency` is a valid agency number for this lottery. */
  isAgency(agency: number): boolean;

  /** Whether `agency` has said it is done (durable or being made durable). */
  isDone(agency: number): boolean;

  /**
   * Validates and stores the next batch of `batch.agency` (or acknowledges a
   * resend of one already taken); resolves once the outcome is durable. The
   * bets are consumed before this returns: the caller may reuse their bytes at
   * once. A batch is taken in order of submission, before it is durable, so a
   * caller may submit the next one without waiting.
   *
   * @throws {BatchSequenceError} (synchronously) when the id breaks the sequence.
   */
  submit(batch: SubmittedBatch): Promise<SubmitOutcome>;

  /**
   * Records, durably, that `agency` is done: `"last"` when this completes the
   * set of agencies (the caller then runs {@linkcode draw}), `"repeated"` when
   * it was already done (or being made so), `"first"` otherwise. Rejects with
   * the storage's error when the record could not be made durable (a later
   * call may try again).
   */
  done(agency: number): Promise<DoneOutcome>;

  /** Runs the draw once; later calls return the same result. */
  draw(): Promise<WinnersByAgency>;

  /** Resolves with the documents of `agency`'s winners once the draw is done. */
  winners(agency: number): Promise<readonly string[]>;

  /**
   * Only a lottery several servers share (PostgresLottery): resolves once every agency
   * is done, whichever server took the last DONE; the server then runs {@linkcode draw}.
   */
  readonly allDoneAnywhere?: Promise<void>;

  /**
   * Only a lottery several servers share: once {@linkcode draw} resolved, whether this
   * server's draw is the one that ran (and so logs `sorteo`); `false` on the others.
   */
  readonly drewHere?: boolean;
}
