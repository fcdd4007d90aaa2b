/**
 * The server's storage fields beyond the CSV path: a shared PostgreSQL
 * database for several replicas (`STORE_URL`), its password from a file
 * (`STORE_PASSWORD_FILE`, for Docker secrets), how long to wait for it at
 * start, and the replica's name in the logs. Without `STORE_URL`: the
 * embedded CSV store. Spread into the server's field table.
 *
 * @module
 */

import { type Check, checkHost, checkPath, waitDuration } from "./checks.ts";
import type { Field } from "./fields.ts";

/** A PostgreSQL URL (`postgres://` or `postgresql://`), or the empty text: none. */
export const checkStoreUrl: Check<string> = (text) => {
  if (text === "") return "";
  if (!/^postgres(ql)?:\/\/[^\s]+$/.test(text)) return undefined;
  try {
    new URL(text);
    return text;
  } catch {
    return undefined;
  }
};

/** The storage fields of the server's table. */
export const STORE_FIELDS = {
  storeUrl: {
    key: "STORE_URL",
    env: "STORE_URL",
    flag: "store",
    arg: "<url>",
    help: "postgres://user[:password]@host[:port]/db: a database shared by several " +
      "replicas (docs/replicas.md); none = the embedded CSV store at --storage",
    fallback: "",
    check: checkStoreUrl,
    expected: "a postgres:// or postgresql:// URL",
  } satisfies Field<string>,
  storePasswordFile: {
    key: "STORE_PASSWORD_FILE",
    env: "STORE_PASSWORD_FILE",
    flag: "store-password-file",
    arg: "<path>",
    help: "the database password, read from this file (a Docker secret)",
    fallback: "",
    check: (text: string) => text === "" ? "" : checkPath(text),
    expected: "a path without control characters",
  } satisfies Field<string>,
  storeDeadline: {
    key: "STORE_DEADLINE",
    env: "STORE_DEADLINE",
    flag: "store-deadline",
    arg: "<d>",
    help: "with --store: keep trying to reach the database this long at start",
    fallback: "30s",
    check: waitDuration(true),
    expected: "a Go duration >= 0 and <= 24h, like 10s, 30s, 1m",
    asWritten: true,
  } satisfies Field<number>,
  replicaName: {
    key: "REPLICA_NAME",
    env: "REPLICA_NAME",
    flag: "replica-name",
    arg: "<name>",
    help: "with --store: this replica's name in the logs and the draw's row " +
      "(default: the host name)",
    fallback: "",
    check: (text: string) => text === "" ? "" : checkHost(text),
    expected: "a name without spaces",
  } satisfies Field<string>,
};

/** The storage part of the server's configuration. */
export interface StoreConfig {
  /** The shared database's URL; empty: the embedded CSV store. */
  storeUrl: string;
  /** A file holding the database's password; empty: none (or in the URL). */
  storePasswordFile: string;
  /** How long to keep trying to reach the database at start, as written. */
  storeDeadline: string;
  /** {@linkcode StoreConfig.storeDeadline} in milliseconds. */
  storeDeadlineMs: number;
  /** This replica's name; empty: the host name. */
  replicaName: string;
}

/** `postgres://user:secret@host/db` as `postgres://user:***@host/db`: never log a password. */
export function redactStoreUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(invalid)";
  }
}
