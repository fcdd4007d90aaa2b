import assert from "node:assert/strict";
import {
  crc32,
  encodeJournalRecord,
  JournalError,
  journalPathOf,
  type JournalRecord,
  parseJournal,
} from "./journal.ts";

const encoder = new TextEncoder();

function bytesOf(...records: JournalRecord[]): Uint8Array {
  return encoder.encode(records.map(encodeJournalRecord).join(""));
}

Deno.test("crc32() is the IEEE CRC-32 of zip and PNG", () => {
  assert.equal(crc32("123456789"), 0xcbf43926);
  assert.equal(crc32(""), 0);
});

Deno.test("encodeJournalRecord() writes one readable line ending in its checksum", () => {
  const line = encodeJournalRecord({ kind: "batch", agency: 3, batchId: 17, rows: 100, end: 4096 });
  assert.match(line, /^batch 3 17 100 4096 [0-9a-f]{8}\n$/);
  assert.equal(line.slice(-9, -1), crc32("batch 3 17 100 4096").toString(16).padStart(8, "0"));
  assert.match(
    encodeJournalRecord({ kind: "done", agency: 2, end: 9 }),
    /^done 2 9 [0-9a-f]{8}\n$/,
  );
  assert.match(encodeJournalRecord({ kind: "base", rows: 5, end: 250 }), /^base 5 250 /);
  assert.match(encodeJournalRecord({ kind: "rows", rows: 5, end: 250 }), /^rows 5 250 /);
});

Deno.test("parseJournal() replays rows, committed size, last batch per agency, rejected ids and done agencies", () => {
  const bytes = bytesOf(
    { kind: "base", rows: 10, end: 500 },
    { kind: "batch", agency: 1, batchId: 1, rows: 3, end: 650 },
    { kind: "batch", agency: 2, batchId: 1, rows: 2, end: 750 },
    { kind: "batch", agency: 1, batchId: 2, rows: 0, end: 750 },
    { kind: "batch", agency: 1, batchId: 3, rows: 4, end: 950 },
    { kind: "rows", rows: 1, end: 1000 },
    { kind: "done", agency: 2, end: 1000 },
  );
  const state = parseJournal(bytes);
  assert.equal(state.records, 7);
  assert.equal(state.batches, 4);
  assert.equal(state.rows, 20);
  assert.equal(state.committedBytes, 1000);
  assert.deepEqual([...state.lastBatch], [[1, 3], [2, 1]]);
  assert.deepEqual([...state.rejected].map(([a, ids]) => [a, [...ids]]), [[1, [2]]]);
  assert.deepEqual([...state.done], [2]);
  assert.equal(state.validBytes, bytes.length);
  assert.equal(state.tornBytes, 0);
});

Deno.test("parseJournal() of nothing: nothing committed", () => {
  const state = parseJournal(new Uint8Array(0));
  assert.deepEqual(
    [state.records, state.committedBytes, state.rows, state.validBytes, state.tornBytes],
    [0, 0, 0, 0, 0],
  );
});

Deno.test("parseJournal() drops a torn last record: no line end, bad checksum, garbage bytes", () => {
  const good = bytesOf(
    { kind: "batch", agency: 1, batchId: 1, rows: 3, end: 150 },
    { kind: "batch", agency: 1, batchId: 2, rows: 3, end: 300 },
  );
  const next = encodeJournalRecord({ kind: "batch", agency: 1, batchId: 3, rows: 3, end: 450 });
  const tails = [
    next.slice(0, 12), // cut in the middle, no "\n"
    next.replace("450", "451"), // a whole line whose checksum does not match
    "\u00ff\u0000\u00fe\n", // bytes that never were a record
  ];
  for (const tail of tails) {
    const tailBytes = tail.startsWith("\u00ff")
      ? new Uint8Array([0xff, 0x00, 0xfe, 0x0a])
      : encoder.encode(tail);
    const bytes = new Uint8Array([...good, ...tailBytes]);
    const state = parseJournal(bytes);
    assert.equal(state.validBytes, good.length, JSON.stringify(tail));
    assert.equal(state.tornBytes, tailBytes.length);
    assert.equal(state.committedBytes, 300);
    assert.equal(state.lastBatch.get(1), 2);
  }
});

Deno.test("parseJournal() refuses a bad record followed by good ones: damage, not a crash", () => {
  const first = encodeJournalRecord({ kind: "batch", agency: 1, batchId: 1, rows: 3, end: 150 });
  const second = encodeJournalRecord({ kind: "batch", agency: 1, batchId: 2, rows: 3, end: 300 });
  const bytes = encoder.encode(first.replace("150", "151") + second);
  assert.throws(() => parseJournal(bytes, { path: "bets.csv.journal" }), (error: Error) => {
    assert.ok(error instanceof JournalError);
    assert.equal(
      error.message,
      "bets.csv.journal:1: Bad checksum, and valid records follow it (damaged journal)",
    );
    return true;
  });
});

Deno.test("parseJournal() refuses a CSV size that goes back", () => {
  const bytes = bytesOf(
    { kind: "batch", agency: 1, batchId: 1, rows: 3, end: 300 },
    { kind: "batch", agency: 1, batchId: 2, rows: 3, end: 200 },
  );
  assert.throws(() => parseJournal(bytes, { path: "j" }), {
    name: "JournalError",
    message: "j:2: CSV size goes back: 200 after 300",
  });
});

Deno.test("journalPathOf() puts the journal beside the CSV", () => {
  assert.equal(journalPathOf("./bets.csv"), "./bets.csv.journal");
  assert.equal(journalPathOf("/data/bets.csv"), "/data/bets.csv.journal");
});
