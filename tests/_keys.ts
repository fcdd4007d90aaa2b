/**
 * Agency keys for tests: a keys file for the server and one key file an agency, written
 * into a test's folder with mode 600, and raw handshakes for impostors.
 */

import {
  type ByteReader,
  clientProof,
  decodeMessage,
  encodeMessage,
  freshNonce,
  MessageType,
  readFrame,
} from "../protocol/mod.ts";

export { cryptoKey, type TestKeys, writeKeys } from "../tools/agency_keys.ts";

/**
 * The client's half of a handshake over an open connection: AUTH_HELLO for `agency`, the
 * challenge read, AUTH_PROOF under `key` (or the proof `forge` makes); returns the bytes
 * the client sent and the server's next message (AUTH_OK, ERROR, or null when closed).
 */
export async function handshake(
  io: { write(bytes: Uint8Array): Promise<void>; reader: ByteReader },
  options: {
    agency: number;
    key: CryptoKey;
    forge?: (serverNonce: Uint8Array, clientNonce: Uint8Array) => Promise<Uint8Array>;
  },
): Promise<{ sent: Uint8Array[]; reply: ReturnType<typeof decodeMessage> | null }> {
  const { agency, key } = options;
  const clientNonce = freshNonce();
  const hello = encodeMessage({ type: MessageType.AUTH_HELLO, agency, nonce: clientNonce });
  await io.write(hello);
  const challengeFrame = await readFrame(io.reader);
  if (challengeFrame === null) return { sent: [hello], reply: null };
  const challenge = decodeMessage(challengeFrame);
  if (challenge.type !== MessageType.AUTH_CHALLENGE) return { sent: [hello], reply: challenge };
  const proof = options.forge
    ? await options.forge(challenge.nonce, clientNonce)
    : await clientProof(key, { agency, clientNonce, serverNonce: challenge.nonce });
  const proofFrame = encodeMessage({ type: MessageType.AUTH_PROOF, proof });
  await io.write(proofFrame);
  const replyFrame = await readFrame(io.reader);
  return {
    sent: [hello, proofFrame],
    reply: replyFrame === null ? null : decodeMessage(replyFrame),
  };
}
