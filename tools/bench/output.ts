/**
 * What the benchmark shows: progress lines on stderr, the table of figures on
 * stdout, and the results file (`bench/results.json`) with the machine it ran on.
 *
 * @module
 */

import type { BenchConfig, Section } from "./config.ts";
import type { Stat } from "./stats.ts";

/** One row of the printed table and of results.json. */
export interface Row {
  section: Section;
  name: string;
  unit: string;
  stat: Stat;
  note?: string;
}

/** The machine a run was measured on. */
export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  deno: string;
  v8: string;
  date: string;
}

/** Prints `bench: <text>` on stderr. */
export function progress(text: string): void {
  console.error(`bench: ${text}`);
}

/** The CPU, cores, memory, OS and Deno of this machine, and the date. */
export async function machine(): Promise<MachineInfo> {
  let cpu = "unknown";
  try {
    const info = await Deno.readTextFile("/proc/cpuinfo");
    cpu = /^model name\s*:\s*(.*)$/m.exec(info)?.[1] ?? cpu;
  } catch {
    // Not Linux.
  }
  return {
    cpu,
    cores: navigator.hardwareConcurrency,
    memoryGiB: Math.round(Deno.systemMemoryInfo().total / 2 ** 30),
    os: `${Deno.build.os} ${Deno.osRelease()}`,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    date: new Date().toISOString(),
  };
}

/** Prints the heading line and the table of `rows` on stdout, a blank line between sections. */
export function printTable(rows: Row[], info: MachineInfo): void {
  console.log(
    `\ntp0 benchmark: ${info.cpu}, ${info.cores} cores, deno ${info.deno}, ${info.date}\n`,
  );
  const table = [
    ["section", "figure", "median", "min", "max", "unit", "note"],
    ...rows.map((row) => [
      row.section,
      row.name,
      format(row.stat.median, row.unit),
      format(row.stat.min, row.unit),
      format(row.stat.max, row.unit),
      row.unit,
      row.note ?? "",
    ]),
  ];
  const widths = table[0].map((_, c) => Math.max(...table.map((r) => r[c].length)));
  const right = new Set([2, 3, 4]);
  const line = (row: string[]) =>
    row.map((cell, c) => right.has(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))
      .join("  ").trimEnd();
  console.log(line(table[0]));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  let section = "";
  for (const row of table.slice(1)) {
    if (section !== "" && row[0] !== section) console.log("");
    section = row[0];
    console.log(line(row));
  }
}

/** What {@linkcode writeResults} writes besides the rows. */
export interface ResultsRun {
  /** The bench's own arguments. */
  args: string[];
  /** Its settings. */
  config: BenchConfig;
  /** Where it ran. */
  machine: MachineInfo;
  /** How long it took, in seconds. */
  seconds: number;
}

/** Writes `rows` and the run's settings to `run.config.out` as JSON (its folder created). */
export async function writeResults(rows: Row[], run: ResultsRun): Promise<void> {
  const { sections, ...settings } = run.config;
  const results = {
    command: `deno task bench ${run.args.join(" ")}`.trim(),
    machine: run.machine,
    settings: { ...settings, sections: [...sections] },
    seconds: Math.round(run.seconds),
    rows,
  };
  await Deno.mkdir(new URL(".", `file://${run.config.out}`).pathname, { recursive: true });
  await Deno.writeTextFile(run.config.out, JSON.stringify(results, null, 2) + "\n");
}

/** A figure as the table shows it, by unit (`-` for a missing one). */
function format(value: number, unit: string): string {
  if (!Number.isFinite(value)) return "-";
  if (unit === "bets/s") return Math.round(value).toLocaleString("en-US");
  if (unit === "x") return value.toFixed(2);
  if ((unit === "µs/iter" || unit === "µs") && value < 10) return value.toFixed(2);
  return value < 10 ? value.toFixed(1) : Math.round(value).toLocaleString("en-US");
}
