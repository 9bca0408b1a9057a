/**
 * The circuits a DEMLE deployment can verify, with the tiling constants their verifier checks. The mining contract's
 * Params must repeat them (a mismatch makes every proof fail), so deployments take them from here.
 */
import path from "node:path";
import { compileCircuit, REPO_ROOT, type CompiledCircuit } from "../circuits/compile.js";
import type { GemmTiling } from "../common/work.js";
import { committedSetup } from "../audit/committed.js";
import { setupCircuit, type CircuitSetup } from "../prover/setup.js";
import type { LogFn } from "../prover/snarkjs-runtime.js";

export interface MiningCircuit {
  /** Build name (build/circuits/<name>, build/setup/<name>). */
  readonly name: string;
  /** Committed main file, relative to the repo root. */
  readonly mainFile: string;
  readonly tiling: GemmTiling;
  /** NT: tiles one proof checks. */
  readonly tilesPerProof: number;
}

export const MINING_CIRCUITS = {
  /** Fits the committed power-13 dev ptau: what `npm run demo` and the tests use. */
  demo: {
    name: "gemm_seed_demo_2x2x16",
    mainFile: "circuits/main/gemm_seed_demo_2x2x16.circom",
    tiling: { tileRows: 2, tileCols: 2, depth: 16, maxRowBlocksLog2: 3, maxColBlocksLog2: 3 },
    tilesPerProof: 1,
  },
  /** The production tile: 51,666 constraints, needs a power-16 ptau. */
  production: {
    name: "gemm_seed_8x8x64",
    mainFile: "circuits/main/gemm_seed_8x8x64.circom",
    tiling: { tileRows: 8, tileCols: 8, depth: 64, maxRowBlocksLog2: 10, maxColBlocksLog2: 10 },
    tilesPerProof: 1,
  },
} as const satisfies Record<string, MiningCircuit>;

export type MiningCircuitName = keyof typeof MINING_CIRCUITS;

export function miningCircuit(name: string): MiningCircuit {
  if (!Object.hasOwn(MINING_CIRCUITS, name)) {
    throw new Error(`unknown circuit "${name}"; expected one of: ${Object.keys(MINING_CIRCUITS).join(", ")}`);
  }
  return MINING_CIRCUITS[name as MiningCircuitName];
}

export interface PreparedCircuit {
  readonly circuit: MiningCircuit;
  readonly compiled: CompiledCircuit;
  readonly setup: CircuitSetup;
}

/**
 * Compiles the circuit and gets its zkey, verification key and Solidity verifier: the committed ceremony's when the
 * circuit's audit manifest pins one that matches the compiled r1cs (audit/committed.ts), else the (cached)
 * development setup.
 */
export async function prepareCircuit(circuit: MiningCircuit, log?: LogFn): Promise<PreparedCircuit> {
  const compiled = await compileCircuit(circuit.name, path.join(REPO_ROOT, circuit.mainFile));
  const setup = (await committedSetup(compiled, log)) ?? (await setupCircuit(compiled, log ? { log } : {}));
  return { circuit, compiled, setup };
}
