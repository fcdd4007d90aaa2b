/**
 * Where the server keeps its lottery: the CSV file and its journal, recovered
 * at start, or, with `--store postgres://...`, a PostgreSQL database shared
 * by several replicas (store/postgres/, imported only then: a server without
 * it never loads the driver). The one place the server names a
 * {@linkcode Lottery} implementation; the rest of it speaks to the interface.
 *
 * @module
 */

import { BetStore, FileLottery, type Lottery } from "../../store/mod.ts";
import type { ServerConfig } from "../config/mod.ts";
import { log } from "../log.ts";

/** A lottery and what closes its storage. */
export interface OpenLottery {
  /** The lottery every session submits to. */
  lottery: Lottery;
  /** Waits for the flush in progress, then closes the storage. */
  close(): Promise<void>;
  /** Fields the server's draw lines carry (the replica's name, with a shared store). */
  logFields?: Record<string, string>;
}

/**
 * Opens the storage at `config.storagePath` (recovering it from its journal,
 * and logging what recovery found) and the lottery over it.
 */
export async function openLottery(
  config: Pick<
    ServerConfig,
    | "storagePath"
    | "agencies"
    | "storeUrl"
    | "storePasswordFile"
    | "storeDeadlineMs"
    | "replicaName"
  >,
  signal?: AbortSignal,
): Promise<OpenLottery> {
  if (config.storeUrl !== "") return await openSharedLottery(config, signal);
  const store = await BetStore.open(config.storagePath);
  logRecovery(store);
  return {
    lottery: new FileLottery({ store, agencies: config.agencies }),
    close: () => store.close(),
  };
}

/** `action: recovery`: what the store found on disk and repaired. */
function logRecovery(store: BetStore): void {
  const recovery = store.recovery;
  log.info({
    action: "recovery",
    result: "success",
    bets: recovery.bets,
    truncated_bytes: recovery.truncatedBytes,
    agencies_done: recovery.done.size,
    batches: recovery.batches,
    journal_truncated_bytes: recovery.journalTruncatedBytes,
    journal: recovery.adopted ? "adopted" : recovery.journalCreated ? "created" : "replayed",
    storage_path: store.path,
  });
}

/**
 * The lottery on a shared PostgreSQL database: reached (retrying until
 * `storeDeadline`), its schema made when missing; its events logged with the
 * replica's name.
 */
async function openSharedLottery(
  config: Pick<
    ServerConfig,
    "agencies" | "storeUrl" | "storePasswordFile" | "storeDeadlineMs" | "replicaName"
  >,
  signal?: AbortSignal,
): Promise<OpenLottery> {
  const { PostgresLottery } = await import("../../store/postgres/mod.ts");
  const replica = config.replicaName === "" ? Deno.hostname() : config.replicaName;
  const password = config.storePasswordFile === ""
    ? undefined
    : (await Deno.readTextFile(config.storePasswordFile)).replace(/\r?\n$/, "");
  const lottery = await PostgresLottery.open({
    url: config.storeUrl,
    password,
    agencies: config.agencies,
    replica,
    connectDeadlineMs: config.storeDeadlineMs,
    signal,
    onEvent(event) {
      switch (event.kind) {
        case "unreachable":
          log.warning({
            action: "storage",
            result: "in_progress",
            replica,
            attempt: event.attempt,
            reason: event.reason,
          });
          break;
        case "connected":
          log.info({
            action: "storage",
            result: "success",
            replica,
            store: "postgres",
            schema: event.schema,
            agencies_done: event.agenciesDone,
          });
          break;
        case "lost":
          log.error({
            action: "storage",
            result: "fail",
            replica,
            connection: event.connection,
            reason: event.reason,
          });
          break;
        case "reconnected":
          log.info({
            action: "storage_reconnect",
            result: "success",
            replica,
            connection: event.connection,
            attempts: event.attempts,
          });
          break;
      }
    },
  });
  return { lottery, close: () => lottery.close(), logFields: { replica } };
}
