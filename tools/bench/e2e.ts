/**
 * The `e2e` section: the shipped 5-agency dataset end to end, with local
 * processes on 127.0.0.1, from spawning the server to the last agency's
 * winners reply, split by the arrival of log lines (server
 * `server_listening`, clients' `connect`, server `agencia_finalizada` and
 * `sorteo`, clients' `consulta_ganadores`). {@linkcode runE2e} is also the
 * run the `memory` section measures.
 *
 * @module
 */

import { isListeningLine, type LocalServer, ROOT, type Tp0Process } from "../processes.ts";
import { countLines } from "../files.ts";
import { generateDataset } from "../gen_data.ts";
import type { BenchConfig } from "./config.ts";
import { progress, type Row } from "./output.ts";
import {
  type Launcher,
  makeTempDir,
  removeTempDir,
  RUN_LAUNCHER,
  startServer,
  stop,
  stopAll,
} from "./processes.ts";
import { statOf } from "./stats.ts";
import { cpuMs, RssWatch } from "./usage.ts";

/** The shipped dataset's folder. */
export const SHIPPED_DATA = `${ROOT}.data`;

/** Arrival times (ms since the server was spawned) of the lines that split a run. */
export interface E2eMarks {
  listening: number;
  lastConnect: number;
  lastDone: number;
  draw: number;
  lastWinners: number;
  /** The last agency's exit: the run's end-to-end time, as an outside harness measures it. */
  lastExit: number;
  serverRss: number;
  clientRss: number;
  /** CPU time of the server (user + system) once every agency has exited, in ms. */
  serverCpu: number;
  /** CPU time of each agency (user + system) at its last line (`finished`), in ms. */
  clientCpu: number[];
}

/** The same run measured by `e2e_external.sh`, outside the bench's process. */
export interface ExternalMarks {
  wall: number;
  listening: number;
  serverCpu: number;
  clientsCpu: number;
}

/** Rows and winners a dataset must produce. */
export interface DatasetFacts {
  bets: number;
  winners: number;
}

/** Options of {@linkcode runE2e}. */
export interface E2eOptions {
  /** How tp0 is started. */
  launcher: Launcher;
  /** Folder of `agency-{i}.csv`. */
  dataDir: string;
  /** Agencies (files) to run. */
  agencies: number;
  /** What the run must store and answer. */
  facts: DatasetFacts;
  /** Whether to poll the peak RSS of the server and the clients. */
  watchRss: boolean;
}

function has(line: string, action: string): boolean {
  return line.includes(`action: ${action} |`);
}

/** Rows and winners (number 7574) of each agency file, for checking e2e runs. */
export async function datasetFacts(dir: string, agencies: number): Promise<DatasetFacts> {
  let bets = 0;
  let winners = 0;
  for (let i = 1; i <= agencies; i++) {
    const text = await Deno.readTextFile(`${dir}/agency-${i}.csv`);
    for (const line of text.split("\n")) {
      if (line === "") continue;
      bets++;
      if (line.endsWith(",7574")) winners++;
    }
  }
  return { bets, winners };
}

/**
 * One lottery run: a server and one client per agency file. Checks that every
 * client and the server exit 0, that the store holds every bet and that the
 * agencies got every winner.
 */
