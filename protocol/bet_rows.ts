/**
 * BET_ROWS, the batch tp0's client sends: the agency file's own records, framed.
 * {@linkcode BetRowsEncoder} copies whole records into frames (the client finds where
 * each record ends and nothing more: no field is parsed on its side) and
 * {@linkcode decodeBetRowsPacked} parses the rows, once, into packed bets over the
 * payload (the server, which checks every bet anyway). Rows that do not parse are
 * {@linkcode BadRowsError}: the batch is answered, not the connection closed.
 *
 * @module
 */

import { type AgencyRowsParser, CsvRowError } from "../store/mod.ts";
import type { PackedBetBatch } from "./bet_batch.ts";
import { ProtocolError } from "./errors.ts";
import { type Frame, writeFrameHeader } from "./framing.ts";
import { badRowsReason, decodeMessage, rowCountReason } from "./messages.ts";
import {
  BET_BATCH_HEADER_SIZE,
  ErrorCode,
  HEADER_SIZE,
  MAX_BATCH_COUNT,
  MAX_FRAME_SIZE,
  MAX_PAYLOAD_SIZE,
  MessageType,
} from "./types.ts";

const CHAR_LF = 0x0a;

/** Longest record a BET_ROWS can carry, its line end included. */
export const MAX_ROW_BYTES = MAX_PAYLOAD_SIZE - BET_BATCH_HEADER_SIZE;

/**
 * A BET_ROWS whose rows do not parse (or do not match its count): the batch is refused
 * with a BATCH_RESULT MALFORMED, its id is not used, and the connection goes on.
 */
export class BadRowsError extends ProtocolError {
  /** The batch refused. */
  readonly batchId: number;
  /** The agency it claimed. */
  readonly agency: number;
  /** Bets in it, by its header. */
  readonly count: number;

  constructor(message: string, batch: { batchId: number; agency: number; count: number }) {
    super(message, { code: ErrorCode.MALFORMED });
    this.name = "BadRowsError";
    this.batchId = batch.batchId;
    this.agency = batch.agency;
    this.count = batch.count;
  }
}

/**
 * Decodes a BET_ROWS frame into packed bets over its payload, parsing the rows with
 * `parser` (reused from batch to batch: the result is valid until its next use). A frame
 * whose header `decodeMessage` rejects is rejected with the same {@linkcode ProtocolError}.
 *
 * @throws {BadRowsError} when the rows do not parse or their number is not the count.
 */
export function decodeBetRowsPacked(frame: Frame, parser: AgencyRowsParser): PackedBetBatch {
  const payload = frame.payload;
  const end = payload.length;
  if (frame.type !== MessageType.BET_ROWS || end > MAX_PAYLOAD_SIZE || end < 9) {
    decodeMessage(frame); // throws the header's error
    throw new ProtocolError("Unexpected message (expected BET_ROWS)", {
      code: ErrorCode.OUT_OF_ORDER,
    });
  }
  const agency = (payload[0] << 8) | payload[1];
  const batchId = payload[2] * 0x1000000 + ((payload[3] << 16) | (payload[4] << 8) | payload[5]);
  const count = (payload[6] << 8) | payload[7];
  if (count === 0) decodeMessage(frame); // throws "Empty BET_ROWS"
  const batch = { agency, batchId, count };
  let bets;
  try {
    bets = parser.parse(payload.subarray(BET_BATCH_HEADER_SIZE), agency);
  } catch (error) {
    if (!(error instanceof CsvRowError)) throw error;
    throw new BadRowsError(badRowsReason(error.line, error.reason), batch);
  }
  if (bets.count !== count) throw new BadRowsError(rowCountReason(count, bets.count), batch);
  return { type: MessageType.BET_ROWS, agency, batchId, bets };
}

/**
 * Bytes record `bytes[start .. end)` takes in a frame, its line end added when it has none.
 * @throws {RangeError} over {@linkcode MAX_ROW_BYTES}
 */
function rowSize(bytes: Uint8Array, start: number, end: number): number {
  const size = end - start + (end > start && bytes[end - 1] === CHAR_LF ? 0 : 1);
  if (size > MAX_ROW_BYTES) {
    throw new RangeError(
      `Record too long: ${size} bytes (a batch frame holds at most ${MAX_ROW_BYTES})`,
    );
  }
  return size;
}

/** Records in a buffer, for {@linkcode BetRowsEncoder.addRecords} (what `readAgencyRecords` yields). */
export interface RecordRuns {
  /** The bytes holding the records. */
  bytes: Uint8Array;
  /** Record `i` is `bytes[starts[i] .. ends[i])`. */
  starts: Int32Array;
  /** See {@linkcode RecordRuns.starts}. */
  ends: Int32Array;
  /** How many records. */
  count: number;
}

