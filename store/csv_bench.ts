/**
 * Benchmarks of CSV rows and agency file parsing: `deno bench --allow-all store/csv_bench.ts`.
 *
 * The parsing group also runs papaparse (fed decoded text, the parser this project used
 * before) and csv-parse (fed bytes, as it must be) on the same file, to keep the reason
 * for the hand-written byte-level parser measurable.
 *
 * @module
 */

import { parse as csvParseStream } from "csv-parse/stream";
import Papa from "papaparse";
import type { Bet } from "./bet.ts";
import { packBets } from "./packed_bets.ts";
import {
  betToAgencyRow,
  betToCsvRow,
  packedBetsToCsvRows,
  readAgencyBets,
  readAgencyBetsPacked,
  validCsvRows,
} from "./csv/mod.ts";

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
const PLAIN_PACKED = packBets(PLAIN);
const TODAY = new Date("2024-08-21T00:00:00Z");

Deno.bench(
  "betToCsvRow() + TextEncoder: 10k bets to bytes",
  { group: "store rows", baseline: true },
  () => {
    let text = "";
    for (const bet of PLAIN) text += betToCsvRow(bet);
    new TextEncoder().encode(text);
  },
);

Deno.bench("packedBetsToCsvRows(): 10k packed bets to bytes", { group: "store rows" }, () => {
  packedBetsToCsvRows(PLAIN_PACKED);
});

Deno.bench("validCsvRows(): validate 10k packed bets and make their rows", {
  group: "store rows",
}, () => {
  if (validCsvRows(PLAIN_PACKED, { agencies: 5, today: TODAY }).invalid >= 0) {
    throw new Error("Invalid");
  }
});

Deno.bench("betToCsvRow(): 10k bets, 1 in 5 quoted (strings only)", { group: "store rows" }, () => {
  let length = 0;
  for (const bet of QUOTED) length += betToCsvRow(bet).length;
  if (length === 0) throw new Error("Nothing encoded");
});

const ROWS = 80_000;
const AGENCY_PATH = `${dir}/agency.csv`;
const QUOTED_PATH = `${dir}/agency-quoted.csv`;
await Deno.writeTextFile(AGENCY_PATH, makeBets(ROWS, false).map(betToAgencyRow).join(""));
await Deno.writeTextFile(QUOTED_PATH, makeBets(ROWS, true).map(betToAgencyRow).join(""));

async function countPacked(path: string): Promise<void> {
  let count = 0;
  for await (const chunk of readAgencyBetsPacked(path, { agency: 1 })) count += chunk.count;
  if (count !== ROWS) throw new Error(`Read ${count} bets`);
}

Deno.bench("readAgencyBetsPacked(): 80k rows, packed (what the client sends from)", {
  group: "parse agency file",
  baseline: true,
  n: 30,
}, async () => {
  await countPacked(AGENCY_PATH);
});

Deno.bench("readAgencyBetsPacked(): 80k rows, 1 in 5 quoted", {
  group: "parse agency file",
  n: 30,
}, async () => {
  await countPacked(QUOTED_PATH);
});

Deno.bench("readAgencyBets(): 80k rows as Bet objects", {
  group: "parse agency file",
  n: 30,
}, async () => {
  let count = 0;
  for await (const _ of readAgencyBets(AGENCY_PATH, { agency: 1 })) count++;
  if (count !== ROWS) throw new Error(`Read ${count} bets`);
});

/** The part of papaparse's low-level `Papa.Parser` used (the package ships no types). */
const PapaParser = (Papa as unknown as {
  Parser: new (config: { delimiter: string; newline: string; quoteChar: string }) => {
    parse(input: string, baseIndex: number, ignoreLastRow: boolean): {
      data: string[][];
      meta: { cursor: number };
    };
  };
}).Parser;

Deno.bench("papaparse fed decoded text a chunk at a time: 80k rows (comparison)", {
  group: "parse agency file",
  n: 10,
}, async () => {
  using file = await Deno.open(AGENCY_PATH);
  const parser = new PapaParser({ delimiter: ",", newline: "\n", quoteChar: '"' });
  const decoder = new TextDecoder();
  let carry = "";
  let count = 0;
  for await (const chunk of file.readable) {
    const text = carry + decoder.decode(chunk, { stream: true });
    const result = parser.parse(text, 0, true);
    count += result.data.length;
    carry = text.substring(result.meta.cursor);
  }
  if (carry !== "") count += parser.parse(carry, 0, false).data.length;
  if (count !== ROWS) throw new Error(`Read ${count} rows`);
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
