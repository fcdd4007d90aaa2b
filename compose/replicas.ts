/**
 * The replicas part of gen-compose: K servers (`server1..K`, each answering to the alias
 * `server`) on one shared PostgreSQL service, and the checks of `servers` and
 * `postgresImage`. See docs/replicas.md.
 *
 * @module
 */

import { type ComposeOptions, type ComposeService, NETWORK_NAME } from "./compose.ts";
import {
  KEYS_DIR,
  POSTGRES_ENV_FILE,
  STORE_PASSWORD_FILE,
  STORE_PASSWORD_PATH,
  withKey,
} from "./keys.ts";

/** The most server replicas a Compose file may hold. */
export const MAX_SERVERS = 16;

/** The database image of a system with replicas, unless told otherwise. */
export const DEFAULT_POSTGRES_IMAGE = "postgres:16";

/** The database's user and database name in a system with replicas. */
export const POSTGRES_USER = "tp0";

/**
 * The database's data folder inside its container: outside the image's declared volume, so
 * it lives in the container's writable layer (like the file store's CSV): `down` removes
 * it, and every `up` starts a new lottery.
 */
export const POSTGRES_DATA = "/var/lib/postgresql/tp0";

/** The name every replica answers to on the network (clients connect to it). */
export const SERVER_ALIAS = "server";

/** `postgres://tp0@postgres:5432/tp0`: the replicas' STORE_URL (the password comes from a file). */
export const STORE_URL = `postgres://${POSTGRES_USER}@postgres:5432/${POSTGRES_USER}`;

/**
 * How many servers, and the database image when there are several.
 *
 * @throws {RangeError} for a count outside 1..16 or an empty image
 */
export function checkReplicas(
  options: Pick<ComposeOptions, "servers" | "postgresImage">,
): { replicas: number; postgresImage: string } {
  const replicas = options.servers ?? 1;
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > MAX_SERVERS) {
    throw new RangeError(
      `Invalid number of servers: ${replicas} (expected an integer 1..${MAX_SERVERS})`,
    );
  }
  const postgresImage = options.postgresImage ?? DEFAULT_POSTGRES_IMAGE;
  if (postgresImage.trim() === "" || /\s/.test(postgresImage)) {
    throw new RangeError(
      `Invalid postgres image: "${postgresImage}" (expected an image reference)`,
    );
  }
  return { replicas, postgresImage };
}

/**
 * The shared database of the replicas: its password from the env file gen-compose writes,
 * its data in the container's writable layer ({@linkcode POSTGRES_DATA}), healthy once
 * `pg_isready` answers on TCP (not during the image's first-start initialisation, which
 * listens on the socket only).
 */
export function postgresService(image: string): ComposeService {
  return {
    image,
    container_name: "postgres",
    environment: { POSTGRES_USER, POSTGRES_DB: POSTGRES_USER, PGDATA: POSTGRES_DATA },
    env_file: [`./${KEYS_DIR}/${POSTGRES_ENV_FILE}`],
    volumes: [],
    networks: [NETWORK_NAME],
    stop_grace_period: "10s",
    init: true,
    healthcheck: {
      test: [
        "CMD",
        "pg_isready",
        "-h",
        "127.0.0.1",
        "-U",
        POSTGRES_USER,
        "-d",
        POSTGRES_USER,
        "-q",
      ],
      interval: "30s",
      timeout: "3s",
      retries: 3,
      start_period: "60s",
      start_interval: "500ms",
    },
  };
}

/**
 * A server as replica `name` of the shared database: its own container name, the network
 * alias `server` (Docker's DNS answers it with every replica), the store's URL and password
 * file, started once the database is healthy.
 */
export function asReplica(server: ComposeService, name: string, gid: number): void {
  server.container_name = name;
  server.command = ["server", "--config", "/config/server.ini", "--store", STORE_URL];
  server.environment = {
    ...server.environment,
    STORE_PASSWORD_FILE: STORE_PASSWORD_PATH,
    REPLICA_NAME: name,
  };
  server.networks = { [NETWORK_NAME]: { aliases: [SERVER_ALIAS] } };
  server.depends_on = { postgres: { condition: "service_healthy" } };
  withKey(server, `./${KEYS_DIR}/${STORE_PASSWORD_FILE}`, STORE_PASSWORD_PATH, gid);
}
