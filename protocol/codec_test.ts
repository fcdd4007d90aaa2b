import assert from "node:assert/strict";
import { ascii8Size, ByteCursor, ByteWriter, str8Size, utf8ByteLength } from "./codec.ts";
import { decodeUtf8 } from "../util/mod.ts";
import { ProtocolError } from "./errors.ts";
import { ErrorCode } from "./types.ts";

const encoder = new TextEncoder();

const SAMPLES = [
  "",
  "Santiago Lionel",
  "María José Pérez-Ñúñez",
  'O\'Brien, "Junior"',
  "Zoë Ålborg Çelik ß",
  "€ 漢字 テスト",
  "emoji 🎲🎰 pair",
  "lone \ud800 high",
  "lone \udc00 low",
  "end high \ud83c",
];

Deno.test("utf8ByteLength() equals the length TextEncoder produces", () => {
  for (const text of SAMPLES) {
    assert.equal(utf8ByteLength(text), encoder.encode(text).length, JSON.stringify(text));
  }
});

Deno.test("decodeUtf8() decodes 1- to 4-byte sequences like TextDecoder", () => {
  for (const text of SAMPLES.filter((t) => t.isWellFormed())) {
    const bytes = encoder.encode(`xx${text}yy`);
    assert.equal(decodeUtf8(bytes, 2, bytes.length - 2), text);
  }
});

Deno.test("decodeUtf8() rejects invalid UTF-8 with TypeError", () => {
  const invalid = [
    [0x80], // lone continuation byte
    [0xc3], // truncated 2-byte sequence
    [0xc3, 0x41], // 2-byte lead followed by ASCII
    [0xc0, 0x80], // overlong NUL
    [0xc1, 0xbf], // overlong
    [0xed, 0xa0, 0x80], // UTF-16 surrogate encoded in UTF-8
    [0xf4, 0x90, 0x80, 0x80], // beyond U+10FFFF
    [0xff],
    [0x41, 0xe2, 0x82], // truncated 3-byte sequence at the end
  ];
  for (const sequence of invalid) {
    const bytes = new Uint8Array(sequence);
    assert.throws(() => decodeUtf8(bytes, 0, bytes.length), TypeError, String(sequence));
  }
});

Deno.test("decodeUtf8() reads only the given range", () => {
  const bytes = new Uint8Array([0xff, 0x61, 0xc3, 0xa9, 0xff]);
  assert.equal(decodeUtf8(bytes, 1, 4), "aé");
});

Deno.test("ByteWriter writes big-endian integers and length-prefixed strings", () => {
  const writer = new ByteWriter(1 + 2 + 4 + (1 + 3) + (1 + 2) + 2);
  writer.u8(0xab, "a");
  writer.u16(0x1234, "b");
  writer.u32(0xdeadbeef, "c");
  writer.str8("aé", "d");
  writer.ascii8("xy", "e");
  writer.text("ñ", "f");
  assert.equal(writer.remaining, 0);
  assert.deepEqual(
    Array.from(writer.finish()),
    [
      0xab,
      0x12,
      0x34,
      0xde,
      0xad,
      0xbe,
      0xef,
      3,
      0x61,
      0xc3,
      0xa9,
      2,
      0x78,
      0x79,
      0xc3,
      0xb1,
    ],
  );
});

Deno.test("ByteWriter rejects integers out of range naming the field", () => {
  const writer = new ByteWriter(16);
  assert.throws(() => writer.u8(256, "code"), {
    name: "RangeError",
    message: "Field out of range: code is 256 (expected an integer 0..255)",
  });
  assert.throws(() => writer.u16(70000, "agency"), {
    name: "RangeError",
    message: "Field out of range: agency is 70000 (expected an integer 0..65535)",
  });
  assert.throws(() => writer.u32(2 ** 32, "number"), /Field out of range: number is 4294967296/);
  assert.throws(() => writer.u32(-1, "number"), /number is -1/);
  assert.throws(() => writer.u32(1.5, "number"), /number is 1\.5/);
  assert.throws(() => writer.u32(NaN, "number"), /number is NaN/);
  assert.equal(writer.offset, 0, "nothing is written on failure");
});

Deno.test("ByteWriter.str8() accepts 255 bytes and rejects 256 naming the field", () => {
  const ok = new ByteWriter(256);
  ok.str8("é".repeat(127) + "a", "firstName");
  assert.equal(ok.finish()[0], 255);
  assert.throws(() => new ByteWriter(400).str8("é".repeat(128), "lastName"), {
    name: "RangeError",
    message: "Field too long: lastName is 256 bytes (max 255)",
  });
  assert.throws(() => new ByteWriter(400).str8("a".repeat(300), "firstName"), {
    name: "RangeError",
    message: "Field too long: firstName is 300 bytes (max 255)",
  });
});

