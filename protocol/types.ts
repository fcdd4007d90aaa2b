/**
 * Constants of the tp0 binary wire protocol: frame header, size limits, message type codes
 * and error codes.
 *
 * Every frame, all integers big-endian:
 *
 * | offset | size | field   | value                                                  |
 * | ------ | ---- | ------- | ------------------------------------------------------ |
 * | 0      | 1    | magic   | `0xB7` (a UTF-8 continuation byte: never starts text)  |
 * | 1      | 1    | version | `0x01`                                                 |
 * | 2      | 1    | type    | {@linkcode MessageType}                                |
 * | 3      | 2    | length  | payload length, `0..8187` (u16)                        |
 * | 5      | n    | payload | depends on the type (below)                            |
 *
 * A whole frame is at most {@linkcode MAX_FRAME_SIZE} (8192) bytes.
 *
 * Payloads (`str8` = u8 byte length + that many bytes; "rest" = up to the payload end):
 *
 * | type   | name          | direction | payload                                                   |
 * | ------ | ------------- | --------- | --------------------------------------------------------- |
 * | `0x01` | ECHO          | c -> s    | text: UTF-8 (rest)                                        |
 * | `0x02` | ECHO_REPLY    | s -> c    | text: UTF-8 (rest), the same text                         |
 * | `0x10` | BET_BATCH     | c -> s    | agency u16, batchId u32, count u16 (>= 1), count x bet    |
 * | `0x11` | BATCH_RESULT  | s -> c    | batchId u32, code u8 ({@linkcode ErrorCode}), reason UTF-8 (rest) |
 * | `0x12` | AGENCY_DONE   | c -> s    | agency u16                                                |
 * | `0x13` | DONE_ACK      | s -> c    | agency u16                                                |
 * | `0x14` | WINNERS_QUERY | c -> s    | agency u16                                                |
 * | `0x15` | WINNERS_REPLY | s -> c    | flags u8 (bit0 LAST), count u16, count x document str8    |
 * | `0x7F` | ERROR         | s -> c    | code u8, reason UTF-8 (rest); the server closes after it  |
 *
 * A bet inside BET_BATCH: firstName str8 (UTF-8), lastName str8 (UTF-8), document str8
 * (ASCII), birthdate str8 (ASCII), number u32. Its agency is the batch's.
 *
 * @module
 */

/** First byte of every binary frame. */
export const MAGIC = 0xb7;
/** Protocol version carried in byte 1 of every frame. */
export const VERSION = 1;
/** Bytes of the frame header: magic, version, type, u16 length. */
export const HEADER_SIZE = 5;
/** Largest whole frame, header included. */
export const MAX_FRAME_SIZE = 8192;
/** Largest payload: {@linkcode MAX_FRAME_SIZE} minus {@linkcode HEADER_SIZE}. */
export const MAX_PAYLOAD_SIZE = MAX_FRAME_SIZE - HEADER_SIZE;
/** Longest string inside a payload that carries a u8 length prefix. */
export const MAX_STRING_BYTES = 255;

/** Message type codes (byte 2 of the frame header). */
export const MessageType = {
  /** client -> server; payload: UTF-8 text. */
  ECHO: 0x01,
  /** server -> client; payload: the same UTF-8 text. */
  ECHO_REPLY: 0x02,
  /** client -> server; agency u16, batchId u32, count u16 (>= 1), count x bet. */
  BET_BATCH: 0x10,
  /** server -> client; batchId u32, code u8 (0 = OK), reason UTF-8. */
  BATCH_RESULT: 0x11,
  /** client -> server; agency u16: this agency has sent all its bets. */
  AGENCY_DONE: 0x12,
  /** server -> client; agency u16. */
  DONE_ACK: 0x13,
  /** client -> server; agency u16. */
  WINNERS_QUERY: 0x14,
  /** server -> client; flags u8 (bit0 LAST), count u16, count x (u8 len + ASCII document). */
  WINNERS_REPLY: 0x15,
  /** server -> client; code u8, reason UTF-8; the server closes the connection after it. */
  ERROR: 0x7f,
} as const;

/** One of the {@linkcode MessageType} codes. */
export type MessageTypeCode = typeof MessageType[keyof typeof MessageType];

/** Result and error codes carried by BATCH_RESULT and ERROR. */
export const ErrorCode = {
  OK: 0,
  INVALID_BET: 1,
  BAD_AGENCY: 2,
  OUT_OF_ORDER: 3,
  MALFORMED: 4,
  UNSUPPORTED_VERSION: 5,
  UNKNOWN_TYPE: 6,
  STORAGE: 7,
  SHUTTING_DOWN: 8,
  BUSY: 9,
  TIMEOUT: 10,
} as const;

/** One of the {@linkcode ErrorCode} values. */
export type ErrorCodeValue = typeof ErrorCode[keyof typeof ErrorCode];

/** Flag bit of WINNERS_REPLY marking the last frame of a reply. */
export const WINNERS_FLAG_LAST = 0x01;

const MESSAGE_TYPE_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(MessageType).map(([name, code]) => [code, name]),
);

/**
 * Name of a message type code for logs and error messages, e.g. `0x10` -> `"BET_BATCH"`;
 * an unknown code gives its hex form, e.g. `"0x42"`.
 */
export function messageTypeName(type: number): string {
  return MESSAGE_TYPE_NAMES.get(type) ?? toHexByte(type);
}

/** Formats a byte as `0x` and two lowercase hex digits, e.g. `0xb7`. */
export function toHexByte(value: number): string {
  return `0x${value.toString(16).padStart(2, "0")}`;
}
