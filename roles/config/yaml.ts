/**
 * The YAML reader of the client's config file: js-yaml's failsafe schema
 * (every scalar stays the text as written), mappings flattened into dotted
 * keys (`loop: {period: 5s}` and `loop.period: 5s` are the same key), matched
 * to the known keys case-insensitively. js-yaml (an ES module) is imported
 * only when a file is read: the server never loads it.
 *
 * @module
 */

import { type FileContext, unknownKey } from "./_file.ts";
import { ConfigError } from "./errors.ts";

/** Keys a config file may hold, nested ones included (aliases can make a few lines millions). */
const MAX_FILE_KEYS = 1000;

/** The part of js-yaml used here (the package ships no types). */
interface JsYaml {
  load(text: string, options: { schema: unknown }): unknown;
  FAILSAFE_SCHEMA: unknown;
}

/**
 * Reads YAML `text` into canonical key -> value. Unknown and duplicate keys,
 * a scalar where a section's mapping belongs and lists are noted in
 * `context.problems`.
 *
 * @throws {ConfigError} `Cannot parse <path>: <reason> at line L, column C`,
 *   a top level that is not a mapping, or more than 1000 keys.
 */
export async function readYaml(text: string, context: FileContext): Promise<Map<string, string>> {
  const { path } = context;
  const yaml: JsYaml = await import("js-yaml");
  let root: unknown;
  try {
    // Failsafe: every scalar stays the text as written; an empty value is null.
    root = yaml.load(text, { schema: yaml.FAILSAFE_SCHEMA }) ?? "";
  } catch (error) {
    const { reason, mark } = error as { reason?: string; mark?: { line: number; column: number } };
    const where = mark === undefined ? "" : ` at line ${mark.line + 1}, column ${mark.column + 1}`;
    throw new ConfigError(`Cannot parse ${path}: ${reason ?? String(error)}${where}`, {
      cause: error,
    });
  }
  if (root === null || root === undefined || root === "") return new Map();
  if (!isMapping(root)) {
    throw new ConfigError(`Cannot parse ${path}: expected a mapping of keys at the top level`);
  }
  return new Flattener(context).read(root);
}

/** Walks the mappings, turning nested keys into dotted ones. */
class Flattener {
  #context: FileContext;
  #byLower: Map<string, string>;
  /** Section -> its keys (`loop` -> `amount, period`), for a scalar where a mapping belongs. */
  #sections = new Map<string, string[]>();
  #values = new Map<string, string>();
  #keys = 0;

  constructor(context: FileContext) {
    this.#context = context;
    this.#byLower = new Map(context.keys.map((key) => [key.toLowerCase(), key]));
    for (const key of context.keys) {
      const dot = key.indexOf(".");
      if (dot < 0) continue;
      const section = key.slice(0, dot).toLowerCase();
      this.#sections.set(section, [...(this.#sections.get(section) ?? []), key.slice(dot + 1)]);
    }
  }

  read(root: Record<string, unknown>): Map<string, string> {
    this.#visit(root, "");
    return this.#values;
  }

  #visit(mapping: Record<string, unknown>, prefix: string): void {
    const { path, problems } = this.#context;
    for (const [key, raw] of Object.entries(mapping)) {
      if (++this.#keys > MAX_FILE_KEYS) {
        throw new ConfigError(`Cannot parse ${path}: more than ${MAX_FILE_KEYS} keys`);
      }
      const value = raw ?? "";
      const name = prefix === "" ? key : `${prefix}.${key}`;
      if (isMapping(value)) {
        this.#visit(value, name);
        continue;
      }
      const lower = name.toLowerCase();
      const canonical = this.#byLower.get(lower);
      if (canonical === undefined) {
        const section = this.#sections.get(lower);
        if (section === undefined) {
          problems.push(unknownKey(this.#context, name));
        } else if (value !== "") { // an empty section: all its keys commented out
          problems.push(
            `Invalid ${name}: ${JSON.stringify(value)} (expected a mapping with ${
              section.join(", ")
            })`,
          );
        }
        continue;
      }
      if (this.#values.has(canonical)) {
        problems.push(`Duplicate key in ${path}: ${canonical}`);
        continue;
      }
      if (typeof value !== "string") {
        problems.push(`Invalid ${canonical}: a list (expected a single value)`);
        continue;
      }
      this.#values.set(canonical, value);
    }
  }
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
