/**
 * Seed-mode FP8 conv2d work (docs/ops/conv.md): the TypeScript reference of circuits/conv_seed.circom. How inputs and
 * weights are generated from a seed, the exact integer reference (im2col onto the exact GEMM sums of
 * common/numerics.ts), the contract check, the tile words, the commitment and the proof input.
 *
 * Conv2d is ONNX Conv in NCHW with symmetric padding, stride, dilation and groups. A tile is one whole output row
 * (all Wo pixels of row oh of image n) × TN output channels; row block r ↔ (n = ⌊r / Ho⌋, oh = r mod Ho), column
 * block c ↔ output channels c·TN … c·TN + TN − 1. Tile words are the Wo×TN float32 outputs, pixel-major
 * (word ow·TN + j is output channel c·TN + j at pixel ow).
 */
import { checkOutput, exactTile, type OutputFailure } from "../numerics.js";
import {
  commitTiles,
  seedProofInput,
  seedStream,
  type GridWork,
  type OutputTree,
  type SeedProofInput,
  type SeedProofParams,
  type TileGrid,
  type WorkShape,
  withoutNan,
  assertTile,
} from "../work.js";

/** Stream domain of input rows (channels of one group of one row of one image). */
export const DOMAIN_CONV_INPUT_ROWS = 3n;
/** Stream domain of weight column blocks (im2col K×TN matrices). */
export const DOMAIN_CONV_WEIGHT_COLUMNS = 4n;

/** Fixed parameters of a conv tile circuit (Fp8ConvSeedProof's template parameters, NT aside). */
export interface ConvTiling extends TileGrid {
  /** Input channels Cin. */
  readonly inChannels: number;
  /** Groups G: a power of two dividing Cin (ONNX Conv `group`). */
  readonly groups: number;
  readonly kernelHeight: number;
  readonly kernelWidth: number;
  readonly stride: number;
  /** Zero padding on all four sides. */
  readonly padding: number;
  readonly dilation: number;
  /** Input image height H and width W. */
  readonly inHeight: number;
  readonly inWidth: number;
  /** Output width Wo (must equal the ONNX output width). */
  readonly outWidth: number;
  /** log2 of the output height Ho (the ONNX output height must be a power of two). */
  readonly outHeightLog2: number;
  /** Output channels per tile TN. */
  readonly tileChannels: number;
}

/** The tiling of circuits/main/conv_seed_c8_k3_h8w8_tn8.circom. */
export const CONV_PRODUCTION_TILING: ConvTiling = {
  inChannels: 8,
  groups: 1,
  kernelHeight: 3,
  kernelWidth: 3,
  stride: 1,
  padding: 1,
  dilation: 1,
  inHeight: 8,
  inWidth: 8,
  outWidth: 8,
  outHeightLog2: 3,
  tileChannels: 8,
  maxRowBlocksLog2: 10,
  maxColBlocksLog2: 6,
};

/** The tiling of circuits/main/conv_seed_demo_c2g2_k3s2_h4w4_tn2.circom. */
export const CONV_DEMO_TILING: ConvTiling = {
  inChannels: 2,
  groups: 2,
  kernelHeight: 3,
  kernelWidth: 3,
  stride: 2,
  padding: 1,
  dilation: 1,
  inHeight: 4,
  inWidth: 4,
  outWidth: 2,
  outHeightLog2: 1,
  tileChannels: 2,
  maxRowBlocksLog2: 3,
  maxColBlocksLog2: 3,
};

/** A conv work: its tiling, its grid shape and the sizes they imply. */
export interface ConvWork extends GridWork {
  readonly tiling: ConvTiling;
  readonly shape: WorkShape;
  /** N = 2^(dr − log2 Ho) images. */
  readonly images: number;
  /** Cout = TN·2^dc output channels. */
  readonly outChannels: number;
  readonly outHeight: number;
  readonly outWidth: number;
  /** Cg = Cin / G input channels per group. */
  readonly groupChannels: number;
  /** Dot-product length K = Cg·kh·kw. */
  readonly depth: number;
}

