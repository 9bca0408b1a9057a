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
import { batchNormProofInput, commitBatchNormOutputs, defineBatchNormWork } from "../../common/ops/batchnorm.js";
import {
  attentionProofInput,
  commitAttentionOutputs,
  defineAttentionWork,
  generateAttentionInputs,
  scoreFromFloat32,
  type AttentionOutputs,
  type AttentionWork,
} from "../../common/ops/attention.js";
import { float32Bits } from "../../common/numerics.js";
import type { WorkloadLayer } from "../circuits.js";
import { Fp8GemmRunner, type GemmExecutionProvider } from "../gemm.js";
import { runConvWork } from "./conv.js";
import { runBatchNormWork } from "./batchnorm.js";
import { runAttentionWork } from "./attention.js";

export interface OpBackend {
  /** What the work is, for logs: "gemm 16×16×16". */
  readonly description: string;
  /** Number of 32-bit words of the work's outputs as `compute` returns them. */
  readonly outputWords: number;
  /**
   * The work's outputs for `seed`, computed with ORT: the committed float32 bit patterns in the op's commitment
   * layout, followed, for ops whose proofs need more of the computation (attention's scores and P codes), by those.
   */
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
    case "batchnorm": {
      const work = defineBatchNormWork(circuit.tiling, shape);
      return {
        description: `batchnorm ${work.rows}×${work.channels}`,
        outputWords: work.rows * work.channels,
        compute: (seed) => runBatchNormWork(seed, work),
        commit: (outputs) => commitBatchNormOutputs(outputs, work),
        async proofInput({ outputs, tree, seed, challenge, miner }) {
          return (await batchNormProofInput({ work, tilesPerProof, outputs, tree, seed, challenge, miner })).input;
        },
        release: () => Promise.resolve(),
      };
    }
    case "attention": {
      const work = defineAttentionWork(circuit.tiling, shape);
      const { headDim, keys } = work.tiling;
      const rows = work.heads * work.queries;
      return {
        description: `attention ${work.heads} heads × ${work.queries} queries × ${keys} keys × d ${headDim}`,
        outputWords: rows * headDim + 2 * rows * keys,
        compute: async (seed) => packAttention(await runAttentionWork(work, await generateAttentionInputs(seed, work))),
        commit: (outputs) => commitAttentionOutputs(unpackAttention(outputs, work), work),
        async proofInput({ outputs, tree, seed, challenge, miner }) {
          const unpacked = unpackAttention(outputs, work);
          const proof = await attentionProofInput({
            work,
            tilesPerProof,
            outputs: unpacked,
            tree,
            seed,
            challenge,
            miner,
          });
          return proof.input;
        },
        release: () => Promise.resolve(),
      };
    }
  }
}

/** Attention outputs as one word array: committed words, then the P codes, then the float32 scores' bit patterns. */
function packAttention(outputs: AttentionOutputs): Uint32Array {
  const scores = outputs.scores.map((s) => float32Bits(Number(s) / 2 ** 18));
  return Uint32Array.from([...outputs.words, ...outputs.pCodes, ...scores]);
}

function unpackAttention(packed: Uint32Array, work: AttentionWork): AttentionOutputs {
  const rows = work.heads * work.queries;
  const words = rows * work.tiling.headDim;
  const probabilities = rows * work.tiling.keys;
  if (packed.length !== words + 2 * probabilities) throw new RangeError(`attention outputs have the wrong size`);
  return {
    words: packed.slice(0, words),
    pCodes: Uint8Array.from(packed.subarray(words, words + probabilities), (code) => {
      if (code > 0xff) throw new RangeError(`P code ${code} is not a byte`);
      return code;
    }),
    scores: Array.from(packed.subarray(words + probabilities), (bits) => scoreFromFloat32(bits)),
  };
}
