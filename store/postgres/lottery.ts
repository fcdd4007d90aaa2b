/**
 * {@linkcode PostgresLottery}: the {@linkcode Lottery} on a PostgreSQL
 * database that any number of server replicas share. Every batch is stored
 * exactly once and is durable before its ack (group commit inside the
 * replica: one transaction claims the waiting batches' ids and copies only
 * the claimed batches' rows), the agencies done are counted in the database
 * (one LISTEN connection a replica: no polling), and the draw is claimed by
 * one insert, so it is logged once across every replica. See
 * docs/replicas.md.
 *
 * @module
 */

import { describeError } from "../../util/mod.ts";
import {
  BatchSequenceError,
  type DoneOutcome,
  type Lottery,
  type SubmitOutcome,
  type SubmittedBatch,
  unpackBet,
  validateBet,
  type ValidateBetOptions,
  validCsvRows,
  type WinnersByAgency,
} from "../mod.ts";
import { AgencyRoll } from "../agency_roll.ts";
import { newClient, type PgConnectionOptions } from "./_pg.ts";
import { Connection, DatabaseUnavailable, reconnectDelayMs } from "./connection.ts";
import { ensureSchema, type SchemaState } from "./schema.ts";
import { DoneBarrier } from "./_done.ts";
import { BatchWriter, type PendingBatch, storageFailed } from "./_writer.ts";

/** A transaction left idle this long is ended by the database (a frozen replica's claims). */
export const IDLE_IN_TRANSACTION_TIMEOUT_MS = 5000;
/** One connection attempt is given up after this long. */
const CONNECT_TIMEOUT_MS = 2000;
/** While the database is unreachable at start, a line at most this often. */
const UNREACHABLE_REPORT_EVERY_MS = 1000;

/** What the lottery reports, for the server's log. */
export type PostgresEvent =
  | { kind: "unreachable"; reason: string; attempt: number }
  | { kind: "connected"; attempts: number; schema: SchemaState; agenciesDone: number }
  | { kind: "lost"; connection: "writer" | "control" | "listener"; reason: string }
  | { kind: "reconnected"; connection: "writer" | "control" | "listener"; attempts: number };

/** What {@linkcode PostgresLottery.open} needs. */
export interface PostgresLotteryOptions {
  /** `postgres://user[:password]@host[:port]/database`. */
  url: string;
  /** The password, when it does not come with the URL (a Docker secret). */
  password?: string;
  /** How many distinct agencies must be done before the draw (the same on every replica). */
  agencies: number;
  /** This replica's name: in the draw's row, and in the connections' application_name. */
  replica: string;
  /** How long to keep trying to reach the database at start, in milliseconds. */
  connectDeadlineMs: number;
  /** Where events go (logging). */
  onEvent?: (event: PostgresEvent) => void;
  /** Today, for birthdate validation. @default new Date() */
  today?: Date;
  /** Aborting it gives up the start. */
  signal?: AbortSignal;
}

/**
 * The lottery on a shared PostgreSQL database. A replica keeps, per agency,
 * the last batch id it accepted; an agency it has not served yet (or since
 * the database was lost) is read from the database first, so a replica that
 * takes an agency over continues its sequence. The database decides what is
 * stored: a batch whose id is already claimed (by this replica or another,
 * committed or being committed) is a duplicate, acknowledged once the first
 * copy is durable.
 */
export class PostgresLottery extends AgencyRoll implements Lottery {
  #rules: ValidateBetOptions;
  #writer: Connection;
  #control: Connection;
  /** Last batch id accepted by this replica, by agency, when known. */
  #accepted: Uint32Array;
  /** Whether `#accepted` of an agency is read from the database (since the last failure). */
  #known: Uint8Array;
  /** A read of an agency's state in progress: its submissions wait for it. */
  #refreshing: (Promise<void> | undefined)[];
  /** The outcome of the last batch of an agency submitted here. */
  #tail: (Promise<unknown> | undefined)[];
  /** Agencies done, as last counted in the database. */
  #done: Set<number>;
  #batches: BatchWriter;
  #barrier: DoneBarrier;

