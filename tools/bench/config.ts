/**
 * The benchmark's command line: its sections, its flags and the settings
 * they resolve to (`--quick` changes the defaults).
 *
 * @module
 */

import { parseCommand, UsageError } from "../../util/mod.ts";
import { ROOT } from "../processes.ts";

/** The sections, in the order they run. */
export const SECTIONS = ["e2e", "ingest", "floor", "memory", "micro", "replicas"] as const;

/** One section of the benchmark. */
export type Section = typeof SECTIONS[number];

/** `deno task bench --help`. */
export const USAGE = `Usage: deno task bench [options]

Options:
  --only <list>          sections, comma-separated: ${SECTIONS.join(",")} (default: all)
  --runs <n>             runs a figure, median reported with min and max (default 5)
  --quick                a short check: 3 runs, 200k ingest bets, 1M big bets, no micro
  --ingest-bets <n>      bets a run of the ingest section, in all (default 2000000)
  --agencies <list>      agencies of the ingest runs (default 1,5,20,100)
  --big-bets <n>         bets of the generated dataset of the memory section (default 10000000)
  --big-agencies <n>     agencies sharing them (default 1: one client sends them all)
  --no-bundle            skip the e2e runs of the deno bundle
  --fleet-bets <n>       bets of the e2e run of many real clients, in all (default 2000000; 0 skips it)
  --fleet-agencies <n>   agencies sharing them (default 20)
  --no-external          skip the e2e runs of the external harness (e2e_external.sh)
  --out <path>           results file (default bench/results.json)
  -h, --help             show this help`;

/** What a run of the benchmark does, resolved from its flags. */
export interface BenchConfig {
  /** Sections to run. */
  sections: Set<Section>;
  /** Runs a figure. */
  runs: number;
  /** Bets a run of the ingest section, in all. */
  ingestBets: number;
  /** Agencies of each ingest configuration. */
  agencies: number[];
  /** Bets of the memory section's generated dataset. */
  bigBets: number;
  /** Agencies sharing them. */
  bigAgencies: number;
  /** Whether e2e also runs the `deno bundle` of main.ts. */
  bundle: boolean;
  /** Bets of the e2e run of `fleetAgencies` real clients (0: none). */
  fleetBets: number;
  /** Agencies of that run. */
  fleetAgencies: number;
  /** Whether e2e also times each run from outside (`e2e_external.sh`). */
  external: boolean;
  /** Results file. */
  out: string;
}

const OPTIONS = {
  only: { type: "string" },
  runs: { type: "string" },
  quick: { type: "boolean" },
  "ingest-bets": { type: "string" },
  agencies: { type: "string" },
  "big-bets": { type: "string" },
  "big-agencies": { type: "string" },
  "no-bundle": { type: "boolean" },
  "no-external": { type: "boolean" },
  "fleet-bets": { type: "string" },
  "fleet-agencies": { type: "string" },
  out: { type: "string" },
} as const;

/**
 * The settings of `args`, or `"help"` for `--help`.
 *
 * @throws {UsageError} naming the first bad flag, in one line
 */
export function parseConfig(args: string[]): BenchConfig | "help" {
  const { values, help } = parseCommand(args, { options: OPTIONS, usage: USAGE });
  if (help) return "help";
  const quick = values.quick === true;
  const sections = new Set<Section>();
  const wanted = values.only?.split(",").map((s) => s.trim()) ??
    SECTIONS.filter((s) => !(quick && s === "micro"));
  for (const name of wanted) {
    if (!(SECTIONS as readonly string[]).includes(name)) {
      throw new UsageError(`Invalid --only: "${name}" (expected ${SECTIONS.join(", ")})`);
    }
    sections.add(name as Section);
  }
  const agencies = (values.agencies ?? "1,5,20,100").split(",").map((text) =>
    integer("agencies", text.trim(), 1)
  );
  return {
    sections,
    runs: integer("runs", values.runs, quick ? 3 : 5),
    ingestBets: integer("ingest-bets", values["ingest-bets"], quick ? 200_000 : 2_000_000),
    agencies,
    bigBets: integer("big-bets", values["big-bets"], quick ? 1_000_000 : 10_000_000),
    bigAgencies: integer("big-agencies", values["big-agencies"], 1),
    bundle: values["no-bundle"] !== true,
    external: values["no-external"] !== true,
    fleetBets: values["fleet-bets"] === "0"
      ? 0
      : integer("fleet-bets", values["fleet-bets"], quick ? 200_000 : 2_000_000),
    fleetAgencies: integer("fleet-agencies", values["fleet-agencies"], 20),
    out: values.out ?? `${ROOT}bench/results.json`,
  };
}

/** The integer value of flag `name` (at least 1), or `fallback` when it is not given. */
function integer(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new UsageError(`Invalid --${name}: "${text}" (expected an integer >= 1)`);
  }
  return value;
}
