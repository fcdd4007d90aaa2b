/**
 * The lottery end to end: a server and agencies as child processes on
 * 127.0.0.1, read through their logs the way a grader reads them.
 */

import assert from "node:assert/strict";
import {
  actions,
  records,
  runLottery,
  storedRows,
  winnerDocuments,
  withTempDir,
  writeAgencies,
} from "./_helpers.ts";
import { ROOT, spawnTp0 } from "../tools/processes.ts";

function winnersCount(lines: string[]): number {
  const [record] = actions(lines, "consulta_ganadores");
  assert.ok(record, "no consulta_ganadores line");
  assert.equal(record.result, "success");
  return Number(record.fields.cant_ganadores);
}

Deno.test("3 agencies x 100 bets get exactly their winners: 2, 1 and 0", async () => {
  await withTempDir(async (dir) => {
    const agencies = [
      { agency: 1, bets: 100, winnersAt: [0, 99] },
      { agency: 2, bets: 100, winnersAt: [50] },
      { agency: 3, bets: 100 },
    ];
    const run = await runLottery({ dir, files: await writeAgencies(dir, agencies), maxAmount: 30 });

    assert.deepEqual(run.codes, [0, 0, 0]);
    assert.equal(run.serverCode, 0);
    assert.deepEqual(run.clients.map((c) => winnersCount(c.lines)), [2, 1, 0]);

    // Each agency is told only its own winners' documents.
    const serverLog = run.server.lines.join("\n");
    assert.ok(!serverLog.includes("| result: fail"), serverLog);
    const rows = await storedRows(run.storagePath);
    assert.equal(rows.length, 300);
    const stored = rows.filter((row) => row.endsWith(",7574")).map((row) => row.split(",")[0]);
    assert.deepEqual(stored.sort(), ["1", "1", "2"]);
  });
});

Deno.test("every apuesta_recibida comes before the sorteo, and winners are sent only after it", async () => {
  await withTempDir(async (dir) => {
    const agencies = [1, 2, 3, 4, 5].map((agency) => ({
      agency,
      bets: 60,
      winnersAt: Array.from({ length: agency }, (_, i) => i * 11),
    }));
    const run = await runLottery({ dir, files: await writeAgencies(dir, agencies), maxAmount: 7 });
    assert.deepEqual(run.codes, [0, 0, 0, 0, 0]);

    // 1..5 winners, each agency its own.
    assert.deepEqual(run.clients.map((c) => winnersCount(c.lines)), [1, 2, 3, 4, 5]);

    const sorteo = actions(run.server.lines, "sorteo");
    assert.equal(sorteo.length, 1, "the draw runs exactly once");
    assert.equal(sorteo[0].result, "success");
    const received = actions(run.server.lines, "apuesta_recibida");
    assert.ok(received.every((r) => r.index < sorteo[0].index));
    assert.ok(received.every((r) => r.result === "success"));
    const total = received.reduce((sum, r) => sum + Number(r.fields.cantidad), 0);
    assert.equal(total, 300, "the cantidad of every batch adds up to the bets sent");

    // A client learns its winners only after the draw: its consulta_ganadores
    // follows the server's ganadores_enviados for it, which follows the sorteo.
    const sent = actions(run.server.lines, "ganadores_enviados");
    assert.equal(sent.length, 5);
    assert.ok(sent.every((r) => r.index > sorteo[0].index));
  });
});

for (const maxAmount of [64, 99]) {
  for (const bets of [100, 16, 21]) {
    Deno.test(`batches hold exactly ${maxAmount} bets but the last (${bets} bets)`, async () => {
      await withTempDir(async (dir) => {
        const files = await writeAgencies(dir, [{ agency: 1, bets }]);
        const run = await runLottery({ dir, files, maxAmount });
        assert.deepEqual(run.codes, [0]);
        const sizes = actions(run.server.lines, "apuesta_recibida").map((r) =>
          Number(r.fields.cantidad)
        );
        const expected: number[] = [];
        for (let left = bets; left > 0; left -= maxAmount) expected.push(Math.min(left, maxAmount));
        assert.deepEqual(sizes, expected);
      });
    });
  }
}

