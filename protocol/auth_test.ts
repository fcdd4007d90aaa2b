import assert from "node:assert/strict";
import {
  clientProof,
  freshNonce,
  importAgencyKey,
  newAgencyKeyHex,
  parseAgencyKey,
  serverProof,
  verifyClientProof,
  verifyServerProof,
} from "./auth.ts";
import { decodeMessage, encodeMessage } from "./messages.ts";
import { ErrorCode, MessageType } from "./types.ts";

const KEY = parseAgencyKey("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")!;

Deno.test("clientProof() verifies for its nonces and agency only, and is not the server's proof", async () => {
  const key = await importAgencyKey(KEY);
  const nonces = { agency: 2, clientNonce: freshNonce(), serverNonce: freshNonce() };
  const proof = await clientProof(key, nonces);
  assert.equal(proof.length, 32);
  assert.ok(await verifyClientProof(key, proof, nonces));
  assert.ok(!await verifyClientProof(key, proof, { ...nonces, agency: 3 }));
  assert.ok(!await verifyClientProof(key, proof, { ...nonces, serverNonce: freshNonce() }));
  assert.ok(!await verifyClientProof(key, proof, { ...nonces, clientNonce: freshNonce() }));
  const other = await importAgencyKey(parseAgencyKey(newAgencyKeyHex())!);
  assert.ok(!await verifyClientProof(other, proof, nonces));
  // The two context strings differ: a client proof is no server proof (no reflection).
  assert.ok(!await verifyServerProof(key, proof, nonces));
  assert.ok(await verifyServerProof(key, await serverProof(key, nonces), nonces));
  const flipped = proof.slice();
  flipped[31] ^= 1;
  assert.ok(!await verifyClientProof(key, flipped, nonces));
});

Deno.test("freshNonce() gives 32 new bytes each time", () => {
  assert.equal(freshNonce().length, 32);
  assert.notDeepEqual(freshNonce(), freshNonce());
});

Deno.test("parseAgencyKey() reads 64 hex digits (a trailing newline is fine) and nothing else", () => {
  assert.deepEqual(parseAgencyKey(`${"aB".repeat(32)}\n`), new Uint8Array(32).fill(0xab));
  for (const bad of ["", "ab", "g".repeat(64), "a".repeat(63), "a".repeat(65), "aa aa"]) {
    assert.equal(parseAgencyKey(bad), undefined, bad);
  }
  assert.match(newAgencyKeyHex(), /^[0-9a-f]{64}$/);
  assert.throws(() => importAgencyKey(new Uint8Array(16)), RangeError);
});

Deno.test("the handshake frames round-trip and have the documented layout", () => {
  const nonce = Uint8Array.from({ length: 32 }, (_, i) => i);
  const hello = encodeMessage({ type: MessageType.AUTH_HELLO, agency: 2, nonce });
  assert.deepEqual(Array.from(hello.subarray(0, 7)), [0xb7, 0x02, 0x20, 0x00, 0x22, 0x00, 0x02]);
  assert.equal(hello.length, 5 + 34);
  assert.deepEqual(decodeMessage({ type: hello[2], payload: hello.subarray(5) }), {
    type: MessageType.AUTH_HELLO,
    agency: 2,
    nonce,
  });
  for (const type of [MessageType.AUTH_PROOF, MessageType.AUTH_OK] as const) {
    const frame = encodeMessage({ type, proof: nonce });
    assert.equal(frame.length, 37);
    assert.deepEqual(decodeMessage({ type, payload: frame.subarray(5) }), { type, proof: nonce });
  }
  const challenge = encodeMessage({ type: MessageType.AUTH_CHALLENGE, nonce });
  assert.deepEqual(decodeMessage({ type: challenge[2], payload: challenge.subarray(5) }), {
    type: MessageType.AUTH_CHALLENGE,
    nonce,
  });
  assert.equal(ErrorCode.UNAUTHENTICATED, 11);
});

Deno.test("the handshake frames refuse a nonce or proof of another size", () => {
  assert.throws(
    () => encodeMessage({ type: MessageType.AUTH_HELLO, agency: 1, nonce: new Uint8Array(31) }),
    { name: "RangeError", message: "Field out of range: nonce is 31 bytes (expected 32)" },
  );
  assert.throws(() => encodeMessage({ type: MessageType.AUTH_OK, proof: new Uint8Array(33) }));
  for (const [type, size] of [[0x20, 33], [0x20, 35], [0x21, 31], [0x22, 33], [0x23, 0]]) {
    assert.throws(() => decodeMessage({ type, payload: new Uint8Array(size) }), {
      name: "ProtocolError",
      code: ErrorCode.MALFORMED,
    });
  }
});

Deno.test("encodeMessage() writes the version asked for, 1 or 2 only", () => {
  const done = { type: MessageType.AGENCY_DONE, agency: 1 } as const;
  assert.equal(encodeMessage(done)[1], 2);
  assert.equal(encodeMessage(done, { version: 1 })[1], 1);
  assert.throws(() => encodeMessage(done, { version: 3 }), RangeError);
});
