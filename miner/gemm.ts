/**
 * The miner's FP8 (E4M3FN) GEMM in ONNX Runtime.
 *
 * The Node binding cannot carry float8 tensors, so the graph takes A (M×K) and B (K×N) as float32 tensors that hold
 * exactly representable E4M3FN values and makes FP8 explicit inside the graph:
 *
 *     A ─ QuantizeLinear(scale 1, zp: FLOAT8E4M3FN) ─ DequantizeLinear(scale 1) ─┐
 *                                                                              MatMul ─ C (float32, M×N)
 *     B ─ QuantizeLinear(scale 1, zp: FLOAT8E4M3FN) ─ DequantizeLinear(scale 1) ─┘
 *
 * The Q/DQ pair is the FP8 boundary: the values MatMul consumes are, by construction, float8 values (a value that was
 * not one would be rounded to one, saturating at ±448). QDQ around MatMul is the standard ONNX form of a float8 GEMM,
 * the pattern a float8-capable execution provider maps to an FP8 GEMM (not exercised here: this machine has no GPU).
 * On the CPU provider ORT runs Q and DQ as element-wise kernels and computes the MatMul in float32. The sessions use
 * graphOptimizationLevel 'basic' (see ./onnx/session.ts): at 'extended'/'all' ORT's CPU QDQ fusion turns this
 * pattern into MatMulIntegerToFloat, which rejects float8 inputs.
 *
 * Q then DQ at scale 1 is the identity on finite E4M3FN values, so on CPU the outputs are bit-identical to a plain
 * float32 MatMul of the decoded inputs, and they satisfy the numerics contract (docs/numerics.md, common/numerics.ts).
 * The price on CPU: ORT 1.30 runs float8 Q and DQ single-threaded at roughly 3.4 + 2 ns per element, an O(K·(M+N))
 * cost against MatMul's O(M·N·K), so the relative overhead scales with (M+N)/(M·N) and not with K (bench/ort-gemm.ts).
 */
import * as ort from "onnxruntime-node";

import { fp8ToNumber } from "../common/fp8.js";
import { DataType, fp8QuantizeDequantize, GraphBuilder } from "./onnx/graph.js";
import { float32OutputWords, SESSION_OPTIONS } from "./onnx/session.js";

/** GEMM shape: C (m×n) = A (m×k) · B (k×n). */
export interface GemmShape {
  readonly m: number;
  readonly n: number;
  readonly k: number;
}

/** Execution providers a miner may ask for; 'cpu' is always available and is the fallback of the others. */
export type GemmExecutionProvider = "cpu" | "cuda" | "webgpu";

/** Names of the graph's values, shared by both models. */
export const GEMM_INPUT_A = "A";
export const GEMM_INPUT_B = "B";
export const GEMM_OUTPUT_C = "C";

/**
 * Largest element count of A, B or C: one float32 typed array of the binding (2^30 elements = 4 GiB), far above any
 * work shape (the largest seed-mode work is 8192×8192 outputs).
 */
const MAX_ELEMENTS = 2 ** 30;

function assertShape(shape: GemmShape): void {
  for (const name of ["m", "n", "k"] as const) {
    const value = shape[name];
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`GEMM ${name} must be a positive integer, got ${value}`);
    }
  }
  const { m, n, k } = shape;
  for (const [what, count] of [
    ["A (m×k)", m * k],
    ["B (k×n)", k * n],
    ["C (m×n)", m * n],
  ] as const) {
    if (count > MAX_ELEMENTS) throw new RangeError(`GEMM ${what} has ${count} elements, more than ${MAX_ELEMENTS}`);
  }
}

/** Multiply-accumulates of one GEMM. */
export function gemmMacs(shape: GemmShape): number {
  return shape.m * shape.n * shape.k;
}

/** Throughput of one GEMM of `shape` that took `ms` milliseconds. */
export function macsPerSecond(shape: GemmShape, ms: number): number {
  if (!(ms > 0)) throw new RangeError(`duration must be positive, got ${ms} ms`);
  return gemmMacs(shape) / (ms / 1000);
}

/**
 * The FP8 GEMM model (see the module comment): float32 inputs A, B, each through QuantizeLinear to FLOAT8E4M3FN
 * (y_scale 1, float8 zero point 0, saturate default 1) and DequantizeLinear back to float32, then MatMul to C.
 */
export function buildFp8GemmModel(shape: GemmShape): Uint8Array {
  assertShape(shape);
  const { m, n, k } = shape;
  const g = new GraphBuilder();
  const a = g.input(GEMM_INPUT_A, DataType.FLOAT, [m, k]);
  const b = g.input(GEMM_INPUT_B, DataType.FLOAT, [k, n]);
  const throughFp8 = fp8QuantizeDequantize(g);
  const [c] = g.node("MatMul", [throughFp8(a), throughFp8(b)], { outputs: [GEMM_OUTPUT_C], name: "gemm" });
  g.output(c!, DataType.FLOAT, [m, n]);
  return g.build({ graphName: `fp8_gemm_${m}x${n}x${k}` });
}

