/**
 * `tp0 gen-compose`: writes the Docker Compose file for a server and N
 * clients. The file is built as an object ({@linkcode generateCompose}) and
 * serialized with the `yaml` package ({@linkcode composeToYaml}).
 *
 * @module
 */

import YAML from "yaml";
import {
  EXIT_FAIL,
  EXIT_OK,
  parseCommand,
  printErr,
  printOut,
  runCommand,
  UsageError,
} from "../util/mod.ts";
import { parseDuration } from "../util/mod.ts";
import { validateBet } from "../store/mod.ts";
import {
  CLIENT_MODES,
  type ClientMode,
  type ComposeFile,
  DEFAULT_BET,
  DEFAULT_CLIENT_CONFIG,
  DEFAULT_IMAGE,
  DEFAULT_SERVER_CONFIG,
  DEFAULT_WINNERS_DELAY,
  type EnvBet,
  generateCompose,
  MAX_CLIENTS,
  MODES_EXPECTED,
} from "./compose.ts";
import { join, KEYS_DIR, writeAgencyKeys, writeStorePassword } from "./keys.ts";
import { DEFAULT_POSTGRES_IMAGE, MAX_SERVERS } from "./replicas.ts";

export * from "./compose.ts";
export {
  CLIENT_KEY_PATH,
  clientKeyFile,
  KEYS_DIR,
  POSTGRES_ENV_FILE,
  SERVER_KEYS_FILE,
  SERVER_KEYS_PATH,
  STORE_PASSWORD_FILE,
  STORE_PASSWORD_PATH,
  writeStorePassword,
} from "./keys.ts";
export {
  DEFAULT_POSTGRES_IMAGE,
  MAX_SERVERS,
  POSTGRES_DATA,
  POSTGRES_USER,
  SERVER_ALIAS,
  STORE_URL,
} from "./replicas.ts";

/** Usage text of `tp0 gen-compose`. */
export const GEN_COMPOSE_USAGE = `Usage: tp0 gen-compose <out.yaml> <N> [options]

Writes a Docker Compose file with a server and N clients (N an integer 0..${MAX_CLIENTS}).
Paths in it are relative to the file's directory: write it at the repository
root, next to config/ and .data/. Every \`up\` after a \`down\` starts a new
lottery: the server keeps its bets inside its own container.

Options:
  --mode lottery|bet|echo  what the clients do (default lottery):
                           lottery  stream .data/agency-{id}.csv (exercises 6-8)
                           bet      send one bet from the environment (exercise 5)
                           echo     echo messages (exercises 1-4)
  --bet <csv>              the bet of --mode bet, as "Nombre,Apellido,Documento,Nacimiento,Numero"
                           (default "${Object.values(DEFAULT_BET).join(",")}")
  --server-config <path>   the server's INI file (default ${DEFAULT_SERVER_CONFIG})
  --client-config <path>   the clients' YAML file (default ${DEFAULT_CLIENT_CONFIG})
  --winners-delay <d>      the server's WINNERS_DELAY: how long its sorteo line leads the
                           winners, so that \`docker compose logs -f\` shows the draw before
                           any answer (default ${DEFAULT_WINNERS_DELAY}; 0s turns it off)
  --image IMAGE            image of every service (default ${DEFAULT_IMAGE})
  --servers K              K server replicas (1..${MAX_SERVERS}) on a shared PostgreSQL
                           (docs/replicas.md): a postgres service and server1..serverK, each
                           with the network alias server (clients unchanged, server:12345);
                           the database's password, fresh each time, in ${KEYS_DIR}/ beside the
                           Compose file, mode 640. Default 1: one server, its embedded store
  --postgres-image IMAGE   the database image with --servers (default ${DEFAULT_POSTGRES_IMAGE};
                           tp0/postgres:offline on machines without a registry)
  --no-keys                no agency keys: the course's unauthenticated flow (protocol
                           version 1). By default (lottery and bet modes) a fresh key per
                           agency (256 random bits) is written to ${KEYS_DIR}/ beside the
                           Compose file, mode 640: the server mounts the keys file, each
                           client its own key only
  -h, --help               show this help

Examples:
  tp0 gen-compose docker-compose-dev.yaml 5
  tp0 gen-compose docker-compose-dev.yaml 5 --mode bet --bet "Ana,Gómez,30111222,1990-05-01,7574"
  tp0 gen-compose docker-compose-dev.yaml 3 --server-config server/config.ini --client-config client/config.yaml
  tp0 gen-compose docker-compose-dev.yaml 5 --servers 3 --postgres-image tp0/postgres:offline
`;

/** Where a command prints; both default to the process's stdout and stderr. */
export interface RunOutput {
  /** Prints one line of results. @default printOut */
  stdout?: (line: string) => void;
  /** Prints one line about a failure. @default printErr */
  stderr?: (line: string) => void;
}

/** Options of {@linkcode composeToYaml}. */
export interface ComposeYamlOptions {
  /** A comment put at the top of the file, one entry a line. */
  comment?: string[];
}

