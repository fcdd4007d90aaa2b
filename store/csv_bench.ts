/**
 * Benchmarks of CSV rows and agency file parsing: `deno bench --allow-all store/csv_bench.ts`.
 *
 * The parsing group also runs csv-parse (fed bytes, as it must be) on the same
 * file, to keep the reason for choosing papaparse measurable.
 *
 * @module
 */

import { parse as csvParseStream } from "csv-parse/stream";
import type { Bet } from "./bet.ts";
import { betToAgencyCsvRow, betToCsvRow, readAgencyBets } from "./csv.ts";

const dir = await Deno.makeTempDir({ prefix: "csv_bench_" });
addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

function makeBets(count: number, quoted: boolean): Bet[] {
  return Array.from({ length: count }, (_, i) => ({
    agency: 1 + (i % 5),
    firstName: quoted && i % 10 === 0 ? 'José "Pepe"' : "José María",
    lastName: quoted && i % 10 === 5 ? "Núñez, hijo" : "D'Alessandro",
    document: String(20_000_000 + i),
    birthdate: "1985-07-14",
    number: i % 10_000,
  }));
}

const PLAIN = makeBets(10_000, false);
const QUOTED = makeBets(10_000, true);

Deno.bench(
  "betToCsvRow(): 10k bets, no quoting needed",
  { group: "encode", baseline: true },
  () => {
    let length = 0;
    for (const bet of PLAIN) length += betToCsvRow(bet).length;
    if (length === 0) throw new Error("Nothing encoded");
  },
);

Deno.bench("betToCsvRow(): 10k bets, 1 in 5 quoted", { group: "encode" }, () => {
  let length = 0;
  for (const bet of QUOTED) length += betToCsvRow(bet).length;
  if (length === 0) throw new Error("Nothing encoded");
});

Deno.bench("betToCsvRow() + TextEncoder: 10k bets to bytes", { group: "encode" }, () => {
  let text = "";
  for (const bet of PLAIN) text += betToCsvRow(bet);
  new TextEncoder().encode(text);
});

const ROWS = 80_000;
const AGENCY_PATH = `${dir}/agency.csv`;
const QUOTED_PATH = `${dir}/agency-quoted.csv`;
await Deno.writeTextFile(AGENCY_PATH, makeBets(ROWS, false).map(betToAgencyCsvRow).join(""));
await Deno.writeTextFile(QUOTED_PATH, makeBets(ROWS, true).map(betToAgencyCsvRow).join(""));

async function countAgencyBets(path: string): Promise<void> {
  let count = 0;
  for await (const _ of readAgencyBets(path, { agency: 1 })) count++;
  if (count !== ROWS) throw new Error(`Read ${count} bets`);
}

Deno.bench("readAgencyBets() (papaparse): 80k rows", {
  group: "parse agency file",
  baseline: true,
  n: 30,
}, async () => {
  await countAgencyBets(AGENCY_PATH);
});

Deno.bench("readAgencyBets() (papaparse): 80k rows, 1 in 5 quoted", {
  group: "parse agency file",
  n: 30,
}, async () => {
  await countAgencyBets(QUOTED_PATH);
});

Deno.bench("csv-parse/stream fed bytes: 80k rows (comparison)", {
  group: "parse agency file",
  n: 10,
}, async () => {
  using file = await Deno.open(AGENCY_PATH);
  let count = 0;
  for await (const _ of file.readable.pipeThrough(csvParseStream())) count++;
  if (count !== ROWS) throw new Error(`Read ${count} rows`);
});
