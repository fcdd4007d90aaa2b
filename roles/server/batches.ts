/**
 * The batch path of a session: a BET_BATCH goes to the lottery in one call,
 * and what became of it comes back as the batch's BATCH_RESULT, with its log
 * lines. A sequence violation is a protocol error (OUT_OF_ORDER).
 *
 * @module
 */

import {
  type BadRowsError,
  encodeMessage,
  ErrorCode,
  type ErrorCodeValue,
  MessageType,
  type PackedBetBatch,
  ProtocolError,
} from "../../protocol/mod.ts";
import {
  BatchSequenceError,
  type Lottery,
  type PackedBets,
  type SubmitOutcome,
  unpackBet,
} from "../../store/mod.ts";
import { log } from "../log.ts";

/** A stored bet as its log line names it. */
interface StoredBet {
  document: string;
  number: number;
}

/** What the reply to a batch needs once the bets' bytes are gone. */
interface Submitted {
  agency: number;
  batchId: number;
  /** Bets in the batch. */
  count: number;
  /** The bets, when a line a bet is logged (DEBUG, or INFO for a batch of one). */
  bets: StoredBet[] | undefined;
}

/**
 * Hands `batch` to the lottery; resolves with its BATCH_RESULT once the
 * outcome is durable. The batch's bytes (a view of the read buffer) are done
 * with when this returns.
 *
 * @throws {ProtocolError} OUT_OF_ORDER when the batch id breaks its agency's sequence.
 */
export function submitBatch(lottery: Lottery, batch: PackedBetBatch): Promise<Uint8Array> {
  let outcome: Promise<SubmitOutcome>;
  try {
    outcome = lottery.submit(batch);
  } catch (error) {
    if (!(error instanceof BatchSequenceError)) throw error;
    throw new ProtocolError(error.message, { code: ErrorCode.OUT_OF_ORDER, cause: error });
  }
  const { agency, batchId, bets } = batch;
  const count = bets.count;
  // Lines a bet need the bets as objects: made now, while the frame's bytes are at hand.
  const stored = log.enabled(count === 1 ? "INFO" : "DEBUG") ? unpackAll(bets) : undefined;
  const submitted: Submitted = { agency, batchId, count, bets: stored };
  return outcome.then((result) => reply(result, submitted), (error: unknown) => {
    // A shared lottery finds some violations only once it has read the agency's state.
    if (!(error instanceof BatchSequenceError)) throw error;
    throw new ProtocolError(error.message, { code: ErrorCode.OUT_OF_ORDER, cause: error });
  });
}

/**
 * The BATCH_RESULT of a BET_ROWS whose rows do not parse: MALFORMED, with the line and the
 * problem; nothing was stored and the batch id stays unused (the agency's next batch must
 * still carry it, so the batches in flight behind this one are refused as out of order).
 */
export function refuseBadRows(error: BadRowsError): Uint8Array {
  const { agency, batchId, count } = error;
  const reason = error.message;
  log.warning({ action: "apuesta_recibida", result: "fail", cantidad: count, agency, reason });
  return batchResult(batchId, ErrorCode.MALFORMED, reason);
}

/** Logs what became of a batch and builds its BATCH_RESULT. */
function reply(outcome: SubmitOutcome, batch: Submitted): Uint8Array {
  const { agency, batchId, count } = batch;
  switch (outcome.kind) {
    case "stored":
      if (batch.bets !== undefined) logStored(batch.bets);
      log.info({ action: "apuesta_recibida", result: "success", cantidad: count });
      return batchResult(batchId, ErrorCode.OK, "");
    case "duplicate":
      log.info({ action: "lote_duplicado", result: "success", agency, batch_id: batchId });
      return batchResult(batchId, ErrorCode.OK, "");
    case "rejected": {
      const reason = outcome.reason;
      if (outcome.resent) {
        log.warning({
          action: "lote_duplicado",
          result: "fail",
          agency,
          batch_id: batchId,
          reason,
        });
      } else {
        log.warning({
          action: "apuesta_recibida",
          result: "fail",
          cantidad: count,
          agency,
          reason,
        });
      }
      return batchResult(batchId, ErrorCode.INVALID_BET, reason);
    }
    case "storageFailed": {
      const reason = outcome.reason;
      if (outcome.resent) {
        log.error({ action: "lote_duplicado", result: "fail", agency, batch_id: batchId, reason });
        return batchResult(batchId, ErrorCode.STORAGE, reason);
      }
      if (outcome.invalid !== undefined) {
        const invalid = outcome.invalid;
        log.warning({
          action: "apuesta_recibida",
          result: "fail",
          cantidad: count,
          agency,
          reason: invalid,
        });
      }
      log.error({ action: "apuesta_recibida", result: "fail", cantidad: count, reason });
      return batchResult(batchId, ErrorCode.STORAGE, reason);
    }
  }
}

function batchResult(batchId: number, code: ErrorCodeValue, reason: string): Uint8Array {
  return encodeMessage({ type: MessageType.BATCH_RESULT, batchId, code, reason });
}

function unpackAll(bets: PackedBets): StoredBet[] {
  return Array.from({ length: bets.count }, (_, i) => unpackBet(bets, i));
}

/** One line per stored bet: INFO for a batch of one (exercise 5), DEBUG otherwise. */
function logStored(bets: readonly StoredBet[]): void {
  const level = bets.length === 1 ? "INFO" : "DEBUG";
  if (!log.enabled(level)) return;
  const write = level === "INFO" ? log.info : log.debug;
  for (const bet of bets) {
    write({
      action: "apuesta_almacenada",
      result: "success",
      dni: bet.document,
      numero: bet.number,
    });
  }
}
