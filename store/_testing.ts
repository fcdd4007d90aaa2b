/**
 * What the tests of this folder share: a valid bet to vary field by field.
 *
 * @module
 */

import type { Bet } from "./bet.ts";

/** A valid bet of agency 3 (José María Núñez on 7574), with `overrides` applied. */
export function testBet(overrides: Partial<Bet> = {}): Bet {
  return {
    agency: 3,
    firstName: "José María",
    lastName: "Núñez",
    document: "30904465",
    birthdate: "1999-03-17",
    number: 7574,
    ...overrides,
  };
}
