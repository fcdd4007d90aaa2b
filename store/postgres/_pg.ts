/**
 * The few parts of `npm:pg` and `npm:pg-copy-streams` this package uses, typed
 * here (the packages ship no types). Imported only by this package, which is
 * itself imported lazily (roles/server/storage.ts), so a server without a
 * database never loads the driver.
 *
 * @module
 */

import pg from "pg";
import copyStreams from "pg-copy-streams";

/** A query's result, as far as this package reads it. */
export interface QueryResult<Row> {
  rows: Row[];
  rowCount: number | null;
}

/** A notification of LISTEN. */
export interface Notification {
  channel: string;
  payload?: string;
}

/** A writable COPY ... FROM STDIN stream. */
export interface CopyStream {
  write(chunk: Uint8Array): boolean;
  end(): void;
  on(event: "finish" | "error" | "drain", listener: (error?: Error) => void): void;
}

/** One connection. */
export interface PgClient {
  connect(): Promise<void>;
  // deno-lint-ignore no-explicit-any
  query<Row = any>(text: string, values?: unknown[]): Promise<QueryResult<Row>>;
  end(): Promise<void>;
  on(event: "error", listener: (error: Error) => void): void;
  on(event: "notification", listener: (message: Notification) => void): void;
  on(event: "end", listener: () => void): void;
}

/** How a connection is made. */
export interface PgConnectionOptions {
  connectionString: string;
  password?: string;
  connectionTimeoutMillis?: number;
  keepAlive?: boolean;
  idle_in_transaction_session_timeout?: number;
  application_name?: string;
}

/** A new, not yet connected, client. */
export function newClient(options: PgConnectionOptions): PgClient {
  return new pg.Client(options) as unknown as PgClient;
}

/** Starts `COPY ... FROM STDIN` on `client`; write the data, then end it. */
export function copyFrom(client: PgClient, sql: string): CopyStream {
  // deno-lint-ignore no-explicit-any
  return (client as any).query(copyStreams.from(sql)) as CopyStream;
}
