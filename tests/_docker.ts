/**
 * Helpers for the Docker end-to-end tests: one image built per test run, and
 * Compose systems in temporary folders, read through `docker compose logs`
 * the way a grader reads them, and always removed afterwards.
 *
 * Each system is the file `tp0 gen-compose` generates, with two changes so
 * that it collides neither with a system the user has up (project `tp0`) nor
 * with another test run on the same engine: the project name gets a per-run
 * id (`tp0test-1a2b-echo`) and prefixes every container name, and the network
 * gets a free subnet. Service names, and so the server's DNS name, stay as
 * generated. A run that was killed leaves its containers behind:
 * `docker ps -a --filter name=tp0test-` lists them.
 *
 * @module
 */

import { writeKeys } from "./_keys.ts";
import YAML from "yaml";
import {
  type ClientMode,
  type ComposeFile,
  composeToYaml,
  generateCompose,
  NETWORK_NAME,
  writeStorePassword,
} from "../compose/mod.ts";
import { type ParsedLogLine, parseLogLine } from "../roles/log.ts";
import { buildImage, docker, engineProblem, ROOT, type RunResult } from "../tools/docker_engine.ts";

/** A terminal escape sequence (`ESC [2K`, colours). */
const ANSI_ESCAPE = new RegExp(`${String.fromCharCode(0x1b)}\\[[0-9;?]*[A-Za-z]`, "g");

/** Distinguishes this test run's projects from another run's on the same engine. */
const RUN_ID = crypto.getRandomValues(new Uint8Array(2)).reduce(
  (hex, byte) => hex + byte.toString(16).padStart(2, "0"),
  "",
);

/** Why no Docker engine answers, or undefined: asked once per test run. */
const problem = await engineProblem();
if (problem !== undefined) {
  console.log(
    Deno.env.get("CI") === "true"
      ? `docker tests: FAIL: docker engine unavailable (CI=true): ${problem}`
      : `docker tests: SKIPPED: ${problem}; start an engine with ` +
        "`bash ../shared/tools/docker-engine.sh` to run them",
  );
}

/**
 * A test that needs a Docker engine. Without one it is ignored (and the reason
 * said once), except in CI (`CI=true`), where it fails with the reason: a
 * broken engine set-up must not pass as a green run with every test ignored.
 */
export function dockerTest(name: string, fn: () => Promise<void>): void {
  const inCi = Deno.env.get("CI") === "true";
  Deno.test({
    name: `docker: ${name}`,
    ignore: problem !== undefined && !inCi,
    fn: problem === undefined ? fn : () => {
      throw new Error(`docker engine unavailable (CI=true): ${problem}`);
    },
  });
}

/** The image the tests build and run (the user's `tp0:latest` is left alone). */
export const TEST_IMAGE = "tp0:test";

let built: Promise<string> | undefined;

/** Builds {@linkcode TEST_IMAGE} from the offline target once per test run; resolves its id. */
export function testImage(): Promise<string> {
  built ??= buildImage({
    image: TEST_IMAGE,
    progress: (line) => console.log(`docker tests: ${line}`),
  });
  return built;
}

/** Runs `docker args` and throws with its output unless it exits 0. */
export async function dockerOk(args: string[], timeoutMs = 60_000): Promise<string> {
  const result = await docker(args, { timeoutMs });
  if (result.code !== 0) throw commandError(args, result);
  return result.stdout;
}

function commandError(args: string[], result: RunResult): Error {
  const why = result.timedOut ? "timed out" : `exited ${result.code}`;
  return new Error(`docker ${args.join(" ")} ${why}:\n${result.stderr}${result.stdout}`);
}

/** One line of `docker compose logs --timestamps`. */
export interface ComposeLogLine {
  /** The service (`server`, `client1`); Compose prints the container name, ours has a prefix. */
  service: string;
  /** When Docker read the line, in nanoseconds since the epoch (orders lines across services). */
  at: bigint;
  /** The line as the program printed it. */
  text: string;
  /** The parsed record, when the line is one. */
  record?: ParsedLogLine;
}

/** The state of a container, from `docker inspect`. */
export interface ContainerState {
  status: string;
  running: boolean;
  exitCode: number;
  /** When it exited (ms since the epoch), or undefined while it runs. */
  finishedAt?: number;
  health?: string;
}

