/**
 * Signals sent to this very process. SIGTERM only: `deno test` itself answers
 * SIGINT (it reports the pending tests and exits).
 */

import assert from "node:assert/strict";
import { abortOnSignals, holdShutdownSignals, ShutdownRequested } from "./shutdown.ts";

/** Waits (bounded) until `test` holds: a signal sent to oneself arrives a little later. */
async function until(test: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !test(); i++) await new Promise((r) => setTimeout(r, 5));
}

Deno.test("abortOnSignals() aborts its controller on SIGTERM, with the signal as the reason", async () => {
  const controller = new AbortController();
  {
    using _signals = abortOnSignals(controller);
    Deno.kill(Deno.pid, "SIGTERM");
    await until(() => controller.signal.aborted);
  }
  assert.ok(controller.signal.reason instanceof ShutdownRequested);
  assert.equal(controller.signal.reason.signal, "SIGTERM");
});

Deno.test("a signal held before a role listens stops the role as soon as it does", async () => {
  let heldAtKill = false;
  {
    using _held = holdShutdownSignals();
    Deno.kill(Deno.pid, "SIGTERM");
    // The process is still here: the signal was held, not acted on. Let it arrive.
    await new Promise((r) => setTimeout(r, 100));
    heldAtKill = true;
    const controller = new AbortController();
    using _signals = abortOnSignals(controller);
    assert.ok(controller.signal.aborted, "the held SIGTERM aborts the role at once");
    assert.equal((controller.signal.reason as ShutdownRequested).signal, "SIGTERM");
    // Taken once: the next role does not see it again.
    const next = new AbortController();
    using _again = abortOnSignals(next);
    assert.equal(next.signal.aborted, false);
  }
  assert.ok(heldAtKill);
});
