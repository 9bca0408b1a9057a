/**
 * FP8 reference arithmetic (OCP 8-bit floating point spec, ONNX `float8e4m3fn` and `float8e5m2`).
 *
 * Every finite FP8 value is an integer multiple of a fixed power of two, so values are handled exactly as scaled
 * integers: E4M3FN values are n·2^-9 (|n| ≤ 229,376), E5M2 values are n·2^-16 (|n| ≤ 3,758,096,384). NaN and Inf
 * codes are reported as such and are never turned into numbers silently.
 */

import type { Prng } from "./prng.js";

export type Fp8Format = "e4m3fn" | "e5m2";

/** Static facts about one FP8 format. */
export interface Fp8FormatInfo {
  readonly name: Fp8Format;
  readonly exponentBits: number;
  readonly mantissaBits: number;
  readonly bias: number;
  /** Decoded values are `scaled · 2^-scaleShift`. */
  readonly scaleShift: number;
  /** Largest finite magnitude, as a scaled integer. */
  readonly maxScaled: number;
  /** Largest finite magnitude. */
  readonly maxValue: number;
}

export const FP8_FORMATS: Readonly<Record<Fp8Format, Fp8FormatInfo>> = {
  e4m3fn: {
    name: "e4m3fn",
    exponentBits: 4,
    mantissaBits: 3,
    bias: 7,
    scaleShift: 9,
    maxScaled: 229_376,
    maxValue: 448,
  },
  e5m2: {
    name: "e5m2",
    exponentBits: 5,
    mantissaBits: 2,
    bias: 15,
    scaleShift: 16,
    maxScaled: 3_758_096_384,
    maxValue: 57_344,
  },
};

export type Fp8Decoded =
  | { readonly kind: "finite"; readonly scaled: number; readonly negative: boolean }
  | { readonly kind: "nan" }
  | { readonly kind: "inf"; readonly negative: boolean };

function assertByte(code: number): void {
  if (!Number.isInteger(code) || code < 0 || code > 255) {
    throw new RangeError(`FP8 code must be an integer in [0, 255], got ${code}`);
  }
}

/**
 * Decodes an FP8 byte. `scaled` is the exact value in units of 2^-scaleShift (sign included; -0 gives scaled 0 with
 * negative=true).
 */
export function decodeFp8(code: number, format: Fp8Format): Fp8Decoded {
  assertByte(code);
  const info = FP8_FORMATS[format];
  const negative = code >= 128;
  const exponent = (code >> info.mantissaBits) & ((1 << info.exponentBits) - 1);
  const mantissa = code & ((1 << info.mantissaBits) - 1);
  const exponentAllOnes = exponent === (1 << info.exponentBits) - 1;
  if (format === "e4m3fn" && exponentAllOnes && mantissa === 7) return { kind: "nan" };
  if (format === "e5m2" && exponentAllOnes) return mantissa === 0 ? { kind: "inf", negative } : { kind: "nan" };
  // Subnormals (exponent 0) share the scale of exponent 1 without the implicit leading one.
  const significand = exponent === 0 ? mantissa : (1 << info.mantissaBits) + mantissa;
  const magnitude = significand * 2 ** Math.max(exponent - 1, 0);
  return { kind: "finite", scaled: negative ? -magnitude : magnitude, negative };
}

/** Decodes a finite FP8 byte to its exact scaled integer; throws on NaN and Inf codes. */
export function fp8ToScaled(code: number, format: Fp8Format): number {
  const decoded = decodeFp8(code, format);
  if (decoded.kind !== "finite") {
    throw new RangeError(`FP8 ${format} code 0x${code.toString(16).padStart(2, "0")} is ${decoded.kind}, not a number`);
  }
  return decoded.scaled;
}

