/**
 * Stalled and excess peers: the read timeout closes a connection stuck inside
 * a frame, the idle timeout one that says nothing, 200 stalled connections do
 * not hold up good agencies, and connections past MAX_CONNECTIONS are refused
 * cleanly (BUSY) and logged.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ErrorCode, MAGIC, MessageType, VERSION } from "../protocol/mod.ts";
import { spawnTp0, startLocalServer, type Tp0Process } from "../tools/processes.ts";
import { actions, storedRows, winnerDocuments, withTempDir, writeAgencies } from "./_helpers.ts";
import { decodeAll, exchange, frames, HeldConnection } from "./_wire.ts";

const encoder = new TextEncoder();

/** Starts a server with `args`, runs `fn`, stops it (SIGTERM, then SIGKILL if needed). */
async function withServer(
  options: { dir: string; agencies?: number; args: string[] },
  fn: (server: { port: number; address: string; process: Tp0Process }) => Promise<void>,
): Promise<void> {
  const server = await startLocalServer({
    agencies: options.agencies ?? 1,
    storagePath: `${options.dir}/bets.csv`,
    args: options.args,
  });
  try {
    await fn(server);
    server.process.kill("SIGTERM");
    assert.equal((await server.process.waitForExit(10_000)).code, 0);
  } finally {
    server.process.kill("SIGKILL");
    await server.process.status;
  }
}

function connectionFails(process: Tp0Process, reason: string): number {
  return actions(process.lines, "connection").filter((r) =>
    r.result === "fail" && r.fields.reason === reason
  ).length;
}

function client(address: string, agency: number, file: string, extra: string[] = []): Tp0Process {
  return spawnTp0(
    ["client", "--id", String(agency), "--server-address", address, "--data", file, ...extra],
    { env: { CLI_LOG_LEVEL: "DEBUG" } },
  );
}

function winners(process: Tp0Process): string[] {
  return actions(process.lines, "ganador").map((r) => r.fields.dni).sort();
}

Deno.test("a frame (or text line) stalled in the middle is closed after READ_TIMEOUT and logged", async () => {
  await withTempDir(async (dir) => {
    await withServer(
      { dir, args: ["--read-timeout", "300ms", "--idle-timeout", "20s"] },
      async (server) => {
        const halfHeader = new Uint8Array([MAGIC, VERSION, MessageType.BET_BATCH]);
        const halfPayload = frames({ type: MessageType.ECHO, text: "cortado" }).subarray(0, 9);
        for (const bytes of [halfHeader, halfPayload, encoder.encode("una línea sin fin")]) {
          const result = await exchange(server.port, bytes, {
            halfClose: false,
            timeoutMs: 10_000,
          });
          assert.ok(result.closed, "closed by the server");
          assert.ok(result.elapsedMs >= 250, `closed after ${result.elapsedMs} ms`);
          assert.equal(result.received.length, 0, "no reply to a stalled peer");
        }
        await server.process.waitForLine(() =>
          connectionFails(server.process, "read timeout") === 3
        );
        assert.equal(connectionFails(server.process, "idle timeout"), 0);
      },
    );
  });
});

Deno.test("a connection that says nothing, before or between frames, is closed after IDLE_TIMEOUT and logged", async () => {
  await withTempDir(async (dir) => {
    await withServer(
      { dir, args: ["--read-timeout", "20s", "--idle-timeout", "400ms"] },
      async (server) => {
        const silent = await exchange(server.port, new Uint8Array(), {
          halfClose: false,
          timeoutMs: 10_000,
        });
        assert.ok(silent.closed);
        assert.ok(silent.elapsedMs >= 350, `closed after ${silent.elapsedMs} ms`);

        // After a whole ECHO and its reply, silence is idleness too.
        const echo = await exchange(server.port, frames({ type: MessageType.ECHO, text: "hola" }), {
          halfClose: false,
          timeoutMs: 10_000,
        });
        assert.ok(echo.closed);
        assert.deepEqual(await decodeAll(echo.received), [
          { type: MessageType.ECHO_REPLY, text: "hola" },
        ]);
        await server.process.waitForLine(() =>
          connectionFails(server.process, "idle timeout") === 2
        );
        assert.equal(connectionFails(server.process, "read timeout"), 0);
      },
    );
  });
});

Deno.test("an agency waiting for the draw is not idle: it gets its winners long after IDLE_TIMEOUT", async () => {
  await withTempDir(async (dir) => {
    const agencies = [
      { agency: 1, bets: 30, winnersAt: [2] },
      { agency: 2, bets: 30, winnersAt: [4, 5] },
    ];
    const files = await writeAgencies(dir, agencies);
    await withServer(
      { dir, agencies: 2, args: ["--idle-timeout", "300ms", "--read-timeout", "300ms"] },
      async (server) => {
        const first = client(server.address, 1, files[0]);
        let second: Tp0Process | undefined;
        try {
          await server.process.waitForLine((l) => l.includes("action: agencia_finalizada"));
          // Three idle timeouts long, agency 1 waits for the draw.
          await new Promise((resolve) => setTimeout(resolve, 1000));
          second = client(server.address, 2, files[1]);
          assert.equal((await first.waitForExit(30_000)).code, 0, first.tail());
          assert.equal((await second.waitForExit(30_000)).code, 0, second.tail());
          assert.deepEqual(winners(first), winnerDocuments(agencies[0]));
          assert.deepEqual(winners(second), winnerDocuments(agencies[1]).sort());
          assert.equal(connectionFails(server.process, "idle timeout"), 0);
          assert.equal(first.count((l) => l.includes("action: reconnect")), 0);
        } finally {
          first.kill("SIGKILL");
          second?.kill("SIGKILL");
          await Promise.all([first.status, second?.status]);
        }
      },
    );
  });
});

