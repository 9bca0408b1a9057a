/**
 * FP8 reference arithmetic (OCP 8-bit floating point spec, ONNX `float8e4m3fn` and `float8e5m2`).
 *
 * Every finite FP8 value is an integer multiple of a fixed power of two, so values are handled exactly as scaled
 * integers: E4M3FN values are n·2^-9 (|n| ≤ 229,376), E5M2 values are n·2^-16 (|n| ≤ 3,758,096,384). NaN and Inf
 * codes are reported as such and are never turned into numbers silently.
 */

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
  e4m3fn: { name: "e4m3fn", exponentBits: 4, mantissaBits: 3, bias: 7, scaleShift: 9, maxScaled: 229_376, maxValue: 448 },
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
