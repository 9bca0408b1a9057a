/**
 * Prover benchmark row of the FP8 conv2d tile circuit (docs/ops/conv.md).
 *
 *   npx tsx bench/ops/conv.ts [--quick]
 *
 * Builds one honest seed-mode work with the ORT FP8 Conv (miner/ops/conv.ts) and measures its first challenged tile on
 * the production main (circuits/main/conv_seed_c8_k3_h8w8_tn8.circom) with the power-16 dev ptau (./measure.ts:
 * compile, dev setup, three proofs, medians). `--quick` does the same on the demo main
 * (circuits/main/conv_seed_demo_c2g2_k3s2_h4w4_tn2.circom) with the smallest dev ptau that fits it. The row goes to
 * stdout as JSON; progress to stderr.
 */
import {
  CONV_DEMO_TILING,
  CONV_PRODUCTION_TILING,
  commitConvOutputs,
  convProofInput,
  defineConvWork,
  type ConvTiling,
} from "../../common/ops/conv.js";
import { runConvWork } from "../../miner/ops/conv.js";
import { measureOp, runIfMain } from "./measure.js";
import type { OpBenchRow } from "./row.js";

interface Variant {
  readonly name: string;
  readonly tiling: ConvTiling;
  /** ptau power for the setup (undefined: the smallest that fits). */
  readonly power: number | undefined;
}

const PRODUCTION: Variant = { name: "conv_seed_c8_k3_h8w8_tn8", tiling: CONV_PRODUCTION_TILING, power: 16 };
const QUICK: Variant = { name: "conv_seed_demo_c2g2_k3s2_h4w4_tn2", tiling: CONV_DEMO_TILING, power: undefined };

/** The benchmark row of the conv production circuit (or of the demo circuit with `quick`). */
export async function benchOp(options: { quick?: boolean } = {}): Promise<OpBenchRow> {
  const variant = options.quick === true ? QUICK : PRODUCTION;
  const t = variant.tiling;
  // One image (dr = log2 Ho) and, with groups, one column block per group.
  const work = defineConvWork(t, { rowBlocksLog2: t.outHeightLog2, colBlocksLog2: Math.log2(t.groups) });
  const seed = 0xbe4c_c0e5n;
  const outputs = await runConvWork(seed, work);
  const tree = await commitConvOutputs(outputs, work);
  const { input } = await convProofInput({ work, tilesPerProof: 1, outputs, tree, seed, challenge: 7n, miner: 0xabcn });
  const outputsPerTile = t.outWidth * t.tileChannels;
  return measureOp({
    op: "conv",
    name: variant.name,
    power: variant.power,
    outputsPerTile,
    macsPerTile: outputsPerTile * (t.inChannels / t.groups) * t.kernelHeight * t.kernelWidth,
    proofInput: () => input,
  });
}

runIfMain(import.meta.url, benchOp);
