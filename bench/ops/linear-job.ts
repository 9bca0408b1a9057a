/**
 * Prover benchmark row of the input-root ("job") linear layer Y = X·W (docs/jobs.md).
 *
 *   npx tsx bench/ops/linear-job.ts [--quick]
 *
 * Builds one small random job (finite E4M3FN X and W from a fixed PRNG seed, outputs from the exact reference
 * rounded once to float32), commits its output, input and weight trees (common/job-commitment.ts) and measures one
 * challenged tile per proof, a different challenge for each of the three proofs, on the production job main
 * (circuits/main/gemm_job_8x8x64.circom) with the power-16 dev ptau (./measure.ts: compile, dev setup, three proofs,
 * medians). `--quick` uses the demo job main (gemm_job_demo_2x4x16) with the smallest dev ptau that fits it. The row
 * goes to stdout as JSON; progress to stderr.
 *
 * Unlike the seed-mode rows, the inputs are not generated in the circuit: each proof also opens the tile's row block
 * of X and column block of W under the input and weight roots (byte-leaf hashes and two Merkle paths).
 */
import { randomFiniteCodes } from "../../common/fp8.js";
import { gemmJobProofInput, inputTree, weightTree } from "../../common/job-commitment.js";
import { Prng } from "../../common/prng.js";
import { commitOutputs, defineWork, type WorkShape } from "../../common/work.js";
import { JOB_CIRCUITS, type JobCircuit } from "../../miner/job-circuits.js";
import { honestOutputs } from "../../test/helpers/reference.js";
import { measureOp, runIfMain } from "./measure.js";
import type { OpBenchRow } from "./row.js";

interface Variant {
  /** A job circuit of the linear layer. */
  readonly circuit: Extract<JobCircuit, { readonly op: "linear" }>;
  /** The job: 2^dr × 2^dc tiles. */
  readonly shape: WorkShape;
  /** ptau power for the setup (undefined: the smallest that fits). */
  readonly power: number | undefined;
}

/** X 32×64, W 64×32 (4 × 4 tiles of 8×8×64). */
const PRODUCTION: Variant = {
  circuit: JOB_CIRCUITS["gemm-job"],
  shape: { rowBlocksLog2: 2, colBlocksLog2: 2 },
  power: 16,
};
/** X 8×16, W 16×8 (4 × 2 tiles of 2×4×16). */
const QUICK: Variant = {
  circuit: JOB_CIRCUITS["gemm-job-demo"],
  shape: { rowBlocksLog2: 2, colBlocksLog2: 1 },
  power: undefined,
};

/** The benchmark row of the production job circuit (or of the demo job circuit with `quick`). */
export async function benchOp(options: { quick?: boolean } = {}): Promise<OpBenchRow> {
  const { circuit, shape, power } = options.quick === true ? QUICK : PRODUCTION;
  const { tiling, tilesPerProof } = circuit;
  const work = defineWork(tiling, shape);
  const prng = new Prng(0x10b5);
  const x = randomFiniteCodes(prng, work.m * work.k, "e4m3fn");
  const w = randomFiniteCodes(prng, work.k * work.n, "e4m3fn");
  const c = honestOutputs(x, w, work.m, work.n, work.k);
  const [outputTree, inputs, weights] = await Promise.all([
    commitOutputs(c, work),
    inputTree(x, tiling, shape),
    weightTree(w, tiling, shape),
  ]);
  return measureOp({
    op: "linear (job, input-root)",
    name: circuit.name,
    power,
    outputsPerTile: tilesPerProof * tiling.tileRows * tiling.tileCols,
    macsPerTile: tilesPerProof * circuit.macsPerTile,
    proofInput: async (index) => {
      const miner = 0x70997970c51812dc3a010c7d01b50e0d17dc79c8n;
      const params = { tiling, shape, tilesPerProof, x, w, c, outputTree, inputs, weights, miner };
      return (await gemmJobProofInput({ ...params, challenge: BigInt(1000 + index) })).input;
    },
  });
}

runIfMain(import.meta.url, benchOp);
