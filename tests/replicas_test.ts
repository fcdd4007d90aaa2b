/**
 * Several server replicas on one real PostgreSQL (started by the test in a
 * temporary folder on a free port, removed after): the shipped dataset over
 * 3 replicas, and a replica killed with SIGKILL mid-ingest whose agencies fail
 * over to the others. With CI=true a PostgreSQL that cannot be brought up
 * fails the tests with one line; elsewhere they are ignored with one SKIPPED line.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type LocalServer,
  spawnTp0,
  startLocalServer,
  type Tp0Process,
} from "../tools/processes.ts";
import { PostgresUnavailable, startTempPostgres, type TempPostgres } from "../tools/postgres.ts";
import { actions } from "./_helpers.ts";

const DATA = new URL("../.data/", import.meta.url).pathname;
const AGENCIES = 5;

/** Runs `fn` with a fresh cluster; without one: fails in CI, skips elsewhere. */
async function withPostgres(fn: (pg: TempPostgres) => Promise<void>): Promise<void> {
  let pg: TempPostgres;
  try {
    pg = await startTempPostgres();
  } catch (error) {
    if (!(error instanceof PostgresUnavailable)) throw error;
    if (Deno.env.get("CI") === "true") throw new Error(`replica tests: ${error.message}`);
    console.log(`SKIPPED replica tests: ${error.message}`);
    return;
  }
  try {
    await fn(pg);
  } finally {
    await pg.remove();
  }
}

function startReplica(pg: TempPostgres, name: string): Promise<LocalServer> {
  return startLocalServer({
    agencies: AGENCIES,
    storagePath: `/nonexistent/${name}.csv`,
    args: ["--store", pg.url, "--replica-name", name],
  });
}

function startClient(agency: number, address: string): Tp0Process {
  return spawnTp0([
    "client",
    "--id",
    String(agency),
    "--server-address",
    address,
    "--data",
    `${DATA}agency-${agency}.csv`,
  ], { env: { CLI_LOG_LEVEL: "DEBUG" } });
}

async function psql(pg: TempPostgres, sql: string): Promise<string> {
  const out = await new Deno.Command("psql", { args: [pg.url, "-Atc", sql], stderr: "piped" })
    .output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).trim();
}

/** Every shipped bet stored once, and each client got its agency's winners. */
async function assertExact(pg: TempPostgres, clients: Tp0Process[]): Promise<void> {
  let expected = 0;
  for (let agency = 1; agency <= AGENCIES; agency++) {
    const text = await Deno.readTextFile(`${DATA}agency-${agency}.csv`);
    expected += text.split("\n").filter((line) => line.trim() !== "").length;
  }
  assert.equal(
    await psql(
      pg,
      "SELECT count(*) || ',' || count(DISTINCT (agency, document, number, first_name, last_name)) FROM bets",
    ),
    `${expected},${expected}`,
    "every bet stored once",
  );
  for (let agency = 1; agency <= AGENCIES; agency++) {
    const winners = (await psql(
      pg,
      `SELECT document FROM bets WHERE agency = ${agency} AND number = 7574 ORDER BY document`,
    ))
      .split("\n").filter((line) => line !== "");
    const got = actions(clients[agency - 1].lines, "ganador").map((r) => r.fields.dni).sort();
    assert.deepEqual(got, winners, `agency ${agency}'s winners`);
  }
}

async function stopAll(servers: LocalServer[]): Promise<string[]> {
  const lines: string[] = [];
  for (const server of servers) {
    server.process.kill("SIGTERM");
    await server.process.status;
    lines.push(...server.process.lines);
  }
  return lines;
}

Deno.test("3 replicas x 5 agencies, the shipped dataset: every bet once, the winners, one sorteo", async () => {
  await withPostgres(async (pg) => {
    const servers: LocalServer[] = [];
    for (let r = 1; r <= 3; r++) servers.push(await startReplica(pg, `server${r}`));
    try {
      const clients = [];
      for (let agency = 1; agency <= AGENCIES; agency++) {
        clients.push(startClient(agency, servers[agency % 3].address));
      }
      const codes = await Promise.all(clients.map((c) => c.waitForExit(60_000)));
      assert.deepEqual(codes.map((s) => s.code), [0, 0, 0, 0, 0]);
      await assertExact(pg, clients);
      // A replica started after the draw answers at once, and logs no second draw.
      const late = await startReplica(pg, "server4");
      servers.push(late);
      const again = startClient(1, late.address);
      assert.equal((await again.waitForExit(30_000)).code, 0);
      assert.equal(actions(again.lines, "lote_duplicado").length, 0);
      assert.equal(await psql(pg, "SELECT count(*) FROM draw"), "1");
    } finally {
      const lines = await stopAll(servers);
      assert.equal(actions(lines, "sorteo").length, 1, "one sorteo across the replicas");
    }
  });
});

Deno.test("kill -9 of a replica mid-ingest: its agencies fail over, every bet once", async () => {
  await withPostgres(async (pg) => {
    const servers: LocalServer[] = [];
    for (let r = 1; r <= 3; r++) servers.push(await startReplica(pg, `server${r}`));
    try {
      const clients = [];
      for (let agency = 1; agency <= AGENCIES; agency++) {
        // Each agency starts at a different replica of the same list.
        const order = servers.map((_, i) => servers[(agency + i) % 3].address).join(",");
        clients.push(startClient(agency, order));
      }
      await servers[0].process.waitForLine((line) => line.includes("apuesta_recibida"), 30_000);
      servers[0].process.kill("SIGKILL");
      await servers[0].process.status;
      const codes = await Promise.all(clients.map((c) => c.waitForExit(90_000)));
      assert.deepEqual(codes.map((s) => s.code), [0, 0, 0, 0, 0]);
      await assertExact(pg, clients);
    } finally {
      const lines = await stopAll(servers.slice(1));
      assert.equal(
        actions(lines, "sorteo").length + actions(servers[0].process.lines, "sorteo").length,
        1,
      );
    }
  });
});
