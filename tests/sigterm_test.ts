/**
 * SIGTERM in every phase of the server (accepting, in the middle of a batch,
 * while agencies wait for the draw): it exits 0 promptly, with nothing
 * half-written (every row parses, the journal accounts for every row, and the
 * next start has nothing to repair).
 *
 * @module
 */

import assert from "node:assert/strict";
import { encodeMessage, MessageType } from "../protocol/mod.ts";
import { BetStore } from "../store/mod.ts";
import { freePort, spawnTp0, startLocalServer, type Tp0Process } from "../tools/processes.ts";
import { actions, winnerDocuments, withTempDir, writeAgencies } from "./_helpers.ts";
import { frames, HeldConnection } from "./_wire.ts";

/** The exit must come within this bound (the goal is 2 s; this one leaves room for a loaded CI). */
const EXIT_BOUND_MS = 10_000;

function startClient(address: string, agency: number, file: string, extra: string[] = []) {
  return spawnTp0(
    ["client", "--id", String(agency), "--server-address", address, "--data", file, ...extra],
    { env: { CLI_LOG_LEVEL: "DEBUG" } },
  );
}

/** Sends SIGTERM and returns how long the exit took; asserts exit code 0 within the bound. */
async function terminate(server: Tp0Process): Promise<number> {
  const started = performance.now();
  server.kill("SIGTERM");
  const { code } = await server.waitForExit(EXIT_BOUND_MS);
  const elapsed = performance.now() - started;
  assert.equal(code, 0, server.tail());
  const closed = actions(server.lines, "shutdown").map((r) => r.fields.resource);
  assert.ok(closed.includes("storage"), "the storage was closed");
  return elapsed;
}

/**
 * Nothing half-written: every row of the CSV parses, the journal accounts for
 * every one of them, and opening the store has nothing to cut.
 */
async function assertWhole(storagePath: string): Promise<number> {
  await using store = await BetStore.open(storagePath);
  assert.equal(store.recovery.truncatedBytes, 0, "no row past the last commit");
  assert.equal(store.recovery.journalTruncatedBytes, 0, "no torn journal record");
  let rows = 0;
  for await (const _ of store.loadBets()) rows++;
  assert.equal(rows, store.recovery.bets, "the journal counts every row of the CSV");
  return rows;
}

Deno.test("SIGTERM while accepting (idle connections open, text and binary): exit 0 at once", async () => {
  await withTempDir(async (dir) => {
    const storagePath = `${dir}/bets.csv`;
    const server = await startLocalServer({ agencies: 1, storagePath });
    const held: HeldConnection[] = [];
    try {
      for (const first of [frames({ type: MessageType.ECHO, text: "hola" }), undefined]) {
        const connection = await HeldConnection.open(server.port);
        held.push(connection);
        if (first) {
          await connection.write(first);
          assert.equal((await connection.next())?.type, MessageType.ECHO_REPLY);
        }
      }
      const elapsed = await terminate(server.process);
      assert.ok(elapsed < 2000, `${elapsed} ms`);
      for (const connection of held) assert.equal(await connection.isClosed(1000), true);
      assert.equal(await assertWhole(storagePath), 0);
    } finally {
      server.process.kill("SIGKILL");
      await server.process.status;
      await Promise.all(held.map((connection) => connection.close()));
    }
  });
});

