/**
 * `deno task bench`: the performance suite of issue 5. Prints a table on
 * stdout (progress on stderr) and writes `bench/results.json`.
 *
 *     deno task bench                       # everything, about 5 minutes on 2 cores
 *     deno task bench --quick               # a short check of every section
 *     deno task bench --only e2e,ingest     # some sections
 *
 * Sections (each figure is the median of `--runs` runs, with min and max):
 *
 * - `e2e`: the shipped 5-agency dataset, end to end, with local processes on
 *   127.0.0.1: from spawning the server to the last agency's winners reply,
 *   split by the arrival of log lines (server `server_listening`, clients'
 *   `connect`, server `agencia_finalizada` and `sorteo`, clients'
 *   `consulta_ganadores`). Run with `deno run main.ts` and, when `deno
 *   bundle` works, with the one-file bundle (the offline stand-in for the
 *   compiled binary).
 * - `ingest`: server ingest with 1, 5, 20 and 100 agencies, all sending
 *   synthetic bets through `tools/bench_client.ts` (pre-encoded full 8 KiB
 *   frames, a window of 32 unacked frames a connection, every ack awaited:
 *   durable acks). Every run checks that the store holds every bet once.
 * - `floor`: the same CSV bytes pushed through one loopback TCP connection
 *   into one file with one fsync, and our ratio to it.
 * - `memory`: peak RSS (VmHWM) of the server and of the largest client, with
 *   the shipped dataset and with a generated one of `--big-bets` bets.
 * - `micro`: `deno bench` of the `*_bench.ts` files beside the code.
 *
 * Nothing here asserts on time. Every process started is stopped, and every
 * temporary file removed, when a run ends, fails or is interrupted.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { generateDataset } from "./gen_data.ts";
import { DENO_RUN_FLAGS, MAIN_TS, ROOT, spawnTp0, Tp0Process } from "./processes.ts";
import { syntheticBet } from "./bench_client.ts";
import { betToCsvRow } from "../store/csv.ts";

const BENCH_CLIENT = new URL("./bench_client.ts", import.meta.url).pathname;
const SECTIONS = ["e2e", "ingest", "floor", "memory", "micro"] as const;
type Section = typeof SECTIONS[number];

const USAGE = `Usage: deno task bench [options]

Options:
  --only <list>          sections, comma-separated: ${SECTIONS.join(",")} (default: all)
  --runs <n>             runs a figure, median reported with min and max (default 5)
  --quick                a short check: 3 runs, 200k ingest bets, 1M big bets, no micro
  --ingest-bets <n>      bets a run of the ingest section, in all (default 2000000)
  --agencies <list>      agencies of the ingest runs (default 1,5,20,100)
  --big-bets <n>         bets of the generated dataset of the memory section (default 10000000)
  --big-agencies <n>     agencies sharing them (default 1: one client sends them all)
  --no-bundle            skip the e2e runs of the deno bundle
  --out <path>           results file (default bench/results.json)
  -h, --help             show this help`;

/** A figure: the median of the runs, with min, max and every sample. */
interface Stat {
  median: number;
  min: number;
  max: number;
  samples: number[];
}

/** One row of the printed table and of results.json. */
interface Row {
  section: Section;
  name: string;
  unit: string;
  stat: Stat;
  note?: string;
}

interface BenchConfig {
  sections: Set<Section>;
  runs: number;
  ingestBets: number;
  agencies: number[];
  bigBets: number;
  bigAgencies: number;
  bundle: boolean;
  out: string;
}

// ---------------------------------------------------------------------------
// Cleanup: every child and temporary folder is registered, and released in
// `finally` blocks, and on SIGINT/SIGTERM of the bench itself.

const children = new Set<Tp0Process>();
const tempDirs = new Set<string>();

function track(process: Tp0Process): Tp0Process {
  children.add(process);
  process.status.finally(() => children.delete(process));
  return process;
}

async function stop(process: Tp0Process): Promise<Deno.CommandStatus> {
  process.kill("SIGTERM");
  const timer = setTimeout(() => process.kill("SIGKILL"), 10_000);
  try {
    return await process.status;
  } finally {
    clearTimeout(timer);
  }
}

async function makeTempDir(prefix: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix });
  tempDirs.add(dir);
  return dir;
}

