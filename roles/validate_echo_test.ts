import assert from "node:assert/strict";
import {
  formatResult,
  runValidateEcho,
  VALIDATE_ECHO_USAGE,
  validateEcho,
} from "./validate_echo.ts";
import { type DenoOutput, runDeno } from "../tools/processes.ts";

const MODULE_URL = new URL("./validate_echo.ts", import.meta.url).href;

/** A TCP server on 127.0.0.1, a random port; disposing it closes everything it opened. */
interface TestServer extends AsyncDisposable {
  address: string;
}

/** Serves each connection with `handler`, closing the connection when it returns. */
function serve(handler: (conn: Deno.Conn) => Promise<void>): TestServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const tasks = new Set<Promise<void>>();
  const loop = (async () => {
    for await (const conn of listener) {
      const task = handler(conn)
        .catch(() => {}) // The client may reset the connection; the test checks the client side.
        .finally(() => closeQuietly(conn));
      tasks.add(task);
      task.finally(() => tasks.delete(task));
    }
  })();
  return {
    address: `127.0.0.1:${listener.addr.port}`,
    async [Symbol.asyncDispose]() {
      listener.close();
      await loop;
      await Promise.all(tasks);
    },
  };
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

/** Reads up to and including "\n", or to end of stream. */
async function readLine(conn: Deno.Conn): Promise<string> {
  const bytes: number[] = [];
  const buffer = new Uint8Array(1);
  while ((await conn.read(buffer)) !== null) {
    bytes.push(buffer[0]);
    if (buffer[0] === 0x0a) break;
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

async function write(conn: Deno.Conn, text: string): Promise<void> {
  const bytes = new TextEncoder().encode(text);
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

/** Waits until the peer closes (reads and drops everything). */
async function drain(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(1024);
  while ((await conn.read(buffer)) !== null) {
    // Dropped.
  }
}

/** A plain RFC 862 echo server: every byte goes back as it arrives. */
function byteEchoServer(received: string[] = []): TestServer {
  return serve(async (conn) => {
    const buffer = new Uint8Array(1024);
    const decoder = new TextDecoder();
    let count: number | null;
    while ((count = await conn.read(buffer)) !== null) {
      received.push(decoder.decode(buffer.subarray(0, count)));
      await conn.write(buffer.subarray(0, count));
    }
  });
}

/** A port nothing listens on: bound, then released. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/** Runs runValidateEcho in a child process (usage errors print on the real stderr). */
function runChild(args: string[]): Promise<DenoOutput> {
  return runDeno([
    "eval",
    `import { runValidateEcho } from ${JSON.stringify(MODULE_URL)};\n` +
    `Deno.exit(await runValidateEcho(${JSON.stringify(args)}));`,
  ]);
}

Deno.test("validateEcho() succeeds against a plain byte echo server", async () => {
  const received: string[] = [];
  await using server = byteEchoServer(received);
  const result = await validateEcho({ address: server.address, message: "hello", timeoutMs: 2000 });
  assert.deepEqual(result, { ok: true });
  assert.equal(received.join(""), "hello\n");
});

Deno.test("validateEcho() accepts an answer that ends in \\r\\n or arrives in pieces", async () => {
  await using server = serve(async (conn) => {
    const line = (await readLine(conn)).replace(/\n$/, "");
    await write(conn, line.slice(0, 2));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await write(conn, `${line.slice(2)}\r\n`);
  });
  const result = await validateEcho({ address: server.address, message: "hello", timeoutMs: 2000 });
  assert.deepEqual(result, { ok: true });
});

Deno.test("validateEcho() accepts an answer without newline followed by a close, like nc", async () => {
  await using server = serve(async (conn) => {
    await write(conn, (await readLine(conn)).replace(/\n$/, ""));
  });
  const result = await validateEcho({ address: server.address, message: "hi", timeoutMs: 2000 });
  assert.deepEqual(result, { ok: true });
});

Deno.test("validateEcho() fails with the quoted answer when the server prefixes it", async () => {
  await using server = serve(async (conn) => {
    await write(conn, `prefix: ${await readLine(conn)}`);
  });
  const result = await validateEcho({ address: server.address, message: "hello", timeoutMs: 2000 });
  assert.deepEqual(result, { ok: false, reason: 'unexpected answer: "prefix: hello"' });
});

Deno.test("validateEcho() reads only the first line of the answer", async () => {
  await using server = serve(async (conn) => {
    await readLine(conn);
    await write(conn, "other\nhello\n");
  });
  const result = await validateEcho({ address: server.address, message: "hello", timeoutMs: 2000 });
  assert.deepEqual(result, { ok: false, reason: 'unexpected answer: "other"' });
});

Deno.test("validateEcho() reports a refused connection", async () => {
  const address = `127.0.0.1:${closedPort()}`;
  const result = await validateEcho({ address, message: "hello", timeoutMs: 2000 });
  assert.deepEqual(result, { ok: false, reason: "connection refused" });
});

Deno.test("validateEcho() gives up after the timeout when the server never answers", async () => {
  await using server = serve(drain);
  const started = performance.now();
  const result = await validateEcho({ address: server.address, message: "hello", timeoutMs: 300 });
  const elapsed = performance.now() - started;
  assert.deepEqual(result, { ok: false, reason: "timeout after 300ms" });
  assert.ok(elapsed >= 250 && elapsed < 2000, `took ${elapsed} ms`);
});

Deno.test("validateEcho() reports a server that reads the line and closes without answering", async () => {
  await using server = serve(async (conn) => {
    await readLine(conn);
  });
  const result = await validateEcho({ address: server.address, message: "hello", timeoutMs: 2000 });
  assert.deepEqual(result, { ok: false, reason: "connection closed before answer" });
});

Deno.test("validateEcho() reports a server that closes as soon as it accepts", async () => {
  await using server = serve(() => Promise.resolve());
  const result = await validateEcho({ address: server.address, message: "hello", timeoutMs: 2000 });
  assert.equal(result.ok, false);
  // The close races the request: a FIN reads as end of stream, an RST (data
  // sent to an already closed socket) as a reset.
  assert.match(
    result.ok ? "" : result.reason,
    /^(connection closed before answer|connection reset by peer)$/,
  );
});

Deno.test("validateEcho() rejects a message with a line break, a bad address or timeout", async () => {
  await assert.rejects(
    validateEcho({ address: "127.0.0.1:1", message: "a\nb", timeoutMs: 1000 }),
    RangeError,
  );
  await assert.rejects(
    validateEcho({ address: "nohostport", message: "a", timeoutMs: 1000 }),
    RangeError,
  );
  await assert.rejects(
    validateEcho({ address: "127.0.0.1:1", message: "a", timeoutMs: 0 }),
    RangeError,
  );
});

Deno.test("formatResult() keeps the reason on one record", () => {
  assert.equal(formatResult({ ok: true }), "action: test_echo_server | result: success");
  assert.equal(
    formatResult({ ok: false, reason: "a | b\nc\rd" }),
    "action: test_echo_server | result: fail | reason: a ¦ b\\nc\\rd",
  );
});

Deno.test("runValidateEcho() prints the success line and exits 0", async () => {
  await using server = byteEchoServer();
  const lines: string[] = [];
  const code = await runValidateEcho(["--address", server.address, "--timeout", "2s"], {
    stdout: (line) => lines.push(line),
  });
  assert.equal(code, 0);
  assert.deepEqual(lines, ["action: test_echo_server | result: success"]);
});

Deno.test("runValidateEcho() prints the fail line with a one-record reason and exits 1", async () => {
  await using server = serve(async (conn) => {
    await write(conn, `a|b: ${await readLine(conn)}`);
  });
  const lines: string[] = [];
  const code = await runValidateEcho(["--address", server.address, "--message", "x"], {
    stdout: (line) => lines.push(line),
  });
  assert.equal(code, 1);
  assert.deepEqual(lines, [
    'action: test_echo_server | result: fail | reason: unexpected answer: "a¦b: x"',
  ]);
});

Deno.test("runValidateEcho() prints a refused connection and exits 1", async () => {
  const lines: string[] = [];
  const code = await runValidateEcho(["--address", `127.0.0.1:${closedPort()}`], {
    stdout: (line) => lines.push(line),
  });
  assert.equal(code, 1);
  assert.deepEqual(lines, [
    "action: test_echo_server | result: fail | reason: connection refused",
  ]);
});

Deno.test("runValidateEcho() sends a different default message on each run", async () => {
  const received: string[] = [];
  await using server = byteEchoServer(received);
  for (let run = 0; run < 2; run++) {
    assert.equal(await runValidateEcho(["--address", server.address], { stdout: () => {} }), 0);
  }
  const messages = received.join("").split("\n").filter((line) => line !== "");
  assert.equal(messages.length, 2);
  for (const message of messages) assert.match(message, /^tp0 validate-echo [0-9a-f]{16}$/);
  assert.notEqual(messages[0], messages[1]);
});

Deno.test("runValidateEcho() prints usage on stdout and exits 0 for --help", async () => {
  const lines: string[] = [];
  assert.equal(await runValidateEcho(["--help"], { stdout: (line) => lines.push(line) }), 0);
  assert.deepEqual(lines, [VALIDATE_ECHO_USAGE]);
});

const BAD_ARGUMENTS: { args: string[]; reason: string }[] = [
  {
    args: ["--address", "nohostport"],
    reason: 'Invalid address: "nohostport" (expected host:port with a port 1..65535)',
  },
  {
    args: ["--address", "server:70000"],
    reason: 'Invalid address: "server:70000" (expected host:port with a port 1..65535)',
  },
  {
    args: ["--timeout", "soon"],
    reason: 'Invalid timeout: "soon" (expected a duration such as 500ms or 10s)',
  },
  {
    args: ["--timeout", "0s"],
    reason: 'Invalid timeout: "0s" (expected more than 0, at most 596h31m23.647s)',
  },
  {
    args: ["--message", "two\nlines"],
    reason: 'Invalid message: "two\\nlines" (expected one line, without line breaks)',
  },
  { args: ["--bogus"], reason: "Unknown option '--bogus'" },
  {
    args: ["extra"],
    reason: "Unexpected argument 'extra'",
  },
];

Deno.test("runValidateEcho() rejects bad arguments with exit 2, one reason and usage on stderr", async () => {
  const results = await Promise.all(BAD_ARGUMENTS.map(({ args }) => runChild(args)));
  for (const [index, { args, reason }] of BAD_ARGUMENTS.entries()) {
    const result = results[index];
    const label = JSON.stringify(args);
    assert.equal(result.code, 2, `${label}: ${result.stderr}`);
    assert.equal(result.stdout, "", label);
    const lines = result.stderr.split("\n");
    assert.equal(lines[0], `tp0: ${reason}`, label);
    assert.equal(lines[1], "", label);
    assert.match(lines[2], /^Usage: tp0 validate-echo /, label);
  }
});
