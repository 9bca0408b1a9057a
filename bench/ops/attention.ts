/**
 * Prover benchmark row of FP8 attention (docs/ops/attention.md).
 *
 *   npx tsx bench/ops/attention.ts [--quick]
 *
 * Runs one honest seed-mode work on ORT (miner/ops/attention.ts) and measures one challenged tile per proof, a
 * different one for each of the three proofs, on the production main (circuits/main/attention_seed_4x16x16.circom)
 * with the power-16 dev ptau (./measure.ts: compile, dev setup, three proofs, medians). `--quick` uses the demo main
 * (attention_seed_demo_1x4x4_causal, power-13 ptau) to smoke-test the script. The row goes to stdout as JSON;
 * progress to stderr.
 */
import {
  attentionProofInput,
  commitAttentionOutputs,
  DEMO_ATTENTION_TILING,
  defineAttentionWork,
  generateAttentionInputs,
  PRODUCTION_ATTENTION_TILING,
} from "../../common/ops/attention.js";
import { runAttentionWork } from "../../miner/ops/attention.js";
import { measureOp, runIfMain } from "./measure.js";
import type { OpBenchRow } from "./row.js";

/** The benchmark row of the attention production circuit (or of the demo circuit with `quick`). */
export async function benchOp(options: { quick?: boolean } = {}): Promise<OpBenchRow> {
  const [name, tiling, power] =
    options.quick === true
      ? (["attention_seed_demo_1x4x4_causal", DEMO_ATTENTION_TILING, 13] as const)
      : (["attention_seed_4x16x16", PRODUCTION_ATTENTION_TILING, 16] as const);
  const work = defineAttentionWork(tiling, { rowBlocksLog2: tiling.maxRowBlocksLog2, colBlocksLog2: 2 });
  const seed = 0x5eed_a77en;
  const outputs = await runAttentionWork(work, await generateAttentionInputs(seed, work));
  const tree = await commitAttentionOutputs(outputs, work);
  return measureOp({
    op: "attention",
    name,
    power,
    outputsPerTile: tiling.queryRows * tiling.headDim,
    // Q·Kᵀ (TQ·L·D) plus P·V (TQ·L·D).
    macsPerTile: 2 * tiling.queryRows * tiling.keys * tiling.headDim,
    proofInput: async (index) => {
      const challenge = BigInt(1000 + index);
      const miner = 0x70997970c51812dc3a010c7d01b50e0d17dc79c8n;
      return (await attentionProofInput({ work, tilesPerProof: 1, outputs, tree, seed, challenge, miner })).input;
    },
  });
}

runIfMain(import.meta.url, benchOp);
