import assert from "node:assert/strict";
import { lorca, trickyBets } from "./_testing.ts";
import type { Bet } from "../store/mod.ts";
import { ProtocolError } from "./errors.ts";
import { ByteReader, type Frame, readFrame } from "./framing.ts";
import { decodeMessage, encodedBetSize, encodeMessage, encodeWinnersReplies } from "./messages.ts";
import {
  BET_BATCH_HEADER_SIZE,
  ErrorCode,
  HEADER_SIZE,
  MAX_FRAME_SIZE,
  MAX_PAYLOAD_SIZE,
  type Message,
  MessageType,
  messageTypeName,
  WINNERS_REPLY_HEADER_SIZE,
} from "./types.ts";

const encoder = new TextEncoder();

const LORCA: Bet = lorca(1);

const TRICKY_BETS: Bet[] = trickyBets(1);

/** Encodes, reads the frame back through a ByteReader and decodes it. */
async function roundTrip(message: Message): Promise<Message> {
  const bytes = encodeMessage(message);
  assert.ok(bytes.length <= MAX_FRAME_SIZE);
  let done = false;
  const reader = new ByteReader({
    read(p) {
      if (done) return Promise.resolve(null);
      done = true;
      p.set(bytes);
      return Promise.resolve(bytes.length);
    },
  });
  const frame = await readFrame(reader);
  assert.ok(frame !== null);
  assert.equal(await readFrame(reader), null, "one message is one frame");
  return decodeMessage(frame);
}

/** Payload of an encoded message (the frame minus its header). */
function payloadOf(message: Message): Uint8Array {
  return encodeMessage(message).subarray(HEADER_SIZE);
}

function assertRejects(frame: Frame, code: number, message: string | RegExp): void {
  assert.throws(() => decodeMessage(frame), (error) => {
    assert.ok(error instanceof ProtocolError, String(error));
    assert.equal(error.code, code);
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  });
}

Deno.test("every message type survives encode, readFrame and decode unchanged", async () => {
  const messages: Message[] = [
    { type: MessageType.ECHO, text: 'hola, mundo "ñ" 🎲' },
    { type: MessageType.ECHO, text: "" },
    { type: MessageType.ECHO_REPLY, text: 'hola, mundo "ñ" 🎲' },
    { type: MessageType.BET_BATCH, agency: 1, batchId: 1, bets: [LORCA] },
    { type: MessageType.BET_BATCH, agency: 1, batchId: 4294967295, bets: TRICKY_BETS },
    { type: MessageType.BATCH_RESULT, batchId: 7, code: ErrorCode.OK, reason: "" },
    {
      type: MessageType.BATCH_RESULT,
      batchId: 8,
      code: ErrorCode.INVALID_BET,
      reason: 'Invalid document: "12a" (expected 1-10 digits)',
    },
    { type: MessageType.AGENCY_DONE, agency: 5 },
    { type: MessageType.DONE_ACK, agency: 65535 },
    { type: MessageType.WINNERS_QUERY, agency: 3 },
    { type: MessageType.WINNERS_REPLY, last: true, documents: ["30904465", "1", ""] },
    { type: MessageType.WINNERS_REPLY, last: false, documents: [] },
    { type: MessageType.ERROR, code: ErrorCode.SHUTTING_DOWN, reason: "Server shutting down" },
  ];
  for (const message of messages) {
    assert.deepEqual(await roundTrip(message), message, messageTypeName(message.type));
  }
});

Deno.test("encodeMessage() lays out a BET_BATCH as the spec says", () => {
  const frame = encodeMessage({
    type: MessageType.BET_BATCH,
    agency: 1,
    batchId: 1,
    bets: [LORCA],
  });
  const expected = [
    [0xb7, 0x02, 0x10, 0x00, 0x36], // header: magic, version 2, BET_BATCH, length 54
    [0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01], // agency 1, batchId 1, count 1
    [0x0f, ...encoder.encode("Santiago Lionel")],
    [0x05, ...encoder.encode("Lorca")],
    [0x08, ...encoder.encode("30904465")],
    [0x0a, ...encoder.encode("1999-03-17")],
    [0x00, 0x00, 0x1d, 0x96], // 7574
  ].flat();
  assert.deepEqual(Array.from(frame), expected);
  assert.equal(frame.length, HEADER_SIZE + BET_BATCH_HEADER_SIZE + encodedBetSize(LORCA));
});