/**
 * Serializes `compose` with the `yaml` package. Commands, healthcheck tests
 * and service network lists are written in flow style (`[a, b]`) so each
 * fits one line.
 */
export function composeToYaml(compose: ComposeFile, options: ComposeYamlOptions = {}): string {
  const document = new YAML.Document(compose);
  YAML.visit(document, {
    Pair(_, pair) {
      const key = YAML.isScalar(pair.key) ? pair.key.value : undefined;
      if ((key === "command" || key === "test" || key === "networks") && YAML.isSeq(pair.value)) {
        pair.value.flow = true;
      }
      // Every environment value double-quoted: Compose reads YAML 1.1, where a bare
      // 1999-03-17 is a timestamp (the client got "1999-03-17 00:00:00 +0000 UTC").
      if (key === "environment" && YAML.isMap(pair.value)) {
        for (const item of pair.value.items) {
          if (YAML.isScalar(item.value)) item.value.type = "QUOTE_DOUBLE";
        }
      }
    },
  });
  if (options.comment !== undefined && options.comment.length > 0) {
    document.commentBefore = options.comment.map((line) => ` ${line}`).join("\n");
  }
  return document.toString({ lineWidth: 0, flowCollectionPadding: false });
}

/**
 * Runs `tp0 gen-compose` with the arguments after the subcommand name and
 * returns the exit code: 0 written, 1 the file could not be written, 2 bad
 * usage (nothing written).
 */
export function runGenCompose(args: string[], output: RunOutput = {}): Promise<number> {
  const stdout = output.stdout ?? printOut;
  const stderr = output.stderr ?? printErr;
  return runCommand(GEN_COMPOSE_USAGE, async () => {
    rejectNegativeCount(args);
    const { values, positionals, help } = parseCommand(args, {
      options: {
        mode: { type: "string" },
        bet: { type: "string" },
        image: { type: "string" },
        "server-config": { type: "string" },
        "client-config": { type: "string" },
        "winners-delay": { type: "string" },
        "no-keys": { type: "boolean" },
        servers: { type: "string" },
        "postgres-image": { type: "string" },
      },
      usage: GEN_COMPOSE_USAGE,
      allowPositionals: true,
    });
    if (help) {
      stdout(GEN_COMPOSE_USAGE);
      return EXIT_OK;
    }
    const [outPath, countText, ...extra] = positionals;
    if (outPath === undefined || outPath === "") {
      throw new UsageError("Missing argument: <out.yaml> (the Compose file to write)");
    }
    if (countText === undefined) {
      throw new UsageError("Missing argument: <N> (the number of clients)");
    }
    if (extra.length > 0) throw new UsageError(`Unexpected argument: "${extra[0]}"`);
    const agencies = parseClientCount(countText);
    const mode = parseMode(values.mode ?? "lottery");
    const image = values.image ?? DEFAULT_IMAGE;
    if (image.trim() === "" || /\s/.test(image)) {
      throw new UsageError(`Invalid image: "${image}" (expected an image reference)`);
    }
    if (values.bet !== undefined && mode !== "bet") {
      throw new UsageError(`--bet goes with --mode bet (the mode is ${mode})`);
    }
    const bet = values.bet === undefined ? undefined : parseBet(values.bet);
    const serverConfig = values["server-config"] ?? DEFAULT_SERVER_CONFIG;
    const clientConfig = values["client-config"] ?? DEFAULT_CLIENT_CONFIG;
    const winnersDelay = parseWinnersDelay(values["winners-delay"] ?? DEFAULT_WINNERS_DELAY);
    const withKeys = values["no-keys"] !== true && mode !== "echo";
    const servers = parseServers(values.servers ?? "1");
    if (values["postgres-image"] !== undefined && servers === 1) {
      throw new UsageError("--postgres-image goes with --servers K (K > 1)");
    }
    const postgresImage = values["postgres-image"] ?? DEFAULT_POSTGRES_IMAGE;

    let compose: ComposeFile;
    try {
      compose = generateCompose(agencies, {
        mode,
        image,
        bet,
        serverConfig,
        clientConfig,
        winnersDelay,
        keys: withKeys ? { gid: Deno.gid() ?? 0 } : undefined,
        servers,
        postgresImage,
        gid: Deno.gid() ?? 0,
      });
    } catch (error) {
      if (error instanceof RangeError) throw new UsageError(error.message, { cause: error });
      throw error;
    }
    const flags = [
      `--mode ${mode}`,
      ...(bet === undefined ? [] : [`--bet ${JSON.stringify(values.bet)}`]),
      `--server-config ${serverConfig}`,
      `--client-config ${clientConfig}`,
      `--winners-delay ${winnersDelay}`,
      `--image ${image}`,
      ...(values["no-keys"] === true ? ["--no-keys"] : []),
      ...(servers === 1 ? [] : [`--servers ${servers}`, `--postgres-image ${postgresImage}`]),
    ];
    const text = composeToYaml(compose, {
      comment: [
        `Generated by: tp0 gen-compose ${outPath} ${agencies} ${flags.join(" ")}`,
        "Regenerate it instead of editing it. Bind-mount sources are relative to this",
        "file's directory (config/, .data/ next to it).",
      ],
    });
    try {
      await Deno.writeTextFile(outPath, text);
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      stderr(`tp0: Cannot write Compose file "${outPath}": ${oneLine(detail)}`);
      return EXIT_FAIL;
    }
    const keysDir = join(dirname(outPath), KEYS_DIR);
    try {
      if (withKeys) await writeAgencyKeys(keysDir, agencies);
      if (servers > 1) await writeStorePassword(keysDir);
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      stderr(`tp0: Cannot write the agency keys in "${keysDir}": ${oneLine(detail)}`);
      return EXIT_FAIL;
    }
    const clients = agencies === 1 ? "1 client" : `${agencies} clients`;
    const keyed = withKeys ? `, a fresh key each in ${keysDir}/` : "";
    const serving = servers === 1
      ? "server"
      : `${servers} server replicas on postgres (${postgresImage}, its password in ${keysDir}/)`;
    stdout(`gen-compose: wrote ${outPath} with ${serving} and ${clients} (mode ${mode})${keyed}`);
    return EXIT_OK;
  });
}

