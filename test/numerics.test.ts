// The numerics contract (docs/numerics.md) against independent arithmetic and against real H100 FP8 GEMM outputs.
import { describe, expect, it } from "vitest";
import { Prng } from "../common/prng.js";
import { loadH100Tiles, type H100Tile } from "./helpers/h100.js";
import { FP8_FORMATS, fp8ToNumber, fp8ToScaled, randomFiniteCodes, type Fp8Format } from "../common/fp8.js";
import {
  checkOutput,
  checkTile,
  decodeFloat32,
  exactTile,
  float32Bits,
  float32FromBits,
  maxCorrectOutputScaled,
  outputGridShift,
  productUnitShift,
  roundScaledToFloat32Bits,
  toScaledInteger,
  type ExactFloat,
  type ExactTile,
} from "../common/numerics.js";

// ---------------------------------------------------------------------------------------------------------------
// Helpers (deliberately independent of the code under test where they compute expectations)

/** Seeded uniform floats in [0, 1), so random cases are reproducible. */
function prng(seed: number): () => number {
  const generator = new Prng(seed);
  return () => generator.nextFloat();
}

/** Plain float64 loop on decoded values; exact for E4M3 at K ≤ 128 (products < 2^18, multiples of 2^-18). */
function float64Reference(A: Uint8Array, B: Uint8Array, M: number, N: number, K: number) {
  expect(K).toBeLessThanOrEqual(128);
  const dot: number[] = [];
  const absDot: number[] = [];
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      let t = 0;
      for (let k = 0; k < K; k++) {
        const product = fp8ToNumber(A[i * K + k]!, "e4m3fn") * fp8ToNumber(B[k * N + j]!, "e4m3fn");
        s += product;
        t += Math.abs(product);
      }
      dot.push(s);
      absDot.push(t);
    }
  }
  return { dot, absDot };
}

/** exactTile's integers as values (exact: E4M3 sums here stay far below 2^53 units). */
function asValues(exact: ExactTile, format: Fp8Format) {
  const unit = 2 ** -productUnitShift(format);
  return { dot: exact.dot.map((s) => Number(s) * unit), absDot: exact.absDot.map((t) => Number(t) * unit) };
}

/** Sequential float32 accumulation, as a CPU GEMM after DequantizeLinear does it: an honest miner's output. */
function float32Accumulate(A: Uint8Array, B: Uint8Array, M: number, N: number, K: number, format: Fp8Format) {
  const out = new Uint32Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let acc = 0;
      for (let k = 0; k < K; k++) {
        const product = Math.fround(fp8ToNumber(A[i * K + k]!, format) * fp8ToNumber(B[k * N + j]!, format));
        acc = Math.fround(acc + product);
      }
      out[i * N + j] = float32Bits(acc);
    }
  }
  return out;
}

/** The exact value of a finite float32 bit pattern. */
function finiteFloat32(bits: number): ExactFloat {
  const decoded = decodeFloat32(bits);
  if (decoded.kind !== "finite") throw new Error(`0x${bits.toString(16)} is not finite`);
  return decoded;
}

/** C in units u² of a finite, on-grid float32 bit pattern. */
function scaledOf(bits: number, format: Fp8Format): bigint {
  const decoded = decodeFloat32(bits);
  if (decoded.kind !== "finite") throw new Error(`0x${bits.toString(16)} is not finite`);
  const scaled = toScaledInteger(decoded, productUnitShift(format));
  if (scaled === null) throw new Error(`0x${bits.toString(16)} is off the ${format} product grid`);
  return scaled;
}

function nextUpBits(bits: number): number {
  if (bits === 0 || bits === 0x8000_0000) return 1;
  return bits >>> 31 === 1 ? bits - 1 : bits + 1;
}

function nextDownBits(bits: number): number {
  if (bits === 0 || bits === 0x8000_0000) return 0x8000_0001;
  return bits >>> 31 === 1 ? bits + 1 : bits - 1;
}

/** Largest float32 ≤ v·u² (v in units u²); on the grid, because v is an integer. */
function floorToFloat32Bits(v: bigint, format: Fp8Format): number {
  const bits = roundScaledToFloat32Bits(v, productUnitShift(format));
  return scaledOf(bits, format) > v ? nextDownBits(bits) : bits;
}

