/**
 * The configuration mechanism every role uses: a table of fields, each a
 * value with a file key, an environment variable, a flag, a default, a check
 * and the help `--help` shows; and the resolver that takes each value from the
 * first of flag, environment variable, config file and default.
 *
 * An environment variable set to the empty string counts as unset (what
 * Compose gives for `${UNSET}`). The default config file may be missing, then
 * defaults and environment apply; a file named explicitly must exist. Every
 * bad or missing value, unknown key and duplicate key is named in ONE
 * {@linkcode ConfigError} line, parts joined with `"; "`, each naming the key
 * the user set (flag `--port`, variable `CLI_LOOP_PERIOD` or file key
 * `loop.period`), its value and what was expected.
 *
 * @module
 */

import { type FileContext, readConfigFile } from "./_file.ts";
import type { Check } from "./checks.ts";
import { ConfigError } from "./errors.ts";

/** One configuration value: where it may come from, how it is checked and shown. */
export interface Field<T> {
  /** Key in the config file (canonical spelling). */
  key: string;
  /** Environment variable. */
  env: string;
  /** The command-line flag without its dashes: `port`, `listen-backlog`. */
  flag: string;
  /** The flag's value as the usage text shows it: `<n>`, `<path>`. */
  arg: string;
  /** What the value is, for the usage text. */
  help: string;
  /** Default, as text (always valid); without one the value is required. */
  fallback?: string;
  /** Parses the text, or returns undefined when it is not acceptable. */
  check: Check<T>;
  /** What an acceptable value looks like, for errors: `an integer 0..65535`. */
  expected: string;
  /** Whether a config file may hold it. @default true */
  inFile?: boolean;
  /** The value's name when it is missing: `client id`. @default the file key */
  label?: string;
  /**
   * Whether the configuration keeps the text as written under the field's
   * property and the checked value under `<property>Ms` (durations: logged as
   * written, used in milliseconds).
   */
  asWritten?: true;
}

/** A role's fields, by the property its configuration names them with. */
export type FieldTable = Record<string, Field<unknown>>;

/** A resolved field: the checked value and the text it was read from. */
export interface Resolved<T> {
  /** The checked value. */
  value: T;
  /** The text as written (durations are logged as written). */
  text: string;
}

/** Every field of `Table`, resolved. */
export type ResolvedFields<Table extends FieldTable> = {
  [K in keyof Table]: Table[K] extends Field<infer T> ? Resolved<T> : never;
};

/** The value a field gives its property of the configuration. */
type ValueOf<F> = F extends { asWritten: true } ? string : F extends Field<infer T> ? T : never;

/** Property `<name>Ms` of the fields kept as written. */
type MsKey<Table extends FieldTable, K extends keyof Table> = Table[K] extends { asWritten: true }
  ? `${K & string}Ms`
  : never;

/** The configuration `Table` resolves to: each field's value, and `<name>Ms` of those kept as written. */
export type ConfigOf<Table extends FieldTable> =
  & LoadedConfig
  & { [K in keyof Table]: ValueOf<Table[K]> }
  & { [K in keyof Table as MsKey<Table, K>]: number };

/** Flag values as typed, by field property; undefined means not given. */
export type FlagValues<Table extends FieldTable> = Partial<Record<keyof Table, string>>;

/** Reads a config file's text into canonical key -> value, noting problems in the context. */
export type FileReader = (
  text: string,
  context: FileContext,
) => Map<string, string> | Promise<Map<string, string>>;

/** Where the values of one load come from. */
export interface Sources<Table extends FieldTable> {
  /** Flag values, highest precedence. */
  flags?: FlagValues<Table>;
  /** Environment variables. */
  env: Record<string, string | undefined>;
  /** The config file's values, by canonical key. */
  file: ReadonlyMap<string, string>;
  /** Problems met before resolving (reading the file); they come first in the error. */
  problems?: readonly string[];
}

/** What a role's loader takes; everything is optional. */
export interface ConfigOptions<Table extends FieldTable> {
  /** Config file to read. When given it must exist; when omitted the role's default may be missing. */
  configPath?: string;
  /** Environment to read overrides from. @default Deno.env.toObject() */
  env?: Record<string, string | undefined>;
  /**
   * Flag values as typed, by configuration property (`listenBacklog`); errors
   * name them as the command line spells them (`--listen-backlog`).
   */
  flags?: FlagValues<Table>;
}