/** What a test system consists of. */
export interface SystemOptions {
  /** The scenario's name (`echo-1x1`): the project is `tp0test-<run id>-<name>`. */
  name: string;
  /** Number of clients (0: a server alone). */
  agencies: number;
  mode: ClientMode;
  /** Agency files, agency `i` reads `data[i - 1]` (lottery mode): a file to copy, or its text. */
  data?: ({ path: string } | { text: string })[];
  /** Fresh agency keys in `.keys/`, mounted as gen-compose mounts them. @default false */
  keys?: boolean;
  /** Server replicas on a shared PostgreSQL, as `gen-compose --servers K` makes them. @default 1 */
  servers?: number;
  /** The database image with `servers` > 1 (`--postgres-image`). @default "tp0/postgres:offline" */
  postgresImage?: string;
}

/** Changes to the shipped configuration files, written next to the Compose file. */
export interface ConfigChanges {
  /** INI keys (`SERVER_LISTEN_BACKLOG`) set to values in config/server.ini. */
  server?: Record<string, string>;
  /** YAML paths (`loop.amount`) set to values in config/client.yaml. */
  client?: Record<string, string | number>;
}

/**
 * A Compose system in a temporary folder: the generated file, copies of
 * config/ (changed as asked) and the agency files next to it. Always call
 * {@linkcode TestSystem.remove} (containers, network, volume, folder).
 */
export class TestSystem {
  /** The Compose project name, also the prefix of every container name. */
  readonly project: string;
  /** The temporary folder. */
  readonly dir: string;
  /** The network the services join. */
  readonly network: string;
  /** The Compose file, in {@linkcode TestSystem.dir}. */
  readonly file: string;
  #extraContainers: string[] = [];

  private constructor(project: string, dir: string, file = `${dir}/docker-compose.yaml`) {
    this.project = project;
    this.dir = dir;
    this.network = `${project}_${NETWORK_NAME}`;
    this.file = file;
  }

  /**
   * Takes over a Compose file that something else wrote (the course's
   * `generar-compose.sh`) in `dir`, a temporary folder the system now owns:
   * the file is isolated in place as {@linkcode TestSystem.create} isolates
   * its own (project name, container-name prefix, a free subnet).
   */
  static async adopt(name: string, dir: string, file: string): Promise<TestSystem> {
    const project = `tp0test-${RUN_ID}-${name}`;
    const system = new TestSystem(project, dir, file);
    const compose = YAML.parse(await Deno.readTextFile(file));
    await Deno.writeTextFile(file, composeToYaml(await isolate(compose, project)));
    return system;
  }

  /** Writes the system's files in a new temporary folder. */
  static async create(options: SystemOptions): Promise<TestSystem> {
    const project = `tp0test-${RUN_ID}-${options.name}`;
    const dir = await Deno.makeTempDir({ prefix: `${project}-` });
    const system = new TestSystem(project, dir);
    try {
      await Deno.chmod(dir, 0o755);
      await Deno.mkdir(`${dir}/config`);
      await Deno.mkdir(`${dir}/.data`);
      await Deno.copyFile(`${ROOT}config/server.ini`, `${dir}/config/server.ini`);
      await Deno.copyFile(`${ROOT}config/client.yaml`, `${dir}/config/client.yaml`);
      for (const [index, source] of (options.data ?? []).entries()) {
        const target = `${dir}/.data/agency-${index + 1}.csv`;
        if ("path" in source) await Deno.copyFile(source.path, target);
        else await Deno.writeTextFile(target, source.text);
      }
      if (options.keys === true) {
        await Deno.mkdir(`${dir}/.keys`, { mode: 0o750 });
        await writeKeys(`${dir}/.keys`, options.agencies);
        for (const entry of Deno.readDirSync(`${dir}/.keys`)) {
          await Deno.chmod(`${dir}/.keys/${entry.name}`, 0o640);
        }
      }
      const servers = options.servers ?? 1;
      if (servers > 1) await writeStorePassword(`${dir}/.keys`);
      const compose = generateCompose(options.agencies, {
        mode: options.mode,
        image: TEST_IMAGE,
        keys: options.keys === true ? { gid: Deno.gid() ?? 0 } : undefined,
        servers,
        postgresImage: options.postgresImage ?? "tp0/postgres:offline",
        gid: Deno.gid() ?? 0,
      });
      await Deno.writeTextFile(system.file, composeToYaml(await isolate(compose, project)));
    } catch (error) {
      await Deno.remove(dir, { recursive: true });
      throw error;
    }
    return system;
  }

