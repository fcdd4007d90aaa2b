/**
 * BET_BATCH in packed form, for the server: {@linkcode decodeBetBatchPacked} reads a frame
 * into offsets over its payload (straight to CSV rows, no object and no string a bet). It
 * accepts and rejects exactly what `decodeMessage` does, with the same errors: when it
 * refuses, it asks the object codec of `messages.ts` for the error to throw. (tp0's client
 * sends BET_ROWS, `bet_rows.ts`; BET_BATCH is still served.)
 *
 * @module
 */

import { PACKED_FIELD_SLOTS, type PackedBets, packedCapacity } from "../store/mod.ts";
import { isUtf8 } from "../util/mod.ts";
import { ProtocolError } from "./errors.ts";
import type { Frame } from "./framing.ts";
import { decodeMessage } from "./messages.ts";
import {
  BET_BATCH_HEADER_SIZE,
  ErrorCode,
  MAX_PAYLOAD_SIZE,
  MessageType,
  messageTypeName,
} from "./types.ts";

/**
 * A batch decoded by {@linkcode decodeBetBatchPacked} (or `decodeBetRowsPacked`): its bets
 * point into the payload.
 */
export interface PackedBetBatch {
  /** {@linkcode MessageType.BET_BATCH} or {@linkcode MessageType.BET_ROWS} */
  type: typeof MessageType.BET_BATCH | typeof MessageType.BET_ROWS;
  /** Agency number, u16; every bet's agency. */
  agency: number;
  /** Batch sequence number, u32. */
  batchId: number;
  /** The bets; `bets.bytes` is the frame's payload, not copied. */
  bets: PackedBets;
}

/** Options of {@linkcode decodeBetBatchPacked}. */
export interface DecodeBetBatchOptions {
  /** Reuses these arrays when they are large enough (the result is then valid until the next call). */
  into?: PackedBets;
}

/**
 * Decodes a BET_BATCH frame into packed bets whose fields are offsets over the payload:
 * every length, the UTF-8 of names and the ASCII of documents and birthdates are checked,
 * and no string is made. A frame that `decodeMessage` rejects is rejected with the same
 * {@linkcode ProtocolError}.
 */
export function decodeBetBatchPacked(
  frame: Frame,
  options: DecodeBetBatchOptions = {},
): PackedBetBatch {
  const payload = frame.payload;
  const end = payload.length;
  if (frame.type !== MessageType.BET_BATCH || end > MAX_PAYLOAD_SIZE || end < 8) {
    return rejectBetBatch(frame);
  }
  const agency = (payload[0] << 8) | payload[1];
  const batchId = payload[2] * 0x1000000 + ((payload[3] << 16) | (payload[4] << 8) | payload[5]);
  const count = (payload[6] << 8) | payload[7];
  // Each bet takes at least 8 bytes (4 lengths, the number): a count the payload cannot
  // hold is refused before anything is sized by it.
  if (count === 0 || count * 8 > end - BET_BATCH_HEADER_SIZE) return rejectBetBatch(frame);
  const bets = packedCapacity(options.into, count);
  const { fields, numbers, agencies } = bets;
  let p = BET_BATCH_HEADER_SIZE;
  for (let i = 0; i < count; i++) {
    const at = i * PACKED_FIELD_SLOTS;
    for (let f = 0; f < 4; f++) {
      if (p >= end) return rejectBetBatch(frame);
      const start = p + 1;
      const stop = start + payload[p];
      if (stop > end) return rejectBetBatch(frame);
      if (f < 2) {
        if (!isUtf8(payload, start, stop)) return rejectBetBatch(frame);
      } else {
        for (let k = start; k < stop; k++) if (payload[k] >= 0x80) return rejectBetBatch(frame);
      }
      fields[at + 2 * f] = start;
      fields[at + 2 * f + 1] = stop;
      p = stop;
    }
    if (p + 4 > end) return rejectBetBatch(frame);
    numbers[i] = payload[p] * 0x1000000 +
      ((payload[p + 1] << 16) | (payload[p + 2] << 8) | payload[p + 3]);
    agencies[i] = agency;
    p += 4;
  }
  if (p !== end) return rejectBetBatch(frame);
  bets.count = count;
  bets.bytes = payload;
  return { type: MessageType.BET_BATCH, agency, batchId, bets };
}

/** Throws what `decodeMessage` throws for a frame the packed decoder refused. */
function rejectBetBatch(frame: Frame): never {
  const message = decodeMessage(frame);
  throw new ProtocolError(
    `Unexpected message: ${messageTypeName(message.type)} (expected BET_BATCH)`,
    {
      code: ErrorCode.OUT_OF_ORDER,
    },
  );
}
