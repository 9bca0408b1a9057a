/**
 * The input-root ("job") mode circuits (docs/jobs.md): one per job kind. The linear layer Y = X·W is an
 * `Fp8GemmJobProof` main (circuits/gemm_job.circom), conv2d an `Fp8ConvJobProof` main (circuits/conv_job.circom,
 * docs/ops/conv.md "Job mode"), batch normalisation an `Fp8BatchNormJobProof` main (circuits/batchnorm_job.circom,
 * docs/ops/batchnorm.md "Job mode"). A job kind's tile, K and grid come from here (`jobKindParams`).
 */
import type { CompiledCircuit } from "../circuits/compile.js";
import { BATCHNORM_DEMO_TILING, BATCHNORM_PRODUCTION_TILING, type BatchNormTiling } from "../common/ops/batchnorm.js";
import { CONV_PRODUCTION_TILING, type ConvTiling } from "../common/ops/conv.js";
import type { GemmTiling } from "../common/work.js";
import type { CircuitSetup } from "../prover/setup.js";
import type { LogFn } from "../prover/snarkjs-runtime.js";
import { MINING_CIRCUITS, prepareCircuit } from "./circuits.js";

/** What every job circuit has, whatever its op. */
interface JobCircuitBase {
  /** Build name (build/circuits/<name>, build/setup/<name>). */
  readonly name: string;
  /** Committed main file, relative to the repo root. */
  readonly mainFile: string;
  /** NT: tiles one proof checks. */
  readonly tilesPerProof: number;
  /** Proofs a miner submits per job assignment. */
  readonly proofsPerJob: number;
  /**
   * MACs of one output tile (linear: TM·TN·K; conv2d: Wo·TN·K with K = Cin·KH·KW; batchnorm: TM·TN, one work unit per
   * output as in seed mode): the reward basis.
   */
  readonly macsPerTile: number;
}

/** A job circuit: the linear layer (`Fp8GemmJobProof`), conv2d (`Fp8ConvJobProof`) or batch norm (`Fp8BatchNormJobProof`). */
export type JobCircuit =
  | (JobCircuitBase & {
      readonly op: "linear";
      /** Tile TM×TN, K = depth (the whole inner dimension), grid up to 2^maxRowBlocksLog2 × 2^maxColBlocksLog2. */
      readonly tiling: GemmTiling;
    })
  | (JobCircuitBase & {
      readonly op: "conv2d";
      /** One group, stride 1, dilation 1, padding (KH − 1)/2 (common/job-commitment.ts `assertJobConvTiling`). */
      readonly tiling: ConvTiling;
    })
  | (JobCircuitBase & {
      readonly op: "batchnorm";
      /** Tiles of tileRows rows × tileChannels channels (the seed batch norm's tiling; docs/ops/batchnorm.md "Job mode"). */
      readonly tiling: BatchNormTiling;
    });

/** The fields of an on-chain `JobKind` a job circuit fixes besides its verifier, NT, proofs per job and MACs. */
export interface JobKindParams {
  /** Rows of an output tile: TM (linear, batchnorm) or Wo, the pixels of one output row (conv2d). */
  readonly tileRows: number;
  /** Columns of an output tile: TN (output features or channels; batchnorm: tileChannels). */
  readonly tileCols: number;
  /** Dot-product length K: the inner dimension (linear) or Cin·KH·KW (conv2d); 1 for batchnorm (no dot product). */
  readonly depth: number;
  readonly maxRowBlocksLog2: number;
  readonly maxColBlocksLog2: number;
}

/**
 * The on-chain JobKind fields of a job circuit (linear: TM, TN, K; conv2d: Wo, TN, Cin·KH·KW; batchnorm: TM, TN, 1)
 * and its grid.
 */
export function jobKindParams(circuit: JobCircuit): JobKindParams {
  const { maxRowBlocksLog2, maxColBlocksLog2 } = circuit.tiling;
  if (circuit.op === "linear") {
    const { tileRows, tileCols, depth } = circuit.tiling;
    return { tileRows, tileCols, depth, maxRowBlocksLog2, maxColBlocksLog2 };
  }
  if (circuit.op === "batchnorm") {
    const { tileRows, tileChannels } = circuit.tiling;
    return { tileRows, tileCols: tileChannels, depth: 1, maxRowBlocksLog2, maxColBlocksLog2 };
  }
  const t = circuit.tiling;
  return {
    tileRows: t.outWidth,
    tileCols: t.tileChannels,
    depth: (t.inChannels / t.groups) * t.kernelHeight * t.kernelWidth,
    maxRowBlocksLog2,
    maxColBlocksLog2,
  };
}

const JOB_DEMO: GemmTiling = { tileRows: 2, tileCols: 4, depth: 16, maxRowBlocksLog2: 5, maxColBlocksLog2: 2 };
const JOB_PRODUCTION: GemmTiling = { tileRows: 8, tileCols: 8, depth: 64, maxRowBlocksLog2: 10, maxColBlocksLog2: 10 };
const macsPerTile = (t: GemmTiling) => t.tileRows * t.tileCols * t.depth;

