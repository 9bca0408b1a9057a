/**
 * The miner's FP8 (E4M3FN) conv2d in ONNX Runtime, for seed-mode conv work (common/ops/conv.ts, docs/ops/conv.md).
 *
 * As for GEMM (miner/gemm.ts), the Node binding cannot carry float8 tensors, so X [N, Cin, H, W] and the weights
 * [Cout, Cg, kh, kw] cross the boundary as float32 tensors holding exactly representable E4M3FN values, and FP8 is made
 * explicit inside the graph:
 *
 *     X ─ QuantizeLinear(scale 1, zp: FLOAT8E4M3FN) ─ DequantizeLinear(scale 1) ─┐
 *                                                                              Conv(pads, strides, dilations, group)
 *     Wt ─ QuantizeLinear(scale 1, zp: FLOAT8E4M3FN) ─ DequantizeLinear(scale 1) ─┘          └─ Y (float32, NCHW)
 *
 * Sessions use the CPU provider at graphOptimizationLevel 'basic' (miner/onnx/session.ts). The committed words are
 * ORT's float32 outputs as they are, with no post-processing: every product of two E4M3FN values is a multiple of
 * 2^-18 exactly representable in float32, and float32 additions of multiples of 2^-18 stay multiples of 2^-18 (the
 * accumulator never reaches the subnormal range at these magnitudes), so every output is on the circuit's 2^-27 grid.
 * On CUDA, float32 Conv uses TF32 unless disabled; a CUDA miner must pass `use_tf32: 0` — the contract does not
 * cover TF32 error.
 */
import { generateConvInputs, type ConvInputs, type ConvWork } from "../../common/ops/conv.js";
import { decodeE4m3fnMatrix } from "../gemm.js";
import { DataType, GraphBuilder, attr, fp8QuantizeDequantize } from "../onnx/graph.js";
import { float32OutputWords, runModel, tensor } from "../onnx/session.js";

/** Names of the conv model's values. */
export const CONV_INPUT_X = "X";
export const CONV_INPUT_WEIGHTS = "W";
export const CONV_OUTPUT_Y = "Y";

/** Tensor dims of a work: X [N, Cin, H, W], weights [Cout, Cg, kh, kw], Y [N, Cout, Ho, Wo]. */
export function convDims(work: ConvWork): { x: number[]; weights: number[]; y: number[] } {
  const t = work.tiling;
  return {
    x: [work.images, t.inChannels, t.inHeight, t.inWidth],
    weights: [work.outChannels, work.groupChannels, t.kernelHeight, t.kernelWidth],
    y: [work.images, work.outChannels, work.outHeight, work.outWidth],
  };
}

/**
 * The FP8 conv model of a work (see the module comment): X and W each through QuantizeLinear to FLOAT8E4M3FN (scale
 * 1, float8 zero point 0, saturate default 1) and DequantizeLinear back to float32, then one ONNX Conv with the
 * tiling's symmetric pads, strides, dilations and group.
 */
export function buildFp8ConvModel(work: ConvWork): Uint8Array {
  const t = work.tiling;
  const dims = convDims(work);
  const g = new GraphBuilder();
  const x = g.input(CONV_INPUT_X, DataType.FLOAT, dims.x);
  const w = g.input(CONV_INPUT_WEIGHTS, DataType.FLOAT, dims.weights);
  const throughFp8 = fp8QuantizeDequantize(g);
  const [y] = g.node("Conv", [throughFp8(x), throughFp8(w)], {
    outputs: [CONV_OUTPUT_Y],
    name: "conv",
    attributes: {
      kernel_shape: attr.ints([t.kernelHeight, t.kernelWidth]),
      pads: attr.ints([t.padding, t.padding, t.padding, t.padding]),
      strides: attr.ints([t.stride, t.stride]),
      dilations: attr.ints([t.dilation, t.dilation]),
      group: attr.int(t.groups),
    },
  });
  g.output(y!, DataType.FLOAT, dims.y);
  return g.build({ graphName: `fp8_conv_${dims.x.join("x")}_${dims.weights.join("x")}` });
}

/**
 * Runs the FP8 conv of `inputs` (E4M3FN codes in ONNX layouts, see ConvInputs) on the ORT CPU provider and returns
 * Y as NCHW float32 bit patterns: the words `commitConvOutputs` commits (tiles via `convTileWords`).
 */
export async function runFp8Conv(inputs: ConvInputs, work: ConvWork): Promise<Uint32Array> {
  const dims = convDims(work);
  const out = await runModel(buildFp8ConvModel(work), {
    [CONV_INPUT_X]: tensor("float32", decodeE4m3fnMatrix(inputs.x, "X", work.tiling.inWidth), dims.x),
    [CONV_INPUT_WEIGHTS]: tensor("float32", decodeE4m3fnMatrix(inputs.weights, "W", work.depth), dims.weights),
  });
  return float32OutputWords(out, CONV_OUTPUT_Y, dims.y);
}

/** A whole seed-mode conv work on ORT: generates X and the weights from `seed` and returns Y (NCHW words). */
export async function runConvWork(seed: bigint, work: ConvWork): Promise<Uint32Array> {
  return runFp8Conv(await generateConvInputs(seed, work), work);
}
