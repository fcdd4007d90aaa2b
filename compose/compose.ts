/**
 * The Docker Compose file for a tp0 system, built as a plain object: one
 * `server` and `client1..clientN`, all from the same image, differing only in
 * command, mounts and identity environment.
 *
 * Bind-mount sources are relative (`./config/server.ini`): Compose resolves
 * them against the directory of the Compose file, so the file must be written
 * at the repository root (next to `config/` and `.data/`). They use the long
 * syntax with `create_host_path: false`, so a missing file stops `docker
 * compose up` with "bind source path does not exist" instead of Docker
 * silently creating an empty root-owned directory in its place.
 *
 * @module
 */

import {
  CLIENT_KEY_PATH,
  clientKeyFile,
  KEYS_DIR,
  readOnlyBind,
  SERVER_KEYS_FILE,
  SERVER_KEYS_PATH,
  withKey,
} from "./keys.ts";
import { asReplica, checkReplicas, postgresService } from "./replicas.ts";

/**
 * What the clients do: echo messages (exercises 1-4), send one bet from their
 * environment (exercise 5), or stream their agency's file (exercises 6-8).
 */
export type ClientMode = "echo" | "bet" | "lottery";

/** The client modes, in the order usage texts list them. */
export const CLIENT_MODES: readonly ClientMode[] = ["echo", "bet", "lottery"];

/** The client modes as error messages list them. */
export const MODES_EXPECTED = "echo, bet or lottery";

/** The bet of exercise 5, as the client reads it from its environment. */
export interface EnvBet {
  NOMBRE: string;
  APELLIDO: string;
  DOCUMENTO: string;
  NACIMIENTO: string;
  NUMERO: string;
}

/** The statement's example bet, which `--mode bet` sends when no other is given. */
export const DEFAULT_BET: EnvBet = {
  NOMBRE: "Santiago Lionel",
  APELLIDO: "Lorca",
  DOCUMENTO: "30904465",
  NACIMIENTO: "1999-03-17",
  NUMERO: "7574",
};

/**
 * `WINNERS_DELAY` of the server in a generated system: how long after its
 * `sorteo` line the first winners go out. `docker compose logs -f` reads each
 * container on its own and prints what arrives first; lines already written
 * when it attaches come out in any order across containers. A client's
 * `consulta_ganadores` therefore shows after the server's `sorteo` only when
 * it is written after the reader attached: measured here, a pause of 100 ms
 * or more gave 0 out of order in 110 runs (none: 26 of 32), and the reader
 * attached up to 340 ms after `up -d`; 1 s leaves room for a slower machine.
 */
export const DEFAULT_WINNERS_DELAY = "1s";

/** The server's INI file, relative to the Compose file, unless told otherwise. */
export const DEFAULT_SERVER_CONFIG = "config/server.ini";

/** The clients' YAML file, relative to the Compose file, unless told otherwise. */
export const DEFAULT_CLIENT_CONFIG = "config/client.yaml";

/** The image every service runs unless told otherwise. */
export const DEFAULT_IMAGE = "tp0:latest";

/** The port the server listens on inside its container (config/server.ini). */
export const DEFAULT_SERVER_PORT = 12345;

/** The largest number of clients (agencies) a Compose file may hold. */
export const MAX_CLIENTS = 1000;

/** The network every service joins. */
export const NETWORK_NAME = "testing_net";

/** The subnet of {@linkcode NETWORK_NAME}. */
export const NETWORK_SUBNET = "172.25.125.0/24";

/**
 * Where the server's storage file lives inside its container: in the
 * container's own writable layer, not a volume. It lives as long as the
 * container: it survives `docker kill` + `docker start` (the journal recovers
 * every acknowledged bet), and `docker compose down` removes it, so the next
 * `up` starts a new lottery whether `down` was given `--volumes` or not.
 */
export const SERVER_STORAGE_PATH = "/data/bets.csv";

/** Where a client's agency dataset is mounted inside its container. */
export const CLIENT_DATA_PATH = "/data/agency.csv";