Deno.test("SIGTERM in the middle of batches (agencies sending, a frame half received): exit 0, nothing half-written", async () => {
  await withTempDir(async (dir) => {
    const agencies = [
      { agency: 1, bets: 30_000 },
      { agency: 2, bets: 30_000 },
      { agency: 3, bets: 30_000 },
    ];
    const files = await writeAgencies(dir, agencies);
    const storagePath = `${dir}/bets.csv`;
    // The half frame below waits for the stop however long the agencies take to start.
    const server = await startLocalServer({
      agencies: 3,
      storagePath,
      args: ["--read-timeout", "60s"],
    });
    let half: HeldConnection | undefined;
    const clients: Tp0Process[] = [];
    try {
      // A batch frame of which the server has read only the first half.
      half = await HeldConnection.open(server.port);
      const batch = encodeMessage({
        type: MessageType.BET_BATCH,
        agency: 3,
        batchId: 1_000_000,
        bets: [{
          agency: 3,
          firstName: "Ana",
          lastName: "Pérez",
          document: "1",
          birthdate: "1990-01-01",
          number: 1,
        }],
      });
      await half.write(batch.subarray(0, batch.length >> 1));
      for (const [i, file] of files.entries()) {
        clients.push(startClient(server.address, i + 1, file, [
          "--batch-max-amount",
          "10",
          "--connect-deadline",
          "0",
        ]));
      }
      // 9,000 batches; the stop follows the first one stored with no wait in between.
      // The server's log writes block on the pipe the test reads, so it is then at most
      // a few pipe buffers (some 750 lines each) further: the agencies are still sending,
      // whatever the speed.
      await server.process.waitForLine((l) => l.includes("action: apuesta_recibida"), 30_000);
      await terminate(server.process);
      const stored = await assertWhole(storagePath);
      assert.ok(stored > 0 && stored < 90_000, `${stored} rows stored before the stop`);
      const received = actions(server.process.lines, "apuesta_recibida")
        .filter((r) => r.result === "success")
        .reduce((sum, r) => sum + Number(r.fields.cantidad), 0);
      assert.equal(stored, received, "every acknowledged batch, and only those, is stored");
    } finally {
      for (const c of clients) c.kill("SIGKILL");
      server.process.kill("SIGKILL");
      await Promise.all([server.process.status, ...clients.map((c) => c.status)]);
      await half?.close();
    }
  });
});

Deno.test("SIGTERM while agencies wait for the draw: exit 0; after a restart they reconnect and get exact winners", async () => {
  await withTempDir(async (dir) => {
    const agencies = [
      { agency: 1, bets: 200, winnersAt: [7] },
      { agency: 2, bets: 300, winnersAt: [1, 299] },
      { agency: 3, bets: 100, winnersAt: [50] },
    ];
    const files = await writeAgencies(dir, agencies);
    const storagePath = `${dir}/bets.csv`;
    const port = freePort();
    const first = await startLocalServer({ agencies: 3, storagePath, port });
    const address = `127.0.0.1:${port}`;
    const waiting = [0, 1].map((i) =>
      startClient(address, i + 1, files[i], ["--connect-deadline", "30s"])
    );
    let second: Tp0Process | undefined;
    let last: Tp0Process | undefined;
    try {
      await first.process.waitForLine(() =>
        actions(first.process.lines, "agencia_finalizada").length === 2
      );
      const elapsed = await terminate(first.process);
      assert.ok(elapsed < 2000, `${elapsed} ms`);
      assert.equal(await assertWhole(storagePath), 500);

      // The agencies done are remembered; the waiting ones reconnect and ask again.
      second = (await startLocalServer({ agencies: 3, storagePath, port })).process;
      const recovery = actions(second.lines, "recovery")[0];
      assert.equal(recovery.fields.agencies_done, "2");
      assert.equal(recovery.fields.bets, "500");
      last = startClient(address, 3, files[2]);
      for (const [i, c] of [...waiting, last].entries()) {
        assert.equal((await c.waitForExit(30_000)).code, 0, c.tail());
        const documents = actions(c.lines, "ganador").map((r) => r.fields.dni).sort();
        assert.deepEqual(documents, winnerDocuments(agencies[i]).sort());
      }
      for (const c of waiting) {
        assert.ok(c.count((l) => l.includes("action: reconnect | result: success")) >= 1);
      }
      await terminate(second);
      assert.equal(await assertWhole(storagePath), 600);
    } finally {
      for (const c of [...waiting, last]) c?.kill("SIGKILL");
      first.process.kill("SIGKILL");
      second?.kill("SIGKILL");
      await Promise.all(
        [first.process, second, last, ...waiting].map((p) => p?.status),
      );
    }
  });
});