Deno.test("batches never pass 8 KiB: long names make batches smaller than maxAmount", async () => {
  await withTempDir(async (dir) => {
    const name = "Ñ".repeat(120); // 240 bytes of UTF-8
    const rows = Array.from(
      { length: 100 },
      (_, i) => `${name},${name},${30_000_000 + i},1990-01-01,${i}\n`,
    );
    const path = `${dir}/agency-1.csv`;
    await Deno.writeTextFile(path, rows.join(""));
    const run = await runLottery({ dir, files: [path], maxAmount: 100 });
    assert.deepEqual(run.codes, [0]);
    const sizes = actions(run.server.lines, "apuesta_recibida").map((r) =>
      Number(r.fields.cantidad)
    );
    // A bet takes 4 + 4 + 240 + 240 + 8 + 10 = 506 bytes; 16 fit in 8179.
    assert.deepEqual(sizes, [16, 16, 16, 16, 16, 16, 4]);
    assert.equal((await storedRows(run.storagePath)).length, 100);
  });
});

Deno.test("a bad bet fails its whole batch, nothing of it is stored, other agencies are unaffected", async () => {
  await withTempDir(async (dir) => {
    const files = await writeAgencies(dir, [
      { agency: 1, bets: 50, winnersAt: [3] },
      { agency: 2, bets: 50, winnersAt: [7] },
    ]);
    // Agency 2's bet at line 25 gets an impossible birthdate: batch 3 of 5 (10 bets each).
    const lines = (await Deno.readTextFile(files[1])).split("\n");
    lines[25] = lines[25].replace(/\d{4}-\d{2}-\d{2}/, "1999-02-30");
    await Deno.writeTextFile(files[1], lines.join("\n"));

    const run = await runLottery({ dir, files, maxAmount: 10 });
    assert.deepEqual(run.codes, [0, 1], "the agency with a rejected batch exits 1");
    assert.equal(run.serverCode, 0);

    const failed = actions(run.server.lines, "apuesta_recibida").filter((r) => r.result === "fail");
    assert.equal(failed.length, 1);
    assert.equal(failed[0].fields.cantidad, "10");
    assert.match(failed[0].fields.reason, /birthdate.*1999-02-30/);
    const clientFail = actions(run.clients[1].lines, "apuesta_enviada");
    assert.equal(clientFail.length, 1);
    assert.equal(clientFail[0].result, "fail");
    assert.match(clientFail[0].fields.reason, /1999-02-30/);

    const rows = await storedRows(run.storagePath);
    assert.equal(rows.filter((r) => r.startsWith("1,")).length, 50);
    assert.equal(
      rows.filter((r) => r.startsWith("2,")).length,
      40,
      "batch 3 of agency 2 is absent",
    );
    for (let i = 20; i < 30; i++) {
      assert.ok(!rows.some((r) => r.includes(`,${20_200_000 + i},`)), `bet ${i} was stored`);
    }
    // Both agencies still get their winners.
    assert.deepEqual(run.clients.map((c) => winnersCount(c.lines)), [1, 1]);
  });
});

Deno.test("a single bet from NOMBRE, APELLIDO, DOCUMENTO, NACIMIENTO and NUMERO is stored and confirmed", async () => {
  await withTempDir(async (dir) => {
    const files = [`${dir}/unused.csv`];
    const env = {
      NOMBRE: "Santiago Lionel",
      APELLIDO: "Lorca",
      DOCUMENTO: "30904465",
      NACIMIENTO: "1999-03-17",
      NUMERO: "7574",
    };
    const run = await runLottery({ dir, files, clientEnv: { 1: env } });
    assert.deepEqual(run.codes, [0]);
    const [sent] = actions(run.clients[0].lines, "apuesta_enviada");
    assert.equal(sent.result, "success");
    assert.deepEqual(sent.fields, { dni: "30904465", numero: "7574" });
    const [stored] = actions(run.server.lines, "apuesta_almacenada");
    assert.equal(stored.level, "INFO");
    assert.deepEqual(stored.fields, { dni: "30904465", numero: "7574" });
    assert.deepEqual(await storedRows(run.storagePath), [
      "1,Santiago Lionel,Lorca,30904465,1999-03-17,7574",
    ]);
    assert.equal(winnersCount(run.clients[0].lines), 1);
  });
});

