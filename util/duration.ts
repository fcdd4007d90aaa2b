/**
 * Go-style durations (`100ms`, `5s`, `1m30s`, `1.5h`), as Go's
 * `time.ParseDuration` reads them and `time.Duration.String` writes them.
 *
 * Values are milliseconds, possibly fractional (`300us` is `0.3`). Unlike Go,
 * negative durations are rejected: every duration in tp0 is a wait.
 *
 * @module
 */

const NS_PER_UNIT: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  "µs": 1_000n, // U+00B5 MICRO SIGN, what Go prints
  "μs": 1_000n, // U+03BC GREEK SMALL LETTER MU, also accepted by Go
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

/** Go's largest duration: 2^63 - 1 nanoseconds. */
const MAX_NS = (1n << 63n) - 1n;

/** One component: digits with an optional fraction, then a unit. */
const COMPONENT = /(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/y;

/**
 * Parses a Go duration such as `100ms`, `5s`, `1m30s`, `1.5h`, `300us` or
 * `0` into milliseconds (fractional below one millisecond).
 *
 * @throws {RangeError} `Invalid duration: "5x" (expected Go syntax like 100ms, 5s, 1m30s)`
 *   for anything else, including negative durations, empty text and numbers
 *   without a unit (except a bare `0`).
 */
export function parseDuration(text: string): number {
  return Number(parseDurationNs(text)) / 1e6;
}

/** Parses a Go duration into whole nanoseconds (fractions truncated like Go). */
function parseDurationNs(text: string): bigint {
  let body = text.startsWith("+") ? text.slice(1) : text;
  if (body === "0") return 0n;
  if (body === "") throw invalid(text);
  let total = 0n;
  while (body.length > 0) {
    COMPONENT.lastIndex = 0;
    const match = COMPONENT.exec(body);
    if (match === null) throw invalid(text);
    const [whole, integer, fraction = "", unit] = match;
    if (integer === "" && fraction === "") throw invalid(text);
    const scale = NS_PER_UNIT[unit];
    let ns = BigInt(integer === "" ? "0" : integer) * scale;
    if (fraction !== "") ns += BigInt(fraction) * scale / 10n ** BigInt(fraction.length);
    total += ns;
    if (total > MAX_NS) {
      throw new RangeError(
        `Invalid duration: ${JSON.stringify(text)} (expected at most 2562047h47m16.854775807s)`,
      );
    }
    body = body.slice(whole.length);
  }
  return total;
}

function invalid(text: string): RangeError {
  return new RangeError(
    `Invalid duration: ${JSON.stringify(text)} (expected Go syntax like 100ms, 5s, 1m30s)`,
  );
}

/**
 * Writes milliseconds the way Go's `time.Duration.String` does: `0s`,
 * `300µs`, `100ms`, `1.5s`, `1m30s`, `1h0m0s`. The value is rounded to whole
 * nanoseconds; negative values get a leading `-`.
 *
 * @throws {RangeError} when `ms` is not a finite number.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) {
    throw new RangeError(`Invalid duration: ${ms} (expected a finite number of milliseconds)`);
  }
  const ns = BigInt(Math.round(ms * 1e6));
  const negative = ns < 0n;
  const u = negative ? -ns : ns;
  const sign = negative ? "-" : "";
  if (u === 0n) return "0s";
  if (u < 1_000n) return `${sign}${u}ns`;
  if (u < 1_000_000n) return `${sign}${fraction(u, 3)}µs`;
  if (u < 1_000_000_000n) return `${sign}${fraction(u, 6)}ms`;
  const totalSeconds = u / 1_000_000_000n;
  const nanos = u % 1_000_000_000n;
  const seconds = totalSeconds % 60n;
  const secondsText = `${fraction(seconds * 1_000_000_000n + nanos, 9)}s`;
  if (totalSeconds < 60n) return `${sign}${secondsText}`;
  const totalMinutes = totalSeconds / 60n;
  const minutes = totalMinutes % 60n;
  const hours = totalMinutes / 60n;
  return hours > 0n
    ? `${sign}${hours}h${minutes}m${secondsText}`
    : `${sign}${minutes}m${secondsText}`;
}

/** `value / 10^digits` in decimal, trailing fraction zeros (and a bare dot) dropped. */
function fraction(value: bigint, digits: number): string {
  const scale = 10n ** BigInt(digits);
  const whole = value / scale;
  const rest = (value % scale).toString().padStart(digits, "0").replace(/0+$/, "");
  return rest === "" ? `${whole}` : `${whole}.${rest}`;
}
