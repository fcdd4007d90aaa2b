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
  LOTTERY_WINNER_NUMBER,
  type SubmitOutcome,
  type SubmittedBatch,
  unpackBet,
  validateBet,
  type ValidateBetOptions,
  validCsvRows,
  type WinnersByAgency,
} from "../mod.ts";
import { copyFrom, newClient, type PgClient, type PgConnectionOptions } from "./_pg.ts";
import { Connection, DatabaseUnavailable, reconnectDelayMs } from "./connection.ts";
import { DONE_CHANNEL, ensureSchema, type SchemaState } from "./schema.ts";

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
const DONE_SQL = "WITH d AS (INSERT INTO agencies_done (agency) VALUES ($1) " +
  "ON CONFLICT DO NOTHING RETURNING agency) SELECT pg_notify($2, agency::text) FROM d";
const DRAW_SQL = "INSERT INTO draw (id, replica) SELECT 1, $1 WHERE (SELECT count(*) " +
  "FROM agencies_done WHERE agency BETWEEN 1 AND $2) = $2 ON CONFLICT DO NOTHING RETURNING id";
const WINNERS_SQL =
  `SELECT document FROM bets WHERE agency = $1 AND number = ${LOTTERY_WINNER_NUMBER}`;

/** A key for an agency's batch id in a map. */
function keyOf(agency: number, batchId: number): number {
  return agency * 4294967296 + batchId;
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
export class PostgresLottery implements Lottery {
  #agencies: number;
  #replica: string;
  #rules: ValidateBetOptions;
  #onEvent: (event: PostgresEvent) => void;
  #writer: Connection;
  #control: Connection;
  #connection: PgConnectionOptions;
  /** Last batch id accepted by this replica, by agency, when known. */
  #accepted: Uint32Array;
  /** Whether `#accepted` of an agency is read from the database (since the last failure). */
  #known: Uint8Array;
  /** A read of an agency's state in progress: its submissions wait for it. */
  #refreshing: (Promise<void> | undefined)[];
  /** The outcome of the last batch of an agency submitted here. */
  #tail: (Promise<unknown> | undefined)[];
  /** Batches waiting for the next flush. */
  #queue: Claim[] = [];
  #flushing: Promise<void> | undefined;
  /** Agencies done, as last counted in the database. */
  #done = new Set<number>();
  #doneRequested = new Map<number, Promise<DoneOutcome>>();
  #everyDone = Promise.withResolvers<void>();
  #draw: Promise<WinnersByAgency> | undefined;
  #drewHere: boolean | undefined;
  #listening: Promise<void> | undefined;
  #listener: PgClient | undefined;
  #closed = false;

  private constructor(options: PostgresLotteryOptions, connection: PgConnectionOptions) {
    this.#agencies = options.agencies;
    this.#replica = options.replica;
    this.#rules = { agencies: options.agencies, today: options.today };
    this.#onEvent = options.onEvent ?? (() => {});
    this.#connection = connection;
    const events = (name: "writer" | "control") => ({
      lost: (reason: string) => this.#onEvent({ kind: "lost", connection: name, reason }),
      reconnected: (attempts: number) =>
        this.#onEvent({ kind: "reconnected", connection: name, attempts }),
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
    this.#everyDone.promise.catch(() => {});
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
      await lottery.#startListening();
      await lottery.#writer.client();
    } catch (error) {
      await lottery.close();
      throw error;
    }
    onEvent({ kind: "connected", attempts: 1, schema, agenciesDone: lottery.#done.size });
    return lottery;
  }

  /** How many agencies take part. */
  get agencies(): number {
    return this.#agencies;
  }

  /** How many distinct agencies are done, as last counted in the database. */
  get doneCount(): number {
    return this.#done.size;
  }

  /** Whether every agency is done: the draw may run. */
  get allDone(): boolean {
    return this.#done.size === this.#agencies;
  }

  /** Resolves once every agency is done, whichever replica took the last DONE. */
  get allDoneAnywhere(): Promise<void> {
    return this.#everyDone.promise;
  }

  /** After {@linkcode draw} resolved: whether this replica's insert claimed the draw. */
  get drewHere(): boolean | undefined {
    return this.#drewHere;
  }

  /** Whether `agency` is a valid agency number for this lottery. */
  isAgency(agency: number): boolean {
    return Number.isInteger(agency) && agency >= 1 && agency <= this.#agencies;
  }

  /** Whether `agency` is done (counted in the database, or its DONE is being recorded here). */
  isDone(agency: number): boolean {
    return this.#done.has(agency) || this.#doneRequested.has(agency);
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
    const previous = this.#doneRequested.get(agency);
    if (previous !== undefined) return previous.then(() => "repeated");
    const outcome = this.#recordDone(agency);
    this.#doneRequested.set(agency, outcome);
    outcome.catch(() => this.#doneRequested.delete(agency));
    return outcome;
  }

  /**
   * Claims the draw (one insert: the replica whose insert made the row ran it)
   * and reads every agency's winners. Later calls return the same result; a
   * failed one is tried again by the next call.
   */
  draw(): Promise<WinnersByAgency> {
    if (this.#draw !== undefined) return this.#draw;
    const draw = this.#runDraw();
    this.#draw = draw;
    draw.catch(() => {
      if (this.#draw === draw) this.#draw = undefined;
    });
    return draw;
  }

  /** Resolves with the documents of `agency`'s winners once every agency is done. */
  async winners(agency: number): Promise<readonly string[]> {
    await this.#everyDone.promise;
    const byAgency = await this.draw();
    return byAgency.get(agency) ?? [];
  }

  /** Waits for the flush in progress and every queued batch, then closes the connections. */
  async close(): Promise<void> {
    while (this.#flushing !== undefined) await this.#flushing;
    this.#closed = true;
    this.#everyDone.reject(new DatabaseUnavailable("closed"));
    const listener = this.#listener;
    this.#listener = undefined;
    await Promise.all([
      this.#writer.close(),
      this.#control.close(),
      listener?.end().catch(() => {}),
    ]);
    await this.#listening?.catch(() => {});
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
  #afterRefresh(claim: Omit<Claim, "resolve">): Promise<SubmitOutcome> {
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

  #enqueue(claim: Omit<Claim, "resolve">): Promise<SubmitOutcome> {
    const { agency, batchId } = claim;
    if (batchId > this.#accepted[agency]) this.#accepted[agency] = batchId;
    const outcome = new Promise<SubmitOutcome>((resolve) => {
      this.#queue.push({ ...claim, resolve });
    });
    this.#tail[agency] = outcome;
    this.#kick();
    return outcome;
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
      this.#forgetAgencies();
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

  /** After a failure: every agency's last batch id is read again before its next batch. */
  #forgetAgencies(): void {
    this.#known.fill(0);
  }

  // --- done, the barrier, the draw ---

  async #recordDone(agency: number): Promise<DoneOutcome> {
    // Every batch this replica took for the agency settles first (the session waited for its acks).
    await this.#tail[agency]?.catch(() => {});
    const client = await this.#control.client();
    let first: boolean;
    try {
      const result = await client.query(DONE_SQL, [agency, DONE_CHANNEL]);
      first = result.rows.length === 1;
      await this.#countDone(client);
    } catch (error) {
      this.#control.drop(error);
      throw error;
    }
    this.#done.add(agency);
    if (!first) return "repeated";
    return this.allDone ? "last" : "first";
  }

  /** Reads the agencies done; once every one is, resolves the barrier. */
  async #countDone(client: PgClient): Promise<void> {
    const result = await client.query<{ agency: number }>("SELECT agency FROM agencies_done");
    for (const row of result.rows) {
      if (this.isAgency(row.agency)) this.#done.add(row.agency);
    }
    if (this.#done.size === this.#agencies) this.#everyDone.resolve();
  }

  /**
   * LISTEN first, then count, then count again on every notification: a DONE
   * committed between the two is never missed. Resolves once listening; the
   * connection is made again (with a backoff) whenever it is lost.
   */
  #startListening(): Promise<void> {
    const ready = Promise.withResolvers<void>();
    this.#listening = this.#listen(ready);
    return ready.promise;
  }

  async #listen(ready: PromiseWithResolvers<void>): Promise<void> {
    let failures = 0;
    let wasLost = false;
    while (!this.#closed) {
      const client = newClient(this.#connection);
      const lost = Promise.withResolvers<unknown>();
      client.on("error", (error) => lost.resolve(error));
      client.on("end", () => lost.resolve(new Error("connection ended")));
      let counting = Promise.resolve();
      try {
        await client.connect();
        await client.query(`LISTEN ${DONE_CHANNEL}`);
        client.on("notification", () => {
          counting = counting.then(() => this.#countDone(client)).catch((error) =>
            lost.resolve(error)
          );
        });
        await this.#countDone(client);
        this.#listener = client;
        if (wasLost) {
          this.#onEvent({ kind: "reconnected", connection: "listener", attempts: failures });
        }
        failures = 0;
        wasLost = false;
        ready.resolve();
        const error = await lost.promise;
        if (this.#closed) return;
        wasLost = true;
        this.#onEvent({ kind: "lost", connection: "listener", reason: describeError(error) });
      } catch (error) {
        if (this.#closed) return;
        failures++;
        if (!wasLost) {
          wasLost = true;
          this.#onEvent({ kind: "lost", connection: "listener", reason: describeError(error) });
        }
      } finally {
        if (this.#listener === client) this.#listener = undefined;
        client.end().catch(() => {});
      }
      await new Promise((resolve) => setTimeout(resolve, reconnectDelayMs(Math.max(failures, 1))));
    }
  }

  async #runDraw(): Promise<WinnersByAgency> {
    const client = await this.#control.client();
    try {
      const claimed = await client.query(DRAW_SQL, [this.#replica, this.#agencies]);
      if (claimed.rows.length === 1) {
        this.#drewHere = true;
      } else {
        const found = await client.query("SELECT replica FROM draw");
        if (found.rows.length === 0) {
          throw new Error("the draw cannot run: not every agency is done");
        }
        this.#drewHere ??= false;
      }
      const byAgency = new Map<number, string[]>();
      for (let agency = 1; agency <= this.#agencies; agency++) {
        const result = await client.query<{ document: string }>(WINNERS_SQL, [agency]);
        if (result.rows.length > 0) byAgency.set(agency, result.rows.map((row) => row.document));
      }
      return byAgency;
    } catch (error) {
      this.#control.drop(error);
      throw error;
    }
  }
}

/** `url` with `password` in it (when given), percent-encoded. */
export function withPassword(url: string, password: string | undefined): string {
  if (password === undefined) return url;
  const parsed = new URL(url);
  parsed.password = encodeURIComponent(password);
  return parsed.toString();
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
function storageFailed(error: unknown, invalid?: string): SubmitOutcome {
  return {
    kind: "storageFailed",
    reason: `Storage failed: ${describeError(error)}`,
    resent: false,
    invalid,
  };
}
