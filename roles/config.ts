/**
 * Server and client configuration: loading, precedence and validation.
 *
 * Each value comes from the first of: command-line flag, environment
 * variable, config file, built-in default. An environment variable set to the
 * empty string counts as unset (what Compose gives for `${UNSET}`). The
 * default config file (`config/server.ini`, `config/client.yaml`) may be
 * missing, then defaults and environment apply; a file named explicitly must
 * exist. Every bad value, unknown key and duplicate key is named in ONE
 * {@linkcode ConfigError} line, parts joined with `"; "`, each naming the key
 * the user set (flag `--port`, variable `CLI_LOOP_PERIOD` or file key
 * `loop.period`), its value and what was expected.
 *
 * @example
 * ```ts
 * const config = await loadClientConfig({ flags: { id: "3" } });
 * log.info({ action: "config", result: "success", ...describeClientConfig(config) });
 * ```
 *
 * @module
 */

// No CommonJS package here: loading one costs a process ~40 ms (Deno's CommonJS
// loader). INI values are read by iniValue() below, and the client's YAML by
// js-yaml (an ES module), imported only when a client reads its file.
import { ADDRESS_EXPECTED, closest, parseDuration, splitHostPort } from "../util/mod.ts";
import { type LogLevel, parseLogLevel } from "./log.ts";