export async function runE2e(options: E2eOptions): Promise<E2eMarks> {
  const { launcher, dataDir, agencies } = options;
  const dir = await makeTempDir("tp0-bench-e2e-");
  const storage = `${dir}/bets.csv`;
  const started = performance.now();
  const at = () => performance.now() - started;
  const marks = {
    listening: Number.NaN,
    lastConnect: 0,
    lastDone: 0,
    draw: Number.NaN,
    lastWinners: 0,
    lastExit: 0,
    serverRss: 0,
    clientRss: 0,
    serverCpu: 0,
    clientCpu: Array.from({ length: agencies }, () => Number.NaN),
  };
  let local: LocalServer | undefined;
  let serverRss: RssWatch | undefined;
  const clients: Tp0Process[] = [];
  try {
    local = await startServer(launcher, {
      agencies,
      storage,
      onLine: (line) => {
        if (isListeningLine(line)) marks.listening = at();
        else if (has(line, "agencia_finalizada")) marks.lastDone = Math.max(marks.lastDone, at());
        else if (has(line, "sorteo")) marks.draw = at();
      },
    });
    const server = local.process;
    // VmHWM is the peak since the process started: polling from now on misses nothing.
    if (options.watchRss) serverRss = new RssWatch(server.pid);
    for (let i = 1; i <= agencies; i++) {
      const client: Tp0Process = launcher.spawn([
        ...["client", "--id", String(i), "--server-address", local.address],
        ...["--data", `${dataDir}/agency-${i}.csv`],
      ], {
        onLine: (line) => {
          if (has(line, "connect")) marks.lastConnect = Math.max(marks.lastConnect, at());
          else if (has(line, "consulta_ganadores")) {
            marks.lastWinners = Math.max(marks.lastWinners, at());
          }
          // Read at every line (a client logs about ten), the last read wins: /proc is gone
          // once it has exited, and on a busy machine its last lines are read after that.
          const cpu = cpuMs(client.pid);
          if (cpu !== undefined) marks.clientCpu[i - 1] = cpu;
        },
      });
      clients.push(client);
    }
    const clientRss = options.watchRss ? clients.map((c) => new RssWatch(c.pid)) : [];
    const statuses = await Promise.all(clients.map(async (client) => {
      const status = await client.status;
      marks.lastExit = Math.max(marks.lastExit, at());
      return status;
    }));
    for (const watch of clientRss) marks.clientRss = Math.max(marks.clientRss, watch.stop());
    serverRss?.read();
    marks.serverRss = serverRss?.stop() ?? 0;
    marks.serverCpu = cpuMs(server.pid) ?? Number.NaN;
    const failed = statuses.findIndex((status) => status.code !== 0);
    if (failed >= 0) {
      throw new Error(
        `Agency ${failed + 1} exited ${statuses[failed].code}:\n${clients[failed].tail()}`,
      );
    }
    const status = await stop(server);
    if (status.code !== 0) throw new Error(`Server exited ${status.code}:\n${server.tail()}`);
    const rows = await countLines(storage);
    if (rows !== options.facts.bets) {
      throw new Error(`Store holds ${rows} rows, expected ${options.facts.bets}`);
    }
    let winners = 0;
    for (const client of clients) {
      const line = client.lines.find((l) => has(l, "consulta_ganadores"));
      winners += Number(/cant_ganadores: (\d+)/.exec(line ?? "")?.[1] ?? Number.NaN);
    }
    if (winners !== options.facts.winners) {
      throw new Error(`Agencies got ${winners} winners, expected ${options.facts.winners}`);
    }
    return marks;
  } finally {
    serverRss?.stop();
    await stopAll([...clients, local?.process]);
    await removeTempDir(dir);
  }
}

/** The external harness beside this file. */
const EXTERNAL_SCRIPT = new URL("./e2e_external.sh", import.meta.url).pathname;

/**
 * One run of `e2e_external.sh` (the same processes, timed by a shell that reads
 * none of their output; with `floor`, six bare Deno processes that move the same
 * bytes and nothing else, `floor_processes.ts`); undefined, with a progress
 * line, when it cannot run.
 */
export async function runExternal(
  dataDir: string,
  agencies: number,
  options: { floor?: boolean; rows?: number } = {},
): Promise<ExternalMarks | undefined> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(EXTERNAL_SCRIPT, {
      args: [dataDir, String(agencies), ...(options.floor ? ["floor"] : [])],
      env: { DENO: Deno.execPath() },
      stdin: "null",
    }).output();
  } catch (error) {
    progress(`external harness skipped: ${error instanceof Error ? error.message : error}`);
    return undefined;
  }
  const text = new TextDecoder().decode(output.stdout);
  const field = (name: string) => Number(new RegExp(`${name}=(\\d+)`).exec(text)?.[1]);
  if (!output.success || Number.isNaN(field("wall_ms"))) {
    progress(`external harness failed: ${new TextDecoder().decode(output.stderr).trim()}`);
    return undefined;
  }
  if (options.rows !== undefined && field("rows") !== options.rows) {
    progress(`external harness stored ${field("rows")} rows, not ${options.rows}: not counted`);
    return undefined;
  }
  return {
    wall: field("wall_ms"),
    listening: field("listening_ms"),
    serverCpu: field("server_cpu_ms"),
    clientsCpu: field("clients_cpu_ms"),
  };
}

/** How `e2e_external.sh` reads CPU. */
const HARNESS_CPU_NOTE = "/proc and /usr/bin/time, 10 ms ticks";

