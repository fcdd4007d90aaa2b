/**
 * `deno task bench`: the performance suite of issue 5. Prints a table on
 * stdout (progress on stderr) and writes `bench/results.json`.
 *
 *     deno task bench                       # everything, about 5 minutes on 2 cores
 *     deno task bench --quick               # a short check of every section
 *     deno task bench --only e2e,ingest     # some sections
 *
 * Sections, one file each (each figure is the median of `--runs` runs, with min and max):
 *
 * - `e2e` (`e2e.ts`): the shipped 5-agency dataset, end to end, with local
 *   processes on 127.0.0.1, split by the arrival of log lines. Run with `deno
 *   run main.ts` and, when `deno bundle` works, with the one-file bundle (the
 *   offline stand-in for the compiled binary).
 * - `ingest` (`ingest.ts`): server ingest with 1, 5, 20 and 100 agencies, all
 *   sending synthetic bets through the load generator `client.ts` (durable acks).
 * - `floor` (`floor.ts`): the same CSV bytes pushed through one loopback TCP
 *   connection into one file with one fsync, and our ratio to it.
 * - `memory` (`memory.ts`): peak RSS (VmHWM) of the server and of the largest
 *   client, with the shipped dataset and with a generated one of `--big-bets` bets.
 * - `micro` (`micro.ts`): `deno bench` of the `*_bench.ts` files beside the code.
 * - `replicas` (`replicas.ts`): the embedded store against a throwaway local
 *   PostgreSQL with 1 and 3 replicas: the shipped dataset end to end (the
 *   database already running) and ingest with 20 agencies.
 *
 * Nothing here asserts on time. Every process started is stopped, and every
 * temporary file removed, when a run ends, fails or is interrupted
 * (`processes.ts`).
 *
 * @module
 */

import { abortOnSignals } from "../../roles/shutdown.ts";
import { EXIT_OK, EXIT_USAGE, UsageError } from "../../util/mod.ts";
import { type BenchConfig, parseConfig, type Section, USAGE } from "./config.ts";
import { benchE2e } from "./e2e.ts";
import { benchFloor } from "./floor.ts";
import { benchIngest, type IngestRun } from "./ingest.ts";
import { benchMemory } from "./memory.ts";
import { benchMicro } from "./micro.ts";
import { benchReplicas } from "./replicas.ts";
import { machine, printTable, progress, type Row, writeResults } from "./output.ts";
import {
  buildBundle,
  bundleLauncher,
  cleanUp,
  type Launcher,
  makeTempDir,
  RUN_LAUNCHER,
} from "./processes.ts";

/** Exit code of a bench stopped by SIGINT or SIGTERM. */
const EXIT_INTERRUPTED = 130;

/** Runs the bench with command-line `args`; resolves with the exit code. */
export async function bench(args: string[]): Promise<number> {
  let config: BenchConfig | "help";
  try {
    config = parseConfig(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`bench: ${error.message}\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  if (config === "help") {
    console.log(USAGE);
    return EXIT_OK;
  }
  // SIGINT or SIGTERM stops every child and removes every temporary folder, then exits.
  const interrupt = new AbortController();
  interrupt.signal.addEventListener("abort", () => {
    progress("interrupted: stopping every process and removing temporary files");
    cleanUp().finally(() => Deno.exit(EXIT_INTERRUPTED));
  });
  const started = performance.now();
  let rows: Row[];
  {
    using _signals = abortOnSignals(interrupt);
    try {
      rows = await runSections(config);
    } finally {
      await cleanUp();
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const info = await machine();
  printTable(rows, info);
  await writeResults(rows, { args, config, machine: info, seconds });
  progress(`done in ${seconds.toFixed(0)} s; results in ${config.out}`);
  return EXIT_OK;
}

/** Runs the sections `config` asks for, in order; the floor reuses the ingest's runs. */
async function runSections(config: BenchConfig): Promise<Row[]> {
  const rows: Row[] = [];
  const wants = (section: Section) => config.sections.has(section);
  const launchers: Launcher[] = [RUN_LAUNCHER];
  if (wants("e2e") && config.bundle) {
    const dir = await makeTempDir("tp0-bench-bundle-");
    progress("bundling main.ts");
    const bundle = await buildBundle(dir);
    if (bundle) launchers.push(bundleLauncher(bundle));
  }
  if (wants("e2e")) rows.push(...await benchE2e(config, launchers));
  let ingest: Map<number, IngestRun[]> | undefined;
  if (wants("ingest")) {
    const result = await benchIngest(config);
    rows.push(...result.rows);
    ingest = result.runs;
  }
  if (wants("floor")) rows.push(...await benchFloor(config, ingest));
  if (wants("memory")) rows.push(...await benchMemory(config, RUN_LAUNCHER));
  if (wants("micro")) rows.push(...await benchMicro());
  if (wants("replicas")) rows.push(...await benchReplicas(config));
  return rows;
}

if (import.meta.main) {
  Deno.exit(await bench(Deno.args));
}
