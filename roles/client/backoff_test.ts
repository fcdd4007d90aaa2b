import assert from "node:assert/strict";
import { equalJitterBackoff } from "./backoff.ts";

Deno.test("equalJitterBackoff() pauses half the step plus up to the other half, doubling to the cap", () => {
  const backoff = equalJitterBackoff({ firstMs: 50, maxMs: 2000 });
  const steps = [50, 100, 200, 400, 800, 1600, 2000, 2000];
  for (let i = 0; i < 200; i++) {
    steps.forEach((step, index) => {
      const pause = backoff(index + 1);
      assert.ok(pause >= step / 2 && pause <= step, `retry ${index + 1}: ${pause} ms`);
    });
  }
  assert.ok(backoff(10_000) <= 2000, "no overflow past the cap");
});
