import assert from "node:assert/strict";
import { splitHostPort } from "./mod.ts";

Deno.test("splitHostPort() splits host:port and [ipv6]:port, ports 1..65535 only, and rejects anything else", () => {
  assert.deepEqual(splitHostPort("server:12345"), { hostname: "server", port: 12345 });
  assert.deepEqual(splitHostPort("127.0.0.1:1"), { hostname: "127.0.0.1", port: 1 });
  assert.deepEqual(splitHostPort("[::1]:65535"), { hostname: "::1", port: 65535 });
  const bad = [
    ...["server", ":80", "server:", "::1:80", "server:65536", "a b:1", "s:1x"],
    ...["nohostport", ":12345", "server:0", "server:70000"],
  ];
  for (const address of bad) {
    assert.throws(() => splitHostPort(address), {
      name: "RangeError",
      message: `Invalid address: ${
        JSON.stringify(address)
      } (expected host:port with a port 1..65535)`,
    }, address);
  }
});
