/**
 * What the configuration tests share: the shipped config files, temporary
 * files and directories, and the one-line error a bad load must throw.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ConfigError } from "./errors.ts";

/** The repository's config/server.ini. */
export const SHIPPED_SERVER_INI = new URL("../../config/server.ini", import.meta.url).pathname;
/** The repository's config/client.yaml. */
export const SHIPPED_CLIENT_YAML = new URL("../../config/client.yaml", import.meta.url).pathname;

/** Runs `body` with a temp file holding `text`, removed afterwards. */
export async function withFile(
  name: string,
  text: string,
  body: (path: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tp0_config_test_" });
  try {
    const path = `${dir}/${name}`;
    await Deno.writeTextFile(path, text);
    await body(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs `body` in an empty temp directory (so the default config path is missing). */
export async function inEmptyDir(body: () => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tp0_config_test_" });
  const cwd = Deno.cwd();
  try {
    Deno.chdir(dir);
    await body();
  } finally {
    Deno.chdir(cwd);
    await Deno.remove(dir, { recursive: true });
  }
}

/** The message of the ConfigError `loading` must reject with; it must be one line. */
export async function configErrorOf(loading: Promise<unknown>): Promise<string> {
  const error = await loading.then(
    () => assert.fail("expected a ConfigError"),
    (error: unknown) => error,
  );
  assert.ok(error instanceof ConfigError, String(error));
  assert.equal(error.name, "ConfigError");
  assert.ok(!error.message.includes("\n"), "the message is one line");
  return error.message;
}