/** A plain float32 MatMul of the same shape and value names (the benchmark's baseline). */
export function buildFloat32GemmModel(shape: GemmShape): Uint8Array {
  assertShape(shape);
  const { m, n, k } = shape;
  const g = new GraphBuilder();
  const a = g.input(GEMM_INPUT_A, DataType.FLOAT, [m, k]);
  const b = g.input(GEMM_INPUT_B, DataType.FLOAT, [k, n]);
  const [c] = g.node("MatMul", [a, b], { outputs: [GEMM_OUTPUT_C], name: "gemm" });
  g.output(c!, DataType.FLOAT, [m, n]);
  return g.build({ graphName: `f32_gemm_${m}x${n}x${k}` });
}

/**
 * The CUDA provider runs float32 MatMul/Conv in TF32 (10-bit mantissa inputs) unless told otherwise, an error the
 * numerics contract does not cover; onnxruntime-node passes no `use_tf32` provider option, so TF32 is turned off for
 * the whole process with NVIDIA's documented switch, read by cuBLAS and cuDNN when they start. Untested here (no GPU).
 */
function disableTf32(warn: (message: string) => void): void {
  const current = process.env.NVIDIA_TF32_OVERRIDE;
  if (current !== undefined && current !== "0") {
    warn(
      `NVIDIA_TF32_OVERRIDE=${current} would allow TF32, which the numerics contract does not cover; setting it to 0`,
    );
  }
  process.env.NVIDIA_TF32_OVERRIDE = "0";
}

/** E4M3FN code → its exact float32 value; the NaN codes 0x7F/0xFF decode to NaN and are refused by the runner. */
export const E4M3FN_DECODE_TABLE: Readonly<Float32Array> = Float32Array.from({ length: 256 }, (_, code) =>
  fp8ToNumber(code, "e4m3fn"),
);

const DECODE = Float32Array.from(E4M3FN_DECODE_TABLE);

/**
 * Decodes row-major E4M3FN codes to float32 through {@link E4M3FN_DECODE_TABLE}; throws on a NaN code, naming the
 * matrix, index, row and column of the first one.
 */
export function decodeE4m3fnMatrix(codes: Uint8Array, name: string, columns: number): Float32Array {
  const out = new Float32Array(codes.length);
  // Branch-free NaN detection: ((code & 0x7f) + 1) & 0x80 is nonzero exactly for 0x7F and 0xFF.
  let nan = 0;
  for (let index = 0; index < codes.length; index++) {
    const code = codes[index]!;
    nan |= ((code & 0x7f) + 1) & 0x80;
    out[index] = DECODE[code]!;
  }
  if (nan !== 0) {
    const index = codes.findIndex((code) => (code & 0x7f) === 0x7f);
    const code = codes[index]!;
    const row = Math.floor(index / columns);
    throw new RangeError(
      `${name}[${index}] (row ${row}, column ${index % columns}) is E4M3FN code 0x${code.toString(16)} = NaN; ` +
        `GEMM inputs must be finite`,
    );
  }
  return out;
}

/** Session options that stop ORT's intra- and inter-op workers from spinning after a run (session config entries). */
export const NO_SPINNING: Readonly<ort.InferenceSession.SessionOptions> = {
  extra: { session: { intra_op: { allow_spinning: "0" }, inter_op: { allow_spinning: "0" } } },
};

/** Timings of one {@link Fp8GemmRunner.runTimed} call, in milliseconds. */
export interface GemmTimings {
  /** Code → float32 decoding and validation in JS. */
  readonly decodeMs: number;
  /** `session.run` (tensor transfer, Q/DQ, MatMul, output copy-out). */
  readonly computeMs: number;
  readonly totalMs: number;
}

export interface Fp8GemmRunnerOptions extends GemmShape {
  /** Requested provider (default 'cpu'); an unavailable one falls back to 'cpu' (see {@link Fp8GemmRunner.create}). */
  readonly executionProvider?: GemmExecutionProvider;
  /** ORT intra-op threads; default ORT's own choice (one per physical core). */
  readonly intraOpNumThreads?: number;
  /**
   * Let ORT's intra-op workers spin after a run (ORT's default, true). Spinning workers keep burning a core for tens
   * of milliseconds after every run (about 40 ms of CPU per ~1 ms 512×512×64 GEMM measured on 2 cores), which starves
   * whatever the miner does next on the same cores (commitment hashing, proving); turn it off there.
   */
  readonly allowSpinning?: boolean;
  /** Receives the fallback message; default `console.warn`. */
  readonly onFallback?: (message: string) => void;
}

