/**
 * The checks a configuration field may use: each reads a value as text and
 * returns it parsed, or `undefined` when it is not acceptable (the field's
 * `expected` text then says what would be).
 *
 * @module
 */

import { parseDuration, splitHostPort } from "../../util/mod.ts";
import { type LogLevel, parseLogLevel } from "../log.ts";

/** Parses a value or returns undefined when it is not acceptable. */
export type Check<T> = (text: string) => T | undefined;

/** Longest timeout or deadline accepted: timers cannot wait longer than about 24 days. */
const MAX_WAIT_MS = 24 * 3_600_000;

/** A decimal integer from `min` to `max` (no sign, no spaces). */
export function integerIn(min: number, max: number): Check<number> {
  return function check(text) {
    if (!/^[0-9]+$/.test(text)) return undefined;
    const value = Number(text);
    return value >= min && value <= max ? value : undefined;
  };
}

/** A log level, in any case (`debug`, `WARN`...). */
export function checkLevel(text: string): LogLevel | undefined {
  try {
    return parseLogLevel(text);
  } catch {
    return undefined;
  }
}

/** What a log-level field of any role holds besides its key, variable and flag. */
export const LOG_LEVEL_VALUE = {
  arg: "<level>",
  help: "DEBUG, INFO, WARNING, ERROR, CRITICAL",
  fallback: "INFO",
  check: checkLevel,
  expected: "DEBUG, INFO, WARNING, ERROR or CRITICAL",
};

/** A non-empty path without control characters. */
export function checkPath(text: string): string | undefined {
  // deno-lint-ignore no-control-regex
  return text !== "" && !/[\x00-\x1f\x7f]/.test(text) ? text : undefined;
}

/** `check`, or the empty text (a field that may be left unset). */
export function optional<T>(check: Check<T>): Check<T | ""> {
  return function checkOptional(text) {
    return text === "" ? "" : check(text);
  };
}

/** A host name or address: no spaces, no control characters. */
export function checkHost(text: string): string | undefined {
  // deno-lint-ignore no-control-regex
  return /^[^\s\x00-\x1f\x7f]+$/.test(text) ? text : undefined;
}

/** A Go duration (`100ms`, `5s`, `1m30s`), in milliseconds. */
export function checkDuration(text: string): number | undefined {
  try {
    return parseDuration(text);
  } catch {
    return undefined;
  }
}

/** A duration > 0 (or >= 0 when `allowZero`) and at most 24h: a timer's delay. */
export function waitDuration(allowZero: boolean): Check<number> {
  return function check(text) {
    const ms = checkDuration(text);
    if (ms === undefined || ms > MAX_WAIT_MS) return undefined;
    return ms > 0 || (allowZero && ms === 0) ? ms : undefined;
  };
}

/** A `host:port` or `[v6]:port` address, or several comma-separated (replicas), kept as written. */
export function checkAddress(text: string): string | undefined {
  try {
    for (const part of text.split(",")) splitHostPort(part.trim());
    return text;
  } catch {
    return undefined;
  }
}

/** One of `choices`, in any case; the value is the choice as listed. */
export function oneOf<T extends string>(choices: readonly T[]): Check<T> {
  return function check(text) {
    const lower = text.toLowerCase();
    return choices.find((choice) => choice === lower);
  };
}
