/**
 * The group-commit writer of `PostgresLottery`'s batches: while a
 * flush is in progress, batches queue up; the next flush claims every
 * waiting batch's id and copies only the claimed batches' rows in one
 * transaction, then answers each. Private to store/postgres/.
 *
 * @module
 */

import { describeError } from "../../util/mod.ts";
import type { SubmitOutcome } from "../mod.ts";
import { copyFrom, type PgClient } from "./_pg.ts";
import type { Connection } from "./connection.ts";

/** A batch validated and waiting for the next flush. */
interface Claim {
  agency: number;
  batchId: number;
  /** Bets in the batch. */
  count: number;
  /** Its store rows (CSV), or undefined when a bet is invalid. */
  rows: Uint8Array | undefined;
  /** Why it is invalid. */
  invalid: string | undefined;
  resolve(outcome: SubmitOutcome): void;
}

const STORED: SubmitOutcome = Object.freeze({ kind: "stored" });
const DUPLICATE: SubmitOutcome = Object.freeze({ kind: "duplicate" });

const CLAIM_SQL = "INSERT INTO batches (agency, batch_id, rows) " +
  "SELECT * FROM unnest($1::integer[], $2::integer[], $3::integer[]) " +
  "ON CONFLICT DO NOTHING RETURNING agency, batch_id";
const TAKEN_SQL = "SELECT b.agency, b.batch_id, b.rows FROM batches b " +
  "JOIN unnest($1::integer[], $2::integer[]) AS u(agency, batch_id) " +
  "ON b.agency = u.agency AND b.batch_id = u.batch_id";
const COPY_SQL = "COPY bets (agency, first_name, last_name, document, birthdate, number) " +
  "FROM STDIN WITH (FORMAT csv)";

/** A key for an agency's batch id in a map. */
function keyOf(agency: number, batchId: number): number {
  return agency * 4294967296 + batchId;
}

/** A batch validated, before it is queued. */
export type PendingBatch = Omit<Claim, "resolve">;

/** The single writer of one replica's batches, over its writer connection. */
export class BatchWriter {
  #writer: Connection;
  #onFailure: () => void;
  /** Batches waiting for the next flush. */
  #queue: Claim[] = [];
  #flushing: Promise<void> | undefined;

  /** `onFailure` runs when a flush fails, before any batch of it is answered. */
  constructor(writer: Connection, onFailure: () => void) {
    this.#writer = writer;
    this.#onFailure = onFailure;
  }

  /** Queues `claim` for the next flush; resolves with its outcome once answered. */
  enqueue(claim: PendingBatch): Promise<SubmitOutcome> {
    const outcome = new Promise<SubmitOutcome>((resolve) => {
      this.#queue.push({ ...claim, resolve });
    });
    this.#kick();
    return outcome;
  }

