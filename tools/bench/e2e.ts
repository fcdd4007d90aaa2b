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
import type { BenchConfig } from "./config.ts";
import { progress, type Row } from "./output.ts";
import {
  type Launcher,
  makeTempDir,
  removeTempDir,
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
  serverRss: number;
  clientRss: number;
  /** CPU time of the server (user + system) until the last reply, in ms. */
  serverCpu: number;
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
    serverRss: 0,
    clientRss: 0,
    serverCpu: 0,
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
      clients.push(launcher.spawn([
        ...["client", "--id", String(i), "--server-address", local.address],
        ...["--data", `${dataDir}/agency-${i}.csv`],
      ], {
        onLine: (line) => {
          if (has(line, "connect")) marks.lastConnect = Math.max(marks.lastConnect, at());
          else if (has(line, "consulta_ganadores")) {
            marks.lastWinners = Math.max(marks.lastWinners, at());
          }
        },
      }));
    }
    const clientRss = options.watchRss ? clients.map((c) => new RssWatch(c.pid)) : [];
    const statuses = await Promise.all(clients.map((client) => client.status));
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

/** The section: a warm-up, then `config.runs` runs with each launcher. */
export async function benchE2e(config: BenchConfig, launchers: Launcher[]): Promise<Row[]> {
  const dataDir = SHIPPED_DATA;
  const agencies = 5;
  const facts = await datasetFacts(dataDir, agencies);
  const rows: Row[] = [];
  for (const launcher of launchers) {
    // One warm-up run (module and code caches), not counted.
    progress(`e2e (${launcher.name}): warm-up`);
    await runE2e({ launcher, dataDir, agencies, facts, watchRss: false });
    const all: E2eMarks[] = [];
    for (let run = 1; run <= config.runs; run++) {
      progress(`e2e (${launcher.name}): run ${run}/${config.runs}`);
      all.push(await runE2e({ launcher, dataDir, agencies, facts, watchRss: false }));
    }
    const row = (name: string, pick: (m: E2eMarks) => number, note?: string): Row => ({
      section: "e2e",
      name: `${name} (${launcher.name})`,
      unit: "ms",
      stat: statOf(all.map(pick)),
      ...(note === undefined ? {} : { note }),
    });
    rows.push(
      row("total wall", (m) => m.lastWinners, `${facts.bets} bets, ${agencies} agencies`),
      row("  start: server listening", (m) => m.listening),
      row("  start: all agencies connected", (m) => m.lastConnect - m.listening),
      row("  ingest: to last agency done", (m) => m.lastDone - m.lastConnect),
      row("  draw", (m) => m.draw - m.lastDone),
      row("  winners: to last reply", (m) => m.lastWinners - m.draw),
      row("server CPU time", (m) => m.serverCpu, "user + system, start to last reply"),
    );
  }
  return rows;
}
