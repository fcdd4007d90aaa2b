/**
 * The client's configuration: its field table (every key, variable, flag,
 * default and help line of `tp0 client`), {@linkcode loadClientConfig} and
 * the fields of its startup `action: config` line.
 *
 * @example
 * ```ts
 * const config = await loadClientConfig({ flags: { id: "3" } });
 * log.info({ action: "config", result: "success", ...describeClientConfig(config) });
 * ```
 *
 * @module
 */

import { ADDRESS_EXPECTED } from "../../util/mod.ts";
import type { LogLevel } from "../log.ts";
import {
  checkAddress,
  checkDuration,
  checkPath,
  integerIn,
  LOG_LEVEL_VALUE,
  oneOf,
  optional,
  waitDuration,
} from "./checks.ts";
import { type ConfigOptions, type Field, loadConfig, type LoadedConfig } from "./fields.ts";
import { readAgencyKey } from "./keys.ts";
import { readYaml } from "./yaml.ts";

/** Config file the client reads when none is given. */
export const DEFAULT_CLIENT_CONFIG_PATH = "config/client.yaml";
/** Upper bound of `batch.maxAmount`; the client also caps each batch by frame bytes. */
export const MAX_BATCH_AMOUNT = 8192;

/** What a client does. */
export type ClientMode = "echo" | "lottery";

/** What may be given to {@linkcode loadClientConfig}: a YAML file, env, flags (an id somewhere). */
export type ClientOptions = ConfigOptions<typeof CLIENT_FIELDS>;

/** The resolved, validated client configuration. */
export interface ClientConfig extends LoadedConfig {
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
  mode: ClientMode;
  /** Agency CSV file, `{id}` replaced by the id (default `.data/agency-{id}.csv`). */
  dataPath: string;
  /**
   * How long to keep trying to (re)connect to the server without progress, as
   * written (`30s`); `0` means a single attempt.
   */
  connectDeadline: string;
  /** {@linkcode ClientConfig.connectDeadline} in milliseconds, >= 0. */
  connectDeadlineMs: number;
  /** The agency's key file (64 hex digits); empty: no key, protocol version 1. */
  keyPath: string;
  /** The key read from {@linkcode ClientConfig.keyPath}; none without a path. */
  key?: Uint8Array;
}

/** The client's fields, in the order they are resolved and errors name them. */
export const CLIENT_FIELDS = {
  id: {
    key: "id",
    env: "CLI_ID",
    flag: "id",
    arg: "<n>",
    help: "agency number",
    check: integerIn(1, 65535),
    expected: "an integer 1..65535",
    inFile: false,
    label: "client id",
  } satisfies Field<number>,
  serverAddress: {
    key: "server.address",
    env: "CLI_SERVER_ADDRESS",
    flag: "server-address",
    arg: "<h:p>",
    help: "server address",
    fallback: "server:12345",
    check: checkAddress,
    expected: ADDRESS_EXPECTED,
  } satisfies Field<string>,
  loopAmount: {
    key: "loop.amount",
    env: "CLI_LOOP_AMOUNT",
    flag: "loop-amount",
    arg: "<n>",
    help: "echo messages to send",
    fallback: "5",
    check: integerIn(0, Number.MAX_SAFE_INTEGER),
    expected: "an integer >= 0",
  } satisfies Field<number>,
  loopPeriod: {
    key: "loop.period",
    env: "CLI_LOOP_PERIOD",
    flag: "loop-period",
    arg: "<d>",
    help: "pause between echo messages, e.g. 5s",
    fallback: "5s",
    check: checkDuration,
    expected: "a Go duration like 100ms, 5s, 1m30s",
    asWritten: true,
  } satisfies Field<number>,
  logLevel: {
    key: "log.level",
    env: "CLI_LOG_LEVEL",
    flag: "log-level",
    ...LOG_LEVEL_VALUE,
  } satisfies Field<LogLevel>,
  batchMaxAmount: {
    key: "batch.maxAmount",
    env: "CLI_BATCH_MAXAMOUNT",
    flag: "batch-max-amount",
    arg: "<n>",
    help: "most bets per batch; a batch is also cut to fit one 8 KiB frame",
    fallback: String(MAX_BATCH_AMOUNT),
    check: integerIn(1, MAX_BATCH_AMOUNT),
    expected: `an integer 1..${MAX_BATCH_AMOUNT}`,
  } satisfies Field<number>,
  mode: {
    key: "mode",
    env: "CLI_MODE",
    flag: "mode",
    arg: "<mode>",
    help: "lottery or echo",
    fallback: "lottery",
    check: oneOf<ClientMode>(["lottery", "echo"]),
    expected: "lottery or echo",
  } satisfies Field<ClientMode>,
  dataPath: {
    key: "data.path",
    env: "CLI_DATA_PATH",
    flag: "data",
    arg: "<path>",
    help: "bets file",
    fallback: ".data/agency-{id}.csv",
    check: checkPath,
    expected: "a non-empty path",
  } satisfies Field<string>,
  connectDeadline: {
    key: "connect.deadline",
    env: "CLI_CONNECT_DEADLINE",
    flag: "connect-deadline",
    arg: "<d>",
    help: "keep retrying to (re)connect this long",
    fallback: "30s",
    check: waitDuration(true),
    expected: "a Go duration >= 0 and <= 24h, like 500ms, 30s, 2m",
    asWritten: true,
  } satisfies Field<number>,
  keyPath: {
    key: "key.path",
    env: "CLI_KEY_PATH",
    flag: "key",
    arg: "<path>",
    help: "file holding this agency's key (64 hex digits): the client proves it holds " +
      "it (protocol version 2); none = no authentication",
    fallback: "",
    check: optional(checkPath),
    expected: "a path without control characters",
  } satisfies Field<string>,
};

/** The client's fields, its default file and that file's format (YAML, see `readYaml`). */
const CLIENT_SCHEMA = {
  fields: CLIENT_FIELDS,
  defaultPath: DEFAULT_CLIENT_CONFIG_PATH,
  reader: readYaml,
};

/**
 * Loads the client configuration: flag > environment > YAML file (see `readYaml`) > default;
 * the id has no default (`--id` or `CLI_ID`), `{id}` in `data.path` and `key.path` becomes
 * the id, and the key file is read when `key.path` names one.
 * @throws {ConfigError} one line naming every bad or missing value, unknown or duplicate key,
 *   or bad file.
 */
export async function loadClientConfig(options: ClientOptions = {}): Promise<ClientConfig> {
  const loaded = await loadConfig(CLIENT_SCHEMA, options);
  const id = String(loaded.id);
  const config: ClientConfig = {
    ...loaded,
    dataPath: loaded.dataPath.replaceAll("{id}", id),
    keyPath: loaded.keyPath.replaceAll("{id}", id),
  };
  if (config.keyPath === "") return config;
  return { ...config, key: await readAgencyKey(config.keyPath) };
}

/**
 * The fields of the client's startup `action: config` line, in order, values
 * as configured: `client_id, server_address, loop_amount, loop_period,
 * log_level, mode, batch_max_amount, data_path, connect_deadline, key` (the key file's
 * path, `none` without one; never its content).
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
    key: config.keyPath === "" ? "none" : config.keyPath,
  };
}
