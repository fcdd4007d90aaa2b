/**
 * The Docker engine as the tasks use it: running a program (or `docker`) with
 * a task error when it is missing, checking that an engine answers, and
 * building the one image of the Dockerfile. The command line that drives it
 * is `tools/docker.ts`.
 *
 * @module
 */

import { type ProgramOutput, ROOT, runProgram, type RunProgramOptions } from "./processes.ts";

/** The repository root (where the Dockerfile and the Compose file live). */
export { ROOT };

/** The image every service runs. */
export const DEFAULT_IMAGE = "tp0:latest";

/** The local Deno image that the shared engine script builds (no registry needed). */
export const LOCAL_DENO_IMAGE = "tp0/deno:offline";

/** The official Deno image, the offline target's base where no local one exists. */
export const OFFICIAL_DENO_IMAGE = "denoland/deno:2.9.6";

/** The bundle the offline target copies, relative to {@linkcode ROOT}. */
export const BUNDLE_PATH = "dist/tp0.js";

/** A failure of a task: one line, printed as `<task>: <message>`. */
export class TaskError extends Error {
  /** Creates a task error with a one-line message. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TaskError";
  }
}

/** How to run a command. */
export type RunOptions = RunProgramOptions;

/** What a captured command did. */
export type RunResult = ProgramOutput;

/** Runs `[program, ...args]` (no stdin); a missing program becomes a {@linkcode TaskError}. */
export async function run(argv: string[], options: RunOptions = {}): Promise<RunResult> {
  const [command, ...args] = argv;
  try {
    return await runProgram(command, args, options);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new TaskError(
        `'${command}' is not installed or not on PATH` +
          (command === "docker" ? " (install Docker Engine or Docker Desktop)" : ""),
        { cause: error },
      );
    }
    throw error;
  }
}

/** Runs `docker args`. */
export function docker(args: string[], options: RunOptions = {}): Promise<RunResult> {
  return run(["docker", ...args], options);
}

/** Why no Docker engine answers, or undefined when one does (`docker info` within 20 s). */
export async function engineProblem(): Promise<string | undefined> {
  let result: RunResult;
  try {
    result = await docker(["info", "--format", "{{.ServerVersion}}"], { timeoutMs: 20_000 });
  } catch (error) {
    if (error instanceof TaskError) return error.message;
    throw error;
  }
  if (result.code === 0 && result.stdout.trim() !== "") return undefined;
  if (result.timedOut) return "'docker info' did not answer within 20 s";
  const detail = firstLine(result.stderr) || `'docker info' exited ${result.code}`;
  return `no Docker engine answers (${detail})`;
}

/** Throws a {@linkcode TaskError} saying how to start Docker when no engine answers. */
export async function requireEngine(): Promise<void> {
  const problem = await engineProblem();
  if (problem === undefined) return;
  throw new TaskError(
    `${problem}. Start Docker first: on this course's machines ` +
      "`bash ../shared/tools/docker-engine.sh`; elsewhere start Docker Desktop or " +
      "`sudo systemctl start docker`",
  );
}

/** Whether the engine has `image` locally. */
export async function hasImage(image: string): Promise<boolean> {
  return (await docker(["image", "inspect", "--format", "{{.Id}}", image])).code === 0;
}

/** Options of {@linkcode buildImage}. */
export interface BuildOptions {
  /** Tag of the image. @default "tp0:latest" */
  image?: string;
  /** Build the release target (official images, `deno compile`; needs the internet). */
  release?: boolean;
  /**
   * Base of the offline target. @default tp0/deno:offline when the engine has
   * it, else denoland/deno:2.9.6
   */
  denoImage?: string;
  /** Stream the build's output (otherwise it is shown only when the build fails). */
  inherit?: boolean;
  /** Progress lines. @default nothing */
  progress?: (line: string) => void;
}

/**
 * Bundles main.ts into dist/tp0.js (`deno bundle`; dependencies come from the
 * host's cache and the lockfile), then builds the image: the offline target,
 * or the release target with `release`. Returns the image id.
 */
export async function buildImage(options: BuildOptions = {}): Promise<string> {
  const image = options.image ?? DEFAULT_IMAGE;
  const progress = options.progress ?? (() => {});
  progress(`bundling main.ts into ${BUNDLE_PATH} (deno bundle)`);
  const bundled = await run([
    Deno.execPath(),
    "bundle",
    "--quiet",
    "--platform",
    "deno",
    "-o",
    BUNDLE_PATH,
    "main.ts",
  ], { timeoutMs: 120_000 });
  if (bundled.code !== 0) {
    throw new TaskError(`deno bundle failed: ${lastLines(bundled.stderr)}`);
  }
  const args = ["build", "--tag", image];
  if (options.release) {
    progress(`building ${image} (release target: deno compile on distroless; needs the internet)`);
  } else {
    const denoImage = options.denoImage ??
      (await hasImage(LOCAL_DENO_IMAGE) ? LOCAL_DENO_IMAGE : OFFICIAL_DENO_IMAGE);
    progress(`building ${image} (offline target: ${BUNDLE_PATH} run by ${denoImage})`);
    args.push("--target", "offline", "--build-arg", `DENO_IMAGE=${denoImage}`);
  }
  args.push(".");
  const built = await docker(args, { inherit: options.inherit, timeoutMs: 30 * 60_000 });
  if (built.code !== 0) {
    const detail = options.inherit ? "see the output above" : lastLines(built.stderr);
    throw new TaskError(`docker build failed: ${detail}`);
  }
  const id = (await docker(["image", "inspect", "--format", "{{.Id}}", image])).stdout.trim();
  const size = (await docker(["image", "inspect", "--format", "{{.Size}}", image])).stdout.trim();
  progress(`built ${image} ${id.slice(0, 19)} (${formatMegabytes(Number(size))})`);
  return id;
}

/** The first line of `text` that is not blank, trimmed. */
export function firstLine(text: string): string {
  return text.split("\n").map((line) => line.trim()).find((line) => line !== "") ?? "";
}

/** The last `count` lines of an output that are not blank, after a newline (for a message). */
export function lastLines(text: string, count = 8): string {
  const lines = text.split("\n").map((line) => line.trimEnd()).filter((line) => line !== "");
  return lines.length === 0 ? "(no output)" : `\n${lines.slice(-count).join("\n")}`;
}

/** `214.7 MB` (decimal megabytes, as `docker images` shows them). */
export function formatMegabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}
