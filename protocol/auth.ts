/**
 * The handshake's cryptography (protocol version 2): fresh nonces, the agency's proof and
 * the server's answer, both HMAC-SHA-256 through WebCrypto under the agency's 256-bit key,
 * and their verification in constant time (`crypto.subtle.verify`).
 *
 * ```text
 * client proof = HMAC(key, "tp0 auth v2 client" 0x00 · agency u16 · client nonce · server nonce)
 * server proof = HMAC(key, "tp0 auth v2 server" 0x00 · agency u16 · client nonce · server nonce)
 * ```
 *
 * The two context strings differ, so neither side's proof can be reflected as the other's;
 * both nonces are in each, so a proof recorded on one connection is worth nothing on another.
 *
 * @module
 */

import { AGENCY_KEY_SIZE, NONCE_SIZE } from "./types.ts";

const CLIENT_CONTEXT = new TextEncoder().encode("tp0 auth v2 client\0");
const SERVER_CONTEXT = new TextEncoder().encode("tp0 auth v2 server\0");
const HMAC = { name: "HMAC", hash: "SHA-256" } as const;

/** What both proofs of one handshake cover. */
export interface HandshakeNonces {
  /** The agency named in AUTH_HELLO. */
  agency: number;
  /** The client's nonce, from AUTH_HELLO. */
  clientNonce: Uint8Array;
  /** The server's nonce, from AUTH_CHALLENGE. */
  serverNonce: Uint8Array;
}

/** {@linkcode NONCE_SIZE} fresh random bytes (`crypto.getRandomValues`). */
export function freshNonce(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(NONCE_SIZE));
}

/**
 * An agency key as a non-extractable WebCrypto HMAC-SHA-256 key.
 * @throws {RangeError} when `raw` is not {@linkcode AGENCY_KEY_SIZE} bytes
 */
export function importAgencyKey(raw: Uint8Array): Promise<CryptoKey> {
  if (raw.length !== AGENCY_KEY_SIZE) {
    throw new RangeError(`Invalid agency key: ${raw.length} bytes (expected ${AGENCY_KEY_SIZE})`);
  }
  return crypto.subtle.importKey("raw", raw.slice(), HMAC, false, ["sign", "verify"]);
}

/** The agency's AUTH_PROOF. */
export async function clientProof(key: CryptoKey, nonces: HandshakeNonces): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign(HMAC, key, signed(CLIENT_CONTEXT, nonces)));
}

/** The server's AUTH_OK proof. */
export async function serverProof(key: CryptoKey, nonces: HandshakeNonces): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign(HMAC, key, signed(SERVER_CONTEXT, nonces)));
}

/** Whether `proof` is the agency's AUTH_PROOF for these nonces (constant time). */
export function verifyClientProof(
  key: CryptoKey,
  proof: Uint8Array,
  nonces: HandshakeNonces,
): Promise<boolean> {
  return crypto.subtle.verify(HMAC, key, proof.slice(), signed(CLIENT_CONTEXT, nonces));
}

/** Whether `proof` is the server's AUTH_OK for these nonces (constant time). */
export function verifyServerProof(
  key: CryptoKey,
  proof: Uint8Array,
  nonces: HandshakeNonces,
): Promise<boolean> {
  return crypto.subtle.verify(HMAC, key, proof.slice(), signed(SERVER_CONTEXT, nonces));
}

/**
 * Reads an agency key written as 64 hex digits (either case, surrounding white space
 * ignored): the bytes, or `undefined` when the text is not one.
 */
export function parseAgencyKey(text: string): Uint8Array | undefined {
  const hex = text.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) return undefined;
  const key = new Uint8Array(AGENCY_KEY_SIZE);
  for (let i = 0; i < AGENCY_KEY_SIZE; i++) key[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return key;
}

/** A fresh agency key (256 random bits) as 64 lowercase hex digits. */
export function newAgencyKeyHex(): string {
  const key = crypto.getRandomValues(new Uint8Array(AGENCY_KEY_SIZE));
  return Array.from(key, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function signed(context: Uint8Array, nonces: HandshakeNonces): Uint8Array<ArrayBuffer> {
  const { agency, clientNonce, serverNonce } = nonces;
  const data = new Uint8Array(context.length + 2 + clientNonce.length + serverNonce.length);
  data.set(context);
  data[context.length] = agency >>> 8;
  data[context.length + 1] = agency & 0xff;
  data.set(clientNonce, context.length + 2);
  data.set(serverNonce, context.length + 2 + clientNonce.length);
  return data;
}
