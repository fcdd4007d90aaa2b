import assert from "node:assert/strict";
import { iniValue } from "./mod.ts";

Deno.test("iniValue() reads a value as the ini package did: quotes, comments, escapes", () => {
  const cases: [string, string][] = [
    ["  ./bets.csv  ; comment", "./bets.csv"],
    ["12345", "12345"],
    ["a#b", "a"],
    ["a\\;b", "a;b"],
    ["a\\#b", "a#b"],
    ["a\\\\b", "a\\b"],
    ["a \\x b", "a \\x b"],
    ['"a;b"', "a;b"],
    ["'a;b'", "a;b"],
    ['"\\u0041"', "A"],
    ["'\"x\"'", "x"],
    ['"unterminated', '"unterminated'],
    ["'", ""],
    ['"', '"'],
    ["'true'", "true"],
    ["", ""],
  ];
  for (const [text, value] of cases) assert.equal(iniValue(` ${text}`), value, text);
});
