/**
 * The `floor` section: the same CSV bytes the ingest stores, pushed through
 * one loopback TCP connection into one file with one fsync (the raw floor of
 * `client.ts`'s `floor-send` and `floor-sink`), and the ingest's ratio to it.
 *
 * @module
 */

import { betToCsvRow } from "../../store/mod.ts";
import { writeAll } from "../../util/mod.ts";
import type { Tp0Process } from "../processes.ts";
import { syntheticBet } from "./load.ts";
import type { BenchConfig } from "./config.ts";
import { agenciesLabel, BENCH_CLIENT, type IngestRun } from "./ingest.ts";
import { progress, type Row } from "./output.ts";
import { makeTempDir, removeTempDir, spawnScript, stopAll } from "./processes.ts";
import { statOf } from "./stats.ts";

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
        await writeAll(file, bytes);
        text = "";
      }
    }
  }
  return size;
}

/** One floor run: a sink, a sender of `csv`; resolves with the sender's seconds. */
async function runFloorOnce(csv: string, dir: string): Promise<number> {
  const portLine = Promise.withResolvers<number>();
  const sink = spawnScript(BENCH_CLIENT, ["floor-sink", "--out", `${dir}/floor-out.csv`], {
    onLine: (line) => {
      const match = /^port (\d+)$/.exec(line);
      if (match) portLine.resolve(Number(match[1]));
    },
  });
  let sender: Tp0Process | undefined;
  try {
    const port = await Promise.race([
      portLine.promise,
      sink.status.then((): number => {
        throw new Error(`Floor sink exited:\n${sink.tail()}`);
      }),
    ]);
    sender = spawnScript(BENCH_CLIENT, [
      ...["floor-send", "--address", `127.0.0.1:${port}`, "--file", csv],
    ]);
    const status = await sender.status;
    const json = sender.lines.find((line) => line.startsWith("{"));
    if (status.code !== 0 || json === undefined) {
      throw new Error(`Floor sender exited ${status.code}:\n${sender.tail()}`);
    }
    await sink.status;
    return JSON.parse(json).seconds;
  } finally {
    await stopAll([sink, sender]);
    await Deno.remove(`${dir}/floor-out.csv`).catch(() => {});
  }
}

/**
 * The section: the CSV of `config.ingestBets` bets for 20 agencies (or the
 * last ingest count), a warm-up, `config.runs` runs, and our ratio to the
 * floor for each ingest configuration measured.
 */
export async function benchFloor(
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
        name: `ratio: ingest ${agenciesLabel(count)} / floor`,
        unit: "x",
        stat: statOf(runs.map((r) => r.seconds / floor.median)),
      });
    }
    return rows;
  } finally {
    await removeTempDir(dir);
  }
}
