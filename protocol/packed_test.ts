import assert from "node:assert/strict";
import { errorOf, lorca, trickyBets } from "./_testing.ts";
import { type Bet, unpackBet } from "../store/mod.ts";
import { isUtf8 } from "../util/mod.ts";
import { ProtocolError } from "./errors.ts";
import type { Frame } from "./framing.ts";
import { decodeBetBatchPacked } from "./bet_batch.ts";
import { decodeMessage, encodeMessage } from "./messages.ts";
import { HEADER_SIZE, MessageType } from "./types.ts";

const LORCA: Bet = lorca(7);

const TRICKY_BETS: Bet[] = [
  ...trickyBets(7),
  { ...LORCA, firstName: "", lastName: "", document: "", birthdate: "" },
];

/** Seeded random bets of every shape the wire allows. */
function randomBets(count: number, seed: number): Bet[] {
  let state = seed;
  const random = (n: number) => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return (state >>> 8) % n;
  };
  const alphabet = ["a", "Ñ", "é", ",", '"', "\n", " ", "🎲", "漢", "\u0085", "\u00a0", "'"];
  const text = (max: number) => {
    let value = "";
    for (let i = random(max); i > 0; i--) value += alphabet[random(alphabet.length)];
    return value;
  };
  return Array.from({ length: count }, () => ({
    agency: 7,
    firstName: text(12),
    lastName: text(12),
    document: String(random(1_000_000_000)),
    birthdate: `19${10 + random(90)}-0${1 + random(9)}-1${random(10)}`,
    number: random(2) === 0 ? random(100_000) : random(2 ** 31) * 2 + random(2),
  }));
}

function frameOf(bytes: Uint8Array): Frame {
  return { type: bytes[2], payload: bytes.slice(HEADER_SIZE) };
}

Deno.test("decodeBetBatchPacked() reads every bet decodeMessage() reads, without copying the payload", () => {
  const batches = [TRICKY_BETS, ...[1, 2, 3].map((seed) => randomBets(60, seed))];
  for (const bets of batches) {
    const frame = frameOf(
      encodeMessage({ type: MessageType.BET_BATCH, agency: 7, batchId: 9, bets }),
    );
    const packed = decodeBetBatchPacked(frame);
    assert.equal(packed.agency, 7);
    assert.equal(packed.batchId, 9);
    assert.equal(packed.bets.count, bets.length);
    assert.equal(packed.bets.bytes, frame.payload);
    const unpacked = Array.from({ length: packed.bets.count }, (_, i) => unpackBet(packed.bets, i));
    assert.deepEqual(unpacked, bets);
  }
});

Deno.test("decodeBetBatchPacked() reuses the arrays given in `into` when they are large enough", () => {
  const frame = frameOf(
    encodeMessage({ type: MessageType.BET_BATCH, agency: 7, batchId: 1, bets: TRICKY_BETS }),
  );
  const first = decodeBetBatchPacked(frame);
  const second = decodeBetBatchPacked(frame, { into: first.bets });
  assert.equal(second.bets, first.bets);
  assert.deepEqual(unpackBet(second.bets, 1), TRICKY_BETS[1]);
});

Deno.test("decodeBetBatchPacked() rejects every malformed frame with decodeMessage()'s error", () => {
  const good = encodeMessage({
    type: MessageType.BET_BATCH,
    agency: 7,
    batchId: 1,
    bets: TRICKY_BETS.slice(0, 4),
  });
  const frames: Frame[] = [];
  // Cut at every length: truncated header, lengths running past the end, missing numbers.
  for (let length = 0; length < good.length - HEADER_SIZE; length++) {
    frames.push({
      type: MessageType.BET_BATCH,
      payload: good.slice(HEADER_SIZE, HEADER_SIZE + length),
    });
  }
  // Damage single bytes: invalid UTF-8 in names, non-ASCII in documents, bad lengths.
  for (let at = HEADER_SIZE + 8; at < good.length; at++) {
    for (const value of [0x80, 0xc0, 0xed, 0xf5, 0xff, 0x00]) {
      const payload = good.slice(HEADER_SIZE);
      payload[at - HEADER_SIZE] = value;
      frames.push({ type: MessageType.BET_BATCH, payload });
    }
  }
  frames.push({ type: MessageType.BET_BATCH, payload: new Uint8Array([0, 7, 0, 0, 0, 1, 0, 0]) });
  // Counts the payload cannot hold (a bet takes 8 bytes at least): refused before any sizing.
  for (const count of [0xffff, 2]) {
    const header = [0, 7, 0, 0, 0, 1, count >> 8, count & 0xff];
    frames.push({ type: MessageType.BET_BATCH, payload: new Uint8Array([...header, 0, 0, 0, 0]) });
  }
  frames.push({
    type: MessageType.BET_BATCH,
    payload: new Uint8Array([...good.slice(HEADER_SIZE), 0]),
  });
  let rejected = 0;
  for (const frame of frames) {
    let expected: Error | undefined;
    try {
      decodeMessage(frame);
    } catch (error) {
      expected = error as Error;
    }
    if (expected === undefined) {
      // A damaged byte that still makes a valid frame: both decoders agree on the bets.
      const packed = decodeBetBatchPacked(frame);
      const message = decodeMessage(frame);
      assert.ok(message.type === MessageType.BET_BATCH);
      assert.deepEqual(
        Array.from({ length: packed.bets.count }, (_, i) => unpackBet(packed.bets, i)),
        message.bets,
      );
      continue;
    }
    rejected++;
    const actual = errorOf(() => decodeBetBatchPacked(frame));
    assert.ok(actual instanceof ProtocolError);
    assert.equal(actual.message, expected.message);
    assert.equal(actual.code, (expected as ProtocolError).code);
  }
  assert.ok(rejected > 500, `only ${rejected} frames rejected`);
});

Deno.test("isUtf8() agrees with a fatal TextDecoder on every 1- to 3-byte sequence and 4-byte leads", () => {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const valid = (bytes: Uint8Array) => {
    try {
      decoder.decode(bytes);
      return true;
    } catch {
      return false;
    }
  };
  const check = (bytes: Uint8Array) =>
    assert.equal(isUtf8(bytes, 0, bytes.length), valid(bytes), `[${bytes}]`);
  for (let a = 0; a < 256; a++) {
    check(new Uint8Array([a]));
    if (a < 0x80) continue; // an ASCII byte is valid alone, whatever follows
    for (let b = 0; b < 256; b++) {
      check(new Uint8Array([a, b]));
      if (a >= 0xe0) { for (const c of [0x00, 0x80, 0xbf, 0xc0]) check(new Uint8Array([a, b, c])); }
      if (a >= 0xf0) { for (const c of [0x80, 0xbf]) check(new Uint8Array([a, b, c, 0x80])); }
    }
  }
});

Deno.test("decodeMessage() keeps a leading U+FEFF in names and texts (it is not a byte order mark)", () => {
  const bets = [{ ...LORCA, firstName: "\ufeffAna 漢", lastName: "\ufeff" }];
  const frame = frameOf(
    encodeMessage({ type: MessageType.BET_BATCH, agency: 7, batchId: 1, bets }),
  );
  const message = decodeMessage(frame);
  assert.ok(message.type === MessageType.BET_BATCH);
  assert.deepEqual(message.bets, bets);
  assert.deepEqual(unpackBet(decodeBetBatchPacked(frame).bets, 0), bets[0]);
  const echo = frameOf(encodeMessage({ type: MessageType.ECHO, text: "\ufeffhola" }));
  assert.deepEqual(decodeMessage(echo), { type: MessageType.ECHO, text: "\ufeffhola" });
});
