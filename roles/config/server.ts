/**
 * The server's configuration: its field table (every key, variable, flag,
 * default and help line of `tp0 server`), {@linkcode loadServerConfig} and
 * the fields of its startup `action: config` line.
 *
 * @example
 * ```ts
 * const config = await loadServerConfig({ flags: { port: "0" } });
 * log.info({ action: "config", result: "success", ...describeServerConfig(config) });
 * ```
 *
 * @module
 */

import type { LogLevel } from "../log.ts";
import {
  checkHost,
  checkPath,
  integerIn,
  LOG_LEVEL_VALUE,
  optional,
  waitDuration,
} from "./checks.ts";
import { type ConfigOptions, type Field, loadConfig, type LoadedConfig } from "./fields.ts";
import { readIni } from "./ini.ts";
import { type AgencyKeys, readAgencyKeys } from "./keys.ts";
import { redactStoreUrl, STORE_FIELDS, type StoreConfig } from "./store.ts";

/** Config file the server reads when none is given. */
export const DEFAULT_SERVER_CONFIG_PATH = "config/server.ini";
/**
 * Default of `MAX_CONNECTIONS`: far more than the agencies of a lottery, and a
 * bound on memory (each connection holds a 64 KiB read buffer: 16 MiB in all).
 */
export const DEFAULT_MAX_CONNECTIONS = 256;
/**
 * Default of `MAX_HANDSHAKES`: connections not authenticated yet held at once (with keys);
 * past it the oldest is closed. Many times the agencies of a lottery, and a bound on memory.
 */
export const DEFAULT_MAX_HANDSHAKES = 128;

/** What may be given to {@linkcode loadServerConfig} (all optional): an INI file, env, flags. */
export type ServerOptions = ConfigOptions<typeof SERVER_FIELDS>;

/** The resolved, validated server configuration. */
export interface ServerConfig extends LoadedConfig, StoreConfig {
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
  /** The agencies' keys file (`<agency>:<64 hex digits>` lines); empty: no authentication. */
  agencyKeysPath: string;
  /** Longest time from accept to AUTH_OK (with keys), as written (`5s`). */
  authTimeout: string;
  /** {@linkcode ServerConfig.authTimeout} in milliseconds, > 0. */
  authTimeoutMs: number;
  /** Connections not authenticated yet held at once (with keys), 1..65535; then the oldest goes. */
  maxHandshakes: number;
  /** The keys read from {@linkcode ServerConfig.agencyKeysPath}; none without a path. */
  agencyKeys?: AgencyKeys;
}

/**
 * The server's fields, in the order they are resolved and errors name them.
 * Each key is also an environment variable of the same name.
 */
