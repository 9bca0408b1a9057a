/**
 * ONNX Runtime (onnxruntime-node, CPU) session helpers for models built with `./graph.ts`.
 *
 * Sessions use graphOptimizationLevel 'basic': at 'extended'/'all' ORT fuses float8 QuantizeLinear/DequantizeLinear
 * around MatMul into MatMulIntegerToFloat, which rejects float8 inputs. The Node binding cannot carry float8 tensors
 * across the JS boundary, so graph inputs/outputs must be float32, uint8 or another plain type; keep float8 inside.
 */
import * as ort from "onnxruntime-node";

export type { Tensor } from "onnxruntime-node";

export const SESSION_OPTIONS: Readonly<ort.InferenceSession.SessionOptions> = {
  executionProviders: ["cpu"],
  graphOptimizationLevel: "basic",
};

/** Creates a CPU session with {@link SESSION_OPTIONS}, plus any overrides. */
export function createSession(
  model: Uint8Array,
  options: ort.InferenceSession.SessionOptions = {},
): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(model, { ...SESSION_OPTIONS, ...options });
}

/** Shorthand for building a CPU tensor. */
export function tensor<T extends ort.Tensor.Type>(
  type: T,
  data: ort.Tensor.DataTypeMap[T],
  dims: readonly number[],
): ort.TypedTensor<T> {
  return new ort.Tensor(type, data, dims) as ort.TypedTensor<T>;
}

/** Loads `model`, runs it once on `feeds` and releases the session. */
export async function runModel(
  model: Uint8Array,
  feeds: Readonly<Record<string, ort.Tensor>>,
  options: ort.InferenceSession.SessionOptions = {},
): Promise<Record<string, ort.Tensor>> {
  const session = await createSession(model, options);
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

/**
 * Output `name` of a run as float32 bit patterns, in an own copy (the tensor's buffer belongs to the binding); throws
 * unless it is a float32 tensor of dims' element count.
 */
export function float32OutputWords(
  outputs: Readonly<Record<string, ort.Tensor>>,
  name: string,
  dims: readonly number[],
): Uint32Array {
  const output = outputs[name];
  if (output === undefined || output.type !== "float32" || output.size !== dims.reduce((a, b) => a * b, 1)) {
    throw new Error(`ORT returned no float32 ${dims.join("×")} output ${name}`);
  }
  const data = output.data as Float32Array;
  return new Uint32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
}