/** Smallest float32 ≥ v·u². */
function ceilToFloat32Bits(v: bigint, format: Fp8Format): number {
  const bits = roundScaledToFloat32Bits(v, productUnitShift(format));
  return scaledOf(bits, format) < v ? nextUpBits(bits) : bits;
}

/** The float32 equal to v·u², or null when float32 cannot hold it exactly. */
function exactFloat32Bits(v: bigint, format: Fp8Format): number | null {
  const bits = roundScaledToFloat32Bits(v, productUnitShift(format));
  return scaledOf(bits, format) === v ? bits : null;
}

const NAN_BITS = [0x7fc0_0000, 0xffc0_0000, 0x7f80_0001, 0xffff_ffff];
const INF_BITS = [0x7f80_0000, 0xff80_0000];

// ---------------------------------------------------------------------------------------------------------------
// The H100 evidence in ../shared/numerics (relative to the repo root)

function exactOf(tile: H100Tile): ExactTile {
  return exactTile(tile.A, tile.B, tile.M, tile.N, tile.K, "e4m3fn");
}

function check(tile: H100Tile, C: Uint32Array) {
  return checkTile(tile.A, tile.B, C, tile.M, tile.N, tile.K, "e4m3fn");
}

function position(tile: H100Tile, index: number) {
  return { i: Math.floor(index / tile.N), j: index % tile.N };
}

// ---------------------------------------------------------------------------------------------------------------

describe("float32 bit patterns", () => {
  it("round-trips bits and decodes exactly, subnormals and signed zero included", () => {
    for (const x of [0, -0, 1, -1.5, 2 ** -149, -(2 ** -126), 3.4028234663852886e38, Math.fround(0.1)]) {
      expect(Object.is(float32FromBits(float32Bits(x)), x)).toBe(true);
    }
    expect(float32Bits(1)).toBe(0x3f80_0000);
    expect(decodeFloat32(0x3f80_0000)).toEqual({
      kind: "finite",
      negative: false,
      significand: 1n << 23n,
      exponent: -23,
    });
    expect(decodeFloat32(0x0000_0001)).toEqual({ kind: "finite", negative: false, significand: 1n, exponent: -149 });
    expect(decodeFloat32(0x8000_0000)).toEqual({ kind: "finite", negative: true, significand: 0n, exponent: -149 });
    expect(decodeFloat32(0xff80_0000)).toEqual({ kind: "inf", negative: true });
    for (const bits of NAN_BITS) expect(decodeFloat32(bits)).toEqual({ kind: "nan" });
    // Every finite pattern: the exact rational agrees with the float (float64 holds every float32 exactly).
    const random = prng(1);
    for (let n = 0; n < 2000; n++) {
      const bits = Math.floor(random() * 2 ** 32);
      const decoded = decodeFloat32(bits);
      if (decoded.kind !== "finite") continue;
      const value = Number(decoded.significand) * 2 ** decoded.exponent;
      expect(decoded.negative ? -value : value).toBe(float32FromBits(bits));
    }
  });

  it("refuses numbers that are not float32 and bit patterns outside uint32", () => {
    expect(() => float32Bits(0.1)).toThrow(/not exactly representable/);
    expect(() => float32FromBits(2 ** 32)).toThrow(RangeError);
    expect(() => decodeFloat32(-1)).toThrow(RangeError);
    expect(() => decodeFloat32(1.5)).toThrow(RangeError);
  });

  it("rounds exact scaled integers to the nearest float32, ties to even, like a single Math.fround", () => {
    const random = prng(2);
    const cases: bigint[] = [1n, 3n, (1n << 24n) + 1n, (1n << 24n) + 3n, (1n << 25n) + 2n, (1n << 25n) + 6n];
    for (let n = 0; n < 2000; n++) cases.push(BigInt(Math.floor(random() * 2 ** 53)) >> BigInt(n % 40));
    for (const v of cases) {
      for (const shift of [0, 18, 32]) {
        for (const signed of [v, -v]) {
          // |v| < 2^53: Number(v)·2^-shift is exact, so Math.fround rounds only once.
          const expected = float32Bits(Math.fround(Number(signed) * 2 ** -shift));
          expect(roundScaledToFloat32Bits(signed, shift)).toBe(expected);
        }
      }
    }
    expect(roundScaledToFloat32Bits(0n, 18)).toBe(0);
    expect(roundScaledToFloat32Bits(1n << 128n, 0)).toBe(0x7f80_0000);
    expect(roundScaledToFloat32Bits(-(1n << 200n), 0)).toBe(0xff80_0000);
    expect(roundScaledToFloat32Bits(1n, 149)).toBe(1);
    expect(roundScaledToFloat32Bits(1n, 151)).toBe(0); // 2^-151 is below half the smallest subnormal
    expect(roundScaledToFloat32Bits(3n, 151)).toBe(1);
    // Beyond 2^53: the 25th bit decides, and a sticky bit far below still rounds up.
    expect(roundScaledToFloat32Bits((1n << 80n) + (1n << 56n), 0)).toBe(float32Bits(2 ** 80));
    expect(roundScaledToFloat32Bits((1n << 80n) + (1n << 56n) + 1n, 0)).toBe(float32Bits(2 ** 80 + 2 ** 57));
  });

  it("converts to integer multiples of the product unit only when exact", () => {
    const one = decodeFloat32(float32Bits(1));
    const half = decodeFloat32(float32Bits(-(2 ** -19)));
    if (one.kind !== "finite" || half.kind !== "finite") throw new Error("unreachable");
    expect(toScaledInteger(one, 18)).toBe(1n << 18n);
    expect(toScaledInteger(half, 18)).toBeNull();
    expect(toScaledInteger(half, 19)).toBe(-1n);
  });
});