export const SERVER_FIELDS = {
  port: {
    key: "SERVER_PORT",
    env: "SERVER_PORT",
    flag: "port",
    arg: "<n>",
    help: "TCP port, 0 = any free port",
    fallback: "12345",
    check: integerIn(0, 65535),
    expected: "an integer 0..65535",
  } satisfies Field<number>,
  listenBacklog: {
    key: "SERVER_LISTEN_BACKLOG",
    env: "SERVER_LISTEN_BACKLOG",
    flag: "listen-backlog",
    arg: "<n>",
    help: "listen backlog",
    fallback: "5",
    check: integerIn(1, 65535),
    expected: "an integer 1..65535",
  } satisfies Field<number>,
  loggingLevel: {
    key: "LOGGING_LEVEL",
    env: "LOGGING_LEVEL",
    flag: "logging-level",
    ...LOG_LEVEL_VALUE,
  } satisfies Field<LogLevel>,
  agencies: {
    key: "AGENCIES",
    env: "AGENCIES",
    flag: "agencies",
    arg: "<n>",
    help: "agencies to wait for before the draw",
    fallback: "5",
    check: integerIn(1, 65535),
    expected: "an integer 1..65535",
  } satisfies Field<number>,
  storagePath: {
    key: "STORAGE_PATH",
    env: "STORAGE_PATH",
    flag: "storage",
    arg: "<path>",
    help: "CSV file where bets are stored; its commit journal is <path>.journal",
    fallback: "./bets.csv",
    check: checkPath,
    expected: "a non-empty path",
  } satisfies Field<string>,
  host: {
    key: "SERVER_HOST",
    env: "SERVER_HOST",
    flag: "host",
    arg: "<addr>",
    help: "address to listen on",
    fallback: "0.0.0.0",
    check: checkHost,
    expected: "a host name or IP address",
  } satisfies Field<string>,
  readTimeout: {
    key: "READ_TIMEOUT",
    env: "READ_TIMEOUT",
    flag: "read-timeout",
    arg: "<d>",
    help: "close a connection stalled inside a frame",
    fallback: "10s",
    check: waitDuration(false),
    expected: "a Go duration > 0 and <= 24h, like 500ms, 10s, 1m",
    asWritten: true,
  } satisfies Field<number>,
  idleTimeout: {
    key: "IDLE_TIMEOUT",
    env: "IDLE_TIMEOUT",
    flag: "idle-timeout",
    arg: "<d>",
    help: "close a connection silent between frames",
    fallback: "60s",
    check: waitDuration(false),
    expected: "a Go duration > 0 and <= 24h, like 30s, 1m, 5m",
    asWritten: true,
  } satisfies Field<number>,
  maxConnections: {
    key: "MAX_CONNECTIONS",
    env: "MAX_CONNECTIONS",
    flag: "max-connections",
    arg: "<n>",
    help: "connections served at once; more get BUSY",
    fallback: String(DEFAULT_MAX_CONNECTIONS),
    check: integerIn(1, 65535),
    expected: "an integer 1..65535",
  } satisfies Field<number>,
  serverIp: {
    key: "SERVER_IP",
    env: "SERVER_IP",
    flag: "server-ip",
    arg: "<name>",
    help: "the name agencies reach this server at; logged only, --host is where it listens",
    fallback: "server",
    check: checkHost,
    expected: "a host name or IP address",
  } satisfies Field<string>,
  winnersDelay: {
    key: "WINNERS_DELAY",
    env: "WINNERS_DELAY",
    flag: "winners-delay",
    arg: "<d>",
    help: "wait this long after the draw's log line before sending winners, " +
      "so merged logs show it first",
    fallback: "0s",
    check: waitDuration(true),
    expected: "a Go duration >= 0 and <= 24h, like 0s, 500ms, 2s",
    asWritten: true,
  } satisfies Field<number>,
  agencyKeysPath: {
    key: "AGENCY_KEYS_PATH",
    env: "AGENCY_KEYS_PATH",
    flag: "agency-keys",
    arg: "<path>",
    help: "file of <agency>:<64 hex digits> lines: agencies must prove they hold their key; " +
      "none = no authentication (protocol version 1)",
    fallback: "",
    check: optional(checkPath),
    expected: "a path without control characters",
  } satisfies Field<string>,
  authTimeout: {
    key: "AUTH_TIMEOUT",
    env: "AUTH_TIMEOUT",
    flag: "auth-timeout",
    arg: "<d>",
    help: "with keys: close a connection not authenticated this long after accept",
    fallback: "5s",
    check: waitDuration(false),
    expected: "a Go duration > 0 and <= 24h, like 2s, 5s, 10s",
    asWritten: true,
  } satisfies Field<number>,
  maxHandshakes: {
    key: "MAX_HANDSHAKES",
    env: "MAX_HANDSHAKES",
    flag: "max-handshakes",
    arg: "<n>",
    help: "with keys: connections not authenticated yet held at once (not counted in " +
      "MAX_CONNECTIONS); past it the oldest is closed",
    fallback: String(DEFAULT_MAX_HANDSHAKES),
    check: integerIn(1, 65535),
    expected: "an integer 1..65535",
  } satisfies Field<number>,
  // STORE_URL, STORE_PASSWORD_FILE, STORE_DEADLINE, REPLICA_NAME (store.ts).
  ...STORE_FIELDS,
};

/** The server's fields, its default file and that file's format (INI, see `readIni`). */
const SERVER_SCHEMA = {
  fields: SERVER_FIELDS,
  defaultPath: DEFAULT_SERVER_CONFIG_PATH,
  reader: readIni,
};

/**
 * Loads the server configuration: flag > environment > INI file (see `readIni`) > default;
 * then the agencies' keys file, when `AGENCY_KEYS_PATH` names one.
 * @throws {ConfigError} one line naming every bad value, unknown or duplicate key, or bad
 *   file (a keys file's bad line by its number).
 */
export async function loadServerConfig(options: ServerOptions = {}): Promise<ServerConfig> {
  const config: ServerConfig = await loadConfig(SERVER_SCHEMA, options);
  if (config.agencyKeysPath === "") return config;
  return { ...config, agencyKeys: await readAgencyKeys(config.agencyKeysPath) };
}

/**
 * The fields of the server's startup `action: config` line, in order, values
 * as configured: `port, listen_backlog, logging_level, agencies, storage_path,
 * read_timeout, idle_timeout, max_connections, host, server_ip, winners_delay,
 * agency_keys, auth_timeout, max_handshakes` (the course's first three first; what this
 * server adds after them). The keys file is named by its path (`none` without one), never
 * by its content.
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
    agency_keys: config.agencyKeysPath === "" ? "none" : config.agencyKeysPath,
    auth_timeout: config.authTimeout,
    max_handshakes: config.maxHandshakes,
    ...(config.storeUrl === "" ? {} : {
      store: redactStoreUrl(config.storeUrl),
      replica: config.replicaName === "" ? Deno.hostname() : config.replicaName,
    }),
  };
}
