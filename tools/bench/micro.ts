/**
 * The `micro` section: `deno bench` of the `*_bench.ts` files beside the code
 * (protocol/ and store/), each reported as the mean of its iterations.
 *
 * @module
 */

import { runDeno } from "../processes.ts";
import { progress, type Row } from "./output.ts";

interface DenoBenchResult {
  origin: string;
  name: string;
  group: string | null;
  results: { ok?: { n: number; avg: number; min: number; max: number; p75: number } }[];
}

/** The section: one row a benchmark of `deno bench --json protocol/ store/`. */
export async function benchMicro(): Promise<Row[]> {
  progress("micro: deno bench --allow-all protocol/ store/");
  const { code, stdout, stderr } = await runDeno(
    ["bench", "--allow-all", "--json", "protocol/", "store/"],
    { timeoutMs: 30 * 60_000 },
  );
  if (code !== 0) throw new Error(`deno bench failed:\n${stderr.slice(-2000)}`);
  const report = JSON.parse(stdout.slice(stdout.indexOf("{"))) as { benches: DenoBenchResult[] };
  const rows: Row[] = [];
  for (const bench of report.benches) {
    const ok = bench.results[0]?.ok;
    if (ok === undefined) continue;
    const file = bench.origin.replace(/^.*\/(protocol|store)\//, "$1/");
    rows.push({
      section: "micro",
      name: bench.name,
      unit: "µs/iter",
      // deno bench reports the mean of its iterations, not a median: shown as such.
      stat: { median: ok.avg / 1000, min: ok.min / 1000, max: ok.max / 1000, samples: [] },
      note: `${file}, mean of ${ok.n} iterations`,
    });
  }
  return rows;
}
