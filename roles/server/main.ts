/**
 * `tp0 server`: the command line of the server role (flags, configuration,
 * logging, signals, exit code) around {@linkcode startServer}. Its flags and
 * their option lines come from the server's field table (`SERVER_FIELDS`).
 *
 * @module
 */

import {
  describeError,
  EXIT_FAIL,
  EXIT_OK,
  EXIT_USAGE,
  printErr,
  printOut,
  runCommand,
} from "../../util/mod.ts";
import {
  ConfigError,
  DEFAULT_SERVER_CONFIG_PATH,
  describeServerConfig,
  loadServerConfig,
  parseRoleArgs,
  type RoleCommand,
  roleUsage,
  SERVER_FIELDS,
  type ServerConfig,
} from "../config/mod.ts";
import { log, setupLogging } from "../log.ts";
import { abortOnSignals } from "../shutdown.ts";
import { type ServerHandle, startServer } from "./server.ts";

const COMMAND: RoleCommand<typeof SERVER_FIELDS> = {
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
};

const USAGE = roleUsage(COMMAND);

/** `tp0 server [options]`: runs the server until SIGTERM or SIGINT. */
export function runServer(args: string[]): Promise<number> {
  return runCommand(USAGE, async () => {
    const { help, configPath, flags } = parseRoleArgs(args, COMMAND);
    if (help) {
      printOut(USAGE);
      return EXIT_OK;
    }
    let config: ServerConfig;
    try {
      config = await loadServerConfig({ configPath, flags });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      printErr(`tp0 server: ${error.message}`);
      return EXIT_USAGE;
    }
    setupLogging(config.loggingLevel);
    log.info({ action: "config", result: "success", ...describeServerConfig(config) });

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
  });
}
