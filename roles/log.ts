/**
 * Logging for every role, through LogTape, in the line format graders parse:
 *
 * ```text
 * 2024-08-21 22:11:15 INFO     action: apuesta_recibida | result: success | cantidad: 10
 * ```
 *
 * Local time, the level padded to 8 characters (Python's `%(levelname)-8s`),
 * then `action` and `result`, then the other fields in insertion order. Values
 * are escaped so that a line is always exactly one record: `|` becomes `¦`
 * (U+00A6), a newline the two characters `\n`, a carriage return `\r`, a tab
 * `\t`, and any other control character (C0, DEL, C1, U+2028, U+2029) `\xNN`
 * or `\uNNNN`.
 *
 * Nothing is printed until {@linkcode setupLogging} is called.
 *
 * @example
 * ```ts
 * setupLogging("INFO");
 * log.info({ action: "apuesta_recibida", result: "success", cantidad: 10 });
 * if (log.enabled("DEBUG")) log.debug({ action: "frame", result: "success", bytes: 42 });
 * ```
 *
 * @module
 */

import {
  configureSync,
  getLogger,
  type LogLevel as LogTapeLevel,
  type LogRecord,
  resetSync,
  type Sink,
} from "@logtape/logtape";
import { writeAllSync } from "../util/mod.ts";

/** Our level names, as printed. */
export type LogLevel = "DEBUG" | "INFO" | "WARNING" | "ERROR" | "CRITICAL";

/** The outcome of an action. */
export type Result = "success" | "fail" | "in_progress";

/** One log record: `action` and `result` first, then any fields. */
export interface LogEvent {
  /** What happened, snake_case (`apuesta_recibida`). */
  action: string;
  /** How it went. */
  result: Result;
  /** Further fields, printed in insertion order; `undefined` ones are skipped. */
  [key: string]: string | number | boolean | undefined;
}

/** A parsed log line, as {@linkcode parseLogLine} returns it. */
export interface ParsedLogLine {
  /** `YYYY-MM-DD HH:MM:SS`. */
  time: string;
  /** The level name without padding. */
  level: string;
  /** The `action` value. */
  action: string;
  /** The `result` value (`success`, `fail` or `in_progress`). */
  result: string;
  /** Every other field, values still escaped as printed. */
  fields: Record<string, string>;
}

/** Options of {@linkcode setupLogging}. */
export interface LoggingOptions {
  /**
   * Where the bytes of each line go; must write them all, synchronously.
   * @default a loop over `Deno.stdout.writeSync` until every byte is out
   */
  write?: (bytes: Uint8Array) => void;
  /**
   * Where problems of logging itself go (a failing `write`), one line each.
   * @default a loop over `Deno.stderr.writeSync`
   */
  writeError?: (bytes: Uint8Array) => void;
}

/** Options of {@linkcode formatLine}. */
export interface FormatLineOptions {
  /** The level to print. */
  level: LogLevel;
  /**
   * When the event happened (epoch milliseconds or a Date), shown in local time.
   * @default now
   */
  time?: number | Date;
}

/** The levels in increasing severity. */
export const LOG_LEVELS: readonly LogLevel[] = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];

const RANK: Readonly<Record<LogLevel, number>> = {
  DEBUG: 10,
  INFO: 20,
  WARNING: 30,
  ERROR: 40,
  CRITICAL: 50,
};

const TO_LOGTAPE: Readonly<Record<LogLevel, LogTapeLevel>> = {
  DEBUG: "debug",
  INFO: "info",
  WARNING: "warning",
  ERROR: "error",
  CRITICAL: "fatal",
};

const FROM_LOGTAPE: Readonly<Record<LogTapeLevel, LogLevel>> = {
  trace: "DEBUG",
  debug: "DEBUG",
  info: "INFO",
  warning: "WARNING",
  error: "ERROR",
  fatal: "CRITICAL",
};

/** Accepted spellings (upper-cased) and the level each one means. */
const ALIASES: Readonly<Record<string, LogLevel>> = {
  DEBUG: "DEBUG",
  INFO: "INFO",
  NOTICE: "INFO", // go-logging's level between INFO and WARNING (the course's Go client)
  WARNING: "WARNING",
  WARN: "WARNING",
  ERROR: "ERROR",
  ERR: "ERROR",
  CRITICAL: "CRITICAL",
  CRIT: "CRITICAL",
  FATAL: "CRITICAL",
};

/** LogTape category of every tp0 record. */
const CATEGORY = ["tp0"];

