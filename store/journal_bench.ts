/**
 * The cost of the commit journal: `deno bench --allow-all store/journal_bench.ts`.
 *
 * A commit with the journal is one write and one fdatasync of the CSV, then
 * one write and one fdatasync of the journal. The baseline is the same CSV
 * write and fdatasync alone: what a store without a journal would pay.
 *
 * @module
 */

import type { Bet } from "./bet.ts";
import { betToCsvRow } from "./csv/mod.ts";
import { BetStore } from "./store.ts";

const dir = await Deno.makeTempDir({ prefix: "journal_bench_" });
addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

function makeBets(count: number, from = 0): Bet[] {
  return Array.from({ length: count }, (_, i) => ({
    agency: 1,
    firstName: "Lucía",
    lastName: "Núñez",
    document: String(20_000_000 + from + i),
    birthdate: "1985-07-14",
    number: (from + i) % 10_000,
  }));
}

const BATCH = makeBets(100);
const BATCH_BYTES = new TextEncoder().encode(BATCH.map(betToCsvRow).join(""));

const raw = await Deno.open(`${dir}/raw.csv`, { write: true, create: true, append: true });
const store = await BetStore.open(`${dir}/bets.csv`);
let nextId = 1;

Deno.bench("a batch of 100 bets: CSV write + fdatasync only (no journal)", {
  group: "one commit",
  baseline: true,
  n: 300,
}, async () => {
  let written = 0;
  while (written < BATCH_BYTES.length) written += await raw.write(BATCH_BYTES.subarray(written));
  await raw.syncData();
});

Deno.bench("a batch of 100 bets: storeBatch() (CSV and journal, each fsync'd)", {
  group: "one commit",
  n: 300,
}, async () => {
  await store.storeBatch(BATCH, { agency: 1, batchId: nextId++ });
});

const GROUP_BYTES = new Uint8Array(32 * BATCH_BYTES.length);
for (let i = 0; i < 32; i++) GROUP_BYTES.set(BATCH_BYTES, i * BATCH_BYTES.length);

Deno.bench("32 batches of 100 bets at once: one CSV write + fdatasync, no journal", {
  group: "32 concurrent batches (group commit)",
  baseline: true,
  n: 100,
}, async () => {
  let written = 0;
  while (written < GROUP_BYTES.length) written += await raw.write(GROUP_BYTES.subarray(written));
  await raw.syncData();
});

Deno.bench("32 batches of 100 bets at once: storeBatch() x 32 (group commit with journal)", {
  group: "32 concurrent batches (group commit)",
  n: 100,
}, async () => {
  const pending: Promise<void>[] = [];
  for (let i = 0; i < 32; i++) {
    pending.push(store.storeBatch(BATCH, { agency: 1, batchId: nextId++ }));
  }
  await Promise.all(pending);
});
