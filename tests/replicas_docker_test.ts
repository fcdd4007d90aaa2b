/**
 * The generated system with replicas (`gen-compose 5 --servers 3 --postgres-image
 * tp0/postgres:offline`), run with Docker and read from `docker compose logs -f` as the
 * course's graders read it: one `sorteo` across the replicas, every client's
 * `consulta_ganadores` after it, the winners' counts; one replica killed (`docker kill`)
 * mid-run, its agencies failing over through the alias `server`; every client exits 0 and
 * the database holds every bet once (`docker exec <postgres> psql`).
 *
 * @module
 */

import assert from "node:assert/strict";
import { dockerOk, dockerTest, type GraderLine, withSystem } from "./_docker.ts";
import { TEST_IMAGE } from "./_docker.ts";

const DATA = new URL("../.data/", import.meta.url).pathname;
const AGENCIES = 5;

function clientNames(): string[] {
  return Array.from({ length: AGENCIES }, (_, i) => `client${i + 1}`);
}

/** Rows and winners of the shipped agency files. */
async function shippedFacts(): Promise<{ bets: number; winners: number[] }> {
  let bets = 0;
  const winners: number[] = [];
  for (let agency = 1; agency <= AGENCIES; agency++) {
    const lines = (await Deno.readTextFile(`${DATA}agency-${agency}.csv`)).split("\n")
      .filter((line) => line.trim() !== "");
    bets += lines.length;
    winners.push(lines.filter((line) => line.endsWith(",7574")).length);
  }
  return { bets, winners };
}

function is(line: GraderLine, action: string, result = "success"): boolean {
  return line.fields.action === action && line.fields.result === result;
}

dockerTest(
  "replicas: gen-compose --servers 3, 5 agencies, one replica killed mid-run: one sorteo, every consulta_ganadores after it, every client exits 0, the rows exact",
  async () => {
    const facts = await shippedFacts();
    await withSystem({
      name: "replicas-3x5",
      agencies: AGENCIES,
      mode: "lottery",
      data: Array.from({ length: AGENCIES }, (_, i) => ({ path: `${DATA}agency-${i + 1}.csv` })),
      servers: 3,
      postgresImage: "tp0/postgres:offline",
    }, async (system) => {
      // Small batches (10 bets): a run long enough for the kill to land mid-run.
      await system.configure({ client: { "batch.maxAmount": 10 } });
      await system.up();
      const follower = system.follow();
      try {
        // Every replica answers its healthcheck, and the name `server` reaches one of them.
        for (const service of ["server1", "server2", "server3"]) {
          assert.equal((await system.state(service)).health, "healthy", service);
        }
        for (const address of ["server:12345", "server2:12345", "server3:12345"]) {
          const out = await dockerOk([
            ...["run", "--rm", "--network", system.network, TEST_IMAGE],
            ...["validate-echo", "--address", address],
          ]);
          assert.equal(out.trim(), "action: test_echo_server | result: success", address);
        }
        // Mid-run: the first replica that stores a batch (Docker's DNS chose it for an
        // agency) is killed.
        const replicas = ["server1", "server2", "server3"].map((s) => system.container(s));
        let victim = "";
        await follower.waitFor((lines) => {
          const first = lines.find((l) => replicas.includes(l.source) && is(l, "apuesta_recibida"));
          victim = first?.source ?? "";
          return first !== undefined;
        }, 120_000);
        await dockerOk(["kill", victim]);
        const states = await system.waitExited(clientNames(), 180_000);
        for (const [service, state] of states) assert.equal(state.exitCode, 0, service);
        await follower.waitFor(
          (lines) => lines.filter((l) => is(l, "consulta_ganadores")).length === AGENCIES,
          30_000,
        );
        const lines = follower.parsed();
        assert.ok(
          lines.some((l) => is(l, "reconnect")),
          `an agency of ${victim} reconnected (the kill was mid-run)`,
        );
        const draws = lines.filter((l) => is(l, "sorteo"));
        assert.equal(draws.length, 1, "one sorteo across the replicas");
        const drawAt = lines.indexOf(draws[0]);
        for (const [index, service] of clientNames().entries()) {
          const source = system.container(service);
          const answers = lines.filter((l) => l.source === source && is(l, "consulta_ganadores"));
          assert.equal(answers.length, 1, service);
          assert.ok(
            lines.indexOf(answers[0]) > drawAt,
            `${service}: consulta_ganadores after sorteo`,
          );
          assert.equal(Number(answers[0].fields.cant_ganadores), facts.winners[index], service);
        }
        const postgres = system.container("postgres");
        const psql = async (sql: string) =>
          (await dockerOk(["exec", postgres, "psql", "-U", "tp0", "-d", "tp0", "-Atc", sql]))
            .trim();
        assert.equal(
          await psql(
            "SELECT count(*) || ',' || count(DISTINCT (agency, document, number)) FROM bets",
          ),
          `${facts.bets},${facts.bets}`,
          "every bet stored once",
        );
        assert.equal(await psql("SELECT count(*) FROM draw"), "1");
        assert.equal(await psql("SELECT count(*) FROM agencies_done"), String(AGENCIES));
      } finally {
        await follower.stop();
      }
    });
  },
);