/** Options of {@linkcode BetRowsEncoder}. */
export interface BetRowsEncoderOptions {
  /** Agency of the batches. */
  agency: number;
  /** Most bets a frame (besides the 8 KiB limit), 1..65535. @default 65535 */
  maxBets?: number;
  /** Byte 1 of every frame: 1 for an agency without a key. @default {VERSION} (2) */
  version?: number;
}

/**
 * Fills BET_ROWS frames with records copied as they are: `add()` records (or `addRecords()`,
 * many at once) until it refuses (the frame is full), then `take()` the frame.
 *
 * ```ts ignore
 * const encoder = new BetRowsEncoder({ agency: 3, maxBets: 100 });
 * if (!encoder.add(bytes, start, end)) { send(encoder.take(++batchId)); encoder.add(bytes, start, end); }
 * ```
 */
export class BetRowsEncoder {
  readonly #agency: number;
  readonly #maxBets: number;
  readonly #version: number | undefined;
  #frame = new Uint8Array(MAX_FRAME_SIZE);
  #size = HEADER_SIZE + BET_BATCH_HEADER_SIZE;
  #count = 0;

  /** Creates an encoder; RangeError on an agency that is not a u16 or a bad `maxBets`. */
  constructor(options: BetRowsEncoderOptions) {
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

  /** Records in the frame being filled. */
  get count(): number {
    return this.#count;
  }

  /**
   * Adds the record `bytes[start .. end)` (a line end is added when it has none); false,
   * and nothing added, when the frame already holds `maxBets` records or has no room for
   * this one. A record no frame can carry is refused before the room is looked at, so a
   * batch is only ever cut short by a good record.
   * @throws {RangeError} for a record over {@linkcode MAX_ROW_BYTES} bytes
   */
  add(bytes: Uint8Array, start: number, end: number): boolean {
    const size = rowSize(bytes, start, end);
    if (this.#count >= this.#maxBets || this.#size + size > MAX_FRAME_SIZE) return false;
    this.#frame.set(bytes.subarray(start, end), this.#size);
    this.#size += size;
    if (size > end - start) this.#frame[this.#size - 1] = CHAR_LF;
    this.#count++;
    return true;
  }

  /**
   * Adds records `from`, `from + 1`, ... of `records` (`bytes[starts[i] .. ends[i])`,
   * `count` of them) while they fit, as {@linkcode add} would one by one, copying each run
   * of adjacent records in one go; returns how many it added, 0 when the frame is full.
   * It stops before a record no frame can carry, which throws once it comes first.
   * @throws {RangeError} when record `from` is over {@linkcode MAX_ROW_BYTES} bytes
   */
  addRecords(records: RecordRuns, from: number): number {
    const { bytes, starts, ends, count } = records;
    // A record no frame can carry is refused before the room is looked at (as in add()).
    if (from < count) rowSize(bytes, starts[from], ends[from]);
    const frame = this.#frame;
    const room = Math.min(count - from, this.#maxBets - this.#count);
    let size = this.#size;
    let added = 0;
    // The run of adjacent records added but not copied yet (none while runEnd is -1):
    // bytes[runStart .. runEnd), which goes to the frame's end, frame[size - its length ..).
    let runStart = 0;
    let runEnd = -1;
    while (added < room) {
      const i = from + added;
      const start = starts[i], end = ends[i];
      const terminated = end > start && bytes[end - 1] === CHAR_LF;
      const length = end - start + (terminated ? 0 : 1);
      if (length > MAX_ROW_BYTES) break; // refused when it comes first, at the next call
      if (size + length > MAX_FRAME_SIZE) break;
      if (start !== runEnd) {
        if (runEnd >= 0) frame.set(bytes.subarray(runStart, runEnd), size - (runEnd - runStart));
        runStart = start;
      }
      runEnd = end;
      size += length;
      added++;
      if (!terminated) {
        // The file's last record: its run, then the line end it lacks.
        frame.set(bytes.subarray(runStart, runEnd), size - 1 - (runEnd - runStart));
        frame[size - 1] = CHAR_LF;
        runEnd = -1;
        break;
      }
    }
    if (runEnd >= 0) frame.set(bytes.subarray(runStart, runEnd), size - (runEnd - runStart));
    this.#size = size;
    this.#count += added;
    return added;
  }

  /**
   * The frame of the records added so far, as a new array, with `batchId`; the encoder
   * starts an empty frame.
   * @throws {RangeError} when no record was added, or `batchId` is not a u32
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
    writeFrameHeader(out, MessageType.BET_ROWS, this.#version);
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

  /** Drops the records added since the last `take()`. */
  clear(): void {
    this.#size = HEADER_SIZE + BET_BATCH_HEADER_SIZE;
    this.#count = 0;
  }
}