Deno.test("200 stalled connections do not hold up good agencies: they finish while the 200 are still connected", async () => {
  await withTempDir(async (dir) => {
    const agencies = [
      { agency: 1, bets: 3000, winnersAt: [10, 2999] },
      { agency: 2, bets: 2000, winnersAt: [7] },
      { agency: 3, bets: 2500, winnersAt: [] },
    ];
    const files = await writeAgencies(dir, agencies);
    await withServer(
      {
        dir,
        agencies: 3,
        args: ["--read-timeout", "60s", "--idle-timeout", "60s", "--max-connections", "300"],
      },
      async (server) => {
        const stalled: HeldConnection[] = [];
        const clients: Tp0Process[] = [];
        try {
          for (let i = 0; i < 200; i++) {
            const held = await HeldConnection.open(server.port);
            stalled.push(held);
            // An ECHO round trip proves the server serves it; then half a frame, and silence.
            await held.write(frames({ type: MessageType.ECHO, text: `stalled ${i}` }));
            assert.equal((await held.next())?.type, MessageType.ECHO_REPLY);
            const half = i % 2 === 0
              ? new Uint8Array([MAGIC, VERSION])
              : frames({ type: MessageType.AGENCY_DONE, agency: 1 }).subarray(0, 6);
            await held.write(half);
          }
          for (const [i, file] of files.entries()) {
            clients.push(client(server.address, i + 1, file, ["--batch-max-amount", "20"]));
          }
          for (const [i, c] of clients.entries()) {
            assert.equal((await c.waitForExit(60_000)).code, 0, c.tail());
            assert.deepEqual(winners(c), winnerDocuments(agencies[i]).sort());
          }
          // The agencies are done, and every stalled connection is still open.
          for (const held of stalled) assert.equal(await held.isClosed(5), false);
          assert.equal(connectionFails(server.process, "read timeout"), 0);
          assert.equal((await storedRows(`${dir}/bets.csv`)).length, 7500);
        } finally {
          for (const c of clients) c.kill("SIGKILL");
          await Promise.all(clients.map((c) => c.status));
          await Promise.all(stalled.map((held) => held.close()));
        }
      },
    );
  });
});

Deno.test("connections past MAX_CONNECTIONS get BUSY (binary) or a close (text), are logged, and the server recovers", async () => {
  await withTempDir(async (dir) => {
    await withServer({ dir, args: ["--max-connections", "3"] }, async (server) => {
      const held: HeldConnection[] = [];
      try {
        for (let i = 0; i < 3; i++) {
          const connection = await HeldConnection.open(server.port);
          held.push(connection);
          await connection.write(frames({ type: MessageType.ECHO, text: `slot ${i}` }));
          assert.equal((await connection.next())?.type, MessageType.ECHO_REPLY);
        }
        const binary = await exchange(server.port, frames({ type: MessageType.ECHO, text: "x" }));
        assert.ok(binary.closed);
        const [busy] = await decodeAll(binary.received);
        assert.equal(busy?.type, MessageType.ERROR);
        assert.equal(busy.type === MessageType.ERROR && busy.code, ErrorCode.BUSY);
        const text = await exchange(server.port, encoder.encode("hola\n"));
        assert.ok(text.closed);
        assert.equal(text.received.length, 0, "a text client gets no binary frame");
        await server.process.waitForLine(() =>
          connectionFails(server.process, "too many connections") === 2
        );
        const [refused] = actions(server.process.lines, "connection").filter((r) =>
          r.fields.reason === "too many connections"
        );
        assert.equal(refused.fields.max_connections, "3");

        // A slot frees up: the next connection is served.
        await held.pop()!.close();
        let served = false;
        for (let attempt = 0; attempt < 50 && !served; attempt++) {
          const reply = await exchange(server.port, frames({ type: MessageType.ECHO, text: "y" }));
          const [message] = await decodeAll(reply.received);
          served = message?.type === MessageType.ECHO_REPLY;
          if (!served) await new Promise((resolve) => setTimeout(resolve, 50));
        }
        assert.ok(served, "served once a connection closed");
      } finally {
        await Promise.all(held.map((connection) => connection.close()));
      }
    });
  });
});

