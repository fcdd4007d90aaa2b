/**
 * The benchmark as a user runs it, at toy sizes: every section but `micro`
 * prints its figures, writes them to the results file, checks its runs and
 * leaves no process or temporary folder behind. (It asserts what the bench
 * reports, never how fast anything is.)
 */

import assert from "node:assert/strict";
import { withTempDir } from "../../tests/_helpers.ts";
import { runIngest } from "./load.ts";
import { DENO_RUN_FLAGS, runDeno, startLocalServer } from "../processes.ts";

const BENCH = new URL("./main.ts", import.meta.url).pathname;

interface ResultRow {
  section: string;
  name: string;
  unit: string;
  stat: { median: number; min: number; max: number; samples: number[] };
}

Deno.test("deno task bench at toy sizes: every section's figures, checked runs, nothing left behind", async () => {
  await withTempDir(async (dir) => {
    // The bench gets a temporary directory of its own, which must be empty when it ends.
    const tmp = `${dir}/tmp`;
    await Deno.mkdir(tmp);
    const out = `${dir}/results.json`;
    const { code, stdout, stderr } = await runDeno([
      ...["run", ...DENO_RUN_FLAGS, BENCH],
      ...["--only", "e2e,ingest,floor,memory", "--runs", "1", "--no-bundle"],
      ...[
        "--ingest-bets",
        "6000",
        "--agencies",
        "1,3",
        "--big-bets",
        "3000",
        "--fleet-bets",
        "3000",
        "--fleet-agencies",
        "3",
      ],
      ...["--out", out],
    ], { env: { TMPDIR: tmp } });
    assert.equal(code, 0, stderr);
    assert.match(stderr, /bench: done in \d+ s; results in /);
    assert.deepEqual([...Deno.readDirSync(tmp)], [], "the bench left temporary files behind");

    const results = JSON.parse(await Deno.readTextFile(out)) as {
      command: string;
      settings: Record<string, unknown>;
      rows: ResultRow[];
    };
    const row = (section: string, name: string): ResultRow => {
      const found = results.rows.find((r) => r.section === section && r.name.includes(name));
      assert.ok(found, `no ${section} row "${name}" in ${out}`);
      assert.equal(found.stat.samples.length, 1, found.name);
      assert.ok(Number.isFinite(found.stat.median), `${found.name}: ${found.stat.median}`);
      return found;
    };
    assert.ok(row("e2e", "total wall").stat.median > 0);
    assert.ok(row("e2e", "start: server listening").stat.median > 0);
    assert.ok(row("e2e", "total wall, external harness").stat.median > 0);
    // The floor moves every byte of the dataset (a run that lost a row is not counted).
    assert.ok(row("e2e", "total wall, the floor").stat.median > 0);
    assert.ok(row("e2e", "CPU, all processes (deno run").stat.median > 0);
    assert.ok(row("e2e", "CPU, agency 5").stat.median > 0);
    assert.ok(row("e2e", "3 agencies x 1000 bets, real clients").stat.median > 0);
    assert.ok(row("ingest", "1 agency: bets/s").stat.median > 0);
    assert.ok(row("ingest", "3 agencies: bets/s").stat.median > 0);
    assert.ok(row("floor", "bets/s").stat.median > 0);
    assert.ok(row("floor", "ratio: ingest 3 agencies / floor").stat.median > 0);
    // Peak RSS of a Deno process is tens of MiB: anything else means it was not read.
    for (const name of ["server peak RSS, shipped dataset", "client peak RSS, 3,000 bets"]) {
      const rss = row("memory", name).stat.median;
      assert.ok(rss > 10 && rss < 1024, `${name}: ${rss} MiB`);
    }
    assert.ok(!results.rows.some((r) => r.section === "micro"), "micro was not asked for");

    // The table on stdout names every figure of the file.
    for (const r of results.rows) assert.ok(stdout.includes(r.name), `table lacks "${r.name}"`);
  });
});

Deno.test("runIngest() sends every bet in full frames and gets every ack, each after the store's fsync", async () => {
  await withTempDir(async (dir) => {
    const storagePath = `${dir}/bets.csv`;
    const server = await startLocalServer({ agencies: 4, storagePath });
    try {
      const result = await runIngest({ address: server.address, agencies: 4, bets: 10_000 });
      assert.equal(result.bets, 10_000);
      assert.equal(result.failures, 0);
      assert.ok(result.frames >= 4 && result.frames < 10_000, `${result.frames} frames`);
      assert.ok(result.frameBytes / result.frames <= 8192, "a frame over 8 KiB");
      // Acked means stored: every bet is in the file before the server is even stopped.
      const text = await Deno.readTextFile(storagePath);
      assert.equal(text.split("\n").filter((line) => line !== "").length, 10_000);
      server.process.kill("SIGTERM");
      assert.equal((await server.process.waitForExit(10_000)).code, 0);
    } finally {
      server.process.kill("SIGKILL");
      await server.process.status;
    }
  });
});
