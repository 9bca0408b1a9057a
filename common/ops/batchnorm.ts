/**
 * Seed-mode FP8 batch normalisation (inference): y = (x − mean)·γ/√(var + ε) + β per channel, ε = 2^-5.
 *
 * The TypeScript reference of circuits/batchnorm_seed.circom and docs/ops/batchnorm.md: work shape and tiling, input
 * generation from the seed, the exact contract (bigint arithmetic only), tile words, commitment and proof input.
 *
 * Contract (all E4M3FN values as scaled integers in units of 2^-9: x = X·2^-9, mean = M·2^-9, var = V·2^-9, …):
 *   Q = 2·(|V| + 16)                          (var + ε = Q·2^-10, so 1/√(var + ε) = 2^5/√Q)
 *   R = ⌊2^40/√Q⌋                             (the circuit checks R²·Q ≤ 2^80 < (R + 1)²·Q)
 *   N = (X − M)·G·R + B·2^44                  (ŷ = N·2^-53)
 *   T = (|X| + |M|)·|G|·R + |B|·2^44
 *   a committed float32 y is correct iff it is finite, Y = y·2^71 is an integer, and |Y − 2^18·N| ≤ T.
 */
import { fp8ToScaled } from "../fp8.js";
import { decodeFloat32, roundScaledToFloat32Bits, toScaledInteger } from "../numerics.js";
import {
  commitTiles,
  matrixTileWords,
  seedProofInput,
  seedStream,
  type OutputTree,
  type SeedProofInput,
  type SeedProofParams,
  type TileGrid,
  type WorkShape,
  withoutNan,
  assertTile,
} from "../work.js";

/** Stream domains: x tiles (block = tile index) and channel parameters (block = column block). */
export const DOMAIN_BATCHNORM_X = 5n;
export const DOMAIN_BATCHNORM_PARAMS = 6n;

/** Fraction bits F of R = ⌊2^F/√Q⌋. */
export const BATCHNORM_FRACTION_BITS = 40;
/** Relative tolerance 2^-18 of T. */
export const BATCHNORM_TOLERANCE_SHIFT = 18;
/** N and T are in units of 2^-(13 + F) = 2^-53. */
export const BATCHNORM_VALUE_SHIFT = 13 + BATCHNORM_FRACTION_BITS;
/** Outputs are read on the grid 2^-71 (Y = y·2^71). */
export const BATCHNORM_GRID_SHIFT = BATCHNORM_VALUE_SHIFT + BATCHNORM_TOLERANCE_SHIFT;
/** ε = 2^-5 = 16·2^-9. */
export const BATCHNORM_EPSILON = 2 ** -5;
const EPSILON_UNITS = 16n;
const BETA_SHIFT = BigInt(BATCHNORM_VALUE_SHIFT - 9);

/** The tiling of one batch-norm circuit: tiles of tileRows rows × tileChannels channels. */
export interface BatchNormTiling extends TileGrid {
  readonly tileRows: number;
  readonly tileChannels: number;
}

/** circuits/main/batchnorm_seed_demo_1x2x4.circom: Fp8BatchNormSeedProof(1, 2, 4, 3, 3). */
export const BATCHNORM_DEMO_TILING: BatchNormTiling = {
  tileRows: 2,
  tileChannels: 4,
  maxRowBlocksLog2: 3,
  maxColBlocksLog2: 3,
};
export const BATCHNORM_DEMO_TILES_PER_PROOF = 1;

/** circuits/main/batchnorm_seed_2x12x8.circom: Fp8BatchNormSeedProof(2, 12, 8, 10, 10). */
export const BATCHNORM_PRODUCTION_TILING: BatchNormTiling = {
  tileRows: 12,
  tileChannels: 8,
  maxRowBlocksLog2: 10,
  maxColBlocksLog2: 10,
};
export const BATCHNORM_PRODUCTION_TILES_PER_PROOF = 2;

export interface BatchNormWork {
  readonly tiling: BatchNormTiling;
  readonly shape: WorkShape;
  /** rows = tileRows·2^rowBlocksLog2, channels = tileChannels·2^colBlocksLog2. */
  readonly rows: number;
  readonly channels: number;
}