describe("exactTile", () => {
  it("matches a plain float64 loop on random E4M3 tiles (exact up to K = 128)", () => {
    const random = prng(3);
    for (const [M, N, K] of [
      [1, 1, 1],
      [3, 5, 7],
      [16, 16, 128],
      [2, 9, 64],
    ] as const) {
      const A = randomFiniteCodes(new Prng(Math.floor(random() * 2 ** 32)), M * K, "e4m3fn");
      const B = randomFiniteCodes(new Prng(Math.floor(random() * 2 ** 32)), K * N, "e4m3fn");
      expect(asValues(exactTile(A, B, M, N, K, "e4m3fn"), "e4m3fn")).toEqual(float64Reference(A, B, M, N, K));
    }
  });

  it("reaches K·maxScaled² at full magnitude and treats −0 as 0", () => {
    const K = 128;
    const max = BigInt(FP8_FORMATS.e4m3fn.maxScaled) ** 2n;
    const A = new Uint8Array(K).fill(0x7e); // 448
    const B = new Uint8Array(2 * K).fill(0xfe); // -448
    for (let k = 0; k < K; k++) B[2 * k + 1] = k % 2 === 0 ? 0x80 : 0x00; // column 1: ±0
    const { dot, absDot } = exactTile(A, B, 1, 2, K, "e4m3fn");
    expect(dot).toEqual([-BigInt(K) * max, 0n]);
    expect(absDot).toEqual([BigInt(K) * max, 0n]);
  });

  it("matches a plain bigint loop on an E5M2 tile", () => {
    const random = prng(4);
    const [M, N, K] = [4, 5, 24];
    const A = randomFiniteCodes(new Prng(Math.floor(random() * 2 ** 32)), M * K, "e5m2");
    const B = randomFiniteCodes(new Prng(Math.floor(random() * 2 ** 32)), K * N, "e5m2");
    const dot: bigint[] = [];
    const absDot: bigint[] = [];
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0n;
        let t = 0n;
        for (let k = 0; k < K; k++) {
          const p = BigInt(fp8ToScaled(A[i * K + k]!, "e5m2")) * BigInt(fp8ToScaled(B[k * N + j]!, "e5m2"));
          s += p;
          t += p < 0n ? -p : p;
        }
        dot.push(s);
        absDot.push(t);
      }
    }
    expect(exactTile(A, B, M, N, K, "e5m2")).toEqual({ dot, absDot });
  });

  it("validates sizes and refuses NaN/Inf input codes, naming the index", () => {
    const ok = new Uint8Array(6).fill(0x38);
    expect(() => exactTile(new Uint8Array(5), ok, 2, 2, 3, "e4m3fn")).toThrow(
      /A \(M×K = 2×3\) has 5 elements, expected 6/,
    );
    expect(() => exactTile(ok, new Uint8Array(7), 2, 2, 3, "e4m3fn")).toThrow(/B \(K×N = 3×2\) has 7 elements/);
    expect(() => exactTile(ok, ok, 0, 2, 3, "e4m3fn")).toThrow(/M must be a positive integer/);
    expect(() => exactTile(ok, ok, 2, 2, 1.5, "e4m3fn")).toThrow(/K must be a positive integer/);
    const nanA = ok.slice();
    nanA[4] = 0xff;
    expect(() => exactTile(nanA, ok, 2, 2, 3, "e4m3fn")).toThrow(
      /A\[4\] \(row 1, column 1\) is e4m3fn code 0xff = nan/,
    );
    const infB = ok.slice();
    infB[5] = 0xfc;
    expect(() => exactTile(ok, infB, 2, 2, 3, "e5m2")).toThrow(/B\[5\] \(row 2, column 1\) is e5m2 code 0xfc = inf/);
    expect(() => checkTile(ok, ok, new Uint32Array(3), 2, 2, 3, "e4m3fn")).toThrow(/C \(M×N = 2×2\) has 3 elements/);
  });
});

