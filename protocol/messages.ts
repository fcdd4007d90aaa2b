/**
 * Typed messages: {@linkcode encodeMessage} turns a {@linkcode Message} into one whole frame,
 * {@linkcode decodeMessage} turns a {@linkcode Frame} back into a message, checking every
 * length and rejecting anything malformed with {@linkcode ProtocolError}.
 *
 * BET_BATCH also has a packed form for the hot paths, with no object and no string a bet:
 * {@linkcode BetBatchEncoder} fills frames from {@linkcode PackedBets} (the client, straight
 * from the agency file's bytes) and {@linkcode decodeBetBatchPacked} reads a frame into
 * offsets over its payload (the server, straight to CSV rows). Both accept and reject
 * exactly what `encodeMessage` and `decodeMessage` do, with the same errors.
 *
 * @module
 */

import {
  type Bet,
  PACKED_FIELD_SLOTS,
  type PackedBets,
  packedCapacity,
  unpackBet,
} from "../store/mod.ts";
import { ascii8Size, ByteCursor, ByteWriter, isUtf8, str8Size, utf8ByteLength } from "./codec.ts";
import { ProtocolError } from "./errors.ts";
import type { Frame } from "./framing.ts";
import {
  ErrorCode,
  HEADER_SIZE,
  MAGIC,
  MAX_FRAME_SIZE,
  MAX_PAYLOAD_SIZE,
  MAX_STRING_BYTES,
  MessageType,
  messageTypeName,
  toHexByte,
  VERSION,
  WINNERS_FLAG_LAST,
} from "./types.ts";

/** ECHO (client -> server): text to be echoed. */
export interface EchoMessage {
  /** {@linkcode MessageType.ECHO} */
  type: typeof MessageType.ECHO;
  /** Any UTF-8 text that fits the frame. */
  text: string;
}

/** ECHO_REPLY (server -> client): the text of the ECHO, unchanged. */
export interface EchoReplyMessage {
  /** {@linkcode MessageType.ECHO_REPLY} */
  type: typeof MessageType.ECHO_REPLY;
  /** The echoed text. */
  text: string;
}

/** BET_BATCH (client -> server): bets of one agency; every bet's agency is the batch's. */
export interface BetBatchMessage {
  /** {@linkcode MessageType.BET_BATCH} */
  type: typeof MessageType.BET_BATCH;
  /** Agency number, u16. */
  agency: number;
  /** Batch sequence number chosen by the client, u32; echoed in BATCH_RESULT. */
  batchId: number;
  /** 1 to 65535 bets, as many as fit 8192 bytes. */
  bets: Bet[];
}

/** BATCH_RESULT (server -> client): whether a batch was stored. */
export interface BatchResultMessage {
  /** {@linkcode MessageType.BATCH_RESULT} */
  type: typeof MessageType.BATCH_RESULT;
  /** The batchId of the BET_BATCH answered. */
  batchId: number;
  /** An {@linkcode ErrorCode}: `OK` (0) when stored. */
  code: number;
  /** Why it failed; empty when OK. */
  reason: string;
}

/** AGENCY_DONE (client -> server): the agency has sent all its bets. */
export interface AgencyDoneMessage {
  /** {@linkcode MessageType.AGENCY_DONE} */
  type: typeof MessageType.AGENCY_DONE;
  /** Agency number, u16. */
  agency: number;
}

/** DONE_ACK (server -> client): the AGENCY_DONE was recorded. */
export interface DoneAckMessage {
  /** {@linkcode MessageType.DONE_ACK} */
  type: typeof MessageType.DONE_ACK;
  /** Agency number, u16. */
  agency: number;
}

/** WINNERS_QUERY (client -> server): asks for the agency's winners. */
export interface WinnersQueryMessage {
  /** {@linkcode MessageType.WINNERS_QUERY} */
  type: typeof MessageType.WINNERS_QUERY;
  /** Agency number, u16. */
  agency: number;
}

/** WINNERS_REPLY (server -> client): one part of the winners' documents. */
export interface WinnersReplyMessage {
  /** {@linkcode MessageType.WINNERS_REPLY} */
  type: typeof MessageType.WINNERS_REPLY;
  /** Whether this is the last frame of the reply (flag bit0). */
  last: boolean;
  /** Documents (ASCII, at most 255 bytes each) in this frame. */
  documents: string[];
}

