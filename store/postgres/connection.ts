/**
 * {@linkcode Connection}: one PostgreSQL connection of a replica, made on
 * demand and made again after it is lost, with a backoff between attempts
 * (while it backs off, a caller fails at once instead of waiting).
 *
 * @module
 */

import { describeError } from "../../util/mod.ts";
import { newClient, type PgClient, type PgConnectionOptions } from "./_pg.ts";

/** Pause before attempt `n + 1` after `n` failed ones: 50 ms doubling up to 2 s, equal jitter. */
export function reconnectDelayMs(attempt: number): number {
  const cap = Math.min(2000, 50 * 2 ** Math.min(attempt - 1, 10));
  return cap / 2 + Math.random() * (cap / 2);
}

/** What a {@linkcode Connection} reports. */
export interface ConnectionEvents {
  /** The connection was lost (or an attempt failed after it was). */
  lost?(reason: string): void;
  /** Connected again after `attempts` failed attempts. */
  reconnected?(attempts: number): void;
}

/** A database that could not be reached: the attempt, or the backoff after the last one. */
export class DatabaseUnavailable extends Error {
  /** The error with the reason of the last attempt. */
  constructor(reason: string, options?: { cause?: unknown }) {
    super(`database unavailable: ${reason}`, options);
    this.name = "DatabaseUnavailable";
  }
}

/** One connection, (re)made on demand. */
export class Connection {
  #options: PgConnectionOptions;
  #events: ConnectionEvents;
  #client: PgClient | undefined;
  #connecting: Promise<PgClient> | undefined;
  #failures = 0;
  #retryAt = 0;
  #lastReason = "";
  #wasLost = false;
  #closed = false;

  /** A connection not made yet. */
  constructor(options: PgConnectionOptions, events: ConnectionEvents = {}) {
    this.#options = options;
    this.#events = events;
  }

  /**
   * The connected client, connecting when there is none.
   * @throws {DatabaseUnavailable} when the attempt fails or the backoff is not over.
   */
  client(): Promise<PgClient> {
    if (this.#client !== undefined) return Promise.resolve(this.#client);
    if (this.#closed) return Promise.reject(new DatabaseUnavailable("closed"));
    if (performance.now() < this.#retryAt) {
      return Promise.reject(new DatabaseUnavailable(this.#lastReason));
    }
    this.#connecting ??= this.#connect().finally(() => this.#connecting = undefined);
    return this.#connecting;
  }

  /** Drops the client after a failure on it; the next {@linkcode client} connects again. */
  drop(error: unknown): void {
    const client = this.#client;
    if (client === undefined) return;
    this.#client = undefined;
    this.#lostWith(describeError(error));
    client.end().catch(() => {});
  }

  /** Ends the connection for good. */
  async close(): Promise<void> {
    this.#closed = true;
    const client = this.#client;
    this.#client = undefined;
    await this.#connecting?.catch(() => {});
    await client?.end().catch(() => {});
  }

  async #connect(): Promise<PgClient> {
    const client = newClient(this.#options);
    // A connection lost while idle is an 'error' event: without a listener it would crash.
    client.on("error", (error) => {
      if (this.#client === client) this.drop(error);
    });
    try {
      await client.connect();
    } catch (error) {
      client.end().catch(() => {});
      this.#failures++;
      this.#retryAt = performance.now() + reconnectDelayMs(this.#failures);
      this.#lastReason = describeError(error);
      if (!this.#wasLost) this.#lostWith(this.#lastReason);
      throw new DatabaseUnavailable(this.#lastReason, { cause: error });
    }
    if (this.#closed) {
      await client.end().catch(() => {});
      throw new DatabaseUnavailable("closed");
    }
    if (this.#wasLost) this.#events.reconnected?.(this.#failures);
    this.#wasLost = false;
    this.#failures = 0;
    this.#retryAt = 0;
    this.#client = client;
    return client;
  }

  #lostWith(reason: string): void {
    if (this.#wasLost || this.#closed) return;
    this.#wasLost = true;
    this.#events.lost?.(reason);
  }
}