describe("checkOutput", () => {
  const u2 = 2 ** -18;

  it("uses the output grid 2^-9·u²: 2^-27 for E4M3FN, 2^-41 for E5M2", () => {
    expect(outputGridShift("e4m3fn")).toBe(27);
    expect(outputGridShift("e5m2")).toBe(41);
  });

  it("accepts exactly the integers within ⌊T/512⌋ of S (results in units of u²/512: X = 512·C, error, bound = T)", () => {
    const S = 1000n;
    const T = 5120n + 511n; // ⌊T/512⌋ = 10
    expect(checkOutput(float32Bits(1010 * u2), S, T, "e4m3fn")).toEqual({
      ok: true,
      scaled: 1010n * 512n,
      error: 10n * 512n,
      bound: T,
    });
    expect(checkOutput(float32Bits(990 * u2), S, T, "e4m3fn").ok).toBe(true);
    expect(checkOutput(float32Bits(1011 * u2), S, T, "e4m3fn")).toEqual({
      ok: false,
      reason: "out-of-tolerance",
      scaled: 1011n * 512n,
      error: 11n * 512n,
      bound: T,
    });
    expect(checkOutput(float32Bits(989 * u2), S, T, "e4m3fn")).toMatchObject({ ok: false, reason: "out-of-tolerance" });
  });

  it("decides rule 3 at the 2^-27 resolution: C = S ± T/512 passes, one 2^-27 step beyond fails", () => {
    const S = 1000n;
    const T = 5120n + 511n; // T/512 = 10 + 511/512: the edge is not a multiple of u²
    const step = 2 ** -27; // u²/512
    const X = Number(512n * S); // 512·S, in units of 2^-27
    for (const side of [1, -1]) {
      const edge = X + side * Number(T); // |X − 512·S| = T
      expect(checkOutput(float32Bits(edge * step), S, T, "e4m3fn")).toEqual({
        ok: true,
        scaled: BigInt(edge),
        error: T,
        bound: T,
      });
      expect(checkOutput(float32Bits((edge + side) * step), S, T, "e4m3fn")).toEqual({
        ok: false,
        reason: "out-of-tolerance",
        scaled: BigInt(edge + side),
        error: T + 1n,
        bound: T,
      });
    }
    // The same in E5M2 (step 2^-41): S = 3, T = 5, X = 512·3 ± 5.
    expect(checkOutput(float32Bits((1536 + 5) * 2 ** -41), 3n, 5n, "e5m2")).toMatchObject({ ok: true, error: 5n });
    expect(checkOutput(float32Bits((1536 - 6) * 2 ** -41), 3n, 5n, "e5m2")).toMatchObject({
      ok: false,
      reason: "out-of-tolerance",
      error: 6n,
    });
  });

  it("T = 0 admits only ±0", () => {
    expect(checkOutput(0x0000_0000, 0n, 0n, "e4m3fn").ok).toBe(true);
    expect(checkOutput(0x8000_0000, 0n, 0n, "e4m3fn").ok).toBe(true);
    expect(checkOutput(float32Bits(u2), 0n, 0n, "e4m3fn")).toMatchObject({ ok: false, reason: "out-of-tolerance" });
    expect(checkOutput(float32Bits(2 ** -27), 0n, 0n, "e4m3fn")).toMatchObject({
      ok: false,
      reason: "out-of-tolerance",
    });
  });

  it("refuses values off the 2^-9·u² grid (2^-27 for E4M3FN, 2^-41 for E5M2)", () => {
    // S·u² + 2^-28 = (1024·S + 1)·2^-28 is a float32 iff |1024·S + 1| < 2^24.
    for (const S of [0n, 1n, -1n, 1000n, -16383n, 16383n]) {
      const bits = float32Bits(Number(1024n * S + 1n) * 2 ** -28);
      expect(checkOutput(bits, S, 1n << 30n, "e4m3fn"), `S = ${S}`).toMatchObject({ ok: false, reason: "off-grid" });
    }
    expect(checkOutput(float32Bits(2 ** -28), 0n, 1n << 20n, "e4m3fn")).toMatchObject({
      ok: false,
      reason: "off-grid",
    });
    expect(checkOutput(float32Bits(-3 * 2 ** -28), 0n, 1n << 20n, "e4m3fn")).toMatchObject({
      ok: false,
      reason: "off-grid",
    });
    // The largest off-grid float32 for E4M3FN: (2^24 − 1)·2^-28, just below 2^-4.
    expect(checkOutput(float32Bits((2 ** 24 - 1) * 2 ** -28), 0n, 1n << 40n, "e4m3fn")).toMatchObject({
      ok: false,
      reason: "off-grid",
    });
    expect(checkOutput(0x0000_0001, 0n, 1n << 20n, "e4m3fn")).toMatchObject({ ok: false, reason: "off-grid" });
    expect(checkOutput(0x8000_0001, 0n, 1n << 20n, "e5m2")).toMatchObject({ ok: false, reason: "off-grid" });
    expect(checkOutput(float32Bits(2 ** -42), 0n, 1n << 20n, "e5m2")).toMatchObject({ ok: false, reason: "off-grid" });
    expect(checkOutput(float32Bits(2 ** -32), 1n, 1n, "e5m2").ok).toBe(true);
    // Every float32 of magnitude ≥ 2^-4 (E4M3FN; biased exponent ≥ 123) or ≥ 2^-18 (E5M2; ≥ 109) is on the grid.
    const random = prng(9);
    for (let n = 0; n < 500; n++) {
      const bits = Math.floor(random() * 2 ** 32);
      const biased = (bits >>> 23) & 0xff;
      if (biased === 0xff) continue;
      if (biased >= 123) expect(checkOutput(bits, 0n, 0n, "e4m3fn")).toMatchObject({ reason: "out-of-tolerance" });
      if (biased >= 109) expect(checkOutput(bits, 0n, 0n, "e5m2")).toMatchObject({ reason: "out-of-tolerance" });
    }
    // Everything at or above 2^24·u² (64 for E4M3) is on the u² grid: the float32 ulp there is ≥ u².
    expect(checkOutput(float32Bits(64 + 2 ** -17), 64n << 18n, 1n << 40n, "e4m3fn").ok).toBe(true);
  });

  it("does not call values on the 2^-27 grid but off the u² = 2^-18 grid off-grid: rule 3 decides", () => {
    // u²/2 = 2^-19 and 2^-27 itself are off the 2^-18 grid, on the 2^-27 grid.
    expect(checkOutput(float32Bits(u2 / 2), 0n, 1n << 20n, "e4m3fn")).toEqual({
      ok: true,
      scaled: 256n,
      error: 256n,
      bound: 1n << 20n,
    });
    expect(checkOutput(float32Bits(2 ** -27), 0n, 1n, "e4m3fn")).toEqual({
      ok: true,
      scaled: 1n,
      error: 1n,
      bound: 1n,
    });
    expect(checkOutput(float32Bits(-(2 ** -27)), 0n, 0n, "e4m3fn")).toMatchObject({
      ok: false,
      reason: "out-of-tolerance",
      scaled: -1n,
    });
    // 100.5·u² with S = 100 is off the u² grid; passes when T ≥ 256, fails (out of tolerance, not off-grid) below.
    const c = float32Bits(100.5 * u2);
    expect(checkOutput(c, 100n, 256n, "e4m3fn")).toMatchObject({ ok: true, scaled: 51_456n, error: 256n });
    expect(checkOutput(c, 100n, 255n, "e4m3fn")).toMatchObject({ ok: false, reason: "out-of-tolerance" });
    // Random values on the 2^-27 grid with bits below 2^-18: never "off-grid".
    const random = prng(8);
    for (let n = 0; n < 200; n++) {
      const X = Math.floor(random() * 2 ** 24) | 1; // odd: off the 2^-18 grid
      const bits = float32Bits((random() < 0.5 ? -X : X) * 2 ** -27);
      expect(toScaledInteger(finiteFloat32(bits), 18)).toBeNull();
      expect(toScaledInteger(finiteFloat32(bits), 27)).not.toBeNull();
      expect(checkOutput(bits, 0n, 1n << 30n, "e4m3fn")).toMatchObject({ ok: true });
      expect(checkOutput(bits, 0n, 0n, "e4m3fn")).toMatchObject({ ok: false, reason: "out-of-tolerance" });
    }
    // E5M2: 2^-33 and 2^-41 are on the 2^-41 grid.
    expect(checkOutput(float32Bits(2 ** -33), 0n, 1n << 20n, "e5m2")).toMatchObject({ ok: true, scaled: 256n });
    expect(checkOutput(float32Bits(2 ** -41), 0n, 1n, "e5m2")).toMatchObject({ ok: true, scaled: 1n });
  });

  it("refuses NaN and ±Inf bit patterns", () => {
    for (const bits of [...NAN_BITS, ...INF_BITS]) {
      expect(checkOutput(bits, 0n, 1n << 30n, "e4m3fn")).toMatchObject({ ok: false, reason: "nan-or-inf" });
    }
  });

  it("refuses an inconsistent reference (T < |S|)", () => {
    expect(() => checkOutput(0, -5n, 4n, "e4m3fn")).toThrow(/inconsistent reference/);
  });
});

