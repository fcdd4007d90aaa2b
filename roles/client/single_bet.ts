/**
 * The bet of exercise 5: one bet given in the environment (`NOMBRE`,
 * `APELLIDO`, `DOCUMENTO`, `NACIMIENTO`, `NUMERO`) instead of a bets file.
 * It is configuration: read once at start, and a bad one stops the client
 * there (exit 2).
 *
 * @module
 */

import {
  type Bet,
  betToAgencyRow,
  packedCapacity,
  type PackedRecords,
  validateBet,
} from "../../store/mod.ts";
import { ConfigError } from "../config/mod.ts";

/** Environment variables that describe one bet (exercise 5). */
const SINGLE_BET_ENV = ["NOMBRE", "APELLIDO", "DOCUMENTO", "NACIMIENTO", "NUMERO"] as const;

/**
 * The bet of exercise 5, when NOMBRE, APELLIDO, DOCUMENTO, NACIMIENTO and
 * NUMERO are set; undefined when none is.
 *
 * @throws {ConfigError} when only some are set, or the bet is not one the server would store.
 */
export function singleBetFromEnv(
  env: Record<string, string | undefined>,
  agency: number,
): Bet | undefined {
  const present = SINGLE_BET_ENV.filter((name) => env[name] !== undefined);
  if (present.length === 0) return undefined;
  if (present.length < SINGLE_BET_ENV.length) {
    const missing = SINGLE_BET_ENV.filter((name) => env[name] === undefined);
    throw new ConfigError(`Incomplete bet in the environment: missing ${missing.join(", ")}`);
  }
  const number = Number(env.NUMERO);
  if (!/^\d+$/.test(env.NUMERO!) || !Number.isSafeInteger(number)) {
    throw new ConfigError(`Invalid NUMERO: "${env.NUMERO}" (expected an integer 0..99999)`);
  }
  const bet = {
    agency,
    firstName: env.NOMBRE!,
    lastName: env.APELLIDO!,
    document: env.DOCUMENTO!,
    birthdate: env.NACIMIENTO!,
    number,
  };
  // Checked as the server will check it: a bad bet stops the client at start (exit 2).
  const problem = validateBet(bet, { agencies: agency });
  if (problem !== undefined) {
    throw new ConfigError(`Invalid bet in ${SINGLE_BET_ENV.join(", ")}: ${problem}`);
  }
  return bet;
}

/** `bet` as the one chunk of a records source, like a file of one line (see `readAgencyRecords`). */
export async function* oneBet(bet: Bet): AsyncGenerator<PackedRecords> {
  const bytes = new TextEncoder().encode(betToAgencyRow(bet));
  yield {
    ...packedCapacity(undefined, 1),
    count: 1,
    bytes,
    lines: Int32Array.of(1),
    starts: Int32Array.of(0),
    ends: Int32Array.of(bytes.length),
  };
}
