/**
 * `deno task demo`, the quickstart's main job, as a user runs it: the shipped
 * dataset end to end with its summary, Ctrl-C in the middle, and bad input.
 * Each demo gets a temporary directory of its own (TMPDIR), which must be
 * empty again when it ends.
 */

import assert from "node:assert/strict";
import { DENO_RUN_FLAGS, ROOT, runDeno, spawnDeno, type Tp0Process } from "../tools/processes.ts";
import { withTempDir } from "./_helpers.ts";

const DEMO = `${ROOT}tools/demo.ts`;

/** What is left in `dir`. */
async function entries(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names;
}

/** Pids of the running processes whose command line contains `text`. */
async function processesMentioning(text: string): Promise<number[]> {
  const pids: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name) || Number(entry.name) === Deno.pid) continue;
    try {
      const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`);
      if (cmdline.replaceAll("\0", " ").includes(text)) pids.push(Number(entry.name));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

function spawnDemo(args: string[], tmp: string): Tp0Process {
  return spawnDeno(DEMO, args, { env: { TMPDIR: tmp } });
}

Deno.test("the demo runs the shipped dataset: 80,000 bets stored, 6 winners, a summary, nothing left", async () => {
  await withTempDir(async (tmp) => {
    const { code, stdout, stderr } = await runDeno(
      ["run", ...DENO_RUN_FLAGS, "--quiet", DEMO, "--quiet"],
      { env: { TMPDIR: tmp } },
    );
    assert.equal(code, 0, stderr);
    const rows = stdout.split("\n");
    for (let agency = 1; agency <= 5; agency++) {
      assert.ok(
        rows.some((row) => new RegExp(`^\\s+${agency}\\s+\\d+\\s+[1-9]\\s`).test(row)),
        stdout,
      );
    }
    assert.match(stdout, /^\s*total\s+80000\s+6\s/m);
    assert.match(stdout, /^rows in the server's storage: 80000$/m);
    assert.match(stdout, /^demo: success$/m);
    assert.deepEqual(await entries(tmp), [], "the demo left its storage behind");
  });
});

Deno.test("Ctrl-C in the middle of the demo stops every process, prints what was done, exit 130", async () => {
  await withTempDir(async (tmp) => {
    // One bet a batch: 80,000 batches. Ctrl-C follows the first one the demo relays with no
    // wait in between, and every log write on the way (server, demo) blocks on a pipe that
    // is read behind it, so the server is then a few pipe buffers (thousands of lines) past
    // that line at most: the run cannot have ended first, whatever the speed.
    const demo = spawnDemo(["--batch-max-amount", "1"], tmp);
    try {
      await demo.waitForLine((line) => line.includes("action: apuesta_recibida"), 30_000);
      demo.kill("SIGINT");
      const { code } = await demo.waitForExit(30_000);
      assert.equal(code, 130, demo.tail());
      assert.ok(demo.lines.includes("demo: SIGINT: stopping the server and the agencies"));
      assert.ok(demo.lines.includes("demo: interrupted by SIGINT; every process stopped"));
      assert.ok(demo.lines.some((l) => /^server .*action: finished \| result: success/.test(l)));
      assert.deepEqual(await entries(tmp), [], "the demo left its storage behind");
    } finally {
      demo.kill("SIGKILL");
      await demo.status;
    }
    // No process of the run is left: none has the server's address (every client's
    // --server-address) on its command line. Any found is killed, and the test fails.
    const port = /server_listening .*address: [\d.]+:(\d+)/.exec(demo.lines.join("\n"))?.[1];
    assert.ok(port, demo.tail());
    const left = await processesMentioning(`127.0.0.1:${port}`);
    for (const pid of left) Deno.kill(pid, "SIGKILL");
    assert.deepEqual(left, [], "processes of the demo still running");
  });
});

Deno.test("the demo refuses bad input with one line (and its usage for a bad flag)", async () => {
  const cases: [string[], number, RegExp][] = [
    [["--agencies", "0"], 2, /^demo: Invalid --agencies: "0" \(expected 1\.\.1000\)$/],
    [["--agencise", "3"], 2, /^demo: Unknown option '--agencise'/],
    [["--data", "/nonexistent"], 1, /^demo: Missing data file: "\/nonexistent\/agency-1\.csv"$/],
    [["--servers", "0"], 2, /^demo: Invalid --servers: "0" \(expected 1\.\.16\)$/],
  ];
  for (const [args, expected, message] of cases) {
    const { code, stdout, stderr } = await runDeno(["run", ...DENO_RUN_FLAGS, DEMO, ...args]);
    assert.equal(code, expected, stderr);
    assert.equal(stdout, "");
    assert.match(stderr.split("\n")[0], message);
  }
});

/** A TMPDIR the `postgres` user can enter (the demo's cluster is made in it). */
async function withOpenTempDir(fn: (tmp: string) => Promise<void>): Promise<void> {
  await withTempDir(async (tmp) => {
    await Deno.chmod(tmp, 0o755);
    await fn(tmp);
  });
}

Deno.test("the demo with --servers 3: 3 replicas on a throwaway PostgreSQL, 80,000 bets once, 6 winners, nothing left", async () => {
  await withOpenTempDir(async (tmp) => {
    const { code, stdout, stderr } = await runDeno(
      ["run", ...DENO_RUN_FLAGS, "--quiet", DEMO, "--servers", "3"],
      { env: { TMPDIR: tmp } },
    );
    if (/needs PostgreSQL on this machine/.test(stderr) && Deno.env.get("CI") !== "true") {
      console.log(`SKIPPED demo --servers 3: ${stderr.trim()}`);
      return;
    }
    assert.equal(code, 0, stderr);
    for (const name of ["server1", "server2", "server3"]) {
      assert.match(stdout, new RegExp(`^${name} +\\| .*action: storage \\| result: success`, "m"));
    }
    assert.equal(
      stdout.split("\n").filter((l) => /action: sorteo \| result: success/.test(l)).length,
      1,
    );
    assert.match(stdout, /^\s*total\s+80000\s+6\s/m);
    assert.match(stdout, /^rows in the server's storage: 80000$/m);
    assert.match(stdout, /^demo: success$/m);
    assert.deepEqual(await entries(tmp), [], "the demo left its storage or its database behind");
    assert.deepEqual(await processesMentioning(tmp), [], "a process of the demo is still running");
  });
});

Deno.test("Ctrl-C in the middle of the demo with --servers 3: every replica and the database stopped, exit 130", async () => {
  await withOpenTempDir(async (tmp) => {
    const demo = spawnDemo(["--servers", "3", "--batch-max-amount", "1"], tmp);
    try {
      const first = await Promise.race([
        demo.waitForLine((line) => line.includes("action: apuesta_recibida"), 60_000),
        demo.status.then(() => "exited"),
      ]);
      if (first === "exited" && demo.lines.some((l) => l.includes("needs PostgreSQL"))) {
        if (Deno.env.get("CI") === "true") assert.fail(demo.tail());
        console.log(`SKIPPED demo --servers 3 Ctrl-C: ${demo.tail(1)}`);
        return;
      }
      demo.kill("SIGINT");
      const { code } = await demo.waitForExit(30_000);
      assert.equal(code, 130, demo.tail());
      assert.ok(demo.lines.includes("demo: interrupted by SIGINT; every process stopped"));
      for (const name of ["server1", "server2", "server3"]) {
        assert.ok(
          demo.lines.some((l) =>
            new RegExp(`^${name} .*action: finished \\| result: success`).test(l)
          ),
          `${name} finished`,
        );
      }
      assert.deepEqual(await entries(tmp), [], "the demo left its storage or its database behind");
      const left = await processesMentioning(tmp);
      for (const pid of left) Deno.kill(pid, "SIGKILL");
      assert.deepEqual(left, [], "a process of the demo (the database) is still running");
    } finally {
      demo.kill("SIGKILL");
      await demo.status;
    }
  });
});

Deno.test("the demo with --servers 3 and no PostgreSQL binaries says so in one line, exit 1", async () => {
  const { code, stdout, stderr } = await runDeno(
    ["run", ...DENO_RUN_FLAGS, "--quiet", DEMO, "--servers", "3"],
    { env: { TP0_PG_BINDIR: "/nonexistent" } },
  );
  assert.equal(code, 1, stderr);
  assert.equal(stdout, "");
  assert.deepEqual(stderr.trimEnd().split("\n"), [
    "demo: --servers 3 needs PostgreSQL on this machine: postgresql unavailable: no initdb in " +
    "pg_config --bindir, PATH or /usr/lib/postgresql/*/bin (apt-get install postgresql)",
  ]);
});
