import assert from "node:assert/strict";
import type { Bet } from "./bet.ts";
import { betToCsvRow, CsvFormatError } from "./csv/mod.ts";
import { journalPathOf } from "./journal.ts";
import { StoreError } from "./errors.ts";
import { BetStore } from "./store.ts";
import { runDeno } from "../tools/processes.ts";

function bet(i: number, overrides: Partial<Bet> = {}): Bet {
  return {
    agency: 1 + (i % 5),
    firstName: "José María",
    lastName: "Núñez",
    document: String(20_000_000 + i),
    birthdate: "1980-01-01",
    number: i % 10_000,
    ...overrides,
  };
}

function bets(from: number, count: number): Bet[] {
  return Array.from({ length: count }, (_, i) => bet(from + i));
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function collect<T>(iterator: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterator) items.push(item);
  return items;
}

Deno.test("BetStore.open() names the path and the missing folder", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/missing/bets.csv`;
    await assert.rejects(BetStore.open(path), (error: Error) => {
      assert.ok(error instanceof StoreError);
      assert.equal(error.name, "StoreError");
      assert.equal(
        error.message,
        `Cannot open bet store "${path}": folder "${dir}/missing" does not exist`,
      );
      assert.ok(error.cause instanceof Deno.errors.NotFound);
      return true;
    });
    await assert.rejects(BetStore.open(dir), {
      name: "StoreError",
      message: new RegExp(`^Cannot open bet store "${dir}": `),
    });
  });
});

Deno.test("BetStore round-trips commas, quotes, accents and newlines, and appends across reopenings", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/bets.csv`;
    const tricky = [
      bet(1, { firstName: "Pérez, Juan", lastName: 'Gómez "el Tano"' }),
      bet(2, { firstName: "Ana\nMaría", lastName: "D'Alessandro", number: 7574 }),
      bet(3, { firstName: "Ñandú 🎲", lastName: "Ibáñez\r\nNúñez" }),
    ];
    {
      await using store = await BetStore.open(path);
      await store.storeBets(tricky);
      assert.deepEqual(await collect(store.loadBets()), tricky);
    }
    await using store = await BetStore.open(path);
    const more = bets(10, 4);
    await store.storeBets(more);
    assert.deepEqual(await collect(store.loadBets({ chunkSize: 7 })), [...tricky, ...more]);
    const size = (await Deno.stat(path)).size;
    assert.equal(store.stats.bytes, size);
    assert.equal(await Deno.readTextFile(path), [...tricky, ...more].map(betToCsvRow).join(""));
  });
});

