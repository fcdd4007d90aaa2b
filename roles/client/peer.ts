/**
 * A framed conversation with the server over one connection: messages out,
 * the next message in as the type expected.
 *
 * @module
 */

import {
  ByteReader,
  ConnectionClosedError,
  decodeMessage,
  encodeMessage,
  type Message,
  MessageType,
  messageTypeName,
  ProtocolError,
  readFrame,
  writeAll,
} from "../../protocol/mod.ts";
import { ServerError } from "./errors.ts";

/** A framed conversation with the server. */
export class Peer {
  #conn: Deno.Conn;
  #reader: ByteReader;

  /** Talks over `conn` (the caller closes it). */
  constructor(conn: Deno.Conn) {
    this.#conn = conn;
    this.#reader = new ByteReader(conn);
  }

  /** Encodes and writes one message. */
  send(message: Message): Promise<void> {
    return writeAll(this.#conn, encodeMessage(message));
  }

  /** Writes frames already encoded, every byte. */
  write(bytes: Uint8Array): Promise<void> {
    return writeAll(this.#conn, bytes);
  }

  /**
   * Reads the next message; it must be of `type`.
   *
   * @throws {ServerError} for an ERROR frame, {@linkcode ConnectionClosedError}
   *   at the end of the stream, {@linkcode ProtocolError} for another type.
   */
  async expect<T extends Message["type"]>(type: T): Promise<Extract<Message, { type: T }>> {
    const frame = await readFrame(this.#reader);
    if (frame === null) throw new ConnectionClosedError("Server closed the connection");
    const message = decodeMessage(frame);
    if (message.type === type) return message as Extract<Message, { type: T }>;
    if (message.type === MessageType.ERROR) throw new ServerError(message.code, message.reason);
    throw new ProtocolError(
      `Unexpected message: ${messageTypeName(message.type)} (expected ${messageTypeName(type)})`,
    );
  }
}
