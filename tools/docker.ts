/**
 * The Docker tasks: build the image, bring the system up with N agencies,
 * follow its logs, check the server from inside its network, bring it down.
 *
 *     deno task docker-build [--release] [--image tp0:latest]
 *     deno task up [N] [--mode lottery|bet|echo] [--bet CSV] [--image tp0:latest]
 *     deno task logs [docker compose logs options] [service...]
 *     deno task validate-echo [--network tp0_testing_net] [validate-echo options]
 *     deno task down [--timeout seconds]
 *
 * (each task is `deno run -A tools/docker.ts <command>`). Every container
 * runs the one image of the Dockerfile; the Compose file is written by
 * `tp0 gen-compose` at the repository root (docker-compose-dev.yaml). The
 * engine and the image are driven through `tools/docker_engine.ts`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  CLIENT_MODES,
  type ClientMode,
  MAX_CLIENTS,
  MODES_EXPECTED,
  NETWORK_NAME,
  runGenCompose,
} from "../compose/mod.ts";
import { EXIT_FAIL, EXIT_USAGE, UsageError } from "../util/mod.ts";
import {
  buildImage,
  BUNDLE_PATH,
  DEFAULT_IMAGE,
  docker,
  hasImage,
  lastLines,
  LOCAL_DENO_IMAGE,
  OFFICIAL_DENO_IMAGE,
  requireEngine,
  ROOT,
  TaskError,
} from "./docker_engine.ts";

/** The Compose file `up` writes (gitignored). */
export const COMPOSE_FILE = "docker-compose-dev.yaml";

/** The Compose project name (`name:` in the generated file). */
export const PROJECT = "tp0";

/** How many agencies `up` starts when not told. */
export const DEFAULT_AGENCIES = 5;

/** `docker compose` arguments for the system's project (and its file when there is one). */
async function composeArgs(): Promise<string[]> {
  const args = ["compose", "--project-name", PROJECT];
  if (await exists(`${ROOT}${COMPOSE_FILE}`)) args.push("--file", COMPOSE_FILE);
  return args;
}

/** The containers of the project, running or not. */
async function projectContainers(): Promise<string[]> {
  const result = await docker([
    "ps",
    "--all",
    "--quiet",
    "--filter",
    `label=com.docker.compose.project=${PROJECT}`,
  ]);
  return result.stdout.split("\n").filter((line) => line !== "");
}

/** Stops the system with each service's grace period (or `timeout`), then removes it and its volume. */
async function down(timeout: number | undefined, say: (line: string) => void): Promise<void> {
  const compose = await composeArgs();
  say(
    timeout === undefined
      ? "stopping (SIGTERM, then SIGKILL after each service's stop_grace_period)"
      : `stopping (SIGTERM, then SIGKILL after ${timeout} s)`,
  );
  const stop = [
    ...compose,
    "stop",
    ...(timeout === undefined ? [] : ["--timeout", String(timeout)]),
  ];
  if ((await docker(stop, { inherit: true })).code !== 0) {
    throw new TaskError("docker compose stop failed (see above)");
  }
  say("removing containers, network and the bets volume");
  const removed = await docker([...compose, "down", "--volumes", "--remove-orphans"], {
    inherit: true,
  });
  if (removed.code !== 0) throw new TaskError("docker compose down failed (see above)");
}