async function removeTempDir(dir: string): Promise<void> {
  tempDirs.delete(dir);
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

async function cleanUp(): Promise<void> {
  await Promise.allSettled([...children].map(stop));
  for (const dir of [...tempDirs]) await removeTempDir(dir);
}

// ---------------------------------------------------------------------------
// Small helpers

function progress(text: string): void {
  console.error(`bench: ${text}`);
}

function statOf(samples: number[]): Stat {
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  const median = n === 0
    ? Number.NaN
    : n % 2 === 1
    ? sorted[(n - 1) / 2]
    : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  return { median, min: sorted[0] ?? Number.NaN, max: sorted[n - 1] ?? Number.NaN, samples };
}

/** Peak resident set (VmHWM) of a live process, in MiB; undefined once it has exited. */
function peakRssMiB(pid: number): number | undefined {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const match = /^VmHWM:\s+(\d+) kB/m.exec(status);
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** CPU time (user + system) a live process has used, in ms; undefined once it has exited. */
function cpuMs(pid: number): number | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after the command name (which may hold spaces), from field 3 on.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime, 100 ticks a second
  } catch {
    return undefined;
  }
}

/** Polls a process's VmHWM until it exits; `peak` is the last value read (it only grows). */
class RssWatch {
  peak = 0;
  #timer: ReturnType<typeof setInterval>;
  #pid: number;

  constructor(pid: number, intervalMs = 20) {
    this.#pid = pid;
    this.#timer = setInterval(() => this.read(), intervalMs);
  }

