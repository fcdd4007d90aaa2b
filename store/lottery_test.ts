import assert from "node:assert/strict";
import type { Bet } from "./bet.ts";
import { FileLottery } from "./file_lottery.ts";
import type { SubmitOutcome } from "./lottery.ts";
import { packBets } from "./packed_bets.ts";
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

/** Submits `bets` as batch `batchId` of `agency`, packed as they come off the wire. */
function submit(
  lottery: FileLottery,
  batch: { agency: number; batchId: number; bets: readonly Bet[] },
): Promise<SubmitOutcome> {
  return lottery.submit({
    agency: batch.agency,
    batchId: batch.batchId,
    bets: packBets(batch.bets),
  });
}

/** Whether a resend of `batchId` is answered as rejected before. */
async function wasRejected(lottery: FileLottery, agency: number, batchId: number) {
  const outcome = await submit(lottery, { agency, batchId, bets: [] });
  return outcome.kind === "rejected" && outcome.resent;
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
    const lottery = new FileLottery({ store, agencies: 2 });
    assert.equal(lottery.batchStatus(1, 0), "invalid");
    assert.equal(lottery.batchStatus(1, 1), "next");
    assert.equal(lottery.batchStatus(1, 2), "gap");
    const stored = submit(lottery, { agency: 1, batchId: 1, bets: [bet(1, 0)] });
    // Accepted at once, before it is durable: a resend is a duplicate already.
    assert.equal(lottery.batchStatus(1, 1), "duplicate");
    assert.equal(lottery.nextBatchId(1), 2);
    assert.throws(() => submit(lottery, { agency: 1, batchId: 3, bets: [bet(1, 1)] }), RangeError);
    const resent = await submit(lottery, { agency: 1, batchId: 1, bets: [bet(1, 0)] });
    assert.equal(resent.kind === "duplicate", true);
    assert.deepEqual(await stored, { kind: "stored" });
    assert.equal(await lottery.done(1), "first");
    assert.equal(lottery.batchStatus(1, 1), "duplicate", "a resend after done is still acked");
    assert.equal(lottery.batchStatus(1, 2), "after_done");
    assert.equal(lottery.batchStatus(2, 1), "next", "agencies have their own sequences");
  });
});

Deno.test("Lottery.submit() throws a sequence error with the reason a client is told", async () => {
  await withStore(async (path) => {
    await using store = await BetStore.open(path);
    const lottery = new FileLottery({ store, agencies: 2 });
    const violation = (agency: number, batchId: number) => {
      try {
        submit(lottery, { agency, batchId, bets: [bet(agency, 9)] });
      } catch (error) {
        assert.equal((error as Error).name, "BatchSequenceError");
        return [(error as { violation: string }).violation, (error as Error).message];
      }
      assert.fail(`batch ${batchId} of agency ${agency} was taken`);
    };
    assert.deepEqual(violation(1, 0), ["invalid", "Invalid batch id: 0 (batch ids start at 1)"]);
    assert.deepEqual(violation(1, 2), [
      "gap",
      "Batch out of order: 2 of agency 1 (expected 1)",
    ]);
    await lottery.done(2);
    assert.deepEqual(violation(2, 1), [
      "after_done",
      "Bets after agency done: batch 1 of agency 2",
    ]);
  });
});

Deno.test("Lottery.submit() consumes the bets before it returns: their bytes may be reused", async () => {
  await withStore(async (path) => {
    await using store = await BetStore.open(path);
    const lottery = new FileLottery({ store, agencies: 1 });
    const bets = [bet(1, 0, 7574), bet(1, 1)];
    const packed = packBets(bets);
    const stored = lottery.submit({ agency: 1, batchId: 1, bets: packed });
    // The next read of a connection overwrites the buffer the batch was a view of.
    packed.bytes.fill(0x3f);
    packed.numbers.fill(1);
    assert.deepEqual(await stored, { kind: "stored" });
    const loaded: Bet[] = [];
    for await (const one of store.loadBets()) loaded.push(one);
    assert.deepEqual(loaded, bets);
    assert.equal(await lottery.done(1), "last");
    await lottery.draw();
    assert.deepEqual(await lottery.winners(1), ["30001000"]);
  });
});

