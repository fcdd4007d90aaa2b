/**
 * The tp0 binary wire protocol: frame constants and codes, errors, framing over a byte
 * stream, and typed messages. See `types.ts` for the byte layout of every frame and
 * message.
 *
 * Layers, bottom to top: `types.ts` (codes, sizes and the shape of every message) ->
 * `codec.ts` (pure bytes) -> `framing.ts` (frames over a stream) -> `messages.ts` (typed
 * encode/decode) -> `bet_batch.ts` (BET_BATCH packed, for the hot paths) and `bet_rows.ts`
 * (BET_ROWS: the agency file's records, what the client sends); `auth.ts` the handshake's
 * nonces and HMAC proofs (WebCrypto).
 *
 * @example
 * ```ts ignore
 * import { ByteReader, decodeMessage, encodeMessage, MessageType, readFrame, writeAll }
 *   from "../protocol/mod.ts"; // from a folder beside protocol/
 *
 * await writeAll(conn, encodeMessage({ type: MessageType.AGENCY_DONE, agency: 1 }));
 * const frame = await readFrame(new ByteReader(conn));
 * if (frame !== null) console.log(decodeMessage(frame));
 * ```
 *
 * @module
 */

export {
  AGENCY_KEY_SIZE,
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
  NONCE_SIZE,
  PROOF_SIZE,
  toHexByte,
  UNAUTHENTICATED_VERSION,
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
  type AuthChallengeMessage,
  type AuthHelloMessage,
  type AuthOkMessage,
  type AuthProofMessage,
  type BatchResultMessage,
  BET_BATCH_HEADER_SIZE,
  type BetBatchMessage,
  type BetRowsMessage,
  type DoneAckMessage,
  type EchoMessage,
  type EchoReplyMessage,
  type ErrorMessage,
  MAX_BATCH_COUNT,
  type Message,
  WINNERS_REPLY_HEADER_SIZE,
  type WinnersQueryMessage,
  type WinnersReplyMessage,
} from "./types.ts";
export {
  decodeMessage,
  encodedBetSize,
  encodeMessage,
  type EncodeOptions,
  encodeWinnersReplies,
} from "./messages.ts";
export {
  clientProof,
  freshNonce,
  type HandshakeNonces,
  importAgencyKey,
  newAgencyKeyHex,
  parseAgencyKey,
  serverProof,
  verifyClientProof,
  verifyServerProof,
} from "./auth.ts";
export {
  type DecodeBetBatchOptions,
  decodeBetBatchPacked,
  type PackedBetBatch,
} from "./bet_batch.ts";
export {
  BadRowsError,
  BetRowsEncoder,
  type BetRowsEncoderOptions,
  decodeBetRowsPacked,
  MAX_ROW_BYTES,
  type RecordRuns,
} from "./bet_rows.ts";
