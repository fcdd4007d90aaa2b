/**
 * The tp0 binary wire protocol: frame constants and codes, errors, framing over a byte
 * stream, and typed messages. See `types.ts` for the byte layout of every frame and
 * message.
 *
 * Layers, bottom to top: `codec.ts` (pure bytes) -> `framing.ts` (frames over a stream)
 * -> `messages.ts` (typed encode/decode).
 *
 * @example
 * ```ts ignore
 * import { ByteReader, decodeMessage, encodeMessage, MessageType, readFrame, writeAll }
 *   from "./protocol/mod.ts";
 *
 * await writeAll(conn, encodeMessage({ type: MessageType.AGENCY_DONE, agency: 1 }));
 * const frame = await readFrame(new ByteReader(conn));
 * if (frame !== null) console.log(decodeMessage(frame));
 * ```
 *
 * @module
 */

export {
  ErrorCode,
  type ErrorCodeValue,
  HEADER_SIZE,
  MAGIC,
  MAX_FRAME_SIZE,
  MAX_PAYLOAD_SIZE,
  MAX_STRING_BYTES,
  MessageType,
  type MessageTypeCode,
  messageTypeName,
  toHexByte,
  VERSION,
  WINNERS_FLAG_LAST,
} from "./types.ts";
export {
  ConnectionClosedError,
  errorCodeName,
  ProtocolError,
  type ProtocolErrorOptions,
  toConnectionError,
} from "./errors.ts";
export {
  ByteReader,
  type ByteReaderOptions,
  type ByteSink,
  type ByteSource,
  DEFAULT_BUFFER_SIZE,
  encodeFrame,
  type Frame,
  readFrame,
  type ReadFrameOptions,
  writeAll,
} from "./framing.ts";
export {
  type AgencyDoneMessage,
  type BatchResultMessage,
  BET_BATCH_HEADER_SIZE,
  BetBatchEncoder,
  type BetBatchEncoderOptions,
  type BetBatchMessage,
  type DecodeBetBatchOptions,
  decodeBetBatchPacked,
  decodeMessage,
  type DoneAckMessage,
  type EchoMessage,
  type EchoReplyMessage,
  encodedBetSize,
  encodeMessage,
  encodeWinnersReplies,
  type ErrorMessage,
  MAX_BATCH_COUNT,
  type Message,
  type PackedBetBatch,
  WINNERS_REPLY_HEADER_SIZE,
  type WinnersQueryMessage,
  type WinnersReplyMessage,
} from "./messages.ts";
