/**
 * Prover benchmark row of the FP8 batch-norm tile circuit (docs/ops/batchnorm.md).
 *
 *   npx tsx bench/ops/batchnorm.ts [--quick]
 *
 * Compiles the production main (circuits/main/batchnorm_seed_2x12x8.circom: 2 challenged 12×8 tiles per proof), runs
 * the development Groth16 setup on the power-16 dev ptau (prover/setup.ts), mines one honest seed-mode work with the
 * ORT FP8 BatchNormalization (miner/ops/batchnorm.ts), and proves its challenged tiles three times with snarkjs'
 * defaults (wtns.calculate + groth16.prove, each proof verified outside the timed part); the row reports the medians.
 * `--quick` does the same on the demo main (circuits/main/batchnorm_seed_demo_1x2x4.circom, 1 tile of 2×4) with the
 * smallest dev ptau that fits it. The row goes to stdout as JSON; progress to stderr.
 *
 * Batch norm has no dot products: macsPerTile is 0 and constraintsPerMac null. Because one production proof covers
 * two challenged tiles, the row's outputsPerTile counts every output one proof proves (2 × 96 = 192), so that
 * constraintsPerOutput is the real cost of one proven output; the leaf of one tile holds 96 words.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as snarkjs from "snarkjs";
import type { MemFile } from "snarkjs";

import { compileCircuit, constraintCounts } from "../../circuits/compile.js";
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
import { setupCircuit } from "../../prover/setup.js";
import { terminateBn128Curve } from "../../prover/snarkjs-runtime.js";
import type { OpBenchRow } from "./row.js";

const PROOFS = 3;

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

function progress(line: string): void {
  process.stderr.write(`[bench batchnorm] ${line}\n`);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

/** The benchmark row of the batch-norm production circuit (or of the demo circuit with `quick`). */
export async function benchOp(options: { quick?: boolean } = {}): Promise<OpBenchRow> {
  const variant = options.quick === true ? QUICK : PRODUCTION;
  const circuit = path.join("circuits", "main", `${variant.name}.circom`);
  progress(`compile ${circuit}`);
  const compiled = await compileCircuit(variant.name, circuit);
  const { nonLinear, linear } = constraintCounts(compiled.log);
  const constraints = nonLinear + linear;
  progress(
    `${constraints} constraints; setup${variant.power === undefined ? "" : ` on the power-${variant.power} dev ptau`}`,
  );
  const setup = await setupCircuit(compiled, {
    verify: false,
    ...(variant.power === undefined ? {} : { power: variant.power }),
    log: (line) => progress(`  setup: ${line}`),
  });

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

  const witnessMs: number[] = [];
  const proveMs: number[] = [];
  try {
    for (let i = 0; i < PROOFS; i++) {
      const wtns: MemFile = { type: "mem" };
      let start = performance.now();
      await snarkjs.wtns.calculate(input, setup.prover.wasmPath, wtns);
      witnessMs.push(performance.now() - start);
      start = performance.now();
      const { proof, publicSignals } = await snarkjs.groth16.prove(setup.prover.zkeyPath, wtns);
      proveMs.push(performance.now() - start);
      if (!(await snarkjs.groth16.verify(setup.vkey, publicSignals, proof))) {
        throw new Error(`proof ${i + 1} of ${variant.name} does not verify`);
      }
      progress(
        `proof ${i + 1}/${PROOFS}: witness ${round(witnessMs[i]!)} ms, prove ${round(proveMs[i]!)} ms, verified`,
      );
    }
  } finally {
    await terminateBn128Curve();
  }

  const outputsPerTile = variant.tilesPerProof * variant.tiling.tileRows * variant.tiling.tileChannels;
  return {
    op: "batchnorm",
    circuit,
    constraints,
    outputsPerTile,
    macsPerTile: 0,
    constraintsPerOutput: round(constraints / outputsPerTile, 2),
    constraintsPerMac: null,
    witnessMs: round(median(witnessMs)),
    proveMs: round(median(proveMs)),
  };
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const quick = process.argv.slice(2).includes("--quick");
  benchOp({ quick })
    .then((row) => console.log(JSON.stringify(row, null, 2)))
    .catch((error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    });
}