describe("maxCorrectOutputScaled", () => {
  it("is K·maxScaled²·(1 + 2^-9), attained by S = T = K·maxScaled² plus the full tolerance", () => {
    expect(maxCorrectOutputScaled(1, "e4m3fn")).toBe(229_376n ** 2n + 229_376n ** 2n / 512n);
    expect(maxCorrectOutputScaled(1, "e4m3fn")).toBe(52_716_109_824n);
    expect(maxCorrectOutputScaled(4096, "e5m2")).toBe((4096n * 3_758_096_384n ** 2n * 513n) / 512n);
    const K = 16;
    const T = BigInt(K) * BigInt(FP8_FORMATS.e4m3fn.maxScaled) ** 2n;
    const top = maxCorrectOutputScaled(K, "e4m3fn");
    const bits = exactFloat32Bits(top, "e4m3fn");
    expect(bits).not.toBeNull();
    expect(checkOutput(bits!, T, T, "e4m3fn").ok).toBe(true);
    expect(checkOutput(ceilToFloat32Bits(top + 1n, "e4m3fn"), T, T, "e4m3fn").ok).toBe(false);
    expect(() => maxCorrectOutputScaled(0, "e4m3fn")).toThrow(RangeError);
  });
});

describe("honest float32 accumulation passes (the zero absolute term)", () => {
  it.each(["e4m3fn", "e5m2"] as const)("%s, K = 128, sequential float32 sums", (format) => {
    const random = prng(format === "e4m3fn" ? 5 : 6);
    const [M, N, K] = [8, 8, 128];
    const A = randomFiniteCodes(new Prng(Math.floor(random() * 2 ** 32)), M * K, format);
    const B = randomFiniteCodes(new Prng(Math.floor(random() * 2 ** 32)), K * N, format);
    const result = checkTile(A, B, float32Accumulate(A, B, M, N, K, format), M, N, K, format);
    expect(result.failures).toEqual([]);
    expect(result.worstRelativeError).toBeLessThan(K * 2 ** -24);
  });
});

