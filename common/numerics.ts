/**
 * The DEMLE numerics contract (docs/numerics.md): when is a committed float32 output of an FP8 GEMM correct?
 *
 * For FP8 inputs with value unit u (E4M3FN 2^-9, E5M2 2^-16) every product is an integer multiple of u², so for output
 * (i, j) the checker works with exact integers in units of u²:
 *   S = Σ_k a_ik·b_kj,   T = Σ_k |a_ik·b_kj|,   C = c / u² (the committed float32 c, decoded exactly).
 * c is correct iff (1) it is finite, (2) c is an integer multiple of 2^-9·u² (the tolerance's resolution), i.e.
 * X = 512·C = c·2^(productUnitShift + 9) is an integer, and (3) 512·|C − S| ≤ T, i.e. |X − 512·S| ≤ T.
 * Everything is integer or bigint arithmetic; no decision depends on a float64 rounding.
 */
import { FP8_FORMATS, decodeFp8, type Fp8Format } from "./fp8.js";

/** Rule (3): |c − S·u²| ≤ 2^-TOLERANCE_SHIFT · T·u². */
export const TOLERANCE_SHIFT = 9;
const TOLERANCE_SHIFT_N = BigInt(TOLERANCE_SHIFT);

/** log2 of 1/u²: products of two `format` values are integer multiples of 2^-productUnitShift (18 or 32). */
export function productUnitShift(format: Fp8Format): number {
  return 2 * FP8_FORMATS[format].scaleShift;
}

/**
 * log2 of the output grid's inverse spacing, rule (2): a committed output c must be an integer multiple of
 * 2^-outputGridShift = 2^-TOLERANCE_SHIFT·u² (27 for E4M3FN, 41 for E5M2). That is the resolution at which rule (3)
 * is decided (512·|C − S| ≤ T in units of u²/512), and it is what the circuit enforces.
 */
export function outputGridShift(format: Fp8Format): number {
  return productUnitShift(format) + TOLERANCE_SHIFT;
}

// ---------------------------------------------------------------------------------------------------------------
// float32 bit patterns

// One scratch word; DataView pins the byte order, so bits ⇄ float never depends on the platform.
const scratch = new DataView(new ArrayBuffer(4));

function assertUint32(bits: number, what: string): void {
  if (!Number.isInteger(bits) || bits < 0 || bits > 0xffff_ffff) {
    throw new RangeError(`${what} must be an integer in [0, 2^32), got ${bits}`);
  }
}

/** The float32 with bit pattern `bits` (every float32 is exactly a JS number; NaN payloads are not kept). */
export function float32FromBits(bits: number): number {
  assertUint32(bits, "float32 bit pattern");
  scratch.setUint32(0, bits);
  return scratch.getFloat32(0);
}

/** Bit pattern of `x`, which must already be a float32 value (rounding here would hide bugs); NaN gives 0x7fc00000. */
export function float32Bits(x: number): number {
  if (!Number.isNaN(x) && Math.fround(x) !== x) throw new RangeError(`${x} is not exactly representable as float32`);
  scratch.setFloat32(0, x);
  return scratch.getUint32(0);
}

/** An exact binary floating-point value: (−1)^negative · significand · 2^exponent. */
export interface ExactFloat {
  readonly negative: boolean;
  readonly significand: bigint;
  readonly exponent: number;
}

export type Float32Decoded =
  | ({ readonly kind: "finite" } & ExactFloat)
  | { readonly kind: "nan" }
  | { readonly kind: "inf"; readonly negative: boolean };

/** Decodes a float32 bit pattern exactly (−0 gives significand 0 with negative = true). */
export function decodeFloat32(bits: number): Float32Decoded {
  assertUint32(bits, "float32 bit pattern");
  const negative = bits >>> 31 === 1;
  const biased = (bits >>> 23) & 0xff;
  const fraction = bits & 0x7f_ffff;
  if (biased === 0xff) return fraction === 0 ? { kind: "inf", negative } : { kind: "nan" };
  // Subnormals (biased exponent 0) share the scale of biased exponent 1 without the implicit leading one.
  const significand = BigInt(biased === 0 ? fraction : fraction | 0x80_0000);
  return { kind: "finite", negative, significand, exponent: Math.max(biased, 1) - 150 };
}