/** A bad configuration; the message is one line naming every bad key, value and expectation. */
export class ConfigError extends Error {
  /** Creates a configuration error with a one-line message. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConfigError";
  }
}

/** Config file the server reads when none is given. */
export const DEFAULT_SERVER_CONFIG_PATH = "config/server.ini";
/** Config file the client reads when none is given. */
export const DEFAULT_CLIENT_CONFIG_PATH = "config/client.yaml";
/** Upper bound of `batch.maxAmount`; the client also caps each batch by frame bytes. */
export const MAX_BATCH_AMOUNT = 8192;
/**
 * Default of `MAX_CONNECTIONS`: far more than the agencies of a lottery, and a
 * bound on memory (each connection holds a 64 KiB read buffer: 16 MiB in all).
 */
export const DEFAULT_MAX_CONNECTIONS = 256;

/** What may be given to {@linkcode loadServerConfig}; everything is optional. */
export interface ServerOptions {
  /**
   * INI file to read. When given it must exist; when omitted the default may be missing.
   * @default "config/server.ini"
   */
  configPath?: string;
  /**
   * Environment to read overrides from (`SERVER_PORT`, ...).
   * @default Deno.env.toObject()
   */
  env?: Record<string, string | undefined>;
  /**
   * Flag values as typed; errors name them as `tp0 server` spells them: `--port`,
   * `--listen-backlog`, `--logging-level`, `--agencies`, `--storage`, `--host`,
   * `--read-timeout`, `--idle-timeout`, `--max-connections`.
   */
  flags?: Partial<{
    port: string;
    listenBacklog: string;
    loggingLevel: string;
    agencies: string;
    storagePath: string;
    host: string;
    readTimeout: string;
    idleTimeout: string;
    maxConnections: string;
    serverIp: string;
    winnersDelay: string;
  }>;
}

/** The resolved, validated server configuration. */
export interface ServerConfig {
  /** The config file path used (it may not exist when it is the default). */
  configPath: string;
  /** TCP port, 0..65535; 0 means any free port (tests). */
  port: number;
  /** Listen backlog, 1..65535. */
  listenBacklog: number;
  /** Lowest level logged. */
  loggingLevel: LogLevel;
  /** Number of agencies taking part, 1..65535. */
  agencies: number;
  /** CSV file where bets are stored. */
  storagePath: string;
  /** Address to listen on. */
  host: string;
  /** Longest wait for the rest of a frame or line once it has started, as written (`10s`). */
  readTimeout: string;
  /** {@linkcode ServerConfig.readTimeout} in milliseconds, > 0. */
  readTimeoutMs: number;
  /** Longest silence between frames or lines before the connection is closed, as written. */
  idleTimeout: string;
  /** {@linkcode ServerConfig.idleTimeout} in milliseconds, > 0. */
  idleTimeoutMs: number;
  /** Most connections served at once, 1..65535; more are refused (BUSY). */
  maxConnections: number;
  /**
   * The course's `SERVER_IP`: the name or address the agencies reach the server
   * at (the Compose service name). Logged only; where the server listens is `host`.
   */
  serverIp: string;
  /**
   * How long after the draw's `sorteo` line the first winners are sent, as
   * written (`0s`). Compose's merged log reads each container on its own, so a
   * client's answer can be printed before the server's draw unless the draw's
   * line has a head start (README, "Running it the course's way").
   */
  winnersDelay: string;
  /** {@linkcode ServerConfig.winnersDelay} in milliseconds, >= 0. */
  winnersDelayMs: number;
}

/** What may be given to {@linkcode loadClientConfig}; everything is optional except an id somewhere. */
export interface ClientOptions {
  /**
   * YAML file to read. When given it must exist; when omitted the default may be missing.
   * @default "config/client.yaml"
   */
  configPath?: string;
  /**
   * Environment to read `CLI_ID` and overrides (`CLI_SERVER_ADDRESS`, ...) from.
   * @default Deno.env.toObject()
   */
  env?: Record<string, string | undefined>;
  /**
   * Flag values as typed; errors name them as `tp0 client` spells them: `--id`,
   * `--server-address`, `--loop-amount`, `--loop-period`, `--log-level`,
   * `--batch-max-amount`, `--mode`, `--data`, `--connect-deadline`.
   */
  flags?: Partial<{
    id: string;
    serverAddress: string;
    loopAmount: string;
    loopPeriod: string;
    logLevel: string;
    batchMaxAmount: string;
    mode: string;
    dataPath: string;
    connectDeadline: string;
  }>;
}

/** The resolved, validated client configuration. */
export interface ClientConfig {
  /** The config file path used (it may not exist when it is the default). */
  configPath: string;
  /** Agency id, 1..65535. */
  id: number;
  /** `host:port` of the server, port 1..65535 (see `splitHostPort` in util/). */
  serverAddress: string;
  /** Echo mode: how many messages to send, >= 0. */
  loopAmount: number;
  /** Wait between loop iterations exactly as written (`5s`). */
  loopPeriod: string;
  /** {@linkcode ClientConfig.loopPeriod} in milliseconds. */
  loopPeriodMs: number;
  /** Lowest level logged. */
  logLevel: LogLevel;
  /** Most bets in one batch, 1..8192 (the client also caps by frame size). */
  batchMaxAmount: number;
  /** What the client does. */
  mode: "echo" | "lottery";
  /** Agency CSV file, `{id}` replaced by the id (default `.data/agency-{id}.csv`). */
  dataPath: string;
  /**
   * How long to keep trying to (re)connect to the server without progress, as
   * written (`30s`); `0` means a single attempt.
   */
  connectDeadline: string;
  /** {@linkcode ClientConfig.connectDeadline} in milliseconds, >= 0. */
  connectDeadlineMs: number;
}

/**
 * The fields of the server's startup `action: config` line, in order, values
 * as configured: `port, listen_backlog, logging_level, agencies, storage_path,
 * read_timeout, idle_timeout, max_connections, host, server_ip, winners_delay` (the course's first three
 * first; what this server adds after them).
 */
export function describeServerConfig(config: ServerConfig): Record<string, string | number> {
  return {
    port: config.port,
    listen_backlog: config.listenBacklog,
    logging_level: config.loggingLevel,
    agencies: config.agencies,
    storage_path: config.storagePath,
    read_timeout: config.readTimeout,
    idle_timeout: config.idleTimeout,
    max_connections: config.maxConnections,
    host: config.host,
    server_ip: config.serverIp,
    winners_delay: config.winnersDelay,
  };
}

/**
 * The fields of the client's startup `action: config` line, in order, values
 * as configured: `client_id, server_address, loop_amount, loop_period,
 * log_level, mode, batch_max_amount, data_path, connect_deadline`.
 */
export function describeClientConfig(config: ClientConfig): Record<string, string | number> {
  return {
    client_id: config.id,
    server_address: config.serverAddress,
    loop_amount: config.loopAmount,
    loop_period: config.loopPeriod,
    log_level: config.logLevel,
    mode: config.mode,
    batch_max_amount: config.batchMaxAmount,
    data_path: config.dataPath,
    connect_deadline: config.connectDeadline,
  };
}

// ---------------------------------------------------------------------------
// Fields: where each value may come from and how it is checked.

/** Parses a value or returns undefined when it is not acceptable. */
type Check<T> = (text: string) => T | undefined;

interface Field<T, F extends string> {
  /** Key in the config file (canonical spelling). */
  key: string;
  /** Environment variable. */
  env: string;
  /** Property of the options' `flags`. */
  flag: F;
  /** The command-line flag, as errors name it. */
  flagName: string;
  /** Default, as text (always valid). */
  fallback?: string;
  check: Check<T>;
  expected: string;
}

/** A value found for a field, with the name the user knows it by. */
interface Setting {
  text: string;
  name: string;
}

function integerIn(min: number, max: number): Check<number> {
  return function check(text) {
    if (!/^[0-9]+$/.test(text)) return undefined;
    const value = Number(text);
    return value >= min && value <= max ? value : undefined;
  };
}

function checkLevel(text: string): LogLevel | undefined {
  try {
    return parseLogLevel(text);
  } catch {
    return undefined;
  }
}

function checkPath(text: string): string | undefined {
  // deno-lint-ignore no-control-regex
  return text !== "" && !/[\x00-\x1f\x7f]/.test(text) ? text : undefined;
}

function checkHost(text: string): string | undefined {
  // deno-lint-ignore no-control-regex
  return /^[^\s\x00-\x1f\x7f]+$/.test(text) ? text : undefined;
}

function checkDuration(text: string): number | undefined {
  try {
    return parseDuration(text);
  } catch {
    return undefined;
  }
}

/** Longest timeout or deadline accepted: timers cannot wait longer than about 24 days. */
const MAX_WAIT_MS = 24 * 3_600_000;

/** A duration > 0 (or >= 0 when `allowZero`) and at most 24h: a timer's delay. */
function waitDuration(allowZero: boolean): Check<number> {
  return function check(text) {
    const ms = checkDuration(text);
    if (ms === undefined || ms > MAX_WAIT_MS) return undefined;
    return ms > 0 || (allowZero && ms === 0) ? ms : undefined;
  };
}

function checkAddress(text: string): string | undefined {
  try {
    splitHostPort(text);
    return text;
  } catch {
    return undefined;
  }
}

function checkMode(text: string): "echo" | "lottery" | undefined {
  const lower = text.toLowerCase();
  return lower === "echo" || lower === "lottery" ? lower : undefined;
}

type ServerFlag = keyof NonNullable<ServerOptions["flags"]>;
type ClientFlag = keyof NonNullable<ClientOptions["flags"]>;

const SERVER_FIELDS = {
  port: {
    key: "SERVER_PORT",
    env: "SERVER_PORT",
    flag: "port",
    flagName: "--port",
    fallback: "12345",
    check: integerIn(0, 65535),
    expected: "an integer 0..65535",
  } satisfies Field<number, ServerFlag>,
  listenBacklog: {
    key: "SERVER_LISTEN_BACKLOG",
    env: "SERVER_LISTEN_BACKLOG",
    flag: "listenBacklog",
    flagName: "--listen-backlog",
    fallback: "5",
    check: integerIn(1, 65535),
    expected: "an integer 1..65535",
  } satisfies Field<number, ServerFlag>,
  loggingLevel: {
    key: "LOGGING_LEVEL",
    env: "LOGGING_LEVEL",
    flag: "loggingLevel",
    flagName: "--logging-level",
    fallback: "INFO",
    check: checkLevel,
    expected: "DEBUG, INFO, WARNING, ERROR or CRITICAL",
  } satisfies Field<LogLevel, ServerFlag>,
  agencies: {
    key: "AGENCIES",
    env: "AGENCIES",
    flag: "agencies",
    flagName: "--agencies",
    fallback: "5",
    check: integerIn(1, 65535),
    expected: "an integer 1..65535",
  } satisfies Field<number, ServerFlag>,
  storagePath: {
    key: "STORAGE_PATH",
    env: "STORAGE_PATH",
    flag: "storagePath",
    flagName: "--storage",
    fallback: "./bets.csv",
    check: checkPath,
    expected: "a non-empty path",
  } satisfies Field<string, ServerFlag>,
  host: {
    key: "SERVER_HOST",
    env: "SERVER_HOST",
    flag: "host",
    flagName: "--host",
    fallback: "0.0.0.0",
    check: checkHost,
    expected: "a host name or IP address",
  } satisfies Field<string, ServerFlag>,
  readTimeout: {
    key: "READ_TIMEOUT",
    env: "READ_TIMEOUT",
    flag: "readTimeout",
    flagName: "--read-timeout",
    fallback: "10s",
    check: waitDuration(false),
    expected: "a Go duration > 0 and <= 24h, like 500ms, 10s, 1m",
  } satisfies Field<number, ServerFlag>,
  idleTimeout: {
    key: "IDLE_TIMEOUT",
    env: "IDLE_TIMEOUT",
    flag: "idleTimeout",
    flagName: "--idle-timeout",
    fallback: "60s",
    check: waitDuration(false),
    expected: "a Go duration > 0 and <= 24h, like 30s, 1m, 5m",
  } satisfies Field<number, ServerFlag>,
  maxConnections: {
    key: "MAX_CONNECTIONS",
    env: "MAX_CONNECTIONS",
    flag: "maxConnections",
    flagName: "--max-connections",
    fallback: String(DEFAULT_MAX_CONNECTIONS),
    check: integerIn(1, 65535),
    expected: "an integer 1..65535",
  } satisfies Field<number, ServerFlag>,
  serverIp: {
    key: "SERVER_IP",
    env: "SERVER_IP",
    flag: "serverIp",
    flagName: "--server-ip",
    fallback: "server",
    check: checkHost,
    expected: "a host name or IP address",
  } satisfies Field<string, ServerFlag>,
  winnersDelay: {
    key: "WINNERS_DELAY",
    env: "WINNERS_DELAY",
    flag: "winnersDelay",
    flagName: "--winners-delay",
    fallback: "0s",
    check: waitDuration(true),
    expected: "a Go duration >= 0 and <= 24h, like 0s, 500ms, 2s",
  } satisfies Field<number, ServerFlag>,
};

const CLIENT_FIELDS = {
  id: {
    key: "id",
    env: "CLI_ID",
    flag: "id",
    flagName: "--id",
    check: integerIn(1, 65535),
    expected: "an integer 1..65535",
  } satisfies Field<number, ClientFlag>,
  serverAddress: {
    key: "server.address",
    env: "CLI_SERVER_ADDRESS",
    flag: "serverAddress",
    flagName: "--server-address",
    fallback: "server:12345",
    check: checkAddress,
    expected: ADDRESS_EXPECTED,
  } satisfies Field<string, ClientFlag>,
  loopAmount: {
    key: "loop.amount",
    env: "CLI_LOOP_AMOUNT",
    flag: "loopAmount",
    flagName: "--loop-amount",
    fallback: "5",
    check: integerIn(0, Number.MAX_SAFE_INTEGER),
    expected: "an integer >= 0",
  } satisfies Field<number, ClientFlag>,
  loopPeriod: {
    key: "loop.period",
    env: "CLI_LOOP_PERIOD",
    flag: "loopPeriod",
    flagName: "--loop-period",
    fallback: "5s",
    check: checkDuration,
    expected: "a Go duration like 100ms, 5s, 1m30s",
  } satisfies Field<number, ClientFlag>,
  logLevel: {
    key: "log.level",
    env: "CLI_LOG_LEVEL",
    flag: "logLevel",
    flagName: "--log-level",
    fallback: "INFO",
    check: checkLevel,
    expected: "DEBUG, INFO, WARNING, ERROR or CRITICAL",
  } satisfies Field<LogLevel, ClientFlag>,
  batchMaxAmount: {
    key: "batch.maxAmount",
    env: "CLI_BATCH_MAXAMOUNT",
    flag: "batchMaxAmount",
    flagName: "--batch-max-amount",
    fallback: "100",
    check: integerIn(1, MAX_BATCH_AMOUNT),
    expected: `an integer 1..${MAX_BATCH_AMOUNT}`,
  } satisfies Field<number, ClientFlag>,
  mode: {
    key: "mode",
    env: "CLI_MODE",
    flag: "mode",
    flagName: "--mode",
    fallback: "lottery",
    check: checkMode,
    expected: "lottery or echo",
  } satisfies Field<"echo" | "lottery", ClientFlag>,
  dataPath: {
    key: "data.path",
    env: "CLI_DATA_PATH",
    flag: "dataPath",
    flagName: "--data",
    fallback: ".data/agency-{id}.csv",
    check: checkPath,
    expected: "a non-empty path",
  } satisfies Field<string, ClientFlag>,
  connectDeadline: {
    key: "connect.deadline",
    env: "CLI_CONNECT_DEADLINE",
    flag: "connectDeadline",
    flagName: "--connect-deadline",
    fallback: "30s",
    check: waitDuration(true),
    expected: "a Go duration >= 0 and <= 24h, like 500ms, 30s, 2m",
  } satisfies Field<number, ClientFlag>,
};

/** Collects settings and problems, then checks values, naming every bad one. */
class Resolver<F extends string> {
  readonly problems: string[] = [];
  #flags: Partial<Record<F, string | undefined>>;
  #env: Record<string, string | undefined>;
  #file: Map<string, string>;