/** ERROR (server -> client): the request failed; the server closes the connection after it. */
export interface ErrorMessage {
  /** {@linkcode MessageType.ERROR} */
  type: typeof MessageType.ERROR;
  /** An {@linkcode ErrorCode}. */
  code: number;
  /** One line saying what went wrong. */
  reason: string;
}

/** Every message of the protocol, told apart by its numeric `type`. */
export type Message =
  | EchoMessage
  | EchoReplyMessage
  | BetBatchMessage
  | BatchResultMessage
  | AgencyDoneMessage
  | DoneAckMessage
  | WinnersQueryMessage
  | WinnersReplyMessage
  | ErrorMessage;

/** Bytes of the BET_BATCH payload before its bets: agency u16 + batchId u32 + count u16. */
export const BET_BATCH_HEADER_SIZE = 8;
/** Bytes of the WINNERS_REPLY payload before its documents: flags u8 + count u16. */
export const WINNERS_REPLY_HEADER_SIZE = 3;
/** Most bets a BET_BATCH count (u16) can carry. */
export const MAX_BATCH_COUNT = 0xffff;

/**
 * Bytes one bet takes inside a BET_BATCH payload: four str8 fields and a u32.
 * @throws {RangeError} naming the field when a string is over 255 bytes, `document` or
 *   `birthdate` is not ASCII, or `number` is not a u32
 */
export function encodedBetSize(bet: Bet): number {
  checkU32(bet.number, "number");
  return 4 + 4 + str8Size(bet.firstName, "firstName") + str8Size(bet.lastName, "lastName") +
    ascii8Size(bet.document, "document") + ascii8Size(bet.birthdate, "birthdate");
}

/**
 * Encodes a message as one whole frame, header included, in a single buffer.
 * @throws {RangeError} naming the field on a value that does not fit its field, a batch
 *   of 0 or over 65535 bets, or a frame over 8192 bytes
 */
export function encodeMessage(message: Message): Uint8Array {
  switch (message.type) {
    case MessageType.ECHO:
    case MessageType.ECHO_REPLY: {
      const writer = startFrame(message.type, utf8ByteLength(message.text));
      writer.text(message.text, "text");
      return writer.finish();
    }
    case MessageType.BET_BATCH:
      return encodeBetBatch(message);
    case MessageType.BATCH_RESULT: {
      const writer = startFrame(message.type, 4 + 1 + utf8ByteLength(message.reason));
      writer.u32(message.batchId, "batchId");
      writer.u8(message.code, "code");
      writer.text(message.reason, "reason");
      return writer.finish();
    }
    case MessageType.AGENCY_DONE:
    case MessageType.DONE_ACK:
    case MessageType.WINNERS_QUERY: {
      const writer = startFrame(message.type, 2);
      writer.u16(message.agency, "agency");
      return writer.finish();
    }
    case MessageType.WINNERS_REPLY: {
      const size = winnersPayloadSize(message.documents);
      const writer = startFrame(message.type, size);
      writer.u8(message.last ? WINNERS_FLAG_LAST : 0, "flags");
      writer.u16(message.documents.length, "count");
      for (const document of message.documents) writer.ascii8(document, "document");
      return writer.finish();
    }
    case MessageType.ERROR: {
      const writer = startFrame(message.type, 1 + utf8ByteLength(message.reason));
      writer.u8(message.code, "code");
      writer.text(message.reason, "reason");
      return writer.finish();
    }
    default: {
      const unknown: { type: unknown } = message;
      throw new RangeError(`Unknown message type: ${JSON.stringify(unknown.type)}`);
    }
  }
}

/**
 * Splits winners' documents into WINNERS_REPLY frames of at most 8192 bytes each, in
 * order; only the last frame has the LAST flag. No documents gives one LAST frame with
 * count 0.
 * @throws {RangeError} naming the document when one is over 255 bytes or not ASCII
 */