  read(): void {
    const value = peakRssMiB(this.#pid);
    if (value !== undefined && value > this.peak) this.peak = value;
  }

  stop(): number {
    clearInterval(this.#timer);
    return this.peak;
  }
}

async function countRows(path: string): Promise<number> {
  let count = 0;
  using file = await Deno.open(path);
  const buffer = new Uint8Array(1 << 20);
  for (let n; (n = await file.read(buffer)) !== null;) {
    const chunk = buffer.subarray(0, n);
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) count++;
  }
  return count;
}

/** Rows and winners (number 7574) of each agency file, for checking e2e runs. */
async function datasetFacts(
  dir: string,
  agencies: number,
): Promise<{ bets: number; winners: number }> {
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

function spawnScript(args: string[], onLine?: (line: string) => void): Tp0Process {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...DENO_RUN_FLAGS, "--quiet", ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return track(new Tp0Process(child, onLine));
}

/** How the tp0 processes are started: `deno run main.ts`, or a bundle. */
interface Launcher {
  name: string;
  spawn(args: string[], onLine: (line: string) => void): Tp0Process;
}

const RUN_LAUNCHER: Launcher = {
  name: "deno run main.ts",
  spawn: (args, onLine) => track(spawnTp0(args, { onLine })),
};

function bundleLauncher(bundle: string): Launcher {
  return {
    name: "deno run bundle",
    spawn: (args, onLine) => spawnScript([bundle, ...args], onLine),
  };
}

async function buildBundle(dir: string): Promise<string | undefined> {
  const out = `${dir}/tp0.js`;
  const { success, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "deno", "-o", out, MAIN_TS],
    cwd: ROOT,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (success) return out;
  progress(`deno bundle failed, bundle runs skipped: ${new TextDecoder().decode(stderr).trim()}`);
  return undefined;
}

// ---------------------------------------------------------------------------
// End to end

/** Arrival times (ms since the server was spawned) of the lines that split a run. */
interface E2eMarks {
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

interface E2eOptions {
  launcher: Launcher;
  dataDir: string;
  agencies: number;
  facts: { bets: number; winners: number };
  watchRss: boolean;
}

const has = (line: string, action: string) => line.includes(`action: ${action} |`);

/**
 * Spawns a server on 127.0.0.1 (any free port) with `launcher`. `port` resolves once
 * it listens and rejects if it exits first; every line also goes to `onLine`.
 */
function spawnServer(
  launcher: Launcher,
  options: { agencies: number; storage: string; onLine?: (line: string) => void },
): { server: Tp0Process; port: Promise<number> } {
  const listening = Promise.withResolvers<number>();
  const server = launcher.spawn([
    ...["server", "--host", "127.0.0.1", "--port", "0"],
    ...["--agencies", String(options.agencies), "--storage", options.storage],
  ], (line) => {
    if (has(line, "server_listening")) {
      listening.resolve(Number(/address: [^|]*:(\d+)/.exec(line)?.[1]));
    }
    options.onLine?.(line);
  });
  server.status.then(() =>
    listening.reject(new Error(`Server exited before listening:\n${server.tail()}`))
  );
  return { server, port: listening.promise };
}

async function runE2e(options: E2eOptions): Promise<E2eMarks> {
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
  const { server, port: listening } = spawnServer(launcher, {
    agencies,
    storage,
    onLine: (line) => {
      if (has(line, "server_listening")) marks.listening = at();
      else if (has(line, "agencia_finalizada")) marks.lastDone = Math.max(marks.lastDone, at());
      else if (has(line, "sorteo")) marks.draw = at();
    },
  });
  const serverRss = options.watchRss ? new RssWatch(server.pid) : undefined;
  const clients: Tp0Process[] = [];
  try {
    const port = await listening;
    for (let i = 1; i <= agencies; i++) {
      clients.push(launcher.spawn([
        "client",
        "--id",
        String(i),
        "--server-address",
        `127.0.0.1:${port}`,
        "--data",
        `${dataDir}/agency-${i}.csv`,
      ], (line) => {
        if (has(line, "connect")) marks.lastConnect = Math.max(marks.lastConnect, at());
        else if (has(line, "consulta_ganadores")) {
          marks.lastWinners = Math.max(marks.lastWinners, at());
        }
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
    const rows = await countRows(storage);
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
    await Promise.allSettled([...clients, server].map(stop));
    await removeTempDir(dir);
  }
}

async function benchE2e(config: BenchConfig, launchers: Launcher[]): Promise<Row[]> {
  const dataDir = `${ROOT}.data`;
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
    const name = (what: string) => `${what} (${launcher.name})`;
    const ms = (pick: (m: E2eMarks) => number) => statOf(all.map(pick));
    const note = `${facts.bets} bets, ${agencies} agencies`;
    rows.push(
      {
        section: "e2e",
        name: name("total wall"),
        unit: "ms",
        stat: ms((m) => m.lastWinners),
        note,
      },
      {
        section: "e2e",
        name: name("  start: server listening"),
        unit: "ms",
        stat: ms((m) => m.listening),
      },
      {
        section: "e2e",
        name: name("  start: all agencies connected"),
        unit: "ms",
        stat: ms((m) => m.lastConnect - m.listening),
      },
      {
        section: "e2e",
        name: name("  ingest: to last agency done"),
        unit: "ms",
        stat: ms((m) => m.lastDone - m.lastConnect),
      },
      { section: "e2e", name: name("  draw"), unit: "ms", stat: ms((m) => m.draw - m.lastDone) },
      {
        section: "e2e",
        name: name("  winners: to last reply"),
        unit: "ms",
        stat: ms((m) => m.lastWinners - m.draw),
      },
      {
        section: "e2e",
        name: name("server CPU time"),
        unit: "ms",
        stat: ms((m) => m.serverCpu),
        note: "user + system, start to last reply",
      },
    );
  }
  return rows;
}

// ---------------------------------------------------------------------------
// Ingest

interface IngestRun {
  seconds: number;
  bets: number;
  csvBytes: number;
  frameBytes: number;
  /** CPU time of the server while the generator ran, in ms. */
  serverCpu: number;
  /** CPU time of the generator while timed, in ms. */
  generatorCpu: number;
}

async function runIngestOnce(agencies: number, bets: number): Promise<IngestRun> {
  const dir = await makeTempDir("tp0-bench-ingest-");
  const storage = `${dir}/bets.csv`;
  const { server, port: listening } = spawnServer(RUN_LAUNCHER, { agencies, storage });
  let client: Tp0Process | undefined;
  try {
    const port = await listening;
    const cpuBefore = cpuMs(server.pid) ?? Number.NaN;
    client = spawnScript([
      BENCH_CLIENT,
      "ingest",
      "--address",
      `127.0.0.1:${port}`,
      "--agencies",
      String(agencies),
      "--bets",
      String(bets),
    ]);
    const status = await client.status;
    const json = client.lines.find((line) => line.startsWith("{"));
    if (status.code !== 0 || json === undefined) {
      throw new Error(`Load generator exited ${status.code}:\n${client.tail()}`);
    }
    const result = JSON.parse(json);
    const serverCpu = (cpuMs(server.pid) ?? Number.NaN) - cpuBefore;
    await stop(server);
    const rows = await countRows(storage);
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
    await Promise.allSettled([server, client].filter((p) => p !== undefined).map(stop));
    await removeTempDir(dir);
  }
}

async function benchIngest(
  config: BenchConfig,
): Promise<{ rows: Row[]; runs: Map<number, IngestRun[]> }> {
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
    const label = agencies === 1 ? "1 agency" : `${agencies} agencies`;
    const note = `${config.ingestBets} bets, 8 KiB frames, durable acks`;
    rows.push(
      {
        section: "ingest",
        name: `${label}: bets/s`,
        unit: "bets/s",
        stat: statOf(runs.map((r) => r.bets / r.seconds)),
        note,
      },
      {
        section: "ingest",
        name: `${label}: CSV MB/s`,
        unit: "MB/s",
        stat: statOf(runs.map((r) => r.csvBytes / r.seconds / 1e6)),
      },
      {
        section: "ingest",
        name: `${label}: server CPU per bet`,
        unit: "µs",
        stat: statOf(runs.map((r) => (r.serverCpu * 1000) / r.bets)),
        note: "user + system while the generator ran",
      },
      {
        section: "ingest",
        name: `${label}: load generator CPU per bet`,
        unit: "µs",
        stat: statOf(runs.map((r) => (r.generatorCpu * 1000) / r.bets)),
        note: "sharing the 2 cores with the server",
      },
    );
  }
  return { rows, runs: byAgencies };
}

// ---------------------------------------------------------------------------
// Raw floor

/** Writes the store rows of `bets` synthetic bets split among `agencies`, as the ingest stores them. */
async function writeFloorCsv(
  path: string,
  options: { agencies: number; bets: number },
): Promise<number> {
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  const encoder = new TextEncoder();
  let size = 0;
  for (let agency = 1; agency <= options.agencies; agency++) {
    const count = Math.floor(options.bets / options.agencies) +
      (agency <= options.bets % options.agencies ? 1 : 0);
    let text = "";
    for (let i = 0; i < count; i++) {
      text += betToCsvRow(syntheticBet(agency, i));
      if (text.length > 1 << 20 || i === count - 1) {
        const bytes = encoder.encode(text);
        size += bytes.length;
        for (let o = 0; o < bytes.length;) o += await file.write(bytes.subarray(o));
        text = "";
      }
    }
  }
  return size;
}

async function runFloorOnce(csv: string, dir: string): Promise<number> {
  const portLine = Promise.withResolvers<number>();
  const sink = spawnScript(
    [BENCH_CLIENT, "floor-sink", "--out", `${dir}/floor-out.csv`],
    (line) => {
      const match = /^port (\d+)$/.exec(line);
      if (match) portLine.resolve(Number(match[1]));
    },
  );
  let sender: Tp0Process | undefined;
  try {
    const port = await Promise.race([
      portLine.promise,
      sink.status.then((): number => {
        throw new Error(`Floor sink exited:\n${sink.tail()}`);
      }),
    ]);
    sender = spawnScript([
      BENCH_CLIENT,
      "floor-send",
      "--address",
      `127.0.0.1:${port}`,
      "--file",
      csv,
    ]);
    const status = await sender.status;
    const json = sender.lines.find((line) => line.startsWith("{"));
    if (status.code !== 0 || json === undefined) {
      throw new Error(`Floor sender exited ${status.code}:\n${sender.tail()}`);
    }
    await sink.status;
    return JSON.parse(json).seconds;
  } finally {
    await Promise.allSettled([sink, sender].filter((p) => p !== undefined).map(stop));
    await Deno.remove(`${dir}/floor-out.csv`).catch(() => {});
  }
}

async function benchFloor(
  config: BenchConfig,
  ingest: Map<number, IngestRun[]> | undefined,
): Promise<Row[]> {
  const dir = await makeTempDir("tp0-bench-floor-");
  try {
    const agencies = config.agencies.includes(20) ? 20 : config.agencies.at(-1) ?? 20;
    const csv = `${dir}/bets.csv`;
    progress(`floor: writing the CSV of ${config.ingestBets} bets`);
    const bytes = await writeFloorCsv(csv, { agencies, bets: config.ingestBets });
    await runFloorOnce(csv, dir); // warm-up
    const seconds: number[] = [];
    for (let run = 1; run <= config.runs; run++) {
      progress(`floor: run ${run}/${config.runs}`);
      seconds.push(await runFloorOnce(csv, dir));
    }
    const floor = statOf(seconds);
    const rows: Row[] = [
      {
        section: "floor",
        name: "loopback TCP -> file + 1 fsync: time",
        unit: "ms",
        stat: statOf(seconds.map((s) => s * 1000)),
        note: `${config.ingestBets} bets, ${(bytes / 1e6).toFixed(1)} MB of CSV`,
      },
      {
        section: "floor",
        name: "loopback TCP -> file + 1 fsync: bets/s",
        unit: "bets/s",
        stat: statOf(seconds.map((s) => config.ingestBets / s)),
      },
    ];
    for (const [count, runs] of ingest ?? []) {
      // Our time for the same bytes over the floor's median time (1.0 = as fast as the floor).
      rows.push({
        section: "floor",
        name: `ratio: ingest ${count === 1 ? "1 agency" : `${count} agencies`} / floor`,
        unit: "x",
        stat: statOf(runs.map((r) => r.seconds / floor.median)),
      });
    }
    return rows;
  } finally {
    await removeTempDir(dir);
  }
}

// ---------------------------------------------------------------------------
// Memory

async function benchMemory(config: BenchConfig, launcher: Launcher): Promise<Row[]> {
  const rows: Row[] = [];
  const shipped = `${ROOT}.data`;
  const datasets: { name: string; dir: string; agencies: number; generated: boolean }[] = [
    { name: "shipped dataset", dir: shipped, agencies: 5, generated: false },
  ];
  const bigDir = await makeTempDir("tp0-bench-big-");
  try {
    progress(`memory: generating ${config.bigBets} bets for ${config.bigAgencies} agencies`);
    await generateDataset({ out: bigDir, agencies: config.bigAgencies, bets: config.bigBets });
    datasets.push({
      name: `${config.bigBets.toLocaleString("en-US")} bets`,
      dir: bigDir,
      agencies: config.bigAgencies,
      generated: true,
    });
    for (const dataset of datasets) {
      const facts = await datasetFacts(dataset.dir, dataset.agencies);
      const all: E2eMarks[] = [];
      for (let run = 1; run <= config.runs; run++) {
        progress(`memory (${dataset.name}): run ${run}/${config.runs}`);
        all.push(
          await runE2e({
            launcher,
            dataDir: dataset.dir,
            agencies: dataset.agencies,
            facts,
            watchRss: true,
          }),
        );
      }
      const note = `${facts.bets} bets, ${dataset.agencies} agenc${
        dataset.agencies === 1 ? "y" : "ies"
      }`;
      rows.push(
        {
          section: "memory",
          name: `server peak RSS, ${dataset.name}`,
          unit: "MiB",
          stat: statOf(all.map((m) => m.serverRss)),
          note,
        },
        {
          section: "memory",
          name: `client peak RSS, ${dataset.name}`,
          unit: "MiB",
          stat: statOf(all.map((m) => m.clientRss)),
          note: dataset.agencies === 1 ? "the one agency" : `largest of the ${dataset.agencies}`,
        },
        {
          section: "memory",
          name: `end to end wall, ${dataset.name}`,
          unit: "ms",
          stat: statOf(all.map((m) => m.lastWinners)),
          note: "RSS polled every 20 ms",
        },
      );
    }
    return rows;
  } finally {
    await removeTempDir(bigDir);
  }
}

// ---------------------------------------------------------------------------
// Micro-benchmarks

interface DenoBenchResult {
  origin: string;
  name: string;
  group: string | null;
  results: { ok?: { n: number; avg: number; min: number; max: number; p75: number } }[];
}

async function benchMicro(): Promise<Row[]> {
  progress("micro: deno bench --allow-all protocol/ store/");
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["bench", "--allow-all", "--json", "protocol/", "store/"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stdout);
  if (!success) {
    throw new Error(`deno bench failed:\n${new TextDecoder().decode(stderr).slice(-2000)}`);
  }
  const report = JSON.parse(text.slice(text.indexOf("{"))) as { benches: DenoBenchResult[] };
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

// ---------------------------------------------------------------------------
// Report

function format(value: number, unit: string): string {
  if (!Number.isFinite(value)) return "-";
  if (unit === "bets/s") return Math.round(value).toLocaleString("en-US");
  if (unit === "x") return value.toFixed(2);
  if ((unit === "µs/iter" || unit === "µs") && value < 10) return value.toFixed(2);
  return value < 10 ? value.toFixed(1) : Math.round(value).toLocaleString("en-US");
}

function printTable(rows: Row[]): void {
  const table = [
    ["section", "figure", "median", "min", "max", "unit", "note"],
    ...rows.map((row) => [
      row.section,
      row.name,
      format(row.stat.median, row.unit),
      format(row.stat.min, row.unit),
      format(row.stat.max, row.unit),
      row.unit,
      row.note ?? "",
    ]),
  ];
  const widths = table[0].map((_, c) => Math.max(...table.map((r) => r[c].length)));
  const right = new Set([2, 3, 4]);
  const line = (row: string[]) =>
    row.map((cell, c) => right.has(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))
      .join("  ").trimEnd();
  console.log(line(table[0]));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  let section = "";
  for (const row of table.slice(1)) {
    if (section !== "" && row[0] !== section) console.log("");
    section = row[0];
    console.log(line(row));
  }
}

async function machine(): Promise<Record<string, unknown>> {
  let cpu = "unknown";
  try {
    const info = await Deno.readTextFile("/proc/cpuinfo");
    cpu = /^model name\s*:\s*(.*)$/m.exec(info)?.[1] ?? cpu;
  } catch {
    // Not Linux.
  }
  return {
    cpu,
    cores: navigator.hardwareConcurrency,
    memoryGiB: Math.round(Deno.systemMemoryInfo().total / 2 ** 30),
    os: `${Deno.build.os} ${Deno.osRelease()}`,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    date: new Date().toISOString(),
  };
}

function parseConfig(args: string[]): BenchConfig | string {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      options: {
        only: { type: "string" },
        runs: { type: "string" },
        quick: { type: "boolean", default: false },
        "ingest-bets": { type: "string" },
        agencies: { type: "string" },
        "big-bets": { type: "string" },
        "big-agencies": { type: "string" },
        "no-bundle": { type: "boolean", default: false },
        out: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (error) {
    return (error as Error).message.split("\n")[0];
  }
  if (values.help) return "help";
  const quick = values.quick;
  const integer = (name: string, text: string | undefined, fallback: number, min = 1) => {
    if (text === undefined) return fallback;
    const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(value) || value < min) {
      throw new RangeError(`Invalid --${name}: "${text}" (expected an integer >= ${min})`);
    }
    return value;
  };
  try {
    const sections = new Set<Section>();
    const wanted = values.only?.split(",").map((s) => s.trim()) ??
      SECTIONS.filter((s) => !(quick && s === "micro"));
    for (const name of wanted) {
      if (!(SECTIONS as readonly string[]).includes(name)) {
        throw new RangeError(`Invalid --only: "${name}" (expected ${SECTIONS.join(", ")})`);
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
      bundle: !values["no-bundle"],
      out: values.out ?? `${ROOT}bench/results.json`,
    };
  } catch (error) {
    return (error as Error).message;
  }
}

async function bench(args: string[]): Promise<number> {
  const config = parseConfig(args);
  if (config === "help") {
    console.log(USAGE);
    return 0;
  }
  if (typeof config === "string") {
    console.error(`bench: ${config}\n\n${USAGE}`);
    return 2;
  }
  const onSignal = () => {
    progress("interrupted: stopping every process and removing temporary files");
    cleanUp().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const started = performance.now();
  const rows: Row[] = [];
  try {
    const wants = (section: Section) => config.sections.has(section);
    const launchers = [RUN_LAUNCHER];
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
  } finally {
    await cleanUp();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
  const seconds = (performance.now() - started) / 1000;
  const info = await machine();
  console.log(
    `\ntp0 benchmark: ${info.cpu}, ${info.cores} cores, deno ${info.deno}, ${info.date}\n`,
  );
  printTable(rows);
  const { sections: _sections, ...settings } = config;
  const results = {
    command: `deno task bench ${args.join(" ")}`.trim(),
    machine: info,
    settings: { ...settings, sections: [...config.sections] },
    seconds: Math.round(seconds),
    rows,
  };
  await Deno.mkdir(new URL(".", `file://${config.out}`).pathname, { recursive: true });
  await Deno.writeTextFile(config.out, JSON.stringify(results, null, 2) + "\n");
  progress(`done in ${seconds.toFixed(0)} s; results in ${config.out}`);
  return 0;
}

if (import.meta.main) {
  Deno.exit(await bench(Deno.args));
}
