/**
 * Benchmarks of the protocol hot paths: encode and decode of full 8 KiB batches, with
 * objects (`encodeMessage`, `decodeMessage`) and packed (`BetRowsEncoder.addRecords` and
 * `decodeBetRowsPacked`, what the client and the server use; `decodeBetBatchPacked`),
 * and frames read through a ByteReader from an in-memory source.
 *
 * Run: `deno bench --allow-all protocol/`
 *
 * @module
 */

import { AgencyRowsParser, type Bet, betToAgencyRow } from "../store/mod.ts";
import { ByteReader, type ByteSource, type Frame, readFrame } from "./framing.ts";
import { decodeBetBatchPacked } from "./bet_batch.ts";
import { BetRowsEncoder, decodeBetRowsPacked } from "./bet_rows.ts";
import { decodeMessage, encodedBetSize, encodeMessage } from "./messages.ts";
import {
  BET_BATCH_HEADER_SIZE,
  HEADER_SIZE,
  MAX_FRAME_SIZE,
  type Message,
  MessageType,
} from "./types.ts";

const FIRST_NAMES = ["Santiago Lionel", "María José", "Juan", "Ana Sofía", "Nicolás", "Lucía"];
const LAST_NAMES = ["Lorca", "Pérez", "Gómez", "Fernández", "Ruiz", "O'Brien, Jr."];

/** Bets of realistic shape (about 1 in 6 names with an accent) until the frame is full. */
function fullBatch(): Bet[] {
  const bets: Bet[] = [];
  let size = HEADER_SIZE + BET_BATCH_HEADER_SIZE;
  for (let i = 0;; i++) {
    const bet: Bet = {
      agency: 1,
      firstName: FIRST_NAMES[i % FIRST_NAMES.length],
      lastName: LAST_NAMES[(i * 7) % LAST_NAMES.length],
      document: String(20_000_000 + i * 7919),
      birthdate: `19${50 + (i % 50)}-0${1 + (i % 9)}-${10 + (i % 18)}`,
      number: (i * 4099) % 100_000,
    };
    const betSize = encodedBetSize(bet);
    if (size + betSize > MAX_FRAME_SIZE) return bets;
    bets.push(bet);
    size += betSize;
  }
}

const bets = fullBatch();
const message: Message = { type: MessageType.BET_BATCH, agency: 1, batchId: 1, bets };
const frameBytes = encodeMessage(message);
const frame: Frame = { type: frameBytes[2], payload: frameBytes.slice(HEADER_SIZE) };

/** An endless in-memory stream repeating the same frame, served in 64 KiB reads. */
class RepeatingSource implements ByteSource {
  #data: Uint8Array;
  #offset = 0;

  constructor(unit: Uint8Array, copies: number) {
    this.#data = new Uint8Array(unit.length * copies);
    for (let i = 0; i < copies; i++) this.#data.set(unit, i * unit.length);
  }

  read(p: Uint8Array): Promise<number | null> {
    const n = Math.min(p.length, this.#data.length - this.#offset);
    p.set(this.#data.subarray(this.#offset, this.#offset + n));
    this.#offset = (this.#offset + n) % this.#data.length;
    return Promise.resolve(n);
  }
}

const reader = new ByteReader(new RepeatingSource(frameBytes, 16));

console.log(
  `BET_BATCH frame: ${frameBytes.length} bytes, ${bets.length} bets ` +
    `(${(frameBytes.length / bets.length).toFixed(1)} bytes a bet)`,
);

Deno.bench(`encodeMessage() full 8 KiB BET_BATCH (${bets.length} bets)`, {
  group: "BET_BATCH",
}, () => {
  encodeMessage(message);
});

Deno.bench(`decodeMessage() full 8 KiB BET_BATCH (${bets.length} bets)`, {
  group: "BET_BATCH",
  baseline: true,
}, () => {
  decodeMessage(frame);
});

Deno.bench(`decodeBetBatchPacked() full 8 KiB BET_BATCH (${bets.length} bets)`, {
  group: "BET_BATCH",
}, () => {
  decodeBetBatchPacked(frame);
});

const scratch = decodeBetBatchPacked(frame).bets;
Deno.bench(`decodeBetBatchPacked() full 8 KiB BET_BATCH, arrays reused (${bets.length} bets)`, {
  group: "BET_BATCH",
}, () => {
  decodeBetBatchPacked(frame, { into: scratch });
});

// BET_ROWS: the same bets as agency-file rows, as many as fill the frame.
const rowBytes = new TextEncoder().encode(bets.map(betToAgencyRow).join("").repeat(2));
const rowEnds: number[] = [];
for (let i = rowBytes.indexOf(0x0a); i >= 0; i = rowBytes.indexOf(0x0a, i + 1)) rowEnds.push(i + 1);
const rowsEncoder = new BetRowsEncoder({ agency: 1 });
let rowCount = 0;
for (let i = 0, start = 0; i < rowEnds.length; start = rowEnds[i++]) {
  if (!rowsEncoder.add(rowBytes, start, rowEnds[i])) break;
  rowCount++;
}
const rowsFrameBytes = rowsEncoder.take(1);
const rowsPayload = rowsFrameBytes.slice(HEADER_SIZE);
const rowsParser = new AgencyRowsParser();

Deno.bench(`BetRowsEncoder full 8 KiB BET_ROWS from the file's bytes (${rowCount} bets)`, {
  group: "BET_ROWS",
}, () => {
  for (let i = 0, start = 0; i < rowCount; start = rowEnds[i++]) {
    rowsEncoder.add(rowBytes, start, rowEnds[i]);
  }
  rowsEncoder.take(1);
});

const rowRuns = {
  bytes: rowBytes,
  starts: Int32Array.from(rowEnds, (_, i) => i === 0 ? 0 : rowEnds[i - 1]),
  ends: Int32Array.from(rowEnds),
  count: rowEnds.length,
};
Deno.bench(`BetRowsEncoder.addRecords() the same frame, adjacent records in one copy`, {
  group: "BET_ROWS",
}, () => {
  rowsEncoder.addRecords(rowRuns, 0);
  rowsEncoder.take(1);
});

Deno.bench(`decodeBetRowsPacked() full 8 KiB BET_ROWS, parser reused (${rowCount} bets)`, {
  group: "BET_ROWS",
  baseline: true,
}, () => {
  // A fresh copy each time: the parser unescapes in place (no quote here, but the contract).
  decodeBetRowsPacked({ type: MessageType.BET_ROWS, payload: rowsPayload.slice() }, rowsParser);
});

Deno.bench("readFrame() one 8 KiB frame through ByteReader from memory", {
  group: "framing",
}, async () => {
  await readFrame(reader);
});

Deno.bench("readFrame() + decodeMessage() one 8 KiB BET_BATCH from memory", {
  group: "framing",
}, async () => {
  const next = await readFrame(reader);
  if (next !== null) decodeMessage(next);
});
