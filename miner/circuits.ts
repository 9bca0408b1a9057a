/**
 * The tile circuits a DEMLE deployment can verify, one per op and size, and the workloads built from them. A
 * deployment's layers (DemleMining's `Layer`s) repeat each circuit's grid, tiles per proof and work per tile, so
 * deployments take them from here.
 */
import path from "node:path";
import { compileCircuit, REPO_ROOT, type CompiledCircuit } from "../circuits/compile.js";
import type { GemmTiling, TileGrid, WorkShape } from "../common/work.js";
import { CONV_DEMO_TILING, CONV_PRODUCTION_TILING, type ConvTiling } from "../common/ops/conv.js";
import {
  BATCHNORM_DEMO_TILES_PER_PROOF,
  BATCHNORM_DEMO_TILING,
  BATCHNORM_PRODUCTION_TILES_PER_PROOF,
  BATCHNORM_PRODUCTION_TILING,
  type BatchNormTiling,
} from "../common/ops/batchnorm.js";
import { DEMO_ATTENTION_TILING, PRODUCTION_ATTENTION_TILING, type AttentionTiling } from "../common/ops/attention.js";
import { committedSetup } from "../audit/committed.js";
import { setupCircuit, type CircuitSetup } from "../prover/setup.js";
import type { LogFn } from "../prover/snarkjs-runtime.js";

/** The ops DEMLE mines; each has a seed-mode tile circuit (circuits/<op>_seed.circom). */
export type OpKind = MiningCircuit["op"];

interface CircuitBase {
  /** Build name (build/circuits/<name>, build/setup/<name>). */
  readonly name: string;
  /** Committed main file, relative to the repo root. */
  readonly mainFile: string;
  /** NT: tiles one proof checks. */
  readonly tilesPerProof: number;
  /** Work units (MACs) of one output tile: the reward basis (IDemleMining.Layer.macsPerTile). */
  readonly macsPerTile: number;
}

export type MiningCircuit =
  | (CircuitBase & { readonly op: "gemm"; readonly tiling: GemmTiling })
  | (CircuitBase & { readonly op: "conv2d"; readonly tiling: ConvTiling })
  | (CircuitBase & { readonly op: "batchnorm"; readonly tiling: BatchNormTiling })
  | (CircuitBase & { readonly op: "attention"; readonly tiling: AttentionTiling });

const gemmMacsPerTile = (t: GemmTiling) => t.tileRows * t.tileCols * t.depth;
/** A conv tile is one output row (Wo pixels) × TN channels, each a dot product of K = (Cin / G)·kh·kw. */
const convMacsPerTile = (t: ConvTiling) =>
  t.outWidth * t.tileChannels * (t.inChannels / t.groups) * t.kernelHeight * t.kernelWidth;

/** Batch normalisation: one work unit per output (a multiply-add per element). */
const batchNormMacsPerTile = (t: BatchNormTiling) => t.tileRows * t.tileChannels;
/** Attention: TQ·L·D MACs for Q·Kᵀ and as many for P·V. */
const attentionMacsPerTile = (t: AttentionTiling) => 2 * t.queryRows * t.keys * t.headDim;

const GEMM_DEMO: GemmTiling = { tileRows: 2, tileCols: 2, depth: 16, maxRowBlocksLog2: 3, maxColBlocksLog2: 3 };
const GEMM_PRODUCTION: GemmTiling = { tileRows: 8, tileCols: 8, depth: 64, maxRowBlocksLog2: 10, maxColBlocksLog2: 10 };

export const MINING_CIRCUITS = {
  /** GEMM, 2×2×16 tiles; fits the committed power-13 dev ptau and has a committed demo ceremony. */
  demo: {
    op: "gemm",
    name: "gemm_seed_demo_2x2x16",
    mainFile: "circuits/main/gemm_seed_demo_2x2x16.circom",
    tiling: GEMM_DEMO,
    tilesPerProof: 1,
    macsPerTile: gemmMacsPerTile(GEMM_DEMO),
  },
  /** The production GEMM tile: 8×8×64, 51,666 constraints, needs a power-16 ptau. */
  production: {
    op: "gemm",
    name: "gemm_seed_8x8x64",
    mainFile: "circuits/main/gemm_seed_8x8x64.circom",
    tiling: GEMM_PRODUCTION,
    tilesPerProof: 1,
    macsPerTile: gemmMacsPerTile(GEMM_PRODUCTION),
  },
  "conv2d-demo": {
    op: "conv2d",
    name: "conv_seed_demo_c2g2_k3s2_h4w4_tn2",
    mainFile: "circuits/main/conv_seed_demo_c2g2_k3s2_h4w4_tn2.circom",
    tiling: CONV_DEMO_TILING,
    tilesPerProof: 1,
    macsPerTile: convMacsPerTile(CONV_DEMO_TILING),
  },
  conv2d: {
    op: "conv2d",
    name: "conv_seed_c8_k3_h8w8_tn8",
    mainFile: "circuits/main/conv_seed_c8_k3_h8w8_tn8.circom",
    tiling: CONV_PRODUCTION_TILING,
    tilesPerProof: 1,
    macsPerTile: convMacsPerTile(CONV_PRODUCTION_TILING),
  },
  "batchnorm-demo": {
    op: "batchnorm",
    name: "batchnorm_seed_demo_1x2x4",
    mainFile: "circuits/main/batchnorm_seed_demo_1x2x4.circom",
    tiling: BATCHNORM_DEMO_TILING,
    tilesPerProof: BATCHNORM_DEMO_TILES_PER_PROOF,
    macsPerTile: batchNormMacsPerTile(BATCHNORM_DEMO_TILING),
  },
  batchnorm: {
    op: "batchnorm",
    name: "batchnorm_seed_2x12x8",
    mainFile: "circuits/main/batchnorm_seed_2x12x8.circom",
    tiling: BATCHNORM_PRODUCTION_TILING,
    tilesPerProof: BATCHNORM_PRODUCTION_TILES_PER_PROOF,
    macsPerTile: batchNormMacsPerTile(BATCHNORM_PRODUCTION_TILING),
  },
  "attention-demo": {
    op: "attention",
    name: "attention_seed_demo_1x4x4_causal",
    mainFile: "circuits/main/attention_seed_demo_1x4x4_causal.circom",
    tiling: DEMO_ATTENTION_TILING,
    tilesPerProof: 1,
    macsPerTile: attentionMacsPerTile(DEMO_ATTENTION_TILING),
  },
  attention: {
    op: "attention",
    name: "attention_seed_4x16x16",
    mainFile: "circuits/main/attention_seed_4x16x16.circom",
    tiling: PRODUCTION_ATTENTION_TILING,
    tilesPerProof: 1,
    macsPerTile: attentionMacsPerTile(PRODUCTION_ATTENTION_TILING),
  },
} as const satisfies Record<string, MiningCircuit>;

