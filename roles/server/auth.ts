/**
 * The server's side of the handshake (protocol version 2): the agencies' keys as WebCrypto
 * keys, and {@linkcode AuthFailed}, the refusal of a connection that did not prove which
 * agency it speaks for. See docs/security.md.
 *
 * @module
 */

import { ErrorCode, importAgencyKey } from "../../protocol/mod.ts";

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
