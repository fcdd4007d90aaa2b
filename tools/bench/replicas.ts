/**
 * The `replicas` section: the embedded CSV store against a shared PostgreSQL
 * (a throwaway local cluster, tools/postgres.ts, started once before any
 * timing) with 1 and 3 replicas, on the same machine in the same run:
 *
 * - the shipped 5-agency dataset end to end with the real clients (each agency
 *   given every replica's address, starting at a different one), from the
 *   clients' start to the last one's exit, the servers already listening;
 * - ingest with 20 agencies through the load generator (`client.ts`), the
 *   agencies spread over the replicas.
 *
 * Each run gets a fresh lottery (a new database, or a new CSV file) and checks
 * that every bet is stored once. Without PostgreSQL binaries: one progress line
 * and no rows.
 *
 * @module
 */

import { countLines } from "../files.ts";
import { type LocalServer, startLocalServer, type Tp0Process } from "../processes.ts";
import {
  postgresBinDir,
  PostgresUnavailable,
  startTempPostgres,
  type TempPostgres,
} from "../postgres.ts";
import type { BenchConfig } from "./config.ts";
import { datasetFacts, SHIPPED_DATA } from "./e2e.ts";
import { BENCH_CLIENT } from "./ingest.ts";
import { progress, type Row } from "./output.ts";
import {
  makeTempDir,
  removeTempDir,
  RUN_LAUNCHER,
  spawnScript,
  stop,
  stopAll,
} from "./processes.ts";
import { statOf } from "./stats.ts";

/** Agencies of the ingest runs. */
const INGEST_AGENCIES = 20;

/** One configuration: the embedded store, or PostgreSQL with `replicas` servers. */
interface Setup {
  label: string;
  replicas: number;
  postgres: boolean;
}

const SETUPS: Setup[] = [
  { label: "embedded, 1 server", replicas: 1, postgres: false },
  { label: "postgres, 1 replica", replicas: 1, postgres: true },
  { label: "postgres, 3 replicas", replicas: 3, postgres: true },
];

/** The servers of one run and how to count what they stored. */
interface Lottery {
  servers: LocalServer[];
  /** Rows stored. */
  rows(): Promise<number>;
  /** Stops the servers and drops the lottery. */
  close(): Promise<void>;
}

let databases = 0;

