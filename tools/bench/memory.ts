/**
 * The `memory` section: peak RSS (VmHWM) of the server and of the largest
 * client, with the shipped dataset and with a generated one of `--big-bets`
 * bets, polled every 20 ms over end-to-end runs.
 *
 * @module
 */

import { generateDataset } from "../gen_data.ts";
import type { BenchConfig } from "./config.ts";
import { datasetFacts, type E2eMarks, runE2e, SHIPPED_DATA } from "./e2e.ts";
import { progress, type Row } from "./output.ts";
import { type Launcher, makeTempDir, removeTempDir } from "./processes.ts";
import { statOf } from "./stats.ts";

interface Dataset {
  name: string;
  dir: string;
  agencies: number;
}

/** The section: `config.runs` runs of each dataset with `launcher`. */
export async function benchMemory(config: BenchConfig, launcher: Launcher): Promise<Row[]> {
  const rows: Row[] = [];
  const datasets: Dataset[] = [{ name: "shipped dataset", dir: SHIPPED_DATA, agencies: 5 }];
  const bigDir = await makeTempDir("tp0-bench-big-");
  try {
    progress(`memory: generating ${config.bigBets} bets for ${config.bigAgencies} agencies`);
    await generateDataset({ out: bigDir, agencies: config.bigAgencies, bets: config.bigBets });
    datasets.push({
      name: `${config.bigBets.toLocaleString("en-US")} bets`,
      dir: bigDir,
      agencies: config.bigAgencies,
    });
    for (const dataset of datasets) {
      const facts = await datasetFacts(dataset.dir, dataset.agencies);
      const all: E2eMarks[] = [];
      for (let run = 1; run <= config.runs; run++) {
        progress(`memory (${dataset.name}): run ${run}/${config.runs}`);
        all.push(
          await runE2e({
            launcher,
            dataDir: dataset.dir,
            agencies: dataset.agencies,
            facts,
            watchRss: true,
          }),
        );
      }
      const one = dataset.agencies === 1;
      rows.push(
        {
          section: "memory",
          name: `server peak RSS, ${dataset.name}`,
          unit: "MiB",
          stat: statOf(all.map((m) => m.serverRss)),
          note: `${facts.bets} bets, ${dataset.agencies} agenc${one ? "y" : "ies"}`,
        },
        {
          section: "memory",
          name: `client peak RSS, ${dataset.name}`,
          unit: "MiB",
          stat: statOf(all.map((m) => m.clientRss)),
          note: one ? "the one agency" : `largest of the ${dataset.agencies}`,
        },
        {
          section: "memory",
          name: `end to end wall, ${dataset.name}`,
          unit: "ms",
          stat: statOf(all.map((m) => m.lastWinners)),
          note: "RSS polled every 20 ms",
        },
      );
    }
    return rows;
  } finally {
    await removeTempDir(bigDir);
  }
}
