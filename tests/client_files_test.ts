/**
 * The client's files: a missing, unreadable or malformed bets file, or a bad
 * config, ends the client with ONE line naming the file, the line and the
 * problem, and a non-zero exit. A bad line stops the run before AGENCY_DONE;
 * the batches before it are stored whole, and the fixed file run again
 * completes without storing anything twice.
 *
 * @module
 */

import assert from "node:assert/strict";
import { MAX_ROW_BYTES } from "../protocol/mod.ts";
import {
  DENO_RUN_FLAGS,
  freePort,
  MAIN_TS,
  runDeno,
  spawnTp0,
  startLocalServer,
  type Tp0Process,
} from "../tools/processes.ts";
import {
  actions,
  agencyCsv,
  records,
  storedRows,
  winnerDocuments,
  withTempDir,
} from "./_helpers.ts";

/** Runs a client to its end (bounded) and returns it. */
async function runClient(args: string[], env: Record<string, string> = {}): Promise<Tp0Process> {
  const process = spawnTp0(["client", "--id", "1", ...args], { env });
  try {
    await process.waitForExit(30_000);
  } finally {
    process.kill("SIGKILL");
    await process.status;
  }
  return process;
}

/** The log records with `result: fail`. */
function failures(process: Tp0Process) {
  return records(process.lines).filter((r) => r.result === "fail" && r.action !== "finished");
}

