/**
 * A framed conversation with the server over one connection: messages out,
 * the next message in as the type expected.
 *
 * @module
 */

import {
  ByteReader,
  clientProof,
  ConnectionClosedError,
  decodeMessage,
  encodeMessage,
  freshNonce,
  type HandshakeNonces,
  type Message,
  MessageType,
  messageTypeName,
  ProtocolError,
  readFrame,
  verifyServerProof,
  VERSION,
  writeAll,
} from "../../protocol/mod.ts";
import { AuthError, ServerError } from "./errors.ts";

/**
 * Longest wait for a reply the server sends at once (a BATCH_RESULT, DONE_ACK, the
 * handshake's frames); then the connection counts as dead and the run reconnects.
 */
export const REPLY_TIMEOUT_MS = 10_000;

function noReply(cause?: unknown): ConnectionClosedError {
  return new ConnectionClosedError(`No reply from the server in ${REPLY_TIMEOUT_MS / 1000}s`, {
    cause,
  });
}

/** A framed conversation with the server. */
export class Peer {
  #conn: Deno.Conn;
  #reader: ByteReader;
  #version: number;

  /**
   * Talks over `conn` (the caller closes it) in protocol `version`: 2 for an agency with a
   * key (after {@linkcode authenticate}), 1 without.
   */
  constructor(conn: Deno.Conn, version: number) {
    this.#conn = conn;
    this.#reader = new ByteReader(conn);
    this.#version = version;
  }

  /** Encodes and writes one message in the peer's version. */
  send(message: Message): Promise<void> {
    return writeAll(this.#conn, encodeMessage(message, { version: this.#version }));
  }

  /**
   * The handshake of protocol version 2: AUTH_HELLO with a fresh nonce, the server's
   * AUTH_CHALLENGE, AUTH_PROOF, then AUTH_OK, whose proof shows the server holds the key
   * too. The key itself never goes on the wire.
   *
   * @throws {ServerError} when the server refuses (UNAUTHENTICATED: wrong key, no key, ...)
   * @throws {AuthError} when the server's AUTH_OK does not prove it holds the key
   */
  async authenticate(agency: number, key: CryptoKey): Promise<void> {
    if (this.#version !== VERSION) throw new Error(`Handshake needs protocol version ${VERSION}`);
    const clientNonce = freshNonce();
    await this.send({ type: MessageType.AUTH_HELLO, agency, nonce: clientNonce });
    const challenge = await this.expect(MessageType.AUTH_CHALLENGE);
    const nonces: HandshakeNonces = { agency, clientNonce, serverNonce: challenge.nonce };
    await this.send({ type: MessageType.AUTH_PROOF, proof: await clientProof(key, nonces) });
    const ok = await this.expect(MessageType.AUTH_OK);
    if (!await verifyServerProof(key, ok.proof, nonces)) {
      throw new AuthError("The server's AUTH_OK does not prove it holds this agency's key");
    }
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
    // A reply the server sends at once is awaited REPLY_TIMEOUT_MS at most: a server killed
    // without its FIN reaching us (a container's network torn down with it) would otherwise
    // leave the client waiting forever on a connection nobody holds. The winners are exempt:
    // they wait for the draw, which waits for the other agencies.
    let timedOut = false;
    const timer = type === MessageType.WINNERS_REPLY ? undefined : setTimeout(() => {
      timedOut = true;
      try {
        this.#conn.close();
      } catch {
        // Already closed.
      }
    }, REPLY_TIMEOUT_MS);
    let frame;
    try {
      frame = await readFrame(this.#reader);
    } catch (error) {
      if (timedOut) throw noReply(error);
      throw error;
    } finally {
      clearTimeout(timer);
    }
    if (frame === null) {
      throw timedOut ? noReply() : new ConnectionClosedError("Server closed the connection");
    }
    const message = decodeMessage(frame);
    if (message.type === type) return message as Extract<Message, { type: T }>;
    if (message.type === MessageType.ERROR) throw new ServerError(message.code, message.reason);
    throw new ProtocolError(
      `Unexpected message: ${messageTypeName(message.type)} (expected ${messageTypeName(type)})`,
    );
  }
}
