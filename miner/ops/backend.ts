/**
 * One interface over every op's seed-mode work, so the miner treats a workload's layers alike: compute the outputs
 * with ONNX Runtime, commit them, and build the witness input of a challenged proof.
 */
import {
  commitOutputs,
  defineWork,
  gemmProofInput,
  generateInputs,
  type CircuitInput,
  type OutputTree,
} from "../../common/work.js";
import { commitConvOutputs, convProofInput, defineConvWork } from "../../common/ops/conv.js";
import type { WorkloadLayer } from "../circuits.js";
import { Fp8GemmRunner, type GemmExecutionProvider } from "../gemm.js";
import { runConvWork } from "./conv.js";

export interface OpBackend {
  /** What the work is, for logs: "gemm 16×16×16". */
  readonly description: string;
  /** Number of float32 output words of the work. */
  readonly outputWords: number;
  /** The work's outputs for `seed` (float32 bit patterns, in the op's commitment layout), computed with ORT. */
  compute(seed: bigint): Promise<Uint32Array>;
  /** The output tree whose root is committed. */
  commit(outputs: Uint32Array): Promise<OutputTree>;
  /** The witness input of the layer's circuit for one proof challenge. */
  proofInput(params: {
    outputs: Uint32Array;
    tree: OutputTree;
    seed: bigint;
    challenge: bigint;
    miner: bigint;
  }): Promise<CircuitInput>;
  /** Frees ORT sessions. */
  release(): Promise<void>;
}

export interface OpBackendOptions {
  readonly executionProvider?: GemmExecutionProvider;
  readonly log?: (message: string) => void;
}

/** The backend of a workload layer. */
export function opBackend(layer: WorkloadLayer, options: OpBackendOptions = {}): OpBackend {
  const { circuit, shape } = layer;
  const tilesPerProof = circuit.tilesPerProof;
  switch (circuit.op) {
    case "gemm": {
      const work = defineWork(circuit.tiling, shape);
      let runner: Fp8GemmRunner | undefined;
      return {
        description: `gemm ${work.m}×${work.n}×${work.k}`,
        outputWords: work.m * work.n,
        async compute(seed) {
          runner ??= await Fp8GemmRunner.create({
            m: work.m,
            n: work.n,
            k: work.k,
            executionProvider: options.executionProvider ?? "cpu",
            allowSpinning: false,
            ...(options.log ? { onFallback: options.log } : {}),
          });
          const { a, b } = await generateInputs(seed, work);
          return runner.run(a, b);
        },
        commit: (outputs) => commitOutputs(outputs, work),
        async proofInput({ outputs, tree, seed, challenge, miner }) {
          return (await gemmProofInput({ work, tilesPerProof, c: outputs, tree, seed, challenge, miner })).input;
        },
        async release() {
          await runner?.release();
        },
      };
    }
    case "conv2d": {
      const work = defineConvWork(circuit.tiling, shape);
      return {
        description:
          `conv2d ${work.images}×${work.tiling.inChannels}×${work.tiling.inHeight}×${work.tiling.inWidth} → ` +
          `${work.outChannels} channels`,
        outputWords: work.images * work.outChannels * work.outHeight * work.outWidth,
        compute: (seed) => runConvWork(seed, work),
        commit: (outputs) => commitConvOutputs(outputs, work),
        async proofInput({ outputs, tree, seed, challenge, miner }) {
          return (await convProofInput({ work, tilesPerProof, outputs, tree, seed, challenge, miner })).input;
        },
        release: () => Promise.resolve(),
      };
    }
  }
}