/** Decodes an FP8 byte to a JS number (exact); NaN codes give NaN and Inf codes ±Infinity, as ONNX Runtime does. */
export function fp8ToNumber(code: number, format: Fp8Format): number {
  const decoded = decodeFp8(code, format);
  switch (decoded.kind) {
    case "nan":
      return Number.NaN;
    case "inf":
      return decoded.negative ? -Infinity : Infinity;
    case "finite":
      if (decoded.scaled === 0) return decoded.negative ? -0 : 0;
      return decoded.scaled * 2 ** -FP8_FORMATS[format].scaleShift;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Encoder: float32 → FP8, bit-exact with ONNX Runtime's CPU conversion (onnxruntime/core/common/float8.h), which is
// what Cast(to=FLOAT8*, saturate) and QuantizeLinear(y_scale=1, saturate) compute on CPU.
//
// Rounding is round-to-nearest-even on the exact float32 value. Out-of-range handling (after rounding):
//   E4M3FN, saturate=1: |x| > 448 (incl. ±Inf) → ±448 (0x7E/0xFE).
//   E4M3FN, saturate=0: |x| rounding above 448 (incl. ±Inf) → NaN with x's sign (0x7F/0xFF); 448 < |x| ≤ 464 rounds
//                       down to ±448; see E4M3FN_NOSAT_QUIRK_* for [480, 496).
//   E5M2,   saturate=1: |x| > 57344 (incl. ±Inf) → ±57344 (0x7B/0xFB).
//   E5M2,   saturate=0: |x| ≥ 65536 and ±Inf → ±Inf (0x7C/0xFC); see E5M2_NOSAT_ROUNDING_OVERFLOW for
//                       61440 ≤ |x| < 65536 (rounds up from 57344); |x| < 61440 rounds to at most ±57344.
//   NaN (any payload) → 0x7F, or 0xFF when the float32 sign bit is set; ±0 and values rounding to 0 keep their sign.
// ---------------------------------------------------------------------------------------------------------------

/** The NaN code ORT emits in both formats (with the input's sign: 0x7F / 0xFF); E5M2's 0x7D/0x7E are never produced. */
const NAN_CODE = 0x7f;

/**
 * ORT clamps a truncated E4M3FN significand 1.111·2^8 to 1.110·2^8 before rounding, so
 * with saturate=0 magnitudes in [480, 496) encode to ±448 where the ONNX spec table says NaN; we match ORT.
 */
const E4M3FN_NOSAT_QUIRK_LOW = 480;
const E4M3FN_NOSAT_QUIRK_HIGH = 496;

/**
 * ORT sets the Inf pattern with `code |= 0x7C` on top of the max code 0x7B when rounding overflows inside the top
 * binade, which yields 0x7F (NaN), so with saturate=0 magnitudes in [61440, 65536) encode to ±NaN where the ONNX spec
 * says ±Inf; we match ORT. (|x| ≥ 65536 and ±Inf do give ±Inf.)
 */
const E5M2_NOSAT_ROUNDING_OVERFLOW = NAN_CODE;

/** Exponent of the largest binade of each format: E4M3FN max 448 = 1.75·2^8, E5M2 max 57344 = 1.75·2^15. */
const TOP_EXPONENT: Readonly<Record<Fp8Format, number>> = { e4m3fn: 8, e5m2: 15 };

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** Bit pattern (uint32) of `Math.fround(x)`. */
export function float32Bits(x: number): number {
  scratchF32[0] = x;
  return scratchU32[0]!;
}

/** Encodes a non-negative scaled magnitude (units of 2^-scaleShift, ≤ maxScaled, on the format's grid) to 7 bits. */
function magnitudeCode(scaled: number, info: Fp8FormatInfo): number {
  const implicit = 1 << info.mantissaBits;
  if (scaled < implicit) return scaled; // subnormal (or zero): exponent field 0, mantissa = scaled
  const exponent = 31 - Math.clz32(scaled) - info.mantissaBits + 1; // biased exponent field, ≥ 1 (scaled < 2^32)
  return (exponent << info.mantissaBits) | (scaled / 2 ** (exponent - 1) - implicit);
}

function overflowCode(info: Fp8FormatInfo, saturate: boolean): number {
  if (saturate) return magnitudeCode(info.maxScaled, info);
  return info.name === "e5m2" ? 0x7c : NAN_CODE;
}

/**
 * Encodes the float32 whose IEEE-754 bit pattern is `bits` (uint32) to an FP8 byte, bit-exactly as ORT does
 * (including the sign of NaN inputs). Use this, or {@link encodeFp8Array}, when NaN signs matter.
 */
export function encodeFp8Bits(bits: number, format: Fp8Format, saturate: boolean): number {
  if (!Number.isInteger(bits) || bits < 0 || bits > 0xffff_ffff) {
    throw new RangeError(`float32 bit pattern must be a uint32, got ${bits}`);
  }
  const info = FP8_FORMATS[format];
  const sign = bits >= 0x8000_0000 ? 0x80 : 0;
  const biased = (bits >>> 23) & 0xff;
  const fraction = bits & 0x7f_ffff;
  if (biased === 0xff) return sign | (fraction !== 0 ? NAN_CODE : overflowCode(info, saturate));
  if (biased === 0 && fraction === 0) return sign;
  // |x| = significand · 2^lsbExponent exactly, with significand < 2^24.
  const significand = biased === 0 ? fraction : fraction | 0x80_0000;
  const lsbExponent = (biased === 0 ? 1 : biased) - 150;
  const topExponent = lsbExponent + 31 - Math.clz32(significand); // floor(log2|x|)
  if (topExponent > TOP_EXPONENT[format]) return sign | overflowCode(info, saturate);
  if (format === "e4m3fn" && !saturate) {
    const magnitude = significand * 2 ** lsbExponent;
    if (magnitude >= E4M3FN_NOSAT_QUIRK_LOW && magnitude < E4M3FN_NOSAT_QUIRK_HIGH) {
      return sign | magnitudeCode(info.maxScaled, info);
    }
  }
  // Spacing of FP8 values around |x|: 2^(top - mantissaBits) for normals, 2^-scaleShift in the subnormal range.
  const quantumExponent = Math.max(topExponent - info.mantissaBits, -info.scaleShift);
  const shift = quantumExponent - lsbExponent; // ≥ 20 here, since |x| < 2^(TOP_EXPONENT+1)
  let units = 0; // |x| / 2^quantumExponent, rounded to nearest, ties to even
  if (shift <= 24) {
    const divisor = 2 ** shift;
    units = Math.floor(significand / divisor);
    const remainder = significand - units * divisor;
    if (remainder > divisor / 2 || (remainder === divisor / 2 && units % 2 === 1)) units += 1;
  } // else |x| < 2^-1 quanta: rounds to (signed) zero
  const scaled = units * 2 ** (quantumExponent + info.scaleShift);
  if (scaled > info.maxScaled) {
    // Rounded up past the largest finite value from inside the top binade.
    if (saturate) return sign | magnitudeCode(info.maxScaled, info);
    return sign | (format === "e5m2" ? E5M2_NOSAT_ROUNDING_OVERFLOW : NAN_CODE);
  }
  return sign | magnitudeCode(scaled, info);
}

/**
 * Encodes a JS number to an FP8 byte (0..255) with ORT's Cast/QuantizeLinear semantics (see the table above).
 *
 * `x` is first rounded to float32 (`Math.fround`), exactly as ORT's Cast from DOUBLE to float8 does; float32 data is
 * passed as its exact float32 value, so for it nothing is lost and the result is bit-exact with ORT's float32 Cast.
 * For doubles that are not float32 values this is double rounding (ORT's behaviour), not a single rounding of x.
 * A JS NaN has no reliable sign bit and encodes to 0x7F; use {@link encodeFp8Bits}/{@link encodeFp8Array} for -NaN.
 */
export function encodeFp8(x: number, format: Fp8Format, saturate: boolean): number {
  if (Number.isNaN(x)) return NAN_CODE;
  return encodeFp8Bits(float32Bits(x), format, saturate);
}

/** Encodes every element of `data` (bit patterns, so NaN signs are kept) with {@link encodeFp8Bits}. */
export function encodeFp8Array(data: Float32Array, format: Fp8Format, saturate: boolean): Uint8Array {
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  const out = new Uint8Array(data.length);
  for (let i = 0; i < bits.length; i++) out[i] = encodeFp8Bits(bits[i]!, format, saturate);
  return out;
}

/** Uniformly random finite codes of `format`: every finite code equally likely, so the whole exponent range. */
export function randomFiniteCodes(prng: Prng, length: number, format: Fp8Format): Uint8Array {
  const codes = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    let code: number;
    do code = prng.nextInt(256);
    while (decodeFp8(code, format).kind !== "finite");
    codes[i] = code;
  }
  return codes;
}
