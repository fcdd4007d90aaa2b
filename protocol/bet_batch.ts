/**
 * BET_BATCH in packed form, for the hot paths: no object and no string a bet.
 * {@linkcode BetBatchEncoder} fills frames from `PackedBets` (the client, straight from the
 * agency file's bytes) and {@linkcode decodeBetBatchPacked} reads a frame into offsets over
 * its payload (the server, straight to CSV rows). Both accept and reject exactly what
 * `encodeMessage` and `decodeMessage` do, with the same errors: when they refuse, they ask
 * the object codec of `messages.ts` for the error to throw.
 *
 * @module
 */

import { PACKED_FIELD_SLOTS, type PackedBets, packedCapacity, unpackBet } from "../store/mod.ts";
import { isUtf8 } from "../util/mod.ts";
import { ProtocolError } from "./errors.ts";
import { type Frame, writeFrameHeader } from "./framing.ts";
import { decodeMessage, encodedBetSize } from "./messages.ts";
import {
  BET_BATCH_HEADER_SIZE,
  ErrorCode,
  HEADER_SIZE,
  MAX_BATCH_COUNT,
  MAX_FRAME_SIZE,
  MAX_PAYLOAD_SIZE,
  MAX_STRING_BYTES,
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

/** Options of {@linkcode BetBatchEncoder}. */
export interface BetBatchEncoderOptions {
  /** Agency of the batches; every bet added must be of it. */
  agency: number;
  /** Most bets a frame (besides the 8 KiB limit), 1..65535. @default 65535 */
  maxBets?: number;
  /** Byte 1 of every frame: 1 for an agency without a key. @default {VERSION} (2) */
  version?: number;
}

/**
 * Fills BET_BATCH frames from packed bets, copying their bytes straight into the frame:
 * `add()` bets until it returns false (the frame is full), then `take()` the frame.
 *
 * ```ts ignore
 * const encoder = new BetBatchEncoder({ agency: 3, maxBets: 100 });
 * if (!encoder.add(bets, i)) { send(encoder.take(++batchId)); encoder.add(bets, i); }
 * ```
 */
export class BetBatchEncoder {
  readonly #agency: number;
  readonly #maxBets: number;
  readonly #version: number | undefined;
  #frame = new Uint8Array(MAX_FRAME_SIZE);
  #size = HEADER_SIZE + BET_BATCH_HEADER_SIZE;
  #count = 0;

  /** Creates an encoder; RangeError on an agency that is not a u16 or a bad `maxBets`. */
  constructor(options: BetBatchEncoderOptions) {
    const maxBets = options.maxBets ?? MAX_BATCH_COUNT;
    if (!Number.isInteger(options.agency) || options.agency < 0 || options.agency > 0xffff) {
      throw new RangeError(
        `Field out of range: agency is ${options.agency} (expected an integer 0..65535)`,
      );
    }
    if (!Number.isInteger(maxBets) || maxBets < 1 || maxBets > MAX_BATCH_COUNT) {
      throw new RangeError(
        `Invalid maxBets: ${maxBets} (expected an integer 1..${MAX_BATCH_COUNT})`,
      );
    }
    this.#agency = options.agency;
    this.#maxBets = maxBets;
    this.#version = options.version;
  }

  /** Bets in the frame being filled. */
  get count(): number {
    return this.#count;
  }

  /**
   * Adds bet `index` of `bets` to the frame; false (and nothing added) when the frame
   * already holds `maxBets` bets or has no room for this one.
   *
   * A bet that no frame can carry is refused before the room is looked at: a batch is
   * only ever cut short by a good bet, so a file fixed at that bet and sent again is cut
   * into the same batches (the server acknowledges those as duplicates).
   * @throws {RangeError} naming the field, as `encodeMessage` does, for a bet that no
   *   frame can carry (a string over 255 bytes, a document or birthdate not ASCII, a
   *   number that is not a u32) or of another agency
   */
  add(bets: PackedBets, index: number): boolean {
    if (this.#count >= this.#maxBets) return false;
    const { bytes, fields } = bets;
    const at = index * PACKED_FIELD_SLOTS;
    const number = bets.numbers[index];
    if (
      bets.agencies[index] !== this.#agency || !Number.isInteger(number) || number < 0 ||
      number > 0xffffffff
    ) {
      return this.#reject(bets, index);
    }
    let size = 4;
    for (let f = 0; f < 8; f += 2) {
      const start = fields[at + f];
      const stop = fields[at + f + 1];
      if (stop - start > MAX_STRING_BYTES) return this.#reject(bets, index);
      if (f >= 4) {
        for (let k = start; k < stop; k++) if (bytes[k] >= 0x80) return this.#reject(bets, index);
      }
      size += 1 + stop - start;
    }
    if (this.#size + size > MAX_FRAME_SIZE && this.#count > 0) return false;
    const frame = this.#frame;
    let o = this.#size;
    for (let f = 0; f < 8; f += 2) {
      const start = fields[at + f];
      const stop = fields[at + f + 1];
      frame[o++] = stop - start;
      for (let k = start; k < stop; k++) frame[o++] = bytes[k];
    }
    frame[o] = number / 0x1000000;
    frame[o + 1] = number >>> 16;
    frame[o + 2] = number >>> 8;
    frame[o + 3] = number;
    this.#size = o + 4;
    this.#count++;
    return true;
  }

  /**
   * The frame of the bets added so far, as a new array, with `batchId`; the encoder
   * starts an empty frame.
   * @throws {RangeError} when no bet was added, or `batchId` is not a u32
   */
  take(batchId: number): Uint8Array {
    if (this.#count === 0) {
      throw new RangeError(`Batch size out of range: 0 bets (expected 1..${MAX_BATCH_COUNT})`);
    }
    if (!Number.isInteger(batchId) || batchId < 0 || batchId > 0xffffffff) {
      throw new RangeError(
        `Field out of range: batchId is ${batchId} (expected an integer 0..4294967295)`,
      );
    }
    const out = this.#frame.slice(0, this.#size);
    writeFrameHeader(out, MessageType.BET_BATCH, this.#version);
    out[5] = this.#agency >>> 8;
    out[6] = this.#agency;
    out[7] = batchId / 0x1000000;
    out[8] = batchId >>> 16;
    out[9] = batchId >>> 8;
    out[10] = batchId;
    out[11] = this.#count >>> 8;
    out[12] = this.#count;
    this.#size = HEADER_SIZE + BET_BATCH_HEADER_SIZE;
    this.#count = 0;
    return out;
  }

  /** Drops the bets added since the last `take()`. */
  clear(): void {
    this.#size = HEADER_SIZE + BET_BATCH_HEADER_SIZE;
    this.#count = 0;
  }

  /** Throws the RangeError `encodeMessage` gives for this bet (the frame is left as it was). */
  #reject(bets: PackedBets, index: number): never {
    const bet = unpackBet(bets, index);
    if (bet.agency !== this.#agency) {
      throw new RangeError(
        `Bet agency mismatch: agency is ${bet.agency} (expected the batch's ${this.#agency})`,
      );
    }
    encodedBetSize(bet);
    throw new RangeError(`Bet cannot be encoded: ${JSON.stringify(bet)}`);
  }
}