  constructor(
    flags: Partial<Record<F, string | undefined>>,
    env: Record<string, string | undefined>,
    file: Map<string, string>,
  ) {
    this.#flags = flags;
    this.#env = env;
    this.#file = file;
  }

  /** The setting of highest precedence for a field, if any. */
  setting(field: Field<unknown, F>): Setting | undefined {
    const flag = this.#flags[field.flag];
    if (flag !== undefined) return { text: flag, name: field.flagName };
    const env = this.#env[field.env];
    if (env !== undefined && env !== "") return { text: env, name: field.env };
    const file = this.#file.get(field.key);
    if (file !== undefined) return { text: file, name: field.key };
    if (field.fallback !== undefined) return { text: field.fallback, name: field.key };
    return undefined;
  }

  /** The checked value of a field (undefined, with a problem noted, when bad or missing). */
  value<T>(field: Field<T, F>): { value: T; text: string } | undefined {
    const setting = this.setting(field);
    if (setting === undefined) return undefined;
    const value = field.check(setting.text);
    if (value === undefined) {
      this.problems.push(
        `Invalid ${setting.name}: ${JSON.stringify(setting.text)} (expected ${field.expected})`,
      );
      return undefined;
    }
    return { value, text: setting.text };
  }

  /** Throws the single ConfigError naming every problem, if any. */
  finish(): void {
    if (this.problems.length > 0) throw new ConfigError(this.problems.join("; "));
  }
}

// ---------------------------------------------------------------------------
// Server

/**
 * Loads the server configuration from flags, environment, the INI file
 * (keys at the top or under `[DEFAULT]`, case-insensitive) and defaults.
 *
 * @throws {ConfigError} one line naming every bad value, unknown or
 *   duplicate key, or the unreadable / unparseable file.
 */
export async function loadServerConfig(options: ServerOptions = {}): Promise<ServerConfig> {
  const configPath = options.configPath ?? DEFAULT_SERVER_CONFIG_PATH;
  const text = await readConfigFile(configPath, options.configPath !== undefined);
  const problems: string[] = [];
  const file = text === undefined
    ? new Map<string, string>()
    : parseServerFile(text, { path: configPath, problems });
  const resolver = new Resolver<ServerFlag>(
    options.flags ?? {},
    options.env ?? Deno.env.toObject(),
    file,
  );
  resolver.problems.push(...problems);
  const port = resolver.value(SERVER_FIELDS.port);
  const listenBacklog = resolver.value(SERVER_FIELDS.listenBacklog);
  const loggingLevel = resolver.value(SERVER_FIELDS.loggingLevel);
  const agencies = resolver.value(SERVER_FIELDS.agencies);
  const storagePath = resolver.value(SERVER_FIELDS.storagePath);
  const host = resolver.value(SERVER_FIELDS.host);
  const readTimeout = resolver.value(SERVER_FIELDS.readTimeout);
  const idleTimeout = resolver.value(SERVER_FIELDS.idleTimeout);
  const maxConnections = resolver.value(SERVER_FIELDS.maxConnections);
  const serverIp = resolver.value(SERVER_FIELDS.serverIp);
  const winnersDelay = resolver.value(SERVER_FIELDS.winnersDelay);
  resolver.finish();
  return {
    configPath,
    port: port!.value,
    listenBacklog: listenBacklog!.value,
    loggingLevel: loggingLevel!.value,
    agencies: agencies!.value,
    storagePath: storagePath!.value,
    host: host!.value,
    readTimeout: readTimeout!.text,
    readTimeoutMs: readTimeout!.value,
    idleTimeout: idleTimeout!.text,
    idleTimeoutMs: idleTimeout!.value,
    maxConnections: maxConnections!.value,
    serverIp: serverIp!.value,
    winnersDelay: winnersDelay!.text,
    winnersDelayMs: winnersDelay!.value,
  };
}

const SERVER_KEYS = Object.values(SERVER_FIELDS).map((field) => field.key);

/**
 * Reads the INI text: structure is checked line by line (so that typos are
 * reported, not silently ignored), each value is read by {@linkcode iniValue}.
 */
function parseServerFile(
  text: string,
  context: { path: string; problems: string[] },
): Map<string, string> {
  const { path, problems } = context;
  const values = new Map<string, string>();
  const lineOf = new Map<string, number>();
  let section: string | null = null;
  let skipSection = false;
  const lines = text.split(/\r\n|\r|\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "" || line.startsWith(";") || line.startsWith("#")) continue;
    if (line.startsWith("[")) {
      const match = /^\[([^\]]*)\]$/.exec(line);
      if (match === null) throw malformed(path, i, "expected [DEFAULT] or KEY = value");
      section = match[1];
      skipSection = section.trim().toUpperCase() !== "DEFAULT";
      if (skipSection) {
        problems.push(`Unknown section in ${path}: [${section}] (expected [DEFAULT])`);
      }
      continue;
    }
    const equals = line.indexOf("=");
    const key = equals > 0 ? line.slice(0, equals).trim() : "";
    if (!/^[A-Za-z0-9_.-]+$/.test(key)) throw malformed(path, i, "expected KEY = value");
    if (skipSection) continue;
    const canonical = key.toUpperCase();
    if (!SERVER_KEYS.includes(canonical)) {
      problems.push(unknownKey(path, key, SERVER_KEYS));
      continue;
    }
    const previous = lineOf.get(canonical);
    if (previous !== undefined) {
      problems.push(`Duplicate key in ${path}: ${canonical} (lines ${previous + 1} and ${i + 1})`);
      continue;
    }
    lineOf.set(canonical, i);
    values.set(canonical, iniValue(line.slice(equals + 1)));
  }
  return values;
}

