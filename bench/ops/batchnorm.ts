/**
 * Prover benchmark row of the FP8 batch-norm tile circuit (docs/ops/batchnorm.md).
 *
 *   npx tsx bench/ops/batchnorm.ts [--quick]
 *
 * Mines one honest seed-mode work with the ORT FP8 BatchNormalization (miner/ops/batchnorm.ts) and measures its
 * challenged tiles on the production main (circuits/main/batchnorm_seed_2x12x8.circom: 2 challenged 12×8 tiles per
 * proof) with the power-16 dev ptau (./measure.ts: compile, dev setup, three proofs, medians). `--quick` does the same
 * on the demo main (circuits/main/batchnorm_seed_demo_1x2x4.circom, 1 tile of 2×4) with the smallest dev ptau that
 * fits it. The row goes to stdout as JSON; progress to stderr.
 *
 * Batch norm has no dot products: macsPerTile is 0 and constraintsPerMac null. Because one production proof covers
 * two challenged tiles, the row's outputsPerTile counts every output one proof proves (2 × 96 = 192), so that
 * constraintsPerOutput is the real cost of one proven output; the leaf of one tile holds 96 words.
 */
import {
  BATCHNORM_DEMO_TILES_PER_PROOF,
  BATCHNORM_DEMO_TILING,
  BATCHNORM_PRODUCTION_TILES_PER_PROOF,
  BATCHNORM_PRODUCTION_TILING,
  batchNormProofInput,
  commitBatchNormOutputs,
  defineBatchNormWork,
  type BatchNormTiling,
} from "../../common/ops/batchnorm.js";
import { runBatchNormWork } from "../../miner/ops/batchnorm.js";
import { measureOp, runIfMain } from "./measure.js";
import type { OpBenchRow } from "./row.js";

interface Variant {
  readonly name: string;
  readonly tiling: BatchNormTiling;
  readonly tilesPerProof: number;
  /** ptau power for the setup (undefined: the smallest that fits). */
  readonly power: number | undefined;
}

const PRODUCTION: Variant = {
  name: "batchnorm_seed_2x12x8",
  tiling: BATCHNORM_PRODUCTION_TILING,
  tilesPerProof: BATCHNORM_PRODUCTION_TILES_PER_PROOF,
  power: 16,
};
const QUICK: Variant = {
  name: "batchnorm_seed_demo_1x2x4",
  tiling: BATCHNORM_DEMO_TILING,
  tilesPerProof: BATCHNORM_DEMO_TILES_PER_PROOF,
  power: undefined,
};

/** The benchmark row of the batch-norm production circuit (or of the demo circuit with `quick`). */
export async function benchOp(options: { quick?: boolean } = {}): Promise<OpBenchRow> {
  const variant = options.quick === true ? QUICK : PRODUCTION;
  const work = defineBatchNormWork(variant.tiling, { rowBlocksLog2: 2, colBlocksLog2: 2 });
  const seed = 0xbe4c_b47cn;
  const outputs = await runBatchNormWork(seed, work);
  const tree = await commitBatchNormOutputs(outputs, work);
  const { input } = await batchNormProofInput({
    work,
    tilesPerProof: variant.tilesPerProof,
    outputs,
    tree,
    seed,
    challenge: 7n,
    miner: 0xabcn,
  });
  return measureOp({
    op: "batchnorm",
    name: variant.name,
    power: variant.power,
    outputsPerTile: variant.tilesPerProof * variant.tiling.tileRows * variant.tiling.tileChannels,
    macsPerTile: 0,
    proofInput: () => input,
  });
}

runIfMain(import.meta.url, benchOp);