/** Output size along one axis: ⌊(in + 2·p − d·(k − 1) − 1) / s⌋ + 1 (ONNX Conv with symmetric pads). */
export function convOutputSize(input: number, kernel: number, stride: number, padding: number, dilation: number) {
  return Math.floor((input + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1;
}

function log2Exact(value: number): number | null {
  const log = Math.round(Math.log2(value));
  return 2 ** log === value ? log : null;
}

/** Checks a tiling against every assertion of Fp8ConvSeedProof; throws a RangeError naming the first violation. */
export function validateConvTiling(tiling: ConvTiling): void {
  const positive = [
    "inChannels",
    "groups",
    "kernelHeight",
    "kernelWidth",
    "stride",
    "dilation",
    "inHeight",
    "inWidth",
    "outWidth",
    "tileChannels",
    "maxRowBlocksLog2",
    "maxColBlocksLog2",
  ] as const;
  for (const name of positive) {
    const value = tiling[name];
    if (!Number.isSafeInteger(value) || value < 1)
      throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  for (const name of ["padding", "outHeightLog2"] as const) {
    const value = tiling[name];
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be an integer ≥ 0, got ${value}`);
  }
  const t = tiling;
  const logGroups = log2Exact(t.groups);
  if (logGroups === null || t.inChannels % t.groups !== 0) {
    throw new RangeError(`groups must be a power of two dividing inChannels (${t.inChannels}), got ${t.groups}`);
  }
  const wo = convOutputSize(t.inWidth, t.kernelWidth, t.stride, t.padding, t.dilation);
  if (wo !== t.outWidth) throw new RangeError(`outWidth must be the conv output width ${wo}, got ${t.outWidth}`);
  const ho = convOutputSize(t.inHeight, t.kernelHeight, t.stride, t.padding, t.dilation);
  if (ho !== 2 ** t.outHeightLog2) {
    throw new RangeError(`the conv output height ${ho} must be 2^outHeightLog2 = ${2 ** t.outHeightLog2}`);
  }
  if (t.outWidth * t.tileChannels > 112) {
    throw new RangeError(`a tile of outWidth × tileChannels = ${t.outWidth * t.tileChannels} words exceeds 112`);
  }
  if (t.outHeightLog2 > t.maxRowBlocksLog2) throw new RangeError(`outHeightLog2 exceeds maxRowBlocksLog2`);
  if (logGroups > t.maxColBlocksLog2) throw new RangeError(`log2(groups) exceeds maxColBlocksLog2`);
  if (t.maxRowBlocksLog2 + t.maxColBlocksLog2 > 64) throw new RangeError(`the grid is limited to 64 index bits`);
  const depth = (t.inChannels / t.groups) * t.kernelHeight * t.kernelWidth;
  if (depth > 2 ** 18) throw new RangeError(`K = Cg·kh·kw = ${depth} exceeds the contract check's 2^18`);
  for (let dh = 0; dh < t.kernelHeight; dh++) {
    if (!Array.from({ length: ho }, (_, oh) => inputRow(t, oh, dh)).some((h) => h >= 0 && h < t.inHeight)) {
      throw new RangeError(`kernel row ${dh} reads only padding for every output row`);
    }
  }
}

/** Input row read by output row oh through kernel row dh (outside [0, inHeight) it is padding). */
function inputRow(tiling: ConvTiling, oh: number, dh: number): number {
  return oh * tiling.stride - tiling.padding + dh * tiling.dilation;
}

/** Input column read by output column ow through kernel column dw. */
function inputColumn(tiling: ConvTiling, ow: number, dw: number): number {
  return ow * tiling.stride - tiling.padding + dw * tiling.dilation;
}

/**
 * A conv work on `tiling` with 2^dr output rows (N = 2^dr / Ho images) and 2^dc column blocks (Cout = TN·2^dc).
 * Requires dr ≥ log2 Ho (whole images) and dc ≥ log2 G: ONNX puts output channel co in group ⌊co / (Cout/G)⌋, and a
 * column block must lie in one group, so Cout/G must be a multiple of TN.
 */
export function defineConvWork(tiling: ConvTiling, shape: WorkShape): ConvWork {
  validateConvTiling(tiling);
  const { rowBlocksLog2: dr, colBlocksLog2: dc } = shape;
  const logGroups = log2Exact(tiling.groups)!;
  if (!Number.isInteger(dr) || dr < tiling.outHeightLog2 || dr > tiling.maxRowBlocksLog2) {
    throw new RangeError(
      `rowBlocksLog2 must be an integer in [${tiling.outHeightLog2}, ${tiling.maxRowBlocksLog2}] ` +
        `(whole images of 2^${tiling.outHeightLog2} output rows), got ${dr}`,
    );
  }
  if (!Number.isInteger(dc) || dc < logGroups || dc > tiling.maxColBlocksLog2) {
    throw new RangeError(
      `colBlocksLog2 must be an integer in [${logGroups}, ${tiling.maxColBlocksLog2}] ` +
        `(each of the ${tiling.groups} groups must hold whole blocks of ${tiling.tileChannels} output channels), got ${dc}`,
    );
  }
  const groupChannels = tiling.inChannels / tiling.groups;
  return {
    tiling,
    shape,
    images: 2 ** (dr - tiling.outHeightLog2),
    outChannels: tiling.tileChannels * 2 ** dc,
    outHeight: 2 ** tiling.outHeightLog2,
    outWidth: tiling.outWidth,
    groupChannels,
    depth: groupChannels * tiling.kernelHeight * tiling.kernelWidth,
  };
}

/** Group of column block c: ⌊c / 2^(dc − log2 G)⌋ (its output channels' ONNX group). */
export function groupOfColumnBlock(work: ConvWork, colBlock: number): number {
  return Math.floor(colBlock / (2 ** work.shape.colBlocksLog2 / work.tiling.groups));
}

/** Stream block of input row h of image n, group g: (n·H + h)·G + g. */
export function inputRowBlock(tiling: ConvTiling, image: number, row: number, group: number): number {
  return (image * tiling.inHeight + row) * tiling.groups + group;
}

/** Channels g·Cg … g·Cg + Cg − 1 of input row h of image n: Cg×W E4M3FN codes, layout [ci][w]. */
export async function convInputRow(
  seed: bigint,
  tiling: ConvTiling,
  image: number,
  row: number,
  group: number,
): Promise<Uint8Array> {
  const length = (tiling.inChannels / tiling.groups) * tiling.inWidth;
  return withoutNan(await seedStream(seed, DOMAIN_CONV_INPUT_ROWS, inputRowBlock(tiling, image, row, group), length));
}

/** Column block c of the weights as an im2col K×TN matrix (row k = (ci·kh + dh)·kw + dw), row-major codes. */
export async function convWeightBlock(seed: bigint, tiling: ConvTiling, colBlock: number): Promise<Uint8Array> {
  const depth = (tiling.inChannels / tiling.groups) * tiling.kernelHeight * tiling.kernelWidth;
  return withoutNan(await seedStream(seed, DOMAIN_CONV_WEIGHT_COLUMNS, colBlock, depth * tiling.tileChannels));
}

/** The whole work's tensors as E4M3FN codes: x is [N, Cin, H, W], weights are ONNX [Cout, Cg, kh, kw]. */
export interface ConvInputs {
  readonly x: Uint8Array;
  readonly weights: Uint8Array;
}

/** Generates every input row and weight block of `work` from `seed`, in ONNX layouts. */
export async function generateConvInputs(seed: bigint, work: ConvWork): Promise<ConvInputs> {
  const t = work.tiling;
  const [cg, h, w] = [work.groupChannels, t.inHeight, t.inWidth];
  const x = new Uint8Array(work.images * t.inChannels * h * w);
  for (let n = 0; n < work.images; n++) {
    for (let row = 0; row < h; row++) {
      for (let g = 0; g < t.groups; g++) {
        const codes = await convInputRow(seed, t, n, row, g);
        for (let ci = 0; ci < cg; ci++) {
          x.set(codes.subarray(ci * w, (ci + 1) * w), ((n * t.inChannels + g * cg + ci) * h + row) * w);
        }
      }
    }
  }
  // ONNX [Cout, Cg, kh, kw] flattened per output channel is exactly the im2col row index k = (ci·kh + dh)·kw + dw.
  const tn = t.tileChannels;
  const weights = new Uint8Array(work.outChannels * work.depth);
  for (let c = 0; c < 2 ** work.shape.colBlocksLog2; c++) {
    const block = await convWeightBlock(seed, t, c);
    for (let k = 0; k < work.depth; k++) {
      for (let j = 0; j < tn; j++) weights[(c * tn + j) * work.depth + k] = block[k * tn + j]!;
    }
  }
  return { x, weights };
}

/** Exact sums of every output, NCHW [N, Cout, Ho, Wo]: S (`dot`) and T (`absDot`) in units of 2^-18. */
export interface ConvExact {
  readonly dot: bigint[];
  readonly absDot: bigint[];
}

/**
 * The exact integer conv of E4M3FN codes x [N, Cin, H, W] and weights [Cout, Cg, kh, kw], via im2col: for each image
 * and group, A = the (Ho·Wo)×K patch matrix (zeros at padding) and B = the K×(Cout/G) weight matrix, then the exact
 * GEMM sums of common/numerics.ts (bigint). Independent of the circuit's wiring.
 */
export function exactConv(inputs: ConvInputs, work: ConvWork): ConvExact {
  const t = work.tiling;
  const [cg, k, ho, wo] = [work.groupChannels, work.depth, work.outHeight, work.outWidth];
  const perGroup = work.outChannels / t.groups;
  if (inputs.x.length !== work.images * t.inChannels * t.inHeight * t.inWidth) {
    throw new RangeError(`x has ${inputs.x.length} codes, expected N·Cin·H·W`);
  }
  if (inputs.weights.length !== work.outChannels * k) {
    throw new RangeError(`weights has ${inputs.weights.length} codes, expected Cout·Cg·kh·kw`);
  }
  const dot = new Array<bigint>(work.images * work.outChannels * ho * wo);
  const absDot = new Array<bigint>(dot.length);
  for (let n = 0; n < work.images; n++) {
    for (let g = 0; g < t.groups; g++) {
      // Code 0x00 is +0: padding positions stay 0 in the patch matrix.
      const a = new Uint8Array(ho * wo * k);
      for (let oh = 0; oh < ho; oh++) {
        for (let ow = 0; ow < wo; ow++) {
          for (let ci = 0; ci < cg; ci++) {
            for (let dh = 0; dh < t.kernelHeight; dh++) {
              for (let dw = 0; dw < t.kernelWidth; dw++) {
                const [h, w] = [inputRow(t, oh, dh), inputColumn(t, ow, dw)];
                if (h < 0 || h >= t.inHeight || w < 0 || w >= t.inWidth) continue;
                const source = ((n * t.inChannels + g * cg + ci) * t.inHeight + h) * t.inWidth + w;
                a[(oh * wo + ow) * k + (ci * t.kernelHeight + dh) * t.kernelWidth + dw] = inputs.x[source]!;
              }
            }
          }
        }
      }
      const b = new Uint8Array(k * perGroup);
      for (let j = 0; j < perGroup; j++) {
        for (let kk = 0; kk < k; kk++) b[kk * perGroup + j] = inputs.weights[(g * perGroup + j) * k + kk]!;
      }
      const exact = exactTile(a, b, ho * wo, perGroup, k, "e4m3fn");
      for (let p = 0; p < ho * wo; p++) {
        for (let j = 0; j < perGroup; j++) {
          const out = ((n * work.outChannels + g * perGroup + j) * ho + Math.floor(p / wo)) * wo + (p % wo);
          dot[out] = exact.dot[p * perGroup + j]!;
          absDot[out] = exact.absDot[p * perGroup + j]!;
        }
      }
    }
  }
  return { dot, absDot };
}

/** One failing output of a conv work: its NCHW coordinates and the contract's reason. */
export type ConvFailure = {
  readonly n: number;
  readonly co: number;
  readonly oh: number;
  readonly ow: number;
} & OutputFailure;

/** Result of checking a whole conv output against the contract. */
export interface ConvCheck {
  readonly ok: boolean;
  readonly failures: ConvFailure[];
  /** max over outputs reaching rule (3) of error/bound = 512·|C − S| / T (≤ 1 inside the contract; 0 when T = 0). */
  readonly worstErrorToBound: number;
}

/**
 * Whether committed outputs y (NCHW float32 bit patterns) are within the numerics contract — the GEMM contract
 * |X − 512·S| ≤ T per output (docs/numerics.md) — against the exact sums.
 */
export function checkConvOutputs(y: Uint32Array, exact: ConvExact, work: ConvWork): ConvCheck {
  if (y.length !== exact.dot.length) throw new RangeError(`y has ${y.length} words, expected ${exact.dot.length}`);
  const failures: ConvFailure[] = [];
  let worstErrorToBound = 0;
  const [cout, ho, wo] = [work.outChannels, work.outHeight, work.outWidth];
  for (let index = 0; index < y.length; index++) {
    const result = checkOutput(y[index]!, exact.dot[index]!, exact.absDot[index]!, "e4m3fn");
    if (result.ok || result.reason === "out-of-tolerance") {
      const ratio =
        result.bound === 0n ? (result.error === 0n ? 0 : Infinity) : Number(result.error) / Number(result.bound);
      worstErrorToBound = Math.max(worstErrorToBound, ratio);
    }
    if (!result.ok) {
      const ow = index % wo;
      const oh = Math.floor(index / wo) % ho;
      const co = Math.floor(index / (wo * ho)) % cout;
      failures.push({ n: Math.floor(index / (wo * ho * cout)), co, oh, ow, ...result });
    }
  }
  return { ok: failures.length === 0, failures, worstErrorToBound };
}

/** The words of tile (r, c) of y (NCHW float32 bit patterns): Wo×TN, word ow·TN + j = y[n][c·TN + j][oh][ow]. */
export function convTileWords(y: Uint32Array, work: ConvWork, rowBlock: number, colBlock: number): Uint32Array {
  const expected = work.images * work.outChannels * work.outHeight * work.outWidth;
  if (y.length !== expected) throw new RangeError(`y must have N·Cout·Ho·Wo = ${expected} words, got ${y.length}`);
  assertTile(work, rowBlock, colBlock);
  const [tn, ho, wo] = [work.tiling.tileChannels, work.outHeight, work.outWidth];
  const n = Math.floor(rowBlock / ho);
  const oh = rowBlock % ho;
  const words = new Uint32Array(wo * tn);
  for (let ow = 0; ow < wo; ow++) {
    for (let j = 0; j < tn; j++)
      words[ow * tn + j] = y[((n * work.outChannels + colBlock * tn + j) * ho + oh) * wo + ow]!;
  }
  return words;
}

/** The output commitment of a whole conv work (y NCHW float32 bit patterns): one leaf per tile. */
export function commitConvOutputs(y: Uint32Array, work: ConvWork): Promise<OutputTree> {
  return commitTiles(work, (r, c) => convTileWords(y, work, r, c));
}

/**
 * The full witness input of Fp8ConvSeedProof for `tilesPerProof` challenged tiles. `outputs` (NCHW float32 bit
 * patterns) and `tree` must be the miner's committed ones.
 */
export function convProofInput(
  params: SeedProofParams & { work: ConvWork; outputs: Uint32Array },
): Promise<SeedProofInput> {
  const { work, outputs } = params;
  return seedProofInput(params, "y", (r, c) => convTileWords(outputs, work, r, c), work.tiling.tileChannels);
}
