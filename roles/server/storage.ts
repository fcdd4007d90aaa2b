/**
 * Where the server keeps its lottery: today the CSV file and its journal,
 * recovered at start. The one place the server names a {@linkcode Lottery}
 * implementation; the rest of it speaks to the interface.
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
}

/**
 * Opens the storage at `config.storagePath` (recovering it from its journal,
 * and logging what recovery found) and the lottery over it.
 */
export async function openLottery(
  config: Pick<ServerConfig, "storagePath" | "agencies">,
): Promise<OpenLottery> {
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
