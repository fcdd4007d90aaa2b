import assert from "node:assert/strict";
import { UsageError } from "../../util/mod.ts";
import {
  CLIENT_FIELDS,
  type FieldTable,
  parseRoleArgs,
  type RoleCommand,
  roleUsage,
  SERVER_FIELDS,
} from "./mod.ts";

function commandOf<Table extends FieldTable>(fields: Table): RoleCommand<Table> {
  return {
    synopsis: "tp0 role [options]",
    description: "What the role does.",
    configHelp: "a config file",
    configPath: "config/role.ini",
    fields,
    notes: "Exit codes: 0 all good.",
  };
}

for (const [role, fields] of [["server", SERVER_FIELDS], ["client", CLIENT_FIELDS]] as const) {
  Deno.test(`roleUsage() shows every ${role} flag with its value, variable and default`, () => {
    const usage = roleUsage(commandOf(fields));
    assert.match(usage, /^Usage: tp0 role \[options\]\n\nWhat the role does\.\n\nOptions:\n/);
    assert.match(usage, /\n\nExit codes: 0 all good\.$/);
    assert.match(usage, /^ {2}--config <path> +a config file \(default: config\/role\.ini\)$/m);
    assert.match(usage, /^ {2}-h, --help +show this help$/m);
    const text = usage.replaceAll(/\n {27}/g, " "); // continuation lines joined
    for (const field of Object.values(fields)) {
      const source = "fallback" in field ? `default ${field.fallback}` : "required";
      const line = new RegExp(
        `^ {2}--${field.flag} ${field.arg} +.*\\(${field.env}, ${source}\\)$`,
        "m",
      );
      assert.match(text, line, field.flag);
    }
    for (const line of usage.split("\n")) assert.ok(line.length <= 100, line);
  });
}

Deno.test("parseRoleArgs() maps each flag to its field and keeps --config apart", () => {
  const parsed = parseRoleArgs(
    ["--port", "0", "--listen-backlog", "8", "--config", "x.ini", "--storage", "b.csv"],
    commandOf(SERVER_FIELDS),
  );
  assert.deepEqual(parsed, {
    help: false,
    configPath: "x.ini",
    flags: { port: "0", listenBacklog: "8", storagePath: "b.csv" },
  });
  assert.equal(parseRoleArgs(["-h"], commandOf(CLIENT_FIELDS)).help, true);
});

Deno.test("parseRoleArgs() refuses an unknown flag, a missing value and a positional", () => {
  const command = commandOf(CLIENT_FIELDS);
  assert.throws(() => parseRoleArgs(["--prot", "1"], command), UsageError);
  assert.throws(() => parseRoleArgs(["--id"], command), UsageError);
  assert.throws(() => parseRoleArgs(["extra"], command), UsageError);
});