Deno.test("BetStore.storeBets() resolves with the rows already in the file", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/bets.csv`;
    await using store = await BetStore.open(path);
    await store.storeBets(bets(0, 3));
    assert.equal(await Deno.readTextFile(path), bets(0, 3).map(betToCsvRow).join(""));
    assert.deepEqual(store.stats, { flushes: 1, rows: 3, bytes: (await Deno.stat(path)).size });
    await store.storeBets([]);
    assert.equal(store.stats.flushes, 1);
  });
});

Deno.test("BetStore keeps the order of many successive storeBets() calls", async () => {
  await withTempDir(async (dir) => {
    await using store = await BetStore.open(`${dir}/bets.csv`);
    for (let call = 0; call < 200; call++) await store.storeBets(bets(call * 7, 7));
    const loaded = await collect(store.loadBets());
    assert.deepEqual(loaded, bets(0, 200 * 7));
    assert.deepEqual([store.stats.flushes, store.stats.rows], [200, 1400]);
  });
});

Deno.test("BetStore group-commits concurrent calls: few flushes, each batch contiguous and in arrival order", async () => {
  await withTempDir(async (dir) => {
    await using store = await BetStore.open(`${dir}/bets.csv`);
    const calls = 50;
    const perCall = 20;
    const pending: Promise<void>[] = [];
    // Calls arrive one after another (a microtask apart), while the first flush is running.
    for (let call = 0; call < calls; call++) {
      pending.push(store.storeBets(bets(call * 1000, perCall)));
      await null;
    }
    await Promise.all(pending);
    assert.equal(store.stats.rows, calls * perCall);
    assert.ok(store.stats.flushes <= 3, `${store.stats.flushes} flushes for ${calls} calls`);

    const loaded = await collect(store.loadBets());
    const expected = Array.from({ length: calls }, (_, call) => bets(call * 1000, perCall)).flat();
    assert.deepEqual(loaded, expected);
  });
});

Deno.test("BetStore group commit: calls made during a flush resolve together after the next one", async () => {
  await withTempDir(async (dir) => {
    await using store = await BetStore.open(`${dir}/bets.csv`);
    const first = store.storeBets(bets(0, 10_000));
    await null; // the first flush has started
    const order: number[] = [];
    const later = Array.from(
      { length: 30 },
      (_, i) => store.storeBets(bets(10_000 + i * 3, 3)).then(() => order.push(i)),
    );
    await first;
    assert.equal(store.stats.flushes, 1);
    await Promise.all(later);
    assert.equal(store.stats.flushes, 2);
    assert.deepEqual(order, Array.from({ length: 30 }, (_, i) => i));
    assert.deepEqual(await collect(store.loadBets()), bets(0, 10_090));
  });
});

Deno.test("BetStore rejects every caller of a failed flush, and later calls too", {
  ignore: Deno.build.os !== "linux",
}, async () => {
  // Writes to /dev/full fail with ENOSPC. Its journal goes to a temporary folder, not /dev.
  const dir = await Deno.makeTempDir();
  let store: BetStore | undefined;
  try {
    store = await BetStore.open("/dev/full", { journalPath: `${dir}/full.journal` });
    const results = await Promise.allSettled([
      store.storeBets(bets(0, 2)),
      store.storeBets(bets(2, 2)),
      store.storeBets(bets(4, 2)),
    ]);
    for (const result of results) {
      assert.equal(result.status, "rejected");
      const error = (result as PromiseRejectedResult).reason;
      assert.ok(error instanceof StoreError);
      assert.match(error.message, /^Cannot write bet store "\/dev\/full": /);
      assert.ok(error.cause instanceof Error);
    }
    await assert.rejects(store.storeBets(bets(6, 1)), { name: "StoreError" });
    assert.deepEqual(store.stats, { flushes: 0, rows: 0, bytes: 0 });
  } finally {
    await store?.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("BetStore.close() waits for pending flushes; later storeBets() calls reject", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/bets.csv`;
    const store = await BetStore.open(path);
    const pending = store.storeBets(bets(0, 5000));
    await store.close();
    await pending;
    assert.equal(store.stats.rows, 5000);
    await assert.rejects(store.storeBets(bets(0, 1)), {
      name: "StoreError",
      message: `Bet store "${path}" is closed`,
    });
    await store.close(); // twice is fine
    // Loading still works after close: it reads the file by path.
    assert.equal((await collect(store.loadBets())).length, 5000);
  });
});

Deno.test("BetStore.loadBets() includes calls made before iterating, once flushed", async () => {
  await withTempDir(async (dir) => {
    await using store = await BetStore.open(`${dir}/bets.csv`);
    const pending = store.storeBets(bets(0, 3));
    const loaded = await collect(store.loadBets());
    assert.deepEqual(loaded, bets(0, 3));
    await pending;
  });
});