/** The tiling of circuits/main/conv_job_c8_k3_h8w8_tn8.circom: the seed conv's production tiling (a job tiling). */
const CONV_JOB_PRODUCTION: ConvTiling = CONV_PRODUCTION_TILING;
/** The tiling of circuits/main/conv_job_demo_c4_k3_h8w8_tn2.circom. */
const CONV_JOB_DEMO: ConvTiling = {
  ...CONV_PRODUCTION_TILING,
  inChannels: 4,
  tileChannels: 2,
  maxRowBlocksLog2: 4,
  maxColBlocksLog2: 2,
};
const convMacsPerTile = (t: ConvTiling) =>
  t.outWidth * t.tileChannels * (t.inChannels / t.groups) * t.kernelHeight * t.kernelWidth;

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
  /** conv2d 3×3, Cin 4, 8×8 images, tiles of 8 pixels × 2 channels (K = 36), up to 2 images × 8 channels; power 14. */
  "conv-job-demo": {
    op: "conv2d",
    name: "conv_job_demo_c4_k3_h8w8_tn2",
    mainFile: "circuits/main/conv_job_demo_c4_k3_h8w8_tn2.circom",
    tiling: CONV_JOB_DEMO,
    tilesPerProof: 1,
    proofsPerJob: 4,
    macsPerTile: convMacsPerTile(CONV_JOB_DEMO),
  },
  /** conv2d 3×3, Cin 8, 8×8 images, tiles of 8 pixels × 8 channels (K = 72), up to 128 images × 512 channels; power 16. */
  "conv-job": {
    op: "conv2d",
    name: "conv_job_c8_k3_h8w8_tn8",
    mainFile: "circuits/main/conv_job_c8_k3_h8w8_tn8.circom",
    tiling: CONV_JOB_PRODUCTION,
    tilesPerProof: 1,
    proofsPerJob: 4,
    macsPerTile: convMacsPerTile(CONV_JOB_PRODUCTION),
  },
  /** Batch norm, tiles of 2 rows × 4 channels (the seed demo's), up to 16 rows × 32 channels; power-13 dev ptau. */
  "batchnorm-job-demo": {
    op: "batchnorm",
    name: "batchnorm_job_demo_1x2x4",
    mainFile: "circuits/main/batchnorm_job_demo_1x2x4.circom",
    tiling: BATCHNORM_DEMO_TILING,
    tilesPerProof: 1,
    proofsPerJob: 4,
    // One work unit per output, as the seed batch norm of the same tiling.
    macsPerTile: MINING_CIRCUITS["batchnorm-demo"].macsPerTile,
  },
  /** Batch norm, tiles of 12 rows × 8 channels (the seed production's), up to 12,288 rows × 8,192 channels; power 16. */
  "batchnorm-job": {
    op: "batchnorm",
    name: "batchnorm_job_1x12x8",
    mainFile: "circuits/main/batchnorm_job_1x12x8.circom",
    tiling: BATCHNORM_PRODUCTION_TILING,
    tilesPerProof: 1,
    proofsPerJob: 4,
    macsPerTile: MINING_CIRCUITS.batchnorm.macsPerTile,
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
  demo: ["gemm-job-demo", "conv-job-demo", "batchnorm-job-demo"],
  "gemm-demo": ["gemm-job-demo", "conv-job-demo", "batchnorm-job-demo"],
  production: ["gemm-job", "conv-job", "batchnorm-job"],
};

/** What an on-chain job kind says of its circuit (IDemleJobMarket.JobKind without the verifier). */
export interface JobKindLike {
  readonly tiling: JobKindParams;
  readonly proofsPerJob: number;
  /** Compared when given. */
  readonly tilesPerProof?: number;
  /** Compared when given. */
  readonly macsPerTile?: bigint | number;
}

/**
 * The job circuit an on-chain job kind repeats: its `jobKindParams` and proofsPerJob (and tilesPerProof and
 * macsPerTile when the kind gives them) are the circuit's. Job circuits differ in those (test/conv-job.test.ts), so
 * there is at most one.
 */
export function circuitOfKind(kind: JobKindLike): JobCircuit | undefined {
  return Object.values(JOB_CIRCUITS).find((circuit: JobCircuit) => {
    const params = jobKindParams(circuit);
    return (
      kind.proofsPerJob === circuit.proofsPerJob &&
      (Object.keys(params) as (keyof JobKindParams)[]).every((key) => kind.tiling[key] === params[key]) &&
      (kind.tilesPerProof === undefined || kind.tilesPerProof === circuit.tilesPerProof) &&
      (kind.macsPerTile === undefined || BigInt(kind.macsPerTile) === BigInt(circuit.macsPerTile))
    );
  });
}

/** The job circuits of a deployment's job kinds, in `JOB_CIRCUITS` order. */
export function jobCircuitsFor(kinds: readonly JobKindLike[]): JobCircuit[] {
  const used = new Set(kinds.map(circuitOfKind));
  return Object.values(JOB_CIRCUITS).filter((circuit: JobCircuit) => used.has(circuit));
}
