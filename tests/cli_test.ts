/**
 * The command line as a user meets it: help, version, typos, bad values.
 */

import assert from "node:assert/strict";
import { DENO_RUN_FLAGS, type DenoOutput, MAIN_TS, runDeno, spawnTp0 } from "../tools/processes.ts";
import denoJson from "../deno.json" with { type: "json" };
import { withTempDir } from "./_helpers.ts";

/** Runs `tp0 <args>` to completion. */
function tp0(args: string[], env: Record<string, string> = {}): Promise<DenoOutput> {
  return runDeno(["run", ...DENO_RUN_FLAGS, "--quiet", MAIN_TS, ...args], { env });
}

Deno.test("tp0 --help lists every command and exits 0", async () => {
  const { code, stdout } = await tp0(["--help"]);
  assert.equal(code, 0);
  for (const command of ["server", "client", "gen-compose", "validate-echo"]) {
    assert.match(stdout, new RegExp(`^  ${command} `, "m"));
  }
});

Deno.test("tp0 --version prints the version of deno.json", async () => {
  const { code, stdout } = await tp0(["--version"]);
  assert.equal(code, 0);
  assert.equal(stdout, `tp0 ${denoJson.version}\n`);
});

for (const command of ["server", "client", "gen-compose", "validate-echo"]) {
  Deno.test(`tp0 ${command} --help prints its usage and exits 0`, async () => {
    const { code, stdout } = await tp0([command, "--help"]);
    assert.equal(code, 0);
    assert.match(stdout, new RegExp(`^Usage: tp0 ${command}`));
  });
}

const usageErrors: [string[], RegExp][] = [
  [[], /^tp0: missing command$/],
  [["serve"], /^tp0: Unknown command 'serve' \(did you mean 'server'\?\)$/],
  [["toString"], /^tp0: Unknown command 'toString'/], // not a command because objects have it
  [["--bogus"], /^tp0: Unknown option '--bogus'$/],
  [["server", "--prot", "1"], /^tp0: Unknown option '--prot'$/],
  [["client", "--id"], /^tp0: Option '--id <value>' argument missing$/],
  [["server", "extra"], /^tp0: Unexpected argument 'extra'$/],
];

for (const [args, reason] of usageErrors) {
  Deno.test(`tp0 ${args.join(" ") || "(nothing)"} prints a one-line reason and usage, exit 2`, async () => {
    const { code, stdout, stderr } = await tp0(args);
    assert.equal(code, 2);
    assert.equal(stdout, "");
    const [first, blank, usage] = stderr.split("\n");
    assert.match(first, reason);
    assert.equal(blank, "");
    assert.match(usage, /^Usage: tp0/);
  });
}

/** The environment of exercise 5's single bet. */
const EXERCISE_5_BET = {
  NOMBRE: "Santiago Lionel",
  APELLIDO: "Lorca",
  DOCUMENTO: "30904465",
  NACIMIENTO: "1999-03-17",
  NUMERO: "7574",
};

const badConfig: [string[], Record<string, string>, RegExp][] = [
  [["server", "--port", "70000"], {}, /Invalid --port: "70000" \(expected an integer 0\.\.65535\)/],
  [["server"], { SERVER_PORT: "70000" }, /Invalid SERVER_PORT: "70000"/],
  [["server"], { LOGGING_LEVEL: "LOUD" }, /Invalid LOGGING_LEVEL: "LOUD" \(expected DEBUG, INFO/],
  [["server", "--config", "nope.ini"], {}, /Config file not found: "nope.ini"/],
  [["client", "--id", "1", "--loop-period", "5x"], {}, /Invalid --loop-period: "5x"/],
  [["client", "--id", "1"], { CLI_LOOP_PERIOD: "5x" }, /Invalid CLI_LOOP_PERIOD: "5x"/],
  [["client", "--id", "1", "--log-level", "LOUD"], {}, /Invalid --log-level: "LOUD"/],
  [["client"], {}, /CLI_ID/],
  [["client", "--id", "1", "--config", "nope.yaml"], {}, /Config file not found: "nope.yaml"/],
  [["client", "--id", "1"], { NOMBRE: "Ana" }, /Incomplete bet in the environment: missing APELL/],
  [["client", "--id", "1"], { ...EXERCISE_5_BET, NUMERO: "7x" }, /Invalid NUMERO: "7x"/],
  [
    ["client", "--id", "1"],
    { ...EXERCISE_5_BET, NACIMIENTO: "1999-03-17 00:00:00 +0000 UTC" },
    /Invalid bet in NOMBRE, APELLIDO, DOCUMENTO, NACIMIENTO, NUMERO: Invalid birthdate: "1999-03-17 00:00:00/,
  ],
];

for (const [args, env, message] of badConfig) {
  const label = [...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...args].join(" ");
  Deno.test(`tp0 ${label} stops before doing anything: one line, exit 2`, async () => {
    const { code, stdout, stderr } = await tp0(args, env);
    assert.equal(code, 2);
    assert.equal(stdout, "", "nothing was logged: the program did not start");
    const lines = stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, stderr);
    assert.match(lines[0], message);
  });
}

Deno.test("a client whose server is down fails with the reason, exit 1", async () => {
  // Bind and release a port so that nothing listens on it.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  const { code, stdout } = await tp0([
    "client",
    "--id",
    "1",
    "--server-address",
    `127.0.0.1:${port}`,
    "--connect-deadline",
    "300ms",
  ]);
  assert.equal(code, 1, stdout);
  assert.match(stdout, /action: connect \| result: fail \|.*connection refused/);
});

Deno.test("the server logs its configuration exactly as configured", async () => {
  await withTempDir(async (dir) => {
    const ini = `${dir}/server.ini`;
    await Deno.writeTextFile(
      ini,
      "[DEFAULT]\nSERVER_PORT = 0\nSERVER_LISTEN_BACKLOG = 8\nLOGGING_LEVEL = debug\n",
    );
    const server = spawnTp0(["server", "--config", ini, "--storage", `${dir}/b.csv`]);
    try {
      await server.waitForLine((line) => line.includes("action: server_listening"));
      server.kill("SIGTERM");
      assert.equal((await server.waitForExit(10_000)).code, 0, server.tail());
    } finally {
      server.kill("SIGKILL");
      await server.status;
    }
    // The first line of all, exactly: the course's fields first, values as configured.
    assert.match(
      server.lines[0],
      /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INFO {5}action: config \| result: success \| port: 0 \| listen_backlog: 8 \| logging_level: DEBUG \| agencies: 5 \| storage_path: \S+\/b\.csv \| read_timeout: 10s \| idle_timeout: 60s \| max_connections: 256 \| host: 0\.0\.0\.0 \| server_ip: server \| winners_delay: 0s \| agency_keys: none \| auth_timeout: 5s \| max_handshakes: 128$/,
    );
  });
});
