/**
 * What differs between the ops a job can ask for (docs/jobs.md): how a model and an input file make a work shape,
 * the input and weight trees, the ONNX Runtime run, the output commitment, the exact reference, the proof input and
 * where an output element sits in its tile. Everything else about jobs (chain, files, data server) is op-blind.
 */
import {
  convInputTree,
  convJobProofInput,
  convWeightTree,
  batchNormInputTree,
  batchNormJobInputs,
  batchNormJobProofInput,
  batchNormWeightTree,
  gemmJobProofInput,
  inputTree,
  weightTree,
  type BlockTree,
  type JobProofMaterial,
} from "../common/job-commitment.js";
import type { JobModel } from "../common/job-files.js";
import { checkOutput, exactTile } from "../common/numerics.js";
import {
  batchNormTileWords,
  checkBatchNorm,
  commitBatchNormOutputs,
  defineBatchNormWork,
  type BatchNormWork,
} from "../common/ops/batchnorm.js";
import { commitConvOutputs, convTileWords, defineConvWork, exactConv, type ConvWork } from "../common/ops/conv.js";
import {
  commitOutputs,
  defineWork,
  tileWords,
  type CircuitInput,
  type GemmWork,
  type OutputTree,
  type WorkShape,
} from "../common/work.js";
import { Fp8GemmRunner, type GemmExecutionProvider } from "./gemm.js";
import type { JobCircuit } from "./job-circuits.js";
import { committedBatchNormWords, Fp8BatchNormRunner } from "./ops/batchnorm.js";
import { runFp8Conv } from "./ops/conv.js";

/** A job's sizes under its circuit. */
export interface JobLayout {
  readonly circuit: JobCircuit;
  readonly shape: WorkShape;
  /** Bytes of the input file. */
  readonly inputBytes: number;
  /** Codes of the weights. */
  readonly weightCodes: number;
  /** Words of the output file. */
  readonly outputWords: number;
  /** e.g. "64×16 · 16×8" or "2 images 4×8×8, 3×3 → 8 channels". */
  readonly description: string;
}

export interface ContractCheck {
  readonly violations: number;
  readonly worstErrorToBound: number;
}

/** The GEMM contract (linear, conv2d) per output from exact S and T (units 2^-18), in the output file's order. */
function checkGemmContract(exact: { dot: bigint[]; absDot: bigint[] }, y: Uint32Array): ContractCheck {
  let violations = 0;
  let worstErrorToBound = 0;
  y.forEach((bits, i) => {
    const check = checkOutput(bits, exact.dot[i]!, exact.absDot[i]!, "e4m3fn");
    if (!check.ok) violations++;
    else if (check.bound > 0n)
      worstErrorToBound = Math.max(worstErrorToBound, Number(check.error) / Number(check.bound));
  });
  return { violations, worstErrorToBound };
}

export interface JobOp {
  /** The shape of a job of `model` with an input of `inputBytes` bytes; throws saying what does not fit. */
  shapeFor(model: JobModel, inputBytes: number): WorkShape;
  layout(shape: WorkShape): JobLayout;
  inputTree(layout: JobLayout, x: Uint8Array): Promise<BlockTree>;
  weightTree(layout: JobLayout, weights: Uint8Array): Promise<BlockTree>;
  /** The outputs on ONNX Runtime, as float32 bit patterns in the output file's order. */
  compute(
    layout: JobLayout,
    x: Uint8Array,
    weights: Uint8Array,
    provider?: GemmExecutionProvider,
  ): Promise<Uint32Array>;
  commit(layout: JobLayout, y: Uint32Array): Promise<OutputTree>;
  /**
   * Every output against the op's numerics contract, computed exactly from the inputs: how many violate it and the
   * largest error/bound ratio among those that reach the tolerance check (≤ 1 when correct).
   */
  check(layout: JobLayout, x: Uint8Array, weights: Uint8Array, y: Uint32Array): ContractCheck;
  proofInput(layout: JobLayout, material: JobProofMaterial): Promise<CircuitInput>;
  /** The tile holding output `index` (of the output file) and the index's position among the tile's words. */
  tileOf(layout: JobLayout, index: number): { rowBlock: number; colBlock: number; position: number };
  tileWords(layout: JobLayout, y: Uint32Array, rowBlock: number, colBlock: number): Uint32Array;
}

function log2Blocks(total: number, tile: number, what: string, max: number): number {
  const blocks = total / tile;
  const log2 = Math.log2(blocks);
  if (!Number.isInteger(blocks) || !Number.isInteger(log2) || log2 > max) {
    throw new Error(`${what} = ${total} must be ${tile}·2^d with d ≤ ${max} for this job kind`);
  }
  return log2;
}

function checkModel(circuit: JobCircuit, model: JobModel): void {
  if (model.op !== circuit.op)
    throw new Error(`the model is ${model.op}; job circuit ${circuit.name} is ${circuit.op}`);
}

