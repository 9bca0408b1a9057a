import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 600_000,
    // Circuit, prover and chain tests each saturate a core; running files in parallel on 2 cores only thrashes.
    fileParallelism: false,
    reporters: ["default"],
  },
});
