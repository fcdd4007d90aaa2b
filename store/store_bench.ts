/**
 * Benchmarks of the bet store and validation: `deno bench --allow-all store/store_bench.ts`.
 *
 * @module
 */

import { type Bet, validateBet } from "./bet.ts";
import { firstInvalidBet, packBets } from "./packed_bets.ts";
import { BetStore } from "./store.ts";

const dir = await Deno.makeTempDir({ prefix: "store_bench_" });
addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

function makeBets(count: number, from = 0): Bet[] {
  return Array.from({ length: count }, (_, i) => ({
    agency: 1 + ((from + i) % 5),
    firstName: i % 3 === 0 ? "José María" : "Lucía",
    lastName: i % 7 === 0 ? "D'Alessandro" : "Núñez",
    document: String(20_000_000 + from + i),
    birthdate: "1985-07-14",
    number: (from + i) % 10_000,
  }));
}

const TEN_K = makeBets(10_000);
const THOUSANDS = Array.from({ length: 10 }, (_, i) => makeBets(1000, i * 1000));
let fileNumber = 0;

Deno.bench("storeBets(): 10k bets in one call (write + fsync)", {
  group: "store append",
  baseline: true,
  n: 50,
}, async (b) => {
  const store = await BetStore.open(`${dir}/one-${fileNumber++}.csv`);
  b.start();
  await store.storeBets(TEN_K);
  b.end();
  await store.close();
});

Deno.bench("storeBets(): 10 concurrent calls of 1k bets (group commit)", {
  group: "store append",
  n: 50,
}, async (b) => {
  const store = await BetStore.open(`${dir}/group-${fileNumber++}.csv`);
  b.start();
  await Promise.all(THOUSANDS.map((bets) => store.storeBets(bets)));
  b.end();
  await store.close();
});

Deno.bench("storeBets(): 100 bets in one call (write + fsync)", {
  group: "store append",
  n: 200,
}, async (b) => {
  const store = await BetStore.open(`${dir}/small-${fileNumber++}.csv`);
  b.start();
  await store.storeBets(TEN_K.slice(0, 100));
  b.end();
  await store.close();
});

const LOAD_PATH = `${dir}/load.csv`;
{
  await using store = await BetStore.open(LOAD_PATH);
  for (let i = 0; i < 10; i++) await store.storeBets(makeBets(10_000, i * 10_000));
}
const loadStore = await BetStore.open(LOAD_PATH);
addEventListener("unload", () => void loadStore.close());

Deno.bench("loadBets(): 100k stored bets", { n: 20 }, async () => {
  let count = 0;
  for await (const _ of loadStore.loadBets()) count++;
  if (count !== 100_000) throw new Error(`Loaded ${count} bets`);
});

const TODAY = new Date();
Deno.bench("validateBet(): 10k valid bets", { group: "validate", baseline: true }, () => {
  for (const bet of TEN_K) {
    if (validateBet(bet, { agencies: 5, today: TODAY }) !== undefined) throw new Error("Invalid");
  }
});

const BAD = TEN_K.map((bet, i) => ({ ...bet, document: i % 2 ? "12a" : bet.document }));
Deno.bench("validateBet(): 10k bets, half with a bad document", { group: "validate" }, () => {
  for (const bet of BAD) validateBet(bet, { agencies: 5 });
});

const TEN_K_PACKED = packBets(TEN_K);
Deno.bench("firstInvalidBet(): 10k valid packed bets (bytes, no strings)", {
  group: "validate",
}, () => {
  if (firstInvalidBet(TEN_K_PACKED, { agencies: 5, today: TODAY }) !== -1) {
    throw new Error("Invalid");
  }
});