/** The folder of `path` (`.` for a bare name). */
function dirname(path: string): string {
  const at = path.lastIndexOf("/");
  return at < 0 ? "." : at === 0 ? "/" : path.slice(0, at);
}

/** Parses `--servers K`: decimal digits only, 1..16. */
function parseServers(text: string): number {
  const count = /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(count) || count < 1 || count > MAX_SERVERS) {
    throw new UsageError(
      `Invalid --servers: ${JSON.stringify(text)} (expected an integer 1..${MAX_SERVERS})`,
    );
  }
  return count;
}

/** Parses N: decimal digits only, 0..1000. */
function parseClientCount(text: string): number {
  const count = /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(count) || count > MAX_CLIENTS) {
    throw new UsageError(
      `Invalid number of clients: ${JSON.stringify(text)} (expected an integer 0..${MAX_CLIENTS})`,
    );
  }
  return count;
}

/** The flags that take a value (a value that starts with `-` is not a count). */
const VALUE_FLAGS = [
  "--mode",
  "--bet",
  "--image",
  "--server-config",
  "--client-config",
  "--winners-delay",
  "--servers",
  "--postgres-image",
];

/**
 * parseArgs would report `-1` as an unknown option: name it as the bad count
 * it is. Only a bare argument counts, not the value of a flag.
 */
function rejectNegativeCount(args: string[]): void {
  for (let index = 0; index < args.length && args[index] !== "--"; index++) {
    if (/^-[0-9]/.test(args[index]) && !VALUE_FLAGS.includes(args[index - 1])) {
      parseClientCount(args[index]);
    }
  }
}

/**
 * Parses `--bet "Nombre,Apellido,Documento,Nacimiento,Numero"` (five fields,
 * split on commas: a name cannot hold one here) and checks it as the server
 * will, so a bad bet stops here rather than in every client.
 */
function parseBet(text: string): EnvBet {
  const fields = text.split(",").map((field) => field.trim());
  if (fields.length !== 5) {
    throw new UsageError(
      `Invalid --bet: ${
        JSON.stringify(text)
      } (expected Nombre,Apellido,Documento,Nacimiento,Numero)`,
    );
  }
  const [NOMBRE, APELLIDO, DOCUMENTO, NACIMIENTO, NUMERO] = fields;
  const number = /^[0-9]+$/.test(NUMERO) ? Number(NUMERO) : NaN;
  const problem = validateBet({
    agency: 1,
    firstName: NOMBRE,
    lastName: APELLIDO,
    document: DOCUMENTO,
    birthdate: NACIMIENTO,
    number,
  }, { agencies: 1 });
  if (problem !== undefined) throw new UsageError(`Invalid --bet: ${problem}`);
  return { NOMBRE, APELLIDO, DOCUMENTO, NACIMIENTO, NUMERO };
}

/** Checks `--winners-delay` as the server will (a Go duration, 0 to 24h). */
function parseWinnersDelay(text: string): string {
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch {
    ms = NaN;
  }
  if (!(ms >= 0 && ms <= 24 * 3_600_000)) {
    throw new UsageError(
      `Invalid --winners-delay: ${JSON.stringify(text)} (expected a Go duration >= 0, like 0s, 1s)`,
    );
  }
  return text;
}

/** Parses `--mode`. */
function parseMode(text: string): ClientMode {
  const mode = CLIENT_MODES.find((candidate) => candidate === text);
  if (mode === undefined) {
    throw new UsageError(
      `Invalid mode: ${JSON.stringify(text)} (expected ${MODES_EXPECTED})`,
    );
  }
  return mode;
}

/** Keeps an error message on one line. */
function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, " ").trim();
}