export function encodeWinnersReplies(documents: string[]): Uint8Array[] {
  const frames: Uint8Array[] = [];
  let first = 0;
  let size = WINNERS_REPLY_HEADER_SIZE;
  for (let i = 0; i < documents.length; i++) {
    const needed = 1 + documentSize(documents, i);
    if (size + needed > MAX_PAYLOAD_SIZE) {
      frames.push(encodeWinnersPart(documents.slice(first, i), size, false));
      first = i;
      size = WINNERS_REPLY_HEADER_SIZE;
    }
    size += needed;
  }
  frames.push(encodeWinnersPart(documents.slice(first), size, true));
  return frames;
}

/**
 * Decodes a frame into its message, checking every length against the payload.
 * @throws {ProtocolError} UNKNOWN_TYPE for an unknown type; MALFORMED for a truncated
 *   payload, trailing bytes, a batch with 0 bets, invalid UTF-8 or ASCII, a string running
 *   past the payload, or a WINNERS_REPLY whose count does not match its documents
 */
export function decodeMessage(frame: Frame): Message {
  const { type, payload } = frame;
  if (payload.length > MAX_PAYLOAD_SIZE) {
    throw new ProtocolError(
      `Frame too large: ${HEADER_SIZE + payload.length} bytes (max ${MAX_FRAME_SIZE})`,
    );
  }
  const cursor = new ByteCursor(payload, { context: `${messageTypeName(type)} payload` });
  switch (type) {
    case MessageType.ECHO:
      return { type: MessageType.ECHO, text: cursor.text("text") };
    case MessageType.ECHO_REPLY:
      return { type: MessageType.ECHO_REPLY, text: cursor.text("text") };
    case MessageType.BET_BATCH:
      return decodeBetBatch(cursor);
    case MessageType.BATCH_RESULT: {
      const batchId = cursor.u32("batchId");
      const code = cursor.u8("code");
      return { type: MessageType.BATCH_RESULT, batchId, code, reason: cursor.text("reason") };
    }
    case MessageType.AGENCY_DONE:
    case MessageType.DONE_ACK:
    case MessageType.WINNERS_QUERY: {
      const agency = cursor.u16("agency");
      cursor.expectEnd();
      return { type, agency };
    }
    case MessageType.WINNERS_REPLY:
      return decodeWinnersReply(cursor);
    case MessageType.ERROR: {
      const code = cursor.u8("code");
      return { type: MessageType.ERROR, code, reason: cursor.text("reason") };
    }
    default:
      throw new ProtocolError(`Unknown message type: ${toHexByte(type)}`, {
        code: ErrorCode.UNKNOWN_TYPE,
      });
  }
}

function encodeBetBatch(message: BetBatchMessage): Uint8Array {
  const { agency, batchId, bets } = message;
  const count = bets.length;
  if (count < 1 || count > MAX_BATCH_COUNT) {
    throw new RangeError(`Batch size out of range: ${count} bets (expected 1..${MAX_BATCH_COUNT})`);
  }
  let size = BET_BATCH_HEADER_SIZE;
  let i = 0;
  try {
    for (; i < count; i++) {
      const bet = bets[i];
      if (bet.agency !== agency) {
        throw new RangeError(
          `Bet agency mismatch: agency is ${bet.agency} (expected the batch's ${agency})`,
        );
      }
      size += encodedBetSize(bet);
    }
  } catch (error) {
    throw annotate(error, `bet ${i + 1} of ${count}`);
  }
  const writer = startFrame(MessageType.BET_BATCH, size);
  writer.u16(agency, "agency");
  writer.u32(batchId, "batchId");
  writer.u16(count, "count");
  for (const bet of bets) {
    writer.str8(bet.firstName, "firstName");
    writer.str8(bet.lastName, "lastName");
    writer.ascii8(bet.document, "document");
    writer.ascii8(bet.birthdate, "birthdate");
    writer.u32(bet.number, "number");
  }
  return writer.finish();
}

function decodeBetBatch(cursor: ByteCursor): BetBatchMessage {
  const agency = cursor.u16("agency");
  const batchId = cursor.u32("batchId");
  const count = cursor.u16("count");
  if (count === 0) {
    throw new ProtocolError("Empty BET_BATCH: count is 0 (expected 1..65535)");
  }
  const bets: Bet[] = [];
  let i = 0;
  try {
    for (; i < count; i++) {
      bets.push({
        agency,
        firstName: cursor.str8("firstName"),
        lastName: cursor.str8("lastName"),
        document: cursor.ascii8("document"),
        birthdate: cursor.ascii8("birthdate"),
        number: cursor.u32("number"),
      });
    }
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    throw new ProtocolError(`${error.message} (in bet ${i + 1} of ${count})`, {
      code: error.code,
      cause: error,
    });
  }
  cursor.expectEnd();
  return { type: MessageType.BET_BATCH, agency, batchId, bets };
}

