/**
 * The vocabulary of the tp0 binary wire protocol: frame header, size limits, message type
 * codes, error codes, and the typed shape of every message ({@linkcode Message}).
 *
 * Every frame, all integers big-endian:
 *
 * | offset | size | field   | value                                                  |
 * | ------ | ---- | ------- | ------------------------------------------------------ |
 * | 0      | 1    | magic   | `0xB7` (a UTF-8 continuation byte: never starts text)  |
 * | 1      | 1    | version | `0x02` ({@linkcode VERSION}; `0x01` without a key)     |
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
 * | `0x16` | BET_ROWS      | c -> s    | agency u16, batchId u32, count u16 (>= 1), count x CSV row |
 * | `0x20` | AUTH_HELLO    | c -> s    | agency u16, client nonce (32 bytes)                       |
 * | `0x21` | AUTH_CHALLENGE| s -> c    | server nonce (32 bytes)                                   |
 * | `0x22` | AUTH_PROOF    | c -> s    | HMAC-SHA-256 (32 bytes), see `auth.ts`                    |
 * | `0x23` | AUTH_OK       | s -> c    | the server's HMAC-SHA-256 (32 bytes), see `auth.ts`       |
 * | `0x7F` | ERROR         | s -> c    | code u8, reason UTF-8 (rest); the server closes after it  |
 *
 * A bet inside BET_BATCH: firstName str8 (UTF-8), lastName str8 (UTF-8), document str8
 * (ASCII), birthdate str8 (ASCII), number u32. Its agency is the batch's.
 *
 * BET_ROWS carries the same bets as the agency file's own records (what tp0's client
 * sends): `first_name,last_name,document,birthdate,number`, RFC 4180 quoting, UTF-8, each
 * ended by LF (CRLF accepted; the last may lack it). The server parses them; rows that do
 * not parse get a BATCH_RESULT MALFORMED and use no batch id.
 *
 * Each payload as a typed value is a {@linkcode Message}; `messages.ts` turns one into the
 * other.
 *
 * @module
 */

import type { Bet } from "../store/mod.ts";

/** First byte of every binary frame. */
export const MAGIC = 0xb7;
/**
 * Protocol version carried in byte 1 of every frame an agency with a key sends: version 2
 * adds the handshake (AUTH_HELLO ... AUTH_OK) that authenticates the agency.
 */
export const VERSION = 2;
/**
 * The version of an agency without a key (the course's flow): no handshake; only a server
 * without agency keys accepts its lottery messages.
 */
export const UNAUTHENTICATED_VERSION = 1;
/** Bytes of a handshake nonce (AUTH_HELLO, AUTH_CHALLENGE). */
export const NONCE_SIZE = 32;
/** Bytes of an HMAC-SHA-256 proof (AUTH_PROOF, AUTH_OK). */
export const PROOF_SIZE = 32;
/** Bytes of an agency key: 256 random bits. */
export const AGENCY_KEY_SIZE = 32;
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
  /** client -> server; agency u16, batchId u32, count u16 (>= 1), count x agency-file CSV row. */
  BET_ROWS: 0x16,
  /** client -> server; agency u16, client nonce (32 bytes): starts the handshake. */
  AUTH_HELLO: 0x20,
  /** server -> client; server nonce (32 bytes). */
  AUTH_CHALLENGE: 0x21,
  /** client -> server; HMAC-SHA-256 of the agency and both nonces under the agency key. */
  AUTH_PROOF: 0x22,
  /** server -> client; the server's HMAC-SHA-256 of both nonces: it holds the key too. */
  AUTH_OK: 0x23,
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
  UNAUTHENTICATED: 11,
} as const;

/** One of the {@linkcode ErrorCode} values. */
export type ErrorCodeValue = typeof ErrorCode[keyof typeof ErrorCode];

/** Flag bit of WINNERS_REPLY marking the last frame of a reply. */
export const WINNERS_FLAG_LAST = 0x01;
/** Bytes of the BET_BATCH payload before its bets: agency u16 + batchId u32 + count u16. */
export const BET_BATCH_HEADER_SIZE = 8;
/** Bytes of the WINNERS_REPLY payload before its documents: flags u8 + count u16. */
export const WINNERS_REPLY_HEADER_SIZE = 3;
/** Most bets a BET_BATCH count (u16) can carry. */
export const MAX_BATCH_COUNT = 0xffff;

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

/**
 * BET_ROWS (client -> server): the bets of BET_BATCH as agency-file CSV records. The same
 * shape, decoded: on the wire each bet is one row, `first_name,last_name,document,birthdate,number`.
 */
export interface BetRowsMessage {
  /** {@linkcode MessageType.BET_ROWS} */
  type: typeof MessageType.BET_ROWS;
  /** Agency number, u16; every bet's agency. */
  agency: number;
  /** Batch sequence number chosen by the client, u32; echoed in BATCH_RESULT. */
  batchId: number;
  /** 1 to 65535 bets, as many rows as fit 8192 bytes. */
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

/** AUTH_HELLO (client -> server): the agency it speaks for and a fresh nonce. */
export interface AuthHelloMessage {
  /** {@linkcode MessageType.AUTH_HELLO} */
  type: typeof MessageType.AUTH_HELLO;
  /** Agency number, u16. */
  agency: number;
  /** {@linkcode NONCE_SIZE} random bytes, fresh for each connection. */
  nonce: Uint8Array;
}

/** AUTH_CHALLENGE (server -> client): the server's fresh nonce. */
export interface AuthChallengeMessage {
  /** {@linkcode MessageType.AUTH_CHALLENGE} */
  type: typeof MessageType.AUTH_CHALLENGE;
  /** {@linkcode NONCE_SIZE} random bytes, fresh for each connection. */
  nonce: Uint8Array;
}

/** AUTH_PROOF (client -> server): the agency's HMAC-SHA-256 over both nonces. */
export interface AuthProofMessage {
  /** {@linkcode MessageType.AUTH_PROOF} */
  type: typeof MessageType.AUTH_PROOF;
  /** {@linkcode PROOF_SIZE} bytes. */
  proof: Uint8Array;
}

/** AUTH_OK (server -> client): the server's HMAC-SHA-256 over both nonces. */
export interface AuthOkMessage {
  /** {@linkcode MessageType.AUTH_OK} */
  type: typeof MessageType.AUTH_OK;
  /** {@linkcode PROOF_SIZE} bytes. */
  proof: Uint8Array;
}

/** Every message of the protocol, told apart by its numeric `type`. */
export type Message =
  | EchoMessage
  | EchoReplyMessage
  | BetBatchMessage
  | BetRowsMessage
  | BatchResultMessage
  | AgencyDoneMessage
  | DoneAckMessage
  | WinnersQueryMessage
  | WinnersReplyMessage
  | AuthHelloMessage
  | AuthChallengeMessage
  | AuthProofMessage
  | AuthOkMessage
  | ErrorMessage;
