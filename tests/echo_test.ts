/**
 * The echo system end to end (exercises 1-4): echo clients and a netcat-style
 * peer against the server, and graceful shutdown on SIGTERM.
 */

import assert from "node:assert/strict";
import { actions, records, withTempDir } from "./_helpers.ts";
import { spawnTp0, startLocalServer, type Tp0Process } from "../tools/processes.ts";

/** Starts a server for echo tests in `dir`. */
function echoServer(dir: string) {
  return startLocalServer({ agencies: 1, storagePath: `${dir}/bets.csv` });
}

function echoClient(id: number, address: string, loop: { amount: number; period: string }) {
  return spawnTp0([
    "client",
    "--id",
    String(id),
    "--mode",
    "echo",
    "--server-address",
    address,
    "--loop-amount",
    String(loop.amount),
    "--loop-period",
    loop.period,
  ]);
}

async function stop(...processes: Tp0Process[]): Promise<void> {
  for (const p of processes) p.kill("SIGKILL");
  await Promise.all(processes.map((p) => p.status));
}

Deno.test("5 echo clients get every one of their messages back", async () => {
  await withTempDir(async (dir) => {
    const { process: server, address } = await echoServer(dir);
    const clients = [1, 2, 3, 4, 5].map((id) =>
      echoClient(id, address, { amount: 5, period: "20ms" })
    );
    try {
      const codes = await Promise.all(clients.map(async (c) => (await c.waitForExit(30_000)).code));
      assert.deepEqual(codes, [0, 0, 0, 0, 0]);
      for (const [i, client] of clients.entries()) {
        const id = i + 1;
        const received = actions(client.lines, "receive_message");
        assert.deepEqual(
          received.map((r) => [r.result, r.fields.client_id, r.fields.msg]),
          [1, 2, 3, 4, 5].map((n) => ["success", String(id), `[CLIENT ${id}] Message N°${n}`]),
        );
        const [finished] = actions(client.lines, "loop_finished");
        assert.equal(finished?.result, "success");
        assert.equal(finished.fields.client_id, String(id));
      }
      const echoed = actions(server.lines, "receive_message");
      assert.equal(echoed.length, 25);
      assert.ok(echoed.every((r) => r.fields.ip === "127.0.0.1" && r.result === "success"));
      assert.equal(server.lines.every((line) => !line.includes("result: fail")), true);
    } finally {
      await stop(server, ...clients);
    }
  });
});

Deno.test("the server echoes plain text lines like netcat expects, on the same port", async () => {
  await withTempDir(async (dir) => {
    const { process: server, port } = await echoServer(dir);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      const text = "hola servidor | con barra\r\nsegunda línea\n";
      await conn.write(new TextEncoder().encode(text));
      const expected = "hola servidor | con barra\nsegunda línea\n";
      let answer = "";
      const buffer = new Uint8Array(1024);
      const decoder = new TextDecoder();
      while (answer.length < expected.length) {
        const n = await conn.read(buffer);
        if (n === null) break;
        answer += decoder.decode(buffer.subarray(0, n), { stream: true });
      }
      assert.equal(answer, expected);
      await server.waitForLine((l) => l.includes("msg: segunda línea"));
      // The "|" in the message is escaped so the line stays one record.
      const [first] = actions(server.lines, "receive_message");
      assert.equal(first.fields.msg, "hola servidor ¦ con barra");
    } finally {
      conn.close();
      await stop(server);
    }
  });
});

Deno.test("validate-echo succeeds against our server", async () => {
  await withTempDir(async (dir) => {
    const { process: server, address } = await echoServer(dir);
    try {
      const validator = spawnTp0(["validate-echo", "--address", address, "--timeout", "5s"]);
      const { code } = await validator.waitForExit(30_000);
      assert.equal(code, 0, validator.tail());
      assert.deepEqual(validator.lines.filter((l) => l !== ""), [
        "action: test_echo_server | result: success",
      ]);
    } finally {
      await stop(server);
    }
  });
});

Deno.test("SIGTERM stops an echo client in the middle of its loop: exit 0 within 2 s, closure logged", async () => {
  await withTempDir(async (dir) => {
    const { process: server, address } = await echoServer(dir);
    const client = echoClient(1, address, { amount: 500, period: "150ms" });
    try {
      await client.waitForLine((l) => l.includes("Message N°3"));
      const start = performance.now();
      client.kill("SIGTERM");
      const { code } = await client.waitForExit(10_000);
      const elapsed = performance.now() - start;
      assert.equal(code, 0, client.tail());
      assert.ok(elapsed < 2000, `the client took ${elapsed.toFixed(0)} ms to stop`);
      const shutdown = actions(client.lines, "shutdown");
      assert.ok(shutdown.some((r) => r.fields.resource === "connection"), client.tail());
      assert.ok(actions(client.lines, "loop_finished").length === 0);
      const stopIndex = shutdown[0].index;
      assert.ok(records(client.lines).every((r) => r.result !== "fail" || r.index > stopIndex));
    } finally {
      await stop(server, client);
    }
  });
});

Deno.test("SIGTERM stops the server while a client loops: exit 0 within 2 s, every closure logged", async () => {
  await withTempDir(async (dir) => {
    const { process: server, address } = await echoServer(dir);
    const client = echoClient(1, address, { amount: 500, period: "150ms" });
    try {
      await client.waitForLine((l) => l.includes("Message N°3"));
      const start = performance.now();
      server.kill("SIGTERM");
      const { code } = await server.waitForExit(10_000);
      const elapsed = performance.now() - start;
      assert.equal(code, 0, server.tail());
      assert.ok(elapsed < 2000, `the server took ${elapsed.toFixed(0)} ms to stop`);
      const closed = actions(server.lines, "shutdown").map((r) => r.fields.resource);
      assert.deepEqual(closed, ["listener", "connection", "storage"]);
      assert.ok(records(server.lines).every((r) => r.result !== "fail"), server.tail());
    } finally {
      await stop(server, client);
    }
  });
});