async function psql(pg: TempPostgres, url: string, sql: string): Promise<string> {
  const bin = await postgresBinDir();
  const out = await new Deno.Command(`${bin}/psql`, {
    args: [url, "-Atc", sql],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`psql on ${pg.port}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  return new TextDecoder().decode(out.stdout).trim();
}

/** A fresh lottery of `agencies` for `setup`, its servers listening. */
async function openLottery(
  setup: Setup,
  agencies: number,
  pg: TempPostgres | undefined,
): Promise<Lottery> {
  const dir = await makeTempDir("tp0-bench-replicas-");
  const servers: LocalServer[] = [];
  let url = "";
  if (setup.postgres) {
    const database = `bench${++databases}`;
    await psql(pg!, pg!.url, `CREATE DATABASE ${database}`);
    url = pg!.url.replace(/\/postgres$/, `/${database}`);
  }
  try {
    for (let r = 1; r <= setup.replicas; r++) {
      servers.push(
        await startLocalServer({
          agencies,
          storagePath: `${dir}/bets${r}.csv`,
          args: setup.postgres ? ["--store", url, "--replica-name", `server${r}`] : [],
          spawn: RUN_LAUNCHER.spawn,
          timeoutMs: 60_000,
        }),
      );
    }
  } catch (error) {
    await stopAll(servers.map((s) => s.process));
    await removeTempDir(dir);
    throw error;
  }
  return {
    servers,
    rows: async () =>
      setup.postgres
        ? Number(await psql(pg!, url, "SELECT count(*) FROM bets"))
        : await countLines(`${dir}/bets1.csv`),
    async close() {
      await stopAll(servers.map((s) => s.process));
      await removeTempDir(dir);
    },
  };
}

/** Each agency's address list: every replica, starting at a different one. */
function addressesFor(servers: LocalServer[], agency: number): string {
  return servers.map((_, i) => servers[(agency + i) % servers.length].address).join(",");
}

/** The shipped dataset end to end: seconds from the clients' start to the last exit. */
async function runShipped(
  setup: Setup,
  pg: TempPostgres | undefined,
  bets: number,
): Promise<number> {
  const lottery = await openLottery(setup, 5, pg);
  const clients: Tp0Process[] = [];
  try {
    const started = performance.now();
    for (let agency = 1; agency <= 5; agency++) {
      clients.push(RUN_LAUNCHER.spawn([
        ...["client", "--id", String(agency)],
        ...["--server-address", addressesFor(lottery.servers, agency)],
        ...["--data", `${SHIPPED_DATA}/agency-${agency}.csv`],
      ], {}));
    }
    const statuses = await Promise.all(clients.map((c) => c.status));
    const seconds = (performance.now() - started) / 1000;
    const failed = statuses.findIndex((s) => s.code !== 0);
    if (failed >= 0) {
      throw new Error(
        `Agency ${failed + 1} exited ${statuses[failed].code}:\n${clients[failed].tail()}`,
      );
    }
    const rows = await lottery.rows();
    if (rows !== bets) throw new Error(`${setup.label}: ${rows} rows stored, expected ${bets}`);
    return seconds;
  } finally {
    await stopAll(clients);
    await lottery.close();
  }
}

/** Ingest with 20 agencies spread over the replicas: bets/s, every ack awaited. */
async function runIngest(
  setup: Setup,
  pg: TempPostgres | undefined,
  bets: number,
): Promise<number> {
  const lottery = await openLottery(setup, INGEST_AGENCIES, pg);
  let client: Tp0Process | undefined;
  try {
    client = spawnScript(BENCH_CLIENT, [
      ...["ingest", "--address", lottery.servers.map((s) => s.address).join(",")],
      ...["--agencies", String(INGEST_AGENCIES), "--bets", String(bets)],
    ]);
    const status = await client.status;
    const json = client.lines.find((line) => line.startsWith("{"));
    if (status.code !== 0 || json === undefined) {
      throw new Error(`Load generator exited ${status.code}:\n${client.tail()}`);
    }
    const result = JSON.parse(json);
    const rows = await lottery.rows();
    if (rows !== bets || result.bets !== bets || result.failures !== 0) {
      throw new Error(
        `${setup.label}: ${rows} rows stored, ${result.bets} acked ` +
          `(${result.failures} failed), expected ${bets}`,
      );
    }
    return bets / result.seconds;
  } finally {
    if (client !== undefined) await stop(client);
    await lottery.close();
  }
}

/** The section: for each setup a warm-up, then `config.runs` timed runs of each figure. */
export async function benchReplicas(config: BenchConfig): Promise<Row[]> {
  let pg: TempPostgres;
  try {
    pg = await startTempPostgres();
  } catch (error) {
    if (!(error instanceof PostgresUnavailable)) throw error;
    progress(`replicas: skipped, ${error.message}`);
    return [];
  }
  const rows: Row[] = [];
  try {
    const facts = await datasetFacts(SHIPPED_DATA, 5);
    for (const setup of SETUPS) {
      const database = setup.postgres ? pg : undefined;
      progress(`replicas ${setup.label}: warm-up`);
      await runShipped(setup, database, facts.bets);
      const shipped: number[] = [];
      const ingest: number[] = [];
      for (let run = 1; run <= config.runs; run++) {
        progress(`replicas ${setup.label}: run ${run}/${config.runs}`);
        shipped.push(await runShipped(setup, database, facts.bets));
        ingest.push(await runIngest(setup, database, config.ingestBets));
      }
      rows.push(
        {
          section: "replicas",
          name: `${setup.label}: shipped dataset end to end`,
          unit: "s",
          stat: statOf(shipped),
          note: "5 real clients, servers listening; to the last client's exit",
        },
        {
          section: "replicas",
          name: `${setup.label}: ingest, ${INGEST_AGENCIES} agencies`,
          unit: "bets/s",
          stat: statOf(ingest),
          note: `${config.ingestBets} bets, 8 KiB frames, durable acks`,
        },
      );
    }
  } finally {
    await pg.remove();
  }
  return rows;
}