/**
 * Parses a level name in any case, also accepting the Go and Python aliases
 * `WARN`, `ERR`, `CRIT`, `FATAL` and go-logging's `NOTICE` (as `INFO`).
 * Surrounding whitespace is ignored.
 *
 * @throws {RangeError} `Invalid log level: "LOUD" (expected DEBUG, INFO, WARNING, ERROR or CRITICAL)`
 */
export function parseLogLevel(text: string): LogLevel {
  const level = Object.hasOwn(ALIASES, text.trim().toUpperCase())
    ? ALIASES[text.trim().toUpperCase()]
    : undefined;
  if (level === undefined) {
    throw new RangeError(
      `Invalid log level: ${
        JSON.stringify(text)
      } (expected DEBUG, INFO, WARNING, ERROR or CRITICAL)`,
    );
  }
  return level;
}

/** Rank of the lowest level printed; Infinity until setupLogging (nothing printed). */
let threshold = Number.POSITIVE_INFINITY;

/**
 * Configures LogTape to print records of `level` and above on stdout, one
 * line each. Idempotent: each call resets the previous configuration, so it
 * may be called again (tests do) to change the level or the destination.
 * LogTape's own problems (a failing stdout) are reported once on stderr.
 */
export function setupLogging(level: LogLevel, options: LoggingOptions = {}): void {
  const name = Object.hasOwn(RANK, level) ? level : parseLogLevel(String(level));
  const write = options.write ?? writeStdout;
  resetSync();
  configureSync({
    reset: true,
    sinks: { lines: lineSink(write), meta: metaSink(options.writeError ?? writeStderr) },
    loggers: [
      { category: CATEGORY, sinks: ["lines"], lowestLevel: TO_LOGTAPE[name] },
      { category: ["logtape", "meta"], sinks: ["meta"], lowestLevel: "warning" },
    ],
  });
  threshold = RANK[name];
}

/** Undoes {@linkcode setupLogging}: LogTape is reset and nothing is printed any more. */
export function resetLogging(): void {
  threshold = Number.POSITIVE_INFINITY;
  resetSync();
}

const logger = getLogger(CATEGORY);

function emit(level: LogLevel, event: LogEvent): void {
  if (RANK[level] < threshold) return;
  logger.emit({
    level: TO_LOGTAPE[level],
    message: [formatEvent(event)],
    rawMessage: "{*}",
    timestamp: Date.now(),
    properties: event,
  });
}

/** The logger every role uses; each method returns at once when its level is off. */
export const log = {
  /** Logs a DEBUG record (guard costly events with `log.enabled("DEBUG")`). */
  debug(event: LogEvent): void {
    emit("DEBUG", event);
  },
  /** Logs an INFO record. */
  info(event: LogEvent): void {
    emit("INFO", event);
  },
  /** Logs a WARNING record. */
  warning(event: LogEvent): void {
    emit("WARNING", event);
  },
  /** Logs an ERROR record. */
  error(event: LogEvent): void {
    emit("ERROR", event);
  },
  /** Logs a CRITICAL record. */
  critical(event: LogEvent): void {
    emit("CRITICAL", event);
  },
  /** Whether records of `level` are printed: one comparison, no LogTape call. */
  enabled(level: LogLevel): boolean {
    return RANK[level] >= threshold;
  },
};

// deno-lint-ignore no-control-regex
const NEEDS_ESCAPE = /[|\x00-\x1f\x7f-\x9f\u2028\u2029]/;
// deno-lint-ignore no-control-regex
const ESCAPE_ALL = /[|\x00-\x1f\x7f-\x9f\u2028\u2029]/g;

function escapeChar(char: string): string {
  switch (char) {
    case "|":
      return "¦";
    case "\n":
      return "\\n";
    case "\r":
      return "\\r";
    case "\t":
      return "\\t";
  }
  const code = char.charCodeAt(0);
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, "0")}`
    : `\\u${code.toString(16).padStart(4, "0")}`;
}

function escapeValue(value: string | number | boolean): string {
  const text = typeof value === "string" ? value : String(value);
  return NEEDS_ESCAPE.test(text) ? text.replace(ESCAPE_ALL, escapeChar) : text;
}

/**
 * Formats the fields of a line: `action: a | result: r | key: value ...`,
 * action and result first, the rest in insertion order, `undefined` skipped,
 * values escaped (see the module documentation). Keys are printed as given.
 */
export function formatEvent(event: LogEvent): string {
  let text = `action: ${escapeValue(event.action)} | result: ${escapeValue(event.result)}`;
  for (const key in event) {
    if (key === "action" || key === "result") continue;
    const value = event[key];
    if (value === undefined) continue;
    text += ` | ${key}: ${escapeValue(value)}`;
  }
  return text;
}

let cachedSecond = Number.NaN;
let cachedStamp = "";

function two(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

/** `YYYY-MM-DD HH:MM:SS` in local time, cached per second (the offset only changes on one). */
function timestamp(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second === cachedSecond) return cachedStamp;
  const d = new Date(ms);
  const stamp = `${String(d.getFullYear()).padStart(4, "0")}-${two(d.getMonth() + 1)}-${
    two(d.getDate())
  } ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  cachedSecond = second;
  cachedStamp = stamp;
  return stamp;
}

