/**
 * The miner's FP8 multi-head attention in ONNX Runtime (CPU provider), for seed-mode attention works
 * (common/ops/attention.ts, docs/ops/attention.md). Per head, with Q (queries×D), K and V (L×D) as E4M3FN:
 *
 *     Q, K, V ─ QuantizeLinear(scale 1, FLOAT8E4M3FN) ─ DequantizeLinear(scale 1)            (the FP8 boundary)
 *     scores = MatMul(Q, Transpose(K))                       float32; graph output "scores"
 *     Softmax(scores · 2^-kk [+ causal mask of −inf])         float32, last axis (1/√D = 2^-kk exactly)
 *     P = QuantizeLinear(softmax, scale 2^-8, FLOAT8E4M3FN)   E4M3FN codes (RNE, saturating)
 *     O = MatMul(DequantizeLinear(P, scale 2^-8), V)          float32; graph outputs "probabilities" and "O"
 *
 * Post-processing (exact, documented): the committed words are O' = 2^8·O (a power-of-two scaling, exact in float32
 * for every value here, so O' is bit-for-bit the float32 MatMul of DQ(P, 1) and V), the P codes are read back from
 * DQ(P, 2^-8) = n·2^-17, and the scores become exact integers in units 2^-18 (float32 sums of multiples of 2^-18 stay
 * on that grid). On CUDA the miner disables TF32 (use_tf32: 0); this runner is CPU-only.
 */
import * as ort from "onnxruntime-node";

import { float32Bits } from "../../common/numerics.js";
import {
  headDimShift,
  scoreFromFloat32,
  type AttentionInputs,
  type AttentionOutputs,
  type AttentionWork,
} from "../../common/ops/attention.js";
import { decodeE4m3fnMatrix } from "../gemm.js";
import { attr, DataType, fp8QuantizeDequantize, GraphBuilder } from "../onnx/graph.js";
import { runModel, tensor } from "../onnx/session.js";

export interface AttentionShape {
  readonly heads: number;
  readonly queries: number;
  readonly keys: number;
  readonly headDim: number;
  readonly causal: boolean;
}

/** The FP8 attention model (module comment) for one shape. */
export function buildFp8AttentionModel(shape: AttentionShape): Uint8Array {
  const { heads: h, queries: lq, keys: l, headDim: d } = shape;
  for (const [name, value] of Object.entries({ h, lq, l, d })) {
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`);
  }
  const kk = headDimShift(d);
  const g = new GraphBuilder();
  const throughFp8 = fp8QuantizeDequantize(g);
  const pScale = g.initializer(DataType.FLOAT, [], new Float32Array([2 ** -8]), "scale_p");
  const q = throughFp8(g.input("Q", DataType.FLOAT, [h, lq, d]));
  const k = throughFp8(g.input("K", DataType.FLOAT, [h, l, d]));
  const v = throughFp8(g.input("V", DataType.FLOAT, [h, l, d]));
  const [kt] = g.node("Transpose", [k], { attributes: { perm: attr.ints([0, 2, 1]) } });
  const [scores] = g.node("MatMul", [q, kt!], { outputs: ["scores"] });
  const inverseSqrtD = g.initializer(DataType.FLOAT, [], new Float32Array([2 ** -kk]), "inverse_sqrt_d");
  let [logits] = g.node("Mul", [scores!, inverseSqrtD]);
  if (shape.causal) {
    const mask = new Float32Array(lq * l);
    for (let i = 0; i < lq; i++) for (let j = i + 1; j < l; j++) mask[i * l + j] = -Infinity;
    const maskName = g.initializer(DataType.FLOAT, [lq, l], mask, "causal_mask");
    [logits] = g.node("Add", [logits!, maskName]);
  }
  const [softmax] = g.node("Softmax", [logits!], { attributes: { axis: attr.int(-1) } });
  const probabilities = throughFp8(softmax!, { tag: "p", scale: pScale });
  const [o] = g.node("MatMul", [probabilities, v], { outputs: ["O"] });
  g.output(scores!, DataType.FLOAT, [h, lq, l]);
  g.output(probabilities, DataType.FLOAT, [h, lq, l]);
  g.output(o!, DataType.FLOAT, [h, lq, d]);
  return g.build({ graphName: `fp8_attention_${h}x${lq}x${l}x${d}${shape.causal ? "_causal" : ""}` });
}

/** E4M3FN code of P from its dequantized value n·2^-17 (n ≥ 0 on the E4M3FN grid). */
function pCodeOfValue(value: number): number {
  const bits = float32Bits(Math.fround(value * 2 ** 8));
  // value·2^8 is the E4M3FN value itself: re-encode its float32 pattern (sign 0, exponent, top 3 mantissa bits).
  if (bits === 0) return 0;
  const exponent = (bits >>> 23) - 127; // unbiased, E4M3FN range [−9, 8]
  const mantissa = (bits >>> 20) & 7;
  if (exponent < -6) return (8 | mantissa) >> (-6 - exponent); // subnormal: value = m·2^-9
  return ((exponent + 7) << 3) | mantissa;
}

/**
 * Runs a whole seed-mode attention work on ORT (CPU) and returns its outputs in the layout of
 * {@link AttentionOutputs}: committed words O' = 2^8·O, the float32 scores as exact integers and the P codes.
 */
export async function runAttentionWork(
  work: AttentionWork,
  inputs: AttentionInputs,
  options: ort.InferenceSession.SessionOptions = {},
): Promise<AttentionOutputs> {
  const { headDim: d, keys: l, causal } = work.tiling;
  const { heads: h, queries: lq } = work;
  const model = buildFp8AttentionModel({ heads: h, queries: lq, keys: l, headDim: d, causal });
  const out = await runModel(
    model,
    {
      Q: tensor("float32", decodeE4m3fnMatrix(inputs.q, "Q", d), [h, lq, d]),
      K: tensor("float32", decodeE4m3fnMatrix(inputs.k, "K", d), [h, l, d]),
      V: tensor("float32", decodeE4m3fnMatrix(inputs.v, "V", d), [h, l, d]),
    },
    options,
  );
  const scores = out.scores?.data as Float32Array | undefined;
  const probabilities = out[`p_dequantized`]?.data as Float32Array | undefined;
  const o = out.O?.data as Float32Array | undefined;
  if (!scores || !probabilities || !o) throw new Error("ORT returned no scores, probabilities or O");
  const words = Uint32Array.from(o, (x) => float32Bits(x * 2 ** 8));
  return {
    words,
    scores: Array.from(scores, (x) => scoreFromFloat32(float32Bits(x))),
    pCodes: Uint8Array.from(probabilities, pCodeOfValue),
  };
}