  private constructor(options: PostgresLotteryOptions, connection: PgConnectionOptions) {
    const done = new Set<number>();
    super(options.agencies, done);
    this.#done = done;
    this.#rules = { agencies: options.agencies, today: options.today };
    const onEvent = options.onEvent ?? (() => {});
    const events = (name: "writer" | "control") => ({
      lost: (reason: string) => onEvent({ kind: "lost", connection: name, reason }),
      reconnected: (attempts: number) =>
        onEvent({ kind: "reconnected", connection: name, attempts }),
    });
    this.#writer = new Connection(
      { ...connection, idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_TIMEOUT_MS },
      events("writer"),
    );
    this.#control = new Connection(connection, events("control"));
    this.#accepted = new Uint32Array(options.agencies + 1);
    this.#known = new Uint8Array(options.agencies + 1);
    this.#refreshing = new Array(options.agencies + 1);
    this.#tail = new Array(options.agencies + 1);
    this.#batches = new BatchWriter(this.#writer, () => this.#forgetAgencies());
    this.#barrier = new DoneBarrier({
      agencies: options.agencies,
      replica: options.replica,
      done,
      control: this.#control,
      connection,
      onEvent,
      isAgency: (agency) => this.isAgency(agency),
      tailOf: (agency) => this.#tail[agency],
    });
  }

  /**
   * Reaches the database (retrying until the deadline; an `unreachable` event
   * at most once a second meanwhile), creates the schema when missing, starts
   * listening for DONEs and counts the agencies done.
   *
   * @throws {DatabaseUnavailable} once the deadline has passed.
   */
  static async open(options: PostgresLotteryOptions): Promise<PostgresLottery> {
    const connection: PgConnectionOptions = {
      // The password goes inside the URL: npm:pg lets the URL's fields (a password left
      // out included) override the separate `password` option.
      connectionString: withPassword(options.url, options.password),
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      keepAlive: true,
      application_name: `tp0 ${options.replica}`.slice(0, 63),
    };
    const onEvent = options.onEvent ?? (() => {});
    const deadline = performance.now() + options.connectDeadlineMs;
    let lastReport = Number.NEGATIVE_INFINITY;
    let schema: SchemaState;
    for (let attempt = 1;; attempt++) {
      options.signal?.throwIfAborted();
      const client = newClient(connection);
      client.on("error", () => {});
      try {
        await client.connect();
        schema = await ensureSchema(client);
        await client.end();
        break;
      } catch (error) {
        await client.end().catch(() => {});
        const reason = describeError(error);
        if (error instanceof Error && /newer than this program/.test(error.message)) throw error;
        const now = performance.now();
        if (now >= deadline) throw new DatabaseUnavailable(reason, { cause: error });
        if (now - lastReport >= UNREACHABLE_REPORT_EVERY_MS) {
          lastReport = now;
          onEvent({ kind: "unreachable", reason, attempt });
        }
        await new Promise((resolve) => setTimeout(resolve, reconnectDelayMs(attempt)));
      }
    }
    const lottery = new PostgresLottery(options, connection);
    try {
      await lottery.#barrier.startListening();
      await lottery.#writer.client();
    } catch (error) {
      await lottery.close();
      throw error;
    }
    onEvent({ kind: "connected", attempts: 1, schema, agenciesDone: lottery.#done.size });
    return lottery;
  }

  /** Resolves once every agency is done, whichever replica took the last DONE. */
  get allDoneAnywhere(): Promise<void> {
    return this.#barrier.everyDone;
  }

  /** After {@linkcode draw} resolved: whether this replica's insert claimed the draw. */
  get drewHere(): boolean | undefined {
    return this.#barrier.drewHere;
  }

  /** Whether `agency` is done (counted in the database, or its DONE is being recorded here). */
  isDone(agency: number): boolean {
    return this.#barrier.isDone(agency);
  }

  /**
   * {@inheritDoc Lottery.submit}
   *
   * An agency this replica has no state for yet is read from the database
   * first; a sequence violation found then rejects the promise with the
   * {@linkcode BatchSequenceError} instead of throwing.
   */
  submit(batch: SubmittedBatch): Promise<SubmitOutcome> {
    const { agency, batchId, bets } = batch;
    if (batchId < 1) {
      throw new BatchSequenceError(`Invalid batch id: ${batchId} (batch ids start at 1)`, {
        violation: "invalid",
      });
    }
    // The bets are consumed now: the caller reuses their bytes.
    const { rows, invalid } = validCsvRows(bets, this.#rules);
    const reason = rows === undefined
      ? `Bet ${invalid + 1} of ${bets.count}: ${validateBet(unpackBet(bets, invalid), this.#rules)}`
      : undefined;
    const claim = { agency, batchId, count: bets.count, rows, invalid: reason };
    if (this.#known[agency] === 0 || this.#refreshing[agency] !== undefined) {
      return this.#afterRefresh(claim);
    }
    const violation = this.#violation(agency, batchId);
    if (violation !== undefined) {
      // Perhaps another replica moved the agency on meanwhile: ask the database first.
      this.#known[agency] = 0;
      return this.#afterRefresh(claim);
    }
    return this.#enqueue(claim);
  }

  /** {@inheritDoc Lottery.done} */
  done(agency: number): Promise<DoneOutcome> {
    return this.#barrier.done(agency);
  }

  /**
   * Claims the draw (one insert: the replica whose insert made the row ran it)
   * and reads every agency's winners. Later calls return the same result; a
   * failed one is tried again by the next call.
   */
  draw(): Promise<WinnersByAgency> {
    return this.#barrier.draw();
  }

  /** Resolves with the documents of `agency`'s winners once every agency is done. */
  async winners(agency: number): Promise<readonly string[]> {
    await this.#barrier.everyDone;
    const byAgency = await this.draw();
    return byAgency.get(agency) ?? [];
  }

  /** Waits for the flush in progress and every queued batch, then closes the connections. */
  async close(): Promise<void> {
    await this.#batches.settle();
    this.#barrier.stop();
    await Promise.all([
      this.#writer.close(),
      this.#control.close(),
      this.#barrier.endListener(),
    ]);
    await this.#barrier.stopped();
  }

  // --- batches ---

  #violation(agency: number, batchId: number): "gap" | "after_done" | undefined {
    const accepted = this.#accepted[agency];
    if (batchId <= accepted) return undefined; // a resend: the database decides
    if (batchId > accepted + 1) return "gap";
    if (this.isDone(agency)) return "after_done";
    return undefined;
  }

  /** Reads the agency's state (once, for every submission waiting), then decides. */
  #afterRefresh(claim: PendingBatch): Promise<SubmitOutcome> {
    const agency = claim.agency;
    this.#refreshing[agency] ??= this.#refresh(agency).finally(() => {
      this.#refreshing[agency] = undefined;
    });
    return this.#refreshing[agency].then(() => {
      const violation = this.#violation(agency, claim.batchId);
      if (violation === "gap") {
        throw new BatchSequenceError(
          `Batch out of order: ${claim.batchId} of agency ${agency} (expected ${
            this.#accepted[agency] + 1
          })`,
          { violation },
        );
      }
      if (violation === "after_done") {
        throw new BatchSequenceError(
          `Bets after agency done: batch ${claim.batchId} of agency ${agency}`,
          { violation },
        );
      }
      return this.#enqueue(claim);
    }, (error: unknown) => storageFailed(error, claim.invalid));
  }

  /** Reads the agency's last committed batch id and whether it is done, once its batches here settle. */
  async #refresh(agency: number): Promise<void> {
    await this.#tail[agency]?.catch(() => {});
    const client = await this.#control.client();
    try {
      const result = await client.query<{ last: number; done: boolean }>(
        "SELECT (SELECT coalesce(max(batch_id), 0) FROM batches WHERE agency = $1) AS last, " +
          "EXISTS (SELECT 1 FROM agencies_done WHERE agency = $1) AS done",
        [agency],
      );
      const row = result.rows[0];
      this.#accepted[agency] = Math.max(Number(row.last), 0);
      if (row.done) this.#done.add(agency);
      this.#known[agency] = 1;
    } catch (error) {
      this.#control.drop(error);
      throw error;
    }
  }

  #enqueue(claim: PendingBatch): Promise<SubmitOutcome> {
    const { agency, batchId } = claim;
    if (batchId > this.#accepted[agency]) this.#accepted[agency] = batchId;
    const outcome = this.#batches.enqueue(claim);
    this.#tail[agency] = outcome;
    return outcome;
  }

  /** After a failure: every agency's last batch id is read again before its next batch. */
  #forgetAgencies(): void {
    this.#known.fill(0);
  }
}

/** `url` with `password` in it (when given), percent-encoded. */
export function withPassword(url: string, password: string | undefined): string {
  if (password === undefined) return url;
  const parsed = new URL(url);
  parsed.password = encodeURIComponent(password);
  return parsed.toString();
}
