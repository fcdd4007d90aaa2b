/**
 * The lottery's tables in PostgreSQL, created when missing (idempotent, under
 * an advisory lock so that replicas starting together do not race) and
 * versioned: a database of a newer schema than this program knows is refused.
 *
 * @module
 */

import type { PgClient } from "./_pg.ts";

/** The schema this program writes. */
export const SCHEMA_VERSION = 1;

/** The channel a DONE notifies, with the agency as payload. */
export const DONE_CHANNEL = "tp0_agency_done";

/** Key of the advisory lock held while the schema is created. */
const SCHEMA_LOCK = 75740001;

/**
 * Version 1:
 * - `bets`: one row a stored bet, no primary key (a batch is stored once by `batches`);
 *   the partial index serves the draw (`WHERE agency = $1 AND number = 7574`) from the
 *   index alone.
 * - `batches`: one row a batch id taken, with its bets (0: rejected, its id used up).
 * - `agencies_done`: the agencies that said they are done.
 * - `draw`: at most one row; the replica whose insert made it logs the draw.
 */
const SCHEMA_V1 = `
CREATE TABLE IF NOT EXISTS bets (
  agency integer NOT NULL,
  first_name text NOT NULL,
  last_name text NOT NULL,
  document text NOT NULL,
  birthdate date NOT NULL,
  number integer NOT NULL
);
CREATE INDEX IF NOT EXISTS bets_winners ON bets (agency) INCLUDE (document) WHERE number = 7574;
CREATE TABLE IF NOT EXISTS batches (
  agency integer NOT NULL,
  batch_id integer NOT NULL,
  rows integer NOT NULL,
  PRIMARY KEY (agency, batch_id)
);
CREATE TABLE IF NOT EXISTS agencies_done (agency integer PRIMARY KEY);
CREATE TABLE IF NOT EXISTS draw (
  id integer PRIMARY KEY CHECK (id = 1),
  replica text NOT NULL,
  drawn_at timestamptz NOT NULL DEFAULT now()
);
`;

/** Whether the schema was made now or found. */
export type SchemaState = "created" | "found";

/**
 * Creates the schema when missing.
 * @throws {Error} when the database holds a newer schema version.
 */
export async function ensureSchema(client: PgClient): Promise<SchemaState> {
  await client.query("BEGIN");
  try {
    await client.query("SELECT pg_advisory_xact_lock($1)", [SCHEMA_LOCK]);
    await client.query("CREATE TABLE IF NOT EXISTS tp0_schema (version integer PRIMARY KEY)");
    const found = await client.query<{ version: number }>(
      "SELECT coalesce(max(version), 0) AS version FROM tp0_schema",
    );
    const version = Number(found.rows[0].version);
    if (version > SCHEMA_VERSION) {
      throw new Error(
        `the database's schema is version ${version}, newer than this program's ` +
          `${SCHEMA_VERSION}`,
      );
    }
    if (version < SCHEMA_VERSION) {
      await client.query(SCHEMA_V1);
      await client.query("INSERT INTO tp0_schema (version) VALUES ($1)", [SCHEMA_VERSION]);
    }
    await client.query("COMMIT");
    return version < SCHEMA_VERSION ? "created" : "found";
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  }
}