/**
 * A value as the `ini` package reads it: trimmed; `"..."` is a JSON string and `'...'`
 * taken as is; otherwise cut at the first `;` or `#` not escaped with `\`, with `\;`
 * `\#` and `\\` unescaped. (Written here: the package is CommonJS, and loading it
 * cost the server ~40 ms at every start.)
 */
export function iniValue(text: string): string {
  const value = text.trim();
  const quoted = (value.startsWith('"') && value.endsWith('"')) ||
    (value.startsWith("'") && value.endsWith("'"));
  if (quoted) {
    const inner = value.startsWith("'") ? value.slice(1, -1) : value;
    try {
      return String(JSON.parse(inner));
    } catch {
      return inner;
    }
  }
  let out = "";
  let escaped = false;
  for (const c of value) {
    if (escaped) {
      out += "\\;#".includes(c) ? c : `\\${c}`;
      escaped = false;
    } else if (c === ";" || c === "#") {
      break;
    } else if (c === "\\") {
      escaped = true;
    } else {
      out += c;
    }
  }
  if (escaped) out += "\\";
  return out.trim();
}

function malformed(path: string, index: number, expected: string): ConfigError {
  return new ConfigError(`Cannot parse ${path}: line ${index + 1} (${expected})`);
}

// ---------------------------------------------------------------------------
// Client

