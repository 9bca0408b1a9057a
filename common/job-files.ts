/**
 * The files of a useful-work job (docs/jobs.md "Files and content addresses"): the model (a JSON manifest holding a
 * linear layer's E4M3FN weights), the input (raw M×K E4M3FN codes) and the outputs (raw M×N float32, little-endian).
 * Everything a requester, a miner and the data server read from another party is parsed here, strictly.
 */
import { createHash } from "node:crypto";
import { decodeFp8, encodeFp8 } from "./fp8.js";
import { Prng } from "./prng.js";

export const JOB_MODEL_FORMAT = "demle-job-model/1";
/** Largest model file anyone fetches (a K×N weight matrix in base64 plus a small header). */
export const MAX_MODEL_BYTES = 16 * 1024 * 1024;

/**
 * A job's model: one FP8 layer and its E4M3FN weights.
 * - `linear`: Y = X·W, weights K×N row-major (K = inChannels, N = outChannels); X's rows are tokens, or the pixels
 *   of an NHWC image (a pointwise convolution).
 * - `conv2d`: a k×k convolution, stride 1, "same" zero padding (k − 1)/2, one group; weights in ONNX layout
 *   [outChannels, inChannels, k, k]; X and Y are NCHW.
 * - `batchnorm`: inference batch normalisation of rows × channels (inChannels = outChannels); weights are 4 rows of
 *   channels codes: mean, variance (read as its magnitude), γ, β (common/job-commitment.ts BATCHNORM_JOB_PARAMETERS).
 */
export type JobModel = {
  readonly format: typeof JOB_MODEL_FORMAT;
  /** The job circuit (miner/job-circuits.ts JOB_CIRCUITS key) the model was laid out for. */
  readonly jobKind: string;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly weights: Uint8Array;
} & ({ readonly op: "linear" | "batchnorm" } | { readonly op: "conv2d"; readonly kernelSize: number });

