import assert from "node:assert/strict";
import {
  formatEvent,
  formatLine,
  log,
  type LogEvent,
  type LogLevel,
  parseLogLevel,
  parseLogLine,
  resetLogging,
  setupLogging,
} from "./log.ts";

/** Sets logging up at `level` with a capturing sink; returns the lines written. */
function capture(level: LogLevel): string[] {
  const lines: string[] = [];
  const decoder = new TextDecoder();
  setupLogging(level, { write: (bytes) => lines.push(decoder.decode(bytes)) });
  return lines;
}

Deno.test("each level prints one line with the level padded to 8 characters", () => {
  const lines = capture("DEBUG");
  try {
    log.debug({ action: "a", result: "success" });
    log.info({ action: "a", result: "success" });
    log.warning({ action: "a", result: "in_progress" });
    log.error({ action: "a", result: "fail" });
    log.critical({ action: "a", result: "fail", n: 1 });
  } finally {
    resetLogging();
  }
  const expected = [
    /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} DEBUG {4}action: a \| result: success\n$/,
    /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} INFO {5}action: a \| result: success\n$/,
    /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} WARNING {2}action: a \| result: in_progress\n$/,
    /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} ERROR {4}action: a \| result: fail\n$/,
    /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} CRITICAL action: a \| result: fail \| n: 1\n$/,
  ];
  assert.equal(lines.length, expected.length);
  lines.forEach((line, i) => assert.match(line, expected[i]));
});

Deno.test("the timestamp is local time, now, to the second", () => {
  const lines = capture("INFO");
  const before = Date.now();
  try {
    log.info({ action: "a", result: "success" });
  } finally {
    resetLogging();
  }
  const after = Date.now();
  const [, year, month, day, hour, minute, second] = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d) /
    .exec(lines[0])!.map(Number);
  const printed = new Date(year, month - 1, day, hour, minute, second).getTime();
  assert.ok(printed >= Math.floor(before / 1000) * 1000 && printed <= after, lines[0]);
});

Deno.test("formatLine() formats the whole line in local time", () => {
  const time = new Date(2024, 7, 21, 22, 11, 15, 999);
  const event: LogEvent = { action: "apuesta_recibida", result: "success", cantidad: 10 };
  assert.equal(
    formatLine(event, { level: "INFO", time }),
    "2024-08-21 22:11:15 INFO     action: apuesta_recibida | result: success | cantidad: 10",
  );
  assert.equal(
    formatLine(event, { level: "CRITICAL", time: new Date(2024, 0, 2, 3, 4, 5).getTime() }),
    "2024-01-02 03:04:05 CRITICAL action: apuesta_recibida | result: success | cantidad: 10",
  );
});

Deno.test("formatEvent() puts action and result first, keeps field order, skips undefined", () => {
  const event: LogEvent = {
    zeta: 1,
    result: "fail",
    skipped: undefined,
    action: "connect",
    alpha: true,
    error: "Connection refused",
  };
  assert.equal(
    formatEvent(event),
    "action: connect | result: fail | zeta: 1 | alpha: true | error: Connection refused",
  );
});

Deno.test("values with | and line breaks still print as one parseable record", () => {
  const lines = capture("INFO");
  try {
    log.info({
      action: "echo",
      result: "success",
      msg: "a | b\nc\r\nd",
      other: "x|y",
      tab: "1\t2",
      bell: "\u0007",
      separator: "\u2028",
    });
  } finally {
    resetLogging();
  }
  assert.equal(lines.length, 1);
  assert.equal(lines[0].indexOf("\n"), lines[0].length - 1);
  assert.ok(!lines[0].includes("\r"));
  const parsed = parseLogLine(lines[0]);
  assert.ok(parsed, lines[0]);
  assert.deepEqual(parsed.fields, {
    msg: "a ¦ b\\nc\\r\\nd",
    other: "x¦y",
    tab: "1\\t2",
    bell: "\\x07",
    separator: "\\u2028",
  });
});