describe("E5M2 tile", () => {
  const random = prng(7);
  const [M, N, K] = [6, 7, 40];
  const A = randomFiniteCodes(new Prng(Math.floor(random() * 2 ** 32)), M * K, "e5m2");
  const B = randomFiniteCodes(new Prng(Math.floor(random() * 2 ** 32)), K * N, "e5m2");

  it("exact sums rounded to float32 pass; one output moved past the bound fails, at the bound passes", () => {
    const { dot, absDot } = exactTile(A, B, M, N, K, "e5m2");
    const C = Uint32Array.from(dot, (s) => roundScaledToFloat32Bits(s, 32));
    const honest = checkTile(A, B, C, M, N, K, "e5m2");
    expect(honest.ok).toBe(true);
    expect(honest.worstRelativeError).toBeLessThanOrEqual(2 ** -24);

    for (const [index, side] of [
      [0, 1n],
      [17, -1n],
      [M * N - 1, 1n],
    ] as const) {
      const S = dot[index]!;
      const bound = absDot[index]! >> 9n;
      const edge = S + side * bound;
      const beyond = S + side * (bound + 1n);
      const atBits = side > 0n ? floorToFloat32Bits(edge, "e5m2") : ceilToFloat32Bits(edge, "e5m2");
      const beyondBits = side > 0n ? ceilToFloat32Bits(beyond, "e5m2") : floorToFloat32Bits(beyond, "e5m2");
      const at = C.slice();
      at[index] = atBits;
      expect(checkTile(A, B, at, M, N, K, "e5m2").ok).toBe(true);
      const moved = C.slice();
      moved[index] = beyondBits;
      const result = checkTile(A, B, moved, M, N, K, "e5m2");
      expect(result.failures).toEqual([
        expect.objectContaining({ i: Math.floor(index / N), j: index % N, reason: "out-of-tolerance" }),
      ]);
      expect(result.worstRelativeError).toBeGreaterThan(2 ** -9);
    }
  });
});