/**
 * Loads the client configuration from flags, environment, the YAML file
 * (nested or dotted keys, case-insensitive) and defaults. The id has no
 * default: it must come from `--id` or `CLI_ID`.
 *
 * @throws {ConfigError} one line naming every bad or missing value, unknown or
 *   duplicate key, or the unreadable / unparseable file.
 */
export async function loadClientConfig(options: ClientOptions = {}): Promise<ClientConfig> {
  const configPath = options.configPath ?? DEFAULT_CLIENT_CONFIG_PATH;
  const text = await readConfigFile(configPath, options.configPath !== undefined);
  const problems: string[] = [];
  const file = text === undefined
    ? new Map<string, string>()
    : parseClientFile(text, { path: configPath, problems, yaml: await import("js-yaml") });
  const resolver = new Resolver<ClientFlag>(
    options.flags ?? {},
    options.env ?? Deno.env.toObject(),
    file,
  );
  resolver.problems.push(...problems);
  const id = resolver.value(CLIENT_FIELDS.id);
  if (resolver.setting(CLIENT_FIELDS.id) === undefined) {
    resolver.problems.push(
      `Missing client id: set --id or CLI_ID (expected ${CLIENT_FIELDS.id.expected})`,
    );
  }
  const serverAddress = resolver.value(CLIENT_FIELDS.serverAddress);
  const loopAmount = resolver.value(CLIENT_FIELDS.loopAmount);
  const loopPeriod = resolver.value(CLIENT_FIELDS.loopPeriod);
  const logLevel = resolver.value(CLIENT_FIELDS.logLevel);
  const batchMaxAmount = resolver.value(CLIENT_FIELDS.batchMaxAmount);
  const mode = resolver.value(CLIENT_FIELDS.mode);
  const dataPath = resolver.value(CLIENT_FIELDS.dataPath);
  const connectDeadline = resolver.value(CLIENT_FIELDS.connectDeadline);
  resolver.finish();
  return {
    configPath,
    id: id!.value,
    serverAddress: serverAddress!.value,
    loopAmount: loopAmount!.value,
    loopPeriod: loopPeriod!.text,
    loopPeriodMs: loopPeriod!.value,
    logLevel: logLevel!.value,
    batchMaxAmount: batchMaxAmount!.value,
    mode: mode!.value,
    dataPath: dataPath!.value.replaceAll("{id}", String(id!.value)),
    connectDeadline: connectDeadline!.text,
    connectDeadlineMs: connectDeadline!.value,
  };
}