Deno.test("DEBUG lines are hidden at INFO and shown at DEBUG", () => {
  const atInfo = capture("INFO");
  try {
    log.debug({ action: "hidden", result: "success" });
    log.info({ action: "shown", result: "success" });
    assert.equal(log.enabled("DEBUG"), false);
    assert.equal(log.enabled("INFO"), true);
  } finally {
    resetLogging();
  }
  assert.deepEqual(atInfo.map((line) => parseLogLine(line)?.action), ["shown"]);

  const atDebug = capture("DEBUG");
  try {
    log.debug({ action: "shown", result: "success" });
    assert.equal(log.enabled("DEBUG"), true);
  } finally {
    resetLogging();
  }
  assert.deepEqual(atDebug.map((line) => parseLogLine(line)?.level), ["DEBUG"]);
});

Deno.test("CRITICAL threshold keeps only CRITICAL lines", () => {
  const lines = capture("CRITICAL");
  try {
    log.error({ action: "hidden", result: "fail" });
    log.critical({ action: "shown", result: "fail" });
  } finally {
    resetLogging();
  }
  assert.deepEqual(lines.map((line) => parseLogLine(line)?.level), ["CRITICAL"]);
});

Deno.test("a disabled level does not even read the event's fields", () => {
  const lines = capture("INFO");
  let reads = 0;
  const event = {
    action: "frame",
    result: "success" as const,
    get bytes() {
      reads++;
      return 42;
    },
  };
  try {
    log.debug(event);
  } finally {
    resetLogging();
  }
  assert.equal(reads, 0);
  assert.deepEqual(lines, []);
});

Deno.test("nothing is printed after resetLogging()", () => {
  const lines = capture("DEBUG");
  resetLogging();
  log.critical({ action: "dropped", result: "fail" });
  assert.equal(log.enabled("CRITICAL"), false);
  assert.deepEqual(lines, []);
});

Deno.test("setupLogging() can be called again: only the latest sink and level apply", () => {
  const first = capture("DEBUG");
  const second = capture("WARNING");
  try {
    log.info({ action: "hidden", result: "success" });
    log.warning({ action: "shown", result: "success" });
  } finally {
    resetLogging();
  }
  assert.deepEqual(first, []);
  assert.deepEqual(second.map((line) => parseLogLine(line)?.action), ["shown"]);
});

Deno.test("setupLogging() rejects an unknown level", () => {
  assert.throws(() => setupLogging("LOUD" as LogLevel), {
    name: "RangeError",
    message: 'Invalid log level: "LOUD" (expected DEBUG, INFO, WARNING, ERROR or CRITICAL)',
  });
  assert.equal(log.enabled("CRITICAL"), false);
});

Deno.test("a failing stdout never throws into the caller and is reported once", () => {
  const reports: string[] = [];
  setupLogging("INFO", {
    write: () => {
      throw new Deno.errors.BrokenPipe("Broken pipe (os error 32)");
    },
    writeError: (bytes) => reports.push(new TextDecoder().decode(bytes)),
  });
  try {
    log.info({ action: "first", result: "success" });
    log.info({ action: "second", result: "success" });
  } finally {
    resetLogging();
  }
  assert.equal(reports.length, 1);
  const parsed = parseLogLine(reports[0]);
  assert.deepEqual(
    { level: parsed?.level, action: parsed?.action, result: parsed?.result, ...parsed?.fields },
    {
      level: "CRITICAL",
      action: "log_write",
      result: "fail",
      error: "Broken pipe (os error 32)",
    },
  );
});

Deno.test("the default sink writes exactly the lines to stdout, nothing before setup", async () => {
  const script = `
    import { log, setupLogging } from ${JSON.stringify(import.meta.resolve("./log.ts"))};
    log.critical({ action: "before_setup", result: "fail" });
    setupLogging("DEBUG");
    log.debug({ action: "one", result: "success", n: 1 });
    log.critical({ action: "two", result: "fail", error: "a|b" });
  `;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    cwd: new URL("..", import.meta.url),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  assert.equal(new TextDecoder().decode(output.stderr), "");
  assert.equal(output.code, 0);
  const lines = stdout.split("\n");
  assert.equal(lines.pop(), "");
  assert.deepEqual(lines.map((line) => parseLogLine(line)), [
    {
      time: lines[0].slice(0, 19),
      level: "DEBUG",
      action: "one",
      result: "success",
      fields: { n: "1" },
    },
    {
      time: lines[1].slice(0, 19),
      level: "CRITICAL",
      action: "two",
      result: "fail",
      fields: { error: "a¦b" },
    },
  ]);
});

