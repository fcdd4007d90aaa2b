/**
 * The signal handling, in child processes of their own: a regression there
 * ends one child, not the test runner.
 */

import assert from "node:assert/strict";
import { runDeno } from "../tools/processes.ts";

const SHUTDOWN = new URL("./shutdown.ts", import.meta.url).href;

/** Runs `body` (which may use abortOnSignals/holdShutdownSignals) in a child; its output. */
function inChild(body: string) {
  const code =
    `import { abortOnSignals, holdShutdownSignals } from ${JSON.stringify(SHUTDOWN)};\n` +
    `const wait = (ms) => new Promise((r) => setTimeout(r, ms));\n${body}`;
  return runDeno(["eval", code], { timeoutMs: 30_000 });
}

Deno.test("abortOnSignals() aborts its controller on SIGTERM and SIGINT, with the signal as the reason", async () => {
  for (const signal of ["SIGTERM", "SIGINT"]) {
    const { code, stdout, stderr } = await inChild(`
      const controller = new AbortController();
      using _signals = abortOnSignals(controller);
      Deno.kill(Deno.pid, "${signal}");
      for (let i = 0; i < 400 && !controller.signal.aborted; i++) await wait(5);
      console.log(controller.signal.reason?.signal ?? "not aborted");
    `);
    assert.equal(code, 0, stderr);
    assert.equal(stdout.trim(), signal);
  }
});

Deno.test("a signal held before a role listens stops the role as soon as it listens, once", async () => {
  const { code, stdout, stderr } = await inChild(`
    using _held = holdShutdownSignals();
    Deno.kill(Deno.pid, "SIGTERM");
    await wait(300); // still alive: the signal is held, not acted on
    const first = new AbortController();
    using _first = abortOnSignals(first);
    const second = new AbortController();
    using _second = abortOnSignals(second);
    console.log(first.signal.reason?.signal ?? "not aborted", second.signal.aborted);
  `);
  assert.equal(code, 0, stderr);
  assert.equal(stdout.trim(), "SIGTERM false");
});

Deno.test("without a listener, SIGTERM ends the process at once (what the holding is for)", async () => {
  const { code, stdout } = await inChild(`
    Deno.kill(Deno.pid, "SIGTERM");
    await wait(2000);
    console.log("survived");
  `);
  assert.notEqual(code, 0);
  assert.equal(stdout, "");
});
