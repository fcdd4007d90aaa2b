/**
 * Seeded generator of agency bet files (`agency-N.csv`: first_name, last_name,
 * document, birthdate, number; no header; LF line endings).
 *
 * ```sh
 * deno run -A tools/gen_data.ts                     # the shipped .data/ dataset
 * deno run -A tools/gen_data.ts --out /tmp/big --agencies 50 --per-agency 200000
 * ```
 *
 * The same flags and seed always give the same bytes: randomness comes from a
 * mulberry32 generator seeded per agency (never `Math.random`), so each file
 * depends only on the seed, its agency number and its size.
 *
 * Bettors have Argentine first and last names (accents, compound names,
 * apostrophes as in "D'Alessandro"), birthdates from 1940-01-01 to 2005-12-31,
 * 8-digit documents (10,000,000-49,999,999, growing with the birthdate like
 * real DNIs) and numbers drawn uniformly from 0-9999, so about 1 bet in 10,000
 * wins naturally. Winners are guaranteed by construction: when an agency ends
 * up with fewer than `--min-winners` bets on 7574, seeded rows of it are moved
 * onto 7574 until it has that many (the summary says how many were added).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { LOTTERY_WINNER_NUMBER } from "../store/mod.ts";
import { writeAll } from "../util/mod.ts";
import { randomRow } from "./_bettors.ts";
import { mix32, mulberry32 } from "./random.ts";

/** What to generate; everything but `out` has the CLI's default. */
export interface GenerateOptions {
  /** Folder for `agency-N.csv` (created when missing). */
  out: string;
  /** Number of agencies (files). @default 5 */
  agencies?: number;
  /** Total bets, split unevenly (seeded) among agencies. @default 80000 */
  bets?: number;
  /** Bets per agency, instead of `bets`. */
  perAgency?: number;
  /** Seed of the generator. @default 7574 */
  seed?: number;
  /** Fewest winners each agency must have (added by construction if chance gave fewer). @default 1 */
  minWinners?: number;
  /** Called about once a second with the bets written so far and the total. */
  onProgress?: (written: number, total: number) => void;
}

/** What was written for one agency. */
export interface AgencyFileSummary {
  /** Agency number, 1..agencies. */
  agency: number;
  /** File written, `${out}/agency-${agency}.csv`. */
  path: string;
  /** Bets (rows) in the file. */
  bets: number;
  /** Bets on 7574. */
  winners: number;
  /** Winners moved onto 7574 to reach `minWinners` (included in `winners`). */
  addedWinners: number;
  /** File size. */
  bytes: number;
}

/** What {@linkcode generateDataset} wrote. */
export interface DatasetSummary {
  /** One entry per agency file, in agency order. */
  files: AgencyFileSummary[];
  /** Bets in all files. */
  bets: number;
  /** Bets on 7574 in all files. */
  winners: number;
  /** Bytes of all files. */
  bytes: number;
  /** Wall time, in milliseconds. */
  elapsedMs: number;
}

const DEFAULTS = { agencies: 5, bets: 80_000, seed: 7574, minWinners: 1 } as const;
const MAX_AGENCIES = 65_535;
const MAX_NUMBER = 10_000;
const FLUSH_CHARS = 1 << 20;
const PROGRESS_EVERY_MS = 1000;

const USAGE = `Usage: deno run -A tools/gen_data.ts [options]

Writes agency-1.csv .. agency-N.csv (first_name,last_name,document,birthdate,number).

Options:
  --out DIR            output folder, created when missing (default .data)
  --agencies N         number of agencies (default ${DEFAULTS.agencies})
  --bets N             total bets, split unevenly among agencies (default ${DEFAULTS.bets})
  --per-agency N       bets per agency, instead of --bets
  --seed N             seed, 0..4294967295 (default ${DEFAULTS.seed})
  --min-winners N      fewest bets on ${LOTTERY_WINNER_NUMBER} per agency (default ${DEFAULTS.minWinners})
  -h, --help           show this help`;

