/**
 * What the codec tests of this folder share (`messages_test.ts`, `packed_test.ts`,
 * `bet_rows_test.ts`): a plain bet, bets on the edges of every field a BET_BATCH carries,
 * and {@linkcode errorOf}.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Bet } from "../store/mod.ts";

/** A plain valid bet of `agency`: Santiago Lionel Lorca on 7574. */
export function lorca(agency: number): Bet {
  return {
    agency,
    firstName: "Santiago Lionel",
    lastName: "Lorca",
    document: "30904465",
    birthdate: "1999-03-17",
    number: 7574,
  };
}

/** Bets of `agency` on the edges of the wire's fields: accents, quotes, 255 bytes, u32 max. */
export function trickyBets(agency: number): Bet[] {
  const base = lorca(agency);
  return [
    base,
    { ...base, firstName: "María José", lastName: "Pérez-Ñúñez", number: 0 },
    { ...base, firstName: 'O\'Brien, "Junior"', lastName: "D'Arcy, Jr.", number: 99999 },
    { ...base, firstName: "Zoë 漢字 🎲", lastName: "x", document: "1", number: 4294967295 },
    { ...base, firstName: "a".repeat(255), lastName: "é".repeat(127), document: "1234567890" },
  ];
}

/** The error `fn` throws (fails when it does not throw). */
export function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new assert.AssertionError({ message: "Expected an error" });
}