/**
 * One ORT session of {@link buildFp8GemmModel} for one shape, reused by every {@link run}. Create one runner per work
 * shape and keep it; {@link release} frees the session.
 */
export class Fp8GemmRunner {
  private released = false;

  private constructor(
    readonly shape: GemmShape,
    private readonly session: ort.InferenceSession,
    /** The provider the session runs on. */
    readonly provider: GemmExecutionProvider,
    /** The provider that was asked for. */
    readonly requestedProvider: GemmExecutionProvider,
    /** Why the requested provider is not in use (undefined when it is). */
    readonly fallbackReason: string | undefined,
  ) {}

  /**
   * Builds the model and creates its session. For 'cuda' or 'webgpu', session creation is attempted on that provider
   * (ORT throws when the provider library or a device is missing: onnxruntime-node lists 'cuda' but does not bundle
   * it, see README); on failure the message is passed to `onFallback` and the session is created on 'cpu'. Check
   * {@link provider} for the provider in use.
   */
  static async create(options: Fp8GemmRunnerOptions): Promise<Fp8GemmRunner> {
    const shape: GemmShape = { m: options.m, n: options.n, k: options.k };
    const model = buildFp8GemmModel(shape);
    const requested = options.executionProvider ?? "cpu";
    if (!["cpu", "cuda", "webgpu"].includes(requested)) {
      throw new RangeError(`unknown execution provider ${String(requested)}; expected cpu, cuda or webgpu`);
    }
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      ...SESSION_OPTIONS,
      ...(options.intraOpNumThreads === undefined ? {} : { intraOpNumThreads: options.intraOpNumThreads }),
      ...(options.allowSpinning === false ? NO_SPINNING : {}),
    };
    let fallbackReason: string | undefined;
    if (requested === "cuda") disableTf32(options.onFallback ?? console.warn);
    if (requested !== "cpu") {
      const listed = ort.listSupportedBackends().find((b) => b.name === requested);
      if (listed === undefined) {
        fallbackReason = `execution provider '${requested}' is not supported by this onnxruntime-node build`;
      } else {
        try {
          const session = await ort.InferenceSession.create(model, {
            ...sessionOptions,
            executionProviders: [requested],
          });
          return new Fp8GemmRunner(shape, session, requested, requested, undefined);
        } catch (error) {
          const detail = error instanceof Error ? error.message : String(error);
          const hint = listed.bundled ? "" : " (not bundled with onnxruntime-node; see README: GPU miners)";
          fallbackReason = `execution provider '${requested}' is unavailable${hint}: ${detail.trim()}`;
        }
      }
      (options.onFallback ?? console.warn)(`${fallbackReason}; falling back to 'cpu'`);
    }
    const session = await ort.InferenceSession.create(model, { ...sessionOptions, executionProviders: ["cpu"] });
    return new Fp8GemmRunner(shape, session, "cpu", requested, fallbackReason);
  }

  /** C = A·B as float32 bit patterns (row-major m×n) for row-major E4M3FN codes A (m×k) and B (k×n). */
  async run(aCodes: Uint8Array, bCodes: Uint8Array): Promise<Uint32Array> {
    return (await this.runTimed(aCodes, bCodes)).c;
  }

  /** {@link run} with its timings. */
  async runTimed(aCodes: Uint8Array, bCodes: Uint8Array): Promise<{ c: Uint32Array; timings: GemmTimings }> {
    if (this.released) throw new Error("Fp8GemmRunner: session already released");
    const { m, n, k } = this.shape;
    const t0 = performance.now();
    for (const [name, codes, rows, cols] of [
      ["A", aCodes, m, k],
      ["B", bCodes, k, n],
    ] as const) {
      if (!(codes instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array of E4M3FN codes`);
      if (codes.length !== rows * cols) {
        throw new RangeError(`${name} has ${codes.length} codes, expected ${rows}×${cols} = ${rows * cols}`);
      }
    }
    const a = decodeE4m3fnMatrix(aCodes, "A", k);
    const b = decodeE4m3fnMatrix(bCodes, "B", n);
    const t1 = performance.now();
    const out = await this.session.run({
      [GEMM_INPUT_A]: new ort.Tensor("float32", a, [m, k]),
      [GEMM_INPUT_B]: new ort.Tensor("float32", b, [k, n]),
    });
    const t2 = performance.now();
    const c = float32OutputWords(out, GEMM_OUTPUT_C, [m, n]);
    return { c, timings: { decodeMs: t1 - t0, computeMs: t2 - t1, totalMs: performance.now() - t0 } };
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.session.release();
  }
}
