/**
 * How a client run tells its end: the closure line of a stop, and the
 * one-line reason of a failure.
 *
 * @module
 */

import { CsvFormatError } from "../../store/mod.ts";
import { describeError, EXIT_OK } from "../../util/mod.ts";
import { log } from "../log.ts";
import { ShutdownRequested } from "../shutdown.ts";

/** Logs the closure a stop causes and returns the graceful exit code. */
export function stopped(signal: AbortSignal): number {
  const reason = signal.reason instanceof ShutdownRequested ? signal.reason.signal : "abort";
  log.info({ action: "shutdown", result: "success", resource: "connection", signal: reason });
  return EXIT_OK;
}

/** The reason of a failure, one line. */
export function describe(error: unknown): string {
  if (error instanceof CsvFormatError) return error.message;
  if (error instanceof Deno.errors.ConnectionRefused) return "connection refused";
  return firstLine(describeError(error));
}

/** The first line of `text`. */
export function firstLine(text: string): string {
  const newline = text.indexOf("\n");
  return newline < 0 ? text : text.slice(0, newline);
}
