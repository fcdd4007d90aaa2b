/**
 * The benchmark's load generator and raw-floor tools as a command, run as
 * child processes by the bench (`tools/bench/main.ts`) so that they sit on
 * their own core, as real agencies do.
 *
 *     deno run -A tools/bench/client.ts ingest --address 127.0.0.1:12345 --agencies 20 --bets 2000000
 *     deno run -A tools/bench/client.ts floor-sink --out /tmp/floor.csv
 *     deno run -A tools/bench/client.ts floor-send --address 127.0.0.1:4000 --file /tmp/bets.csv
 *
 * `ingest` is the load generator of `load.ts`; it prints one JSON line (see
 * `IngestResult`). `floor-sink` and `floor-send` are the raw floor
 * of `raw_floor.ts`; the sender prints one JSON line (see `FloorResult`).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { runIngest } from "./load.ts";
import { runFloorSend, runFloorSink } from "./raw_floor.ts";

const USAGE = `Usage: deno run -A tools/bench/client.ts <command> [options]

Commands:
  ingest      --address H:P --agencies N --bets N [--window N] [--batch-max-amount N]
  floor-sink  --out PATH
  floor-send  --address H:P --file PATH`;

async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  const { values } = parseArgs({
    args: rest,
    strict: true,
    options: {
      address: { type: "string" },
      agencies: { type: "string" },
      bets: { type: "string" },
      window: { type: "string" },
      "batch-max-amount": { type: "string" },
      out: { type: "string" },
      file: { type: "string" },
    },
  });
  switch (command) {
    case "ingest": {
      const result = await runIngest({
        address: values.address ?? "127.0.0.1:12345",
        agencies: Number(values.agencies ?? 1),
        bets: Number(values.bets ?? 100_000),
        window: values.window === undefined ? undefined : Number(values.window),
        batchMaxAmount: values["batch-max-amount"] === undefined
          ? undefined
          : Number(values["batch-max-amount"]),
      });
      console.log(JSON.stringify(result));
      return result.failures === 0 ? 0 : 1;
    }
    case "floor-sink":
      await runFloorSink(values.out ?? "floor.csv");
      return 0;
    case "floor-send":
      console.log(JSON.stringify(
        await runFloorSend({ address: values.address ?? "", file: values.file ?? "" }),
      ));
      return 0;
    default:
      console.error(USAGE);
      return 2;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