  /** Waits for the flush in progress and every queued batch. */
  async settle(): Promise<void> {
    while (this.#flushing !== undefined) await this.#flushing;
  }

  #kick(): void {
    if (this.#flushing !== undefined || this.#queue.length === 0) return;
    const group = this.#queue;
    this.#queue = [];
    this.#flushing = this.#flush(group).finally(() => {
      this.#flushing = undefined;
      this.#kick();
    });
  }

  /**
   * One transaction for every waiting batch: claim their ids, copy the claimed
   * ones' rows, commit; then answer each. On a failure nothing of the group is
   * acknowledged (STORAGE), nor is anything queued behind it, and every
   * agency's state is read again from the database before its next batch.
   */
  async #flush(group: Claim[]): Promise<void> {
    // A resend of a batch in this same group is answered with its first copy's outcome.
    const first = new Map<number, Claim>();
    const unique: Claim[] = [];
    const resends: [Claim, Claim][] = [];
    for (const claim of group) {
      const key = keyOf(claim.agency, claim.batchId);
      const original = first.get(key);
      if (original === undefined) {
        first.set(key, claim);
        unique.push(claim);
      } else {
        resends.push([claim, original]);
      }
    }
    const outcomes = new Map<Claim, SubmitOutcome>();
    try {
      const client = await this.#writer.client();
      try {
        await this.#commitGroup(client, unique, outcomes);
      } catch (error) {
        this.#writer.drop(error);
        throw error;
      }
    } catch (error) {
      this.#onFailure();
      const failed = [...group, ...this.#queue];
      this.#queue = [];
      for (const claim of failed) claim.resolve(storageFailed(error, claim.invalid));
      return;
    }
    for (const claim of unique) claim.resolve(outcomes.get(claim)!);
    for (const [claim, original] of resends) {
      claim.resolve(asResent(outcomes.get(original)!, claim));
    }
  }

  async #commitGroup(
    client: PgClient,
    group: Claim[],
    outcomes: Map<Claim, SubmitOutcome>,
  ): Promise<void> {
    const agencies = group.map((claim) => claim.agency);
    const ids = group.map((claim) => claim.batchId);
    const counts = group.map((claim) => claim.rows === undefined ? 0 : claim.count);
    await client.query("BEGIN");
    try {
      const claimed = await client.query<{ agency: number; batch_id: number }>(CLAIM_SQL, [
        agencies,
        ids,
        counts,
      ]);
      const ours = new Set<number>();
      for (const row of claimed.rows) ours.add(keyOf(row.agency, row.batch_id));
      const copy: Uint8Array[] = [];
      const taken: Claim[] = [];
      for (const claim of group) {
        if (ours.has(keyOf(claim.agency, claim.batchId))) {
          if (claim.rows !== undefined) copy.push(claim.rows);
          outcomes.set(
            claim,
            claim.invalid === undefined
              ? STORED
              : { kind: "rejected", reason: claim.invalid, resent: false },
          );
        } else {
          taken.push(claim);
        }
      }
      if (copy.length > 0) await copyRows(client, copy);
      if (taken.length > 0) await this.#answerTaken(client, taken, outcomes);
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      throw error;
    }
  }

  /** Batches whose ids were claimed before (committed: the claim waited for them). */
  async #answerTaken(
    client: PgClient,
    taken: Claim[],
    outcomes: Map<Claim, SubmitOutcome>,
  ): Promise<void> {
    const result = await client.query<{ agency: number; batch_id: number; rows: number }>(
      TAKEN_SQL,
      [taken.map((claim) => claim.agency), taken.map((claim) => claim.batchId)],
    );
    const rowsOf = new Map<number, number>();
    for (const row of result.rows) rowsOf.set(keyOf(row.agency, row.batch_id), row.rows);
    for (const claim of taken) {
      const rows = rowsOf.get(keyOf(claim.agency, claim.batchId));
      outcomes.set(
        claim,
        rows === 0
          ? {
            kind: "rejected",
            reason: `Batch ${claim.batchId} of agency ${claim.agency} was rejected before ` +
              "(invalid bets); batch ids are never reused",
            resent: true,
          }
          : DUPLICATE,
      );
    }
  }
}

/** Writes `chunks` (store rows, CSV) to the bets table with one COPY. */
function copyRows(client: PgClient, chunks: Uint8Array[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const stream = copyFrom(client, COPY_SQL);
    stream.on("error", (error) => reject(error));
    stream.on("finish", () => resolve());
    for (const chunk of chunks) stream.write(chunk);
    stream.end();
  });
}

/** A resend's outcome, from its first copy's in the same group. */
function asResent(outcome: SubmitOutcome, claim: Claim): SubmitOutcome {
  switch (outcome.kind) {
    case "stored":
    case "duplicate":
      return DUPLICATE;
    case "rejected":
      return {
        kind: "rejected",
        reason: `Batch ${claim.batchId} of agency ${claim.agency} was rejected before ` +
          "(invalid bets); batch ids are never reused",
        resent: true,
      };
    case "storageFailed":
      return { ...outcome, resent: true };
  }
}

/** The outcome of a batch the database did not take. */
export function storageFailed(error: unknown, invalid?: string): SubmitOutcome {
  return {
    kind: "storageFailed",
    reason: `Storage failed: ${describeError(error)}`,
    resent: false,
    invalid,
  };
}