const CLIENT_KEYS = Object.values(CLIENT_FIELDS)
  .map((field) => field.key)
  .filter((key) => key !== "id");
const CLIENT_SECTIONS = new Map<string, string[]>();
for (const key of CLIENT_KEYS) {
  const dot = key.indexOf(".");
  if (dot < 0) continue;
  const section = key.slice(0, dot);
  CLIENT_SECTIONS.set(section, [...(CLIENT_SECTIONS.get(section) ?? []), key.slice(dot + 1)]);
}

/** Keys a client config file may hold, nested ones included. */
const MAX_CLIENT_FILE_KEYS = 1000;

/** The part of js-yaml used here (the package ships no types). */
interface JsYaml {
  load(text: string, options: { schema: unknown }): unknown;
  FAILSAFE_SCHEMA: unknown;
}

/**
 * Reads the YAML text with js-yaml's failsafe schema (every scalar stays the text
 * as written), flattens mappings into dotted keys and matches them to the
 * known keys case-insensitively.
 */
function parseClientFile(
  text: string,
  context: { path: string; problems: string[]; yaml: JsYaml },
): Map<string, string> {
  const { path, problems, yaml } = context;
  let root: unknown;
  try {
    // Failsafe: every scalar stays the text as written; an empty value is null.
    root = yaml.load(text, { schema: yaml.FAILSAFE_SCHEMA }) ?? "";
  } catch (error) {
    const { reason, mark } = error as { reason?: string; mark?: { line: number; column: number } };
    const where = mark === undefined ? "" : ` at line ${mark.line + 1}, column ${mark.column + 1}`;
    throw new ConfigError(`Cannot parse ${path}: ${reason ?? String(error)}${where}`, {
      cause: error,
    });
  }
  if (root === null || root === undefined || root === "") return new Map();
  if (!isMapping(root)) {
    throw new ConfigError(`Cannot parse ${path}: expected a mapping of keys at the top level`);
  }
  const values = new Map<string, string>();
  const byLower = new Map(CLIENT_KEYS.map((key) => [key.toLowerCase(), key]));
  let keys = 0;
  const visit = (mapping: Record<string, unknown>, prefix: string): void => {
    for (const [key, raw] of Object.entries(mapping)) {
      // Aliases can make a few lines a tree of millions of keys: far more than a config.
      if (++keys > MAX_CLIENT_FILE_KEYS) {
        throw new ConfigError(`Cannot parse ${path}: more than ${MAX_CLIENT_FILE_KEYS} keys`);
      }
      const value = raw ?? "";
      const path_ = prefix === "" ? key : `${prefix}.${key}`;
      const lower = path_.toLowerCase();
      if (isMapping(value)) {
        visit(value, path_);
        continue;
      }
      const canonical = byLower.get(lower);
      if (canonical === undefined) {
        if (CLIENT_SECTIONS.has(lower)) {
          if (value === "") continue; // an empty section: all its keys commented out
          problems.push(
            `Invalid ${path_}: ${JSON.stringify(value)} (expected a mapping with ${
              CLIENT_SECTIONS.get(lower)!.join(", ")
            })`,
          );
        } else if (lower === "id" || lower === "cli_id") {
          problems.push(`Unknown key in ${path}: ${path_} (set the client id with --id or CLI_ID)`);
        } else {
          problems.push(unknownKey(path, path_, CLIENT_KEYS));
        }
        continue;
      }
      if (values.has(canonical)) {
        problems.push(`Duplicate key in ${path}: ${canonical}`);
        continue;
      }
      if (typeof value !== "string") {
        problems.push(`Invalid ${canonical}: a list (expected a single value)`);
        continue;
      }
      values.set(canonical, value);
    }
  };
  visit(root, "");
  return values;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------------------
// Shared helpers

/** The file's text; undefined when the default file is missing. */
async function readConfigFile(path: string, explicit: boolean): Promise<string | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      if (!explicit) return undefined;
      throw new ConfigError(`Config file not found: ${JSON.stringify(path)}`, { cause: error });
    }
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new ConfigError(`Cannot read config file ${JSON.stringify(path)}: ${reason}`, {
      cause: error,
    });
  }
  return text.startsWith("\uFEFF") ? text.slice(1) : text;
}

function unknownKey(path: string, key: string, known: readonly string[]): string {
  const suggestion = closest(key, known);
  return suggestion === undefined
    ? `Unknown key in ${path}: ${key} (expected one of ${known.join(", ")})`
    : `Unknown key in ${path}: ${key} (did you mean ${suggestion}?)`;
}
