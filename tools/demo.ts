/**
 * `deno task demo`: the whole lottery on this machine, no Docker. Starts the
 * server and one client per agency file as local processes on 127.0.0.1,
 * interleaves their logs with a role prefix the way Compose does, and ends
 * with a summary table.
 *
 *     deno task demo [--agencies 5] [--data .data] [--quiet] [--servers 3]
 *
 * With `--servers K` (K > 1): K server replicas on a throwaway local PostgreSQL
 * (tools/postgres.ts: initdb into a temporary folder from the machine's
 * binaries, removed on exit and on Ctrl-C), each agency given every replica's
 * address (docs/replicas.md).
 *
 * @module
 */

import { parseLogLine } from "../roles/log.ts";
import { abortOnSignals, type ShutdownRequested } from "../roles/shutdown.ts";
import { EXIT_FAIL, EXIT_OK, EXIT_USAGE, parseCommand, UsageError } from "../util/mod.ts";
import { countLines } from "./files.ts";
import { newAgencyKeyHex } from "../protocol/mod.ts";
import {
  type LocalServer,
  ROOT,
  spawnTp0,
  startLocalServer,
  type Tp0Process,
} from "./processes.ts";
import { PostgresUnavailable, startTempPostgres, type TempPostgres } from "./postgres.ts";

const USAGE = `Usage: deno task demo [options]

Runs the lottery locally: a server on 127.0.0.1 and one agency per file
<data>/agency-{i}.csv, then prints bets and winners per agency.

Options:
  --agencies <n>          agencies to run (default 5)
  --data <dir>            folder with agency-{i}.csv (default .data)
  --batch-max-amount <n>  bets per batch (default: config/client.yaml)
  --servers <k>           k server replicas (1..16) on a throwaway local PostgreSQL
                          (needs its binaries: initdb, pg_ctl); default 1, the embedded store
  --no-keys               no agency keys (protocol version 1); by default each agency
                          gets a fresh key in the demo's temporary folder and proves it
  --quiet                 print only the summary
  -h, --help              show this help`;

/**
 * A fresh key per agency in the demo's temporary folder (removed with it), mode 600: the
 * server's keys file and each agency's own file.
 */
async function writeDemoKeys(
  dir: string,
  agencies: number,
): Promise<{ server: string; clients: string[] }> {
  const hex = Array.from({ length: agencies }, () => newAgencyKeyHex());
  const server = `${dir}/agency-keys`;
  await Deno.writeTextFile(server, hex.map((key, i) => `${i + 1}:${key}\n`).join(""), {
    mode: 0o600,
  });
  const clients: string[] = [];
  for (const [i, key] of hex.entries()) {
    const path = `${dir}/agency-${i + 1}.key`;
    await Deno.writeTextFile(path, `${key}\n`, { mode: 0o600 });
    clients.push(path);
  }
  return { server, clients };
}

interface AgencyResult {
  agency: number;
  code: number;
  bets: number;
  winners: number;
  seconds: number;
}

/** Exit code of a demo stopped by SIGINT or SIGTERM. */
const EXIT_INTERRUPTED = 130;

const OPTIONS = {
  agencies: { type: "string", default: "5" },
  data: { type: "string", default: ".data" },
  "batch-max-amount": { type: "string" },
  "no-keys": { type: "boolean", default: false },
  servers: { type: "string", default: "1" },
  quiet: { type: "boolean", default: false },
} as const;