export function defineBatchNormWork(tiling: BatchNormTiling, shape: WorkShape): BatchNormWork {
  const { tileRows, tileChannels } = tiling;
  if (!Number.isInteger(tileRows) || !Number.isInteger(tileChannels) || tileRows < 1 || tileChannels < 1) {
    throw new RangeError(`tile must be at least 1×1 with integer sides, got ${tileRows}×${tileChannels}`);
  }
  if (tileRows * tileChannels > 112) {
    throw new RangeError(`a tile of ${tileRows}×${tileChannels} words exceeds the 112-word leaf limit`);
  }
  const { rowBlocksLog2: dr, colBlocksLog2: dc } = shape;
  if (!Number.isInteger(dr) || dr < 0 || dr > tiling.maxRowBlocksLog2) {
    throw new RangeError(`rowBlocksLog2 must be an integer in [0, ${tiling.maxRowBlocksLog2}], got ${dr}`);
  }
  if (!Number.isInteger(dc) || dc < 0 || dc > tiling.maxColBlocksLog2) {
    throw new RangeError(`colBlocksLog2 must be an integer in [0, ${tiling.maxColBlocksLog2}], got ${dc}`);
  }
  return { tiling, shape, rows: tileRows * 2 ** dr, channels: tileChannels * 2 ** dc };
}

/** x tile (r, c): stream(seed, 5, c + 2^maxColBlocksLog2·r), tileRows × tileChannels codes, row-major. */
export async function batchNormInputTile(
  seed: bigint,
  work: BatchNormWork,
  rowBlock: number,
  colBlock: number,
): Promise<Uint8Array> {
  assertTile(work, rowBlock, colBlock);
  const { tileRows, tileChannels, maxColBlocksLog2 } = work.tiling;
  const block = colBlock + 2 ** maxColBlocksLog2 * rowBlock;
  return withoutNan(await seedStream(seed, DOMAIN_BATCHNORM_X, block, tileRows * tileChannels));
}

/** Channel parameters as E4M3FN codes, one per channel; `variance` codes are read as their magnitude. */
export interface BatchNormParams {
  readonly mean: Uint8Array;
  readonly variance: Uint8Array;
  readonly gamma: Uint8Array;
  readonly beta: Uint8Array;
}

/** Parameters of column block c: stream(seed, 6, c) = TN means ‖ TN variances ‖ TN γ ‖ TN β. */
export async function batchNormChannelParams(
  seed: bigint,
  tiling: BatchNormTiling,
  colBlock: number,
): Promise<BatchNormParams> {
  const tn = tiling.tileChannels;
  const bytes = withoutNan(await seedStream(seed, DOMAIN_BATCHNORM_PARAMS, colBlock, 4 * tn));
  return {
    mean: bytes.slice(0, tn),
    variance: bytes.slice(tn, 2 * tn),
    gamma: bytes.slice(2 * tn, 3 * tn),
    beta: bytes.slice(3 * tn, 4 * tn),
  };
}

/** A whole batch-norm problem: x (rows × channels, row-major codes) and one parameter set per channel. */
export interface BatchNormInputs extends BatchNormParams {
  readonly rows: number;
  readonly channels: number;
  readonly x: Uint8Array;
}

/** The whole work's inputs generated from the seed. */
export async function generateBatchNormInputs(seed: bigint, work: BatchNormWork): Promise<BatchNormInputs> {
  const { tileRows: tm, tileChannels: tn } = work.tiling;
  const x = new Uint8Array(work.rows * work.channels);
  const params = {
    mean: new Uint8Array(work.channels),
    variance: new Uint8Array(work.channels),
    gamma: new Uint8Array(work.channels),
    beta: new Uint8Array(work.channels),
  };
  for (let c = 0; c < 2 ** work.shape.colBlocksLog2; c++) {
    const block = await batchNormChannelParams(seed, work.tiling, c);
    for (const key of ["mean", "variance", "gamma", "beta"] as const) params[key].set(block[key], c * tn);
    for (let r = 0; r < 2 ** work.shape.rowBlocksLog2; r++) {
      const tile = await batchNormInputTile(seed, work, r, c);
      for (let i = 0; i < tm; i++) x.set(tile.subarray(i * tn, (i + 1) * tn), (r * tm + i) * work.channels + c * tn);
    }
  }
  return { rows: work.rows, channels: work.channels, x, ...params };
}

// ---------------------------------------------------------------------------------------------------------------
// Exact reference