Deno.test("the shipped dataset: every bet is stored exactly once and each agency gets its winners", async () => {
  await withTempDir(async (dir) => {
    const files = [1, 2, 3, 4, 5].map((i) => `${ROOT}.data/agency-${i}.csv`);
    const run = await runLottery({ dir, files });
    assert.deepEqual(run.codes, [0, 0, 0, 0, 0]);

    const expected: string[] = [];
    const winners: number[] = [];
    for (const [i, file] of files.entries()) {
      const lines = (await Deno.readTextFile(file)).split("\n").filter((l) => l !== "");
      expected.push(...lines.map((line) => `${i + 1},${line}`));
      winners.push(lines.filter((line) => line.endsWith(",7574")).length);
    }
    const rows = await storedRows(run.storagePath);
    assert.equal(rows.length, expected.length);
    assert.deepEqual(rows.sort(), expected.sort(), "the stored rows are the sent rows, once each");
    assert.deepEqual(run.clients.map((c) => winnersCount(c.lines)), winners);
    assert.equal(records(run.server.lines).filter((r) => r.result === "fail").length, 0);
  });
});

Deno.test("winners documents reach only their own agency", async () => {
  await withTempDir(async (dir) => {
    const agencies = [
      { agency: 1, bets: 40, winnersAt: [1, 2] },
      { agency: 2, bets: 40, winnersAt: [30] },
    ];
    const files = await writeAgencies(dir, agencies);
    // DEBUG on the clients lists each winner's document.
    const env = { CLI_LOG_LEVEL: "DEBUG" };
    const run = await runLottery({ dir, files, clientEnv: { 1: env, 2: env } });
    assert.deepEqual(run.codes, [0, 0]);
    for (const [i, client] of run.clients.entries()) {
      const documents = actions(client.lines, "ganador").map((r) => r.fields.dni);
      assert.deepEqual(documents.sort(), winnerDocuments(agencies[i]).sort());
    }
  });
});

Deno.test("SIGTERM stops an agency mid-run: exit 0 within 2 s, socket and bets file closures logged", async () => {
  await withTempDir(async (dir) => {
    const [file] = await writeAgencies(dir, [{ agency: 1, bets: 5000 }]);
    // A peer that reads everything and never answers keeps the agency waiting for acks.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const drained = (async () => {
      for await (const conn of listener) {
        for await (const _ of conn.readable) { /* discard */ }
      }
    })();
    const { port } = listener.addr as Deno.NetAddr;
    const client = spawnTp0([
      "client",
      "--id",
      "1",
      "--server-address",
      `127.0.0.1:${port}`,
      "--data",
      file,
    ]);
    try {
      await client.waitForLine((line) => line.includes("action: connect | result: success"));
      const start = performance.now();
      client.kill("SIGTERM");
      const { code } = await client.waitForExit(10_000);
      const elapsed = performance.now() - start;
      assert.equal(code, 0, client.tail());
      assert.ok(elapsed < 2000, `the agency took ${elapsed.toFixed(0)} ms to stop`);
      const closed = actions(client.lines, "shutdown").map((r) => r.fields.resource);
      assert.deepEqual(closed.sort(), ["bets_file", "connection"]);
      assert.ok(records(client.lines).every((r) => r.result !== "fail"), client.tail());
      // The totals so far, marked unfinished: nothing was acknowledged by this peer.
      const [summary] = actions(client.lines, "resumen");
      assert.equal(summary?.result, "in_progress", client.tail());
      assert.equal(summary.fields.apuestas_enviadas, "0");
    } finally {
      client.kill("SIGKILL");
      await client.status;
      listener.close();
      await drained;
    }
  });
});