Deno.test("BetStore.loadBets() streams: a row rewritten after the first bet is yielded is seen", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/bets.csv`;
    await using store = await BetStore.open(path);
    const rows = 50_000;
    for (let from = 0; from < rows; from += 10_000) await store.storeBets(bets(from, 10_000));
    const loader = store.loadBets({ chunkSize: 4096 });
    const first = await loader.next();
    assert.deepEqual(first.value, bet(0));
    // Rewrite the last row's number in place; a loader that had read the whole file would miss it.
    const lastRow = betToCsvRow(bet(rows - 1));
    assert.ok(lastRow.endsWith(",9999\n"));
    using file = await Deno.open(path, { write: true });
    await file.seek(store.stats.bytes - 5, Deno.SeekMode.Start);
    await file.write(new TextEncoder().encode("1234"));
    let last: Bet | undefined;
    let count = 1;
    for await (const loaded of loader) {
      last = loaded;
      count++;
    }
    assert.equal(count, rows);
    assert.deepEqual(last, bet(rows - 1, { number: 1234 }));
  });
});

Deno.test("BetStore.loadBets() runs in a heap far smaller than the loaded bets", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/bets.csv`;
    {
      await using store = await BetStore.open(path);
      for (let from = 0; from < 200_000; from += 10_000) await store.storeBets(bets(from, 10_000));
    }
    const script = `${dir}/load.ts`;
    const mod = import.meta.resolve("./mod.ts");
    await Deno.writeTextFile(
      script,
      `import { BetStore } from ${JSON.stringify(mod)};
const keep = Deno.args[1] === "keep";
const kept = [];
let count = 0;
await using store = await BetStore.open(Deno.args[0]);
for await (const bet of store.loadBets()) { count++; if (keep) kept.push(bet); }
console.log(count);`,
    );
    async function load(mode: string): Promise<Deno.CommandOutput> {
      return await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--quiet",
          "--allow-read",
          "--allow-write",
          `--config=${new URL(import.meta.resolve("../deno.json")).pathname}`,
          "--v8-flags=--max-old-space-size=16",
          script,
          path,
          mode,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
    }
    const streamed = await load("stream");
    const stderr = new TextDecoder().decode(streamed.stderr);
    assert.equal(streamed.code, 0, stderr);
    assert.equal(new TextDecoder().decode(streamed.stdout).trim(), "200000");
    // The control: keeping every bet does not fit in that heap, so the cap is meaningful.
    const kept = await load("keep");
    assert.notEqual(kept.code, 0);
  });
});

Deno.test("BetStore.loadBets() names the store file and line of a bad row", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/bets.csv`;
    {
      await using store = await BetStore.open(path);
      await store.storeBets([bet(0), bet(1, { firstName: "Ana", lastName: "Pérez", number: 7 })]);
    }
    // Damage the second row in place (same length), behind the store's back.
    const text = await Deno.readTextFile(path);
    await Deno.writeTextFile(path, text.replace(/,7\n$/, ",x\n"));
    await using store = await BetStore.open(path);
    await assert.rejects(collect(store.loadBets()), (error: Error) => {
      assert.ok(error instanceof CsvFormatError);
      assert.equal(error.message, `${path}:2: Invalid number: "x" (expected digits only)`);
      return true;
    });
  });
});

// ---------------------------------------------------------------------------
// Commit journal and recovery

const encoder = new TextEncoder();

async function append(path: string, text: string | Uint8Array): Promise<void> {
  using file = await Deno.open(path, { append: true });
  const bytes = typeof text === "string" ? encoder.encode(text) : text;
  let written = 0;
  while (written < bytes.length) written += await file.write(bytes.subarray(written));
}

Deno.test("BetStore journals each batch after its rows: agency, batch id, rows and CSV size", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/bets.csv`;
    await using store = await BetStore.open(path);
    await store.storeBatch(bets(0, 3), { agency: 2, batchId: 1 });
    const afterFirst = store.stats.bytes;
    await Promise.all([
      store.storeBatch(bets(3, 2), { agency: 2, batchId: 2 }),
      store.storeBatch([], { agency: 4, batchId: 1 }),
      store.markDone(3),
    ]);
    const lines = (await Deno.readTextFile(journalPathOf(path))).split("\n");
    assert.deepEqual(lines.map((line) => line.split(" ").slice(0, -1).join(" ")), [
      `batch 2 1 3 ${afterFirst}`,
      `batch 2 2 2 ${store.stats.bytes}`,
      `batch 4 1 0 ${store.stats.bytes}`,
      `done 3 ${store.stats.bytes}`,
      "",
    ]);
    assert.equal(store.stats.bytes, (await Deno.stat(path)).size);
    // The three calls of the second round shared one flush: one write and fsync of each file.
    assert.equal(store.stats.flushes, 2);
  });
});

