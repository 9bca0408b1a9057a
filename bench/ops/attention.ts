/**
 * Prover benchmark row of FP8 attention: compiles the production main (circuits/main/attention_seed_4x16x16.circom),
 * runs a dev Groth16 setup on the power-16 ptau and proves one honest tile (ORT outputs of a seed-mode work) three
 * times; the row reports the medians.
 *
 *   npx tsx bench/ops/attention.ts [--quick]
 *
 * --quick uses the demo main (attention_seed_demo_1x4x4_causal, power-13 ptau) to smoke-test the script.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as snarkjs from "snarkjs";
import type { MemFile } from "snarkjs";
import { compileCircuit } from "../../circuits/compile.js";
import {
  attentionProofInput,
  commitAttentionOutputs,
  DEMO_ATTENTION_TILING,
  defineAttentionWork,
  generateAttentionInputs,
  PRODUCTION_ATTENTION_TILING,
  type AttentionTiling,
} from "../../common/ops/attention.js";
import { runAttentionWork } from "../../miner/ops/attention.js";
import { readR1csHeader, setupCircuit } from "../../prover/setup.js";
import { terminateBn128Curve } from "../../prover/snarkjs-runtime.js";
import type { OpBenchRow } from "./row.js";

const PROOFS = 3;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** MACs behind one tile: Q·Kᵀ (TQ·L·D) plus P·V (TQ·L·D). */
function macsPerTile(tiling: AttentionTiling): number {
  return 2 * tiling.queryRows * tiling.keys * tiling.headDim;
}

export async function benchOp(options: { quick?: boolean } = {}): Promise<OpBenchRow> {
  const quick = options.quick ?? false;
  const [name, tiling, power] = quick
    ? (["attention_seed_demo_1x4x4_causal", DEMO_ATTENTION_TILING, 13] as const)
    : (["attention_seed_4x16x16", PRODUCTION_ATTENTION_TILING, 16] as const);
  const circuit = `circuits/main/${name}.circom`;
  const compiled = await compileCircuit(name, circuit);
  const setup = await setupCircuit(compiled, { power, verify: false });
  const header = await readR1csHeader(compiled.r1csPath);

  const work = defineAttentionWork(tiling, { rowBlocksLog2: tiling.maxRowBlocksLog2, colBlocksLog2: 2 });
  const seed = 0x5eed_a77en;
  const inputs = await generateAttentionInputs(seed, work);
  const outputs = await runAttentionWork(work, inputs);
  const tree = await commitAttentionOutputs(outputs, work);
  const witnessMs: number[] = [];
  const proveMs: number[] = [];
  for (let i = 0; i < PROOFS; i++) {
    const { input } = await attentionProofInput({
      work,
      tilesPerProof: 1,
      outputs,
      tree,
      seed,
      challenge: BigInt(1000 + i),
      miner: 0x70997970c51812dc3a010c7d01b50e0d17dc79c8n,
    });
    const wtns: MemFile = { type: "mem" };
    let t = performance.now();
    await snarkjs.wtns.calculate(input, compiled.wasmPath, wtns);
    witnessMs.push(performance.now() - t);
    t = performance.now();
    const { proof, publicSignals } = await snarkjs.groth16.prove(setup.zkeyPath, wtns);
    proveMs.push(performance.now() - t);
    if (!(await snarkjs.groth16.verify(setup.vkey, publicSignals, proof))) {
      throw new Error(`${name}: proof ${i} does not verify`);
    }
  }
  const constraints = header.nConstraints;
  const outputsPerTile = tiling.queryRows * tiling.headDim;
  const macs = macsPerTile(tiling);
  return {
    op: "attention",
    circuit,
    constraints,
    outputsPerTile,
    macsPerTile: macs,
    constraintsPerOutput: constraints / outputsPerTile,
    constraintsPerMac: constraints / macs,
    witnessMs: median(witnessMs),
    proveMs: median(proveMs),
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  benchOp({ quick: process.argv.includes("--quick") })
    .then((row) => console.log(JSON.stringify(row, null, 2)))
    .catch((error: unknown) => {
      console.error(error instanceof Error ? error.message : String(error));
      process.exitCode = 1;
    })
    .finally(() => terminateBn128Curve());
}