function linearOp(circuit: Extract<JobCircuit, { op: "linear" }>): JobOp {
  const { tiling } = circuit;
  const work = (layout: JobLayout): GemmWork => defineWork(tiling, layout.shape);
  return {
    shapeFor(model, inputBytes) {
      checkModel(circuit, model);
      if (model.inChannels !== tiling.depth) {
        throw new Error(
          `the model has ${model.inChannels} input channels; job circuit ${circuit.name} takes K = ${tiling.depth}`,
        );
      }
      if (inputBytes % tiling.depth !== 0) {
        throw new Error(`the input has ${inputBytes} bytes, not a whole number of rows of K = ${tiling.depth} codes`);
      }
      return {
        rowBlocksLog2: log2Blocks(
          inputBytes / tiling.depth,
          tiling.tileRows,
          "the input's rows M",
          tiling.maxRowBlocksLog2,
        ),
        colBlocksLog2: log2Blocks(
          model.outChannels,
          tiling.tileCols,
          "the model's outChannels N",
          tiling.maxColBlocksLog2,
        ),
      };
    },
    layout(shape) {
      const w = defineWork(tiling, shape);
      return {
        circuit,
        shape,
        inputBytes: w.m * w.k,
        weightCodes: w.k * w.n,
        outputWords: w.m * w.n,
        description: `${w.m}×${w.k} · ${w.k}×${w.n}`,
      };
    },
    inputTree: (layout, x) => inputTree(x, tiling, layout.shape),
    weightTree: (layout, weights) => weightTree(weights, tiling, layout.shape),
    async compute(layout, x, weights, provider) {
      const w = work(layout);
      const runner = await Fp8GemmRunner.create({
        m: w.m,
        k: w.k,
        n: w.n,
        allowSpinning: false,
        ...(provider ? { executionProvider: provider } : {}),
      });
      try {
        return await runner.run(x, weights);
      } finally {
        await runner.release();
      }
    },
    commit: (layout, y) => commitOutputs(y, work(layout)),
    check(layout, x, weights, y) {
      const w = work(layout);
      return checkGemmContract(exactTile(x, weights, w.m, w.n, w.k, "e4m3fn"), y);
    },
    async proofInput(layout, m) {
      const { input } = await gemmJobProofInput({
        tiling,
        shape: layout.shape,
        tilesPerProof: circuit.tilesPerProof,
        x: m.x,
        w: m.weights,
        c: m.y,
        outputTree: m.outputTree,
        inputs: m.inputs,
        weights: m.weightsTree,
        challenge: m.challenge,
        miner: m.miner,
      });
      return input;
    },
    tileOf(layout, index) {
      const w = work(layout);
      const [row, col] = [Math.floor(index / w.n), index % w.n];
      return {
        rowBlock: Math.floor(row / tiling.tileRows),
        colBlock: Math.floor(col / tiling.tileCols),
        position: (row % tiling.tileRows) * tiling.tileCols + (col % tiling.tileCols),
      };
    },
    tileWords: (layout, y, rowBlock, colBlock) => tileWords(y, work(layout), rowBlock, colBlock),
  };
}

function convOp(circuit: Extract<JobCircuit, { op: "conv2d" }>): JobOp {
  const { tiling } = circuit;
  const work = (layout: JobLayout): ConvWork => defineConvWork(tiling, layout.shape);
  const imageCodes = tiling.inChannels * tiling.inHeight * tiling.inWidth;
  return {
    shapeFor(model, inputBytes) {
      checkModel(circuit, model);
      if (model.op !== "conv2d" || model.kernelSize !== tiling.kernelHeight || model.inChannels !== tiling.inChannels) {
        throw new Error(
          `job circuit ${circuit.name} takes ${tiling.kernelHeight}×${tiling.kernelWidth} kernels over ` +
            `${tiling.inChannels} input channels; the model has ${model.op === "conv2d" ? model.kernelSize : 1}×… over ` +
            `${model.inChannels}`,
        );
      }
      if (inputBytes % imageCodes !== 0) {
        throw new Error(
          `the input has ${inputBytes} bytes, not a whole number of ${tiling.inChannels}×${tiling.inHeight}×` +
            `${tiling.inWidth} NCHW images (${imageCodes} codes each)`,
        );
      }
      const imagesLog2 = log2Blocks(
        inputBytes / imageCodes,
        1,
        "the number of images",
        tiling.maxRowBlocksLog2 - tiling.outHeightLog2,
      );
      return {
        rowBlocksLog2: imagesLog2 + tiling.outHeightLog2,
        colBlocksLog2: log2Blocks(
          model.outChannels,
          tiling.tileChannels,
          "the model's outChannels",
          tiling.maxColBlocksLog2,
        ),
      };
    },
    layout(shape) {
      const w = defineConvWork(tiling, shape);
      return {
        circuit,
        shape,
        inputBytes: w.images * imageCodes,
        weightCodes: w.outChannels * w.depth,
        outputWords: w.images * w.outChannels * w.outHeight * w.outWidth,
        description:
          `${w.images} image(s) ${tiling.inChannels}×${tiling.inHeight}×${tiling.inWidth}, ` +
          `${tiling.kernelHeight}×${tiling.kernelWidth} → ${w.outChannels} channels`,
      };
    },
    inputTree: (layout, x) => convInputTree(x, tiling, layout.shape),
    weightTree: (layout, weights) => convWeightTree(weights, tiling, layout.shape),
    compute: (layout, x, weights) => runFp8Conv({ x, weights }, work(layout)),
    commit: (layout, y) => commitConvOutputs(y, work(layout)),
    check: (layout, x, weights, y) => checkGemmContract(exactConv({ x, weights }, work(layout)), y),
    async proofInput(layout, m) {
      const { input } = await convJobProofInput({
        ...m,
        tiling,
        shape: layout.shape,
        tilesPerProof: circuit.tilesPerProof,
      });
      return input;
    },
    tileOf(layout, index) {
      const w = work(layout);
      const [ho, wo] = [w.outHeight, w.outWidth];
      const ow = index % wo;
      const oh = Math.floor(index / wo) % ho;
      const channel = Math.floor(index / (wo * ho)) % w.outChannels;
      const n = Math.floor(index / (wo * ho * w.outChannels));
      return {
        rowBlock: n * ho + oh,
        colBlock: Math.floor(channel / tiling.tileChannels),
        position: ow * tiling.tileChannels + (channel % tiling.tileChannels),
      };
    },
    tileWords: (layout, y, rowBlock, colBlock) => convTileWords(y, work(layout), rowBlock, colBlock),
  };
}

