import assert from "node:assert/strict";
import {
  type ClientConfig,
  type ClientOptions,
  describeClientConfig,
  loadClientConfig,
} from "./mod.ts";
import { formatEvent } from "../log.ts";
import { configErrorOf, inEmptyDir, SHIPPED_CLIENT_YAML, withFile } from "./_testing.ts";

function clientError(options: ClientOptions): Promise<string> {
  return configErrorOf(loadClientConfig(options));
}

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
        batchMaxAmount: 100,
        mode: "lottery",
        dataPath: ".data/agency-3.csv",
        connectDeadline: "30s",
        connectDeadlineMs: 30_000,
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
    batchMaxAmount: 100,
    mode: "lottery",
    dataPath: ".data/agency-1.csv",
    connectDeadline: "30s",
    connectDeadlineMs: 30_000,
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
        "loop.period, log.level, batch.maxAmount, mode, data.path, connect.deadline)",
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
    ["batch_max_amount", 100],
    ["data_path", ".data/agency-2.csv"],
    ["connect_deadline", "30s"],
  ]);
  assert.equal(
    formatEvent({ action: "config", result: "success", ...describeClientConfig(config) }),
    "action: config | result: success | client_id: 2 | server_address: server:12345 | " +
      "loop_amount: 5 | loop_period: 100ms | log_level: DEBUG | mode: lottery | " +
      "batch_max_amount: 100 | data_path: .data/agency-2.csv | connect_deadline: 30s",
  );
});
