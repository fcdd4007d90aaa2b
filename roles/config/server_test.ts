import assert from "node:assert/strict";
import {
  describeServerConfig,
  loadServerConfig,
  type ServerConfig,
  type ServerOptions,
} from "./mod.ts";
import { configErrorOf, inEmptyDir, SHIPPED_SERVER_INI, withFile } from "./_testing.ts";

function serverError(options: ServerOptions): Promise<string> {
  return configErrorOf(loadServerConfig(options));
}

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
        "READ_TIMEOUT, IDLE_TIMEOUT, MAX_CONNECTIONS, SERVER_IP, WINNERS_DELAY)",
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
  ]);
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
