/**
 * The server's side of the handshake (protocol version 2): the agencies' keys as WebCrypto
 * keys, {@linkcode AuthFailed}, the refusal of a connection that did not prove which
 * agency it speaks for, and {@linkcode Handshake}, one connection's AUTH_HELLO,
 * AUTH_CHALLENGE, AUTH_PROOF and AUTH_OK with its deadline. See docs/security.md.
 *
 * @module
 */

import {
  type AuthProofMessage,
  type ByteReader,
  decodeMessage,
  encodeMessage,
  ErrorCode,
  type Frame,
  freshNonce,
  type HandshakeNonces,
  importAgencyKey,
  MessageType,
  messageTypeName,
  ProtocolError,
  serverProof,
  UNAUTHENTICATED_VERSION,
  verifyClientProof,
  VERSION,
} from "../../protocol/mod.ts";
import type { Lottery } from "../../store/mod.ts";
import type { ServerConfig } from "../config/mod.ts";
import { log } from "../log.ts";
import { RequestFailed } from "./errors.ts";
import type { Outbox } from "./outbox.ts";

/** What the peer is told when its proof fails: nothing about why (no key, wrong key...). */
export const AUTH_FAILED_REASON = "Authentication failed: wrong key or unknown agency";

/** The agencies' keys, imported once at start (non-extractable HMAC-SHA-256 keys). */
export class AgencyKeyring {
  #keys: ReadonlyMap<number, CryptoKey>;

  private constructor(keys: ReadonlyMap<number, CryptoKey>) {
    this.#keys = keys;
  }

  /** Imports every raw 32-byte key. */
  static async from(raw: ReadonlyMap<number, Uint8Array>): Promise<AgencyKeyring> {
    const keys = new Map<number, CryptoKey>();
    for (const [agency, key] of raw) keys.set(agency, await importAgencyKey(key));
    return new AgencyKeyring(keys);
  }

  /** The key of `agency`, or `undefined` when it has none. */
  get(agency: number): CryptoKey | undefined {
    return this.#keys.get(agency);
  }
}

/**
 * A connection refused for want of authentication: ERROR UNAUTHENTICATED with `message`,
 * one `action: auth | result: fail` line with `logReason` (which never holds key material),
 * then the close.
 */
export class AuthFailed extends Error {
  /** The code sent back: UNAUTHENTICATED. */
  readonly code = ErrorCode.UNAUTHENTICATED;
  /** The agency the connection claimed, when it named one. */
  readonly agency: number | undefined;
  /** Why, for the operator's log line (may say more than the peer is told). */
  readonly logReason: string;

  /** Makes the refusal; `options.logReason` defaults to `message`. */
  constructor(message: string, options: { agency?: number; logReason?: string } = {}) {
    super(message);
    this.name = "AuthFailed";
    this.agency = options.agency;
    this.logReason = options.logReason ?? message;
  }
}

/**
 * The refusal of a lottery message before the handshake: a version-1 one is told that a
 * key is needed; a version-2 one that AUTH_HELLO comes first.
 */
export function notAuthenticated(frame: Frame): AuthFailed {
  const { type, payload } = frame;
  const names = type === MessageType.BET_BATCH || type === MessageType.BET_ROWS ||
    type === MessageType.AGENCY_DONE ||
    type === MessageType.WINNERS_QUERY;
  const agency = names && payload.length >= 2 ? (payload[0] << 8) | payload[1] : undefined;
  const what = messageTypeName(type);
  if (frame.version === UNAUTHENTICATED_VERSION) {
    return new AuthFailed(
      `Agency key required: this server authenticates agencies (protocol version ` +
        `${VERSION}), ${what} in version ${UNAUTHENTICATED_VERSION} refused`,
      { agency },
    );
  }
  return new AuthFailed(`Not authenticated: ${what} before the handshake (AUTH_HELLO)`, {
    agency,
  });
}

/** What a connection's {@linkcode Handshake} works with. */
export interface HandshakeOptions {
  /** The agencies' keys: without them the server does not authenticate (and sets no deadline). */
  keyring: AgencyKeyring | undefined;
  lottery: Lottery;
  /** The handshake deadline. */
  config: Pick<ServerConfig, "authTimeout" | "authTimeoutMs">;
  /** Where the replies go, in order. */
  outbox: Outbox;
  /** The peer's address, for the log. */
  ip: string;
  /** The next frame (under the read timeout), or null at a clean end of stream. */
  nextFrame(reader: ByteReader): Promise<Frame | null>;
  /** Whether there is room for one more authenticated connection (false refuses it: BUSY). */
  admit(): boolean;
  /** Binds the connection to `agency` (its first one). */
  bindAgency(agency: number): void;
  /** Closes the connection for `reason` (the deadline or an eviction): its one line is its own. */
  onExpire(reason: string): void;
}

/** One connection's handshake: its deadline, the exchange, and whether it succeeded. */
export class Handshake {
  #options: HandshakeOptions;
  /** Whether the handshake succeeded (always false without keys). */
  #authenticated = false;
  /** Closes a connection with keys that has not authenticated in time (or was evicted). */
  #authTimer: ReturnType<typeof setTimeout> | undefined;
  /** Why the handshake deadline or an eviction closed the connection. */
  #authExpired?: string;