/**
 * Writes `agency-1.csv` .. `agency-N.csv` into `options.out`, deterministically
 * for the seed. Each file is written to a `.tmp` name, then renamed.
 */
export async function generateDataset(options: GenerateOptions): Promise<DatasetSummary> {
  const started = performance.now();
  const agencies = options.agencies ?? DEFAULTS.agencies;
  const seed = options.seed ?? DEFAULTS.seed;
  const minWinners = options.minWinners ?? DEFAULTS.minWinners;
  const sizes = options.perAgency !== undefined
    ? new Array<number>(agencies).fill(options.perAgency)
    : splitUnevenly(options.bets ?? DEFAULTS.bets, agencies, seed);
  if (sizes.some((size) => size < minWinners)) {
    throw new RangeError(
      `Too few bets for --min-winners ${minWinners}: agency sizes ${sizes.join(", ")}`,
    );
  }
  const total = sizes.reduce((sum, size) => sum + size, 0);
  await Deno.mkdir(options.out, { recursive: true });

  const progress = { written: 0, total, last: performance.now(), report: options.onProgress };
  const files: AgencyFileSummary[] = [];
  for (let agency = 1; agency <= agencies; agency++) {
    const path = `${options.out}/agency-${agency}.csv`;
    files.push(
      await writeAgencyFile(path, { agency, size: sizes[agency - 1], seed, minWinners, progress }),
    );
  }
  return {
    files,
    bets: total,
    winners: files.reduce((sum, file) => sum + file.winners, 0),
    bytes: files.reduce((sum, file) => sum + file.bytes, 0),
    elapsedMs: performance.now() - started,
  };
}

interface Progress {
  written: number;
  total: number;
  last: number;
  report?: (written: number, total: number) => void;
}

interface AgencyFileOptions {
  agency: number;
  size: number;
  seed: number;
  minWinners: number;
  progress: Progress;
}

async function writeAgencyFile(
  path: string,
  options: AgencyFileOptions,
): Promise<AgencyFileSummary> {
  const { agency, size, progress } = options;
  const random = mulberry32(mix32(options.seed, agency));
  // Numbers first, so that missing winners can be added before anything is written.
  const numbers = new Uint16Array(size);
  let winners = 0;
  for (let i = 0; i < size; i++) {
    numbers[i] = Math.floor(random() * MAX_NUMBER);
    if (numbers[i] === LOTTERY_WINNER_NUMBER) winners++;
  }
  let addedWinners = 0;
  while (winners < options.minWinners) {
    const row = Math.floor(random() * size);
    if (numbers[row] === LOTTERY_WINNER_NUMBER) continue;
    numbers[row] = LOTTERY_WINNER_NUMBER;
    winners++;
    addedWinners++;
  }

  const tmpPath = `${path}.tmp`;
  const encoder = new TextEncoder();
  let bytes = 0;
  {
    using file = await Deno.open(tmpPath, { write: true, create: true, truncate: true });
    let text = "";
    // One write in flight while the next chunk is generated.
    let writing: Promise<void> = Promise.resolve();
    for (let i = 0; i < size; i++) {
      text += randomRow(random, numbers[i]);
      if (text.length >= FLUSH_CHARS || i === size - 1) {
        const chunk = encoder.encode(text);
        bytes += chunk.length;
        text = "";
        await writing;
        writing = writeAll(file, chunk);
        // Handled here so that a failure is not unhandled until it is awaited.
        writing.catch(() => {});
        reportProgress(progress, i + 1);
      }
    }
    await writing;
    progress.written += size;
  }
  await Deno.rename(tmpPath, path);
  return { agency, path, bets: size, winners, addedWinners, bytes };
}

function reportProgress(progress: Progress, writtenInFile: number): void {
  const now = performance.now();
  if (progress.report === undefined || now - progress.last < PROGRESS_EVERY_MS) return;
  progress.last = now;
  progress.report(progress.written + writtenInFile, progress.total);
}