Deno.test("encodedBetSize() is exactly what each bet adds to the frame", () => {
  let size = HEADER_SIZE + BET_BATCH_HEADER_SIZE;
  for (const bet of TRICKY_BETS) size += encodedBetSize(bet);
  const frame = encodeMessage({
    type: MessageType.BET_BATCH,
    agency: 1,
    batchId: 2,
    bets: TRICKY_BETS,
  });
  assert.equal(frame.length, size);
});

Deno.test("encodeMessage() fills a BET_BATCH up to 8192 bytes and rejects one byte more", () => {
  const bets: Bet[] = [];
  let size = HEADER_SIZE + BET_BATCH_HEADER_SIZE;
  for (let i = 0; size + encodedBetSize(LORCA) <= MAX_FRAME_SIZE; i++) {
    bets.push(LORCA);
    size += encodedBetSize(LORCA);
  }
  // Top up the last bet's name so the frame is exactly 8192 bytes.
  const last = { ...LORCA, firstName: LORCA.firstName + "x".repeat(MAX_FRAME_SIZE - size) };
  bets[bets.length - 1] = last;
  const frame = encodeMessage({ type: MessageType.BET_BATCH, agency: 1, batchId: 3, bets });
  assert.equal(frame.length, MAX_FRAME_SIZE);
  const decoded = decodeMessage({ type: frame[2], payload: frame.subarray(HEADER_SIZE) });
  assert.deepEqual(decoded, { type: MessageType.BET_BATCH, agency: 1, batchId: 3, bets });
  bets[bets.length - 1] = { ...last, firstName: last.firstName + "x" };
  assert.throws(() => encodeMessage({ type: MessageType.BET_BATCH, agency: 1, batchId: 3, bets }), {
    name: "RangeError",
    message: "Frame too large: 8193 bytes (max 8192)",
  });
});

Deno.test("encodeMessage() rejects bet fields that do not fit, naming the field", () => {
  const cases: [Partial<Bet>, RegExp][] = [
    [{ firstName: "a".repeat(300) }, /^Field too long: firstName is 300 bytes \(max 255\)/],
    [{ lastName: "ñ".repeat(128) }, /^Field too long: lastName is 256 bytes \(max 255\)/],
    [{ document: "3090446é" }, /^Field not ASCII: document is "3090446é"/],
    [{ birthdate: "1".repeat(256) }, /^Field too long: birthdate is 256 bytes/],
    [
      { number: 1.5 },
      /^Field out of range: number is 1\.5 \(expected an integer 0\.\.4294967295\)/,
    ],
    [{ number: -1 }, /^Field out of range: number is -1/],
    [{ number: 2 ** 32 }, /^Field out of range: number is 4294967296/],
  ];
  for (const [change, message] of cases) {
    const bets = [LORCA, { ...LORCA, ...change }];
    assert.throws(() => encodedBetSize(bets[1]), { name: "RangeError", message });
    assert.throws(
      () => encodeMessage({ type: MessageType.BET_BATCH, agency: 1, batchId: 1, bets }),
      {
        name: "RangeError",
        message: new RegExp(`${message.source.slice(1)}.*\\(in bet 2 of 2\\)$`),
      },
    );
  }
});

Deno.test("encodeMessage() rejects a batch of 0 bets, over 65535 bets, or another agency's bet", () => {
  const batch = (bets: Bet[], agency = 1) =>
    encodeMessage({ type: MessageType.BET_BATCH, agency, batchId: 1, bets });
  assert.throws(() => batch([]), {
    name: "RangeError",
    message: "Batch size out of range: 0 bets (expected 1..65535)",
  });
  assert.throws(() => batch(new Array(65536).fill(LORCA)), /0*65536 bets \(expected 1\.\.65535\)/);
  assert.throws(() => batch([LORCA, { ...LORCA, agency: 2 }]), {
    name: "RangeError",
    message: "Bet agency mismatch: agency is 2 (expected the batch's 1) (in bet 2 of 2)",
  });
  assert.throws(() => batch([{ ...LORCA, agency: 70000 }], 70000), /agency is 70000/);
});

