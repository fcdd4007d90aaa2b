/**
 * One agency's run in its configured mode, echo or lottery, over one
 * {@linkcode Link}: what `tp0 client` does once its configuration is loaded.
 *
 * @module
 */

import { ErrorCode, importAgencyKey } from "../../protocol/mod.ts";
import type { Bet } from "../../store/mod.ts";
import { EXIT_FAIL } from "../../util/mod.ts";
import type { ClientConfig } from "../config/mod.ts";
import { log } from "../log.ts";
import { describe, stopped } from "./_outcome.ts";
import type { Backoff } from "./backoff.ts";
import { Link } from "./connect.ts";
import { echoLoop } from "./echo.ts";
import { AuthError, ConnectError, ServerError } from "./errors.ts";
import { LotteryRun } from "./lottery_run.ts";

/** Options of {@linkcode runAgency}. */
export interface RunAgencyOptions {
  /** Aborting it stops the client at once (SIGTERM). */
  signal?: AbortSignal;
  /** The bet of exercise 5 (see `singleBetFromEnv`), sent instead of the bets file. */
  bet?: Bet;
  /** The pause between connection attempts and reconnects. @default DEFAULT_BACKOFF */
  backoff?: Backoff;
}

/** Runs the client in its configured mode; returns the exit code. */
export async function runAgency(
  config: ClientConfig,
  options: RunAgencyOptions = {},
): Promise<number> {
  const signal = options.signal ?? new AbortController().signal;
  const { backoff } = options;
  const auth = config.key === undefined
    ? undefined
    : { agency: config.id, key: await importAgencyKey(config.key) };
  const link = new Link({ ...config, signal, backoff, auth });
  try {
    if (config.mode === "echo") {
      const peer = await link.connect();
      return await echoLoop(peer, { config, signal });
    }
    return await new LotteryRun(link, { config, signal, bet: options.bet, backoff }).run();
  } catch (error) {
    if (signal.aborted) return stopped(signal);
    if (error instanceof ConnectError) {
      log.error({
        action: "connect",
        result: "fail",
        server_address: config.serverAddress,
        reason: error.reason,
        attempts: error.attempts,
      });
      return EXIT_FAIL;
    }
    if (error instanceof AuthError || isRefusedAuth(error)) {
      log.error({ action: "auth", result: "fail", agency: config.id, reason: describe(error) });
      return EXIT_FAIL;
    }
    log.error({ action: "client", result: "fail", client_id: config.id, reason: describe(error) });
    return EXIT_FAIL;
  } finally {
    link.dispose();
  }
}

function isRefusedAuth(error: unknown): boolean {
  return error instanceof ServerError && error.code === ErrorCode.UNAUTHENTICATED;
}
