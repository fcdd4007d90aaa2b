/**
 * Crashes and retries: the server killed with SIGKILL again and again during
 * ingest and restarted on the same storage, a torn last record planted by
 * hand, a client that starts before the server, one whose connection is cut
 * mid-run, one killed and run again. At the end every acknowledged bet is
 * stored exactly once and the winners are exact.
 *
 * @module
 */

import assert from "node:assert/strict";
import { MessageType } from "../protocol/mod.ts";
import { BetStore, journalPathOf } from "../store/mod.ts";
import {
  freePort,
  type LocalServer,
  spawnTp0,
  startLocalServer,
  type Tp0Process,
} from "../tools/processes.ts";
import {
  actions,
  type AgencyCsvOptions,
  expectedRows,
  storedRows,
  winnerDocuments,
  withTempDir,
  writeAgencies,
} from "./_helpers.ts";
import { decodeAll, exchange, frames } from "./_wire.ts";

const KILL_CYCLES = 20;

function startClient(
  address: string,
  agency: number,
  file: string,
  extra: string[] = [],
): Tp0Process {
  return spawnTp0(
    ["client", "--id", String(agency), "--server-address", address, "--data", file, ...extra],
    { env: { CLI_LOG_LEVEL: "DEBUG" } },
  );
}

function winners(process: Tp0Process): string[] {
  return actions(process.lines, "ganador").map((r) => r.fields.dni).sort();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Every bet stored exactly once, the journal agreeing with the CSV, nothing to repair. */
async function assertStoredOnce(storagePath: string, agencies: AgencyCsvOptions[]): Promise<void> {
  const expected = expectedRows(agencies);
  const rows = await storedRows(storagePath);
  assert.equal(rows.length, expected.length, "as many rows as bets");
  assert.deepEqual(rows.sort(), expected.sort(), "each bet stored exactly once");
  await using store = await BetStore.open(storagePath);
  assert.equal(store.recovery.truncatedBytes, 0);
  assert.equal(store.recovery.bets, expected.length);
}

/** Kills per incarnation come after a random number of its batches, 1..this many. */
const KILL_AFTER_MAX_BATCHES = 250;

/** A server's line for a batch it stored (logged once the batch is durable). */
function isStoredBatch(line: string): boolean {
  return line.includes("action: apuesta_recibida | result: success");
}

/** A server's line for the draw: every agency is done, ingest is over. */
function isDraw(line: string): boolean {
  return line.includes("action: sorteo | result: success");
}

Deno.test({
  name:
    `SIGKILL of the server at random moments of ingest, ${KILL_CYCLES} times: every bet stored once, exact winners`,
  async fn() {
    await withTempDir(async (dir) => {
      // 10,600 batches of 5. The kills are paced by batches, not by time: each incarnation
      // is killed once it has logged a random 1..250 batches of its own, so the 20 kills
      // take about 2,500 batches whatever the speed. The server logs each batch with a
      // blocking write on a pipe the test reads, and the kill follows the line that
      // triggers it with no wait in between: the server is then at most a few pipe
      // buffers (64 KiB, some 750 lines each) past that line, so the first kill at least
      // always lands in the middle of ingest. Should ingest end before the last kill, the
      // kills stop there and the test asserts on those that were made.
      const agencies = [
        { agency: 1, bets: 20_000, winnersAt: [0, 7_000, 19_999] },
        { agency: 2, bets: 15_000, winnersAt: [5_000] },
        { agency: 3, bets: 18_000, winnersAt: [1, 2, 17_998] },
      ];
      const totalBets = agencies.reduce((sum, a) => sum + a.bets, 0);
      const files = await writeAgencies(dir, agencies);
      const storagePath = `${dir}/bets.csv`;
      const port = freePort();
      const start = () => startLocalServer({ agencies: 3, storagePath, port });
      const servers: LocalServer[] = [await start()];
      const clients = files.map((file, i) =>
        startClient(`127.0.0.1:${port}`, i + 1, file, [
          "--batch-max-amount",
          "5",
          "--connect-deadline",
          "60s",
        ])
      );
      try {
        // Every agency is connected before the first kill (a process started late
        // under load must not slip past all the kills), so each one must reconnect.
        await Promise.all(
          clients.map((c) =>
            c.waitForLine((l) => l.includes("action: connect | result: success"), 60_000)
          ),
        );
        // What each kill cut: true when the killed server had not run the draw yet.
        const killedMidIngest: boolean[] = [];
        for (let cycle = 1; cycle <= KILL_CYCLES; cycle++) {
          const server = servers.at(-1)!.process;
          const after = 1 + Math.floor(Math.random() * KILL_AFTER_MAX_BATCHES);
          // The after-th batch stored by this incarnation, or the draw if ingest ends first
          // (a restart that finds every agency done draws at once). The counter runs over
          // the lines already seen, then over the new ones, each line once.
          let batches = 0;
          const line = await server.waitForLine(
            (l) => isDraw(l) || (isStoredBatch(l) && ++batches >= after),
            30_000,
          );
          if (isDraw(line)) break; // ingest is over: nothing left to cut
          server.kill("SIGKILL");
          await server.status; // every line it printed is read
          killedMidIngest.push(!server.lines.some(isDraw));
          servers.push(await start());
        }
        const midIngest = killedMidIngest.filter((mid) => mid).length;
        assert.ok(
          midIngest >= 1,
          `${killedMidIngest.length} kills, none before the draw: ingest went untested`,
        );
        for (const [i, c] of clients.entries()) {
          assert.equal((await c.waitForExit(180_000)).code, 0, c.tail());
          assert.deepEqual(winners(c), winnerDocuments(agencies[i]).sort());
          // Each was connected when the first kill came, before the draw.
          assert.ok(c.count((l) => l.includes("action: reconnect | result: success")) >= 1);
        }
        const last = servers.at(-1)!.process;
        last.kill("SIGTERM");
        assert.equal((await last.waitForExit(10_000)).code, 0);
        // Each restart rebuilt its state from disk and said so.
        for (const server of servers) {
          assert.equal(actions(server.process.lines, "recovery")[0]?.result, "success");
        }
        // A batch is logged once durable: over every incarnation no bet is logged twice
        // (a batch stored but not yet logged when its server died comes back a duplicate).
        const logged = servers.flatMap((s) => actions(s.process.lines, "apuesta_recibida"))
          .reduce((sum, r) => sum + Number(r.fields.cantidad), 0);
        assert.ok(logged <= totalBets, `${logged} bets logged as received for ${totalBets}`);
        await assertStoredOnce(storagePath, agencies);
      } finally {
        for (const c of clients) c.kill("SIGKILL");
        for (const server of servers) server.process.kill("SIGKILL");
        await Promise.all([...clients, ...servers.map((s) => s.process)].map((p) => p.status));
      }
    });
  },
});

Deno.test("a torn last record planted by hand is cut and logged at start; the draw runs at once for late queries", async () => {
  await withTempDir(async (dir) => {
    const agency = { agency: 1, bets: 100, winnersAt: [3, 50] };
    const [file] = await writeAgencies(dir, [agency]);
    const storagePath = `${dir}/bets.csv`;
    let server = await startLocalServer({ agencies: 1, storagePath });
    const first = startClient(server.address, 1, file, ["--batch-max-amount", "10"]);
    try {
      assert.equal((await first.waitForExit(30_000)).code, 0, first.tail());
      server.process.kill("SIGTERM");
      assert.equal((await server.process.waitForExit(10_000)).code, 0);
    } finally {
      first.kill("SIGKILL");
      server.process.kill("SIGKILL");
      await Promise.all([first.status, server.process.status]);
    }
    const csv = await Deno.readTextFile(storagePath);
    const journal = await Deno.readTextFile(journalPathOf(storagePath));
    // What a crash in the middle of the next flush leaves: half a row, half a record.
    const tornRow = "1,Íñigo,Pé";
    const tornRecord = "batch 1 11 10 99";
    await Deno.writeTextFile(storagePath, tornRow, { append: true });
    await Deno.writeTextFile(journalPathOf(storagePath), tornRecord, { append: true });

    server = await startLocalServer({ agencies: 1, storagePath });
    const again = startClient(server.address, 1, file, ["--batch-max-amount", "10"]);
    try {
      const recovery = actions(server.process.lines, "recovery")[0];
      assert.equal(recovery.result, "success");
      assert.equal(
        recovery.fields.truncated_bytes,
        String(new TextEncoder().encode(tornRow).length),
      );
      assert.equal(recovery.fields.journal_truncated_bytes, String(tornRecord.length));
      assert.equal(recovery.fields.bets, "100");
      assert.equal(recovery.fields.agencies_done, "1");
      assert.equal(
        await Deno.readTextFile(storagePath),
        csv,
        "the CSV is back to its committed rows",
      );
      assert.equal(await Deno.readTextFile(journalPathOf(storagePath)), journal);

      // Every agency was done: the draw ran at start, a late query is answered at once.
      await server.process.waitForLine((l) => l.includes("action: sorteo | result: success"));
      const reply = await exchange(
        server.port,
        frames({ type: MessageType.WINNERS_QUERY, agency: 1 }),
      );
      assert.deepEqual(await decodeAll(reply.received), [
        { type: MessageType.WINNERS_REPLY, last: true, documents: winnerDocuments(agency) },
      ]);
      // The same client run again: its batches are duplicates, nothing is stored twice.
      assert.equal((await again.waitForExit(30_000)).code, 0, again.tail());
      assert.deepEqual(winners(again), winnerDocuments(agency).sort());
      server.process.kill("SIGTERM");
      assert.equal((await server.process.waitForExit(10_000)).code, 0);
      // Counted once the server is gone and its output read to the end (the client's
      // exit does not mean the test has read the server's last lines yet).
      assert.equal(actions(server.process.lines, "lote_duplicado").length, 10);
      assert.equal(actions(server.process.lines, "apuesta_recibida").length, 0);
    } finally {
      again.kill("SIGKILL");
      server.process.kill("SIGKILL");
      await Promise.all([again.status, server.process.status]);
    }
    await assertStoredOnce(storagePath, [agency]);
  });
});

Deno.test("a client retries a server that is not up until connect.deadline, then fails with the reason, exit 1", async () => {
  await withTempDir(async (dir) => {
    const [file] = await writeAgencies(dir, [{ agency: 1, bets: 5 }]);
    const port = freePort();
    const started = performance.now();
    const c = startClient(`127.0.0.1:${port}`, 1, file, ["--connect-deadline", "1s"]);
    try {
      const { code } = await c.waitForExit(20_000);
      const elapsed = performance.now() - started;
      assert.equal(code, 1, c.tail());
      assert.ok(elapsed >= 1000, `gave up after ${elapsed} ms`);
      const connects = actions(c.lines, "connect");
      assert.ok(connects.some((r) => r.result === "in_progress" && r.fields.attempt === "1"));
      const fail = connects.at(-1)!;
      assert.equal(fail.result, "fail");
      assert.equal(fail.fields.reason, "connection refused");
      assert.ok(Number(fail.fields.attempts) >= 4, `${fail.fields.attempts} attempts`);
      // At most about one "in_progress" line a second.
      assert.ok(connects.filter((r) => r.result === "in_progress").length <= 3);
    } finally {
      c.kill("SIGKILL");
      await c.status;
    }
  });
});

Deno.test("a client started before its server keeps trying and completes once the server is up", async () => {
  await withTempDir(async (dir) => {
    const agency = { agency: 1, bets: 40, winnersAt: [39] };
    const [file] = await writeAgencies(dir, [agency]);
    const port = freePort();
    const c = startClient(`127.0.0.1:${port}`, 1, file, ["--connect-deadline", "30s"]);
    let server: LocalServer | undefined;
    try {
      // Refused a few times over (attempts 1, 2, 3...) before the server exists at all.
      await c.waitForLine((l) =>
        /action: connect \| result: in_progress \| attempt: [3-9]/.test(l)
      );
      server = await startLocalServer({ agencies: 1, storagePath: `${dir}/bets.csv`, port });
      assert.equal((await c.waitForExit(30_000)).code, 0, c.tail());
      assert.deepEqual(winners(c), winnerDocuments(agency));
      server.process.kill("SIGTERM");
      assert.equal((await server.process.waitForExit(10_000)).code, 0);
    } finally {
      c.kill("SIGKILL");
      server?.process.kill("SIGKILL");
      await Promise.all([c.status, server?.process.status]);
    }
    await assertStoredOnce(`${dir}/bets.csv`, [agency]);
  });
});

/**
 * A TCP relay that, every `cutEvery` bytes from the client, stops passing the
 * server's answers on, lets the client's bytes through for a moment more (so
 * the server stores batches whose acks are lost), then cuts both sides.
 */
class CuttingProxy {
  readonly port: number;
  cuts = 0;
  #listener: Deno.TcpListener;
  #target: number;
  #cutEvery: number;
  #maxCuts: number;
  #tasks = new Set<Promise<void>>();
  #conns = new Set<Deno.TcpConn>();
  #accepting: Promise<void>;

  constructor(target: number, options: { cutEvery: number; maxCuts: number }) {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.port = (this.#listener.addr as Deno.NetAddr).port;
    this.#target = target;
    this.#cutEvery = options.cutEvery;
    this.#maxCuts = options.maxCuts;
    this.#accepting = this.#accept();
  }

  async #accept(): Promise<void> {
    try {
      for await (const client of this.#listener) this.#track(this.#relay(client));
    } catch {
      // Listener closed.
    }
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }

  async #relay(client: Deno.TcpConn): Promise<void> {
    this.#conns.add(client);
    let server: Deno.TcpConn;
    try {
      server = await Deno.connect({ hostname: "127.0.0.1", port: this.#target });
    } catch {
      client.close();
      return;
    }
    this.#conns.add(server);
    let forwarded = 0;
    let answering = true;
    let cut: Promise<void> | undefined;
    const close = () => {
      for (const conn of [client, server]) {
        try {
          conn.close();
        } catch {
          // Already closed.
        }
        this.#conns.delete(conn);
      }
    };
    const pipe = async (from: Deno.TcpConn, to: Deno.TcpConn, upstream: boolean) => {
      const buffer = new Uint8Array(16 * 1024);
      try {
        for (let n; (n = await from.read(buffer)) !== null;) {
          if (upstream) {
            forwarded += n;
            if (cut === undefined && this.cuts < this.#maxCuts && forwarded >= this.#cutEvery) {
              this.cuts++;
              answering = false;
              cut = sleep(150).then(close);
            }
          } else if (!answering) {
            continue;
          }
          let written = 0;
          while (written < n) written += await to.write(buffer.subarray(written, n));
        }
      } catch {
        // One side is gone.
      }
      if (cut === undefined) close();
    };
    await Promise.all([pipe(client, server, true), pipe(server, client, false)]);
    await cut;
  }

  async close(): Promise<void> {
    this.#listener.close();
    await this.#accepting;
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
    await Promise.all(this.#tasks);
  }
}

Deno.test("a connection cut mid-run is reconnected; unacknowledged batches are resent and stored once", async () => {
  await withTempDir(async (dir) => {
    const agency = { agency: 1, bets: 6000, winnersAt: [100, 5999] };
    const [file] = await writeAgencies(dir, [agency]);
    const storagePath = `${dir}/bets.csv`;
    const server = await startLocalServer({ agencies: 1, storagePath });
    const proxy = new CuttingProxy(server.port, { cutEvery: 40_000, maxCuts: 4 });
    const c = startClient(`127.0.0.1:${proxy.port}`, 1, file, ["--batch-max-amount", "10"]);
    try {
      assert.equal((await c.waitForExit(60_000)).code, 0, c.tail());
      assert.equal(proxy.cuts, 4);
      assert.equal(c.count((l) => l.includes("action: reconnect | result: success")), 4);
      assert.deepEqual(winners(c), winnerDocuments(agency).sort());
      const [summary] = actions(c.lines, "resumen");
      assert.equal(summary.fields.apuestas_enviadas, "6000");
      server.process.kill("SIGTERM");
      assert.equal((await server.process.waitForExit(10_000)).code, 0);
      // The server's lines, read to the end now that it has exited.
      // Batches stored whose acks were lost came again: acknowledged, not stored again.
      const duplicates = actions(server.process.lines, "lote_duplicado");
      assert.ok(duplicates.length >= 4, `${duplicates.length} duplicates`);
      assert.ok(duplicates.every((r) => r.result === "success" && r.fields.agency === "1"));
      const received = actions(server.process.lines, "apuesta_recibida")
        .reduce((sum, r) => sum + Number(r.fields.cantidad), 0);
      assert.equal(received, 6000, "the graders' sum of cantidad is exact");
    } finally {
      c.kill("SIGKILL");
      server.process.kill("SIGKILL");
      await Promise.all([c.status, server.process.status]);
      await proxy.close();
    }
    await assertStoredOnce(storagePath, [agency]);
  });
});

Deno.test("a client killed mid-run and run again stores nothing twice", async () => {
  await withTempDir(async (dir) => {
    // 3,000 batches of 10. The first run is killed right after the server logs a random
    // 1..300th batch, with no wait in between: the server (whose log writes block on the
    // pipe the test reads) is then at most a few pipe buffers, some 750 lines each, past
    // that line, so the first run cannot have finished, whatever the speed.
    const agency = { agency: 1, bets: 30_000, winnersAt: [12, 29_000] };
    const batches = 3_000;
    const [file] = await writeAgencies(dir, [agency]);
    const storagePath = `${dir}/bets.csv`;
    const server = await startLocalServer({ agencies: 1, storagePath });
    const args = ["--batch-max-amount", "10"];
    const first = startClient(server.address, 1, file, args);
    let second: Tp0Process | undefined;
    try {
      const after = 1 + Math.floor(Math.random() * 300);
      let stored = 0;
      await server.process.waitForLine(
        (l) => l.includes("action: apuesta_recibida | result: success") && ++stored >= after,
        30_000,
      );
      first.kill("SIGKILL");
      assert.equal((await first.status).signal, "SIGKILL", "the first run was still going");
      second = startClient(server.address, 1, file, args);
      assert.equal((await second.waitForExit(60_000)).code, 0, second.tail());
      assert.deepEqual(winners(second), winnerDocuments(agency).sort());
      server.process.kill("SIGTERM");
      assert.equal((await server.process.waitForExit(10_000)).code, 0);
      // The second run sends every batch again: those the first run had stored come back
      // as duplicates, the rest are stored now. Some of each: the kill came mid-run.
      const duplicates = actions(server.process.lines, "lote_duplicado").length;
      assert.ok(duplicates >= after, `${duplicates} duplicates, ${after} stored before the kill`);
      assert.ok(duplicates < batches, "the first run had not stored every batch");
      const received = actions(server.process.lines, "apuesta_recibida");
      assert.equal(received.length, batches, "each batch stored once, by one run or the other");
    } finally {
      first.kill("SIGKILL");
      second?.kill("SIGKILL");
      server.process.kill("SIGKILL");
      await Promise.all([first.status, second?.status, server.process.status]);
    }
    await assertStoredOnce(storagePath, [agency]);
  });
});
