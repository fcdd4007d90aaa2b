import assert from "node:assert/strict";
import YAML from "yaml";
import { DENO_RUN_FLAGS, type DenoOutput, MAIN_TS, runDeno } from "../tools/processes.ts";
import { type ComposeFile, composeToYaml, generateCompose, runGenCompose } from "./mod.ts";

const MOD_URL = new URL("./mod.ts", import.meta.url).href;

/** Runs `runGenCompose(args)` in a temp dir, returns what it printed and the parsed file. */
async function generate(count: number, extra: string[] = []) {
  const dir = await Deno.makeTempDir({ prefix: "tp0_compose_test_" });
  try {
    const out = `${dir}/docker-compose-dev.yaml`;
    const stdout: string[] = [];
    const stderr: string[] = [];
    const code = await runGenCompose([out, String(count), ...extra], {
      stdout: (line) => stdout.push(line),
      stderr: (line) => stderr.push(line),
    });
    const text = await Deno.readTextFile(out);
    return { code, out, stdout, stderr, text, compose: YAML.parse(text) as ComposeFile };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs runGenCompose in a child process (usage errors print on the real stderr). */
function runChild(args: string[]): Promise<DenoOutput> {
  return runDeno([
    "eval",
    `import { runGenCompose } from ${JSON.stringify(MOD_URL)};\n` +
    `Deno.exit(await runGenCompose(${JSON.stringify(args)}));`,
  ]);
}

function clientNames(count: number): string[] {
  return Array.from({ length: count }, (_, index) => `client${index + 1}`);
}

for (const count of [0, 1, 5]) {
  Deno.test(`runGenCompose() writes a server and ${count} client(s) that differ only in command, mounts and identity`, async () => {
    // The course's unauthenticated layout; the keys are the next test's.
    const { code, out, stdout, stderr, compose } = await generate(count, ["--no-keys"]);
    assert.equal(code, 0);
    assert.deepEqual(stderr, []);
    const clients = count === 1 ? "1 client" : `${count} clients`;
    assert.deepEqual(stdout, [
      `gen-compose: wrote ${out} with server and ${clients} (mode lottery)`,
    ]);

    assert.equal(compose.name, "tp0");
    assert.deepEqual(Object.keys(compose.services), ["server", ...clientNames(count)]);
    assert.deepEqual(compose.networks, {
      testing_net: { ipam: { driver: "default", config: [{ subnet: "172.25.125.0/24" }] } },
    });
    // No volume: the bets live in the server's container, so `down` + `up` starts anew.
    assert.equal("volumes" in compose, false);

    for (const [name, service] of Object.entries(compose.services)) {
      assert.equal(service.container_name, name);
      assert.equal(service.image, "tp0:latest");
      assert.deepEqual(service.networks, ["testing_net"]);
      assert.equal(service.init, true);
      assert.equal("restart" in service, false, `${name} has a restart policy`);
    }

    const server = compose.services.server;
    assert.deepEqual(server.command, [
      "server",
      "--config",
      "/config/server.ini",
      "--storage",
      "/data/bets.csv",
    ]);
    // The server takes AGENCIES 1..65535: with no clients the ini value stands.
    assert.deepEqual(
      server.environment,
      count === 0 ? { WINNERS_DELAY: "1s" } : { AGENCIES: String(count), WINNERS_DELAY: "1s" },
    );
    assert.deepEqual(server.volumes, [
      {
        type: "bind",
        source: "./config/server.ini",
        target: "/config/server.ini",
        read_only: true,
        bind: { create_host_path: false },
      },
    ]);
    assert.equal(server.stop_grace_period, "10s");
    assert.equal(server.depends_on, undefined);
    assert.deepEqual(server.healthcheck, {
      test: ["CMD", "tp0", "validate-echo", "--address", "127.0.0.1:12345", "--timeout", "2s"],
      interval: "30s",
      timeout: "3s",
      retries: 3,
      start_period: "30s",
      start_interval: "500ms",
    });

    for (const [index, name] of clientNames(count).entries()) {
      const id = index + 1;
      const client = compose.services[name];
      assert.deepEqual(client.command, [
        "client",
        "--config",
        "/config/client.yaml",
        "--data",
        "/data/agency.csv",
      ]);
      assert.deepEqual(client.environment, { CLI_ID: String(id), CLI_MODE: "lottery" });
      assert.deepEqual(client.volumes, [
        {
          type: "bind",
          source: "./config/client.yaml",
          target: "/config/client.yaml",
          read_only: true,
          bind: { create_host_path: false },
        },
        {
          type: "bind",
          source: `./.data/agency-${id}.csv`,
          target: "/data/agency.csv",
          read_only: true,
          bind: { create_host_path: false },
        },
      ]);
      assert.deepEqual(client.depends_on, { server: { condition: "service_healthy" } });
      assert.equal(client.stop_grace_period, "5s");
      assert.equal(client.healthcheck, undefined);
    }
  });
}

Deno.test("runGenCompose() in echo mode gives clients no dataset and the echo mode", async () => {
  const { code, stdout, compose } = await generate(3, ["--mode", "echo"]);
  assert.equal(code, 0);
  assert.match(stdout[0], /with server and 3 clients \(mode echo\)$/);
  for (const [index, name] of clientNames(3).entries()) {
    const client = compose.services[name];
    assert.deepEqual(client.command, ["client", "--config", "/config/client.yaml"]);
    assert.deepEqual(client.environment, { CLI_ID: String(index + 1), CLI_MODE: "echo" });
    assert.deepEqual(client.volumes.map((volume) => volume.target), ["/config/client.yaml"]);
  }
});

Deno.test("runGenCompose() in bet mode puts the statement's bet in every client's environment", async () => {
  const { code, stdout, compose } = await generate(2, ["--mode", "bet"]);
  assert.equal(code, 0);
  assert.match(stdout[0], /with server and 2 clients \(mode bet\), a fresh key each in /);
  for (const [index, name] of clientNames(2).entries()) {
    const client = compose.services[name];
    assert.deepEqual(client.command, ["client", "--config", "/config/client.yaml"]);
    assert.deepEqual(client.environment, {
      CLI_ID: String(index + 1),
      CLI_MODE: "lottery",
      NOMBRE: "Santiago Lionel",
      APELLIDO: "Lorca",
      DOCUMENTO: "30904465",
      NACIMIENTO: "1999-03-17",
      NUMERO: "7574",
      CLI_KEY_PATH: "/keys/agency.key",
    });
    assert.deepEqual(client.volumes.map((volume) => volume.target), [
      "/config/client.yaml",
      "/keys/agency.key",
    ]);
  }
});

Deno.test("runGenCompose() writes a fresh key per agency, mode 640, and mounts each client its own only", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tp0_compose_test_" });
  try {
    const out = `${dir}/docker-compose-dev.yaml`;
    const read = async () => ({
      server: await Deno.readTextFile(`${dir}/.keys/agency-keys`),
      clients: await Promise.all(
        [1, 2, 3].map((id) => Deno.readTextFile(`${dir}/.keys/agency-${id}.key`)),
      ),
    });
    assert.equal(await runGenCompose([out, "3"], { stdout: () => {} }), 0);
    const first = await read();
    const lines = first.server.trimEnd().split("\n");
    assert.equal(lines.length, 3);
    for (const [i, line] of lines.entries()) {
      assert.match(line, /^[1-3]:[0-9a-f]{64}$/);
      assert.equal(line, `${i + 1}:${first.clients[i].trimEnd()}`);
    }
    assert.equal(new Set(first.clients).size, 3);
    for (const name of ["agency-keys", "agency-1.key"]) {
      assert.equal((await Deno.stat(`${dir}/.keys/${name}`)).mode! & 0o777, 0o640);
    }
    const compose = YAML.parse(await Deno.readTextFile(out)) as ComposeFile;
    const server = compose.services.server;
    assert.equal(server.environment?.AGENCY_KEYS_PATH, "/keys/agency-keys");
    assert.deepEqual(server.volumes.map((v) => [v.source, v.target, v.read_only]), [
      ["./config/server.ini", "/config/server.ini", true],
      ["./.keys/agency-keys", "/keys/agency-keys", true],
    ]);
    assert.deepEqual(server.group_add, [String(Deno.gid())]);
    for (const id of [1, 2, 3]) {
      const client = compose.services[`client${id}`];
      assert.equal(client.environment?.CLI_KEY_PATH, "/keys/agency.key");
      const keys = client.volumes.filter((v) => v.source.includes(".keys"));
      assert.deepEqual(keys.map((v) => [v.source, v.target, v.read_only]), [
        [`./.keys/agency-${id}.key`, "/keys/agency.key", true],
      ]);
      assert.deepEqual(client.group_add, [String(Deno.gid())]);
    }
    // Generated again: new keys.
    assert.equal(await runGenCompose([out, "3"], { stdout: () => {} }), 0);
    assert.notEqual((await read()).server, first.server);
    // Echo mode and --no-keys: no keys anywhere.
    for (const extra of [["--mode", "echo"], ["--no-keys"]]) {
      assert.equal(await runGenCompose([out, "2", ...extra], { stdout: () => {} }), 0);
      const text = await Deno.readTextFile(out);
      assert.ok(!/keys|KEY|group_add/.test(text.split("\n").slice(1).join("\n")), text);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runGenCompose() double-quotes every environment value (no YAML 1.1 dates or numbers)", async () => {
  const { text } = await generate(1, ["--mode", "bet"]);
  for (const line of ['NACIMIENTO: "1999-03-17"', 'NUMERO: "7574"', 'NOMBRE: "Santiago Lionel"']) {
    assert.ok(text.includes(line), `${line} in:\n${text}`);
  }
});

Deno.test("runGenCompose() --winners-delay sets the server's WINNERS_DELAY", async () => {
  const { code, compose } = await generate(2, ["--winners-delay", "250ms"]);
  assert.equal(code, 0);
  assert.equal(compose.services.server.environment?.WINNERS_DELAY, "250ms");
});

Deno.test("runGenCompose() --bet sets the bet of bet mode", async () => {
  const { code, compose } = await generate(1, [
    "--mode",
    "bet",
    "--bet",
    "Ana María,Núñez,123,2001-02-03,42",
  ]);
  assert.equal(code, 0);
  const env = compose.services.client1.environment!;
  assert.deepEqual(
    [env.NOMBRE, env.APELLIDO, env.DOCUMENTO, env.NACIMIENTO, env.NUMERO],
    ["Ana María", "Núñez", "123", "2001-02-03", "42"],
  );
});

Deno.test("runGenCompose() mounts the config files it is given, relative to the Compose file", async () => {
  const { code, compose, text } = await generate(2, [
    "--server-config",
    "server/config.ini",
    "--client-config",
    "/etc/tp0/client.yaml",
  ]);
  assert.equal(code, 0);
  assert.deepEqual(compose.services.server.volumes.map((v) => [v.source, v.target]), [
    ["./server/config.ini", "/config/server.ini"],
    ["./.keys/agency-keys", "/keys/agency-keys"],
  ]);
  for (const name of clientNames(2)) {
    assert.deepEqual(compose.services[name].volumes[0].source, "/etc/tp0/client.yaml");
  }
  assert.match(
    text,
    /--server-config server\/config\.ini --client-config \/etc\/tp0\/client\.yaml/,
  );
});

Deno.test("runGenCompose() puts the --image on every service", async () => {
  const { code, compose } = await generate(2, ["--image", "registry.local/tp0:1.0"]);
  assert.equal(code, 0);
  for (const service of Object.values(compose.services)) {
    assert.equal(service.image, "registry.local/tp0:1.0");
  }
});

Deno.test("runGenCompose() writes YAML with environment values as strings and a header comment", async () => {
  const { text } = await generate(1);
  assert.match(text, /^# Generated by: tp0 gen-compose /);
  assert.match(text, /AGENCIES: "1"/);
  assert.match(text, /CLI_ID: "1"/);
  assert.match(text, /command: \[server, --config, \/config\/server\.ini, --storage/);
});

Deno.test("runGenCompose() exits 1 with one line on stderr when the file cannot be written", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tp0_compose_test_" });
  try {
    const out = `${dir}/missing/docker-compose-dev.yaml`;
    const stdout: string[] = [];
    const stderr: string[] = [];
    const code = await runGenCompose([out, "2"], {
      stdout: (line) => stdout.push(line),
      stderr: (line) => stderr.push(line),
    });
    assert.equal(code, 1);
    assert.deepEqual(stdout, []);
    assert.equal(stderr.length, 1);
    assert.match(
      stderr[0],
      /^tp0: Cannot write Compose file ".*missing\/docker-compose-dev\.yaml": /,
    );
    assert.doesNotMatch(stderr[0], /\n/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const BAD_ARGUMENTS: { args: string[]; reason: string }[] = [
  { args: [], reason: "Missing argument: <out.yaml> (the Compose file to write)" },
  { args: ["OUT"], reason: "Missing argument: <N> (the number of clients)" },
  { args: ["OUT", "-1"], reason: 'Invalid number of clients: "-1" (expected an integer 0..1000)' },
  {
    args: ["OUT", "abc"],
    reason: 'Invalid number of clients: "abc" (expected an integer 0..1000)',
  },
  {
    args: ["OUT", "1001"],
    reason: 'Invalid number of clients: "1001" (expected an integer 0..1000)',
  },
  {
    args: ["OUT", "2.5"],
    reason: 'Invalid number of clients: "2.5" (expected an integer 0..1000)',
  },
  {
    args: ["OUT", "5", "--mode", "bogus"],
    reason: 'Invalid mode: "bogus" (expected echo, bet or lottery)',
  },
  {
    args: ["OUT", "5", "--bet", "A,B,1,2000-01-01,7"],
    reason: "--bet goes with --mode bet (the mode is lottery)",
  },
  {
    args: ["OUT", "5", "--mode", "bet", "--bet", "A,B,1,2000-01-01"],
    reason:
      'Invalid --bet: "A,B,1,2000-01-01" (expected Nombre,Apellido,Documento,Nacimiento,Numero)',
  },
  {
    args: ["OUT", "5", "--mode", "bet", "--bet", "A,B,12x,2000-01-01,7"],
    reason: 'Invalid --bet: Invalid document: "12x" (expected 1-10 digits)',
  },
  {
    args: ["OUT", "5", "--winners-delay", "soon"],
    reason: 'Invalid --winners-delay: "soon" (expected a Go duration >= 0, like 0s, 1s)',
  },
  {
    args: ["OUT", "5", "--server-config", ""],
    reason: 'Invalid server config path: "" (expected a file path)',
  },
  { args: ["OUT", "5", "--bogus"], reason: "Unknown option '--bogus'" },
  { args: ["OUT", "5", "extra"], reason: 'Unexpected argument: "extra"' },
];

Deno.test("runGenCompose() rejects bad arguments with exit 2, one reason and usage on stderr, and writes nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tp0_compose_test_" });
  try {
    const out = `${dir}/docker-compose-dev.yaml`;
    const results = await Promise.all(
      BAD_ARGUMENTS.map(({ args }) => runChild(args.map((arg) => arg === "OUT" ? out : arg))),
    );
    for (const [index, { args, reason }] of BAD_ARGUMENTS.entries()) {
      const result = results[index];
      const label = JSON.stringify(args);
      assert.equal(result.code, 2, label);
      assert.equal(result.stdout, "", label);
      const lines = result.stderr.split("\n");
      assert.equal(lines[0], `tp0: ${reason}`, label);
      assert.equal(lines[1], "", label);
      assert.match(lines[2], /^Usage: tp0 gen-compose /, label);
    }
    await assert.rejects(Deno.stat(out), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runGenCompose() prints usage on stdout and exits 0 for --help and -h", async () => {
  for (const flag of ["--help", "-h"]) {
    const stdout: string[] = [];
    assert.equal(await runGenCompose([flag], { stdout: (line) => stdout.push(line) }), 0);
    assert.match(stdout.join("\n"), /^Usage: tp0 gen-compose <out\.yaml> <N>/);
  }
});

Deno.test("generateCompose() rejects counts outside 0..1000, a bad mode, image or port", () => {
  for (const count of [-1, 1001, 2.5, NaN]) {
    assert.throws(() => generateCompose(count), RangeError, String(count));
  }
  // @ts-expect-error: a mode a JavaScript caller could still pass
  assert.throws(() => generateCompose(1, { mode: "bogus" }), RangeError);
  assert.throws(() => generateCompose(1, { image: "" }), RangeError);
  assert.throws(() => generateCompose(1, { port: 0 }), RangeError);
});

Deno.test("generateCompose() probes the server on the given port", () => {
  const compose = generateCompose(0, { port: 5000 });
  assert.deepEqual(Object.keys(compose.services), ["server"]);
  assert.ok(compose.services.server.healthcheck?.test.includes("127.0.0.1:5000"));
});

Deno.test("composeToYaml() output parses back to the same object", () => {
  const compose = generateCompose(3, { mode: "echo", image: "tp0:dev" });
  assert.deepEqual(YAML.parse(composeToYaml(compose, { comment: ["a", "b"] })), compose);
});

Deno.test("tp0 gen-compose writes the file when run as a user runs it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tp0_compose_test_" });
  try {
    const out = `${dir}/docker-compose-dev.yaml`;
    const { code, stdout, stderr } = await runDeno([
      ...["run", ...DENO_RUN_FLAGS, MAIN_TS],
      ...["gen-compose", out, "5", "--mode", "echo"],
    ]);
    assert.equal(code, 0, stderr);
    assert.equal(stdout, `gen-compose: wrote ${out} with server and 5 clients (mode echo)\n`);
    const compose = YAML.parse(await Deno.readTextFile(out)) as ComposeFile;
    assert.deepEqual(Object.keys(compose.services), ["server", ...clientNames(5)]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runGenCompose() --servers 3: a postgres service and server1..3 behind the alias server, clients unchanged", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tp0_compose_test_" });
  try {
    const out = `${dir}/docker-compose-dev.yaml`;
    const stdout: string[] = [];
    const args = [out, "5", "--servers", "3", "--postgres-image", "tp0/postgres:offline"];
    assert.equal(await runGenCompose(args, { stdout: (l) => stdout.push(l) }), 0);
    assert.match(stdout[0], /with 3 server replicas on postgres \(tp0\/postgres:offline/);
    const text = await Deno.readTextFile(out);
    assert.match(text, /--servers 3 --postgres-image tp0\/postgres:offline/);
    const compose = YAML.parse(text) as ComposeFile;
    assert.deepEqual(Object.keys(compose.services), [
      "postgres",
      "server1",
      "server2",
      "server3",
      ...clientNames(5),
    ]);
    const postgres = compose.services.postgres;
    assert.equal(postgres.image, "tp0/postgres:offline");
    assert.equal(postgres.command, undefined, "the image's own entrypoint and command");
    assert.deepEqual(postgres.environment, {
      POSTGRES_USER: "tp0",
      POSTGRES_DB: "tp0",
      PGDATA: "/var/lib/postgresql/tp0",
    });
    assert.deepEqual(postgres.env_file, ["./.keys/postgres.env"]);
    // No volume: the database lives in its container, a fresh lottery per `up`.
    assert.deepEqual(postgres.volumes, []);
    assert.deepEqual(postgres.healthcheck?.test, [
      "CMD",
      "pg_isready",
      "-h",
      "127.0.0.1",
      "-U",
      "tp0",
      "-d",
      "tp0",
      "-q",
    ]);
    assert.equal(text.includes("\nvolumes:"), false);
    const password = (await Deno.readTextFile(`${dir}/.keys/store-password`)).trim();
    assert.match(password, /^[0-9a-f]{64}$/);
    assert.equal(
      await Deno.readTextFile(`${dir}/.keys/postgres.env`),
      `POSTGRES_PASSWORD=${password}\n`,
    );
    assert.equal((await Deno.stat(`${dir}/.keys/store-password`)).mode! & 0o777, 0o640);
    assert.equal(text.includes(password), false, "the password is not in the Compose file");
    for (const r of [1, 2, 3]) {
      const server = compose.services[`server${r}`];
      assert.equal(server.container_name, `server${r}`);
      assert.equal(server.image, "tp0:latest");
      assert.deepEqual(server.command, [
        "server",
        "--config",
        "/config/server.ini",
        "--store",
        "postgres://tp0@postgres:5432/tp0",
      ]);
      assert.equal(server.environment?.AGENCIES, "5");
      assert.equal(server.environment?.REPLICA_NAME, `server${r}`);
      assert.equal(server.environment?.STORE_PASSWORD_FILE, "/run/secrets/store-password");
      assert.equal(server.environment?.AGENCY_KEYS_PATH, "/keys/agency-keys");
      assert.deepEqual(server.networks, { testing_net: { aliases: ["server"] } });
      assert.deepEqual(server.depends_on, { postgres: { condition: "service_healthy" } });
      assert.deepEqual(server.volumes.map((v) => [v.source, v.target, v.read_only]), [
        ["./config/server.ini", "/config/server.ini", true],
        ["./.keys/store-password", "/run/secrets/store-password", true],
        ["./.keys/agency-keys", "/keys/agency-keys", true],
      ]);
      assert.deepEqual(server.group_add, [String(Deno.gid())]);
      assert.deepEqual(server.healthcheck?.test, [
        "CMD",
        "tp0",
        "validate-echo",
        "--address",
        "127.0.0.1:12345",
        "--timeout",
        "2s",
      ]);
    }
    for (const name of clientNames(5)) {
      const client = compose.services[name];
      assert.deepEqual(client.networks, ["testing_net"]);
      assert.deepEqual(client.depends_on, {
        server1: { condition: "service_healthy" },
        server2: { condition: "service_healthy" },
        server3: { condition: "service_healthy" },
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runGenCompose() --servers 1 (or none) writes today's file; postgres:16 is the default image", async () => {
  const plain = await generate(3, ["--no-keys"]);
  const one = await generate(3, ["--no-keys", "--servers", "1"]);
  assert.deepEqual(one.compose, plain.compose);
  const two = await generate(3, ["--no-keys", "--servers", "2"]);
  assert.equal(two.compose.services.postgres.image, "postgres:16");
  assert.deepEqual(Object.keys(two.compose.services).slice(0, 3), [
    "postgres",
    "server1",
    "server2",
  ]);
});

Deno.test("runGenCompose() --servers and --postgres-image: bad values are usage errors, nothing written", async () => {
  for (
    const [args, reason] of [
      [["--servers", "0"], /Invalid --servers: "0" \(expected an integer 1\.\.16\)/],
      [["--servers", "17"], /Invalid --servers: "17"/],
      [["--servers", "x"], /Invalid --servers: "x"/],
      [["--postgres-image", "postgres:16"], /--postgres-image goes with --servers K/],
      [["--servers", "3", "--postgres-image", "a b"], /Invalid postgres image/],
    ] as const
  ) {
    const dir = await Deno.makeTempDir({ prefix: "tp0_compose_test_" });
    try {
      const { code, stderr } = await runChild([`${dir}/c.yaml`, "2", ...args]);
      assert.equal(code, 2, args.join(" "));
      assert.match(stderr, reason);
      await assert.rejects(Deno.stat(`${dir}/c.yaml`));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});
