/**
 * The `ingest` section: server ingest with 1, 5, 20 and 100 agencies, all
 * sending synthetic bets through the load generator (`client.ts`:
 * pre-encoded full 8 KiB frames, the real client's window of unacked frames
 * a connection, every ack awaited: durable acks). Every run checks that the
 * store holds every bet once.
 *
 * @module
 */

import { countLines } from "../files.ts";
import type { LocalServer, Tp0Process } from "../processes.ts";
import type { BenchConfig } from "./config.ts";
import { progress, type Row } from "./output.ts";
import {
  makeTempDir,
  removeTempDir,
  RUN_LAUNCHER,
  spawnScript,
  startServer,
  stop,
  stopAll,
} from "./processes.ts";
import { statOf } from "./stats.ts";
import { cpuMs } from "./usage.ts";

/** The load generator and raw-floor script, run as a child process. */
export const BENCH_CLIENT: string = new URL("./client.ts", import.meta.url).pathname;

/** What one timed ingest run measured. */
export interface IngestRun {
  seconds: number;
  bets: number;
  csvBytes: number;
  frameBytes: number;
  /** CPU time of the server while the generator ran, in ms. */
  serverCpu: number;
  /** CPU time of the generator while timed, in ms. */
  generatorCpu: number;
}

/** What the section measured: its rows, and the runs by agency count (for the floor ratios). */
export interface IngestSection {
  rows: Row[];
  runs: Map<number, IngestRun[]>;
}

/** `1 agency`, `5 agencies`. */
export function agenciesLabel(agencies: number): string {
  return agencies === 1 ? "1 agency" : `${agencies} agencies`;
}

async function runIngestOnce(agencies: number, bets: number): Promise<IngestRun> {
  const dir = await makeTempDir("tp0-bench-ingest-");
  const storage = `${dir}/bets.csv`;
  let server: LocalServer | undefined;
  let client: Tp0Process | undefined;
  try {
    server = await startServer(RUN_LAUNCHER, { agencies, storage });
    const cpuBefore = cpuMs(server.process.pid) ?? Number.NaN;
    client = spawnScript(BENCH_CLIENT, [
      ...["ingest", "--address", server.address],
      ...["--agencies", String(agencies), "--bets", String(bets)],
    ]);
    const status = await client.status;
    const json = client.lines.find((line) => line.startsWith("{"));
    if (status.code !== 0 || json === undefined) {
      throw new Error(`Load generator exited ${status.code}:\n${client.tail()}`);
    }
    const result = JSON.parse(json);
    const serverCpu = (cpuMs(server.process.pid) ?? Number.NaN) - cpuBefore;
    await stop(server.process);
    const rows = await countLines(storage);
    if (rows !== bets || result.bets !== bets) {
      throw new Error(`Store holds ${rows} rows, generator acked ${result.bets}, expected ${bets}`);
    }
    const csvBytes = (await Deno.stat(storage)).size;
    return {
      seconds: result.seconds,
      bets,
      csvBytes,
      frameBytes: result.frameBytes,
      serverCpu,
      generatorCpu: result.cpuSeconds * 1000,
    };
  } finally {
    await stopAll([server?.process, client]);
    await removeTempDir(dir);
  }
}

/** The section: for each agency count, a warm-up, then `config.runs` timed runs. */
export async function benchIngest(config: BenchConfig): Promise<IngestSection> {
  const rows: Row[] = [];
  const byAgencies = new Map<number, IngestRun[]>();
  for (const agencies of config.agencies) {
    const runs: IngestRun[] = [];
    progress(`ingest ${agencies} agencies: warm-up`);
    await runIngestOnce(agencies, Math.min(config.ingestBets, 100_000));
    for (let run = 1; run <= config.runs; run++) {
      progress(`ingest ${agencies} agencies: run ${run}/${config.runs}`);
      runs.push(await runIngestOnce(agencies, config.ingestBets));
    }
    byAgencies.set(agencies, runs);
    const label = agenciesLabel(agencies);
    const row = (name: string, unit: string, pick: (r: IngestRun) => number, note?: string) => ({
      section: "ingest" as const,
      name: `${label}: ${name}`,
      unit,
      stat: statOf(runs.map(pick)),
      ...(note === undefined ? {} : { note }),
    });
    rows.push(
      row(
        "bets/s",
        "bets/s",
        (r) => r.bets / r.seconds,
        `${config.ingestBets} bets, 8 KiB frames, durable acks`,
      ),
      row("CSV MB/s", "MB/s", (r) => r.csvBytes / r.seconds / 1e6),
      row(
        "server CPU per bet",
        "µs",
        (r) => (r.serverCpu * 1000) / r.bets,
        "user + system while the generator ran",
      ),
      row(
        "load generator CPU per bet",
        "µs",
        (r) => (r.generatorCpu * 1000) / r.bets,
        "sharing the 2 cores with the server",
      ),
    );
  }
  return { rows, runs: byAgencies };
}
