/**
 * `tp0 client`: the command line of the client role (flags, configuration,
 * the exercise-5 bet, logging, signals, exit code) around
 * {@linkcode runAgency}. Its flags and their option lines come from the
 * client's field table (`CLIENT_FIELDS`).
 *
 * @module
 */

import type { Bet } from "../../store/mod.ts";
import { EXIT_OK } from "../../util/mod.ts";
import {
  CLIENT_FIELDS,
  type ClientConfig,
  DEFAULT_CLIENT_CONFIG_PATH,
  describeClientConfig,
  loadClientConfig,
  type RoleArgs,
  type RoleCli,
  runRole,
} from "../config/mod.ts";
import { log, setupLogging } from "../log.ts";
import { abortOnSignals } from "../shutdown.ts";
import { runAgency } from "./agency.ts";
import { singleBetFromEnv } from "./single_bet.ts";

/** What the client runs with: its configuration and the exercise-5 bet, if any. */
interface ClientSetup {
  config: ClientConfig;
  bet: Bet | undefined;
}

const CLIENT_CLI: RoleCli<typeof CLIENT_FIELDS, ClientSetup> = {
  name: "client",
  synopsis: "tp0 client --id <n> [options]",
  description: `Runs one agency. In lottery mode (the default) it sends its bets in batches,
says it is done and asks for its winners; in echo mode it sends
"[CLIENT {id}] Message N°{n}" loop.amount times, one every loop.period.`,
  configHelp: "YAML config",
  configPath: DEFAULT_CLIENT_CONFIG_PATH,
  fields: CLIENT_FIELDS,
  notes: `Precedence: flag > environment variable > config file > default.
A single bet comes from the environment instead of the file when NOMBRE,
APELLIDO, DOCUMENTO, NACIMIENTO and NUMERO are all set.

In lottery mode a dropped connection is reconnected and every batch not yet
acknowledged is sent again with the same id; the server stores each id once.
A bad bets file stops the client at the bad line, before AGENCY_DONE: fix it
and run the client again (same batch.maxAmount), the batches already stored
are acknowledged as duplicates. Echo mode fails on a dropped connection.
Exit codes: 0 all good, 1 the run failed or a batch was rejected, 2 bad usage or config.`,
  load: configure,
  run: runConfigured,
};

/** `tp0 client --id <n> [options]`. */
export function runClient(args: string[]): Promise<number> {
  return runRole(args, CLIENT_CLI);
}

/** The configuration, and the bet of exercise 5: configuration too, read once, checked here. */
async function configure(
  { configPath, flags }: RoleArgs<typeof CLIENT_FIELDS>,
): Promise<ClientSetup> {
  const config = await loadClientConfig({ configPath, flags });
  const bet = config.mode === "lottery"
    ? singleBetFromEnv(Deno.env.toObject(), config.id)
    : undefined;
  return { config, bet };
}

/** Logs the configuration, then runs the agency until it ends or a signal stops it. */
async function runConfigured({ config, bet }: ClientSetup): Promise<number> {
  setupLogging(config.logLevel);
  log.info({ action: "config", result: "success", ...describeClientConfig(config) });
  const controller = new AbortController();
  using _signals = abortOnSignals(controller);
  const code = await runAgency(config, { signal: controller.signal, bet });
  log.info({ action: "finished", result: code === EXIT_OK ? "success" : "fail", code });
  return code;
}