async function demo(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseCommand(args, { options: OPTIONS, usage: USAGE });
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`demo: ${error.message}\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  const { values } = parsed;
  if (parsed.help) {
    console.log(USAGE);
    return EXIT_OK;
  }
  const agencies = Number(values.agencies);
  if (!Number.isInteger(agencies) || agencies < 1 || agencies > 1000) {
    console.error(`demo: Invalid --agencies: "${values.agencies}" (expected 1..1000)\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  const replicas = /^\d+$/.test(values.servers) ? Number(values.servers) : Number.NaN;
  if (!(replicas >= 1 && replicas <= 16)) {
    console.error(`demo: Invalid --servers: "${values.servers}" (expected 1..16)\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  const dataDir = values.data.startsWith("/") ? values.data : `${ROOT}${values.data}`;
  for (let i = 1; i <= agencies; i++) {
    try {
      Deno.statSync(`${dataDir}/agency-${i}.csv`);
    } catch {
      console.error(`demo: Missing data file: "${dataDir}/agency-${i}.csv"`);
      return EXIT_FAIL;
    }
  }

  const width = Math.max(`client${agencies}`.length, `server${replicas}`.length);
  const printer = (name: string) => (line: string) => {
    if (!values.quiet) console.log(`${name.padEnd(width)} | ${line}`);
  };
  // Ctrl-C (or SIGTERM) stops every process the demo started, each logging its closures,
  // prints what was done so far and removes the temporary storage.
  const running: Tp0Process[] = [];
  const interrupt = new AbortController();
  const interrupted = () =>
    interrupt.signal.aborted ? (interrupt.signal.reason as ShutdownRequested).signal : undefined;
  interrupt.signal.addEventListener("abort", () => {
    console.error(`demo: ${interrupted()}: stopping the server and the agencies`);
    for (const process of running) process.kill("SIGTERM");
  });
  using _signals = abortOnSignals(interrupt);
  let pg: TempPostgres | undefined;
  if (replicas > 1) {
    try {
      pg = await startTempPostgres();
    } catch (error) {
      if (!(error instanceof PostgresUnavailable)) throw error;
      console.error(
        `demo: --servers ${replicas} needs PostgreSQL on this machine: ${error.message}`,
      );
      return EXIT_FAIL;
    }
  }
  const storageDir = await Deno.makeTempDir({ prefix: "tp0-demo-" });
  const started = performance.now();
  try {
    const keys = values["no-keys"] ? undefined : await writeDemoKeys(storageDir, agencies);
    const servers: LocalServer[] = [];
    for (let r = 1; r <= replicas && interrupted() === undefined; r++) {
      const name = replicas === 1 ? "server" : `server${r}`;
      const server = await startLocalServer({
        agencies,
        storagePath: `${storageDir}/bets.csv`,
        onLine: printer(name),
        args: [
          ...(keys === undefined ? [] : ["--agency-keys", keys.server]),
          ...(pg === undefined ? [] : ["--store", pg.url, "--replica-name", name]),
        ],
      });
      servers.push(server);
      running.push(server.process);
    }
    if (interrupted() !== undefined) {
      for (const server of servers) server.process.kill("SIGTERM");
    }
    const extra = values["batch-max-amount"]
      ? ["--batch-max-amount", values["batch-max-amount"]]
      : [];
    const clients: Tp0Process[] = [];
    for (let i = 1; i <= agencies && interrupted() === undefined; i++) {
      const client = spawnTp0([
        "client",
        "--id",
        String(i),
        "--server-address",
        // Every replica, each agency starting at a different one.
        servers.map((_, r) => servers[(i - 1 + r) % servers.length].address).join(","),
        "--data",
        `${dataDir}/agency-${i}.csv`,
        ...(keys === undefined ? [] : ["--key", keys.clients[i - 1]]),
        ...extra,
      ], { onLine: printer(`client${i}`) });
      clients.push(client);
      running.push(client);
    }
    const results = await Promise.all(clients.map(async (client, index) => {
      const { code } = await client.status;
      return summarize(index + 1, code, client.lines);
    }));
    const elapsed = (performance.now() - started) / 1000;
    for (const server of servers) server.process.kill("SIGTERM");
    const serverCodes = (await Promise.all(servers.map((s) => s.process.status))).map((s) =>
      s.code
    );
    const serverStatus = { code: serverCodes.find((code) => code !== 0) ?? 0 };
    const stored = pg === undefined
      ? await countLines(`${storageDir}/bets.csv`)
      : Number(await pg.query("SELECT count(*) FROM bets"));
    printSummary(results, { elapsed, stored });
    if (interrupted() !== undefined) {
      console.log(`demo: interrupted by ${interrupted()}; every process stopped`);
      return EXIT_INTERRUPTED;
    }
    const ok = results.every((r) => r.code === 0) && serverStatus.code === 0;
    console.log(ok ? "demo: success" : `demo: FAILED (server exit ${serverStatus.code})`);
    return ok ? EXIT_OK : EXIT_FAIL;
  } finally {
    for (const process of running) process.kill("SIGTERM");
    await Promise.all(running.map((process) => process.status));
    await Deno.remove(storageDir, { recursive: true });
    await pg?.remove();
  }
}

function summarize(agency: number, code: number, lines: string[]): AgencyResult {
  const result: AgencyResult = { agency, code, bets: 0, winners: 0, seconds: 0 };
  for (const line of lines) {
    const record = parseLogLine(line);
    if (record?.action !== "resumen") continue;
    result.bets = Number(record.fields.apuestas_enviadas);
    result.winners = Number(record.fields.ganadores);
    result.seconds = Number(record.fields.segundos);
  }
  return result;
}

function printSummary(results: AgencyResult[], totals: { elapsed: number; stored: number }): void {
  const rows = [
    ["agency", "bets", "winners", "seconds", "exit"],
    ...results.map((r) => [r.agency, r.bets, r.winners, r.seconds.toFixed(3), r.code].map(String)),
    [
      "total",
      String(results.reduce((sum, r) => sum + r.bets, 0)),
      String(results.reduce((sum, r) => sum + r.winners, 0)),
      totals.elapsed.toFixed(3),
      "",
    ],
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const format = (row: string[]) => row.map((cell, c) => cell.padStart(widths[c])).join("  ");
  console.log("");
  console.log(format(rows[0]));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const row of rows.slice(1, -1)) console.log(format(row));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  console.log(format(rows.at(-1)!));
  console.log(`\nrows in the server's storage: ${totals.stored}`);
}

if (import.meta.main) {
  Deno.exit(await demo(Deno.args));
}
