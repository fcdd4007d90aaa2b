import assert from "node:assert/strict";
import {
  ConnectionClosedError,
  errorCodeName,
  ProtocolError,
  toConnectionError,
} from "./errors.ts";
import {
  ByteReader,
  type ByteSink,
  type ByteSource,
  DEFAULT_BUFFER_SIZE,
  encodeFrame,
  type Frame,
  readFrame,
  writeAll,
} from "./framing.ts";
import { ErrorCode, MAX_FRAME_SIZE, MAX_PAYLOAD_SIZE } from "./types.ts";

const encoder = new TextEncoder();

/** A source that hands out `bytes` at most `chunk` bytes a read, then end of stream. */
class FakeSource implements ByteSource {
  reads = 0;
  #bytes: Uint8Array;
  #chunk: number;
  #offset = 0;

  constructor(bytes: Uint8Array, chunk = Infinity) {
    this.#bytes = bytes;
    this.#chunk = chunk;
  }

  read(p: Uint8Array): Promise<number | null> {
    this.reads++;
    if (this.#offset >= this.#bytes.length) return Promise.resolve(null);
    const n = Math.min(p.length, this.#chunk, this.#bytes.length - this.#offset);
    p.set(this.#bytes.subarray(this.#offset, this.#offset + n));
    this.#offset += n;
    return Promise.resolve(n);
  }
}

/** A writer that accepts at most `chunk` bytes a write and keeps them. */
class FakeSink implements ByteSink {
  writes = 0;
  #chunks: Uint8Array[] = [];
  #chunk: number;

  constructor(chunk: number) {
    this.#chunk = chunk;
  }

  write(p: Uint8Array): Promise<number> {
    this.writes++;
    const n = Math.min(p.length, this.#chunk);
    this.#chunks.push(p.slice(0, n));
    return Promise.resolve(n);
  }

  get bytes(): Uint8Array {
    return concat(this.#chunks);
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Deterministic payload of `size` bytes, different for each `seed`. */
function payloadOf(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed * 7) & 0xff;
  return bytes;
}

async function readAllFrames(reader: ByteReader): Promise<Frame[]> {
  const frames: Frame[] = [];
  for (let frame; (frame = await readFrame(reader)) !== null;) frames.push(frame);
  return frames;
}

const SAMPLE_FRAMES: Frame[] = [
  { type: 0x01, payload: encoder.encode("hola"), version: 2 },
  { type: 0x12, payload: new Uint8Array([0, 1]), version: 2 },
  { type: 0x7f, payload: new Uint8Array(), version: 2 },
  { type: 0x10, payload: payloadOf(MAX_PAYLOAD_SIZE, 3), version: 2 },
  { type: 0x15, payload: payloadOf(300, 4), version: 2 },
];
const SAMPLE_STREAM = concat(SAMPLE_FRAMES.map((f) => encodeFrame(f.type, f.payload)));

Deno.test("encodeFrame() writes magic, version, type and big-endian length", () => {
  assert.deepEqual(
    Array.from(encodeFrame(0x12, new Uint8Array([0x00, 0x03]))),
    [0xb7, 0x02, 0x12, 0x00, 0x02, 0x00, 0x03],
  );
  const full = encodeFrame(0x10, new Uint8Array(MAX_PAYLOAD_SIZE));
  assert.equal(full.length, MAX_FRAME_SIZE);
  assert.deepEqual(Array.from(full.subarray(3, 5)), [0x1f, 0xfb]);
});

Deno.test("encodeFrame() rejects a frame over 8192 bytes", () => {
  assert.throws(() => encodeFrame(0x10, new Uint8Array(MAX_PAYLOAD_SIZE + 1)), {
    name: "RangeError",
    message: "Frame too large: 8193 bytes (max 8192)",
  });
  assert.throws(() => encodeFrame(256, new Uint8Array()), /Field out of range: type is 256/);
});

Deno.test("readFrame() reads consecutive frames and returns null at a clean end", async () => {
  const reader = new ByteReader(new FakeSource(SAMPLE_STREAM));
  assert.deepEqual(await readAllFrames(reader), SAMPLE_FRAMES);
  assert.equal(await readFrame(reader), null, "stays at end of stream");
});

Deno.test("readFrame() reads frames from a connection that delivers one byte per read", async () => {
  const source = new FakeSource(SAMPLE_STREAM, 1);
  const reader = new ByteReader(source);
  assert.deepEqual(await readAllFrames(reader), SAMPLE_FRAMES);
  assert.equal(source.reads, SAMPLE_STREAM.length + 1);
});

Deno.test("readFrame() reads frames across short reads of every size", async () => {
  for (const chunk of [2, 3, 4, 5, 6, 7, 100, 4096, 8191]) {
    const reader = new ByteReader(new FakeSource(SAMPLE_STREAM, chunk));
    assert.deepEqual(await readAllFrames(reader), SAMPLE_FRAMES, `chunk ${chunk}`);
  }
});

Deno.test("readFrame() grows a small buffer only up to what a frame needs", async () => {
  const reader = new ByteReader(new FakeSource(SAMPLE_STREAM, 999), { bufferSize: 16 });
  assert.deepEqual(await readAllFrames(reader), SAMPLE_FRAMES);
  assert.ok(reader.capacity >= 16 && reader.capacity <= MAX_FRAME_SIZE, `${reader.capacity}`);
  assert.equal(new ByteReader(new FakeSource(SAMPLE_STREAM)).capacity, DEFAULT_BUFFER_SIZE);
});

Deno.test("readFrame() returns payloads that later reads do not overwrite", async () => {
  const frames = Array.from(
    { length: 20 },
    (_, i) => ({ type: 0x01, payload: payloadOf(50, i), version: 2 }),
  );
  const stream = concat(frames.map((f) => encodeFrame(f.type, f.payload)));
  const reader = new ByteReader(new FakeSource(stream, 37), { bufferSize: 64 });
  const read = await readAllFrames(reader);
  assert.deepEqual(read, frames);
  const first = await new ByteReader(new FakeSource(stream)).readFull(10);
  assert.equal(first.byteOffset, 0, "readFull() returns its own array");
  assert.equal(first.buffer.byteLength, 10);
});

Deno.test("readFrame() throws ConnectionClosedError on end of stream inside the header", async () => {
  for (const cut of [1, 2, 4]) {
    const reader = new ByteReader(new FakeSource(SAMPLE_STREAM.subarray(0, cut)));
    await assert.rejects(readFrame(reader), {
      name: "ConnectionClosedError",
      message: `Connection closed mid-frame: got ${cut} of 5 header bytes`,
    });
  }
});

Deno.test("readFrame() throws ConnectionClosedError on end of stream inside the payload", async () => {
  const frame = encodeFrame(0x01, encoder.encode("hola"));
  const reader = new ByteReader(new FakeSource(frame.subarray(0, 7), 1));
  await assert.rejects(readFrame(reader), {
    name: "ConnectionClosedError",
    message: "Connection closed mid-frame: got 2 of 4 payload bytes",
  });
  const afterOne = new ByteReader(new FakeSource(concat([frame, frame.subarray(0, 5)])));
  assert.deepEqual(await readFrame(afterOne), {
    type: 0x01,
    payload: encoder.encode("hola"),
    version: 2,
  });
  await assert.rejects(readFrame(afterOne), ConnectionClosedError);
});

Deno.test("readFrame() rejects a bad magic byte", async () => {
  const reader = new ByteReader(new FakeSource(encoder.encode("ABCDEFG\n")));
  await assert.rejects(readFrame(reader), {
    name: "ProtocolError",
    code: ErrorCode.MALFORMED,
    message: "Bad magic byte: 0x41 (expected 0xb7)",
  });
});

Deno.test("readFrame() rejects a bad magic byte even when the stream then ends", async () => {
  const reader = new ByteReader(new FakeSource(new Uint8Array([0x41])));
  await assert.rejects(readFrame(reader), { name: "ProtocolError", code: ErrorCode.MALFORMED });
});

Deno.test("readFrame() rejects a version other than 1 and 2", async () => {
  for (const version of [0, 3, 0xff]) {
    const reader = new ByteReader(new FakeSource(new Uint8Array([0xb7, version, 0x01, 0, 0])));
    await assert.rejects(readFrame(reader), {
      name: "ProtocolError",
      code: ErrorCode.UNSUPPORTED_VERSION,
      message: `Unsupported protocol version: ${version} (expected 1 or 2)`,
    });
  }
});

Deno.test("readFrame() reads version 1 and version 2 frames and says which", async () => {
  const v1 = new Uint8Array([0xb7, 0x01, 0x12, 0, 2, 0, 3]);
  const v2 = encodeFrame(0x12, new Uint8Array([0, 3]));
  const reader = new ByteReader(new FakeSource(concat([v1, v2])));
  assert.equal((await readFrame(reader))?.version, 1);
  assert.equal((await readFrame(reader))?.version, 2);
});

Deno.test("readFrame() rejects a frame longer than 8 KiB before reading its payload", async () => {
  for (const [length, total] of [[0xffff, 65540], [MAX_PAYLOAD_SIZE + 1, 8193]]) {
    const header = new Uint8Array([0xb7, 0x01, 0x10, length >> 8, length & 0xff]);
    const source = new FakeSource(concat([header, new Uint8Array(length)]), 5);
    const reader = new ByteReader(source);
    await assert.rejects(readFrame(reader), {
      name: "ProtocolError",
      code: ErrorCode.MALFORMED,
      message: `Frame too large: ${total} bytes (max 8192)`,
    });
    assert.equal(source.reads, 1, "only the header was read");
    assert.equal(reader.capacity, DEFAULT_BUFFER_SIZE, "nothing was allocated for the payload");
  }
});

Deno.test("ByteReader.peek() returns the next byte without consuming it", async () => {
  const reader = new ByteReader(new FakeSource(new Uint8Array([0xb7, 0x42]), 1));
  assert.equal(await reader.peek(), 0xb7);
  assert.equal(await reader.peek(), 0xb7);
  assert.deepEqual(Array.from(await reader.readFull(2)), [0xb7, 0x42]);
  assert.equal(await reader.peek(), null);
});

Deno.test("ByteReader.readFull() loops over short reads and fails on early end", async () => {
  const bytes = payloadOf(10_000, 1);
  const reader = new ByteReader(new FakeSource(bytes, 7), { bufferSize: 100 });
  assert.deepEqual(await reader.readFull(3), bytes.subarray(0, 3));
  assert.deepEqual(await reader.readFull(0), new Uint8Array());
  assert.deepEqual(await reader.readFull(9_000), bytes.subarray(3, 9_003));
  await assert.rejects(reader.readFull(1_000), {
    name: "ConnectionClosedError",
    message: "Connection closed: expected 1000 bytes, got 997",
  });
  await assert.rejects(reader.readFull(-1), RangeError);
});

Deno.test("ByteReader rejects a second read while one is pending", async () => {
  let release!: (n: number | null) => void;
  const reader = new ByteReader({ read: () => new Promise((resolve) => release = resolve) });
  const pending = reader.peek();
  await assert.rejects(reader.readFull(1), /ByteReader is busy/);
  release(null);
  assert.equal(await pending, null);
});

Deno.test("ByteReader.readLine() strips \\n and \\r\\n and returns null at a clean end", async () => {
  const text = "hola\r\nmundo\n\nsin fin de línea";
  for (const chunk of [1, 3, Infinity]) {
    const reader = new ByteReader(new FakeSource(encoder.encode(text), chunk), { bufferSize: 8 });
    const lines = [];
    for (let line; (line = await reader.readLine(100)) !== null;) lines.push(line);
    assert.deepEqual(lines, ["hola", "mundo", "", "sin fin de línea"], `chunk ${chunk}`);
  }
});

Deno.test("ByteReader.readLine() accepts a line of exactly maxBytes and rejects a longer one", async () => {
  const ok = new ByteReader(new FakeSource(encoder.encode("12345678\r\n12345678")));
  assert.equal(await ok.readLine(8), "12345678");
  assert.equal(await ok.readLine(8), "12345678");
  for (const text of ["123456789\n", "123456789\r\n", "1234567890123", "123456789"]) {
    const reader = new ByteReader(new FakeSource(encoder.encode(text), 2));
    await assert.rejects(reader.readLine(8), {
      name: "ProtocolError",
      code: ErrorCode.MALFORMED,
      message: "Line too long: more than 8 bytes",
    }, JSON.stringify(text));
  }
});

Deno.test("ByteReader.readLine() rejects a line that is not UTF-8", async () => {
  const reader = new ByteReader(new FakeSource(new Uint8Array([0x61, 0xff, 0x0a])));
  await assert.rejects(reader.readLine(100), {
    name: "ProtocolError",
    message: "Invalid UTF-8 in line",
  });
});

Deno.test("ByteReader.readLine() reads a line of 8192 bytes through a smaller buffer", async () => {
  const line = "x".repeat(8192);
  const reader = new ByteReader(new FakeSource(encoder.encode(`${line}\nok\n`), 1000), {
    bufferSize: 1024,
  });
  assert.equal(await reader.readLine(8192), line);
  assert.equal(await reader.readLine(8192), "ok");
  assert.equal(await reader.readLine(8192), null);
  assert.ok(reader.capacity <= 8194, `${reader.capacity}`);
});

Deno.test("ByteReader turns a connection reset into ConnectionClosedError with the cause", async () => {
  const reset = new Deno.errors.ConnectionReset("peer reset");
  const reader = new ByteReader({ read: () => Promise.reject(reset) });
  await assert.rejects(readFrame(reader), (error) => {
    assert.ok(error instanceof ConnectionClosedError);
    assert.equal(error.cause, reset);
    assert.equal(error.message, "Connection closed: ConnectionReset: peer reset");
    return true;
  });
});

Deno.test("ByteReader passes other source errors through unchanged", async () => {
  const bad = new Deno.errors.BadResource("closed locally");
  const reader = new ByteReader({ read: () => Promise.reject(bad) });
  await assert.rejects(reader.peek(), (error) => error === bad);
});

Deno.test("toConnectionError() maps closed-connection errors and passes the rest", () => {
  for (
    const type of [
      Deno.errors.ConnectionReset,
      Deno.errors.BrokenPipe,
      Deno.errors.UnexpectedEof,
      Deno.errors.Interrupted,
    ]
  ) {
    const cause = new type("x");
    const mapped = toConnectionError(cause);
    assert.ok(mapped instanceof ConnectionClosedError, type.name);
    assert.equal(mapped.name, "ConnectionClosedError");
    assert.equal(mapped.cause, cause);
  }
  const other = new TypeError("x");
  assert.equal(toConnectionError(other), other);
  assert.equal(toConnectionError("text"), "text");
});

Deno.test("ProtocolError carries its code, name and cause", () => {
  const cause = new Error("inner");
  const error = new ProtocolError("Bad thing: x", { code: ErrorCode.UNKNOWN_TYPE, cause });
  assert.equal(error.name, "ProtocolError");
  assert.equal(error.code, ErrorCode.UNKNOWN_TYPE);
  assert.equal(error.cause, cause);
  assert.equal(new ProtocolError("x").code, ErrorCode.MALFORMED);
  assert.equal(errorCodeName(ErrorCode.INVALID_BET), "INVALID_BET");
  assert.equal(errorCodeName(ErrorCode.TIMEOUT), "TIMEOUT");
  assert.equal(errorCodeName(42), "UNKNOWN(42)");
});

Deno.test("writeAll() sends every byte in order to a writer that takes one byte per write", async () => {
  const sink = new FakeSink(1);
  await writeAll(sink, SAMPLE_STREAM);
  assert.deepEqual(sink.bytes, SAMPLE_STREAM);
  assert.equal(sink.writes, SAMPLE_STREAM.length);
  const chunked = new FakeSink(1000);
  await writeAll(chunked, SAMPLE_STREAM);
  assert.deepEqual(chunked.bytes, SAMPLE_STREAM);
});

Deno.test("writeAll() turns a broken pipe into ConnectionClosedError", async () => {
  const pipe = new Deno.errors.BrokenPipe("gone");
  await assert.rejects(
    writeAll({ write: () => Promise.reject(pipe) }, new Uint8Array(1)),
    (error) => error instanceof ConnectionClosedError && error.cause === pipe,
  );
});

Deno.test("writeAll() rejects a writer that reports more bytes than given", async () => {
  await assert.rejects(writeAll({ write: () => Promise.resolve(5) }, new Uint8Array(2)), {
    name: "RangeError",
    message: "Invalid write result: 5 (expected 0..2)",
  });
});

Deno.test("writeAll() and readFrame() carry 1000 frames over a loopback TCP connection", async () => {
  const frames = Array.from({ length: 1000 }, (_, i) => ({
    type: i % 256,
    payload: payloadOf((i * 997) % (MAX_PAYLOAD_SIZE + 1), i),
    version: 2,
  }));
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const received = (async () => {
    using conn = await listener.accept();
    return await readAllFrames(new ByteReader(conn));
  })();
  {
    using conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    for (const frame of frames) await writeAll(conn, encodeFrame(frame.type, frame.payload));
  }
  const read = await received;
  assert.equal(read.length, frames.length);
  assert.deepEqual(read, frames);
});

Deno.test("readFrame() with view: the payload is a view of the reader's buffer, not a copy", async () => {
  const first = encodeFrame(0x10, new Uint8Array([1, 2, 3]));
  const second = encodeFrame(0x10, new Uint8Array([4, 5, 6]));
  const bytes = new Uint8Array([...first, ...second, ...first]);
  let done = false;
  const source = {
    read(p: Uint8Array) {
      if (done) return Promise.resolve(null);
      done = true;
      p.set(bytes);
      return Promise.resolve(bytes.length);
    },
  };
  const reader = new ByteReader(source, { bufferSize: 4096 });
  const frame = await readFrame(reader, { view: true });
  const next = await readFrame(reader, { view: true });
  assert.ok(frame !== null && next !== null);
  assert.deepEqual([...frame.payload], [1, 2, 3]);
  assert.deepEqual([...next.payload], [4, 5, 6]);
  // Both are windows on the reader's one 4 KiB buffer, side by side.
  assert.equal(frame.payload.buffer.byteLength, 4096);
  assert.equal(next.payload.buffer, frame.payload.buffer);
  assert.equal(next.payload.byteOffset, frame.payload.byteOffset + first.length);
  // Without the option, a payload is a copy of its own.
  const copy = await readFrame(reader);
  assert.deepEqual([...(copy?.payload ?? [])], [1, 2, 3]);
  assert.equal(copy?.payload.buffer.byteLength, 3);
  assert.equal(await readFrame(reader, { view: true }), null);
});
