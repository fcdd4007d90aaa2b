import assert from "node:assert/strict";
import { errorOf, lorca, trickyBets } from "./_testing.ts";
import { AgencyRowsParser, type Bet, betToAgencyRow, unpackBet } from "../store/mod.ts";
import { ProtocolError } from "./errors.ts";
import type { Frame } from "./framing.ts";
import { BadRowsError, BetRowsEncoder, decodeBetRowsPacked, MAX_ROW_BYTES } from "./bet_rows.ts";
import { mulberry32 } from "../tools/random.ts";
import { decodeMessage, encodeMessage } from "./messages.ts";
import { ErrorCode, HEADER_SIZE, MAX_FRAME_SIZE, MessageType, VERSION } from "./types.ts";

const TRICKY_BETS: Bet[] = trickyBets(7);
const text = new TextEncoder();

function frameOf(bytes: Uint8Array): Frame {
  return { type: bytes[2], payload: bytes.slice(HEADER_SIZE) };
}

/** A BET_ROWS frame by hand: header, then `rows` as they are. */
function rowsFrame(rows: string, options: { count: number; batchId?: number }): Frame {
  const body = text.encode(rows);
  const payload = new Uint8Array(8 + body.length);
  const view = new DataView(payload.buffer);
  view.setUint16(0, 7);
  view.setUint32(2, options.batchId ?? 9);
  view.setUint16(6, options.count);
  payload.set(body, 8);
  return { type: MessageType.BET_ROWS, payload };
}

Deno.test("BET_ROWS round-trips bets whose names need every kind of quoting", () => {
  const bets = [...TRICKY_BETS, lorca(7)];
  const bytes = encodeMessage({ type: MessageType.BET_ROWS, agency: 7, batchId: 9, bets });
  assert.deepEqual([bytes[0], bytes[1], bytes[2]], [0xb7, VERSION, MessageType.BET_ROWS]);
  // The payload after its 8-byte header is the agency file's own rows.
  const rows = new TextDecoder().decode(bytes.subarray(HEADER_SIZE + 8));
  assert.equal(rows, bets.map(betToAgencyRow).join(""));
  assert.deepEqual(decodeMessage(frameOf(bytes)), {
    type: MessageType.BET_ROWS,
    agency: 7,
    batchId: 9,
    bets,
  });
});

Deno.test("decodeBetRowsPacked() reads every bet decodeMessage() reads, over the payload", () => {
  const parser = new AgencyRowsParser();
  for (const bets of [TRICKY_BETS, [lorca(7)], Array(150).fill(lorca(7))]) {
    const frame = frameOf(
      encodeMessage({ type: MessageType.BET_ROWS, agency: 7, batchId: 9, bets }),
    );
    const reference = decodeMessage({ ...frame, payload: frame.payload.slice() });
    const packed = decodeBetRowsPacked(frame, parser);
    assert.equal(packed.type, MessageType.BET_ROWS);
    assert.equal(packed.agency, 7);
    assert.equal(packed.batchId, 9);
    assert.equal(packed.bets.bytes.buffer, frame.payload.buffer, "a view, not a copy");
    const unpacked = Array.from({ length: packed.bets.count }, (_, i) => unpackBet(packed.bets, i));
    assert.deepEqual(unpacked, (reference as { bets: Bet[] }).bets);
  }
});

Deno.test("BET_ROWS rows that do not parse: BadRowsError (MALFORMED) naming the line, with the batch", () => {
  const parser = new AgencyRowsParser();
  const cases: [Frame, string][] = [
    [rowsFrame("a,b,1,2000-01-01,1\nc,d,2\n", { count: 2 }), "line 2 of the batch: Expected 5"],
    [rowsFrame('a,b,1,2000-01-01,1\n"c,d\n', { count: 2 }), "line 2 of the batch: Bad quoting"],
    [rowsFrame("a,b,1,2000-01-01,\n", { count: 1 }), "line 1 of the batch: Invalid number"],
    [rowsFrame("a,\xff,1,2000-01-01,1\n", { count: 1 }), ""], // \xff is encoded as UTF-8 here
    [rowsFrame("a,b,1,2000-01-01,1\n", { count: 2 }), "the header says 2 bets, the rows hold 1"],
    [rowsFrame("a,b,1,2000-01-01,1\nc,d,2,2000-01-01,2\n", { count: 1 }), "the rows hold 2"],
  ];
  for (const [frame, expected] of cases) {
    if (expected === "") {
      assert.equal(decodeBetRowsPacked(frame, parser).bets.count, 1); // ÿ is a fine name
      continue;
    }
    const error = errorOf(() => decodeBetRowsPacked(frame, parser));
    assert.ok(error instanceof BadRowsError, String(error));
    assert.equal(error.code, ErrorCode.MALFORMED);
    assert.deepEqual([error.agency, error.batchId], [7, 9]);
    assert.ok(error.message.includes(expected), `${error.message} lacks ${expected}`);
    // The object codec refuses it with the same message.
    const reference = errorOf(() => decodeMessage({ ...frame, payload: frame.payload.slice() }));
    assert.ok(reference instanceof ProtocolError);
    assert.equal(reference.message, error.message);
  }
  // Invalid UTF-8 in the rows.
  const bad = rowsFrame("a,b,1,2000-01-01,1\n", { count: 1 });
  bad.payload[8] = 0xff;
  assert.match(errorOf(() => decodeBetRowsPacked(bad, parser)).message, /Invalid UTF-8/);
});