Deno.test("Lottery.whenDurable() waits for a batch accepted by another connection", async () => {
  await withStore(async (path) => {
    await using store = await BetStore.open(path);
    const lottery = new FileLottery({ store, agencies: 1 });
    const order: string[] = [];
    const stored = submit(lottery, { agency: 1, batchId: 1, bets: [bet(1, 0)] })
      .then(() => order.push("stored"));
    const duplicate = submit(lottery, { agency: 1, batchId: 1, bets: [bet(1, 0)] })
      .then((outcome) => order.push(`duplicate ${outcome.kind === "duplicate"}`));
    await Promise.all([stored, duplicate]);
    assert.deepEqual(order, ["stored", "duplicate true"]);
  });
});

Deno.test("Lottery.rejectBatch() uses up the id; a resend of it is known as rejected", async () => {
  const invalid = { ...bet(1, 0), birthdate: "1990-02-30" };
  await withStore(async (path) => {
    {
      await using store = await BetStore.open(path);
      const lottery = new FileLottery({ store, agencies: 1 });
      const outcome = await submit(lottery, { agency: 1, batchId: 1, bets: [bet(1, 1), invalid] });
      assert.equal(outcome.kind, "rejected");
      assert.match((outcome as { reason: string }).reason, /^Bet 2 of 2: /);
      assert.equal(lottery.batchStatus(1, 2), "next");
      assert.equal(await wasRejected(lottery, 1, 1), true);
    }
    await using store = await BetStore.open(path);
    const lottery = new FileLottery({ store, agencies: 1 });
    assert.equal(await wasRejected(lottery, 1, 1), true, "remembered across a restart");
    assert.equal(lottery.batchStatus(1, 2), "next");
    const resent = await submit(lottery, { agency: 1, batchId: 1, bets: [] });
    assert.deepEqual(resent, {
      kind: "rejected",
      reason: "Batch 1 of agency 1 was rejected before (invalid bets); batch ids are never reused",
      resent: true,
    });
  });
});

Deno.test("Lottery.markDone() is durable before it resolves; once per agency; the last one draws", async () => {
  await withStore(async (path) => {
    {
      await using store = await BetStore.open(path);
      const lottery = new FileLottery({ store, agencies: 2 });
      await submit(lottery, { agency: 1, batchId: 1, bets: [bet(1, 0, 7574), bet(1, 1)] });
      const [first, again] = await Promise.all([lottery.done(1), lottery.done(1)]);
      assert.deepEqual([first, again], ["first", "repeated"]);
      assert.equal(lottery.doneCount, 1);
      assert.equal(lottery.allDone, false);
    }
    // A restart remembers agency 1 and its last batch.
    await using store = await BetStore.open(path);
    const lottery = new FileLottery({ store, agencies: 2 });
    assert.equal(lottery.isDone(1), true);
    assert.equal(lottery.doneCount, 1);
    assert.equal(await lottery.done(1), "repeated");
    assert.equal(lottery.batchStatus(1, 1), "duplicate");
    await submit(lottery, { agency: 2, batchId: 1, bets: [bet(2, 0, 7574)] });
    assert.equal(await lottery.done(2), "last");
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
      const lottery = new FileLottery({ store, agencies: 1 });
      await submit(lottery, { agency: 1, batchId: 1, bets: [bet(1, 0, 7574)] });
      assert.equal(await lottery.done(1), "last");
    }
    await using store = await BetStore.open(path);
    const lottery = new FileLottery({ store, agencies: 1 });
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
    const lottery = new FileLottery({ store, agencies: 1 });
    const failed = await submit(lottery, { agency: 1, batchId: 1, bets: [bet(1, 0)] });
    assert.equal(failed.kind, "storageFailed");
    assert.match((failed as { reason: string }).reason, /^Storage failed: /);
    assert.equal(lottery.batchStatus(1, 1), "duplicate");
    const resent = await submit(lottery, { agency: 1, batchId: 1, bets: [bet(1, 0)] });
    assert.deepEqual(resent, {
      kind: "storageFailed",
      reason: "Storage failed: batch 1 of agency 1 was not stored",
      resent: true,
    });
    await assert.rejects(lottery.done(1), { name: "StoreError" });
    assert.equal(lottery.isDone(1), false, "a failed done may be tried again");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
