/**
 * A role's command line, generated from its field table: the parseArgs
 * options, the option lines of the usage text (flag, value, help, variable,
 * default) and the flag -> field mapping. Adding a key to a role is adding one
 * entry to its table. {@linkcode runRole} is the shape every role's command
 * shares: `--help`, the configuration (or its one-line error, exit 2), the run.
 *
 * @module
 */

import {
  EXIT_OK,
  EXIT_USAGE,
  parseCommand,
  printErr,
  printOut,
  runCommand,
} from "../../util/mod.ts";
import { ConfigError } from "./errors.ts";
import type { Field, FieldTable, FlagValues } from "./fields.ts";

/** What a role's `--help` says around its generated options. */
export interface RoleCommand<Table extends FieldTable> {
  /** What follows `Usage: `: `tp0 server [options]`. */
  synopsis: string;
  /** The paragraph after the usage line. */
  description: string;
  /** Help of `--config <path>`: `INI file, section [DEFAULT]`. */
  configHelp: string;
  /** The config file read when `--config` is not given. */
  configPath: string;
  /** The role's fields: one option line each, in table order. */
  fields: Table;
  /** The text after the options (precedence, exit codes, notes). */
  notes: string;
}

/** A role's parsed command line. */
export interface RoleArgs<Table extends FieldTable> {
  /** `-h` or `--help` was given: print the usage and do nothing else. */
  help: boolean;
  /** `--config`, when given. */
  configPath?: string;
  /** The fields' flags that were given, by field property. */
  flags: FlagValues<Table>;
}

/** A role's command line and what it does once configured. */
export interface RoleCli<Table extends FieldTable, Config> extends RoleCommand<Table> {
  /** The role's name in error lines: `tp0 server: Invalid --port: ...`. */
  name: string;
  /**
   * Loads the configuration from the parsed command line.
   *
   * @throws {ConfigError} a bad configuration: nothing was done.
   */
  load(args: RoleArgs<Table>): Promise<Config>;
  /** Runs the role with its configuration; resolves with the exit code. */
  run(config: Config): Promise<number>;
}

/**
 * `tp0 <role> ...`: parses `args` (a bad flag is a usage error, exit 2),
 * prints the usage on `--help`, loads the configuration (a
 * {@linkcode ConfigError} is one line on stderr, exit 2) and runs the role.
 */
export function runRole<Table extends FieldTable, Config>(
  args: string[],
  role: RoleCli<Table, Config>,
): Promise<number> {
  const usage = roleUsage(role);
  return runCommand(usage, async () => {
    const parsed = parseRoleArgs(args, role);
    if (parsed.help) {
      printOut(usage);
      return EXIT_OK;
    }
    let config: Config;
    try {
      config = await role.load(parsed);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      printErr(`tp0 ${role.name}: ${error.message}`);
      return EXIT_USAGE;
    }
    return await role.run(config);
  });
}

/** Where the help of an option line starts (as wide as `  --logging-level <level>  `). */
const HELP_COLUMN = 27;
/** Longest line the option lines are wrapped to (the old hand-written text went to 100). */
const LINE_WIDTH = 100;

/** The usage text `--help` prints and a usage error follows. */
export function roleUsage<Table extends FieldTable>(command: RoleCommand<Table>): string {
  const lines = [
    optionLine("--config <path>", command.configHelp, `(default: ${command.configPath})`),
    ...Object.values(command.fields).map(fieldLine),
    optionLine("-h, --help", "show this help"),
  ];
  return `Usage: ${command.synopsis}\n\n${command.description}\n\nOptions:\n` +
    `${lines.join("\n")}\n\n${command.notes}`;
}

/**
 * Parses a role's `args`: `--config`, `--help` and one string flag per field.
 *
 * @throws {UsageError} (from util/) an unknown flag, a flag without its value or a positional argument.
 */
export function parseRoleArgs<Table extends FieldTable>(
  args: string[],
  command: RoleCommand<Table>,
): RoleArgs<Table> {
  const options: Record<string, { type: "string" }> = { config: { type: "string" } };
  for (const field of Object.values(command.fields)) options[field.flag] = { type: "string" };
  const { values, help } = parseCommand(args, { usage: roleUsage(command), options });
  const given = values as Record<string, string | undefined>;
  const flags: Record<string, string> = {};
  for (const [prop, field] of Object.entries(command.fields)) {
    const value = given[field.flag];
    if (value !== undefined) flags[prop] = value;
  }
  return { help, configPath: given.config, flags: flags as FlagValues<Table> };
}

/** `--port <n>   TCP port, 0 = any free port (SERVER_PORT, default 12345)`. */
function fieldLine(field: Field<unknown>): string {
  const source = field.fallback === undefined ? "required" : `default ${field.fallback}`;
  return optionLine(`--${field.flag} ${field.arg}`, field.help, `(${field.env}, ${source})`);
}

/**
 * One option of the usage text: its help wrapped under the help column, then
 * `tail` (where its value comes from), never broken, on the last line.
 */
function optionLine(name: string, help: string, tail?: string): string {
  const lines: string[] = [];
  let line = `  ${name}`.padEnd(HELP_COLUMN - 1) + " ";
  let empty = true;
  for (const word of tail === undefined ? help.split(" ") : [...help.split(" "), tail]) {
    if (!empty && line.length + 1 + word.length > LINE_WIDTH) {
      lines.push(line);
      line = " ".repeat(HELP_COLUMN) + word;
    } else {
      line += (empty ? "" : " ") + word;
    }
    empty = false;
  }
  lines.push(line);
  return lines.join("\n");
}
