/**
 * Typed messages: {@linkcode encodeMessage} turns a {@linkcode Message} into one whole frame,
 * {@linkcode decodeMessage} turns a {@linkcode Frame} back into a message, checking every
 * length and rejecting anything malformed with {@linkcode ProtocolError}.
 *
 * A BET_BATCH here carries `Bet` objects: the reference form, which tools and tests send
 * and read, and whose checks and errors the packed form of the hot paths (`bet_batch.ts`)
 * reproduces exactly (property tests in `packed_test.ts`).
 *
 * @module
 */

import {
  AgencyRowsParser,
  type Bet,
  betToAgencyRow,
  CsvRowError,
  unpackBet,
} from "../store/mod.ts";
import { ascii8Size, ByteCursor, ByteWriter, str8Size, utf8ByteLength } from "./codec.ts";
import { ProtocolError } from "./errors.ts";
import type { Frame } from "./framing.ts";
import {
  BET_BATCH_HEADER_SIZE,
  type BetBatchMessage,
  type BetRowsMessage,
  ErrorCode,
  HEADER_SIZE,
  MAGIC,
  MAX_BATCH_COUNT,
  MAX_FRAME_SIZE,
  MAX_PAYLOAD_SIZE,
  type Message,
  MessageType,
  messageTypeName,
  NONCE_SIZE,
  PROOF_SIZE,
  toHexByte,
  UNAUTHENTICATED_VERSION,
  VERSION,
  WINNERS_FLAG_LAST,
  WINNERS_REPLY_HEADER_SIZE,
  type WinnersReplyMessage,
} from "./types.ts";

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

/** Options of {@linkcode encodeMessage} and {@linkcode encodeWinnersReplies}. */
export interface EncodeOptions {
  /** Byte 1 of the frame: 1 for a connection without a key. @default {VERSION} (2) */
  version?: number;
}

/**
 * Encodes a message as one whole frame, header included, in a single buffer.
 * @throws {RangeError} naming the field on a value that does not fit its field, a batch
 *   of 0 or over 65535 bets, a nonce or proof of another size, or a frame over 8192 bytes
 */
export function encodeMessage(message: Message, options: EncodeOptions = {}): Uint8Array {
  const frame = encodeMessageFrame(message);
  if (options.version !== undefined) frame[1] = checkVersion(options.version);
  return frame;
}

