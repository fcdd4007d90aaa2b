/**
 * What the config-file readers share: reading the file (a missing default is
 * no file at all), and the line naming an unknown key.
 *
 * @module
 */

import { closest } from "../../util/mod.ts";
import { ConfigError } from "./errors.ts";

/** What a reader is told about the file it reads, and where it notes problems. */
export interface FileContext {
  /** The file's path, as errors name it. */
  path: string;
  /** The keys a file may hold, canonical spelling, in table order. */
  keys: readonly string[];
  /** Names a file must not hold (lower case), with what to do instead: `set the client id with --id or CLI_ID`. */
  elsewhere: ReadonlyMap<string, string>;
  /** Problems found, reported with the bad values in one line. */
  problems: string[];
}

/** The file's text without a BOM; undefined when the default file is missing. */
export async function readConfigFile(
  path: string,
  explicit: boolean,
): Promise<string | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      if (!explicit) return undefined;
      throw new ConfigError(`Config file not found: ${JSON.stringify(path)}`, { cause: error });
    }
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new ConfigError(`Cannot read config file ${JSON.stringify(path)}: ${reason}`, {
      cause: error,
    });
  }
  return text.startsWith("\uFEFF") ? text.slice(1) : text;
}

/** `Unknown key in <path>: <key> (...)`, with a hint or the nearest known key. */
export function unknownKey(context: FileContext, key: string): string {
  const { path, keys } = context;
  const hint = context.elsewhere.get(key.toLowerCase());
  if (hint !== undefined) return `Unknown key in ${path}: ${key} (${hint})`;
  const suggestion = closest(key, keys);
  return suggestion === undefined
    ? `Unknown key in ${path}: ${key} (expected one of ${keys.join(", ")})`
    : `Unknown key in ${path}: ${key} (did you mean ${suggestion}?)`;
}