/** A row of figures the external harness measured, in ms. */
function harnessRow(name: string, values: number[], note: string): Row {
  return { section: "e2e", name, unit: "ms", stat: statOf(values), note };
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/**
 * The section: a warm-up, then `config.runs` runs with each launcher; with
 * `deno run main.ts` each run is followed by one of the external harness and
 * one of its floor (A B C A B C), so the three figures share the machine's load.
 */
export async function benchE2e(config: BenchConfig, launchers: Launcher[]): Promise<Row[]> {
  const dataDir = SHIPPED_DATA;
  const agencies = 5;
  const facts = await datasetFacts(dataDir, agencies);
  const rows: Row[] = [];
  for (const launcher of launchers) {
    const external = launcher === RUN_LAUNCHER && config.external;
    // One warm-up run (module and code caches), not counted.
    progress(`e2e (${launcher.name}): warm-up`);
    await runE2e({ launcher, dataDir, agencies, facts, watchRss: false });
    const all: E2eMarks[] = [];
    const outside: ExternalMarks[] = [];
    const floor: ExternalMarks[] = [];
    for (let run = 1; run <= config.runs; run++) {
      progress(`e2e (${launcher.name}): run ${run}/${config.runs}`);
      all.push(await runE2e({ launcher, dataDir, agencies, facts, watchRss: false }));
      if (external) {
        const marks = await runExternal(dataDir, agencies, { rows: facts.bets });
        if (marks) outside.push(marks);
        const bare = await runExternal(dataDir, agencies, { floor: true, rows: facts.bets });
        if (bare) floor.push(bare);
      }
    }
    const row = (name: string, pick: (m: E2eMarks) => number, note?: string): Row => ({
      section: "e2e",
      name: `${name} (${launcher.name})`,
      unit: "ms",
      stat: statOf(all.map(pick)),
      ...(note === undefined ? {} : { note }),
    });
    rows.push(
      row(
        "total wall",
        (m) => m.lastExit,
        `${facts.bets} bets, ${agencies} agencies, to last exit`,
      ),
    );
    if (outside.length > 0) {
      rows.push(harnessRow(
        "total wall, external harness (deno run main.ts)",
        outside.map((m) => m.wall),
        "e2e_external.sh, run after each run above",
      ));
    }
    if (floor.length > 0) {
      rows.push(
        harnessRow(
          "total wall, the floor: six bare Deno processes, same bytes",
          floor.map((m) => m.wall),
          "e2e_external.sh floor (floor_processes.ts)",
        ),
        harnessRow(
          "  CPU of the floor's six processes",
          floor.map((m) => m.serverCpu + m.clientsCpu),
          HARNESS_CPU_NOTE,
        ),
      );
    }
    rows.push(
      row("  start: server listening", (m) => m.listening),
      row("  start: all agencies connected", (m) => m.lastConnect - m.listening),
      row("  ingest: to last agency done", (m) => m.lastDone - m.lastConnect),
      row("  draw", (m) => m.draw - m.lastDone),
      row("  winners: to last reply", (m) => m.lastWinners - m.draw),
      row("  exit: to last agency's exit", (m) => m.lastExit - m.lastWinners),
      row("CPU, all processes", (m) => m.serverCpu + sum(m.clientCpu), "user + system"),
      row("  CPU, server", (m) => m.serverCpu, "start to the last agency's exit"),
      row("  CPU, agencies in all", (m) => sum(m.clientCpu), "each to its last line"),
      ...Array.from(
        { length: agencies },
        (_, i) => row(`  CPU, agency ${i + 1}`, (m) => m.clientCpu[i]),
      ),
    );
    if (outside.length > 0) {
      rows.push(harnessRow(
        "CPU, all processes, external harness (deno run main.ts)",
        outside.map((m) => m.serverCpu + m.clientsCpu),
        HARNESS_CPU_NOTE,
      ));
    }
  }
  if (config.fleetBets > 0) rows.push(...await benchFleet(config));
  return rows;
}

/** `config.fleetAgencies` real clients sharing `config.fleetBets` generated bets, end to end. */
async function benchFleet(config: BenchConfig): Promise<Row[]> {
  const agencies = config.fleetAgencies;
  const dir = await makeTempDir("tp0-bench-fleet-");
  try {
    progress(`e2e: generating ${config.fleetBets} bets for ${agencies} agencies`);
    await generateDataset({ out: dir, agencies, bets: config.fleetBets });
    const facts = await datasetFacts(dir, agencies);
    const options = { launcher: RUN_LAUNCHER, dataDir: dir, agencies, facts, watchRss: false };
    progress(`e2e (${agencies} agencies): warm-up`);
    await runE2e(options);
    const all: E2eMarks[] = [];
    for (let run = 1; run <= config.runs; run++) {
      progress(`e2e (${agencies} agencies): run ${run}/${config.runs}`);
      all.push(await runE2e(options));
    }
    const name = `${agencies} agencies x ${Math.round(facts.bets / agencies)} bets`;
    return [
      {
        section: "e2e",
        name: `${name}, real clients`,
        unit: "bets/s",
        stat: statOf(all.map((m) => facts.bets / (m.lastExit / 1000))),
        note: "server spawned to the last agency's exit",
      },
      {
        section: "e2e",
        name: `  ${name}: wall`,
        unit: "ms",
        stat: statOf(all.map((m) => m.lastExit)),
      },
      {
        section: "e2e",
        name: `  ${name}: CPU, server / agencies in all`,
        unit: "ms",
        stat: statOf(all.map((m) => m.serverCpu)),
        note: `agencies ${Math.round(statOf(all.map((m) => sum(m.clientCpu))).median)} ms`,
      },
    ];
  } finally {
    await removeTempDir(dir);
  }
}