Deno.test("BetStore.open() on a fresh path: nothing to recover, journal created", async () => {
  await withTempDir(async (dir) => {
    await using store = await BetStore.open(`${dir}/bets.csv`);
    assert.deepEqual(store.recovery, {
      bets: 0,
      bytes: 0,
      truncatedBytes: 0,
      journalTruncatedBytes: 0,
      batches: 0,
      lastBatch: new Map(),
      rejected: new Map(),
      done: new Set(),
      journalCreated: true,
      adopted: false,
    });
    assert.equal(await Deno.readTextFile(`${dir}/bets.csv.journal`), "");
  });
});

Deno.test("BetStore.open() rebuilds rows, last batch per agency, rejected ids and done agencies", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/bets.csv`;
    {
      await using store = await BetStore.open(path);
      await store.storeBatch(bets(0, 4), { agency: 1, batchId: 1 });
      await store.storeBatch([], { agency: 1, batchId: 2 });
      await store.storeBatch(bets(4, 2), { agency: 2, batchId: 1 });
      await store.storeBets(bets(6, 1));
      await store.markDone(2);
    }
    await using store = await BetStore.open(path);
    const recovery = store.recovery;
    assert.equal(recovery.bets, 7);
    assert.equal(recovery.bytes, (await Deno.stat(path)).size);
    assert.equal(recovery.batches, 3);
    assert.deepEqual([...recovery.lastBatch], [[1, 2], [2, 1]]);
    assert.deepEqual([...recovery.rejected.get(1)!], [2]);
    assert.deepEqual([...recovery.done], [2]);
    assert.equal(recovery.truncatedBytes, 0);
    assert.equal(recovery.journalCreated, false);
    assert.deepEqual(await collect(store.loadBets()), bets(0, 7));
  });
});

Deno.test("BetStore.open() cuts rows written but never journaled, and a torn last row", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/bets.csv`;
    {
      await using store = await BetStore.open(path);
      await store.storeBatch(bets(0, 5), { agency: 1, batchId: 1 });
    }
    const committed = await Deno.readTextFile(path);
    // A crash after the CSV write of the next flush, before its journal record: a whole row
    // and half of the next one.
    const tail = betToCsvRow(bet(5)) + betToCsvRow(bet(6)).slice(0, 9);
    await append(path, tail);
    await using store = await BetStore.open(path);
    assert.equal(store.recovery.truncatedBytes, encoder.encode(tail).length);
    assert.equal(store.recovery.bets, 5);
    assert.equal(await Deno.readTextFile(path), committed);
    // Appends continue right after the committed rows.
    await store.storeBatch(bets(5, 2), { agency: 1, batchId: 2 });
    assert.deepEqual(await collect(store.loadBets()), bets(0, 7));
  });
});