Deno.test("decodeBetRowsPacked() refuses a bad header as decodeMessage() does: a ProtocolError, not a batch", () => {
  const parser = new AgencyRowsParser();
  const frames = [
    rowsFrame("a,b,1,2000-01-01,1\n", { count: 0 }),
    { type: MessageType.BET_ROWS, payload: new Uint8Array(5) },
    { type: MessageType.BET_ROWS, payload: new Uint8Array(MAX_FRAME_SIZE) },
  ];
  for (const frame of frames) {
    const error = errorOf(() => decodeBetRowsPacked(frame, parser));
    assert.ok(error instanceof ProtocolError && !(error instanceof BadRowsError), String(error));
    assert.equal(error.message, errorOf(() => decodeMessage(frame)).message);
  }
});

Deno.test("BetRowsEncoder copies records as they are, cut by maxBets and by the 8 KiB frame", () => {
  const rows = text.encode(Array(400).fill(betToAgencyRow(lorca(7))).join(""));
  const rowSize = text.encode(betToAgencyRow(lorca(7))).length;
  for (const maxBets of [1, 7, 100, 65_535]) {
    const encoder = new BetRowsEncoder({ agency: 7, maxBets });
    const frames: Uint8Array[] = [];
    for (let i = 0; i < 400; i++) {
      const [start, end] = [i * rowSize, (i + 1) * rowSize];
      if (!encoder.add(rows, start, end)) {
        frames.push(encoder.take(frames.length + 1));
        assert.ok(encoder.add(rows, start, end));
      }
    }
    frames.push(encoder.take(frames.length + 1));
    let total = 0;
    for (const [i, frame] of frames.entries()) {
      assert.ok(frame.length <= MAX_FRAME_SIZE);
      const message = decodeMessage(frameOf(frame));
      assert.equal(message.type, MessageType.BET_ROWS);
      if (message.type !== MessageType.BET_ROWS) continue;
      assert.equal(message.batchId, i + 1);
      assert.ok(message.bets.length <= maxBets);
      // The same bytes encodeMessage() writes for those bets.
      assert.deepEqual(frame, encodeMessage(message));
      total += message.bets.length;
    }
    assert.equal(total, 400, `maxBets ${maxBets}`);
    // A frame is full only when the next record would not fit.
    if (maxBets === 65_535) assert.ok(frames[0].length + rowSize > MAX_FRAME_SIZE);
  }
});

Deno.test("BetRowsEncoder ends a last record without a line end, and refuses one no frame holds", () => {
  const encoder = new BetRowsEncoder({ agency: 7, version: 1 });
  const row = text.encode("Ana,Pérez,1,2000-01-01,7");
  assert.ok(encoder.add(row, 0, row.length));
  const frame = encoder.take(1);
  assert.equal(frame[1], 1);
  assert.equal(new TextDecoder().decode(frame.subarray(13)), "Ana,Pérez,1,2000-01-01,7\n");
  const long = new Uint8Array(MAX_ROW_BYTES + 1).fill(0x61);
  assert.throws(() => encoder.add(long, 0, long.length), /Record too long: 8181 bytes/);
  // At the limit, even with the line end added, it fits alone.
  assert.ok(encoder.add(long, 0, MAX_ROW_BYTES - 1));
  assert.equal(encoder.take(2).length, MAX_FRAME_SIZE);
  assert.throws(() => encoder.take(3), /0 bets/);
  assert.throws(() => new BetRowsEncoder({ agency: 70_000 }), /agency is 70000/);
  assert.throws(() => new BetRowsEncoder({ agency: 1, maxBets: 0 }), /Invalid maxBets/);
});

Deno.test("BetRowsEncoder.addRecords() makes the frames add() makes one by one, for any layout", () => {
  const random = mulberry32(7);
  for (let round = 0; round < 300; round++) {
    // Records with gaps between some (blank lines skipped), CRLF, odd sizes, maybe a last one
    // without its line end, maybe one too long for any frame.
    const parts: string[] = [];
    const spans: [number, number][] = [];
    let at = 0;
    const records = 1 + Math.floor(random() * 400);
    for (let i = 0; i < records; i++) {
      if (random() < 0.1) {
        parts.push("\n");
        at += 1;
      }
      const long = random() < 0.003;
      const name = "a".repeat(long ? MAX_ROW_BYTES : 1 + Math.floor(random() * 60));
      const last = i === records - 1 && random() < 0.5;
      const row = `${name},b,1,2000-01-01,${i}${last ? "" : random() < 0.2 ? "\r\n" : "\n"}`;
      const size = text.encode(row).length;
      parts.push(row);
      spans.push([at, at + size]);
      at += size;
    }
    const bytes = text.encode(parts.join(""));
    const runs = {
      bytes,
      starts: Int32Array.from(spans, ([s]) => s),
      ends: Int32Array.from(spans, ([, e]) => e),
      count: spans.length,
    };
    const maxBets = [1, 3, 50, 65_535][round % 4];
    const framesOf = (step: (encoder: BetRowsEncoder, i: number) => number) => {
      const encoder = new BetRowsEncoder({ agency: 7, maxBets });
      const frames: Uint8Array[] = [];
      let failure = "";
      for (let i = 0; i < runs.count;) {
        let added: number;
        try {
          added = step(encoder, i);
        } catch (error) {
          failure = `${i}: ${(error as Error).message}`;
          break;
        }
        if (added > 0) {
          i += added;
          continue;
        }
        frames.push(encoder.take(frames.length + 1));
      }
      if (failure === "" && encoder.count > 0) frames.push(encoder.take(frames.length + 1));
      return { frames, failure };
    };
    const one = framesOf((e, i) => e.add(bytes, runs.starts[i], runs.ends[i]) ? 1 : 0);
    const together = framesOf((e, i) => e.addRecords(runs, i));
    assert.deepEqual(together, one, `round ${round}`);
  }
});