/** The number of weight codes of a model. */
export function weightCount(model: Pick<JobModel, "op" | "inChannels" | "outChannels"> & { kernelSize?: number }) {
  if (model.op === "batchnorm") return 4 * model.outChannels;
  const k = model.op === "conv2d" ? model.kernelSize! : 1;
  return model.inChannels * model.outChannels * k * k;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Refuses NaN codes (0x7F, 0xFF): the numerics contract and the job circuit accept finite inputs only. */
export function assertFiniteCodes(codes: Uint8Array, what: string, columns: number): void {
  for (let index = 0; index < codes.length; index++) {
    if (decodeFp8(codes[index]!, "e4m3fn").kind !== "finite") {
      throw new Error(
        `${what} holds the E4M3FN NaN code 0x${codes[index]!.toString(16)} at row ${Math.floor(index / columns)}, ` +
          `column ${index % columns}; job inputs must be finite`,
      );
    }
  }
}

/** The model file's bytes (canonical JSON, so its sha256 — the on-chain modelHash — is reproducible). */
export function serializeJobModel(model: JobModel): Uint8Array {
  const json = JSON.stringify({
    format: model.format,
    op: model.op,
    jobKind: model.jobKind,
    inChannels: model.inChannels,
    outChannels: model.outChannels,
    ...(model.op === "conv2d" ? { kernelSize: model.kernelSize } : {}),
    weights: Buffer.from(model.weights).toString("base64"),
  });
  return new TextEncoder().encode(`${json}\n`);
}

/** Parses and checks a model file; `source` names it in errors. */
export function parseJobModel(bytes: Uint8Array, source: string): JobModel {
  const bad = (why: string) => new Error(`model ${source}: ${why}`);
  if (bytes.length > MAX_MODEL_BYTES) throw bad(`${bytes.length} bytes, more than ${MAX_MODEL_BYTES}`);
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (error) {
    throw bad(`not JSON (${(error as Error).message})`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw bad("not a JSON object");
  const fields = raw as Record<string, unknown>;
  if (fields.format !== JOB_MODEL_FORMAT) throw bad(`format must be "${JOB_MODEL_FORMAT}"`);
  if (fields.op !== "linear" && fields.op !== "conv2d" && fields.op !== "batchnorm") {
    throw bad(`op must be "linear", "conv2d" or "batchnorm"`);
  }
  const expected = ["format", "op", "jobKind", "inChannels", "outChannels", "weights"];
  if (fields.op === "conv2d") expected.push("kernelSize");
  const unknown = Object.keys(fields).filter((key) => !expected.includes(key));
  if (unknown.length > 0) throw bad(`unknown field(s) ${unknown.join(", ")} for op ${fields.op}`);
  if (typeof fields.jobKind !== "string" || fields.jobKind === "") throw bad("jobKind must be a non-empty string");
  const dimension = (key: string, max: number): number => {
    const value = fields[key];
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1 || value > max) {
      throw bad(`${key} must be an integer in [1, ${max}]`);
    }
    return value;
  };
  const inChannels = dimension("inChannels", 1 << 20);
  const outChannels = dimension("outChannels", 1 << 20);
  const kernelSize = fields.op === "conv2d" ? dimension("kernelSize", 15) : 1;
  if (kernelSize % 2 === 0) throw bad("kernelSize must be odd (same padding)");
  if (typeof fields.weights !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(fields.weights)) {
    throw bad("weights must be base64");
  }
  const weights = new Uint8Array(Buffer.from(fields.weights, "base64"));
  const layer =
    fields.op === "conv2d" ? ({ op: "conv2d", kernelSize } as const) : { op: fields.op as "linear" | "batchnorm" };
  const count = weightCount({ ...layer, inChannels, outChannels });
  if (weights.length !== count) throw bad(`weights hold ${weights.length} codes, not ${count}`);
  assertFiniteCodes(
    weights,
    `model ${source}'s weights`,
    fields.op === "conv2d" ? kernelSize * kernelSize : outChannels,
  );
  return { format: JOB_MODEL_FORMAT, jobKind: fields.jobKind, inChannels, outChannels, weights, ...layer };
}

/** Output words (float32 bit patterns) as the file's little-endian bytes. */
export function outputsToBytes(words: Uint32Array): Uint8Array {
  const bytes = new Uint8Array(words.length * 4);
  const view = new DataView(bytes.buffer);
  words.forEach((word, i) => view.setUint32(4 * i, word, true));
  return bytes;
}

/** An output file's words; `expectedWords` is M·N. */
export function outputsFromBytes(bytes: Uint8Array, expectedWords: number, what: string): Uint32Array {
  if (bytes.length !== expectedWords * 4) {
    throw new Error(`${what} has ${bytes.length} bytes, not M·N·4 = ${expectedWords * 4}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Uint32Array.from({ length: expectedWords }, (_, i) => view.getUint32(4 * i, true));
}

/**
 * A small example job for a CNN layer: an image (a smooth pattern plus noise) and weights, quantized to E4M3FN
 * (saturating).
 * - `linear`: a pointwise (1×1) convolution; the input is the height×width image in NHWC (rows are pixels).
 * - `conv2d`: a kernelSize×kernelSize convolution; the input is `images` images in NCHW.
 * - `batchnorm`: the image in NHWC normalised per channel (inChannels = outChannels) with running statistics near
 *   the image's and γ, β near 1 and 0.
 */
export function exampleJob(options: {
  jobKind: string;
  op: "linear" | "conv2d" | "batchnorm";
  images: number;
  height: number;
  width: number;
  inChannels: number;
  outChannels: number;
  kernelSize: number;
  seed: number;
}): { model: JobModel; input: Uint8Array } {
  const { images, height, width, inChannels, outChannels } = options;
  const prng = new Prng(options.seed);
  const noise = () => prng.nextU32() / 2 ** 32 - 0.5;
  const fp8 = (value: number) => encodeFp8(value, "e4m3fn", true);
  const input = new Uint8Array(images * height * width * inChannels);
  for (let n = 0; n < images; n++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        for (let c = 0; c < inChannels; c++) {
          const value = Math.sin((x + 1) * (c + 1) * 0.37 + n) * Math.cos((y + 1) * 0.51) * 4 + noise();
          const index =
            options.op === "conv2d"
              ? ((n * inChannels + c) * height + y) * width + x
              : ((n * height + y) * width + x) * inChannels + c;
          input[index] = fp8(value);
        }
      }
    }
  }
  const base = { format: JOB_MODEL_FORMAT, jobKind: options.jobKind, inChannels, outChannels } as const;
  if (options.op === "batchnorm") {
    const channel = (make: () => number) => Array.from({ length: outChannels }, () => fp8(make()));
    const weights = Uint8Array.from([
      ...channel(() => noise() * 0.5),
      ...channel(() => 4 + noise() * 2),
      ...channel(() => 1 + noise() * 0.5),
      ...channel(() => noise() * 0.5),
    ]);
    return { model: { ...base, op: "batchnorm", weights }, input };
  }
  const kernel = options.op === "conv2d" ? options.kernelSize : 1;
  const scale = 1 / Math.sqrt(inChannels * kernel * kernel);
  const weights = Uint8Array.from({ length: inChannels * outChannels * kernel * kernel }, () =>
    fp8(noise() * 2 * scale),
  );
  const layer = options.op === "conv2d" ? ({ op: "conv2d", kernelSize: kernel } as const) : ({ op: "linear" } as const);
  return { model: { ...base, weights, ...layer }, input };
}