const USAGE = `Usage: deno run -A tools/docker.ts <command> [options]

Commands (also deno tasks):
  build [--release] [--image IMAGE]          deno task docker-build
      Bundles main.ts into ${BUNDLE_PATH} and builds the image (default ${DEFAULT_IMAGE}):
      the offline target on ${LOCAL_DENO_IMAGE} (or ${OFFICIAL_DENO_IMAGE} where that
      local image is missing); --release builds the default target instead
      (deno compile on distroless; needs the internet).
  up [N] [--mode lottery|bet|echo] [--bet CSV] [--image IMAGE]   deno task up
      Writes ${COMPOSE_FILE} for a server and N agencies (default ${DEFAULT_AGENCIES},
      mode lottery), builds the image, and starts everything in the background.
      A previous run still up is brought down first: every run starts fresh.
  logs [options] [service...]                deno task logs
      Follows the logs (docker compose logs --follow).
  validate-echo [--network NET] [--image IMAGE] [tp0 validate-echo options]
                                             deno task validate-echo
      Runs tp0 validate-echo in a throwaway container on ${PROJECT}_${NETWORK_NAME}
      (default address server:12345): no port exposed, nothing installed.
  down [--timeout SECONDS]                   deno task down
      Stops every container (SIGTERM; SIGKILL after its stop_grace_period or
      --timeout), then removes containers and network (the bets go with the server's container).
`;

/** Runs a command line; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  const say = (line: string) => console.log(`${command}: ${line}`);
  try {
    switch (command) {
      case "build":
        return await buildCommand(rest, say);
      case "up":
        return await upCommand(rest, say);
      case "down":
        return await downCommand(rest, say);
      case "logs":
        return await logsCommand(rest);
      case "validate-echo":
        return await validateEchoCommand(rest);
      case "-h":
      case "--help":
      case "help":
        console.log(USAGE);
        return 0;
      default:
        console.error(
          `docker.ts: ${
            command === undefined ? "missing command" : `unknown command '${command}'`
          }\n\n${USAGE}`,
        );
        return 2;
    }
  } catch (error) {
    if (error instanceof TaskError || error instanceof UsageError) {
      console.error(`${command}: ${error.message}`);
      return error instanceof UsageError ? EXIT_USAGE : EXIT_FAIL;
    }
    throw error;
  }
}

/** Runs a `parseArgs` call, turning its errors into a one-line {@linkcode UsageError}. */
function parse<T>(parseCall: () => T): T {
  try {
    return parseCall();
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    throw new UsageError(`${text.split("\n")[0].split(/\.\s/)[0]} (see --help)`, { cause: error });
  }
}

async function buildCommand(args: string[], say: (line: string) => void): Promise<number> {
  const { values } = parse(() =>
    parseArgs({ args, options: { release: { type: "boolean" }, image: { type: "string" } } })
  );
  await requireEngine();
  await buildImage({ image: values.image, release: values.release, inherit: true, progress: say });
  return 0;
}

async function upCommand(args: string[], say: (line: string) => void): Promise<number> {
  const { values, positionals } = parse(() =>
    parseArgs({
      args,
      options: { mode: { type: "string" }, bet: { type: "string" }, image: { type: "string" } },
      allowPositionals: true,
    })
  );
  if (positionals.length > 1) throw new UsageError(`unexpected argument: "${positionals[1]}"`);
  const countText = positionals[0] ?? String(DEFAULT_AGENCIES);
  const agencies = /^[0-9]+$/.test(countText) ? Number(countText) : NaN;
  if (!(agencies >= 1 && agencies <= MAX_CLIENTS)) {
    throw new UsageError(
      `invalid number of agencies: "${countText}" (expected an integer 1..${MAX_CLIENTS})`,
    );
  }
  const mode = (values.mode ?? "lottery") as ClientMode;
  if (!CLIENT_MODES.includes(mode)) {
    throw new UsageError(`invalid mode: "${mode}" (expected ${MODES_EXPECTED})`);
  }
  const image = values.image ?? DEFAULT_IMAGE;

  for (const file of ["config/server.ini", "config/client.yaml"]) {
    if (!(await exists(`${ROOT}${file}`))) {
      throw new TaskError(`missing ${file} (it is mounted into the containers)`);
    }
  }
  if (mode === "lottery") {
    const missing: string[] = [];
    for (let id = 1; id <= agencies; id++) {
      if (!(await exists(`${ROOT}.data/agency-${id}.csv`))) missing.push(`.data/agency-${id}.csv`);
    }
    if (missing.length > 0) {
      throw new TaskError(
        `missing ${missing.slice(0, 3).join(", ")}${missing.length > 3 ? ", ..." : ""}: ` +
          `each agency needs its bets file. Generate ${agencies} with ` +
          `\`deno run -A tools/gen_data.ts --agencies ${agencies}\` (rewrites .data/), ` +
          "or run with --mode echo",
      );
    }
  }

  await requireEngine();
  if ((await projectContainers()).length > 0) {
    say("a previous run is still there: bringing it down first (every run starts fresh)");
    await down(undefined, say);
  }
  const generated = await runGenCompose(
    [
      COMPOSE_FILE,
      String(agencies),
      ...["--mode", mode, "--image", image],
      ...(values.bet === undefined ? [] : ["--bet", values.bet]),
    ],
    { stdout: say, stderr: (line) => console.error(line) },
  );
  if (generated !== 0) throw new TaskError(`tp0 gen-compose exited ${generated}`);
  await buildImage({ image, inherit: true, progress: say });
  say(`starting the server, then ${agencies} client(s) once it is healthy`);
  const started = await docker(["compose", "--file", COMPOSE_FILE, "up", "--detach"], {
    inherit: true,
  });
  if (started.code !== 0) throw new TaskError("docker compose up failed (see above)");
  say(
    "running. Follow it: deno task logs | check the server: deno task validate-echo | " +
      "stop it: deno task down",
  );
  return 0;
}

