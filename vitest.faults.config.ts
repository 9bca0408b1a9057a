// Fault and attack tests (issue #8): `npm run test:faults`. Not part of `npm test` (vitest.config.ts only includes
// test/**/*.test.ts). Sizes come from environment variables (FAULTS_RUNS, FAULTS_STEPS, FAULTS_CIRCUIT_EDITS, …);
// each file records its figures under build/faults/.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/faults/**/*.faults.ts"],
    testTimeout: 3_600_000,
    hookTimeout: 1_800_000,
    // Chain, prover and circuit campaigns each saturate a core; files run one after the other.
    fileParallelism: false,
    reporters: ["default"],
  },
});
