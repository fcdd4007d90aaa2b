import assert from "node:assert/strict";
import { formatDuration, parseDuration } from "./duration.ts";

Deno.test("parseDuration() reads Go durations into milliseconds", () => {
  const cases: [string, number][] = [
    ["0", 0],
    ["0s", 0],
    ["100ms", 100],
    ["5s", 5_000],
    ["1m30s", 90_000],
    ["1h", 3_600_000],
    ["1.5h", 5_400_000],
    ["1.5s", 1_500],
    [".5s", 500],
    ["5.s", 5_000],
    ["300us", 0.3],
    ["300µs", 0.3],
    ["300μs", 0.3],
    ["250ns", 0.00025],
    ["1h2m3s4ms5us6ns", 3_723_004.005006],
    ["2h45m", 9_900_000],
    ["+5s", 5_000],
    ["0.1s", 100],
  ];
  for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
});

Deno.test("parseDuration() rejects anything but Go syntax with the documented message", () => {
  const bad = [
    "5x",
    "",
    "5",
    "00",
    "-5s",
    "-0",
    "5 s",
    " 5s",
    "5s ",
    "s",
    ".s",
    "1..5s",
    "5S",
    "1d",
  ];
  for (const text of bad) {
    assert.throws(() => parseDuration(text), {
      name: "RangeError",
      message: `Invalid duration: ${
        JSON.stringify(text)
      } (expected Go syntax like 100ms, 5s, 1m30s)`,
    }, text);
  }
});

Deno.test("parseDuration() rejects durations longer than Go can hold", () => {
  assert.equal(parseDuration("2562047h47m16.854775807s"), 9_223_372_036_854.775);
  assert.throws(() => parseDuration("2562048h"), {
    name: "RangeError",
    message: 'Invalid duration: "2562048h" (expected at most 2562047h47m16.854775807s)',
  });
});

Deno.test("formatDuration() writes what Go's Duration.String writes", () => {
  const cases: [number, string][] = [
    [0, "0s"],
    [0.00025, "250ns"],
    [0.3, "300µs"],
    [0.0015, "1.5µs"],
    [100, "100ms"],
    [1.5, "1.5ms"],
    [1_500, "1.5s"],
    [5_000, "5s"],
    [90_000, "1m30s"],
    [3_600_000, "1h0m0s"],
    [5_400_000, "1h30m0s"],
    [3_723_004.005006, "1h2m3.004005006s"],
    [-1_500, "-1.5s"],
  ];
  for (const [ms, text] of cases) assert.equal(formatDuration(ms), text, String(ms));
});

Deno.test("formatDuration() output parses back to the same value", () => {
  for (const ms of [0.000001, 0.3, 1, 999, 1_000, 61_001, 3_599_999, 86_400_000]) {
    assert.equal(parseDuration(formatDuration(ms)), ms, String(ms));
  }
});

Deno.test("formatDuration() rejects non-finite values", () => {
  assert.throws(() => formatDuration(Number.NaN), {
    name: "RangeError",
    message: "Invalid duration: NaN (expected a finite number of milliseconds)",
  });
});
