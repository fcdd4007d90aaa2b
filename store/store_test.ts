import assert from "node:assert/strict";
import type { Bet } from "./bet.ts";
import { betToCsvRow, CsvFormatError } from "./csv.ts";
import { BetStore, StoreError } from "./store.ts";

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
  // Writes to /dev/full fail with ENOSPC.
  const store = await BetStore.open("/dev/full");
  try {
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
    await store.close();
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
    await Deno.writeTextFile(path, betToCsvRow(bet(0)) + "1,Ana,Pérez,1,2000-01-01,x\n");
    await using store = await BetStore.open(path);
    await assert.rejects(collect(store.loadBets()), (error: Error) => {
      assert.ok(error instanceof CsvFormatError);
      assert.equal(error.message, `${path}:2: Invalid number: "x" (expected digits only)`);
      return true;
    });
  });
});