Deno.test("ByteWriter.ascii8() rejects non-ASCII text naming the field", () => {
  assert.throws(() => new ByteWriter(16).ascii8("12é", "document"), {
    name: "RangeError",
    message: 'Field not ASCII: document is "12é" (expected ASCII characters only)',
  });
  assert.throws(() => ascii8Size("1".repeat(256), "document"), /document is 256 bytes/);
  assert.equal(str8Size("ñ", "firstName"), 2);
});

Deno.test("ByteWriter rejects writing past its buffer", () => {
  const writer = new ByteWriter(3);
  writer.u16(1, "a");
  assert.throws(() => writer.u16(1, "b"), {
    name: "RangeError",
    message: "Buffer overflow: b needs 2 bytes at offset 2, 1 left",
  });
  assert.throws(() => writer.str8("ab", "c"), /Buffer overflow: c needs 3 bytes/);
  assert.throws(() => writer.finish(), /Buffer not filled: wrote 2 of 3 bytes/);
});

Deno.test("ByteCursor reads back what ByteWriter wrote", () => {
  const writer = new ByteWriter(1 + 2 + 4 + (1 + 13) + (1 + 8) + 7);
  writer.u8(255, "a");
  writer.u16(65535, "b");
  writer.u32(4294967295, "c");
  writer.str8('Ñandú, "Jr"', "d");
  writer.ascii8("30904465", "e");
  writer.text("fin ✓", "f");
  const cursor = new ByteCursor(writer.finish());
  assert.equal(cursor.u8("a"), 255);
  assert.equal(cursor.u16("b"), 65535);
  assert.equal(cursor.u32("c"), 4294967295);
  assert.equal(cursor.str8("d"), 'Ñandú, "Jr"');
  assert.equal(cursor.ascii8("e"), "30904465");
  assert.equal(cursor.text("f"), "fin ✓");
  assert.equal(cursor.remaining, 0);
  cursor.expectEnd();
});

Deno.test("ByteCursor rejects an integer that runs past the payload", () => {
  const cursor = new ByteCursor(new Uint8Array(3), { context: "BET_BATCH payload" });
  assert.equal(cursor.u16("agency"), 0);
  assert.throws(() => cursor.u32("batchId"), {
    name: "ProtocolError",
    code: ErrorCode.MALFORMED,
    message: "Truncated BET_BATCH payload: batchId needs 4 bytes at offset 2, 1 left",
  });
});

Deno.test("ByteCursor.str8() rejects a length that runs past the payload", () => {
  const cursor = new ByteCursor(new Uint8Array([200, 0x61, 0x62]), { context: "X payload" });
  assert.throws(() => cursor.str8("firstName"), {
    name: "ProtocolError",
    code: ErrorCode.MALFORMED,
    message: "Truncated X payload: firstName declares 200 bytes at offset 1, 2 left",
  });
  assert.throws(() => new ByteCursor(new Uint8Array()).ascii8("document"), {
    message: "Truncated payload: document length needs 1 byte at offset 0, 0 left",
  });
});

Deno.test("ByteCursor.str8() rejects invalid UTF-8 with the decoder error as cause", () => {
  const cursor = new ByteCursor(new Uint8Array([2, 0xc3, 0x28]), { context: "X payload" });
  assert.throws(() => cursor.str8("lastName"), (error) => {
    assert.ok(error instanceof ProtocolError);
    assert.equal(error.message, "Invalid UTF-8 in X payload: lastName at offset 1");
    assert.ok(error.cause instanceof TypeError);
    return true;
  });
});

Deno.test("ByteCursor.ascii8() rejects a byte over 0x7f", () => {
  const cursor = new ByteCursor(new Uint8Array([2, 0x31, 0xc3]), { context: "X payload" });
  assert.throws(() => cursor.ascii8("document"), {
    name: "ProtocolError",
    message: "Invalid ASCII in X payload: document has byte 0xc3 at offset 2",
  });
});

Deno.test("ByteCursor.text() rejects invalid UTF-8", () => {
  const cursor = new ByteCursor(new Uint8Array([0x61, 0xff]), { context: "ECHO payload" });
  assert.throws(() => cursor.text("text"), {
    name: "ProtocolError",
    message: "Invalid UTF-8 in ECHO payload: text at offset 0",
  });
});

Deno.test("ByteCursor.expectEnd() rejects trailing bytes", () => {
  const cursor = new ByteCursor(new Uint8Array([0, 1, 2, 3]), { context: "AGENCY_DONE payload" });
  cursor.u16("agency");
  assert.throws(() => cursor.expectEnd(), {
    name: "ProtocolError",
    code: ErrorCode.MALFORMED,
    message: "Trailing bytes in AGENCY_DONE payload: 2 after offset 2 (payload 4 bytes)",
  });
});
