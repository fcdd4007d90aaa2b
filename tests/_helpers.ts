/**
 * Helpers for the whole-system tests: agency files with winners at chosen
 * lines, a lottery run of local processes, and log records as graders read them.
 *
 * @module
 */

import { type ParsedLogLine, parseLogLine } from "../roles/log.ts";
import { LOTTERY_WINNER_NUMBER } from "../store/mod.ts";
import { spawnTp0, startLocalServer, type Tp0Process } from "../tools/processes.ts";

/** A parsed log line and its position in the process output. */
export interface LogRecord extends ParsedLogLine {
  index: number;
}

/** Every line of `lines` that parses as a log record, in order. */
export function records(lines: readonly string[]): LogRecord[] {
  const out: LogRecord[] = [];
  lines.forEach((line, index) => {
    const record = parseLogLine(line);
    if (record) out.push({ ...record, index });
  });
  return out;
}

/** The records with action `action`. */
export function actions(lines: readonly string[], action: string): LogRecord[] {
  return records(lines).filter((record) => record.action === action);
}

const FIRST_NAMES = ["José María", "Ana", "Lucía", "Martín", "Sofía", "Iñaki", "Agustín"];
const LAST_NAMES = ["Gómez", "Pérez", "D'Alessandro", "Núñez", "Ibáñez", "O'Connor", "Martínez"];

/** Options of {@linkcode agencyCsv}. */
export interface AgencyCsvOptions {
  /** How many bets. */
  bets: number;
  /** 0-based lines whose bet wins (number 7574); the others never do. */
  winnersAt?: number[];
  /** Makes documents unique across agencies. */
  agency: number;
}

/**
 * An agency file (`first_name,last_name,document,birthdate,number`) with
 * accents and apostrophes, quoted where RFC 4180 needs it, and winners only
 * at the given lines.
 */
export function agencyCsv(options: AgencyCsvOptions): string {
  const winners = new Set(options.winnersAt ?? []);
  const rows: string[] = [];
  for (let i = 0; i < options.bets; i++) {
    const first = FIRST_NAMES[i % FIRST_NAMES.length];
    const last = LAST_NAMES[(i + options.agency) % LAST_NAMES.length];
    const document = String(20_000_000 + options.agency * 100_000 + i);
    const day = String((i % 28) + 1).padStart(2, "0");
    const birthdate = `19${50 + (i % 50)}-0${(i % 9) + 1}-${day}`;
    const number = winners.has(i) ? LOTTERY_WINNER_NUMBER : (i * 37 + options.agency) % 7000;
    const name = i % 10 === 3 ? `"${first}, Jr."` : first;
    rows.push(`${name},${last},${document},${birthdate},${number}\n`);
  }
  return rows.join("");
}

/** The documents of the winners of an {@linkcode agencyCsv} file. */
export function winnerDocuments(options: AgencyCsvOptions): string[] {
  return (options.winnersAt ?? []).map((i) => String(20_000_000 + options.agency * 100_000 + i));
}

/** Writes one {@linkcode agencyCsv} file per agency, `agency-{n}.csv` in `dir`; returns their paths. */
export async function writeAgencies(dir: string, agencies: AgencyCsvOptions[]): Promise<string[]> {
  return await Promise.all(agencies.map(async (options) => {
    const path = `${dir}/agency-${options.agency}.csv`;
    await Deno.writeTextFile(path, agencyCsv(options));
    return path;
  }));
}

/** The store rows (`agency,` + the file's row) the agencies' files must produce, each once. */
export function expectedRows(agencies: AgencyCsvOptions[]): string[] {
  return agencies.flatMap((options) =>
    agencyCsv(options).trimEnd().split("\n").map((line) => `${options.agency},${line}`)
  );
}

/** Options of {@linkcode runLottery}. */
export interface RunLotteryOptions {
  /** Folder for the storage file (and nothing else is written). */
  dir: string;
  /** Agency files, agency i+1 reads files[i]. */
  files: string[];
  /** Bets per batch. */
  maxAmount?: number;
  /** More server flags. */
  serverArgs?: string[];
  /** Environment of each client, by agency number. */
  clientEnv?: Record<number, Record<string, string>>;
}

/** What a lottery run left behind. */
export interface LotteryRun {
  server: Tp0Process;
  clients: Tp0Process[];
  codes: number[];
  serverCode: number;
  storagePath: string;
}

/**
 * Runs a server and one client per file as child processes on 127.0.0.1,
 * waits for every client, then stops the server with SIGTERM.
 */
export async function runLottery(options: RunLotteryOptions): Promise<LotteryRun> {
  const storagePath = `${options.dir}/bets.csv`;
  const { process: server, address } = await startLocalServer({
    agencies: options.files.length,
    storagePath,
    args: options.serverArgs,
  });
  const clients: Tp0Process[] = [];
  try {
    options.files.forEach((file, i) => {
      const args = ["client", "--id", String(i + 1), "--server-address", address, "--data", file];
      if (options.maxAmount) args.push("--batch-max-amount", String(options.maxAmount));
      clients.push(spawnTp0(args, { env: options.clientEnv?.[i + 1] }));
    });
    // Bounded: a run that hangs fails here, and the finally below stops every process.
    const codes = await Promise.all(clients.map(async (c) => (await c.waitForExit(60_000)).code));
    server.kill("SIGTERM");
    const serverCode = (await server.waitForExit(10_000)).code;
    return { server, clients, codes, serverCode, storagePath };
  } finally {
    for (const client of clients) client.kill("SIGKILL");
    server.kill("SIGKILL");
    await Promise.all([server.status, ...clients.map((c) => c.status)]);
  }
}

/** The data rows of a store file (one line each; none of ours holds a newline). */
export async function storedRows(path: string): Promise<string[]> {
  const text = await Deno.readTextFile(path);
  return text.split("\n").filter((line) => line !== "");
}

/** Runs `fn` with a fresh temporary folder, removed afterwards whatever happens. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "tp0-test-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
