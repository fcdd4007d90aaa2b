/**
 * `tp0 server`: the command line of the server role (flags, configuration,
 * logging, signals, exit code) around {@linkcode startServer}. Its flags and
 * their option lines come from the server's field table (`SERVER_FIELDS`).
 *
 * @module
 */

import { describeError, EXIT_FAIL, EXIT_OK } from "../../util/mod.ts";
import {
  DEFAULT_SERVER_CONFIG_PATH,
  describeServerConfig,
  loadServerConfig,
  type RoleCli,
  runRole,
  SERVER_FIELDS,
  type ServerConfig,
} from "../config/mod.ts";
import { log, setupLogging } from "../log.ts";
import { abortOnSignals } from "../shutdown.ts";
import { type ServerHandle, startServer } from "./server.ts";

const SERVER_CLI: RoleCli<typeof SERVER_FIELDS, ServerConfig> = {
  name: "server",
  synopsis: "tp0 server [options]",
  description: `Runs the lottery server: receives bets from the agencies, stores them durably,
runs the draw when every agency is done and answers each agency's winners.
It also echoes plain text lines (netcat) and ECHO frames on the same port.`,
  configHelp: "INI file, section [DEFAULT]",
  configPath: DEFAULT_SERVER_CONFIG_PATH,
  fields: SERVER_FIELDS,
  notes: `Precedence: flag > environment variable > config file > default.
At start the server recovers from the journal: it cuts rows that were never
acknowledged, and resumes each agency's batch sequence and the agencies done.
SIGTERM or SIGINT closes the listener, every connection and the storage, then exits 0.`,
  load: ({ configPath, flags }) => loadServerConfig({ configPath, flags }),
  run: serve,
};

/** `tp0 server [options]`: runs the server until SIGTERM or SIGINT. */
export function runServer(args: string[]): Promise<number> {
  return runRole(args, SERVER_CLI);
}

/**
 * What the server's keys mean for this run: one line, and a WARNING for each risk (its
 * `result` stays `success`: the server runs, and a `fail` line is a refused request).
 */
function logAgencyKeys(config: ServerConfig): void {
  const loaded = config.agencyKeys;
  if (loaded === undefined) {
    log.warning({
      action: "agency_keys",
      result: "success",
      keys: "none",
      warning: "no AGENCY_KEYS_PATH: agencies are not authenticated " +
        "(anyone who reaches the port can bet, close or ask winners for any agency)",
    });
    return;
  }
  const path = config.agencyKeysPath;
  log.info({ action: "agency_keys", result: "success", path, keys: loaded.keys.size });
  if (loaded.everyoneMayRead) {
    log.warning({
      action: "agency_keys",
      result: "success",
      path,
      warning: "the keys file is readable by every user (chmod 600 it)",
    });
  }
  const missing: number[] = [];
  for (let agency = 1; agency <= config.agencies; agency++) {
    if (!loaded.keys.has(agency)) missing.push(agency);
  }
  if (missing.length > 0) {
    log.warning({
      action: "agency_keys",
      result: "success",
      path,
      warning: `no key for agency ${missing.join(", ")}: it cannot authenticate`,
    });
  }
}

/** Logs the configuration, then serves until SIGTERM or SIGINT; returns the exit code. */
async function serve(config: ServerConfig): Promise<number> {
  setupLogging(config.loggingLevel);
  log.info({ action: "config", result: "success", ...describeServerConfig(config) });
  logAgencyKeys(config);
  const controller = new AbortController();
  using _signals = abortOnSignals(controller);
  let server: ServerHandle;
  try {
    server = await startServer(config, { signal: controller.signal });
  } catch (error) {
    log.critical({ action: "server_start", result: "fail", error: describeError(error) });
    return EXIT_FAIL;
  }
  await server.finished;
  log.info({ action: "finished", result: "success", code: EXIT_OK });
  return EXIT_OK;
}
