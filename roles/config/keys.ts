/**
 * The agencies' keys on disk: the server's keys file ({@linkcode readAgencyKeys}, lines
 * `<agency>:<64 hex digits>`) and an agency's own key file ({@linkcode readAgencyKey}, the
 * 64 hex digits). A bad file is a {@linkcode ConfigError} that names the file and the line,
 * never a key.
 *
 * @module
 */

import { parseAgencyKey } from "../../protocol/mod.ts";
import { describeError } from "../../util/mod.ts";
import { ConfigError } from "./errors.ts";

/** The server's keys file, read. */
export interface AgencyKeys {
  /** Each agency's key, 32 bytes. */
  keys: ReadonlyMap<number, Uint8Array>;
  /** Whether every user of the machine may read the file (its mode has `o+r`). */
  everyoneMayRead: boolean;
}

/**
 * Reads the server's keys file: one `<agency>:<64 hex digits>` line an agency (agency
 * 1..65535); blank lines and lines starting with `#` are skipped, spaces around the parts
 * and a `\r` before the newline are fine.
 * @throws {ConfigError} naming the file and the line: a missing or unreadable file, a
 *   malformed line, a duplicated agency, or a file with no key
 */
export async function readAgencyKeys(path: string): Promise<AgencyKeys> {
  const text = await readKeyFile(path, "AGENCY_KEYS_PATH");
  const keys = new Map<number, Uint8Array>();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "" || line.startsWith("#")) continue;
    const where = `${path} line ${i + 1}`;
    const match = /^([0-9]{1,5})\s*:\s*(\S*)$/.exec(line);
    const agency = match === null ? NaN : Number(match[1]);
    const key = match === null ? undefined : parseAgencyKey(match[2]);
    if (!(agency >= 1 && agency <= 65535) || key === undefined) {
      throw new ConfigError(
        `Invalid agency key in ${where} (expected <agency 1..65535>:<64 hex digits>)`,
      );
    }
    if (keys.has(agency)) {
      throw new ConfigError(`Duplicate agency ${agency} in ${where}`);
    }
    keys.set(agency, key);
  }
  if (keys.size === 0) {
    throw new ConfigError(`No agency key in ${path} (expected <agency>:<64 hex digits> lines)`);
  }
  return { keys, everyoneMayRead: await everyoneMayRead(path) };
}

/**
 * Reads an agency's key file: 64 hex digits (a trailing newline is fine).
 * @throws {ConfigError} naming the file: missing, unreadable, or not one key
 */
export async function readAgencyKey(path: string): Promise<Uint8Array> {
  const key = parseAgencyKey(await readKeyFile(path, "key.path"));
  if (key === undefined) {
    throw new ConfigError(`Invalid agency key in ${path} (expected 64 hex digits)`);
  }
  return key;
}

async function readKeyFile(path: string, key: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound ? "not found" : describeError(error);
    throw new ConfigError(`Cannot read ${key} ${path}: ${reason}`, { cause: error });
  }
}

async function everyoneMayRead(path: string): Promise<boolean> {
  if (Deno.build.os === "windows") return false;
  const mode = (await Deno.stat(path)).mode;
  return mode !== null && (mode & 0o004) !== 0;
}
