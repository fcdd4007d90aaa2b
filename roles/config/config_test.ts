import assert from "node:assert/strict";
import {
  type ClientConfig,
  type ClientOptions,
  ConfigError,
  describeClientConfig,
  describeServerConfig,
  loadClientConfig,
  loadServerConfig,
  type ServerConfig,
  type ServerOptions,
} from "./mod.ts";
import { formatEvent } from "../log.ts";

const SHIPPED_SERVER_INI = new URL("../../config/server.ini", import.meta.url).pathname;
const SHIPPED_CLIENT_YAML = new URL("../../config/client.yaml", import.meta.url).pathname;

/** Runs `body` with a temp file holding `text`, removed afterwards. */
async function withFile(
  name: string,
  text: string,
  body: (path: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tp0_config_test_" });
  try {
    const path = `${dir}/${name}`;
    await Deno.writeTextFile(path, text);
    await body(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs `body` in an empty temp directory (so the default config path is missing). */
async function inEmptyDir(body: () => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tp0_config_test_" });
  const cwd = Deno.cwd();
  try {
    Deno.chdir(dir);
    await body();
  } finally {
    Deno.chdir(cwd);
    await Deno.remove(dir, { recursive: true });
  }
}

async function serverError(options: ServerOptions): Promise<string> {
  const error = await loadServerConfig(options).then(
    () => assert.fail("expected a ConfigError"),
    (error: unknown) => error,
  );
  assert.ok(error instanceof ConfigError, String(error));
  assert.equal(error.name, "ConfigError");
  assert.ok(!error.message.includes("\n"), "the message is one line");
  return error.message;
}

async function clientError(options: ClientOptions): Promise<string> {
  const error = await loadClientConfig(options).then(
    () => assert.fail("expected a ConfigError"),
    (error: unknown) => error,
  );
  assert.ok(error instanceof ConfigError, String(error));
  assert.equal(error.name, "ConfigError");
  assert.ok(!error.message.includes("\n"), "the message is one line");
  return error.message;
}

// ---------------------------------------------------------------------------
// Server

Deno.test("loadServerConfig() uses the defaults when the default file is missing", async () => {
  await inEmptyDir(async () => {
    assert.deepEqual(
      await loadServerConfig({ env: {} }),
      {
        configPath: "config/server.ini",
        port: 12345,
        listenBacklog: 5,
        loggingLevel: "INFO",
        agencies: 5,
        storagePath: "./bets.csv",
        host: "0.0.0.0",
        readTimeout: "10s",
        readTimeoutMs: 10_000,
        idleTimeout: "60s",
        idleTimeoutMs: 60_000,
        maxConnections: 256,
        serverIp: "server",
        winnersDelay: "0s",
        winnersDelayMs: 0,
        agencyKeysPath: "",
        authTimeout: "5s",
        authTimeoutMs: 5000,
        maxHandshakes: 128,
        storeUrl: "",
        storePasswordFile: "",
        storeDeadline: "30s",
        storeDeadlineMs: 30_000,
        replicaName: "",
      } satisfies ServerConfig,
    );
  });
});

Deno.test("the shipped config/server.ini holds the documented defaults", async () => {
  assert.deepEqual(await loadServerConfig({ configPath: SHIPPED_SERVER_INI, env: {} }), {
    configPath: SHIPPED_SERVER_INI,
    port: 12345,
    listenBacklog: 5,
    loggingLevel: "INFO",
    agencies: 5,
    storagePath: "./bets.csv",
    host: "0.0.0.0",
    readTimeout: "10s",
    readTimeoutMs: 10_000,
    idleTimeout: "60s",
    idleTimeoutMs: 60_000,
    maxConnections: 256,
    serverIp: "server",
    winnersDelay: "0s",
    winnersDelayMs: 0,
    agencyKeysPath: "",
    authTimeout: "5s",
    authTimeoutMs: 5000,
    maxHandshakes: 128,
    storeUrl: "",
    storePasswordFile: "",
    storeDeadline: "30s",
    storeDeadlineMs: 30_000,
    replicaName: "",
  });
});

Deno.test("loadServerConfig(): flag beats environment beats file beats default, per key", async () => {
  const fields = [
    { flag: "port", key: "SERVER_PORT", values: ["1001", "1002", "1003"], prop: "port" },
    {
      flag: "listenBacklog",
      key: "SERVER_LISTEN_BACKLOG",
      values: ["11", "12", "13"],
      prop: "listenBacklog",
    },
    {
      flag: "loggingLevel",
      key: "LOGGING_LEVEL",
      values: ["ERROR", "WARNING", "DEBUG"],
      prop: "loggingLevel",
    },
    { flag: "agencies", key: "AGENCIES", values: ["21", "22", "23"], prop: "agencies" },
    {
      flag: "storagePath",
      key: "STORAGE_PATH",
      values: ["/f.csv", "/e.csv", "/d.csv"],
      prop: "storagePath",
    },
    { flag: "host", key: "SERVER_HOST", values: ["10.0.0.1", "10.0.0.2", "::1"], prop: "host" },
    {
      flag: "readTimeout",
      key: "READ_TIMEOUT",
      values: ["100ms", "2s", "1m"],
      prop: "readTimeout",
    },
    {
      flag: "idleTimeout",
      key: "IDLE_TIMEOUT",
      values: ["1s", "90s", "5m"],
      prop: "idleTimeout",
    },
    {
      flag: "maxConnections",
      key: "MAX_CONNECTIONS",
      values: ["1", "300", "65535"],
      prop: "maxConnections",
    },
    {
      flag: "serverIp",
      key: "SERVER_IP",
      values: ["lotto", "10.0.0.9", "server"],
      prop: "serverIp",
    },
    {
      flag: "winnersDelay",
      key: "WINNERS_DELAY",
      values: ["1s", "250ms", "0s"],
      prop: "winnersDelay",
    },
  ] as const;
  for (const { flag, key, values: [fromFlag, fromEnv, fromFile], prop } of fields) {
    await withFile("server.ini", `[DEFAULT]\n${key} = ${fromFile}\n`, async (configPath) => {
      const expect = (value: string) =>
        prop === "loggingLevel" || prop === "storagePath" || prop === "host" ||
          prop === "readTimeout" || prop === "idleTimeout" || prop === "serverIp" ||
          prop === "winnersDelay"
          ? value
          : Number(value);
      const flags = { [flag]: fromFlag };
      const env = { [key]: fromEnv };
      assert.equal((await loadServerConfig({ configPath, env, flags }))[prop], expect(fromFlag));
      assert.equal((await loadServerConfig({ configPath, env }))[prop], expect(fromEnv));
      assert.equal((await loadServerConfig({ configPath, env: {} }))[prop], expect(fromFile));
    });
  }
});

Deno.test("loadServerConfig() reads keys under [DEFAULT] and bare keys, in any case", async () => {
  const ini = "; comment\nserver_port = 2000\n# another\n[DEFAULT]\nAgencies = 3\n";
  await withFile("server.ini", ini, async (configPath) => {
    const config = await loadServerConfig({ configPath, env: {} });
    assert.equal(config.port, 2000);
    assert.equal(config.agencies, 3);
    assert.equal(config.listenBacklog, 5);
  });
});

/** The course's server/config.ini (its base repository), byte for byte. */
const COURSE_SERVER_INI =
  "[DEFAULT]\nserver_port = 12345\nserver_ip = server\nserver_listen_backlog = 5\nlogging_level=INFO\n";

Deno.test("loadServerConfig() accepts the course's config.ini byte for byte, and in upper case", async () => {
  for (
    const text of [
      COURSE_SERVER_INI,
      COURSE_SERVER_INI.toUpperCase().replace("= SERVER\n", "= server\n"),
    ]
  ) {
    await withFile("config.ini", text, async (configPath) => {
      const config = await loadServerConfig({ configPath, env: {} });
      assert.equal(config.port, 12345);
      assert.equal(config.serverIp, "server");
      assert.equal(config.listenBacklog, 5);
      assert.equal(config.loggingLevel, "INFO");
      const overridden = await loadServerConfig({ configPath, env: { SERVER_IP: "10.1.2.3" } });
      assert.equal(overridden.serverIp, "10.1.2.3");
      assert.equal(overridden.host, "0.0.0.0", "SERVER_IP does not change where it listens");
    });
  }
});

Deno.test("loadServerConfig() treats an empty environment variable as unset", async () => {
  await withFile("server.ini", "[DEFAULT]\nSERVER_PORT = 2000\n", async (configPath) => {
    const config = await loadServerConfig({ configPath, env: { SERVER_PORT: "" } });
    assert.equal(config.port, 2000);
  });
});

Deno.test("loadServerConfig() accepts port 0 (any free port)", async () => {
  const config = await loadServerConfig({
    configPath: SHIPPED_SERVER_INI,
    env: { SERVER_PORT: "0" },
  });
  assert.equal(config.port, 0);
});

Deno.test("loadServerConfig() names the key the bad value came from", async () => {
  await withFile("server.ini", "[DEFAULT]\nSERVER_PORT = 70000\n", async (configPath) => {
    assert.equal(
      await serverError({ configPath, env: {} }),
      'Invalid SERVER_PORT: "70000" (expected an integer 0..65535)',
    );
  });
  assert.equal(
    await serverError({ configPath: SHIPPED_SERVER_INI, env: { SERVER_PORT: "12a" } }),
    'Invalid SERVER_PORT: "12a" (expected an integer 0..65535)',
  );
  assert.equal(
    await serverError({ configPath: SHIPPED_SERVER_INI, env: {}, flags: { port: "-1" } }),
    'Invalid --port: "-1" (expected an integer 0..65535)',
  );
  assert.equal(
    await serverError({ configPath: SHIPPED_SERVER_INI, env: { LOGGING_LEVEL: "LOUD" } }),
    'Invalid LOGGING_LEVEL: "LOUD" (expected DEBUG, INFO, WARNING, ERROR or CRITICAL)',
  );
});

Deno.test("loadServerConfig() rejects every out-of-range or malformed value", async () => {
  const cases: [ServerOptions["flags"], string][] = [
    [{ listenBacklog: "0" }, 'Invalid --listen-backlog: "0" (expected an integer 1..65535)'],
    [{ agencies: "0" }, 'Invalid --agencies: "0" (expected an integer 1..65535)'],
    [{ agencies: "65536" }, 'Invalid --agencies: "65536" (expected an integer 1..65535)'],
    [{ agencies: "1.5" }, 'Invalid --agencies: "1.5" (expected an integer 1..65535)'],
    [{ agencies: " 5" }, 'Invalid --agencies: " 5" (expected an integer 1..65535)'],
    [{ storagePath: "" }, 'Invalid --storage: "" (expected a non-empty path)'],
    [{ host: "" }, 'Invalid --host: "" (expected a host name or IP address)'],
    [{ host: "a b" }, 'Invalid --host: "a b" (expected a host name or IP address)'],
    [
      { readTimeout: "0" },
      'Invalid --read-timeout: "0" (expected a Go duration > 0 and <= 24h, like 500ms, 10s, 1m)',
    ],
    [
      { readTimeout: "10" },
      'Invalid --read-timeout: "10" (expected a Go duration > 0 and <= 24h, like 500ms, 10s, 1m)',
    ],
    [
      { idleTimeout: "25h" },
      'Invalid --idle-timeout: "25h" (expected a Go duration > 0 and <= 24h, like 30s, 1m, 5m)',
    ],
    [{ maxConnections: "0" }, 'Invalid --max-connections: "0" (expected an integer 1..65535)'],
  ];
  for (const [flags, message] of cases) {
    assert.equal(await serverError({ configPath: SHIPPED_SERVER_INI, env: {}, flags }), message);
  }
});

Deno.test("loadServerConfig() names every bad value in one error", async () => {
  await withFile(
    "server.ini",
    "[DEFAULT]\nSERVER_PORT = 70000\nAGENCIES = none\n",
    async (configPath) => {
      assert.equal(
        await serverError({ configPath, env: { LOGGING_LEVEL: "LOUD" } }),
        'Invalid SERVER_PORT: "70000" (expected an integer 0..65535); ' +
          'Invalid LOGGING_LEVEL: "LOUD" (expected DEBUG, INFO, WARNING, ERROR or CRITICAL); ' +
          'Invalid AGENCIES: "none" (expected an integer 1..65535)',
      );
    },
  );
});

Deno.test("loadServerConfig() rejects an unknown key, suggesting the closest one", async () => {
  await withFile("server.ini", "[DEFAULT]\nSERVER_PROT = 1\n", async (configPath) => {
    assert.equal(
      await serverError({ configPath, env: {} }),
      `Unknown key in ${configPath}: SERVER_PROT (did you mean SERVER_PORT?)`,
    );
  });
  await withFile("server.ini", "PORT = 1\n", async (configPath) => {
    assert.equal(
      await serverError({ configPath, env: {} }),
      `Unknown key in ${configPath}: PORT (did you mean SERVER_PORT?)`,
    );
  });
  await withFile("server.ini", "COLOR = blue\n", async (configPath) => {
    assert.equal(
      await serverError({ configPath, env: {} }),
      `Unknown key in ${configPath}: COLOR (expected one of SERVER_PORT, ` +
        "SERVER_LISTEN_BACKLOG, LOGGING_LEVEL, AGENCIES, STORAGE_PATH, SERVER_HOST, " +
        "READ_TIMEOUT, IDLE_TIMEOUT, MAX_CONNECTIONS, SERVER_IP, WINNERS_DELAY, " +
        "AGENCY_KEYS_PATH, AUTH_TIMEOUT, MAX_HANDSHAKES, STORE_URL, STORE_PASSWORD_FILE, STORE_DEADLINE, REPLICA_NAME)",
    );
  });
});

Deno.test("loadServerConfig() rejects an unknown section and a duplicate key", async () => {
  const ini = "[DEFAULT]\nSERVER_PORT = 1\nserver_port = 2\n[server]\nSERVER_PORT = 3\n";
  await withFile("server.ini", ini, async (configPath) => {
    assert.equal(
      await serverError({ configPath, env: {} }),
      `Duplicate key in ${configPath}: SERVER_PORT (lines 2 and 3); ` +
        `Unknown section in ${configPath}: [server] (expected [DEFAULT])`,
    );
  });
});

Deno.test("loadServerConfig() rejects a malformed INI file naming the line", async () => {
  await withFile("server.ini", "[DEFAULT]\nSERVER_PORT 12345\n", async (configPath) => {
    assert.equal(
      await serverError({ configPath, env: {} }),
      `Cannot parse ${configPath}: line 2 (expected KEY = value)`,
    );
  });
  await withFile("server.ini", "\n[DEFAULT\nSERVER_PORT = 1\n", async (configPath) => {
    assert.equal(
      await serverError({ configPath, env: {} }),
      `Cannot parse ${configPath}: line 2 (expected [DEFAULT] or KEY = value)`,
    );
  });
});

Deno.test("loadServerConfig() rejects a missing file given explicitly", async () => {
  await inEmptyDir(async () => {
    assert.equal(
      await serverError({ configPath: "x.ini", env: {} }),
      'Config file not found: "x.ini"',
    );
    assert.equal(
      await serverError({ configPath: "config/server.ini", env: {} }),
      'Config file not found: "config/server.ini"',
    );
  });
});

Deno.test("loadServerConfig() reports a config path that cannot be read", async () => {
  await inEmptyDir(async () => {
    await Deno.mkdir("dir.ini");
    const message = await serverError({ configPath: "dir.ini", env: {} });
    assert.match(message, /^Cannot read config file "dir\.ini": /);
  });
});

Deno.test("describeServerConfig() lists the startup fields in order, as configured", async () => {
  const config = await loadServerConfig({
    configPath: SHIPPED_SERVER_INI,
    env: { LOGGING_LEVEL: "debug" },
  });
  assert.deepEqual(Object.entries(describeServerConfig(config)), [
    ["port", 12345],
    ["listen_backlog", 5],
    ["logging_level", "DEBUG"],
    ["agencies", 5],
    ["storage_path", "./bets.csv"],
    ["read_timeout", "10s"],
    ["idle_timeout", "60s"],
    ["max_connections", 256],
    ["host", "0.0.0.0"],
    ["server_ip", "server"],
    ["winners_delay", "0s"],
    ["agency_keys", "none"],
    ["auth_timeout", "5s"],
    ["max_handshakes", 128],
  ]);
});

// ---------------------------------------------------------------------------
// Client

Deno.test("loadClientConfig() uses the defaults when the default file is missing", async () => {
  await inEmptyDir(async () => {
    assert.deepEqual(
      await loadClientConfig({ env: { CLI_ID: "3" } }),
      {
        configPath: "config/client.yaml",
        id: 3,
        serverAddress: "server:12345",
        loopAmount: 5,
        loopPeriod: "5s",
        loopPeriodMs: 5000,
        logLevel: "INFO",
        batchMaxAmount: 8192,
        mode: "lottery",
        dataPath: ".data/agency-3.csv",
        connectDeadline: "30s",
        connectDeadlineMs: 30_000,
        keyPath: "",
      } satisfies ClientConfig,
    );
  });
});

Deno.test("the shipped config/client.yaml holds the documented defaults", async () => {
  const config = await loadClientConfig({
    configPath: SHIPPED_CLIENT_YAML,
    flags: { id: "1" },
    env: {},
  });
  assert.deepEqual(config, {
    configPath: SHIPPED_CLIENT_YAML,
    id: 1,
    serverAddress: "server:12345",
    loopAmount: 5,
    loopPeriod: "5s",
    loopPeriodMs: 5000,
    logLevel: "INFO",
    batchMaxAmount: 8192,
    mode: "lottery",
    dataPath: ".data/agency-1.csv",
    connectDeadline: "30s",
    connectDeadlineMs: 30_000,
    keyPath: "",
  });
});

Deno.test("loadClientConfig(): flag beats environment beats file beats default, per key", async () => {
  const fields = [
    {
      flag: "serverAddress",
      env: "CLI_SERVER_ADDRESS",
      yaml: (v: string) => `server:\n  address: "${v}"\n`,
      values: ["a:1", "b:2", "c:3"],
      prop: "serverAddress",
    },
    {
      flag: "loopAmount",
      env: "CLI_LOOP_AMOUNT",
      yaml: (v: string) => `loop:\n  amount: ${v}\n`,
      values: ["0", "7", "9"],
      prop: "loopAmount",
    },
    {
      flag: "loopPeriod",
      env: "CLI_LOOP_PERIOD",
      yaml: (v: string) => `loop:\n  period: ${v}\n`,
      values: ["100ms", "1m30s", "2s"],
      prop: "loopPeriod",
    },
    {
      flag: "logLevel",
      env: "CLI_LOG_LEVEL",
      yaml: (v: string) => `log:\n  level: ${v}\n`,
      values: ["DEBUG", "WARNING", "ERROR"],
      prop: "logLevel",
    },
    {
      flag: "batchMaxAmount",
      env: "CLI_BATCH_MAXAMOUNT",
      yaml: (v: string) => `batch:\n  maxAmount: ${v}\n`,
      values: ["1", "8192", "50"],
      prop: "batchMaxAmount",
    },
    {
      flag: "mode",
      env: "CLI_MODE",
      yaml: (v: string) => `mode: ${v}\n`,
      values: ["echo", "lottery", "echo"],
      prop: "mode",
    },
    {
      flag: "dataPath",
      env: "CLI_DATA_PATH",
      yaml: (v: string) => `data:\n  path: ${v}\n`,
      values: ["/f.csv", "/e.csv", "/d.csv"],
      prop: "dataPath",
    },
    {
      flag: "connectDeadline",
      env: "CLI_CONNECT_DEADLINE",
      yaml: (v: string) => `connect:\n  deadline: ${v}\n`,
      values: ["0", "500ms", "2m"],
      prop: "connectDeadline",
    },
  ] as const;
  for (const { flag, env: name, yaml, values: [fromFlag, fromEnv, fromFile], prop } of fields) {
    await withFile("client.yaml", yaml(fromFile), async (configPath) => {
      const expect = (value: string) =>
        prop === "loopAmount" || prop === "batchMaxAmount" ? Number(value) : value;
      const flags = { id: "1", [flag]: fromFlag };
      const env = { [name]: fromEnv };
      assert.equal((await loadClientConfig({ configPath, env, flags }))[prop], expect(fromFlag));
      assert.equal(
        (await loadClientConfig({ configPath, env, flags: { id: "1" } }))[prop],
        expect(fromEnv),
      );
      assert.equal(
        (await loadClientConfig({ configPath, env: {}, flags: { id: "1" } }))[prop],
        expect(fromFile),
      );
    });
  }
});

Deno.test("loadClientConfig() takes the id from --id over CLI_ID", async () => {
  const options = { configPath: SHIPPED_CLIENT_YAML, env: { CLI_ID: "2" } };
  assert.equal((await loadClientConfig(options)).id, 2);
  assert.equal((await loadClientConfig({ ...options, flags: { id: "4" } })).id, 4);
});

Deno.test("loadClientConfig() requires a client id", async () => {
  assert.equal(
    await clientError({ configPath: SHIPPED_CLIENT_YAML, env: {} }),
    "Missing client id: set --id or CLI_ID (expected an integer 1..65535)",
  );
  assert.equal(
    await clientError({ configPath: SHIPPED_CLIENT_YAML, env: { CLI_ID: "0" } }),
    'Invalid CLI_ID: "0" (expected an integer 1..65535)',
  );
  assert.equal(
    await clientError({ configPath: SHIPPED_CLIENT_YAML, env: {}, flags: { id: "x" } }),
    'Invalid --id: "x" (expected an integer 1..65535)',
  );
});

Deno.test("loadClientConfig() keeps connect.deadline as written; 0 is one attempt, negatives are refused", async () => {
  const base = { configPath: SHIPPED_CLIENT_YAML, env: {} };
  const config = await loadClientConfig({ ...base, flags: { id: "1", connectDeadline: "1.5s" } });
  assert.equal(config.connectDeadline, "1.5s");
  assert.equal(config.connectDeadlineMs, 1500);
  const zero = await loadClientConfig({ ...base, flags: { id: "1", connectDeadline: "0" } });
  assert.equal(zero.connectDeadlineMs, 0);
  assert.equal(
    await clientError({ ...base, env: { CLI_ID: "1", CLI_CONNECT_DEADLINE: "-1s" } }),
    'Invalid CLI_CONNECT_DEADLINE: "-1s" (expected a Go duration >= 0 and <= 24h, like 500ms, ' +
      "30s, 2m)",
  );
});

Deno.test("loadServerConfig() keeps the timeouts as written and in milliseconds", async () => {
  const config = await loadServerConfig({
    configPath: SHIPPED_SERVER_INI,
    env: { READ_TIMEOUT: "1.5s" },
    flags: { idleTimeout: "2m" },
  });
  assert.equal(config.readTimeout, "1.5s");
  assert.equal(config.readTimeoutMs, 1500);
  assert.equal(config.idleTimeout, "2m");
  assert.equal(config.idleTimeoutMs, 120_000);
});

Deno.test("loadClientConfig() keeps the period as written and normalises level and mode", async () => {
  const yaml = "loop:\n  period: 100ms\nlog:\n  level: debug\nmode: Echo\n";
  await withFile("client.yaml", yaml, async (configPath) => {
    const config = await loadClientConfig({ configPath, env: { CLI_ID: "1" } });
    assert.equal(config.loopPeriod, "100ms");
    assert.equal(config.loopPeriodMs, 100);
    assert.equal(config.logLevel, "DEBUG");
    assert.equal(config.mode, "echo");
  });
});

Deno.test("loadClientConfig() reads dotted and differently-cased keys", async () => {
  const yaml = "loop.amount: 3\nBATCH:\n  maxamount: 7\n";
  await withFile("client.yaml", yaml, async (configPath) => {
    const config = await loadClientConfig({ configPath, env: { CLI_ID: "1" } });
    assert.equal(config.loopAmount, 3);
    assert.equal(config.batchMaxAmount, 7);
  });
});

Deno.test("loadClientConfig() accepts an empty file and an empty section", async () => {
  for (const yaml of ["", "# nothing\n", "loop:\n  # amount: 9\n"]) {
    await withFile("client.yaml", yaml, async (configPath) => {
      const config = await loadClientConfig({ configPath, env: { CLI_ID: "1" } });
      assert.equal(config.loopAmount, 5);
    });
  }
});

Deno.test("loadClientConfig() replaces {id} in data.path", async () => {
  const config = await loadClientConfig({
    configPath: SHIPPED_CLIENT_YAML,
    env: { CLI_ID: "7", CLI_DATA_PATH: "/data/{id}/agency-{id}.csv" },
  });
  assert.equal(config.dataPath, "/data/7/agency-7.csv");
});

Deno.test("loadClientConfig() names the key the bad value came from", async () => {
  const yaml = "loop:\n  period: 5x\nlog:\n  level: LOUD\n";
  await withFile("client.yaml", yaml, async (configPath) => {
    assert.equal(
      await clientError({ configPath, env: { CLI_ID: "1" } }),
      'Invalid loop.period: "5x" (expected a Go duration like 100ms, 5s, 1m30s); ' +
        'Invalid log.level: "LOUD" (expected DEBUG, INFO, WARNING, ERROR or CRITICAL)',
    );
  });
  assert.equal(
    await clientError({
      configPath: SHIPPED_CLIENT_YAML,
      env: { CLI_ID: "1", CLI_LOOP_PERIOD: "5x" },
    }),
    'Invalid CLI_LOOP_PERIOD: "5x" (expected a Go duration like 100ms, 5s, 1m30s)',
  );
  assert.equal(
    await clientError({ configPath: SHIPPED_CLIENT_YAML, flags: { id: "1", dataPath: "" } }),
    'Invalid --data: "" (expected a non-empty path)',
  );
  assert.equal(
    await clientError({ configPath: SHIPPED_CLIENT_YAML, flags: { id: "1", logLevel: "LOUD" } }),
    'Invalid --log-level: "LOUD" (expected DEBUG, INFO, WARNING, ERROR or CRITICAL)',
  );
});

Deno.test("loadClientConfig() rejects every out-of-range or malformed value", async () => {
  const cases: [Record<string, string>, string][] = [
    [
      { CLI_SERVER_ADDRESS: "server" },
      'Invalid CLI_SERVER_ADDRESS: "server" (expected host:port with a port 1..65535)',
    ],
    [
      { CLI_SERVER_ADDRESS: "server:70000" },
      'Invalid CLI_SERVER_ADDRESS: "server:70000" (expected host:port with a port 1..65535)',
    ],
    [
      { CLI_SERVER_ADDRESS: "server:0" },
      'Invalid CLI_SERVER_ADDRESS: "server:0" (expected host:port with a port 1..65535)',
    ],
    [{ CLI_LOOP_AMOUNT: "-1" }, 'Invalid CLI_LOOP_AMOUNT: "-1" (expected an integer >= 0)'],
    [
      { CLI_LOOP_PERIOD: "5" },
      'Invalid CLI_LOOP_PERIOD: "5" (expected a Go duration like 100ms, 5s, 1m30s)',
    ],
    [
      { CLI_BATCH_MAXAMOUNT: "0" },
      'Invalid CLI_BATCH_MAXAMOUNT: "0" (expected an integer 1..8192)',
    ],
    [
      { CLI_BATCH_MAXAMOUNT: "8193" },
      'Invalid CLI_BATCH_MAXAMOUNT: "8193" (expected an integer 1..8192)',
    ],
    [{ CLI_MODE: "draw" }, 'Invalid CLI_MODE: "draw" (expected lottery or echo)'],
  ];
  for (const [env, message] of cases) {
    assert.equal(
      await clientError({ configPath: SHIPPED_CLIENT_YAML, env: { CLI_ID: "1", ...env } }),
      message,
    );
  }
});

Deno.test("loadClientConfig() names every bad value, and the missing id, in one error", async () => {
  assert.equal(
    await clientError({
      configPath: SHIPPED_CLIENT_YAML,
      env: { CLI_LOOP_PERIOD: "5x", CLI_MODE: "draw" },
      flags: { logLevel: "LOUD" },
    }),
    "Missing client id: set --id or CLI_ID (expected an integer 1..65535); " +
      'Invalid CLI_LOOP_PERIOD: "5x" (expected a Go duration like 100ms, 5s, 1m30s); ' +
      'Invalid --log-level: "LOUD" (expected DEBUG, INFO, WARNING, ERROR or CRITICAL); ' +
      'Invalid CLI_MODE: "draw" (expected lottery or echo)',
  );
});

Deno.test("loadClientConfig() rejects an unknown key, suggesting the closest one", async () => {
  const cases: [string, (path: string) => string][] = [
    ["loop:\n  perod: 5s\n", (p) => `Unknown key in ${p}: loop.perod (did you mean loop.period?)`],
    ["amount: 5\n", (p) => `Unknown key in ${p}: amount (did you mean loop.amount?)`],
    [
      "batch:\n  max_amount: 5\n",
      (p) => `Unknown key in ${p}: batch.max_amount (did you mean batch.maxAmount?)`,
    ],
    ["id: 3\n", (p) => `Unknown key in ${p}: id (set the client id with --id or CLI_ID)`],
    [
      "color: blue\n",
      (p) =>
        `Unknown key in ${p}: color (expected one of server.address, loop.amount, ` +
        "loop.period, log.level, batch.maxAmount, mode, data.path, connect.deadline, key.path)",
    ],
    ["loop: 5\n", () => 'Invalid loop: "5" (expected a mapping with amount, period)'],
    ["mode:\n  - echo\n", () => "Invalid mode: a list (expected a single value)"],
  ];
  for (const [yaml, message] of cases) {
    await withFile("client.yaml", yaml, async (configPath) => {
      assert.equal(await clientError({ configPath, env: { CLI_ID: "1" } }), message(configPath));
    });
  }
});

Deno.test("loadClientConfig() rejects the same key given twice", async () => {
  await withFile("client.yaml", "loop.amount: 1\nloop:\n  amount: 2\n", async (configPath) => {
    assert.equal(
      await clientError({ configPath, env: { CLI_ID: "1" } }),
      `Duplicate key in ${configPath}: loop.amount`,
    );
  });
});

Deno.test("loadClientConfig() rejects malformed YAML with the parser's one-line reason", async () => {
  await withFile("client.yaml", "mode: echo\nmode: lottery\n", async (configPath) => {
    assert.equal(
      await clientError({ configPath, env: { CLI_ID: "1" } }),
      `Cannot parse ${configPath}: duplicated mapping key at line 2, column 1`,
    );
  });
  await withFile("client.yaml", "loop:\n  amount: [1\n", async (configPath) => {
    assert.match(
      await clientError({ configPath, env: { CLI_ID: "1" } }),
      new RegExp(`^Cannot parse ${configPath}: .+ at line \\d+, column \\d+$`),
    );
  });
  await withFile("client.yaml", "- a\n- b\n", async (configPath) => {
    assert.equal(
      await clientError({ configPath, env: { CLI_ID: "1" } }),
      `Cannot parse ${configPath}: expected a mapping of keys at the top level`,
    );
  });
});

Deno.test("loadClientConfig() refuses a file whose aliases make it a huge tree, in one line", async () => {
  // 9 levels of 10 aliases: a few hundred bytes that name 10^9 keys.
  let text = "a0: &a0 {x: 1}\n";
  for (let level = 1; level <= 9; level++) {
    const refs = Array.from({ length: 10 }, (_, i) => `k${i}: *a${level - 1}`).join(", ");
    text += `a${level}: &a${level} {${refs}}\n`;
  }
  await withFile("client.yaml", text, async (configPath) => {
    assert.equal(
      await clientError({ configPath, env: { CLI_ID: "1" } }),
      `Cannot parse ${configPath}: more than 1000 keys`,
    );
  });
});

Deno.test("loadServerConfig() reads a file with old Mac line ends (CR alone)", async () => {
  await withFile(
    "server.ini",
    "[DEFAULT]\rSERVER_PORT = 4321\rAGENCIES = 3\r",
    async (configPath) => {
      const config = await loadServerConfig({ configPath, env: {} });
      assert.equal(config.port, 4321);
      assert.equal(config.agencies, 3);
    },
  );
});

Deno.test("loadClientConfig() rejects a missing file given explicitly", async () => {
  assert.equal(
    await clientError({ configPath: "/nonexistent/client.yaml", env: { CLI_ID: "1" } }),
    'Config file not found: "/nonexistent/client.yaml"',
  );
});

Deno.test("describeClientConfig() lists the startup fields in order, as configured", async () => {
  const config = await loadClientConfig({
    configPath: SHIPPED_CLIENT_YAML,
    env: { CLI_ID: "2", CLI_LOOP_PERIOD: "100ms", CLI_LOG_LEVEL: "debug" },
  });
  assert.deepEqual(Object.entries(describeClientConfig(config)), [
    ["client_id", 2],
    ["server_address", "server:12345"],
    ["loop_amount", 5],
    ["loop_period", "100ms"],
    ["log_level", "DEBUG"],
    ["mode", "lottery"],
    ["batch_max_amount", 8192],
    ["data_path", ".data/agency-2.csv"],
    ["connect_deadline", "30s"],
    ["key", "none"],
  ]);
  assert.equal(
    formatEvent({ action: "config", result: "success", ...describeClientConfig(config) }),
    "action: config | result: success | client_id: 2 | server_address: server:12345 | " +
      "loop_amount: 5 | loop_period: 100ms | log_level: DEBUG | mode: lottery | " +
      "batch_max_amount: 8192 | data_path: .data/agency-2.csv | connect_deadline: 30s | " +
      "key: none",
  );
});
