/**
 * The keys part of gen-compose: where the agencies' keys and the database password live
 * beside the Compose file and inside the containers, the read-only mounts that carry them,
 * and the writing of fresh ones (each mode 640, read through the containers' group).
 *
 * @module
 */

import type { ComposeBindMount, ComposeService } from "./compose.ts";

/** The folder of the keys beside the Compose file (git- and docker-ignored). */
export const KEYS_DIR = ".keys";
/** The server's keys file inside {@linkcode KEYS_DIR}: one `<agency>:<hex>` line an agency. */
export const SERVER_KEYS_FILE = "agency-keys";
/** Where the server's keys file is mounted inside its container. */
export const SERVER_KEYS_PATH = "/keys/agency-keys";
/** Where a client's own key is mounted inside its container. */
export const CLIENT_KEY_PATH = "/keys/agency.key";

/** Agency `id`'s key file inside {@linkcode KEYS_DIR}. */
export function clientKeyFile(id: number): string {
  return `agency-${id}.key`;
}

/** The password of the database, for the replicas (in {@linkcode KEYS_DIR}). */
export const STORE_PASSWORD_FILE = "store-password";
/** The same password as the database container reads it (`POSTGRES_PASSWORD=...`). */
export const POSTGRES_ENV_FILE = "postgres.env";
/** Where a replica's copy of the password is mounted. */
export const STORE_PASSWORD_PATH = "/run/secrets/store-password";

/** Mounts one key file read-only into `service`, readable through the group `gid`. */
export function withKey(
  service: ComposeService,
  source: string,
  target: string,
  gid: number,
): void {
  service.volumes.push(readOnlyBind(source, target));
  service.group_add = [String(gid)];
}

/** A read-only bind mount that fails instead of creating a missing source. */
export function readOnlyBind(source: string, target: string): ComposeBindMount {
  return { type: "bind", source, target, read_only: true, bind: { create_host_path: false } };
}

/** A fresh agency key: 256 random bits as 64 lowercase hex digits. */
function newAgencyKeyHex(): string {
  const key = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(key, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** `dir` and `name` joined with one `/`. */
export function join(dir: string, name: string): string {
  return dir.endsWith("/") ? `${dir}${name}` : `${dir}/${name}`;
}

/**
 * Writes a fresh key for agencies 1..`agencies` into `.keys/` beside the Compose file:
 * `agency-keys` for the server, `agency-<i>.key` for client i, each mode 640 (the
 * containers read them through their group, see `ComposeOptions.keys`). Old keys are
 * replaced: every generated system has its own.
 */
export async function writeAgencyKeys(dir: string, agencies: number): Promise<void> {
  try {
    await Deno.mkdir(dir, { mode: 0o750 });
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
  }
  const keys = Array.from({ length: agencies }, () => newAgencyKeyHex());
  const write = async (name: string, text: string) => {
    const path = join(dir, name);
    await Deno.writeTextFile(path, text, { mode: 0o640 });
    await Deno.chmod(path, 0o640); // mode applies only to a new file
  };
  await write(SERVER_KEYS_FILE, keys.map((key, i) => `${i + 1}:${key}\n`).join(""));
  for (let id = 1; id <= agencies; id++) await write(clientKeyFile(id), `${keys[id - 1]}\n`);
}

/**
 * Writes a fresh database password into `dir`: `store-password` (the replicas'
 * STORE_PASSWORD_FILE) and `postgres.env` (`POSTGRES_PASSWORD=`, the database container's
 * env file), each mode 640 like the keys.
 */
export async function writeStorePassword(dir: string): Promise<void> {
  try {
    await Deno.mkdir(dir, { mode: 0o750 });
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
  }
  const password = newAgencyKeyHex();
  for (
    const [name, text] of [
      [STORE_PASSWORD_FILE, `${password}\n`],
      [POSTGRES_ENV_FILE, `POSTGRES_PASSWORD=${password}\n`],
    ]
  ) {
    const path = join(dir, name);
    await Deno.writeTextFile(path, text, { mode: 0o640 });
    await Deno.chmod(path, 0o640);
  }
}