describe("real H100 tiles (../shared/numerics/h100_fp8_gemm_tiles.json)", () => {
  it("has the 16 tiles the contract was derived from", () => {
    const tiles = loadH100Tiles();
    expect(tiles).toHaveLength(16);
    for (const tile of tiles) expect([tile.M, tile.N, [16, 32, 64, 128].includes(tile.K)]).toEqual([16, 16, true]);
  });

  it("exactTile matches the float64 loop on every tile", () => {
    for (const tile of loadH100Tiles()) {
      expect(asValues(exactOf(tile), "e4m3fn"), tile.label).toEqual(
        float64Reference(tile.A, tile.B, tile.M, tile.N, tile.K),
      );
    }
  });

  it("every output is finite and on the u² grid, and every tile passes with the stored worst error", () => {
    let worst = 0;
    for (const tile of loadH100Tiles()) {
      for (const bits of tile.C) expect(() => scaledOf(bits, "e4m3fn"), tile.label).not.toThrow();
      const result = check(tile, tile.C);
      expect(result.failures, tile.label).toEqual([]);
      expect(result.worstRelativeError, tile.label).toBeLessThan(2 ** -9);
      // Independent evidence: the worst error the measurement script computed in float64.
      expect(Math.abs(result.worstRelativeError / tile.maxRelErr - 1), tile.label).toBeLessThan(1e-6);
      worst = Math.max(worst, result.worstRelativeError);
    }
    expect(worst).toBeLessThan(2 ** -11); // 4.4e-4 in this data: a 4.4× margin on these small tiles
  });

  it("outputs moved exactly to the bound pass and one u² step further fail, at exactly those (i, j)", () => {
    // Only integer edges that float32 represents exactly can be placed (|C| < 2^24 or enough trailing zeros).
    let tested = 0;
    for (const tile of loadH100Tiles()) {
      const { dot, absDot } = exactOf(tile);
      for (const side of [1n, -1n]) {
        const at = tile.C.slice();
        const beyond = tile.C.slice();
        const moved: number[] = [];
        for (let n = 0; n < tile.M * tile.N && moved.length < 8; n++) {
          const index = (n * 37) % (tile.M * tile.N); // deterministic spread over the tile
          const bound = absDot[index]! >> 9n;
          const atBits = exactFloat32Bits(dot[index]! + side * bound, "e4m3fn");
          const beyondBits = exactFloat32Bits(dot[index]! + side * (bound + 1n), "e4m3fn");
          if (atBits === null || beyondBits === null) continue;
          // 512·|C − S| ≤ T at the edge, > T one step out: check the arithmetic the positions rely on.
          expect(512n * bound <= absDot[index]! && 512n * (bound + 1n) > absDot[index]!).toBe(true);
          at[index] = atBits;
          beyond[index] = beyondBits;
          moved.push(index);
        }
        if (moved.length === 0) continue;
        tested += moved.length;
        expect(check(tile, at).failures, tile.label).toEqual([]);
        const failures = check(tile, beyond).failures;
        expect(
          failures.map((f) => [f.i, f.j, f.reason]),
          tile.label,
        ).toEqual(
          moved
            .slice()
            .sort((x, y) => x - y)
            .map((index) => [position(tile, index).i, position(tile, index).j, "out-of-tolerance"]),
        );
        // error and bound are in units of u²/512: error = 512·(⌊T/512⌋ + 1), bound = T.
        for (const f of failures) {
          expect(f.reason === "out-of-tolerance" && f.error === 512n * ((f.bound >> 9n) + 1n)).toBe(true);
        }
      }
    }
    expect(tested).toBeGreaterThanOrEqual(100);
  });

  it("at the float32 edge of the bound, 8 positions per tile: the last float32 inside passes, the next fails", () => {
    const tiles = loadH100Tiles();
    tiles.forEach((tile, tileIndex) => {
      const { dot, absDot } = exactOf(tile);
      const size = tile.M * tile.N;
      const positions = Array.from({ length: 8 }, (_, n) => (tileIndex * 11 + n * 37) % size);
      for (const flip of [0, 1]) {
        const at = tile.C.slice();
        const beyond = tile.C.slice();
        positions.forEach((index, n) => {
          const S = dot[index]!;
          const bound = absDot[index]! >> 9n;
          if ((n + flip) % 2 === 0) {
            at[index] = floorToFloat32Bits(S + bound, "e4m3fn");
            beyond[index] = ceilToFloat32Bits(S + bound + 1n, "e4m3fn");
          } else {
            at[index] = ceilToFloat32Bits(S - bound, "e4m3fn");
            beyond[index] = floorToFloat32Bits(S - bound - 1n, "e4m3fn");
          }
        });
        expect(check(tile, at).failures, tile.label).toEqual([]);
        expect(
          check(tile, beyond).failures.map((f) => [f.i, f.j, f.reason]),
          tile.label,
        ).toEqual(
          positions
            .slice()
            .sort((x, y) => x - y)
            .map((index) => [position(tile, index).i, position(tile, index).j, "out-of-tolerance"]),
        );
      }
      // One output alone: exactly one failure, at that (i, j).
      const alone = tile.C.slice();
      const index = positions[0]!;
      alone[index] = ceilToFloat32Bits(dot[index]! + (absDot[index]! >> 9n) + 1n, "e4m3fn");
      expect(check(tile, alone).failures, tile.label).toEqual([
        expect.objectContaining({ ...position(tile, index), reason: "out-of-tolerance" }),
      ]);
    });
  });

  it("off-grid outputs (off the 2^-27 grid) and NaN/±Inf outputs are named", () => {
    let offGridTested = 0;
    for (const tile of loadH100Tiles()) {
      const { dot } = exactOf(tile);
      // Off-grid float32s are below 2^-4 in magnitude. Where it is a float32 (|1024·S + 1| < 2^24), use
      // S·u² + 2^-28 = (1024·S + 1)·2^-28; the H100 outputs are all larger, so otherwise use the off-grid float32
      // nearest to S·u²: ±(2^24 − 1)·2^-28.
      const index = (tile.M * tile.N) >> 1;
      const S = dot[index]!;
      const near = 1024n * S + 1n;
      const units = near < 1n << 24n && near > -(1n << 24n) ? near : S < 0n ? -((1n << 24n) - 1n) : (1n << 24n) - 1n;
      const C = tile.C.slice();
      C[index] = roundScaledToFloat32Bits(units, 28);
      expect(toScaledInteger(finiteFloat32(C[index]!), 27), tile.label).toBeNull();
      expect(check(tile, C).failures, tile.label).toEqual([
        expect.objectContaining({ ...position(tile, index), reason: "off-grid" }),
      ]);
      offGridTested++;
      for (const bits of [NAN_BITS[0]!, ...INF_BITS]) {
        const C = tile.C.slice();
        C[tile.M * tile.N - 1] = bits;
        expect(check(tile, C).failures, tile.label).toEqual([
          expect.objectContaining({ i: tile.M - 1, j: tile.N - 1, reason: "nan-or-inf" }),
        ]);
      }
    }
    expect(offGridTested).toBe(16);
  });
});
