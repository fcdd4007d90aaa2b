/**
 * The course's own files and log conventions, run without Docker: its base
 * `server/config.ini` and `client/config.yaml` as they ship, and the action
 * names its log parser gives a meaning of its own (`exit`, from Compose's
 * `<name> exited with code N` lines), which no tp0 line may use.
 */

import assert from "node:assert/strict";
import { spawnTp0, startLocalServer } from "../tools/processes.ts";
import { records, runLottery, withTempDir, writeAgencies } from "./_helpers.ts";

/** The course's base `server/config.ini`, byte for byte. */
const COURSE_SERVER_INI =
  "[DEFAULT]\nserver_port = 12345\nserver_ip = server\nserver_listen_backlog = 5\nlogging_level=INFO\n";

/** The course's base `client/config.yaml` (exercises 1-4), with the batch key of exercise 6. */
const COURSE_CLIENT_YAML =
  'server:\n  address: "server:12345"\nloop:\n  amount: 5\n  period: "5s"\n' +
  'log:\n  level: "info"\nbatch:\n  maxAmount: 100\n';

/** Starts a server on `ini` (port 0 from the environment), returns its config line; stops it. */
async function serverConfigLine(ini: string, env: Record<string, string>): Promise<string> {
  const dir = ini.slice(0, ini.lastIndexOf("/"));
  const server = spawnTp0(["server", "--config", ini, "--storage", `${dir}/bets.csv`], {
    env: { SERVER_PORT: "0", ...env },
  });
  try {
    await server.waitForLine((line) => line.includes("action: server_listening"), 30_000);
    server.kill("SIGTERM");
    assert.equal((await server.waitForExit(10_000)).code, 0, server.tail());
  } finally {
    server.kill("SIGKILL");
    await server.status;
  }
  const line = server.lines.find((l) => l.includes("action: config"));
  assert.ok(line !== undefined, server.tail());
  return line;
}

Deno.test("tp0 server starts on the course's config.ini, byte for byte and in upper case", async () => {
  await withTempDir(async (dir) => {
    const upper = COURSE_SERVER_INI.toUpperCase().replace("= SERVER\n", "= server\n");
    for (const [name, text] of [["lower", COURSE_SERVER_INI], ["upper", upper]]) {
      const ini = `${dir}/config-${name}.ini`;
      await Deno.writeTextFile(ini, text);
      const line = await serverConfigLine(ini, {});
      assert.match(line, /action: config \| result: success \| port: 0 \| listen_backlog: 5 \| /);
      assert.match(line, /\| logging_level: INFO \| /);
      assert.match(line, /\| server_ip: server \| /);
      const overridden = await serverConfigLine(ini, { SERVER_IP: "10.9.8.7" });
      assert.match(overridden, /\| server_ip: 10\.9\.8\.7 \| /);
    }
  });
});

Deno.test("tp0 client runs on the course's config.yaml", async () => {
  await withTempDir(async (dir) => {
    const yaml = `${dir}/config.yaml`;
    await Deno.writeTextFile(yaml, COURSE_CLIENT_YAML);
    // Nothing listens there: the client reads its file, logs its config, then fails to connect.
    const client = spawnTp0([
      "client",
      "--config",
      yaml,
      "--mode",
      "echo",
      "--server-address",
      "127.0.0.1:1",
      "--connect-deadline",
      "0",
    ], { env: { CLI_ID: "4" } });
    const { code } = await client.waitForExit(30_000);
    assert.equal(code, 1, client.tail());
    const config = records(client.lines).find((r) => r.action === "config");
    assert.ok(config !== undefined, client.tail());
    assert.equal(config.fields.client_id, "4");
    assert.equal(config.fields.loop_amount, "5");
    assert.equal(config.fields.loop_period, "5s");
    assert.equal(config.fields.log_level, "INFO");
    assert.equal(config.fields.batch_max_amount, "100");
  });
});

Deno.test("no log line of the server or a client uses the action 'exit'", async () => {
  await withTempDir(async (dir) => {
    const files = await writeAgencies(dir, [
      { agency: 1, bets: 30, winnersAt: [4] },
      { agency: 2, bets: 10 },
    ]);
    const run = await runLottery({ dir, files });
    assert.deepEqual(run.codes, [0, 0]);
    assert.equal(run.serverCode, 0);
    for (const process of [run.server, ...run.clients]) {
      const all = records(process.lines);
      assert.ok(all.length > 3, process.tail());
      assert.deepEqual(all.filter((r) => r.action === "exit"), []);
      // The exit code is still logged, under another action.
      assert.equal(all.at(-1)?.action, "finished", process.tail());
      assert.equal(all.at(-1)?.fields.code, "0");
    }
  });
});

Deno.test("--winners-delay holds every winners reply that long after the sorteo line", async () => {
  await withTempDir(async (dir) => {
    const [file] = await writeAgencies(dir, [{ agency: 1, bets: 20, winnersAt: [3] }]);
    const seen = new Map<string, number>();
    const server = await startLocalServer({
      agencies: 1,
      storagePath: `${dir}/bets.csv`,
      args: ["--winners-delay", "400ms"],
      onLine: (line) => {
        const action = /action: (\w+)/.exec(line)?.[1];
        if (action !== undefined && !seen.has(action)) seen.set(action, performance.now());
      },
    });
    const client = spawnTp0([
      "client",
      "--id",
      "1",
      "--server-address",
      server.address,
      "--data",
      file,
    ]);
    try {
      assert.equal((await client.waitForExit(30_000)).code, 0, client.tail());
      server.process.kill("SIGTERM");
      assert.equal((await server.process.waitForExit(10_000)).code, 0);
    } finally {
      client.kill("SIGKILL");
      server.process.kill("SIGKILL");
      await Promise.all([client.status, server.process.status]);
    }
    assert.match(
      server.process.lines.find((l) => l.includes("action: config"))!,
      /winners_delay: 400ms/,
    );
    const gap = seen.get("ganadores_enviados")! - seen.get("sorteo")!;
    assert.ok(
      gap >= 350,
      `winners sent ${gap.toFixed(0)} ms after the sorteo line (expected >= 400)`,
    );
  });
});