async function downCommand(args: string[], say: (line: string) => void): Promise<number> {
  const { values } = parse(() => parseArgs({ args, options: { timeout: { type: "string" } } }));
  let timeout: number | undefined;
  if (values.timeout !== undefined) {
    timeout = /^[0-9]+$/.test(values.timeout) ? Number(values.timeout) : NaN;
    if (!Number.isSafeInteger(timeout)) {
      throw new UsageError(`invalid --timeout: "${values.timeout}" (expected whole seconds)`);
    }
  }
  await requireEngine();
  if ((await projectContainers()).length === 0) {
    say(`no containers of project ${PROJECT}; removing any network and volume left`);
    const compose = await composeArgs();
    const removed = await docker([...compose, "down", "--volumes", "--remove-orphans"]);
    if (removed.code !== 0) {
      throw new TaskError(`docker compose down failed: ${lastLines(removed.stderr)}`);
    }
    return 0;
  }
  await down(timeout, say);
  return 0;
}

async function logsCommand(args: string[]): Promise<number> {
  await requireEngine();
  const result = await docker([...await composeArgs(), "logs", "--follow", ...args], {
    inherit: true,
  });
  return result.code;
}

async function validateEchoCommand(args: string[]): Promise<number> {
  let network = `${PROJECT}_${NETWORK_NAME}`;
  let image = DEFAULT_IMAGE;
  const passed: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const [flag, inline] = arg.startsWith("--") ? arg.split(/=(.*)/s, 2) : [arg];
    if (flag === "--network" || flag === "--image") {
      const value = inline ?? args[++i];
      if (value === undefined || value === "") throw new UsageError(`missing value of ${flag}`);
      if (flag === "--network") network = value;
      else image = value;
    } else {
      passed.push(arg);
    }
  }
  await requireEngine();
  if ((await docker(["network", "inspect", network])).code !== 0) {
    throw new TaskError(
      `no network ${network}: the system is not up (start it with deno task up)`,
    );
  }
  if (!(await hasImage(image))) {
    throw new TaskError(`no image ${image} (build it with deno task docker-build)`);
  }
  const result = await docker(
    ["run", "--rm", "--network", network, image, "validate-echo", ...passed],
    { inherit: true, timeoutMs: 5 * 60_000 },
  );
  return result.code;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

if (import.meta.main) {
  // Paths (the Compose file, dist/, .data/) are relative to the repository root.
  Deno.chdir(ROOT);
  Deno.exit(await main(Deno.args));
}
