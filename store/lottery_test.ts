import assert from "node:assert/strict";
import type { Bet } from "./bet.ts";
import { Lottery } from "./lottery.ts";
import { BetStore } from "./store.ts";

function bet(agency: number, i: number, number = i): Bet {
  return {
    agency,
    firstName: "Ana",
    lastName: "Pérez",
    document: String(30_000_000 + agency * 1000 + i),
    birthdate: "1990-05-17",
    number,
  };
}

async function withStore(fn: (path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(`${dir}/bets.csv`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("Lottery.batchStatus(): next, duplicate, gap, invalid, and after done", async () => {
  await withStore(async (path) => {
    await using store = await BetStore.open(path);
    const lottery = new Lottery({ store, agencies: 2 });
    assert.equal(lottery.batchStatus(1, 0), "invalid");
    assert.equal(lottery.batchStatus(1, 1), "next");
    assert.equal(lottery.batchStatus(1, 2), "gap");
    const stored = lottery.storeBatch(1, 1, [bet(1, 0)]);
    // Accepted at once, before it is durable: a resend is a duplicate already.
    assert.equal(lottery.batchStatus(1, 1), "duplicate");
    assert.equal(lottery.nextBatchId(1), 2);
    assert.throws(() => lottery.storeBatch(1, 3, [bet(1, 1)]), RangeError);
    assert.equal(await lottery.whenDurable(1, 1), true);
    await stored;
    assert.equal(await lottery.markDone(1), "first");
    assert.equal(lottery.batchStatus(1, 1), "duplicate", "a resend after done is still acked");
    assert.equal(lottery.batchStatus(1, 2), "after_done");
    assert.equal(lottery.batchStatus(2, 1), "next", "agencies have their own sequences");
  });
});

Deno.test("Lottery.whenDurable() waits for a batch accepted by another connection", async () => {
  await withStore(async (path) => {
    await using store = await BetStore.open(path);
    const lottery = new Lottery({ store, agencies: 1 });
    const order: string[] = [];
    const stored = lottery.storeBatch(1, 1, [bet(1, 0)]).then(() => order.push("stored"));
    const duplicate = lottery.whenDurable(1, 1).then((ok) => order.push(`duplicate ${ok}`));
    await Promise.all([stored, duplicate]);
    assert.deepEqual(order, ["stored", "duplicate true"]);
  });
});

Deno.test("Lottery.rejectBatch() uses up the id; a resend of it is known as rejected", async () => {
  await withStore(async (path) => {
    {
      await using store = await BetStore.open(path);
      const lottery = new Lottery({ store, agencies: 1 });
      await lottery.rejectBatch(1, 1);
      assert.equal(lottery.batchStatus(1, 2), "next");
      assert.equal(lottery.wasRejected(1, 1), true);
    }
    await using store = await BetStore.open(path);
    const lottery = new Lottery({ store, agencies: 1 });
    assert.equal(lottery.wasRejected(1, 1), true, "remembered across a restart");
    assert.equal(lottery.batchStatus(1, 2), "next");
  });
});

Deno.test("Lottery.markDone() is durable before it resolves; once per agency; the last one draws", async () => {
  await withStore(async (path) => {
    {
      await using store = await BetStore.open(path);
      const lottery = new Lottery({ store, agencies: 2 });
      await lottery.storeBatch(1, 1, [bet(1, 0, 7574), bet(1, 1)]);
      const [first, again] = await Promise.all([lottery.markDone(1), lottery.markDone(1)]);
      assert.deepEqual([first, again], ["first", "repeated"]);
      assert.equal(lottery.doneCount, 1);
      assert.equal(lottery.allDone, false);
    }
    // A restart remembers agency 1 and its last batch.
    await using store = await BetStore.open(path);
    const lottery = new Lottery({ store, agencies: 2 });
    assert.equal(lottery.isDone(1), true);
    assert.equal(lottery.doneCount, 1);
    assert.equal(await lottery.markDone(1), "repeated");
    assert.equal(lottery.batchStatus(1, 1), "duplicate");
    await lottery.storeBatch(2, 1, [bet(2, 0, 7574)]);
    assert.equal(await lottery.markDone(2), "last");
    assert.equal(lottery.allDone, true);
    await lottery.draw();
    assert.deepEqual(await lottery.winners(1), ["30001000"]);
    assert.deepEqual(await lottery.winners(2), ["30002000"]);
  });
});

Deno.test("Lottery resumes all done after a restart: the draw can run at once", async () => {
  await withStore(async (path) => {
    {
      await using store = await BetStore.open(path);
      const lottery = new Lottery({ store, agencies: 1 });
      await lottery.storeBatch(1, 1, [bet(1, 0, 7574)]);
      assert.equal(await lottery.markDone(1), "last");
    }
    await using store = await BetStore.open(path);
    const lottery = new Lottery({ store, agencies: 1 });
    assert.equal(lottery.allDone, true);
    await lottery.draw();
    assert.deepEqual(await lottery.winners(1), ["30001000"]);
  });
});

Deno.test("Lottery: a failed store is not durable; a resend of that id is not acknowledged", {
  ignore: Deno.build.os !== "linux", // /dev/full
}, async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Writes to /dev/full fail with ENOSPC.
    await using store = await BetStore.open("/dev/full", { journalPath: `${dir}/j` });
    const lottery = new Lottery({ store, agencies: 1 });
    await assert.rejects(lottery.storeBatch(1, 1, [bet(1, 0)]), { name: "StoreError" });
    assert.equal(lottery.batchStatus(1, 1), "duplicate");
    assert.equal(await lottery.whenDurable(1, 1), false);
    await assert.rejects(lottery.markDone(1), { name: "StoreError" });
    assert.equal(lottery.isDone(1), false, "a failed done may be tried again");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