/** ⌊√n⌋ for a non-negative bigint (Newton's method on integers). */
export function floorSqrt(n: bigint): bigint {
  if (n < 0n) throw new RangeError(`floorSqrt of a negative number ${n}`);
  if (n < 2n) return n;
  let x = 1n << BigInt(Math.ceil(n.toString(2).length / 2));
  for (;;) {
    const next = (x + n / x) >> 1n;
    if (next >= x) return x;
    x = next;
  }
}

/** Q = 2·(|V| + 16) for a variance code: var + ε = Q·2^-10. */
export function batchNormQ(varianceCode: number): bigint {
  const v = fp8ToScaled(varianceCode, "e4m3fn");
  return 2n * (BigInt(Math.abs(v)) + EPSILON_UNITS);
}

/** R = ⌊2^F/√Q⌋ = ⌊√⌊2^2F/Q⌋⌋ for a variance code. */
export function batchNormInverseSqrt(varianceCode: number): bigint {
  return floorSqrt((1n << BigInt(2 * BATCHNORM_FRACTION_BITS)) / batchNormQ(varianceCode));
}

/** N (ŷ·2^53) and T (the tolerance base, same units) of one output. */
export interface BatchNormExact {
  readonly n: bigint;
  readonly t: bigint;
}

/** Exact N and T for one output from its codes (none may be a NaN code). */
export function batchNormExact(
  xCode: number,
  meanCode: number,
  varianceCode: number,
  gammaCode: number,
  betaCode: number,
): BatchNormExact {
  const scaled = (code: number) => BigInt(fp8ToScaled(code, "e4m3fn"));
  const abs = (v: bigint) => (v < 0n ? -v : v);
  const [x, m, g, b] = [scaled(xCode), scaled(meanCode), scaled(gammaCode), scaled(betaCode)];
  const r = batchNormInverseSqrt(varianceCode);
  return {
    n: (x - m) * g * r + (b << BETA_SHIFT),
    t: (abs(x) + abs(m)) * abs(g) * r + (abs(b) << BETA_SHIFT),
  };
}

/** Result of checking one committed output: `error` = |Y − 2^18·N| and `bound` = T, both in units of 2^-71. */
export type BatchNormOutputCheck =
  | { readonly ok: true; readonly scaled: bigint; readonly error: bigint; readonly bound: bigint }
  | { readonly ok: false; readonly reason: "nan-or-inf" | "off-grid" }
  | {
      readonly ok: false;
      readonly reason: "out-of-tolerance";
      readonly scaled: bigint;
      readonly error: bigint;
      readonly bound: bigint;
    };

/** The contract for one committed float32 bit pattern. */
export function checkBatchNormOutput(word: number, exact: BatchNormExact): BatchNormOutputCheck {
  const decoded = decodeFloat32(word);
  if (decoded.kind !== "finite") return { ok: false, reason: "nan-or-inf" };
  const scaled = toScaledInteger(decoded, BATCHNORM_GRID_SHIFT);
  if (scaled === null) return { ok: false, reason: "off-grid" };
  const difference = scaled - (exact.n << BigInt(BATCHNORM_TOLERANCE_SHIFT));
  const error = difference < 0n ? -difference : difference;
  return error <= exact.t
    ? { ok: true, scaled, error, bound: exact.t }
    : { ok: false, reason: "out-of-tolerance", scaled, error, bound: exact.t };
}

function assertInputs(inputs: BatchNormInputs): void {
  const { rows, channels } = inputs;
  if (inputs.x.length !== rows * channels)
    throw new RangeError(`x must have ${rows}×${channels} codes, got ${inputs.x.length}`);
  for (const key of ["mean", "variance", "gamma", "beta"] as const) {
    if (inputs[key].length !== channels)
      throw new RangeError(`${key} must have ${channels} codes, got ${inputs[key].length}`);
  }
}

/** Exact N and T of every output, row-major rows × channels. */
export function batchNormExactAll(inputs: BatchNormInputs): BatchNormExact[] {
  assertInputs(inputs);
  const out: BatchNormExact[] = [];
  for (let i = 0; i < inputs.rows; i++) {
    for (let j = 0; j < inputs.channels; j++) {
      out.push(
        batchNormExact(
          inputs.x[i * inputs.channels + j]!,
          inputs.mean[j]!,
          inputs.variance[j]!,
          inputs.gamma[j]!,
          inputs.beta[j]!,
        ),
      );
    }
  }
  return out;
}