function batchNormOp(circuit: Extract<JobCircuit, { op: "batchnorm" }>): JobOp {
  const { tiling } = circuit;
  const work = (layout: JobLayout): BatchNormWork => defineBatchNormWork(tiling, layout.shape);
  const inputs = (layout: JobLayout, x: Uint8Array, weights: Uint8Array) =>
    batchNormJobInputs(x, weights, tiling, layout.shape);
  return {
    shapeFor(model, inputBytes) {
      checkModel(circuit, model);
      if (model.inChannels !== model.outChannels) {
        throw new Error(
          `a batch norm keeps its channels: the model has ${model.inChannels} in, ${model.outChannels} out`,
        );
      }
      const channels = model.inChannels;
      if (inputBytes % channels !== 0) {
        throw new Error(`the input has ${inputBytes} bytes, not a whole number of rows of ${channels} channels`);
      }
      return {
        rowBlocksLog2: log2Blocks(inputBytes / channels, tiling.tileRows, "the input's rows", tiling.maxRowBlocksLog2),
        colBlocksLog2: log2Blocks(channels, tiling.tileChannels, "the model's channels", tiling.maxColBlocksLog2),
      };
    },
    layout(shape) {
      const w = defineBatchNormWork(tiling, shape);
      return {
        circuit,
        shape,
        inputBytes: w.rows * w.channels,
        weightCodes: 4 * w.channels,
        outputWords: w.rows * w.channels,
        description: `${w.rows}×${w.channels} batch norm`,
      };
    },
    inputTree: (layout, x) => batchNormInputTree(x, tiling, layout.shape),
    weightTree: (layout, weights) => batchNormWeightTree(weights, tiling, layout.shape),
    async compute(layout, x, weights) {
      const runner = await Fp8BatchNormRunner.create(work(layout).channels);
      try {
        return committedBatchNormWords(await runner.run(inputs(layout, x, weights)));
      } finally {
        await runner.release();
      }
    },
    commit: (layout, y) => commitBatchNormOutputs(y, work(layout)),
    check(layout, x, weights, y) {
      const result = checkBatchNorm(inputs(layout, x, weights), y);
      return { violations: result.failures.length, worstErrorToBound: result.worstFractionOfBound };
    },
    async proofInput(layout, m) {
      const { input } = await batchNormJobProofInput({
        ...m,
        tiling,
        shape: layout.shape,
        tilesPerProof: circuit.tilesPerProof,
      });
      return input;
    },
    tileOf(layout, index) {
      const { channels } = work(layout);
      const [row, col] = [Math.floor(index / channels), index % channels];
      return {
        rowBlock: Math.floor(row / tiling.tileRows),
        colBlock: Math.floor(col / tiling.tileChannels),
        position: (row % tiling.tileRows) * tiling.tileChannels + (col % tiling.tileChannels),
      };
    },
    tileWords: (layout, y, rowBlock, colBlock) => batchNormTileWords(y, work(layout), rowBlock, colBlock),
  };
}

export function jobOp(circuit: JobCircuit): JobOp {
  switch (circuit.op) {
    case "linear":
      return linearOp(circuit);
    case "conv2d":
      return convOp(circuit);
    case "batchnorm":
      return batchNormOp(circuit);
  }
}