export type MiningCircuitName = keyof typeof MINING_CIRCUITS;

export function miningCircuit(name: string): MiningCircuit {
  if (!Object.hasOwn(MINING_CIRCUITS, name)) {
    throw new Error(`unknown circuit "${name}"; expected one of: ${Object.keys(MINING_CIRCUITS).join(", ")}`);
  }
  return MINING_CIRCUITS[name as MiningCircuitName];
}

/** One layer of a workload: a circuit and the shape of the work a miner commits for it. */
export interface WorkloadLayer {
  readonly circuit: MiningCircuit;
  readonly shape: WorkShape;
}

const largest = (grid: TileGrid): WorkShape => ({
  rowBlocksLog2: grid.maxRowBlocksLog2,
  colBlocksLog2: grid.maxColBlocksLog2,
});

/**
 * Workloads a deployment can be made for: its layers, in order (proof j of a commitment checks layer j mod L). The
 * shapes are what `demle mine` commits.
 */
export const MINING_WORKLOADS = {
  /** Every op at demo size (the local demo and the tests). */
  demo: [
    { circuit: MINING_CIRCUITS.demo, shape: largest(MINING_CIRCUITS.demo.tiling) },
    { circuit: MINING_CIRCUITS["conv2d-demo"], shape: { rowBlocksLog2: 2, colBlocksLog2: 1 } },
    { circuit: MINING_CIRCUITS["batchnorm-demo"], shape: { rowBlocksLog2: 3, colBlocksLog2: 2 } },
    // Causal: every query row of the L = 4 keys, so dr = MAX_DR.
    { circuit: MINING_CIRCUITS["attention-demo"], shape: { rowBlocksLog2: 2, colBlocksLog2: 2 } },
  ],
  /** GEMM only, demo size: the fastest deployment (fault tests, benchmarks of the chain path). */
  "gemm-demo": [{ circuit: MINING_CIRCUITS.demo, shape: largest(MINING_CIRCUITS.demo.tiling) }],
  /** Every op at production size (needs the power-16 ptau; no ceremony yet, so development setups). */
  production: [
    { circuit: MINING_CIRCUITS.production, shape: { rowBlocksLog2: 4, colBlocksLog2: 4 } },
    { circuit: MINING_CIRCUITS.conv2d, shape: { rowBlocksLog2: 4, colBlocksLog2: 2 } },
    { circuit: MINING_CIRCUITS.batchnorm, shape: { rowBlocksLog2: 4, colBlocksLog2: 4 } },
    { circuit: MINING_CIRCUITS.attention, shape: { rowBlocksLog2: 2, colBlocksLog2: 4 } },
  ],
} as const satisfies Record<string, readonly WorkloadLayer[]>;

export type WorkloadName = keyof typeof MINING_WORKLOADS;

export function miningWorkload(name: string): readonly WorkloadLayer[] {
  if (!Object.hasOwn(MINING_WORKLOADS, name)) {
    throw new Error(`unknown workload "${name}"; expected one of: ${Object.keys(MINING_WORKLOADS).join(", ")}`);
  }
  return MINING_WORKLOADS[name as WorkloadName];
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
export async function prepareCircuit<C extends Pick<MiningCircuit, "name" | "mainFile">>(
  circuit: C,
  log?: LogFn,
): Promise<{ readonly circuit: C; readonly compiled: CompiledCircuit; readonly setup: CircuitSetup }> {
  const compiled = await compileCircuit(circuit.name, path.join(REPO_ROOT, circuit.mainFile));
  const setup = (await committedSetup(compiled, log)) ?? (await setupCircuit(compiled, log ? { log } : {}));
  return { circuit, compiled, setup };
}

/** Prepares every distinct circuit of a workload, in layer order. */
export async function prepareWorkload(layers: readonly WorkloadLayer[], log?: LogFn): Promise<PreparedCircuit[]> {
  const prepared = new Map<string, PreparedCircuit>();
  const result: PreparedCircuit[] = [];
  for (const { circuit } of layers) {
    let entry = prepared.get(circuit.name);
    if (!entry) {
      entry = await prepareCircuit(circuit, log);
      prepared.set(circuit.name, entry);
    }
    result.push(entry);
  }
  return result;
}