  /** The container name of a service. */
  container(service: string): string {
    return `${this.project}-${service}`;
  }

  /** Rewrites config/server.ini and config/client.yaml from the shipped ones, with `changes`. */
  async configure(changes: ConfigChanges): Promise<void> {
    let ini = await Deno.readTextFile(`${ROOT}config/server.ini`);
    for (const [key, value] of Object.entries(changes.server ?? {})) {
      const line = new RegExp(`^${key}\\s*=.*$`, "m");
      if (!line.test(ini)) throw new Error(`No ${key} in config/server.ini`);
      ini = ini.replace(line, `${key} = ${value}`);
    }
    await Deno.writeTextFile(`${this.dir}/config/server.ini`, ini);

    const document = YAML.parseDocument(await Deno.readTextFile(`${ROOT}config/client.yaml`));
    for (const [path, value] of Object.entries(changes.client ?? {})) {
      document.setIn(path.split("."), value);
    }
    await Deno.writeTextFile(`${this.dir}/config/client.yaml`, document.toString());
  }

  /** `docker compose up --detach` (waits until the server is healthy and the clients started). */
  async up(): Promise<void> {
    await this.#composeOk(["up", "--detach"], 120_000);
  }

  /** `docker compose stop` with a timeout; returns how long it took. */
  async stopAll(timeoutSeconds: number): Promise<number> {
    const started = performance.now();
    await this.#composeOk(["stop", "--timeout", String(timeoutSeconds)], 60_000);
    return performance.now() - started;
  }

  /** `docker compose down --volumes`: containers and volume gone, ready for another `up`. */
  async down(): Promise<void> {
    await this.#composeOk(["down", "--volumes", "--remove-orphans", "--timeout", "2"], 60_000);
  }

  /** Starts a container of the test's own on the system's network (removed with the system). */
  async runExtra(name: string, args: string[]): Promise<string> {
    const container = `${this.project}-${name}`;
    this.#extraContainers.push(container);
    await dockerOk(["rm", "--force", container]);
    await dockerOk(["run", "--detach", "--name", container, "--network", this.network, ...args]);
    return container;
  }

  /** Every log line of every service, in the order Docker read them. */
  async logs(): Promise<ComposeLogLine[]> {
    const out = await this.#composeOk(["logs", "--no-color", "--timestamps"], 60_000);
    const lines: ComposeLogLine[] = [];
    // Compose 2.26 starts each line with an erase-line escape (ESC [2K) even when piped.
    for (const raw of out.replace(ANSI_ESCAPE, "").split("\n")) {
      const match = /^(\S+)\s+\| (\S+) (.*)$/.exec(raw);
      if (match === null) continue;
      // The prefix is the container name: the service name after our project prefix.
      const [, container, stamp, text] = match;
      const service = container.startsWith(`${this.project}-`)
        ? container.slice(this.project.length + 1)
        : container;
      lines.push({ service, at: nanoseconds(stamp), text, record: parseLogLine(text) });
    }
    // Stable: lines of one service keep their order even with equal timestamps.
    return lines.map((line, index) => ({ line, index }))
      .sort((a, b) => a.line.at < b.line.at ? -1 : a.line.at > b.line.at ? 1 : a.index - b.index)
      .map(({ line }) => line);
  }

  /** The state of a service's container. */
  async state(service: string): Promise<ContainerState> {
    const format = "{{json .State}}";
    const json = JSON.parse(
      await dockerOk(["inspect", "--format", format, this.container(service)]),
    );
    const finished = Date.parse(json.FinishedAt);
    return {
      status: json.Status,
      running: json.Running,
      exitCode: json.ExitCode,
      finishedAt: json.Running || !(finished > 0) ? undefined : finished,
      health: json.Health?.Status,
    };
  }