function decodeWinnersReply(cursor: ByteCursor): WinnersReplyMessage {
  const flags = cursor.u8("flags");
  if ((flags & ~WINNERS_FLAG_LAST) !== 0) {
    throw new ProtocolError(
      `Unknown WINNERS_REPLY flags: ${toHexByte(flags)} (only bit0 LAST is defined)`,
    );
  }
  const count = cursor.u16("count");
  const documents: string[] = [];
  for (let i = 0; i < count; i++) {
    if (cursor.remaining === 0) {
      throw new ProtocolError(
        `WINNERS_REPLY count mismatch: count is ${count} but the payload ends after ${i} ` +
          `documents`,
      );
    }
    documents.push(cursor.ascii8("document"));
  }
  if (cursor.remaining !== 0) {
    throw new ProtocolError(
      `WINNERS_REPLY count mismatch: count is ${count} but ${cursor.remaining} bytes follow ` +
        `the last document`,
    );
  }
  return { type: MessageType.WINNERS_REPLY, last: (flags & WINNERS_FLAG_LAST) !== 0, documents };
}

function documentSize(documents: string[], index: number): number {
  try {
    return ascii8Size(documents[index], "document");
  } catch (error) {
    throw annotate(error, `document ${index + 1} of ${documents.length}`);
  }
}

function winnersPayloadSize(documents: string[]): number {
  let size = WINNERS_REPLY_HEADER_SIZE;
  for (let i = 0; i < documents.length; i++) size += 1 + documentSize(documents, i);
  return size;
}

function encodeWinnersPart(documents: string[], size: number, last: boolean): Uint8Array {
  const writer = startFrame(MessageType.WINNERS_REPLY, size);
  writer.u8(last ? WINNERS_FLAG_LAST : 0, "flags");
  writer.u16(documents.length, "count");
  for (const document of documents) writer.ascii8(document, "document");
  return writer.finish();
}

/** Checks the payload fits a frame, allocates the whole frame and writes its header. */
function startFrame(type: number, payloadSize: number): ByteWriter {
  if (payloadSize > MAX_PAYLOAD_SIZE) {
    throw new RangeError(
      `Frame too large: ${HEADER_SIZE + payloadSize} bytes (max ${MAX_FRAME_SIZE})`,
    );
  }
  const writer = new ByteWriter(HEADER_SIZE + payloadSize);
  writer.u8(MAGIC, "magic");
  writer.u8(VERSION, "version");
  writer.u8(type, "type");
  writer.u16(payloadSize, "length");
  return writer;
}

function checkU32(value: number, field: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(
      `Field out of range: ${field} is ${
        typeof value === "number" ? value : JSON.stringify(value)
      } (expected an integer 0..4294967295)`,
    );
  }
}

/** Adds which element failed to a RangeError's message; other errors pass unchanged. */
function annotate(error: unknown, where: string): unknown {
  if (!(error instanceof RangeError)) return error;
  return new RangeError(`${error.message} (in ${where})`, { cause: error });
}

// ---------------------------------------------------------------------------
// Packed BET_BATCH

/** A BET_BATCH decoded by {@linkcode decodeBetBatchPacked}: its bets point into the payload. */
export interface PackedBetBatch {
  /** {@linkcode MessageType.BET_BATCH} */
  type: typeof MessageType.BET_BATCH;
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
    const frame = this.#frame;
    const payload = this.#size - HEADER_SIZE;
    frame[0] = MAGIC;
    frame[1] = VERSION;
    frame[2] = MessageType.BET_BATCH;
    frame[3] = payload >>> 8;
    frame[4] = payload;
    frame[5] = this.#agency >>> 8;
    frame[6] = this.#agency;
    frame[7] = batchId / 0x1000000;
    frame[8] = batchId >>> 16;
    frame[9] = batchId >>> 8;
    frame[10] = batchId;
    frame[11] = this.#count >>> 8;
    frame[12] = this.#count;
    const out = frame.slice(0, this.#size);
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
