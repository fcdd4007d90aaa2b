/**
 * Command-line plumbing shared by every command: flag parsing with `node:util`
 * parseArgs, usage errors, and the exit codes the CLI promises.
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import { printErr } from "./io.ts";

/** Exit code for success. */
export const EXIT_OK = 0;
/** Exit code for a run that finished but failed (bad answer, rejected bets). */
export const EXIT_FAIL = 1;
/** Exit code for bad usage or bad configuration: nothing was done. */
export const EXIT_USAGE = 2;

/** A bad command line: the message is one line, shown before the usage text. */
export class UsageError extends Error {
  /** Creates a usage error with a one-line reason. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UsageError";
  }
}

/** What a role's command line declares. */
export interface CommandSpec<O extends ParseArgsConfig["options"]> {
  /** Flags, as `node:util` parseArgs takes them (`help` is added). */
  options: O;
  /** Usage text printed by `--help` and after a usage error. */
  usage: string;
  /** Whether positional arguments are accepted. @default false */
  allowPositionals?: boolean;
}

/** Parsed command line: flag values and positionals, or `help` when asked for. */
export interface ParsedCommand<V> {
  values: V;
  positionals: string[];
  help: boolean;
}

/**
 * Parses `args` strictly against `spec`. Unknown flags, missing flag values
 * and unexpected positionals become a {@linkcode UsageError} with one line.
 */
export function parseCommand<O extends NonNullable<ParseArgsConfig["options"]>>(
  args: string[],
  spec: CommandSpec<O>,
) {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: { ...spec.options, help: { type: "boolean", short: "h" } },
      allowPositionals: spec.allowPositionals ?? false,
      strict: true,
    });
    const { help, ...rest } = values as Record<string, unknown>;
    return {
      values: rest,
      positionals,
      help: help === true,
    } as ParsedCommand<ReturnType<typeof parseArgs<{ options: O }>>["values"]>;
  } catch (error) {
    throw new UsageError(cleanParseArgsMessage(error), { cause: error });
  }
}

/** Turns parseArgs' multi-line messages into the one-line reason we print. */
function cleanParseArgsMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  // "Unknown option '--x'. To specify a positional argument, …" -> "Unknown option '--x'"
  const first = text.split("\n")[0].trim();
  return first.split(/\.\s/)[0].replace(/\.$/, "");
}

/**
 * Runs a role's body, mapping a {@linkcode UsageError} to its one-line reason
 * plus usage on stderr and exit code 2.
 */
export async function runCommand(
  usage: string,
  body: () => Promise<number>,
): Promise<number> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof UsageError) {
      printUsageError(error.message, usage);
      return EXIT_USAGE;
    }
    throw error;
  }
}

/** Prints `tp0: <reason>` and the usage text on stderr. */
export function printUsageError(reason: string, usage: string): void {
  printErr(`tp0: ${reason}\n\n${usage.trimEnd()}\n`);
}