export interface BatchNormCheck {
  readonly ok: boolean;
  /** Every failing output (row-major index) with its reason. */
  readonly failures: { readonly index: number; readonly reason: string }[];
  /** max |Y − 2^18·N| / T over the outputs within tolerance or out of it (for reporting; ≤ 1 when correct). */
  readonly worstFractionOfBound: number;
}

/** Checks committed outputs (rows × channels float32 bit patterns, row-major) against the contract. */
export function checkBatchNorm(inputs: BatchNormInputs, y: Uint32Array): BatchNormCheck {
  const exact = batchNormExactAll(inputs);
  if (y.length !== exact.length) throw new RangeError(`y must have ${exact.length} words, got ${y.length}`);
  const failures: { index: number; reason: string }[] = [];
  let worst = 0;
  exact.forEach((e, index) => {
    const result = checkBatchNormOutput(y[index]!, e);
    if ("error" in result) {
      const fraction = result.bound === 0n ? (result.error === 0n ? 0 : Infinity) : ratio(result.error, result.bound);
      worst = Math.max(worst, fraction);
    }
    if (!result.ok) failures.push({ index, reason: result.reason });
  });
  return { ok: failures.length === 0, failures, worstFractionOfBound: worst };
}

/** a/b for non-negative bigints as a float64 (reporting only), without overflowing Number. */
function ratio(a: bigint, b: bigint): number {
  const shift = BigInt(Math.max(0, b.toString(2).length - 60));
  return Number(a >> shift) / Number(b >> shift);
}

/**
 * The miner's post-processing: a finite float32 that is not on the 2^-71 grid (only |y| < 2^-48 can be off it) is
 * replaced by the nearest grid point (ties to even), which is a float32 again; on-grid words, NaN and Inf pass
 * unchanged. Moves a value by at most 2^-72, which the contract absorbs (docs/ops/batchnorm.md).
 */
export function roundToBatchNormGrid(word: number): number {
  const decoded = decodeFloat32(word);
  if (decoded.kind !== "finite" || toScaledInteger(decoded, BATCHNORM_GRID_SHIFT) !== null) return word;
  // |y| < 2^-48 here: y·2^71 = significand·2^(exponent + 71) with exponent + 71 < 0.
  const dropped = BigInt(-(decoded.exponent + BATCHNORM_GRID_SHIFT));
  const half = 1n << (dropped - 1n);
  const remainder = decoded.significand & ((1n << dropped) - 1n);
  let units = decoded.significand >> dropped;
  if (remainder > half || (remainder === half && (units & 1n) === 1n)) units += 1n;
  return roundScaledToFloat32Bits(decoded.negative ? -units : units, BATCHNORM_GRID_SHIFT);
}

/**
 * Reference outputs independent of ORT: the float32 nearest to ŷ = N·2^-53, put on the grid. Within the contract
 * by construction (|y − ŷ| ≤ 2^-24·|ŷ| ≤ 2^-24·T·2^-53).
 */
export function referenceBatchNormOutputs(inputs: BatchNormInputs): Uint32Array {
  return Uint32Array.from(batchNormExactAll(inputs), ({ n }) =>
    roundToBatchNormGrid(roundScaledToFloat32Bits(n, BATCHNORM_VALUE_SHIFT)),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Commitment and proof input

/** The float32 words of tile (rowBlock, colBlock) of y (rows × channels, row-major), row-major. */
export function batchNormTileWords(
  y: Uint32Array,
  work: BatchNormWork,
  rowBlock: number,
  colBlock: number,
): Uint32Array {
  const { tileRows, tileChannels: tileCols } = work.tiling;
  const size = { rows: work.rows, columns: work.channels, tileRows, tileCols };
  return matrixTileWords(y, "y", work, size, rowBlock, colBlock);
}

/** The output commitment of a whole batch-norm work: one leaf per tile. */
export function commitBatchNormOutputs(y: Uint32Array, work: BatchNormWork): Promise<OutputTree> {
  return commitTiles(work, (r, c) => batchNormTileWords(y, work, r, c));
}

/**
 * The full witness input of Fp8BatchNormSeedProof for `tilesPerProof` challenged tiles. `outputs` (rows × channels
 * float32 words, grid-rounded) and `tree` must be the miner's committed ones.
 */
export function batchNormProofInput(
  params: SeedProofParams & { work: BatchNormWork; outputs: Uint32Array },
): Promise<SeedProofInput> {
  const { work, outputs } = params;
  return seedProofInput(params, "y", (r, c) => batchNormTileWords(outputs, work, r, c), work.tiling.tileChannels);
}
