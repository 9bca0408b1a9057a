/**
 * The measuring part of the per-op prover benchmarks (bench/ops/<op>.ts): compiles an op's main circuit, runs the
 * development Groth16 setup (prover/setup.ts; the dev ptau is copied from the shared cache or built once), and proves
 * honest inputs {@link PROOFS} times with snarkjs' defaults (wtns.calculate + groth16.prove, each proof verified
 * outside the timed part); the row reports the medians. Progress goes to stderr.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as snarkjs from "snarkjs";
import type { MemFile } from "snarkjs";

import { compileCircuit, constraintCounts } from "../../circuits/compile.js";
import type { CircuitInput } from "../../common/work.js";
import { setupCircuit } from "../../prover/setup.js";
import { terminateBn128Curve } from "../../prover/snarkjs-runtime.js";
import type { OpBenchRow } from "./row.js";

/** Proofs per row; the row reports their medians. */
const PROOFS = 3;

/** What one op's benchmark measures. */
export interface OpMeasurement {
  /** Op name: the row's `op` and the progress prefix. */
  readonly op: string;
  /** The main circuit circuits/main/<name>.circom. */
  readonly name: string;
  /** ptau power for the setup (undefined: the smallest that fits). */
  readonly power: number | undefined;
  /** Outputs one proof proves, and the FP8 multiply-accumulates behind them (0 for ops without dot products). */
  readonly outputsPerTile: number;
  readonly macsPerTile: number;
  /** The honest witness input of proof `index` (0 … PROOFS − 1), built outside the timed part. */
  readonly proofInput: (index: number) => CircuitInput | Promise<CircuitInput>;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

/** Compiles, sets up and proves the op's main circuit (module comment) and returns its benchmark row. */
export async function measureOp(measurement: OpMeasurement): Promise<OpBenchRow> {
  const { op, name, power } = measurement;
  const progress = (line: string) => process.stderr.write(`[bench ${op}] ${line}\n`);
  const circuit = path.join("circuits", "main", `${name}.circom`);
  progress(`compile ${circuit}`);
  const compiled = await compileCircuit(name, circuit);
  const { nonLinear, linear } = constraintCounts(compiled.log);
  const constraints = nonLinear + linear;
  progress(`${constraints} constraints; setup${power === undefined ? "" : ` on the power-${power} dev ptau`}`);
  const setup = await setupCircuit(compiled, {
    verify: false,
    ...(power === undefined ? {} : { power }),
    log: (line) => progress(`  setup: ${line}`),
  });

  const witnessMs: number[] = [];
  const proveMs: number[] = [];
  try {
    for (let i = 0; i < PROOFS; i++) {
      const input = await measurement.proofInput(i);
      const wtns: MemFile = { type: "mem" };
      let start = performance.now();
      await snarkjs.wtns.calculate(input, setup.prover.wasmPath, wtns);
      witnessMs.push(performance.now() - start);
      start = performance.now();
      const { proof, publicSignals } = await snarkjs.groth16.prove(setup.prover.zkeyPath, wtns);
      proveMs.push(performance.now() - start);
      if (!(await snarkjs.groth16.verify(setup.vkey, publicSignals, proof))) {
        throw new Error(`proof ${i + 1} of ${name} does not verify`);
      }
      progress(
        `proof ${i + 1}/${PROOFS}: witness ${round(witnessMs[i]!)} ms, prove ${round(proveMs[i]!)} ms, verified`,
      );
    }
  } finally {
    await terminateBn128Curve();
  }

  const { outputsPerTile, macsPerTile } = measurement;
  return {
    op,
    circuit,
    constraints,
    outputsPerTile,
    macsPerTile,
    constraintsPerOutput: round(constraints / outputsPerTile, 2),
    constraintsPerMac: macsPerTile === 0 ? null : round(constraints / macsPerTile, 2),
    witnessMs: round(median(witnessMs)),
    proveMs: round(median(proveMs)),
  };
}

/**
 * Runs `benchOp` when the module at `moduleUrl` is the script node started (`npx tsx bench/ops/<op>.ts [--quick]`):
 * the row goes to stdout as JSON; an error exits with code 1.
 */
export function runIfMain(moduleUrl: string, benchOp: (options: { quick?: boolean }) => Promise<OpBenchRow>): void {
  if (process.argv[1] === undefined || path.resolve(process.argv[1]) !== fileURLToPath(moduleUrl)) return;
  benchOp({ quick: process.argv.slice(2).includes("--quick") })
    .then((row) => console.log(JSON.stringify(row, null, 2)))
    .catch((error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    });
}