/** Splits `total` into `parts` sizes that differ by up to about ±20 %, summing to `total`. */
function splitUnevenly(total: number, parts: number, seed: number): number[] {
  const random = mulberry32(mix32(seed, 0));
  const weights = Array.from({ length: parts }, () => 0.8 + 0.4 * random());
  const weightSum = weights.reduce((sum, weight) => sum + weight, 0);
  const sizes = weights.map((weight) => Math.floor((total * weight) / weightSum));
  let rest = total - sizes.reduce((sum, size) => sum + size, 0);
  for (let i = 0; rest > 0; i = (i + 1) % parts, rest--) sizes[i]++;
  return sizes;
}

// ---------------------------------------------------------------------------
// Command line

function usageError(reason: string): number {
  console.error(`gen_data: ${reason}`);
  console.error(USAGE);
  return 2;
}

/** Parses `text` as an integer in `min..max`, or returns a one-line reason. */
function integerFlag(name: string, text: string, min: number, max: number): number | string {
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    return `Invalid --${name}: "${text}" (expected an integer ${min}..${max})`;
  }
  return value;
}

function plural(n: number, noun: string): string {
  return `${formatCount(n)} ${noun}${n === 1 ? "" : "s"}`;
}

function formatCount(n: number): string {
  return n.toLocaleString("en-US");
}

/** Runs the generator with command-line `args`; returns the exit code (2 on a bad flag). */
export async function main(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        out: { type: "string", default: ".data" },
        agencies: { type: "string" },
        bets: { type: "string" },
        "per-agency": { type: "string" },
        seed: { type: "string" },
        "min-winners": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    return usageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.bets !== undefined && values["per-agency"] !== undefined) {
    return usageError("Conflicting flags: --bets and --per-agency (give one)");
  }
  const parsed: Record<string, number | undefined> = {};
  const limits: Record<string, [number, number]> = {
    agencies: [1, MAX_AGENCIES],
    bets: [0, Number.MAX_SAFE_INTEGER],
    "per-agency": [0, Number.MAX_SAFE_INTEGER],
    seed: [0, 0xffff_ffff],
    "min-winners": [0, Number.MAX_SAFE_INTEGER],
  };
  for (const [name, [min, max]] of Object.entries(limits)) {
    const text = values[name as keyof typeof values];
    if (typeof text !== "string") continue;
    const value = integerFlag(name, text, min, max);
    if (typeof value === "string") return usageError(value);
    parsed[name] = value;
  }
  if (values.out === "") return usageError(`Invalid --out: "" (expected a folder)`);

  const options: GenerateOptions = {
    out: values.out!,
    agencies: parsed.agencies,
    bets: parsed.bets,
    perAgency: parsed["per-agency"],
    seed: parsed.seed,
    minWinners: parsed["min-winners"],
    onProgress(written, total) {
      const percent = total === 0 ? 100 : Math.floor((written / total) * 100);
      console.error(`gen_data: ${formatCount(written)}/${formatCount(total)} bets (${percent}%)`);
    },
  };
  let summary: DatasetSummary;
  try {
    summary = await generateDataset(options);
  } catch (error) {
    if (error instanceof RangeError) return usageError(error.message);
    throw error;
  }
  for (const file of summary.files) {
    const added = file.addedWinners > 0 ? ` (${file.addedWinners} added)` : "";
    console.log(
      `${file.path}: ${formatCount(file.bets)} bets, ${plural(file.winners, "winner")}${added}, ${
        formatCount(file.bytes)
      } bytes`,
    );
  }
  const seconds = summary.elapsedMs / 1000;
  const rate = seconds > 0 ? Math.round(summary.bets / seconds) : summary.bets;
  console.log(
    `gen_data: wrote ${formatCount(summary.bets)} bets (${
      plural(summary.winners, "winner")
    }) in ${summary.files.length} files, ${
      formatCount(summary.bytes)
    } bytes, to ${options.out} in ${seconds.toFixed(2)} s (${formatCount(rate)} bets/s)`,
  );
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