  /** With keys, starts the deadline (AUTH_TIMEOUT) at once. */
  constructor(options: HandshakeOptions) {
    this.#options = options;
    if (options.keyring !== undefined) {
      const { authTimeout, authTimeoutMs } = options.config;
      this.#authTimer = setTimeout(
        () => this.expire(`no handshake within AUTH_TIMEOUT (${authTimeout})`),
        authTimeoutMs,
      );
    }
  }

  /** Whether the connection proved its agency (its handshake is over). */
  get authenticated(): boolean {
    return this.#authenticated;
  }

  /** Why the deadline or an eviction closed the connection, if either did. */
  get expired(): string | undefined {
    return this.#authExpired;
  }

  /** Closes a connection that has not authenticated, for `reason` (once). */
  expire(reason: string): void {
    if (this.#authenticated || this.#authExpired !== undefined) return;
    this.#authExpired = reason;
    this.stopDeadline();
    this.#options.onExpire(reason);
  }

  /** Clears the deadline (the handshake is over or not needed). */
  stopDeadline(): void {
    clearTimeout(this.#authTimer);
    this.#authTimer = undefined;
  }

  /**
   * Before a frame other than AUTH_HELLO is dispatched: ECHO needs no handshake; any other
   * frame without one is refused.
   *
   * @throws {AuthFailed} for a lottery message before the handshake
   */
  screen(frame: Frame): void {
    if (frame.type === MessageType.ECHO) {
      // ECHO needs no handshake in either version: it never reaches the lottery.
      this.stopDeadline();
    } else if (this.#options.keyring !== undefined && !this.#authenticated) {
      throw notAuthenticated(frame);
    }
  }

  /**
   * The handshake, from its AUTH_HELLO: AUTH_CHALLENGE with a fresh nonce, the agency's
   * AUTH_PROOF checked in constant time, then AUTH_OK with the server's own proof. The
   * connection then speaks for that agency only.
   *
   * @throws {AuthFailed} without keys, for another version, an agency without a key or a
   *   proof that does not hold (the peer learns nothing about which)
   */
  async authenticate(frame: Frame, reader: ByteReader): Promise<void> {
    const hello = decodeMessage(frame);
    if (hello.type !== MessageType.AUTH_HELLO) throw new Error("Unreachable: not AUTH_HELLO");
    const agency = hello.agency;
    const keyring = this.#options.keyring;
    if (keyring === undefined) {
      throw new AuthFailed(
        "This server does not authenticate agencies (it has no keys): connect without a key",
        { agency },
      );
    }
    if (this.#authenticated) {
      throw new ProtocolError(`Handshake twice on one connection: agency ${agency}`, {
        code: ErrorCode.OUT_OF_ORDER,
      });
    }
    if (frame.version !== VERSION) {
      throw new AuthFailed(`AUTH_HELLO is protocol version ${VERSION}`, { agency });
    }
    const lottery = this.#options.lottery;
    if (!lottery.isAgency(agency)) {
      throw new AuthFailed(`Invalid agency: ${agency} (expected 1..${lottery.agencies})`, {
        agency,
      });
    }
    // Computed before any answer: an agency without a key costs what a wrong key does.
    const key = keyring.get(agency);
    const nonces: HandshakeNonces = {
      agency,
      clientNonce: hello.nonce,
      serverNonce: freshNonce(),
    };
    this.#options.outbox.send(
      encodeMessage({ type: MessageType.AUTH_CHALLENGE, nonce: nonces.serverNonce }),
    );
    const proof = await this.#readProof(reader, agency);
    if (key === undefined || !await verifyClientProof(key, proof.proof, nonces)) {
      throw new AuthFailed(AUTH_FAILED_REASON, {
        agency,
        logReason: key === undefined ? `no key for agency ${agency}` : "proof does not match",
      });
    }
    if (!this.#options.admit()) {
      throw new RequestFailed("Too many connections: try again later", {
        code: ErrorCode.BUSY,
      });
    }
    this.#authenticated = true;
    this.stopDeadline();
    this.#options.bindAgency(agency);
    this.#options.outbox.send(
      encodeMessage({ type: MessageType.AUTH_OK, proof: await serverProof(key, nonces) }),
    );
    log.info({ action: "auth", result: "success", ip: this.#options.ip, agency });
  }

  /** The frame after AUTH_CHALLENGE: it must be a version-2 AUTH_PROOF. */
  async #readProof(reader: ByteReader, agency: number): Promise<AuthProofMessage> {
    await this.#options.outbox.flush();
    const frame = await this.#options.nextFrame(reader);
    if (frame === null) {
      throw new AuthFailed("Connection closed during the handshake", { agency });
    }
    if (frame.type !== MessageType.AUTH_PROOF || frame.version !== VERSION) {
      throw new AuthFailed(
        `Expected AUTH_PROOF (version ${VERSION}), got ${messageTypeName(frame.type)} ` +
          `(version ${frame.version})`,
        { agency },
      );
    }
    return decodeMessage(frame) as AuthProofMessage;
  }
}