Deno.test("encodeMessage() rejects an ECHO text over the frame and out-of-range numbers", () => {
  assert.throws(() => encodeMessage({ type: MessageType.ECHO, text: "é".repeat(4094) }), {
    name: "RangeError",
    message: "Frame too large: 8193 bytes (max 8192)",
  });
  assert.equal(
    encodeMessage({ type: MessageType.ECHO, text: "x".repeat(MAX_PAYLOAD_SIZE) }).length,
    MAX_FRAME_SIZE,
  );
  assert.throws(
    () => encodeMessage({ type: MessageType.AGENCY_DONE, agency: -1 }),
    /Field out of range: agency is -1/,
  );
  assert.throws(
    () => encodeMessage({ type: MessageType.ERROR, code: 300, reason: "x" }),
    /Field out of range: code is 300/,
  );
  assert.throws(
    () => encodeMessage({ type: 0x42 } as unknown as Message),
    /Unknown message type: 66/,
  );
});

Deno.test("encodeWinnersReplies() sends one LAST frame with count 0 when there are no winners", () => {
  const frames = encodeWinnersReplies([]);
  assert.equal(frames.length, 1);
  assert.deepEqual(Array.from(frames[0]), [0xb7, 0x02, 0x15, 0x00, 0x03, 0x01, 0x00, 0x00]);
  assert.deepEqual(decodeMessage({ type: 0x15, payload: frames[0].subarray(HEADER_SIZE) }), {
    type: MessageType.WINNERS_REPLY,
    last: true,
    documents: [],
  });
});

Deno.test("encodeWinnersReplies() splits many documents over frames with LAST only on the final one", async () => {
  const documents = Array.from({ length: 3000 }, (_, i) => String(10_000_000 + i * 7919));
  const frames = encodeWinnersReplies(documents);
  assert.ok(frames.length >= 3, `${frames.length} frames`);
  const decoded: Message[] = [];
  const stream = new Uint8Array(frames.reduce((sum, f) => sum + f.length, 0));
  let offset = 0;
  for (const frame of frames) {
    assert.ok(frame.length <= MAX_FRAME_SIZE);
    stream.set(frame, offset);
    offset += frame.length;
  }
  const reader = new ByteReader({
    read(p) {
      if (offset === 0) return Promise.resolve(null);
      const n = Math.min(p.length, 1000, offset);
      p.set(stream.subarray(stream.length - offset, stream.length - offset + n));
      offset -= n;
      return Promise.resolve(n);
    },
  });
  offset = stream.length;
  for (let frame; (frame = await readFrame(reader)) !== null;) decoded.push(decodeMessage(frame));
  assert.equal(decoded.length, frames.length);
  const flags = decoded.map((m) => m.type === MessageType.WINNERS_REPLY && m.last);
  assert.deepEqual(flags, [...new Array(frames.length - 1).fill(false), true]);
  assert.deepEqual(
    decoded.flatMap((m) => m.type === MessageType.WINNERS_REPLY ? m.documents : []),
    documents,
  );
});

Deno.test("encodeWinnersReplies() packs a frame to exactly 8192 bytes before starting another", () => {
  // 10-digit documents take 11 bytes: 744 of them fill 3 + 8184 = 8187 payload bytes.
  const documents = Array.from({ length: 745 }, (_, i) => String(1_000_000_000 + i));
  assert.equal(WINNERS_REPLY_HEADER_SIZE + 744 * 11, MAX_PAYLOAD_SIZE);
  const exact = encodeWinnersReplies(documents.slice(0, 744));
  assert.deepEqual(exact.map((f) => f.length), [MAX_FRAME_SIZE]);
  const split = encodeWinnersReplies(documents);
  assert.deepEqual(split.map((f) => f.length), [MAX_FRAME_SIZE, HEADER_SIZE + 3 + 11]);
  assert.deepEqual(split.map((f) => f[HEADER_SIZE]), [0, 1]);
});

