/**
 * The agencies done, the draw barrier and the draw of
 * `PostgresLottery`, over LISTEN/NOTIFY: a DONE is one insert that
 * notifies every replica (one LISTEN connection a replica: no polling), and
 * the draw is claimed by one insert, so it is logged once across every
 * replica. Private to store/postgres/.
 *
 * @module
 */

import { describeError } from "../../util/mod.ts";
import { type DoneOutcome, LOTTERY_WINNER_NUMBER, type WinnersByAgency } from "../mod.ts";
import { newClient, type PgClient, type PgConnectionOptions } from "./_pg.ts";
import { type Connection, DatabaseUnavailable, reconnectDelayMs } from "./connection.ts";
import type { PostgresEvent } from "./lottery.ts";
import { DONE_CHANNEL } from "./schema.ts";

const DONE_SQL = "WITH d AS (INSERT INTO agencies_done (agency) VALUES ($1) " +
  "ON CONFLICT DO NOTHING RETURNING agency) SELECT pg_notify($2, agency::text) FROM d";
const DRAW_SQL = "INSERT INTO draw (id, replica) SELECT 1, $1 WHERE (SELECT count(*) " +
  "FROM agencies_done WHERE agency BETWEEN 1 AND $2) = $2 ON CONFLICT DO NOTHING RETURNING id";
const WINNERS_SQL =
  `SELECT document FROM bets WHERE agency = $1 AND number = ${LOTTERY_WINNER_NUMBER}`;

/** What a {@linkcode DoneBarrier} needs. */
export interface DoneBarrierOptions {
  /** How many distinct agencies must be done before the draw. */
  agencies: number;
  /** This replica's name, in the draw's row. */
  replica: string;
  /** The lottery's set of agencies done, which the barrier fills. */
  done: Set<number>;
  /** The control connection: DONEs, counts and the draw. */
  control: Connection;
  /** What the LISTEN connection is made with. */
  connection: PgConnectionOptions;
  /** Where events go (logging). */
  onEvent: (event: PostgresEvent) => void;
  /** Whether `agency` is a valid agency number. */
  isAgency(agency: number): boolean;
  /** The outcome of the last batch of `agency` submitted here, if any. */
  tailOf(agency: number): Promise<unknown> | undefined;
}

/** The DONEs, the barrier and the draw of one replica. */
export class DoneBarrier {
  #agencies: number;
  #replica: string;
  #control: Connection;
  #connection: PgConnectionOptions;
  #onEvent: (event: PostgresEvent) => void;
  #isAgency: (agency: number) => boolean;
  #tailOf: (agency: number) => Promise<unknown> | undefined;
  /** Agencies done, as last counted in the database. */
  #done: Set<number>;
  #doneRequested = new Map<number, Promise<DoneOutcome>>();
  #everyDone = Promise.withResolvers<void>();
  #draw: Promise<WinnersByAgency> | undefined;
  #drewHere: boolean | undefined;
  #listening: Promise<void> | undefined;
  #listener: PgClient | undefined;
  #closed = false;

  /** A barrier not listening yet (see {@linkcode startListening}). */
  constructor(options: DoneBarrierOptions) {
    this.#agencies = options.agencies;
    this.#replica = options.replica;
    this.#done = options.done;
    this.#control = options.control;
    this.#connection = options.connection;
    this.#onEvent = options.onEvent;
    this.#isAgency = options.isAgency;
    this.#tailOf = options.tailOf;
    this.#everyDone.promise.catch(() => {});
  }

  /** Resolves once every agency is done, whichever replica took the last DONE. */
  get everyDone(): Promise<void> {
    return this.#everyDone.promise;
  }

  /** After {@linkcode draw} resolved: whether this replica's insert claimed the draw. */
  get drewHere(): boolean | undefined {
    return this.#drewHere;
  }

  /** Whether `agency` is done (counted in the database, or its DONE is being recorded here). */
  isDone(agency: number): boolean {
    return this.#done.has(agency) || this.#doneRequested.has(agency);
  }

  /** Records `agency`'s DONE once its batches here settle. */
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

  /** Stops listening: whoever waits for the barrier is told the lottery closed. */
  stop(): void {
    this.#closed = true;
    this.#everyDone.reject(new DatabaseUnavailable("closed"));
  }

  /** Ends the LISTEN connection, if one is open. */
  endListener(): Promise<void> | undefined {
    const listener = this.#listener;
    this.#listener = undefined;
    return listener?.end().catch(() => {});
  }

  /** Resolves once the listening loop has ended. */
  async stopped(): Promise<void> {
    await this.#listening?.catch(() => {});
  }

  async #recordDone(agency: number): Promise<DoneOutcome> {
    // Every batch this replica took for the agency settles first (the session waited for its acks).
    await this.#tailOf(agency)?.catch(() => {});
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
    return this.#done.size === this.#agencies ? "last" : "first";
  }

  /** Reads the agencies done; once every one is, resolves the barrier. */
  async #countDone(client: PgClient): Promise<void> {
    const result = await client.query<{ agency: number }>("SELECT agency FROM agencies_done");
    for (const row of result.rows) {
      if (this.#isAgency(row.agency)) this.#done.add(row.agency);
    }
    if (this.#done.size === this.#agencies) this.#everyDone.resolve();
  }

  /**
   * LISTEN first, then count, then count again on every notification: a DONE
   * committed between the two is never missed. Resolves once listening; the
   * connection is made again (with a backoff) whenever it is lost.
   */
  startListening(): Promise<void> {
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