/** `x` as an integer count of 2^-unitShift, or null when `x` is not an integer multiple of that unit. */
export function toScaledInteger(x: ExactFloat, unitShift: number): bigint | null {
  const shift = x.exponent + unitShift;
  let magnitude: bigint;
  if (shift >= 0) {
    magnitude = x.significand << BigInt(shift);
  } else {
    const dropped = BigInt(-shift);
    if ((x.significand & ((1n << dropped) - 1n)) !== 0n) return null;
    magnitude = x.significand >> dropped;
  }
  return x.negative ? -magnitude : magnitude;
}

/**
 * Bit pattern of the float32 nearest to value·2^-unitShift (ties to even, overflow to ±Inf, +0 for 0): what an ideal
 * accumulator that rounds the exact sum once would commit.
 */
export function roundScaledToFloat32Bits(value: bigint, unitShift: number): number {
  if (value === 0n) return 0;
  const negative = value < 0n;
  let magnitude = negative ? -value : value;
  let exponent = -unitShift; // value·2^-unitShift = ±magnitude·2^exponent
  // Keep 24 significant bits, or fewer below 2^-126 where float32 has nothing finer than 2^-149.
  const leadingBit = magnitude.toString(2).length - 1 + exponent;
  const lsbExponent = Math.max(leadingBit - 23, -149);
  if (lsbExponent > exponent) {
    const dropped = BigInt(lsbExponent - exponent);
    const remainder = magnitude & ((1n << dropped) - 1n);
    const half = 1n << (dropped - 1n);
    magnitude >>= dropped;
    if (remainder > half || (remainder === half && (magnitude & 1n) === 1n)) magnitude += 1n;
    exponent = lsbExponent;
  }
  // magnitude ≤ 2^24 and exponent ≥ -149, so this float64 product is exact; from 2^128 on float32 overflows.
  const x = Number(magnitude) * 2 ** exponent;
  if (x >= 2 ** 128) return negative ? 0xff80_0000 : 0x7f80_0000;
  return float32Bits(negative ? -x : x);
}

// ---------------------------------------------------------------------------------------------------------------
// Exact reference sums

/** S (`dot`) and T (`absDot`) per output, row-major M×N, in units of u² (see `productUnitShift`). */
export interface ExactTile {
  readonly dot: bigint[];
  readonly absDot: bigint[];
}

function assertDimension(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 1)
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
}

function assertLength(actual: number, expected: number, what: string): void {
  if (actual !== expected) throw new RangeError(`${what} has ${actual} elements, expected ${expected}`);
}

/** Decodes a row-major FP8 matrix to exact scaled integers, refusing NaN/Inf codes (they have no exact sum). */
function decodeMatrix(codes: Uint8Array, name: string, columns: number, format: Fp8Format): bigint[] {
  return Array.from(codes, (code, index) => {
    const decoded = decodeFp8(code, format);
    if (decoded.kind !== "finite") {
      const row = Math.floor(index / columns);
      const hex = code.toString(16).padStart(2, "0");
      throw new RangeError(
        `${name}[${index}] (row ${row}, column ${index % columns}) is ${format} code 0x${hex} = ${decoded.kind}; inputs must be finite`,
      );
    }
    return BigInt(decoded.scaled);
  });
}

/** Exact S and T for C = A·B with A M×K and B K×N, both row-major FP8 codes. */
export function exactTile(A: Uint8Array, B: Uint8Array, M: number, N: number, K: number, format: Fp8Format): ExactTile {
  assertDimension(M, "M");
  assertDimension(N, "N");
  assertDimension(K, "K");
  assertLength(A.length, M * K, `A (M×K = ${M}×${K})`);
  assertLength(B.length, K * N, `B (K×N = ${K}×${N})`);
  const a = decodeMatrix(A, "A", K, format);
  const b = decodeMatrix(B, "B", N, format);
  const dot = new Array<bigint>(M * N);
  const absDot = new Array<bigint>(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0n;
      let t = 0n;
      for (let k = 0; k < K; k++) {
        const product = a[i * K + k]! * b[k * N + j]!;
        s += product;
        t += product < 0n ? -product : product;
      }
      dot[i * N + j] = s;
      absDot[i * N + j] = t;
    }
  }
  return { dot, absDot };
}