Deno.test("a client turned away with BUSY retries until a slot frees, then completes", async () => {
  await withTempDir(async (dir) => {
    const agency = { agency: 1, bets: 50, winnersAt: [3] };
    const [file] = await writeAgencies(dir, [agency]);
    await withServer({ dir, args: ["--max-connections", "1"] }, async (server) => {
      const blocker = await HeldConnection.open(server.port);
      let agencyClient: Tp0Process | undefined;
      try {
        await blocker.write(frames({ type: MessageType.ECHO, text: "ocupado" }));
        assert.equal((await blocker.next())?.type, MessageType.ECHO_REPLY);
        agencyClient = client(server.address, 1, file, ["--connect-deadline", "20s"]);
        await agencyClient.waitForLine((l) => l.includes("Server error BUSY"), 20_000);
        await blocker.close();
        assert.equal((await agencyClient.waitForExit(30_000)).code, 0, agencyClient.tail());
        assert.deepEqual(winners(agencyClient), winnerDocuments(agency));
        assert.equal((await storedRows(`${dir}/bets.csv`)).length, 50);
      } finally {
        await blocker.close();
        agencyClient?.kill("SIGKILL");
        await agencyClient?.status;
      }
    });
  });
});

Deno.test("a peer that leaves while waiting for the draw frees its slot at once", async () => {
  await withTempDir(async (dir) => {
    await withServer({ dir, agencies: 2, args: ["--max-connections", "2"] }, async (server) => {
      const held: HeldConnection[] = [];
      try {
        const waiting = await HeldConnection.open(server.port);
        await waiting.write(frames({ type: MessageType.AGENCY_DONE, agency: 1 }));
        assert.equal((await waiting.next())?.type, MessageType.DONE_ACK);
        await waiting.write(frames({ type: MessageType.WINNERS_QUERY, agency: 1 }));
        await waiting.close();
        // Both slots serve again (one of them was the waiting session's).
        let served = 0;
        for (let attempt = 0; attempt < 50 && served < 2; attempt++) {
          const connection = await HeldConnection.open(server.port);
          await connection.write(frames({ type: MessageType.ECHO, text: "¿hay lugar?" }));
          const reply = await connection.next();
          if (reply?.type === MessageType.ECHO_REPLY) {
            held.push(connection);
            served++;
          } else {
            await connection.close();
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        }
        assert.equal(served, 2);
        assert.equal(connectionFails(server.process, "idle timeout"), 0);
      } finally {
        await Promise.all(held.map((connection) => connection.close()));
      }
    });
  });
});

Deno.test("a client whose server goes silent mid-ingest gives up on that connection after 10 s and reconnects", async () => {
  await withTempDir(async (dir) => {
    const [file] = await writeAgencies(dir, [{ agency: 1, bets: 50 }]);
    // A peer that takes every byte and never answers: a server killed without its FIN arriving.
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const { port } = listener.addr as Deno.NetAddr;
    const held: Deno.Conn[] = [];
    const accepting = (async () => {
      for await (const conn of listener) {
        held.push(conn);
        conn.readable.pipeTo(new WritableStream()).catch(() => {});
      }
    })();
    const client = spawnTp0([
      ...["client", "--id", "1", "--data", file, "--server-address", `127.0.0.1:${port}`],
      ...["--connect-deadline", "60s"],
    ]);
    try {
      const started = performance.now();
      const line = await client.waitForLine((l) => l.includes("action: reconnect"), 30_000);
      assert.match(line, /result: in_progress .*reason: No reply from the server in 10s/);
      assert.ok(performance.now() - started >= 9_000, "it waited the whole reply timeout");
      await client.waitForLine((l) => /action: reconnect \| result: success/.test(l), 10_000);
      assert.ok(held.length >= 2, "it connected again");
    } finally {
      client.kill("SIGKILL");
      await client.status;
      listener.close();
      await accepting.catch(() => {});
      for (const conn of held) {
        try {
          conn.close();
        } catch {
          // Closed by the client's end already.
        }
      }
    }
  });
});

Deno.test("a handshake cut by the server (it died or restarted meanwhile) is retried within connect.deadline", async () => {
  await withTempDir(async (dir) => {
    const [file] = await writeAgencies(dir, [{ agency: 1, bets: 5 }]);
    const key = `${dir}/agency.key`;
    await Deno.writeTextFile(key, "ab".repeat(32) + "\n", { mode: 0o600 });
    // A peer that reads the client's first frame (AUTH_HELLO) and hangs up.
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const { port } = listener.addr as Deno.NetAddr;
    let accepted = 0;
    const accepting = (async () => {
      for await (const conn of listener) {
        accepted++;
        await conn.read(new Uint8Array(64)).catch(() => null);
        conn.close();
      }
    })();
    const client = spawnTp0([
      ...["client", "--id", "1", "--data", file, "--key", key],
      ...["--server-address", `127.0.0.1:${port}`, "--connect-deadline", "2s"],
    ]);
    try {
      const { code } = await client.waitForExit(30_000);
      assert.equal(code, 1, client.tail());
      assert.ok(
        actions(client.lines, "auth").some((r) => r.result === "in_progress"),
        client.tail(),
      );
      assert.ok(accepted >= 2, `connected ${accepted} time(s)`);
    } finally {
      client.kill("SIGKILL");
      await client.status;
      listener.close();
      await accepting.catch(() => {});
    }
  });
});