/** What every role's resolved configuration holds besides its fields. */
export interface LoadedConfig {
  /** The config file path used (it may not exist when it is the default). */
  configPath: string;
}

/** A role's configuration: its fields, its default config file and that file's format. */
export interface ConfigSchema<Table extends FieldTable> {
  /** The fields, in the order they are resolved and errors name them. */
  fields: Table;
  /** The config file read when none is given (it may be missing). */
  defaultPath: string;
  /** Reads the file's format (INI, YAML). */
  reader: FileReader;
}

/** A value found for a field, with the name the user knows it by. */
interface Setting {
  text: string;
  name: string;
}

/**
 * Reads the config file (`options.configPath`, else the schema's default),
 * resolves every field of the schema and returns the configuration.
 *
 * @throws {ConfigError} one line naming every bad or missing value, unknown or
 *   duplicate key, or the unreadable / unparseable file.
 */
export async function loadConfig<Table extends FieldTable>(
  schema: ConfigSchema<Table>,
  options: ConfigOptions<Table>,
): Promise<ConfigOf<Table>> {
  const configPath = options.configPath ?? schema.defaultPath;
  const text = await readConfigFile(configPath, options.configPath !== undefined);
  const problems: string[] = [];
  const file = text === undefined
    ? new Map<string, string>()
    : await schema.reader(text, { path: configPath, ...fileSchema(schema.fields), problems });
  const values = resolveFields(schema.fields, {
    flags: options.flags,
    env: options.env ?? Deno.env.toObject(),
    file,
    problems,
  });
  const config: Record<string, unknown> = { configPath };
  for (const [prop, field] of Object.entries(schema.fields)) {
    const { value, text } = values[prop];
    if (field.asWritten) {
      config[prop] = text;
      config[`${prop}Ms`] = value;
    } else {
      config[prop] = value;
    }
  }
  return config as ConfigOf<Table>;
}

/**
 * Resolves every field of `table`, in table order: flag > environment > file > default.
 *
 * @throws {ConfigError} one line naming every problem: those of
 *   `sources.problems`, then each bad or missing value.
 */
export function resolveFields<Table extends FieldTable>(
  table: Table,
  sources: Sources<Table>,
): ResolvedFields<Table> {
  const problems = [...sources.problems ?? []];
  const values: Record<string, Resolved<unknown>> = {};
  for (const [prop, field] of Object.entries(table)) {
    const setting = settingOf(field, sources.flags?.[prop], sources);
    if (setting === undefined) {
      problems.push(
        `Missing ${field.label ?? field.key}: set --${field.flag} or ${field.env} ` +
          `(expected ${field.expected})`,
      );
      continue;
    }
    const value = field.check(setting.text);
    if (value === undefined) {
      problems.push(
        `Invalid ${setting.name}: ${JSON.stringify(setting.text)} (expected ${field.expected})`,
      );
      continue;
    }
    values[prop] = { value, text: setting.text };
  }
  if (problems.length > 0) throw new ConfigError(problems.join("; "));
  return values as ResolvedFields<Table>;
}

/** The keys a file may hold, and the names it must not (with where they go instead). */
export function fileSchema(
  table: FieldTable,
): Pick<FileContext, "keys" | "elsewhere"> {
  const fields = Object.values(table);
  const keys = fields.filter((field) => field.inFile !== false).map((field) => field.key);
  const elsewhere = new Map<string, string>();
  for (const field of fields) {
    if (field.inFile !== false) continue;
    const hint = `set the ${field.label ?? field.key} with --${field.flag} or ${field.env}`;
    elsewhere.set(field.key.toLowerCase(), hint);
    elsewhere.set(field.env.toLowerCase(), hint);
  }
  return { keys, elsewhere };
}

/** The setting of highest precedence for a field, if any. */
function settingOf(
  field: Field<unknown>,
  flag: string | undefined,
  sources: Pick<Sources<FieldTable>, "env" | "file">,
): Setting | undefined {
  if (flag !== undefined) return { text: flag, name: `--${field.flag}` };
  const env = sources.env[field.env];
  if (env !== undefined && env !== "") return { text: env, name: field.env };
  const file = sources.file.get(field.key);
  if (file !== undefined) return { text: file, name: field.key };
  if (field.fallback !== undefined) return { text: field.fallback, name: field.key };
  return undefined;
}