Deno.test("encodeWinnersReplies() rejects a document that is not ASCII or over 255 bytes", () => {
  assert.throws(() => encodeWinnersReplies(["1", "ñ"]), {
    name: "RangeError",
    message: 'Field not ASCII: document is "ñ" (expected ASCII characters only) ' +
      "(in document 2 of 2)",
  });
  assert.throws(() => encodeWinnersReplies(["1".repeat(256)]), /document is 256 bytes/);
  assert.throws(
    () => encodeMessage({ type: MessageType.WINNERS_REPLY, last: true, documents: ["é"] }),
    /Field not ASCII: document/,
  );
});

Deno.test("decodeMessage() rejects an unknown message type", () => {
  assertRejects(
    { type: 0x42, payload: new Uint8Array() },
    ErrorCode.UNKNOWN_TYPE,
    "Unknown message type: 0x42",
  );
});

Deno.test("decodeMessage() rejects a truncated payload of every message type", () => {
  const messages: Message[] = [
    { type: MessageType.BET_BATCH, agency: 1, batchId: 1, bets: TRICKY_BETS },
    { type: MessageType.BATCH_RESULT, batchId: 1, code: 0, reason: "" },
    { type: MessageType.AGENCY_DONE, agency: 1 },
    { type: MessageType.DONE_ACK, agency: 1 },
    { type: MessageType.WINNERS_QUERY, agency: 1 },
    { type: MessageType.WINNERS_REPLY, last: true, documents: ["30904465", "123"] },
    { type: MessageType.ERROR, code: 4, reason: "" },
  ];
  for (const message of messages) {
    const payload = payloadOf(message);
    for (let cut = 0; cut < payload.length; cut++) {
      assert.throws(
        () => decodeMessage({ type: message.type, payload: payload.subarray(0, cut) }),
        (error) => error instanceof ProtocolError && error.code === ErrorCode.MALFORMED,
        `${messageTypeName(message.type)} cut at ${cut} of ${payload.length}`,
      );
    }
  }
});

Deno.test("decodeMessage() names the field and the bet of a truncated BET_BATCH", () => {
  const payload = payloadOf({
    type: MessageType.BET_BATCH,
    agency: 1,
    batchId: 1,
    bets: [LORCA, LORCA],
  });
  assertRejects(
    { type: MessageType.BET_BATCH, payload: payload.subarray(0, payload.length - 2) },
    ErrorCode.MALFORMED,
    "Truncated BET_BATCH payload: number needs 4 bytes at offset 96, 2 left (in bet 2 of 2)",
  );
  assertRejects(
    { type: MessageType.BET_BATCH, payload: payload.subarray(0, 5) },
    ErrorCode.MALFORMED,
    "Truncated BET_BATCH payload: batchId needs 4 bytes at offset 2, 3 left",
  );
});

Deno.test("decodeMessage() rejects a string whose length runs past the payload", () => {
  const payload = payloadOf({ type: MessageType.BET_BATCH, agency: 1, batchId: 1, bets: [LORCA] })
    .slice();
  payload[BET_BATCH_HEADER_SIZE] = 200; // firstName length
  assertRejects(
    { type: MessageType.BET_BATCH, payload },
    ErrorCode.MALFORMED,
    "Truncated BET_BATCH payload: firstName declares 200 bytes at offset 9, 45 left " +
      "(in bet 1 of 1)",
  );
});

Deno.test("decodeMessage() rejects trailing bytes after the last field", () => {
  const cases: Message[] = [
    { type: MessageType.BET_BATCH, agency: 1, batchId: 1, bets: [LORCA] },
    { type: MessageType.AGENCY_DONE, agency: 1 },
    { type: MessageType.DONE_ACK, agency: 1 },
    { type: MessageType.WINNERS_QUERY, agency: 1 },
  ];
  for (const message of cases) {
    const payload = new Uint8Array([...payloadOf(message), 0x00]);
    assertRejects(
      { type: message.type, payload },
      ErrorCode.MALFORMED,
      new RegExp(`^Trailing bytes in ${messageTypeName(message.type)} payload: 1 after offset`),
    );
  }
});