Deno.test("a missing bets file: one line naming it, exit 1, before any connection attempt", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/agency-1.csv`;
    // No server and a long deadline: the file is checked before connecting.
    const started = performance.now();
    const c = await runClient([
      "--server-address",
      `127.0.0.1:${freePort()}`,
      "--connect-deadline",
      "30s",
      "--data",
      path,
    ]);
    assert.equal((await c.status).code, 1);
    assert.ok(performance.now() - started < 20_000);
    const [failure, ...others] = failures(c);
    assert.deepEqual(others, []);
    assert.equal(failure.action, "client");
    assert.equal(failure.fields.reason, `${path}: File not found`);
    assert.equal(actions(c.lines, "connect").length, 0, "no connection was attempted");
  });
});

Deno.test("an unreadable bets file (a folder): one line naming it and the problem, exit 1", async () => {
  await withTempDir(async (dir) => {
    const c = await runClient([
      "--server-address",
      `127.0.0.1:${freePort()}`,
      "--data",
      dir,
    ]);
    assert.equal((await c.status).code, 1);
    const [failure, ...others] = failures(c);
    assert.deepEqual(others, []);
    assert.match(failure.fields.reason, new RegExp(`^${dir}:1: Cannot read file: Is a directory`));
  });
});

Deno.test({
  name: "a bets file without read permission: one line naming it, exit 1",
  // root reads any file whatever its mode (the tests run as root in CI): nothing to test there.
  ignore: Deno.build.os === "windows" || Deno.uid() === 0,
  async fn() {
    await withTempDir(async (dir) => {
      const path = `${dir}/agency-1.csv`;
      await Deno.writeTextFile(path, agencyCsv({ agency: 1, bets: 3 }));
      await Deno.chmod(path, 0o000);
      const c = await runClient(["--server-address", `127.0.0.1:${freePort()}`, "--data", path]);
      assert.equal((await c.status).code, 1);
      const [failure, ...others] = failures(c);
      assert.deepEqual(others, []);
      assert.match(failure.fields.reason, new RegExp(`^${path}: Cannot open file: `));
    });
  },
});

Deno.test("a malformed line stops the client there: whole batches before it stored, no AGENCY_DONE; the fixed file resumes with nothing twice", async () => {
  await withTempDir(async (dir) => {
    const agency = { agency: 1, bets: 50, winnersAt: [5, 45] };
    const good = agencyCsv(agency);
    const lines = good.split("\n");
    // Line 37 (1-based) loses a field; 10 bets a batch: batches 1-3 (lines 1-30) go out,
    // lines 31-36 never leave the client.
    lines[36] = lines[36].split(",").slice(1).join(",");
    const path = `${dir}/agency-1.csv`;
    await Deno.writeTextFile(path, lines.join("\n"));
    const storagePath = `${dir}/bets.csv`;
    const server = await startLocalServer({ agencies: 1, storagePath });
    try {
      const args = ["--server-address", server.address, "--data", path, "--batch-max-amount", "10"];
      const bad = await runClient(args);
      assert.equal((await bad.status).code, 1);
      const [failure, ...others] = failures(bad);
      assert.deepEqual(others, []);
      assert.equal(failure.action, "client");
      assert.match(failure.fields.reason, new RegExp(`^${path}:37: Expected 5 fields, got \\d`));
      assert.equal(failure.fields.apuestas_enviadas, "30");
      assert.equal((await storedRows(storagePath)).length, 30, "only whole batches, acknowledged");
      assert.equal(actions(server.process.lines, "agencia_finalizada").length, 0);

      // Fixed: run again. Batches 1-3 are the same and acknowledged as duplicates.
      await Deno.writeTextFile(path, good);
      const fixed = await runClient(args, { CLI_LOG_LEVEL: "DEBUG" });
      assert.equal((await fixed.status).code, 0, fixed.tail());
      const documents = actions(fixed.lines, "ganador").map((r) => r.fields.dni).sort();
      assert.deepEqual(documents, winnerDocuments(agency).sort());
      const rows = await storedRows(storagePath);
      const expected = good.trimEnd().split("\n").map((line) => `1,${line}`);
      assert.deepEqual(rows.sort(), expected.sort(), "each bet once");
      server.process.kill("SIGTERM");
      assert.equal((await server.process.waitForExit(10_000)).code, 0);
      // Counted once the server's output is read to its end (the client's exit does not
      // mean the test has read the server's last lines yet).
      assert.equal(actions(server.process.lines, "lote_duplicado").length, 3);
    } finally {
      server.process.kill("SIGKILL");
      await server.process.status;
    }
  });
});

Deno.test("a record too long for any frame, where the frame is nearly full: refused there, and the fixed file stores every bet once", async () => {
  await withTempDir(async (dir) => {
    // Good records until the next 8 KiB frame has little room left (enough for the fixed
    // record): the bad one must stop the run, not end batch 1 early (a batch cut there would
    // not be the batch 1 of the fixed file, and the server would take the fixed one for a
    // resend of it).
    const row = (i: number, firstName: string) =>
      `${firstName},Pérez,${30_000_000 + i},1990-01-01,${i === 3 ? 7574 : i % 7000}`;
    const goodSize = new TextEncoder().encode(`${row(100, "Ana")}\n`).length;
    const before = Math.floor((MAX_ROW_BYTES - 100) / goodSize); // leaves 100 to 100 + goodSize
    const lines = Array.from({ length: before + 20 }, (_, i) => row(i, "Ana"));
    const path = `${dir}/agency-1.csv`;
    const long = row(before, "a".repeat(MAX_ROW_BYTES));
    await Deno.writeTextFile(path, lines.with(before, long).join("\n"));
    const storagePath = `${dir}/bets.csv`;
    const server = await startLocalServer({ agencies: 1, storagePath });
    try {
      const args = ["--server-address", server.address, "--data", path];
      const bad = await runClient([...args, "--batch-max-amount", "1000"]);
      assert.equal((await bad.status).code, 1, bad.tail());
      const [failure] = failures(bad);
      assert.match(failure.fields.reason, new RegExp(`^${path}:${before + 1}: Record too long`));
      assert.equal((await storedRows(storagePath)).length, 0, "batch 1 was not sent");

      await Deno.writeTextFile(path, lines.join("\n"));
      const fixed = await runClient([...args, "--batch-max-amount", "1000"]);
      assert.equal((await fixed.status).code, 0, fixed.tail());
      const rows = await storedRows(storagePath);
      assert.deepEqual(rows.sort(), lines.map((line) => `1,${line}`).sort(), "each bet once");
      server.process.kill("SIGTERM");
      assert.equal((await server.process.waitForExit(10_000)).code, 0);
    } finally {
      server.process.kill("SIGKILL");
      await server.process.status;
    }
  });
});

Deno.test("a bad quote in the bets file names the line; nothing is sent when it is the first batch", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/agency-1.csv`;
    await Deno.writeTextFile(path, 'Ana,Pérez,1,1990-01-01,7\n"Juan,Gómez,2,1990-01-01,8\n');
    const storagePath = `${dir}/bets.csv`;
    const server = await startLocalServer({ agencies: 1, storagePath });
    try {
      const c = await runClient(["--server-address", server.address, "--data", path]);
      assert.equal((await c.status).code, 1);
      const [failure, ...others] = failures(c);
      assert.deepEqual(others, []);
      assert.equal(
        failure.fields.reason,
        `${path}:2: Bad quoting: a quoted field is never closed`,
      );
      assert.equal((await storedRows(storagePath)).length, 0);
      server.process.kill("SIGTERM");
      assert.equal((await server.process.waitForExit(10_000)).code, 0);
    } finally {
      server.process.kill("SIGKILL");
      await server.process.status;
    }
  });
});

Deno.test("a wrong client or server config: one line naming the key, the value and what was expected, exit 2", async () => {
  await withTempDir(async (dir) => {
    const yaml = `${dir}/client.yaml`;
    await Deno.writeTextFile(yaml, "connect:\n  deadline: soon\n");
    const cases: [string[], RegExp][] = [
      [["client", "--id", "1", "--connect-deadline", "5x"], /Invalid --connect-deadline: "5x"/],
      [["client", "--id", "1", "--config", yaml], /Invalid connect\.deadline: "soon"/],
      [["server", "--read-timeout", "0"], /Invalid --read-timeout: "0"/],
      [["server", "--idle-timeout", "1d"], /Invalid --idle-timeout: "1d"/],
      [["server", "--max-connections", "0"], /Invalid --max-connections: "0"/],
    ];
    for (const [args, message] of cases) {
      const { code, stdout, stderr } = await runDeno([
        ...["run", ...DENO_RUN_FLAGS, "--quiet", MAIN_TS, ...args],
      ]);
      assert.equal(code, 2, stderr);
      assert.equal(stdout, "");
      const lines = stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, stderr);
      assert.match(lines[0], message);
    }
  });
});
