/**
 * The files of a useful-work job (docs/jobs.md "Files and content addresses"): the model (a JSON manifest holding a
 * linear layer's E4M3FN weights), the input (raw M×K E4M3FN codes) and the outputs (raw M×N float32, little-endian).
 * Everything a requester, a miner and the data server read from another party is parsed here, strictly.
 */
import { createHash } from "node:crypto";
import { decodeFp8, encodeFp8 } from "./fp8.js";
import { Prng } from "./prng.js";
import type { GemmTiling, WorkShape } from "./work.js";

export const JOB_MODEL_FORMAT = "demle-job-model/1";
/** Largest model file anyone fetches (a K×N weight matrix in base64 plus a small header). */
export const MAX_MODEL_BYTES = 16 * 1024 * 1024;

/** A linear layer Y = X·W (a pointwise convolution when X's rows are the pixels of an NHWC image). */
export interface JobModel {
  readonly format: typeof JOB_MODEL_FORMAT;
  readonly op: "linear";
  /** The job circuit (miner/job-circuits.ts JOB_CIRCUITS key) the model was laid out for. */
  readonly jobKind: string;
  /** K */
  readonly inFeatures: number;
  /** N */
  readonly outFeatures: number;
  /** K×N E4M3FN codes, row-major. */
  readonly weights: Uint8Array;
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
    inFeatures: model.inFeatures,
    outFeatures: model.outFeatures,
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
  const expected = ["format", "op", "jobKind", "inFeatures", "outFeatures", "weights"];
  const unknown = Object.keys(fields).filter((key) => !expected.includes(key));
  if (unknown.length > 0) throw bad(`unknown field(s) ${unknown.join(", ")}`);
  if (fields.format !== JOB_MODEL_FORMAT) throw bad(`format must be "${JOB_MODEL_FORMAT}"`);
  if (fields.op !== "linear") throw bad(`op must be "linear" (the only op jobs support)`);
  if (typeof fields.jobKind !== "string" || fields.jobKind === "") throw bad("jobKind must be a non-empty string");
  const dimension = (key: string): number => {
    const value = fields[key];
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1 || value > 1 << 20) {
      throw bad(`${key} must be an integer in [1, 2^20]`);
    }
    return value;
  };
  const inFeatures = dimension("inFeatures");
  const outFeatures = dimension("outFeatures");
  if (typeof fields.weights !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(fields.weights)) {
    throw bad("weights must be base64");
  }
  const weights = new Uint8Array(Buffer.from(fields.weights, "base64"));
  if (weights.length !== inFeatures * outFeatures) {
    throw bad(`weights hold ${weights.length} codes, not inFeatures × outFeatures = ${inFeatures * outFeatures}`);
  }
  assertFiniteCodes(weights, `model ${source}'s weights`, outFeatures);
  return { format: JOB_MODEL_FORMAT, op: "linear", jobKind: fields.jobKind, inFeatures, outFeatures, weights };
}

/**
 * The work shape of an M×K input for a model under a job circuit's tiling: M must be TM·2^dr and N = TN·2^dc, with K
 * the circuit's inner dimension and the grid within its bounds.
 */
export function jobShape(tiling: GemmTiling, model: JobModel, inputBytes: number): WorkShape {
  if (model.inFeatures !== tiling.depth) {
    throw new Error(
      `the model has ${model.inFeatures} input features; this job kind's circuit takes K = ${tiling.depth}`,
    );
  }
  if (inputBytes % model.inFeatures !== 0) {
    throw new Error(`the input has ${inputBytes} bytes, not a whole number of rows of K = ${model.inFeatures} codes`);
  }
  const log2Blocks = (total: number, tile: number, what: string, max: number): number => {
    const blocks = total / tile;
    const log2 = Math.log2(blocks);
    if (!Number.isInteger(blocks) || !Number.isInteger(log2) || log2 > max) {
      throw new Error(
        `${what} = ${total} must be ${tile}·2^d with d ≤ ${max} for this job kind (pad the input with zero rows)`,
      );
    }
    return log2;
  };
  return {
    rowBlocksLog2: log2Blocks(
      inputBytes / model.inFeatures,
      tiling.tileRows,
      "the input's rows M",
      tiling.maxRowBlocksLog2,
    ),
    colBlocksLog2: log2Blocks(model.outFeatures, tiling.tileCols, "the model's outFeatures N", tiling.maxColBlocksLog2),
  };
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
 * A small example job: a pointwise (1×1) convolution of a height×width image with `inChannels` channels (NHWC, so
 * the input's rows are pixels) to `outChannels` channels. The image is a smooth pattern plus noise and the weights
 * are small random values, all quantized to E4M3FN (saturating).
 */
export function exampleJob(options: {
  jobKind: string;
  height: number;
  width: number;
  inChannels: number;
  outChannels: number;
  seed: number;
}): { model: JobModel; input: Uint8Array } {
  const { height, width, inChannels, outChannels } = options;
  const prng = new Prng(options.seed);
  const input = new Uint8Array(height * width * inChannels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < inChannels; c++) {
        const pattern = Math.sin((x + 1) * (c + 1) * 0.37) * Math.cos((y + 1) * 0.51) * 4;
        const value = pattern + (prng.nextU32() / 2 ** 32 - 0.5);
        input[(y * width + x) * inChannels + c] = encodeFp8(value, "e4m3fn", true);
      }
    }
  }
  const scale = 1 / Math.sqrt(inChannels);
  const weights = Uint8Array.from({ length: inChannels * outChannels }, () =>
    encodeFp8((prng.nextU32() / 2 ** 32 - 0.5) * 2 * scale, "e4m3fn", true),
  );
  return {
    model: {
      format: JOB_MODEL_FORMAT,
      op: "linear",
      jobKind: options.jobKind,
      inFeatures: inChannels,
      outFeatures: outChannels,
      weights,
    },
    input,
  };
}
