import assert from "node:assert/strict";
import { testBet } from "./_testing.ts";
import { type Bet, hasWon, LOTTERY_WINNER_NUMBER, validateBet } from "./bet.ts";

const TODAY = new Date("2024-08-21T15:00:00Z");
const OPTIONS = { agencies: 5, today: TODAY };

function bet(overrides: Partial<Bet> = {}): Bet {
  return testBet({ agency: 1, ...overrides });
}

Deno.test("validateBet() accepts good bets, edge values included", () => {
  const good: Partial<Bet>[] = [
    {},
    { agency: 5, number: 0 },
    { number: 99999 },
    { firstName: 'D\'Alessandro, "Pocho"', lastName: "Ibáñez Gómez" },
    { firstName: " Ana ", lastName: "Ñ" },
    { document: "1" },
    { document: "1234567890" },
    { birthdate: "1900-01-01" },
    { birthdate: "2000-02-29" },
    { birthdate: "2024-08-21" },
  ];
  for (const overrides of good) {
    assert.equal(validateBet(bet(overrides), OPTIONS), undefined, JSON.stringify(overrides));
  }
});

Deno.test("validateBet() names the field and the value of each bad case", () => {
  const cases: [Partial<Bet>, string][] = [
    [{ agency: 0 }, "Invalid agency: 0 (expected an integer 1..5)"],
    [{ agency: 6 }, "Invalid agency: 6 (expected an integer 1..5)"],
    [{ agency: 1.5 }, "Invalid agency: 1.5 (expected an integer 1..5)"],
    [{ agency: Number.NaN }, "Invalid agency: NaN (expected an integer 1..5)"],
    [
      { firstName: "" },
      'Invalid first_name: "" (expected non-empty text without control characters)',
    ],
    [
      { firstName: "  \u3000 " },
      'Invalid first_name: "  \u3000 " (expected non-empty text without control characters)',
    ],
    [
      { lastName: "" },
      'Invalid last_name: "" (expected non-empty text without control characters)',
    ],
    [
      { lastName: "Pérez\tGómez" },
      'Invalid last_name: "Pérez\\tGómez" (expected non-empty text without control characters)',
    ],
    [{ document: "12a" }, 'Invalid document: "12a" (expected 1-10 digits)'],
    [{ document: "12345678901" }, 'Invalid document: "12345678901" (expected 1-10 digits)'],
    [{ document: "" }, 'Invalid document: "" (expected 1-10 digits)'],
    [{ document: "١٢٣" }, 'Invalid document: "١٢٣" (expected 1-10 digits)'],
    ...["1999-02-30", "2099-01-01", "17-03-1999", "1899-12-31", "1900-02-29", "2024-08-22"]
      .map((birthdate): [Partial<Bet>, string] => [
        { birthdate },
        `Invalid birthdate: "${birthdate}" (expected a real YYYY-MM-DD date from 1900 on, not in the future)`,
      ]),
    [{ number: -1 }, "Invalid number: -1 (expected an integer 0..99999)"],
    [{ number: 100000 }, "Invalid number: 100000 (expected an integer 0..99999)"],
    [{ number: 1.5 }, "Invalid number: 1.5 (expected an integer 0..99999)"],
  ];
  for (const [overrides, reason] of cases) {
    assert.equal(validateBet(bet(overrides), OPTIONS), reason);
  }
});

Deno.test("validateBet() keeps the reason on one line and short for any value", () => {
  const reason = validateBet(bet({ firstName: "Ana\nMaría" }), OPTIONS);
  assert.equal(
    reason,
    'Invalid first_name: "Ana\\nMaría" (expected non-empty text without control characters)',
  );
  const long = validateBet(bet({ document: "9".repeat(10_000) }), OPTIONS)!;
  assert.ok(long.length < 200, long);
  assert.ok(!long.includes("\n"));
  assert.match(long, /^Invalid document: "9+…" \(expected 1-10 digits\)$/);
});

Deno.test("validateBet() rejects values of the wrong type without throwing", () => {
  const wrong = { ...bet(), document: 30904465, number: "7574" } as unknown as Bet;
  assert.equal(validateBet(wrong, OPTIONS), "Invalid document: 30904465 (expected 1-10 digits)");
  const wrongNumber = { ...bet(), number: "7574" } as unknown as Bet;
  assert.equal(
    validateBet(wrongNumber, OPTIONS),
    'Invalid number: "7574" (expected an integer 0..99999)',
  );
});

Deno.test("validateBet() compares birthdates with the UTC day of `today`, defaulting to now", () => {
  const lateEvening = new Date("2024-08-21T23:59:59.999Z");
  assert.equal(
    validateBet(bet({ birthdate: "2024-08-21" }), { agencies: 5, today: lateEvening }),
    undefined,
  );
  const nextMorning = new Date("2024-08-22T00:00:00Z");
  assert.equal(
    validateBet(bet({ birthdate: "2024-08-22" }), { agencies: 5, today: nextMorning }),
    undefined,
  );
  assert.notEqual(
    validateBet(bet({ birthdate: "2024-08-22" }), { agencies: 5, today: lateEvening }),
    undefined,
  );
  const now = new Date().toISOString().slice(0, 10);
  assert.equal(validateBet(bet({ birthdate: now }), { agencies: 5 }), undefined);
  const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
  assert.notEqual(validateBet(bet({ birthdate: tomorrow }), { agencies: 5 }), undefined);
});

Deno.test("hasWon() is true only for the number 7574", () => {
  assert.equal(LOTTERY_WINNER_NUMBER, 7574);
  assert.equal(hasWon(bet({ number: 7574 })), true);
  assert.equal(hasWon(bet({ number: 7575 })), false);
  assert.equal(hasWon(bet({ number: 0 })), false);
});
