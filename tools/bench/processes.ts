/**
 * The benchmark's children and temporary folders: every process it starts and
 * every folder it makes is registered here, and released in `finally` blocks
 * and by {@linkcode cleanUp} when the bench is interrupted. Also how tp0 is
 * launched: `deno run main.ts`, or the one-file bundle of `deno bundle`.
 *
 * @module
 */

import {
  type LocalServer,
  MAIN_TS,
  runDeno,
  spawnDeno,
  type SpawnOptions,
  spawnTp0,
  startLocalServer,
  type Tp0Process,
} from "../processes.ts";
import { progress } from "./output.ts";

const children = new Set<Tp0Process>();
const tempDirs = new Set<string>();

/** Registers `process` until it exits, so that {@linkcode cleanUp} stops it. */
export function track(process: Tp0Process): Tp0Process {
  children.add(process);
  process.status.finally(() => children.delete(process));
  return process;
}

/** Sends SIGTERM, then SIGKILL after 10 s; resolves with the exit status. */
export async function stop(process: Tp0Process): Promise<Deno.CommandStatus> {
  process.kill("SIGTERM");
  const timer = setTimeout(() => process.kill("SIGKILL"), 10_000);
  try {
    return await process.status;
  } finally {
    clearTimeout(timer);
  }
}

/** Stops each of `processes` that is defined (see {@linkcode stop}); never rejects. */
export async function stopAll(processes: (Tp0Process | undefined)[]): Promise<void> {
  await Promise.allSettled(processes.filter((p) => p !== undefined).map(stop));
}

/** A new temporary folder, registered for {@linkcode cleanUp}. */
export async function makeTempDir(prefix: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix });
  tempDirs.add(dir);
  return dir;
}

/** Removes a folder of {@linkcode makeTempDir} and everything in it. */
export async function removeTempDir(dir: string): Promise<void> {
  tempDirs.delete(dir);
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

/** Stops every registered process and removes every registered folder. */
export async function cleanUp(): Promise<void> {
  await Promise.allSettled([...children].map(stop));
  for (const dir of [...tempDirs]) await removeTempDir(dir);
}

/** Starts `deno run <script> <args>` (the bench's helper scripts), tracked. */
export function spawnScript(script: string, args: string[], options?: SpawnOptions): Tp0Process {
  return track(spawnDeno(script, args, options));
}

/** How the tp0 processes are started: `deno run main.ts`, or a bundle. */
export interface Launcher {
  /** Name shown in the figures. */
  name: string;
  /** Starts `tp0 <args>`, tracked. */
  spawn(args: string[], options: SpawnOptions): Tp0Process;
}

/** `deno run main.ts`, as the `tp0` task runs it. */
export const RUN_LAUNCHER: Launcher = {
  name: "deno run main.ts",
  spawn: (args, options) => track(spawnTp0(args, options)),
};

/** `deno run` of the one-file bundle at `bundle`. */
export function bundleLauncher(bundle: string): Launcher {
  return {
    name: "deno run bundle",
    spawn: (args, options) => spawnScript(bundle, args, options),
  };
}

/** Bundles main.ts into `dir/tp0.js`; undefined (with a progress line) when `deno bundle` fails. */
export async function buildBundle(dir: string): Promise<string | undefined> {
  const out = `${dir}/tp0.js`;
  const { code, stderr } = await runDeno(
    ["bundle", "--quiet", "--platform", "deno", "-o", out, MAIN_TS],
  );
  if (code === 0) return out;
  progress(`deno bundle failed, bundle runs skipped: ${stderr.trim()}`);
  return undefined;
}

/** Options of {@linkcode startServer}. */
export interface BenchServerOptions {
  /** Agencies the server waits for. */
  agencies: number;
  /** Storage file. */
  storage: string;
  /** Called with every line the server prints. */
  onLine?: (line: string) => void;
}

/**
 * Starts a server on 127.0.0.1 (any free port) with `launcher`, and resolves once
 * it listens; rejects (the server stopped) when it exits or is silent for 60 s first.
 */
export function startServer(launcher: Launcher, options: BenchServerOptions): Promise<LocalServer> {
  return startLocalServer({
    agencies: options.agencies,
    storagePath: options.storage,
    onLine: options.onLine,
    spawn: launcher.spawn,
    timeoutMs: 60_000,
  });
}