  /** Waits until every one of `services` has exited; throws after `timeoutMs`. */
  async waitExited(services: string[], timeoutMs: number): Promise<Map<string, ContainerState>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const states = new Map<string, ContainerState>();
      for (const service of services) states.set(service, await this.state(service));
      const running = services.filter((service) => states.get(service)!.status !== "exited");
      if (running.length === 0) return states;
      if (Date.now() > deadline) {
        throw new Error(`Still running after ${timeoutMs} ms: ${running.join(", ")}`);
      }
      await delay(250);
    }
  }

  /** Waits until `service` has printed at least `count` lines; throws after `timeoutMs`. */
  async waitLines(service: string, count: number, timeoutMs: number): Promise<ComposeLogLine[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lines = (await this.logs()).filter((line) => line.service === service);
      if (lines.length >= count) return lines;
      if (Date.now() > deadline) {
        throw new Error(`${service} printed ${lines.length} of ${count} lines in ${timeoutMs} ms`);
      }
      await delay(200);
    }
  }

  /** Copies a file out of a container (running or stopped) and returns its text. */
  async copyOut(service: string, path: string): Promise<string> {
    const target = `${this.dir}/copied-${service}-${path.replaceAll("/", "_")}`;
    await dockerOk(["cp", `${this.container(service)}:${path}`, target]);
    return await Deno.readTextFile(target);
  }

  /** Removes the extra containers, the system (containers, network, volume) and the folder. */
  async remove(): Promise<void> {
    const problems: string[] = [];
    for (const container of this.#extraContainers) {
      const result = await docker(["rm", "--force", container], { timeoutMs: 30_000 });
      if (result.code !== 0) problems.push(result.stderr.trim());
    }
    const args = ["down", "--volumes", "--remove-orphans", "--timeout", "1"];
    const result = await this.compose(args, 60_000);
    if (result.code !== 0) problems.push(result.stderr.trim());
    await Deno.remove(this.dir, { recursive: true });
    if (problems.length > 0) throw new Error(`Cleanup of ${this.project}: ${problems.join("; ")}`);
  }

  /** `docker compose <args>` on this system, as a user types it (no project flag needed). */
  compose(args: string[], timeoutMs = 60_000): Promise<RunResult> {
    return docker(["compose", "--file", this.file, ...args], { timeoutMs, cwd: this.dir });
  }

  /**
   * `docker compose logs -f` started now and read line by line as a grader
   * reads it (escapes stripped), until {@linkcode LogFollower.stop}.
   */
  follow(): LogFollower {
    return new LogFollower(["compose", "--file", this.file, "logs", "-f"], this.dir);
  }

  async #composeOk(args: string[], timeoutMs: number): Promise<string> {
    const result = await this.compose(args, timeoutMs);
    if (result.code !== 0) throw commandError(["compose", ...args], result);
    return result.stdout;
  }
}

/**
 * A Compose file made safe to run beside the user's system and other test
 * runs: project `project`, every container name prefixed with it, and a free
 * subnet. Service names, and so the server's DNS name, stay as they are.
 */
async function isolate(compose: ComposeFile, project: string): Promise<ComposeFile> {
  compose.name = project;
  for (const [name, service] of Object.entries(compose.services)) {
    service.container_name = `${project}-${name}`;
  }
  compose.networks[NETWORK_NAME].ipam.config = [{ subnet: await freeSubnet() }];
  return compose;
}

/** One line of `docker compose logs -f` as the course's parser reads it. */
export interface GraderLine {
  /** What stands before the first `|`: the container name. */
  source: string;
  /** `action`, `result` and every other `key: value` after it; empty for other lines. */
  fields: Record<string, string>;
  /** The whole line, escapes stripped. */
  raw: string;
}

/**
 * Parses a merged log line the way the course's graders do: the source before
 * the first `|`, then every `|`-separated part split at its `: ` into a key
 * (the last word before it) and a value. Compose's own `<name> exited with
 * code N` becomes action `exit` with `code`, as their parser maps it.
 */
export function parseGraderLine(raw: string): GraderLine | undefined {
  const exited = /^(\S+) exited with code (\d+)$/.exec(raw.trim());
  if (exited !== null) {
    return { source: exited[1], fields: { action: "exit", code: exited[2] }, raw };
  }
  const bar = raw.indexOf("|");
  if (bar < 0) return undefined;
  const fields: Record<string, string> = {};
  for (const part of raw.slice(bar + 1).split("|")) {
    const colon = part.indexOf(": ");
    if (colon < 0) continue;
    const key = part.slice(0, colon).trim().split(/\s+/).at(-1)!;
    fields[key] = part.slice(colon + 2).trim();
  }
  return { source: raw.slice(0, bar).trim(), fields, raw };
}