/** What may be chosen when generating a Compose file. */
export interface ComposeOptions {
  /** What the clients do. @default "lottery" */
  mode?: ClientMode;
  /** The image of every service. @default "tp0:latest" */
  image?: string;
  /**
   * The port the healthcheck probes; must match SERVER_PORT in
   * config/server.ini. @default 12345
   */
  port?: number;
  /** The bet every client sends in `bet` mode. @default DEFAULT_BET */
  bet?: EnvBet;
  /** The server's INI file, relative to the Compose file. @default "config/server.ini" */
  serverConfig?: string;
  /** The clients' YAML file, relative to the Compose file. @default "config/client.yaml" */
  clientConfig?: string;
  /** The server's `WINNERS_DELAY` (a Go duration). @default DEFAULT_WINNERS_DELAY */
  winnersDelay?: string;
  /**
   * Mount the agencies' keys from {@linkcode KEYS_DIR} (written by gen-compose): the
   * server's keys file to the server, each client its own key only, read-only. The files
   * are mode 640 with the group `gid` (the group of whoever wrote them): every container
   * gets that group as a supplementary one (`group_add`), so its non-root user (uid 65532)
   * reads them while other users of the host cannot. Ignored in echo mode (no lottery).
   * None: no keys, the course's unauthenticated flow.
   */
  keys?: { gid: number };
  /**
   * Server replicas on a shared PostgreSQL (docs/replicas.md): more than 1 gives a
   * `postgres` service and `server1..serverK`, each with the network alias `server`. Its
   * password is in {@linkcode KEYS_DIR} (written by gen-compose), read through `gid`'s group.
   * @default 1 (one `server` on its embedded store)
   */
  servers?: number;
  /** The database image with replicas. @default DEFAULT_POSTGRES_IMAGE */
  postgresImage?: string;
  /** The group that reads the password file with replicas. @default 0 */
  gid?: number;
}

/** A bind mount of one host file, relative to the Compose file's directory. */
export interface ComposeBindMount {
  type: "bind";
  source: string;
  target: string;
  read_only: boolean;
  bind: { create_host_path: boolean };
}

/**
 * An exec-form healthcheck (`test` starts with `"CMD"`). While the container
 * starts (`start_period`) it probes every `start_interval` until the first
 * success; after that, every `interval`.
 */
export interface ComposeHealthcheck {
  test: string[];
  interval: string;
  timeout: string;
  retries: number;
  start_period: string;
  start_interval: string;
}

/** A service's networks: their names, or (a replica) each with its aliases. */
export type ComposeNetworks = string[] | Record<string, { aliases: string[] }>;

/** One service of the Compose file. */
export interface ComposeService {
  image: string;
  container_name: string;
  command?: string[];
  environment?: Record<string, string>;
  env_file?: string[];
  volumes: ComposeBindMount[];
  networks: ComposeNetworks;
  depends_on?: Record<string, { condition: "service_healthy" }>;
  group_add?: string[];
  init: true;
  stop_grace_period: string;
  healthcheck?: ComposeHealthcheck;
}

/** A whole Compose file, ready for `YAML.stringify`. */
export interface ComposeFile {
  name: string;
  services: Record<string, ComposeService>;
  networks: Record<string, { ipam: { driver: string; config: { subnet: string }[] } }>;
}

/**
 * Builds the Compose file for a server and `agencies` clients (0 gives a
 * server alone). Throws a `RangeError` for a count outside 0..1000, an
 * unknown mode, an empty image or a bad port.
 */
export function generateCompose(agencies: number, options: ComposeOptions = {}): ComposeFile {
  const mode = options.mode ?? "lottery";
  const image = options.image ?? DEFAULT_IMAGE;
  const port = options.port ?? DEFAULT_SERVER_PORT;
  if (!Number.isInteger(agencies) || agencies < 0 || agencies > MAX_CLIENTS) {
    throw new RangeError(
      `Invalid number of clients: ${agencies} (expected an integer 0..${MAX_CLIENTS})`,
    );
  }
  if (!CLIENT_MODES.includes(mode)) {
    throw new RangeError(`Invalid mode: "${mode}" (expected ${MODES_EXPECTED})`);
  }
  if (image.trim() === "" || /\s/.test(image)) {
    throw new RangeError(`Invalid image: "${image}" (expected an image reference)`);
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RangeError(`Invalid port: ${port} (expected an integer 1..65535)`);
  }

  const serverConfig = bindSource(options.serverConfig ?? DEFAULT_SERVER_CONFIG, "server config");
  const clientConfig = bindSource(options.clientConfig ?? DEFAULT_CLIENT_CONFIG, "client config");
  const bet = mode === "bet" ? options.bet ?? DEFAULT_BET : undefined;
  const keys = mode === "echo" ? undefined : options.keys;

  const { replicas, postgresImage } = checkReplicas(options);

  const services: Record<string, ComposeService> = {};
  if (replicas > 1) services.postgres = postgresService(postgresImage);
  const serverNames = replicas === 1
    ? ["server"]
    : Array.from({ length: replicas }, (_, i) => `server${i + 1}`);
  for (const name of serverNames) {
    const server = serverService({
      image,
      agencies,
      port,
      config: serverConfig,
      winnersDelay: options.winnersDelay ?? DEFAULT_WINNERS_DELAY,
    });
    if (replicas > 1) asReplica(server, name, options.gid ?? 0);
    if (keys !== undefined) {
      withKey(server, `./${KEYS_DIR}/${SERVER_KEYS_FILE}`, SERVER_KEYS_PATH, keys.gid);
      server.environment!.AGENCY_KEYS_PATH = SERVER_KEYS_PATH;
    }
    services[name] = server;
  }
  const healthy = Object.fromEntries(
    serverNames.map((name) => [name, { condition: "service_healthy" as const }]),
  );
  for (let id = 1; id <= agencies; id++) {
    const client = clientService({ image, id, mode, bet, config: clientConfig });
    client.depends_on = healthy;
    if (keys !== undefined) {
      withKey(client, `./${KEYS_DIR}/${clientKeyFile(id)}`, CLIENT_KEY_PATH, keys.gid);
      client.environment!.CLI_KEY_PATH = CLIENT_KEY_PATH;
    }
    services[`client${id}`] = client;
  }
  return {
    name: "tp0",
    services,
    networks: {
      [NETWORK_NAME]: { ipam: { driver: "default", config: [{ subnet: NETWORK_SUBNET }] } },
    },
  };
}