const PADDED: Readonly<Record<LogLevel, string>> = {
  DEBUG: "DEBUG   ",
  INFO: "INFO    ",
  WARNING: "WARNING ",
  ERROR: "ERROR   ",
  CRITICAL: "CRITICAL",
};

/**
 * Formats one whole line (without the trailing newline):
 * `YYYY-MM-DD HH:MM:SS LEVEL    action: a | result: r | key: value`.
 */
export function formatLine(event: LogEvent, options: FormatLineOptions): string {
  const time = options.time === undefined
    ? Date.now()
    : typeof options.time === "number"
    ? options.time
    : options.time.getTime();
  return `${timestamp(time)} ${PADDED[options.level]} ${formatEvent(event)}`;
}

const encoder = new TextEncoder();

function writeStdout(bytes: Uint8Array): void {
  writeAllSync(Deno.stdout, bytes);
}

function writeStderr(bytes: Uint8Array): void {
  writeAllSync(Deno.stderr, bytes);
}

/** The stdout sink: one line a record; after a first write failure, later ones are dropped. */
function lineSink(write: (bytes: Uint8Array) => void): Sink {
  let failed = false;
  return function sink(record: LogRecord): void {
    const line = `${timestamp(record.timestamp)} ${PADDED[FROM_LOGTAPE[record.level]]} ${
      record.message[0]
    }\n`;
    try {
      write(encoder.encode(line));
    } catch (error) {
      if (failed) return;
      failed = true;
      throw error; // LogTape hands it to the meta logger: reported once on stderr
    }
  };
}

/** LogTape's meta logger (its own failures) goes to stderr in our line format. */
function metaSink(write: (bytes: Uint8Array) => void): Sink {
  return function sink(record: LogRecord): void {
    const error = record.properties.error;
    const reason = error instanceof Error
      ? error.message
      : record.message.map((part) => String(part)).join("");
    const line = `${timestamp(record.timestamp)} ${PADDED[FROM_LOGTAPE[record.level]]} ${
      formatEvent({ action: "log_write", result: "fail", error: reason })
    }\n`;
    try {
      write(encoder.encode(line));
    } catch {
      // stderr is gone too: nowhere left to report
    }
  };
}

const TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;
const KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const RESULTS = new Set(["success", "fail", "in_progress"]);

/**
 * Parses a line the way graders do: split on `" | "`, then each part on its
 * first `": "`. Strict: returns `undefined` unless the line has the exact
 * shape (timestamp, known level padded to 8, `action` then `result` with a
 * known result, identifier keys, no duplicate key, no raw `|`, no line break
 * except one trailing `\n`).
 */
export function parseLogLine(line: string): ParsedLogLine | undefined {
  const text = line.endsWith("\n") ? line.slice(0, -1) : line;
  if (text.includes("\n") || text.includes("\r")) return undefined;
  const time = text.slice(0, 19);
  if (!TIME.test(time) || text[19] !== " " || text[28] !== " ") return undefined;
  const paddedLevel = text.slice(20, 28);
  const level = paddedLevel.trimEnd();
  if (!Object.hasOwn(PADDED, level) || PADDED[level as LogLevel] !== paddedLevel) return undefined;
  const parts = text.slice(29).split(" | ");
  if (parts.length < 2) return undefined;
  const seen = new Set<string>();
  const values: string[] = [];
  const keys: string[] = [];
  for (const part of parts) {
    const colon = part.indexOf(": ");
    if (colon <= 0) return undefined;
    const key = part.slice(0, colon);
    const value = part.slice(colon + 2);
    if (!KEY.test(key) || seen.has(key) || value.includes("|")) return undefined;
    seen.add(key);
    keys.push(key);
    values.push(value);
  }
  if (keys[0] !== "action" || keys[1] !== "result") return undefined;
  if (values[0] === "" || !RESULTS.has(values[1])) return undefined;
  const fields: Record<string, string> = Object.fromEntries(
    keys.slice(2).map((key, i) => [key, values[i + 2]]),
  );
  return { time, level, action: values[0], result: values[1], fields };
}