Deno.test("decodeMessage() rejects a BET_BATCH with count 0", () => {
  assertRejects(
    { type: MessageType.BET_BATCH, payload: new Uint8Array([0, 1, 0, 0, 0, 1, 0, 0]) },
    ErrorCode.MALFORMED,
    "Empty BET_BATCH: count is 0 (expected 1..65535)",
  );
});

Deno.test("decodeMessage() rejects invalid UTF-8 in names and texts", () => {
  const payload = payloadOf({ type: MessageType.BET_BATCH, agency: 1, batchId: 1, bets: [LORCA] })
    .slice();
  payload[BET_BATCH_HEADER_SIZE + 1 + 15 + 1] = 0xc3; // "L" of Lorca -> lead byte, then "o"
  assertRejects(
    { type: MessageType.BET_BATCH, payload },
    ErrorCode.MALFORMED,
    "Invalid UTF-8 in BET_BATCH payload: lastName at offset 25 (in bet 1 of 1)",
  );
  assertRejects(
    { type: MessageType.ECHO, payload: new Uint8Array([0x68, 0xed, 0xa0, 0x80]) },
    ErrorCode.MALFORMED,
    "Invalid UTF-8 in ECHO payload: text at offset 0",
  );
  assertRejects(
    { type: MessageType.ERROR, payload: new Uint8Array([4, 0xff]) },
    ErrorCode.MALFORMED,
    "Invalid UTF-8 in ERROR payload: reason at offset 1",
  );
});

Deno.test("decodeMessage() rejects a non-ASCII document", () => {
  const payload = payloadOf({ type: MessageType.BET_BATCH, agency: 1, batchId: 1, bets: [LORCA] })
    .slice();
  payload[BET_BATCH_HEADER_SIZE + 16 + 6 + 1] = 0xe9;
  assertRejects(
    { type: MessageType.BET_BATCH, payload },
    ErrorCode.MALFORMED,
    "Invalid ASCII in BET_BATCH payload: document has byte 0xe9 at offset 31 (in bet 1 of 1)",
  );
});

Deno.test("decodeMessage() rejects a WINNERS_REPLY whose count does not match its documents", () => {
  const payload = payloadOf({
    type: MessageType.WINNERS_REPLY,
    last: true,
    documents: ["1", "22"],
  });
  const withCount = (count: number) => {
    const copy = payload.slice();
    copy[2] = count;
    return { type: MessageType.WINNERS_REPLY, payload: copy };
  };
  assertRejects(
    withCount(3),
    ErrorCode.MALFORMED,
    "WINNERS_REPLY count mismatch: count is 3 but the payload ends after 2 documents",
  );
  assertRejects(
    withCount(1),
    ErrorCode.MALFORMED,
    "WINNERS_REPLY count mismatch: count is 1 but 3 bytes follow the last document",
  );
  const flags = payload.slice();
  flags[0] = 0x03;
  assertRejects(
    { type: MessageType.WINNERS_REPLY, payload: flags },
    ErrorCode.MALFORMED,
    "Unknown WINNERS_REPLY flags: 0x03 (only bit0 LAST is defined)",
  );
});

Deno.test("decodeMessage() rejects a payload larger than a frame allows", () => {
  assertRejects(
    { type: MessageType.ECHO, payload: new Uint8Array(MAX_PAYLOAD_SIZE + 1) },
    ErrorCode.MALFORMED,
    "Frame too large: 8193 bytes (max 8192)",
  );
});

Deno.test("messageTypeName() names every message type and shows unknown ones in hex", () => {
  assert.equal(messageTypeName(MessageType.BET_BATCH), "BET_BATCH");
  assert.equal(messageTypeName(MessageType.ERROR), "ERROR");
  assert.equal(messageTypeName(0x42), "0x42");
});
