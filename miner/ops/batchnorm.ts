/**
 * The miner's FP8 (E4M3FN) batch normalisation (inference) in ONNX Runtime, for seed-mode work
 * (common/ops/batchnorm.ts, docs/ops/batchnorm.md).
 *
 * Layout: x is a [rows, channels] tensor (ONNX BatchNormalization's N × C with no spatial dimensions: every row is one
 * sample or pixel, the channel axis is axis 1), the parameters are [channels] vectors. Every value crosses the ORT
 * boundary as an exactly representable float32 and goes through the FP8 boundary inside the graph:
 *
 *     x, mean, var, γ, β ─ QuantizeLinear(scale 1, zp: FLOAT8E4M3FN) ─ DequantizeLinear(scale 1)
 *     var ─ … ─ Abs                      (the work spec reads a variance code as its magnitude)
 *     BatchNormalization(x, γ, β, mean, |var|; epsilon 2^-5, opset 21 → BatchNormalization-15, inference) ─ y
 *
 * On the CPU provider ORT computes y in float32 (as x·s + (β − mean·s) with s = γ/√(var + ε)); the contract's error
 * analysis covers that and other float32 evaluation orders. Sessions use graphOptimizationLevel 'basic'
 * (../onnx/session.ts). BatchNormalization is element-wise, so the CUDA provider's TF32 mode (which only affects
 * MatMul/Conv) does not apply to it; the miner disables TF32 anyway (`use_tf32: 0`).
 *
 * `runBatchNormWork(seed, work)` is the miner's entry point: it generates the work's inputs from the seed and returns
 * the committed words. Post-processing (documented in docs/ops/batchnorm.md): the contract reads outputs on the grid 2^-71. ORT's float32
 * results are on it except results below 2^-48 in magnitude (from cancellation, e.g. with FMA); those are rounded to
 * the nearest grid point by `roundToBatchNormGrid` before they are committed. Non-finite results are refused.
 */
import * as ort from "onnxruntime-node";

import {
  generateBatchNormInputs,
  roundToBatchNormGrid,
  BATCHNORM_EPSILON,
  type BatchNormInputs,
  type BatchNormWork,
} from "../../common/ops/batchnorm.js";
import { decodeE4m3fnMatrix } from "../gemm.js";
import { attr, DataType, fp8QuantizeDequantize, GraphBuilder } from "../onnx/graph.js";
import { createSession, float32OutputWords, tensor } from "../onnx/session.js";

export const BATCHNORM_INPUT_X = "x";
export const BATCHNORM_INPUT_MEAN = "mean";
export const BATCHNORM_INPUT_VAR = "var";
export const BATCHNORM_INPUT_GAMMA = "gamma";
export const BATCHNORM_INPUT_BETA = "beta";
export const BATCHNORM_OUTPUT_Y = "y";

/** Rows per session run: bounds the float32 tensors of one run to 2^24 elements (64 MiB) each at 1 channel. */
const MAX_ELEMENTS_PER_RUN = 2 ** 24;

/** The FP8 batch-norm model for `channels` channels and any number of rows (see the module comment). */
export function buildFp8BatchNormModel(channels: number): Uint8Array {
  if (!Number.isSafeInteger(channels) || channels < 1)
    throw new RangeError(`channels must be a positive integer, got ${channels}`);
  const g = new GraphBuilder();
  const x = g.input(BATCHNORM_INPUT_X, DataType.FLOAT, ["rows", channels]);
  const mean = g.input(BATCHNORM_INPUT_MEAN, DataType.FLOAT, [channels]);
  const variance = g.input(BATCHNORM_INPUT_VAR, DataType.FLOAT, [channels]);
  const gamma = g.input(BATCHNORM_INPUT_GAMMA, DataType.FLOAT, [channels]);
  const beta = g.input(BATCHNORM_INPUT_BETA, DataType.FLOAT, [channels]);
  const throughFp8 = fp8QuantizeDequantize(g);
  const [varianceMagnitude] = g.node("Abs", [throughFp8(variance)], { outputs: ["var_magnitude"], name: "var_abs" });
  const [y] = g.node(
    "BatchNormalization",
    [throughFp8(x), throughFp8(gamma), throughFp8(beta), throughFp8(mean), varianceMagnitude!],
    { outputs: [BATCHNORM_OUTPUT_Y], name: "batchnorm", attributes: { epsilon: attr.float(BATCHNORM_EPSILON) } },
  );
  g.output(y!, DataType.FLOAT, ["rows", channels]);
  return g.build({ graphName: `fp8_batchnorm_c${channels}` });
}