Deno.test("BetStore.open() drops a torn last journal record and cuts the rows it would have committed", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/bets.csv`;
    const journal = journalPathOf(path);
    let firstSize: number;
    {
      await using store = await BetStore.open(path);
      await store.storeBatch(bets(0, 3), { agency: 1, batchId: 1 });
      firstSize = store.stats.bytes;
      await store.storeBatch(bets(3, 3), { agency: 1, batchId: 2 });
    }
    const text = await Deno.readTextFile(journal);
    const lastLine = text.slice(text.indexOf("\n") + 1);
    const torn = text.slice(0, text.length - Math.floor(lastLine.length / 2));
    await Deno.writeTextFile(journal, torn);
    await using store = await BetStore.open(path);
    const recovery = store.recovery;
    assert.equal(recovery.journalTruncatedBytes, torn.length - (text.length - lastLine.length));
    assert.equal(recovery.truncatedBytes, csvBytes(bets(3, 3)));
    assert.deepEqual([recovery.bets, recovery.bytes], [3, firstSize]);
    assert.deepEqual([...recovery.lastBatch], [[1, 1]]);
    assert.equal((await Deno.stat(path)).size, firstSize);
    assert.equal(await Deno.readTextFile(journal), text.slice(0, text.length - lastLine.length));
  });
});

/** Bytes the rows of `rows` take in the CSV. */
function csvBytes(rows: Bet[]): number {
  return encoder.encode(rows.map(betToCsvRow).join("")).length;
}

Deno.test("BetStore.open() adopts a CSV found without a journal, all of its rows", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/bets.csv`;
    await Deno.writeTextFile(path, bets(0, 4).map(betToCsvRow).join(""));
    {
      await using store = await BetStore.open(path);
      assert.equal(store.recovery.adopted, true);
      assert.equal(store.recovery.bets, 4);
      assert.equal(store.recovery.truncatedBytes, 0);
      await store.storeBatch(bets(4, 1), { agency: 5, batchId: 1 });
    }
    assert.match(
      await Deno.readTextFile(journalPathOf(path)),
      /^base 4 \d+ [0-9a-f]{8}\nbatch 5 1 /,
    );
    await using store = await BetStore.open(path);
    assert.equal(store.recovery.adopted, false);
    assert.equal(store.recovery.bets, 5);
  });
});

Deno.test("BetStore.open() refuses what it cannot repair: bad adopted CSV, CSV shorter than its journal, damaged journal", async () => {
  await withTempDir(async (dir) => {
    const bad = `${dir}/bad.csv`;
    await Deno.writeTextFile(bad, "1,Ana,Pérez,1,2000-01-01,x\n");
    await assert.rejects(BetStore.open(bad), {
      name: "StoreError",
      message:
        `Cannot recover bet store "${bad}": ${bad}:1: Invalid number: "x" (expected digits only)`,
    });

    const short = `${dir}/short.csv`;
    {
      await using store = await BetStore.open(short);
      await store.storeBatch(bets(0, 2), { agency: 1, batchId: 1 });
    }
    const size = (await Deno.stat(short)).size;
    await Deno.truncate(short, 10);
    await assert.rejects(BetStore.open(short), {
      name: "StoreError",
      message: `Cannot recover bet store "${short}": it holds 10 bytes but its journal ` +
        `committed ${size} (the CSV was truncated or replaced)`,
    });

    const damaged = `${dir}/damaged.csv`;
    {
      await using store = await BetStore.open(damaged);
      await store.storeBatch(bets(0, 2), { agency: 1, batchId: 1 });
      await store.storeBatch(bets(2, 2), { agency: 1, batchId: 2 });
    }
    const journal = journalPathOf(damaged);
    await Deno.writeTextFile(
      journal,
      (await Deno.readTextFile(journal)).replace("batch 1 1", "batch 1 7"),
    );
    await assert.rejects(BetStore.open(damaged), {
      name: "StoreError",
      message: new RegExp(`^Cannot recover bet store ".*": .*journal:1: Bad checksum`),
    });
  });
});

Deno.test("BetStore.open() refuses a store already open (in this or another process)", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/bets.csv`;
    await using _store = await BetStore.open(path);
    await assert.rejects(BetStore.open(path), {
      name: "StoreError",
      message: new RegExp(`^Cannot open bet store ".*": in use by another process`),
    });
    // And from another process (the lock is the operating system's, not this module's).
    const store = JSON.stringify(new URL("./store.ts", import.meta.url).href);
    const { code, stdout, stderr } = await runDeno([
      "eval",
      `import { BetStore } from ${store};\n` +
      `try { await BetStore.open(${JSON.stringify(path)}); console.log("opened"); }\n` +
      `catch (error) { console.log(error.message); }`,
    ]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^Cannot open bet store ".*": in use by another process/);
  });
});
