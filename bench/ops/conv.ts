/**
 * Prover benchmark row of the FP8 conv2d tile circuit (docs/ops/conv.md).
 *
 *   npx tsx bench/ops/conv.ts [--quick]
 *
 * Compiles the production main (circuits/main/conv_seed_c8_k3_h8w8_tn8.circom), runs the development Groth16 setup on
 * the power-16 dev ptau (prover/setup.ts; copied from the shared cache or built once), builds one honest seed-mode
 * work with the ORT FP8 Conv (miner/ops/conv.ts), and proves its first challenged tile three times with snarkjs'
 * defaults (wtns.calculate + groth16.prove, each proof verified outside the timed part); the row reports the medians.
 * `--quick` does the same on the demo main (circuits/main/conv_seed_demo_c2g2_k3s2_h4w4_tn2.circom) with the smallest
 * dev ptau that fits it. The row goes to stdout as JSON; progress to stderr.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as snarkjs from "snarkjs";
import type { MemFile } from "snarkjs";

import { compileCircuit, constraintCounts } from "../../circuits/compile.js";
import {
  CONV_DEMO_TILING,
  CONV_PRODUCTION_TILING,
  commitConvOutputs,
  convProofInput,
  defineConvWork,
  type ConvTiling,
} from "../../common/ops/conv.js";
import { runConvWork } from "../../miner/ops/conv.js";
import { setupCircuit } from "../../prover/setup.js";
import { terminateBn128Curve } from "../../prover/snarkjs-runtime.js";
import type { OpBenchRow } from "./row.js";

const PROOFS = 3;

interface Variant {
  readonly name: string;
  readonly tiling: ConvTiling;
  /** ptau power for the setup (undefined: the smallest that fits). */
  readonly power: number | undefined;
}

const PRODUCTION: Variant = { name: "conv_seed_c8_k3_h8w8_tn8", tiling: CONV_PRODUCTION_TILING, power: 16 };
const QUICK: Variant = { name: "conv_seed_demo_c2g2_k3s2_h4w4_tn2", tiling: CONV_DEMO_TILING, power: undefined };

function progress(line: string): void {
  process.stderr.write(`[bench conv] ${line}\n`);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

/** The benchmark row of the conv production circuit (or of the demo circuit with `quick`). */
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

  const t = variant.tiling;
  // One image (dr = log2 Ho) and, with groups, one column block per group.
  const work = defineConvWork(t, { rowBlocksLog2: t.outHeightLog2, colBlocksLog2: Math.log2(t.groups) });
  const seed = 0xbe4c_c0e5n;
  const outputs = await runConvWork(seed, work);
  const tree = await commitConvOutputs(outputs, work);
  const { input } = await convProofInput({ work, tilesPerProof: 1, outputs, tree, seed, challenge: 7n, miner: 0xabcn });

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

  const outputsPerTile = t.outWidth * t.tileChannels;
  const macsPerTile = outputsPerTile * (t.inChannels / t.groups) * t.kernelHeight * t.kernelWidth;
  return {
    op: "conv",
    circuit,
    constraints,
    outputsPerTile,
    macsPerTile,
    constraintsPerOutput: round(constraints / outputsPerTile, 2),
    constraintsPerMac: round(constraints / macsPerTile, 2),
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
