import assert from "node:assert/strict";
import { Outbox } from "./outbox.ts";

/** A connection's write side in memory: every write() call and its bytes, in order. */
class RecordingWriter {
  writes: number[][] = [];
  failWith: Error | undefined;

  write(bytes: Uint8Array): Promise<number> {
    if (this.failWith !== undefined) return Promise.reject(this.failWith);
    this.writes.push([...bytes]);
    return Promise.resolve(bytes.length);
  }
}

/** A fake frame: magic, version 0 (the outbox sets it), and one payload byte. */
function frame(tag: number): Uint8Array {
  return Uint8Array.of(0xb7, 0, tag);
}

Deno.test("Outbox writes replies in the order they were queued, whatever order they are ready in", async () => {
  const writer = new RecordingWriter();
  const outbox = new Outbox(writer);
  outbox.version = 2;
  const first = Promise.withResolvers<Uint8Array>();
  const second = Promise.withResolvers<Uint8Array>();
  outbox.send(first.promise);
  outbox.send(second.promise);
  outbox.send(frame(3));
  second.resolve(frame(2));
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.deepEqual(writer.writes, [], "nothing before the first reply is ready");
  first.resolve(frame(1));
  await outbox.flush();
  // The three were ready together once the first was: one write, in order, in version 2.
  assert.deepEqual(writer.writes, [[0xb7, 2, 1, 0xb7, 2, 2, 0xb7, 2, 3]]);
  assert.equal(outbox.size, 0);
});

Deno.test("Outbox writes a reply ready alone at once, and shift() waits for the oldest", async () => {
  const writer = new RecordingWriter();
  const outbox = new Outbox(writer);
  const later = Promise.withResolvers<Uint8Array>();
  outbox.send(frame(1));
  outbox.send(later.promise);
  await outbox.shift();
  assert.deepEqual(writer.writes, [[0xb7, 0, 1]]);
  assert.equal(outbox.size, 1);
  later.resolve(frame(2));
  await outbox.shift();
  assert.deepEqual(writer.writes, [[0xb7, 0, 1], [0xb7, 0, 2]]);
});

Deno.test("Outbox: a reply that cannot be made fails it and every later one; nothing after it is written", async () => {
  const writer = new RecordingWriter();
  const outbox = new Outbox(writer);
  outbox.send(frame(1));
  outbox.send(Promise.reject(new Error("no reply")));
  outbox.send(frame(3));
  await outbox.shift();
  await assert.rejects(outbox.shift(), /no reply/);
  await assert.rejects(outbox.flush(), /no reply/);
  assert.deepEqual(writer.writes, [[0xb7, 0, 1]]);
  // Later sends fail the same way: the connection is done.
  outbox.send(frame(4));
  await assert.rejects(outbox.flush(), /no reply/);
  assert.deepEqual(writer.writes, [[0xb7, 0, 1]]);
});

Deno.test("Outbox: a failed write fails the replies in it and every later one", async () => {
  const writer = new RecordingWriter();
  const outbox = new Outbox(writer);
  writer.failWith = new Error("broken pipe");
  outbox.send(frame(1));
  outbox.send(frame(2));
  await assert.rejects(outbox.flush(), /broken pipe/);
  writer.failWith = undefined;
  outbox.send(frame(3));
  await assert.rejects(outbox.flush(), /broken pipe/);
  assert.deepEqual(writer.writes, []);
});