function encodeMessageFrame(message: Message): Uint8Array {
  switch (message.type) {
    case MessageType.ECHO:
    case MessageType.ECHO_REPLY: {
      const writer = startFrame(message.type, utf8ByteLength(message.text));
      writer.text(message.text, "text");
      return writer.finish();
    }
    case MessageType.BET_BATCH:
      return encodeBetBatch(message);
    case MessageType.BET_ROWS:
      return encodeBetRows(message);
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
    case MessageType.AUTH_HELLO: {
      const writer = startFrame(message.type, 2 + NONCE_SIZE);
      writer.u16(message.agency, "agency");
      writer.bytes(fixedSize(message.nonce, NONCE_SIZE, "nonce"), "nonce");
      return writer.finish();
    }
    case MessageType.AUTH_CHALLENGE: {
      const writer = startFrame(message.type, NONCE_SIZE);
      writer.bytes(fixedSize(message.nonce, NONCE_SIZE, "nonce"), "nonce");
      return writer.finish();
    }
    case MessageType.AUTH_PROOF:
    case MessageType.AUTH_OK: {
      const writer = startFrame(message.type, PROOF_SIZE);
      writer.bytes(fixedSize(message.proof, PROOF_SIZE, "proof"), "proof");
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
export function encodeWinnersReplies(
  documents: string[],
  options: EncodeOptions = {},
): Uint8Array[] {
  const frames = winnersFrames(documents);
  if (options.version !== undefined) {
    const version = checkVersion(options.version);
    for (const frame of frames) frame[1] = version;
  }
  return frames;
}

function winnersFrames(documents: string[]): Uint8Array[] {
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
    case MessageType.BET_ROWS:
      return decodeBetRows(cursor, payload);
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
    case MessageType.AUTH_HELLO: {
      const agency = cursor.u16("agency");
      const nonce = cursor.bytes(NONCE_SIZE, "nonce");
      cursor.expectEnd();
      return { type, agency, nonce };
    }
    case MessageType.AUTH_CHALLENGE: {
      const nonce = cursor.bytes(NONCE_SIZE, "nonce");
      cursor.expectEnd();
      return { type, nonce };
    }
    case MessageType.AUTH_PROOF:
    case MessageType.AUTH_OK: {
      const proof = cursor.bytes(PROOF_SIZE, "proof");
      cursor.expectEnd();
      return { type, proof };
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

const rowEncoder = new TextEncoder();

function encodeBetRows(message: BetRowsMessage): Uint8Array {
  const { agency, batchId, bets } = message;
  const count = bets.length;
  if (count < 1 || count > MAX_BATCH_COUNT) {
    throw new RangeError(`Batch size out of range: ${count} bets (expected 1..${MAX_BATCH_COUNT})`);
  }
  for (let i = 0; i < count; i++) {
    if (bets[i].agency !== agency) {
      throw new RangeError(
        `Bet agency mismatch: agency is ${bets[i].agency} (expected the batch's ${agency}) ` +
          `(in bet ${i + 1} of ${count})`,
      );
    }
  }
  const rows = rowEncoder.encode(bets.map(betToAgencyRow).join(""));
  const writer = startFrame(MessageType.BET_ROWS, BET_BATCH_HEADER_SIZE + rows.length);
  writer.u16(agency, "agency");
  writer.u32(batchId, "batchId");
  writer.u16(count, "count");
  writer.bytes(rows, "rows");
  return writer.finish();
}

/**
 * The rows of a BET_ROWS, parsed as an agency file is (`store/`'s parser): `count` records,
 * no more, no fewer. The reference the packed decoder (`bet_rows.ts`) agrees with.
 */
function decodeBetRows(cursor: ByteCursor, payload: Uint8Array): BetRowsMessage {
  const agency = cursor.u16("agency");
  const batchId = cursor.u32("batchId");
  const count = cursor.u16("count");
  if (count === 0) throw new ProtocolError("Empty BET_ROWS: count is 0 (expected 1..65535)");
  const rows = payload.slice(BET_BATCH_HEADER_SIZE);
  let parsed;
  try {
    parsed = new AgencyRowsParser().parse(rows, agency);
  } catch (error) {
    if (!(error instanceof CsvRowError)) throw error;
    throw new ProtocolError(badRowsReason(error.line, error.reason), { cause: error });
  }
  if (parsed.count !== count) throw new ProtocolError(rowCountReason(count, parsed.count));
  const bets = Array.from({ length: count }, (_, i) => unpackBet(parsed, i));
  return { type: MessageType.BET_ROWS, agency, batchId, bets };
}

/** Why rows do not parse: `Bad BET_ROWS row at line 3 of the batch: Expected 5 fields, got 4`. */
export function badRowsReason(line: number, reason: string): string {
  return `Bad BET_ROWS row at line ${line} of the batch: ${reason}`;
}

/** Why rows do not match their count. */
export function rowCountReason(count: number, rows: number): string {
  return `BET_ROWS count mismatch: the header says ${count} bets, the rows hold ${rows}`;
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

/** `bytes` when it is exactly `size` bytes long. */
function fixedSize(bytes: Uint8Array, size: number, field: string): Uint8Array {
  if (!(bytes instanceof Uint8Array) || bytes.length !== size) {
    throw new RangeError(
      `Field out of range: ${field} is ${
        bytes instanceof Uint8Array ? bytes.length : typeof bytes
      } bytes (expected ${size})`,
    );
  }
  return bytes;
}

/** A protocol version this codec speaks (1 or 2). */
function checkVersion(version: number): number {
  if (version !== VERSION && version !== UNAUTHENTICATED_VERSION) {
    throw new RangeError(
      `Field out of range: version is ${version} (expected ${UNAUTHENTICATED_VERSION} or ${VERSION})`,
    );
  }
  return version;
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
