import assert from "node:assert/strict";
import { ProtocolError } from "../../protocol/mod.ts";
import { BatchWindow } from "./window.ts";

/** A writer that records each write. */
function recorder(): { writes: number[][]; write(bytes: Uint8Array): Promise<void> } {
  const writes: number[][] = [];
  return {
    writes,
    write(bytes) {
      writes.push([...bytes]);
      return Promise.resolve();
    },
  };
}

Deno.test("BatchWindow sends each batch once, in one write, and again after resendAll()", async () => {
  const window = new BatchWindow();
  window.add(1, { count: 2, frame: Uint8Array.of(1, 1), lines: new Int32Array(0) });
  window.add(2, { count: 1, frame: Uint8Array.of(2), lines: new Int32Array(0) });
  const writer = recorder();
  await window.send(writer);
  await window.send(writer);
  assert.deepEqual(writer.writes, [[1, 1, 2]]);
  window.resendAll();
  await window.send(writer);
  assert.deepEqual(writer.writes, [[1, 1, 2], [1, 1, 2]]);
});

Deno.test("BatchWindow.acknowledge() takes the oldest batch and refuses an ack out of order", () => {
  const window = new BatchWindow();
  window.add(1, { count: 2, frame: Uint8Array.of(1), lines: new Int32Array(0) });
  window.add(2, { count: 3, frame: Uint8Array.of(2), lines: new Int32Array(0) });
  assert.throws(() => window.acknowledge(2), ProtocolError);
  assert.equal(window.acknowledge(1).count, 2);
  assert.equal(window.size, 1);
  assert.equal(window.acknowledge(2).count, 3);
  assert.equal(window.size, 0);
});
