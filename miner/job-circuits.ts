/**
 * The input-root ("job") mode circuits (docs/jobs.md): one per job kind, each an `Fp8GemmJobProof` main
 * (circuits/gemm_job.circom) for the linear layer Y = X·W. A job kind's tile, K and grid come from here.
 */
import type { CompiledCircuit } from "../circuits/compile.js";
import type { GemmTiling } from "../common/work.js";
import type { CircuitSetup } from "../prover/setup.js";
import type { LogFn } from "../prover/snarkjs-runtime.js";
import { prepareCircuit } from "./circuits.js";

export interface JobCircuit {
  /** The one op input-root mode supports. */
  readonly op: "linear";
  /** Build name (build/circuits/<name>, build/setup/<name>). */
  readonly name: string;
  /** Committed main file, relative to the repo root. */
  readonly mainFile: string;
  /** Tile TM×TN, K = depth (the whole inner dimension), grid up to 2^maxRowBlocksLog2 × 2^maxColBlocksLog2. */
  readonly tiling: GemmTiling;
  /** NT: tiles one proof checks. */
  readonly tilesPerProof: number;
  /** Proofs a miner submits per job assignment. */
  readonly proofsPerJob: number;
  /** MACs of one output tile (TM·TN·K): the reward basis. */
  readonly macsPerTile: number;
}

const JOB_DEMO: GemmTiling = { tileRows: 2, tileCols: 4, depth: 16, maxRowBlocksLog2: 5, maxColBlocksLog2: 2 };
const JOB_PRODUCTION: GemmTiling = { tileRows: 8, tileCols: 8, depth: 64, maxRowBlocksLog2: 10, maxColBlocksLog2: 10 };
const macsPerTile = (t: GemmTiling) => t.tileRows * t.tileCols * t.depth;

export const JOB_CIRCUITS = {
  /** 2×4 tiles, K = 16, X up to 64×16, W up to 16×16; fits the committed power-13 dev ptau. */
  "gemm-job-demo": {
    op: "linear",
    name: "gemm_job_demo_2x4x16",
    mainFile: "circuits/main/gemm_job_demo_2x4x16.circom",
    tiling: JOB_DEMO,
    tilesPerProof: 1,
    proofsPerJob: 4,
    macsPerTile: macsPerTile(JOB_DEMO),
  },
  /** 8×8 tiles, K = 64, X up to 8192×64, W up to 64×8192; needs a power-16 ptau. */
  "gemm-job": {
    op: "linear",
    name: "gemm_job_8x8x64",
    mainFile: "circuits/main/gemm_job_8x8x64.circom",
    tiling: JOB_PRODUCTION,
    tilesPerProof: 1,
    proofsPerJob: 4,
    macsPerTile: macsPerTile(JOB_PRODUCTION),
  },
} as const satisfies Record<string, JobCircuit>;

export type JobCircuitName = keyof typeof JOB_CIRCUITS;

export function jobCircuit(name: string): JobCircuit {
  if (!Object.hasOwn(JOB_CIRCUITS, name)) {
    throw new Error(`unknown job circuit "${name}"; expected one of: ${Object.keys(JOB_CIRCUITS).join(", ")}`);
  }
  return JOB_CIRCUITS[name as JobCircuitName];
}

/**
 * Compiles a job circuit and gets its zkey, verification key and Solidity verifier: the committed ceremony's when its
 * audit manifest pins one matching the compiled r1cs, else the (cached) development setup (miner/circuits.ts
 * `prepareCircuit`).
 */
export function prepareJobCircuit(
  circuit: JobCircuit,
  log?: LogFn,
): Promise<{ circuit: JobCircuit; compiled: CompiledCircuit; setup: CircuitSetup }> {
  return prepareCircuit(circuit, log);
}

/** The job kinds a deployment of each workload offers (`demle deploy`, the demo): demo sizes with demo workloads. */
export const WORKLOAD_JOB_CIRCUITS: Readonly<Record<string, readonly JobCircuitName[]>> = {
  demo: ["gemm-job-demo"],
  "gemm-demo": ["gemm-job-demo"],
  production: ["gemm-job"],
};

/** The job circuits whose parameters are those of on-chain job kinds (in `JOB_CIRCUITS` order). */
export function jobCircuitsFor(kinds: readonly { readonly tiling: GemmTiling; readonly proofsPerJob: number }[]) {
  return Object.values(JOB_CIRCUITS).filter((circuit) =>
    kinds.some(
      (kind) =>
        kind.proofsPerJob === circuit.proofsPerJob &&
        (Object.keys(circuit.tiling) as (keyof GemmTiling)[]).every((key) => kind.tiling[key] === circuit.tiling[key]),
    ),
  );
}