/**
 * A host path as a bind-mount source: relative paths get `./` (Compose reads a
 * bare name as a volume name), absolute ones stay.
 */
function bindSource(path: string, what: string): string {
  // deno-lint-ignore no-control-regex
  if (path.trim() === "" || /[\x00-\x1f\x7f]/.test(path)) {
    throw new RangeError(`Invalid ${what} path: ${JSON.stringify(path)} (expected a file path)`);
  }
  return path.startsWith("/") || path.startsWith("./") || path.startsWith("../")
    ? path
    : `./${path}`;
}

/**
 * The server: reads its ini, stores bets in its own container (see
 * {@linkcode SERVER_STORAGE_PATH}), reports healthy once it echoes, gives its
 * `sorteo` line a head start (see {@linkcode DEFAULT_WINNERS_DELAY}). AGENCIES
 * is the number of clients; with no clients it is left out (the server
 * requires 1..65535, so the ini value stands: a server-only file is for echo
 * checks, where no draw is expected).
 */
function serverService(
  { image, agencies, port, config, winnersDelay }: {
    image: string;
    agencies: number;
    port: number;
    config: string;
    winnersDelay: string;
  },
): ComposeService {
  return {
    image,
    container_name: "server",
    command: ["server", "--config", "/config/server.ini", "--storage", SERVER_STORAGE_PATH],
    environment: {
      ...(agencies > 0 ? { AGENCIES: String(agencies) } : {}),
      WINNERS_DELAY: winnersDelay,
    },
    volumes: [readOnlyBind(config, "/config/server.ini")],
    networks: [NETWORK_NAME],
    init: true,
    stop_grace_period: "10s",
    // Each probe is one echoed line that the server logs (receive_message): probe
    // every 500 ms until the first success, so clients start quickly, then only
    // every 30 s, so the log graders read is not flooded.
    healthcheck: {
      test: ["CMD", "tp0", "validate-echo", "--address", `127.0.0.1:${port}`, "--timeout", "2s"],
      interval: "30s",
      timeout: "3s",
      retries: 3,
      start_period: "30s",
      start_interval: "500ms",
    },
  };
}

/**
 * Client `id`: its identity and mode in the environment; in lottery mode its
 * dataset mounted, in bet mode the bet in its environment (the client itself
 * runs in lottery mode, which sends that one bet instead of a file).
 */
function clientService(
  { image, id, mode, bet, config }: {
    image: string;
    id: number;
    mode: ClientMode;
    bet: EnvBet | undefined;
    config: string;
  },
): ComposeService {
  const name = `client${id}`;
  const command = ["client", "--config", "/config/client.yaml"];
  const volumes = [readOnlyBind(config, "/config/client.yaml")];
  if (mode === "lottery") {
    command.push("--data", CLIENT_DATA_PATH);
    volumes.push(readOnlyBind(`./.data/agency-${id}.csv`, CLIENT_DATA_PATH));
  }
  return {
    image,
    container_name: name,
    command,
    environment: {
      CLI_ID: String(id),
      CLI_MODE: mode === "echo" ? "echo" : "lottery",
      ...bet,
    },
    volumes,
    networks: [NETWORK_NAME],
    depends_on: { server: { condition: "service_healthy" } },
    init: true,
    stop_grace_period: "5s",
  };
}