Deno.test("parseLogLevel() accepts any case and the Go and Python aliases", () => {
  const cases: [string, LogLevel][] = [
    ["DEBUG", "DEBUG"],
    ["debug", "DEBUG"],
    ["Info", "INFO"],
    ["notice", "INFO"],
    ["WARNING", "WARNING"],
    ["warn", "WARNING"],
    [" Warn ", "WARNING"],
    ["error", "ERROR"],
    ["err", "ERROR"],
    ["critical", "CRITICAL"],
    ["crit", "CRITICAL"],
    ["FATAL", "CRITICAL"],
  ];
  for (const [text, level] of cases) assert.equal(parseLogLevel(text), level, text);
});

Deno.test("parseLogLevel() rejects other names with the documented message", () => {
  for (const text of ["LOUD", "", "trace", "toString", "__proto__", "INFO2"]) {
    assert.throws(() => parseLogLevel(text), {
      name: "RangeError",
      message: `Invalid log level: ${
        JSON.stringify(text)
      } (expected DEBUG, INFO, WARNING, ERROR or CRITICAL)`,
    });
  }
});

Deno.test("parseLogLine() reads the course's example line", () => {
  assert.deepEqual(
    parseLogLine(
      "2024-08-21 22:11:15 INFO     action: apuesta_recibida | result: success | cantidad: 10",
    ),
    {
      time: "2024-08-21 22:11:15",
      level: "INFO",
      action: "apuesta_recibida",
      result: "success",
      fields: { cantidad: "10" },
    },
  );
});

Deno.test("parseLogLine() keeps a value's own colons and an empty value", () => {
  const parsed = parseLogLine(
    "2024-08-21 22:11:15 ERROR    action: connect | result: fail | error: x: y | empty: \n",
  );
  assert.deepEqual(parsed?.fields, { error: "x: y", empty: "" });
});

Deno.test("parseLogLine() returns undefined for malformed lines", () => {
  const good = "2024-08-21 22:11:15 INFO     action: a | result: success | k: v";
  assert.ok(parseLogLine(good));
  const bad = [
    "",
    "hello",
    "2024-08-21 22:11:15 INFO action: a | result: success", // level not padded
    "2024-08-21 22:11:15 INFO      action: a | result: success", // padded too much
    "2024-08-21 22:11:15 TRACE    action: a | result: success", // unknown level
    "2024-08-21 22:11:15 info     action: a | result: success", // lower-case level
    "2024-08-21 22:11 INFO     action: a | result: success", // short time
    "2024-08-21T22:11:15 INFO     action: a | result: success", // ISO separator
    "2024-08-21 22:11:15 INFO     action: a", // no result
    "2024-08-21 22:11:15 INFO     result: success | action: a", // wrong order
    "2024-08-21 22:11:15 INFO     action: a | result: ok", // unknown result
    "2024-08-21 22:11:15 INFO     action:  | result: success", // empty action
    "2024-08-21 22:11:15 INFO     action: a | result: success | k: a|b", // raw pipe
    "2024-08-21 22:11:15 INFO     action: a | result: success | k v", // no ": "
    "2024-08-21 22:11:15 INFO     action: a | result: success | k: 1 | k: 2", // duplicate key
    "2024-08-21 22:11:15 INFO     action: a | result: success | bad key: 1", // key with space
    "2024-08-21 22:11:15 INFO     action: a | result: success | k: v\nmore", // two lines
    "2024-08-21 22:11:15 INFO     action: a | result: success | k: v\r\n", // CRLF
    "2024-08-21 22:11:15 INFO     action: a | result: success |", // dangling separator
  ];
  for (const line of bad) assert.equal(parseLogLine(line), undefined, JSON.stringify(line));
});
