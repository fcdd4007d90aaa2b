/**
 * The lottery on a shared PostgreSQL database ({@linkcode PostgresLottery}),
 * for several server replicas behind one name. Its own package, imported
 * lazily (roles/server/storage.ts, only with `--store postgres://...`): a
 * server without a database never loads the driver. See docs/replicas.md.
 *
 * @module
 */

export {
  IDLE_IN_TRANSACTION_TIMEOUT_MS,
  type PostgresEvent,
  PostgresLottery,
  type PostgresLotteryOptions,
} from "./lottery.ts";
export { DatabaseUnavailable } from "./connection.ts";
export { DONE_CHANNEL, SCHEMA_VERSION, type SchemaState } from "./schema.ts";