/** One ORT session of {@link buildFp8BatchNormModel} for one channel count; {@link release} frees it. */
export class Fp8BatchNormRunner {
  private released = false;

  private constructor(
    readonly channels: number,
    private readonly session: ort.InferenceSession,
  ) {}

  static async create(channels: number): Promise<Fp8BatchNormRunner> {
    return new Fp8BatchNormRunner(channels, await createSession(buildFp8BatchNormModel(channels)));
  }

  /**
   * ORT's raw float32 outputs (bit patterns, rows × channels row-major) for E4M3FN codes; throws on NaN codes
   * (seed-generated inputs never contain them).
   */
  async run(inputs: BatchNormInputs): Promise<Uint32Array> {
    if (this.released) throw new Error("Fp8BatchNormRunner: session already released");
    const { rows, channels } = inputs;
    if (channels !== this.channels) throw new RangeError(`runner is for ${this.channels} channels, got ${channels}`);
    if (!Number.isSafeInteger(rows) || rows < 1) throw new RangeError(`rows must be a positive integer, got ${rows}`);
    if (inputs.x.length !== rows * channels)
      throw new RangeError(`x has ${inputs.x.length} codes, expected ${rows}×${channels}`);
    const params: Record<string, ort.Tensor> = {};
    for (const [name, codes] of [
      [BATCHNORM_INPUT_MEAN, inputs.mean],
      [BATCHNORM_INPUT_VAR, inputs.variance],
      [BATCHNORM_INPUT_GAMMA, inputs.gamma],
      [BATCHNORM_INPUT_BETA, inputs.beta],
    ] as const) {
      if (codes.length !== channels) throw new RangeError(`${name} has ${codes.length} codes, expected ${channels}`);
      params[name] = tensor("float32", decodeE4m3fnMatrix(codes, name, channels), [channels]);
    }
    const x = decodeE4m3fnMatrix(inputs.x, "x", channels);
    const y = new Uint32Array(rows * channels);
    const rowsPerRun = Math.max(1, Math.floor(MAX_ELEMENTS_PER_RUN / channels));
    for (let start = 0; start < rows; start += rowsPerRun) {
      const count = Math.min(rowsPerRun, rows - start);
      const chunk = x.subarray(start * channels, (start + count) * channels);
      const out = await this.session.run({
        ...params,
        [BATCHNORM_INPUT_X]: tensor("float32", chunk, [count, channels]),
      });
      y.set(float32OutputWords(out, BATCHNORM_OUTPUT_Y, [count, channels]), start * channels);
    }
    return y;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.session.release();
  }
}

/**
 * The committed words of ORT's output: each raw float32 put on the contract's 2^-71 grid (see the module comment).
 * Throws on a NaN or Inf output, naming its index.
 */
export function committedBatchNormWords(raw: Uint32Array): Uint32Array {
  return raw.map((word, index) => {
    if (((word >>> 23) & 0xff) === 0xff)
      throw new Error(`ORT batch-norm output ${index} is not finite (0x${word.toString(16)})`);
    return roundToBatchNormGrid(word);
  });
}

/** Runs a whole seed-mode batch-norm work on ORT (CPU) and returns its committed words (rows × channels, row-major). */
export async function runBatchNormWork(seed: bigint, work: BatchNormWork): Promise<Uint32Array> {
  const inputs = await generateBatchNormInputs(seed, work);
  const runner = await Fp8BatchNormRunner.create(work.channels);
  try {
    return committedBatchNormWords(await runner.run(inputs));
  } finally {
    await runner.release();
  }
}
