/**
 * The INI reader of the server's config file: keys at the top or under
 * `[DEFAULT]`, matched to the known keys case-insensitively. The structure is
 * checked line by line, so that typos are reported, not silently ignored; a
 * line that is neither a section nor `KEY = value` stops the load naming its
 * number. Each value is read by {@linkcode iniValue}.
 *
 * No CommonJS package here: loading one costs a process ~40 ms (Deno's
 * CommonJS loader), so the `ini` package's reading of a value is written out.
 *
 * @module
 */

import { type FileContext, unknownKey } from "./_file.ts";
import { ConfigError } from "./errors.ts";

/** The one section a file may have (keys before any section belong to it too). */
const SECTION = "DEFAULT";

/**
 * Reads INI `text` into canonical key -> value. Unknown keys and sections and
 * duplicate keys are noted in `context.problems`.
 *
 * @throws {ConfigError} `Cannot parse <path>: line N (expected KEY = value)`
 */
export function readIni(text: string, context: FileContext): Map<string, string> {
  const { path, problems } = context;
  const byUpper = new Map(context.keys.map((key) => [key.toUpperCase(), key]));
  const values = new Map<string, string>();
  const lineOf = new Map<string, number>();
  let skipSection = false;
  const lines = text.split(/\r\n|\r|\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "" || line.startsWith(";") || line.startsWith("#")) continue;
    if (line.startsWith("[")) {
      const match = /^\[([^\]]*)\]$/.exec(line);
      if (match === null) throw malformed(path, i, `expected [${SECTION}] or KEY = value`);
      const section = match[1];
      skipSection = section.trim().toUpperCase() !== SECTION;
      if (skipSection) {
        problems.push(`Unknown section in ${path}: [${section}] (expected [${SECTION}])`);
      }
      continue;
    }
    const equals = line.indexOf("=");
    const key = equals > 0 ? line.slice(0, equals).trim() : "";
    if (!/^[A-Za-z0-9_.-]+$/.test(key)) throw malformed(path, i, "expected KEY = value");
    if (skipSection) continue;
    const canonical = byUpper.get(key.toUpperCase());
    if (canonical === undefined) {
      problems.push(unknownKey(context, key));
      continue;
    }
    const previous = lineOf.get(canonical);
    if (previous !== undefined) {
      problems.push(`Duplicate key in ${path}: ${canonical} (lines ${previous + 1} and ${i + 1})`);
      continue;
    }
    lineOf.set(canonical, i);
    values.set(canonical, iniValue(line.slice(equals + 1)));
  }
  return values;
}

/**
 * A value as the `ini` package reads it: trimmed; `"..."` is a JSON string and `'...'`
 * taken as is; otherwise cut at the first `;` or `#` not escaped with `\`, with `\;`
 * `\#` and `\\` unescaped. (Written here: the package is CommonJS, and loading it
 * cost the server ~40 ms at every start.)
 */
export function iniValue(text: string): string {
  const value = text.trim();
  const quoted = (value.startsWith('"') && value.endsWith('"')) ||
    (value.startsWith("'") && value.endsWith("'"));
  if (quoted) {
    const inner = value.startsWith("'") ? value.slice(1, -1) : value;
    try {
      return String(JSON.parse(inner));
    } catch {
      return inner;
    }
  }
  let out = "";
  let escaped = false;
  for (const c of value) {
    if (escaped) {
      out += "\\;#".includes(c) ? c : `\\${c}`;
      escaped = false;
    } else if (c === ";" || c === "#") {
      break;
    } else if (c === "\\") {
      escaped = true;
    } else {
      out += c;
    }
  }
  if (escaped) out += "\\";
  return out.trim();
}

function malformed(path: string, index: number, expected: string): ConfigError {
  return new ConfigError(`Cannot parse ${path}: line ${index + 1} (${expected})`);
}