/**
 * Largest |C| (units u²) that any correct output can have when the inner dimension is K: |C| ≤ |S| + T/512 ≤
 * T + T/512, and T ≤ K·maxScaled². It equals K·maxScaled²·(1 + 2^-9) exactly (maxScaled² is a multiple of 512 in
 * both formats). The circuit's rule (3) check implies this bound; its float32 decoding refuses |c| ≥ 2^37 outright,
 * which lies above the bound for every K ≤ 2^18 (E4M3FN).
 */
export function maxCorrectOutputScaled(K: number, format: Fp8Format): bigint {
  assertDimension(K, "K");
  const maxAbsDot = BigInt(K) * BigInt(FP8_FORMATS[format].maxScaled) ** 2n;
  return maxAbsDot + (maxAbsDot >> TOLERANCE_SHIFT_N);
}

// ---------------------------------------------------------------------------------------------------------------
// Checking committed outputs

/**
 * Result of checking one committed output, in units of 2^-outputGridShift = u²/512 (the circuit's units):
 * `scaled` is X = c·2^outputGridShift = 512·C, `error` is |X − 512·S| = 512·|C − S| and `bound` is T, so rule (3)
 * reads error ≤ bound. (C itself need not be an integer: rule (2) only asks for X.) `value` is the committed float32.
 */
export type OutputCheck =
  | { readonly ok: true; readonly scaled: bigint; readonly error: bigint; readonly bound: bigint }
  | { readonly ok: false; readonly reason: "nan-or-inf"; readonly value: number }
  | { readonly ok: false; readonly reason: "off-grid"; readonly value: number }
  | {
      readonly ok: false;
      readonly reason: "out-of-tolerance";
      readonly scaled: bigint;
      readonly error: bigint;
      readonly bound: bigint;
    };

export type OutputFailure = Exclude<OutputCheck, { ok: true }>;

/** Applies rules (1)–(3) to the committed float32 bit pattern `cBits` against exact S and T (units u²). */
export function checkOutput(cBits: number, S: bigint, T: bigint, format: Fp8Format): OutputCheck {
  if (T < (S < 0n ? -S : S)) throw new RangeError(`inconsistent reference: T = ${T} < |S| = |${S}|`);
  const decoded = decodeFloat32(cBits);
  if (decoded.kind !== "finite") return { ok: false, reason: "nan-or-inf", value: float32FromBits(cBits) };
  const scaled = toScaledInteger(decoded, outputGridShift(format));
  if (scaled === null) return { ok: false, reason: "off-grid", value: float32FromBits(cBits) };
  const difference = scaled - (S << TOLERANCE_SHIFT_N);
  const error = difference < 0n ? -difference : difference;
  const bound = T;
  return error <= bound
    ? { ok: true, scaled, error, bound }
    : { ok: false, reason: "out-of-tolerance", scaled, error, bound };
}

export type TileFailure = { readonly i: number; readonly j: number } & OutputFailure;

export interface TileCheck {
  readonly ok: boolean;
  /** Every failing output, row-major order. */
  readonly failures: TileFailure[];
  /**
   * max |C − S| / T over the outputs that reached rule (3) (finite and on the grid), for reporting only: 0 when T = 0
   * and C = S, Infinity when T = 0 and C ≠ S. Correct tiles have it ≤ 2^-9.
   */
  readonly worstRelativeError: number;
}

/** Checks a whole committed tile (row-major M×N float32 bit patterns) against C = A·B. */
export function checkTile(
  A: Uint8Array,
  B: Uint8Array,
  cBits: Uint32Array,
  M: number,
  N: number,
  K: number,
  format: Fp8Format,
): TileCheck {
  const { dot, absDot } = exactTile(A, B, M, N, K, format);
  assertLength(cBits.length, M * N, `C (M×N = ${M}×${N})`);
  const failures: TileFailure[] = [];
  let worstRelativeError = 0;
  for (let index = 0; index < M * N; index++) {
    const S = dot[index]!;
    const T = absDot[index]!;
    const result = checkOutput(cBits[index]!, S, T, format);
    if (result.ok || result.reason === "out-of-tolerance") {
      // error/bound = 512·|C − S|/T; the reported figure is |C − S|/T.
      const relative =
        T === 0n ? (result.error === 0n ? 0 : Infinity) : Number(result.error) / Number(T << TOLERANCE_SHIFT_N);
      worstRelativeError = Math.max(worstRelativeError, relative);
    }
    if (!result.ok) failures.push({ i: Math.floor(index / N), j: index % N, ...result });
  }
  return { ok: failures.length === 0, failures, worstRelativeError };
}