/** A running `docker compose logs -f` and every line it has printed so far. */
export class LogFollower {
  /** Every line so far, in the order Compose printed them, escapes stripped. */
  readonly lines: string[] = [];
  #child: Deno.ChildProcess;
  #done: Promise<void>;

  constructor(args: string[], cwd: string) {
    this.#child = new Deno.Command("docker", {
      args,
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    this.#done = this.#read();
  }

  async #read(): Promise<void> {
    let rest = "";
    for await (const chunk of this.#child.stdout.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      for (const part of parts) this.lines.push(part.replace(ANSI_ESCAPE, ""));
    }
    if (rest !== "") this.lines.push(rest.replace(ANSI_ESCAPE, ""));
  }

  /** The lines parsed as the course's graders parse them. */
  parsed(): GraderLine[] {
    return this.lines.map(parseGraderLine).filter((line) => line !== undefined);
  }

  /** Waits until `test` holds for the lines so far; throws after `timeoutMs`. */
  async waitFor(test: (lines: GraderLine[]) => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!test(this.parsed())) {
      if (Date.now() > deadline) {
        throw new Error(
          `logs -f: condition not met in ${timeoutMs} ms; last lines:\n` +
            this.lines.slice(-15).join("\n"),
        );
      }
      await delay(100);
    }
  }

  /** Stops following (the lines read so far stay). */
  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    await this.#done;
    await this.#child.status;
  }
}

/**
 * Creates a system, runs `fn` with it and removes it whatever happens (a
 * cleanup problem is reported without hiding the test's own failure).
 */
export async function withSystem<T>(
  options: SystemOptions,
  fn: (system: TestSystem) => Promise<T>,
): Promise<T> {
  await testImage();
  const system = await TestSystem.create(options);
  let result: T;
  try {
    result = await fn(system);
  } catch (error) {
    try {
      await system.remove();
    } catch (cleanup) {
      console.error(`docker tests: ${cleanup instanceof Error ? cleanup.message : cleanup}`);
    }
    throw error;
  }
  await system.remove();
  return result;
}

/** The records of one service, in order. */
export function recordsOf(lines: ComposeLogLine[], service: string): (ParsedLogLine & {
  at: bigint;
})[] {
  return lines.filter((line) => line.service === service && line.record !== undefined)
    .map((line) => ({ ...line.record!, at: line.at }));
}

/**
 * A /24 in 172.25.128.0/17 that overlaps no network of the engine (the
 * generated file's own 172.25.125.0/24 stays free for the user's system).
 */
async function freeSubnet(): Promise<string> {
  const ids = (await dockerOk(["network", "ls", "--quiet"])).split("\n").filter((id) => id);
  const format = "{{range .IPAM.Config}}{{.Subnet}} {{end}}";
  const used = (await dockerOk(["network", "inspect", "--format", format, ...ids]))
    .split(/\s+/).filter((cidr) => /^\d+\.\d+\.\d+\.\d+\/\d+$/.test(cidr)).map(parseCidr);
  const start = 128 + Math.floor(Math.random() * 128);
  for (let step = 0; step < 128; step++) {
    const subnet = `172.25.${128 + (start - 128 + step) % 128}.0/24`;
    const candidate = parseCidr(subnet);
    if (!used.some((other) => overlaps(candidate, other))) return subnet;
  }
  throw new Error("No free /24 left in 172.25.128.0/17 for a test network");
}

/** An IPv4 CIDR as its first address and size. */
function parseCidr(cidr: string): { first: number; size: number } {
  const [address, bits] = cidr.split("/");
  const first = address.split(".").reduce((value, part) => value * 256 + Number(part), 0);
  const size = 2 ** (32 - Number(bits));
  return { first: first - (first % size), size };
}

function overlaps(a: { first: number; size: number }, b: { first: number; size: number }) {
  return a.first < b.first + b.size && b.first < a.first + a.size;
}

/** `2026-11-23T04:25:35.724654161Z` as nanoseconds since the epoch. */
function nanoseconds(stamp: string): bigint {
  const match = /^(.*T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$/.exec(stamp);
  if (match === null) return 0n;
  const seconds = BigInt(Date.parse(`${match[1]}Z`)) / 1000n;
  return seconds * 1_000_000_000n + BigInt((match[2] ?? "").padEnd(9, "0"));
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
