/**
 * The client role: an agency. {@linkcode runClient} is `tp0 client`;
 * {@linkcode runAgency} runs one with a loaded configuration. In `echo` mode
 * it sends numbered messages and checks each answer; in `lottery` mode it
 * streams its bets file to the server in batches, says it is done, and asks
 * for its winners.
 *
 * @module
 */

export { runAgency, type RunAgencyOptions } from "./agency.ts";
export {
  type Backoff,
  DEFAULT_BACKOFF,
  equalJitterBackoff,
  type EqualJitterOptions,
} from "./backoff.ts";
export { connectWithRetry, type ConnectWithRetryOptions } from "./connect.ts";
export { ConnectError, ServerError } from "./errors.ts";
export { runClient } from "./main.ts";
export { singleBetFromEnv } from "./single_bet.ts";
export { BATCH_WINDOW } from "./window.ts";
