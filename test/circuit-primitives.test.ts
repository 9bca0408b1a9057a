// Circuit tests of the decoding and range primitives: Fp8E4M3Decode / Fp8E5M2Decode (circuits/lib/fp8.circom),
// Float32OnGrid(27, 6) (circuits/lib/float32.circom), CanonicalBits and RangeCheck (circuits/lib/range.circom).
//
// Expected values come from the TypeScript reference (common/fp8.ts decodeFp8, common/numerics.ts float32 helpers),
// never from the circuit. Soundness cases start from an honest witness, rewrite wires (by name) to a cheating
// assignment and require that the constraints themselves reject it: a witness generator that throws proves nothing.
// Each cheating assignment is built from a wire model: TypeScript that computes every signal of the template from
// the input, cross-checked against the witness generator on honest inputs. So an edited witness is consistent
// everywhere the template's arithmetic allows, and the tests also check *which* constraint rejects it.
//
// Locked constraint counts (circom --O2): Fp8E4M3Decode 16, Fp8E5M2Decode 17, Float32OnGrid(27, 6) 49,
// CanonicalBits 511, RangeCheck(8) 8, and the test-only wrapper Float32OnGridBounded 91.
import { beforeAll, describe, expect, it } from "vitest";
import { Prng } from "../common/prng.js";
import { constraintCounts, instantiateCircuit, type CompiledCircuit } from "../circuits/compile.js";
import { FP8_FORMATS, decodeFp8, type Fp8Format } from "../common/fp8.js";
import { decodeFloat32, float32Bits, toScaledInteger } from "../common/numerics.js";
import { CircuitHarness, FIELD } from "./helpers/circuit.js";

// ---------------------------------------------------------------------------------------------------------------
// Field arithmetic and reproducible randomness

const p = FIELD;

function mod(x: bigint): bigint {
  return ((x % p) + p) % p;
}

function power(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  let b = mod(base);
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % p;
    b = (b * b) % p;
  }
  return result;
}

/** Field inverse; 0 for 0 (what circom's `<-- 1 / x` and IsZero's `inv` compute there). */
function inverse(x: bigint): bigint {
  return mod(x) === 0n ? 0n : power(x, p - 2n);
}

/** Seeded uniform 32-bit integers, so random cases are reproducible. */
function prng(seed: number): () => number {
  const generator = new Prng(seed);
  return () => generator.nextU32();
}

function randomBits(random: () => number, bits: number): bigint {
  let value = 0n;
  for (let i = 0; i < bits; i += 32) value = (value << 32n) | BigInt(random());
  return value & ((1n << BigInt(bits)) - 1n);
}

function randomField(random: () => number): bigint {
  return randomBits(random, 256) % p;
}

function bit(value: bigint | number, i: number): bigint {
  return (BigInt(value) >> BigInt(i)) & 1n;
}

function hex(value: number, digits: number): string {
  return `0x${value.toString(16).padStart(digits, "0")}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Witness models and editing

/** Signal values of one template instance, by name relative to the instance (e.g. "raw.pow2e", "bits[3]"). */
type WireModel = Record<string, bigint>;

/** circom names anonymous components Template_line_column; the models call them by the template name. */
function modelKey(signal: string, prefix: string): string {
  return signal.slice(prefix.length).replace(/(^|\.)([A-Za-z0-9]+)_\d+_\d+\./g, "$1$2.");
}

/**
 * The edits that set every surviving wire below `prefix` to the model's value. Throws if a surviving wire has no
 * model value, so that no wire silently keeps its old (honest) value.
 */
function modelEdits(h: CircuitHarness, prefix: string, model: WireModel): Record<string, bigint> {
  const changes: Record<string, bigint> = {};
  for (const signal of h.signals(/^main\./)) {
    if (!signal.startsWith(prefix)) continue;
    const value = model[modelKey(signal, prefix)];
    if (value === undefined) throw new Error(`the wire model has no value for surviving signal ${signal}`);
    changes[signal] = mod(value);
  }
  return changes;
}

/** The surviving wires' values in a witness and in the model, for a toEqual comparison. */
function compareWithModel(h: CircuitHarness, witness: readonly bigint[], prefix: string, model: WireModel) {
  const expected = modelEdits(h, prefix, model);
  const actual = Object.fromEntries(Object.keys(expected).map((signal) => [signal, h.value(witness, signal)]));
  return { actual, expected };
}

/** Indices of every violated constraint (the harness reports only the first). */
function violations(h: CircuitHarness, witness: readonly bigint[]): number[] {
  const evaluate = (combination: [number, bigint][]) =>
    combination.reduce((sum, [wire, coefficient]) => sum + coefficient * witness[wire]!, 0n) % p;
  const found: number[] = [];
  h.r1cs.constraints.forEach(([a, b, c], index) => {
    if ((evaluate(a) * evaluate(b) - evaluate(c)) % p !== 0n) found.push(index);
  });
  return found;
}

const wireNames = new WeakMap<CircuitHarness, Map<number, string>>();

/** Names of the wires a constraint involves. */
function constraintSignals(h: CircuitHarness, index: number): string[] {
  let names = wireNames.get(h);
  if (!names) {
    names = new Map(h.signals(/./).map((signal) => [h.wire(signal), signal]));
    wireNames.set(h, names);
  }
  const [a, b, c] = h.r1cs.constraints[index]!;
  const wires = new Set([...a, ...b, ...c].map(([wire]) => wire).filter((wire) => wire !== 0));
  return [...wires].map((wire) => names.get(wire) ?? `wire ${wire}`).sort();
}

/**
 * A soundness attempt: the edit made (for the report), the violated constraints and the signals they involve.
 * The harness's firstViolated must agree that the witness is rejected.
 */
interface Attempt {
  readonly harness: CircuitHarness;
  readonly edit: string;
  readonly firstViolated: number;
  readonly violated: number[];
  readonly signals: string[];
}

function attempt(h: CircuitHarness, witness: readonly bigint[], edit: string): Attempt {
  const violated = violations(h, witness);
  const signals = [...new Set(violated.flatMap((index) => constraintSignals(h, index)))].sort();
  return { harness: h, edit, firstViolated: h.firstViolated(witness), violated, signals };
}

/** Every attempt is rejected (the failure message lists the accepted edits) and firstViolated agrees. */
function expectAllRejected(attempts: readonly Attempt[]): void {
  expect(attempts.length).toBeGreaterThan(0);
  expect(attempts.filter((a) => a.violated.length === 0).map((a) => a.edit)).toEqual([]);
  for (const a of attempts) expect(a.firstViolated, a.edit).toBe(a.violated[0]);
}

/**
 * Each attempt is rejected only by constraints that involve a signal matching `culprit` (with `single`, by exactly
 * one constraint: everything else in the edited witness is consistent).
 */
function expectRejectedBy(attempts: readonly Attempt[], culprit: RegExp, single = false): void {
  expectAllRejected(attempts);
  if (single) for (const a of attempts) expect(a.violated, a.edit).toHaveLength(1);
  for (const a of attempts) {
    for (const index of a.violated) {
      const signals = constraintSignals(a.harness, index);
      expect(
        signals.some((s) => culprit.test(s)),
        `${a.edit}: constraint #${index} on ${signals.join(", ")}`,
      ).toBe(true);
    }
  }
}

/**
 * Single-wire edits: every surviving wire, one at a time, set to (a) its boolean complement or value + 1 and (b) a
 * random other field element. Returns the edits the constraints accept, each as "signal := value".
 */
function acceptedSingleWireEdits(h: CircuitHarness, honest: readonly bigint[], random: () => number): string[] {
  const accepted: string[] = [];
  for (const signal of h.signals(/^main\./)) {
    const old = h.value(honest, signal);
    const complement = old === 0n ? 1n : old === 1n ? 0n : mod(old + 1n);
    let other = randomField(random);
    if (other === old) other = mod(other + 1n);
    for (const value of [complement, other]) {
      if (h.firstViolated(h.edit(honest, { [signal]: value })) < 0) accepted.push(`${signal} := ${value}`);
    }
  }
  return accepted;
}

// ---------------------------------------------------------------------------------------------------------------
// FP8 wire model: every signal of Fp8E4M3Decode / Fp8E5M2Decode from the code's bit fields

const E4M3_NAN_MAGNITUDE = 15n << 14n; // (8 + 7)·2^14: what the magnitude formula gives for S.1111.111

function fp8Fields(code: number, format: Fp8Format) {
  const { exponentBits, mantissaBits } = FP8_FORMATS[format];
  return {
    exponent: (code >> mantissaBits) & ((1 << exponentBits) - 1),
    mantissa: code & ((1 << mantissaBits) - 1),
    negative: code >> 7 === 1,
    exponentBits,
    mantissaBits,
  };
}

/**
 * All signals of the decoder for `code`, including the Inf/NaN codes (for which the magnitude is what the
 * constraints force: (2^MB·[e ≠ 0] + m)·2^(max(e, 1) − 1), and the inverse wire is 0).
 */
function fp8Model(code: number, format: Fp8Format): WireModel {
  const { exponent, mantissa, negative, exponentBits, mantissaBits } = fp8Fields(code, format);
  const pow2e = 1n << BigInt(exponent);
  const z = exponent === 0 ? 1n : 0n;
  const significand = BigInt(exponent === 0 ? mantissa : (1 << mantissaBits) + mantissa);
  const magnitude = significand << BigInt(Math.max(exponent - 1, 0));
  const value = negative ? -magnitude : magnitude;
  const raw: WireModel = {
    magnitude,
    pow2e,
    z,
    "isSubnormal.in": pow2e - 1n,
    "isSubnormal.out": z,
    "isSubnormal.inv": inverse(pow2e - 1n),
  };
  // partial[i] = 2^(exponent bits 0..i)
  for (let i = 0; i < exponentBits; i++) raw[`partial[${i}]`] = 1n << BigInt(exponent & ((2 << i) - 1));
  for (let i = 0; i < exponentBits; i++) raw[`e[${i}]`] = bit(code, mantissaBits + i);
  for (let i = 0; i < mantissaBits; i++) raw[`m[${i}]`] = bit(code, i);
  const model: WireModel = { code: BigInt(code), magnitude, value, "Num2Bits.in": BigInt(code) };
  for (let i = 0; i < 8; i++) model[`bits[${i}]`] = model[`Num2Bits.out[${i}]`] = bit(code, i);
  const rawPrefix = format === "e4m3fn" ? "decoded.raw." : "raw.";
  for (const [key, v] of Object.entries(raw)) model[rawPrefix + key] = v;
  if (format === "e4m3fn") {
    model["decoded.magnitude"] = magnitude;
    model["decoded.value"] = value;
    for (let i = 0; i < 8; i++) model[`decoded.bits[${i}]`] = bit(code, i);
    model["decoded.nanInverse"] = inverse(magnitude - E4M3_NAN_MAGNITUDE);
  } else {
    model.infNanInverse = inverse(pow2e - (1n << 31n));
  }
  return model;
}

// ---------------------------------------------------------------------------------------------------------------
// Float32OnGrid(27, 6) wire model

const SHIFT = 27;
const DB = 6;
const E_LO = 127 - SHIFT; // 100: the smallest biased exponent with an on-grid value (2^-27)

function float32Fields(word: number) {
  return { exponent: (word >>> 23) & 0xff, mantissa: word & 0x7f_ffff, negative: word >>> 31 === 1 };
}

/**
 * All signals of Float32OnGrid(27, 6) for `word`. `lowShiftBits` overrides shiftBits[0..DB−2] (default: the low bits
 * of the field element `shift`); shiftBits[DB−1], which --O2 eliminates, is then whatever the linear constraint
 * Σ shiftBits[i]·2^i = shift implies, and the pow2 chain is recomputed from those values. `isZeroExponent` and
 * `isZeroInverse` override the IsZero component's wires. value is the field division ±scaled/2^23.
 */
function float32Model(
  word: number,
  options: { lowShiftBits?: readonly bigint[]; isZeroExponent?: bigint; isZeroInverse?: bigint } = {},
): WireModel {
  const { exponent, mantissa, negative } = float32Fields(word);
  const z = options.isZeroExponent ?? (exponent === 0 ? 1n : 0n);
  const shift = mod((1n - z) * BigInt(exponent - E_LO));
  const shiftBits = options.lowShiftBits?.slice() ?? Array.from({ length: DB - 1 }, (_, i) => bit(shift, i));
  const lowSum = shiftBits.reduce((sum, b, i) => sum + b * (1n << BigInt(i)), 0n);
  shiftBits.push(mod((shift - lowSum) * inverse(1n << BigInt(DB - 1))));
  const pow2: bigint[] = [];
  shiftBits.forEach((b, i) => {
    const factor = mod(1n + ((1n << (1n << BigInt(i))) - 1n) * b);
    pow2.push(i === 0 ? factor : mod(pow2[i - 1]! * factor));
  });
  const significand = (1n - z) * (1n << 23n) + BigInt(mantissa);
  const scaled = mod(significand * pow2[DB - 1]!);
  const value = mod((negative ? -1n : 1n) * scaled * inverse(1n << 23n));
  const model: WireModel = {
    word: BigInt(word),
    isZeroExponent: z,
    "IsZero.in": BigInt(exponent),
    "IsZero.out": z,
    "IsZero.inv": options.isZeroInverse ?? inverse(BigInt(exponent)),
    shift,
    significand,
    scaled,
    value,
  };
  for (let i = 0; i < 32; i++) model[`bits[${i}]`] = bit(word, i);
  shiftBits.forEach((b, i) => (model[`shiftBits[${i}]`] = b));
  pow2.forEach((v, i) => (model[`pow2[${i}]`] = v));
  return model;
}

/** The wrapper Float32OnGridBounded: the decoder below `decode.`, and RangeCheck(42) of value + 2^40. */
function boundedModel(word: number, rangeBits?: (i: number) => bigint): WireModel {
  const decode = float32Model(word);
  const value = decode.value!;
  const shifted = mod(value + (1n << 40n));
  const model: WireModel = { word: BigInt(word), value, "bounded.in": shifted };
  for (const [key, v] of Object.entries(decode)) model[`decode.${key}`] = v;
  for (let i = 0; i < 42; i++) model[`bounded.bits[${i}]`] = rangeBits ? rangeBits(i) : bit(shifted, i);
  return model;
}

/** The reference's X = c·2^27 (bigint), or null when the pattern is not finite or off the 2^-27 grid. */
function referenceScaled(word: number): bigint | null {
  const decoded = decodeFloat32(word);
  return decoded.kind === "finite" ? toScaledInteger(decoded, SHIFT) : null;
}

function wordFrom(negative: boolean, exponent: number, mantissa: number): number {
  return ((negative ? 0x8000_0000 : 0) | (exponent << 23) | mantissa) >>> 0;
}

/** Mantissa bits that must be zero for a value with this biased exponent to be on the 2^-27 grid. */
function offGridMask(exponent: number): number {
  const below = E_LO + 23 - exponent; // bits of M = 2^23 + mantissa below 2^-27
  return below <= 0 ? 0 : below >= 23 ? 0x7f_ffff : (1 << below) - 1;
}

// ---------------------------------------------------------------------------------------------------------------
// CanonicalBits and RangeCheck wire models

const MASK127 = (1n << 127n) - 1n;
const P_HIGH = p >> 127n;
const P_LOW = p & MASK127;

/** All signals of CanonicalBits when its bits are the (possibly non-canonical, < 2^254) integer `v`. */
function canonicalBitsModel(v: bigint): WireModel {
  const low = v & MASK127;
  const high = v >> 127n;
  const highGap = mod(P_HIGH - high);
  const highIsMax = high === P_HIGH ? 1n : 0n;
  const lowGap = highIsMax === 1n ? mod(P_LOW - 1n - low) : 0n;
  const model: WireModel = {
    in: mod(v),
    highIsMax,
    "IsZero.in": highGap,
    "IsZero.out": highIsMax,
    "IsZero.inv": inverse(highGap),
    "highAtMost.in": highGap,
    "lowBelow.in": lowGap,
  };
  for (let i = 0; i < 254; i++) model[`bits[${i}]`] = bit(v, i);
  for (let i = 0; i < 127; i++) {
    model[`highAtMost.bits[${i}]`] = bit(highGap, i);
    model[`lowBelow.bits[${i}]`] = bit(lowGap, i);
  }
  return model;
}

// ---------------------------------------------------------------------------------------------------------------

let e4m3: CircuitHarness;
let e5m2: CircuitHarness;
let onGrid: CircuitHarness;
let bounded: CircuitHarness;
let canonical: CircuitHarness;
let range8: CircuitHarness;
const compiled: Record<string, CompiledCircuit> = {};

beforeAll(async () => {
  const load = async (name: string, include: string, template: string, params: number[]) => {
    compiled[name] = await instantiateCircuit(name, include, template, params);
    return CircuitHarness.load(compiled[name]);
  };
  e4m3 = await load("test_fp8_e4m3_decode", "lib/fp8.circom", "Fp8E4M3Decode", []);
  e5m2 = await load("test_fp8_e5m2_decode", "lib/fp8.circom", "Fp8E5M2Decode", []);
  onGrid = await load("test_float32_on_grid", "lib/float32.circom", "Float32OnGrid", [SHIFT, DB]);
  bounded = await load(
    "test_float32_on_grid_bounded",
    "test/float32_on_grid_bounded.circom",
    "Float32OnGridBounded",
    [],
  );
  canonical = await load("test_canonical_bits", "lib/range.circom", "CanonicalBits", []);
  range8 = await load("test_range_check_8", "lib/range.circom", "RangeCheck", [8]);
});

describe("constraint counts (locked; a change here is a circuit change to review)", () => {
  it.each([
    ["Fp8E4M3Decode()", 16, "test_fp8_e4m3_decode"],
    ["Fp8E5M2Decode()", 17, "test_fp8_e5m2_decode"],
    ["Float32OnGrid(27, 6)", 49, "test_float32_on_grid"],
    ["CanonicalBits()", 511, "test_canonical_bits"],
    ["RangeCheck(8)", 8, "test_range_check_8"],
    ["Float32OnGridBounded() (test wrapper)", 91, "test_float32_on_grid_bounded"],
  ] as const)("%s has %i constraints", async (_template, count, name) => {
    const circuit = compiled[name]!;
    const { nonLinear, linear } = constraintCounts(circuit.log);
    expect(nonLinear + linear).toBe(count);
    expect((await CircuitHarness.load(circuit)).constraintCount).toBe(count);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe.each([
  { format: "e4m3fn" as const, template: "Fp8E4M3Decode", get: () => e4m3 },
  { format: "e5m2" as const, template: "Fp8E5M2Decode", get: () => e5m2 },
])("$template", ({ format, get }) => {
  const finiteCodes = Array.from({ length: 256 }, (_, code) => code).filter(
    (code) => decodeFp8(code, format).kind === "finite",
  );
  const refusedCodes = Array.from({ length: 256 }, (_, code) => code).filter(
    (code) => decodeFp8(code, format).kind !== "finite",
  );
  const inverseWire = format === "e4m3fn" ? "main.decoded.nanInverse" : "main.infNanInverse";

  it(`decodes all ${format === "e4m3fn" ? 254 : 248} finite codes to the reference's scaled integer`, async () => {
    const h = get();
    expect(finiteCodes).toHaveLength(format === "e4m3fn" ? 254 : 248);
    for (const code of finiteCodes) {
      const reference = decodeFp8(code, format);
      if (reference.kind !== "finite") throw new Error("unreachable");
      const witness = await h.witness({ code });
      const label = `code ${hex(code, 2)}`;
      expect(h.firstViolated(witness), label).toBe(-1);
      const scaled = BigInt(reference.scaled);
      expect(h.value(witness, "main.value"), label).toBe(mod(scaled));
      expect(h.value(witness, "main.magnitude"), label).toBe(scaled < 0n ? -scaled : scaled);
      const bits = Array.from({ length: 8 }, (_, i) => bit(code, i));
      const bitSignals = Array.from({ length: 8 }, (_, i) => `main.bits[${i}]`).filter((s) => h.hasWire(s));
      expect(
        bitSignals.map((s) => h.value(witness, s)),
        label,
      ).toEqual(bitSignals.map((s) => bits[Number(/\d+/.exec(s)![0])]!));
      // The wire model used by the soundness cases below agrees with the generator on every surviving wire.
      const { actual, expected } = compareWithModel(h, witness, "main.", fp8Model(code, format));
      expect(actual, label).toEqual(expected);
    }
  });

  it(`names the wires that survive --O2 (the soundness cases edit all of them)`, () => {
    const h = get();
    const survivors = h.signals(/^main\./).map((s) => modelKey(s, "main."));
    if (format === "e4m3fn") {
      // `code` is replaced by Σ bits·2^i: as main's private input it has no wire of its own.
      expect(h.hasWire("main.code")).toBe(false);
      expect(survivors.sort()).toEqual(
        [
          ...Array.from({ length: 8 }, (_, i) => `bits[${i}]`),
          "magnitude",
          "value",
          "decoded.nanInverse",
          "decoded.raw.pow2e",
          "decoded.raw.partial[1]",
          "decoded.raw.partial[2]",
          "decoded.raw.z",
          "decoded.raw.isSubnormal.inv",
        ].sort(),
      );
    } else {
      // bits[7] is replaced by (code − Σ_{i<7} bits·2^i)/128.
      expect(h.hasWire("main.bits[7]")).toBe(false);
      expect(survivors.sort()).toEqual(
        [
          "code",
          ...Array.from({ length: 7 }, (_, i) => `bits[${i}]`),
          "magnitude",
          "value",
          "infNanInverse",
          "raw.pow2e",
          "raw.partial[1]",
          "raw.partial[2]",
          "raw.partial[3]",
          "raw.z",
          "raw.isSubnormal.inv",
        ].sort(),
      );
    }
  });

  it(`the witness generator refuses the ${refusedCodes.length} ${format === "e4m3fn" ? "NaN" : "Inf/NaN"} codes (not a soundness argument)`, async () => {
    expect(refusedCodes).toEqual(format === "e4m3fn" ? [0x7f, 0xff] : [0x7c, 0x7d, 0x7e, 0x7f, 0xfc, 0xfd, 0xfe, 0xff]);
    for (const code of refusedCodes) await expect(get().witness({ code }), hex(code, 2)).rejects.toThrow();
  });

  // Soundness: a witness fully consistent with an Inf/NaN code, whatever the inverse wire holds.
  const neighbourOf = (code: number) => (format === "e4m3fn" ? code - 1 : (code & 0x80) | 0x7b);
  it.each(
    (format === "e4m3fn" ? [0x7f, 0xff] : [0x7c, 0x7d, 0x7e, 0x7f, 0xfc, 0xfd, 0xfe, 0xff]).map((code) => ({
      code,
      label: hex(code, 2),
      neighbour: hex(neighbourOf(code), 2),
    })),
  )(
    "code $label is rejected: witness of $neighbour with code, bits, pow2 chain, z, IsZero inverse, magnitude and value rewritten to $label and the inverse wire set to 0, 1, −1, 2^-1 or random",
    async ({ code }) => {
      const h = get();
      const honest = await h.witness({ code: neighbourOf(code) });
      const model = fp8Model(code, format);
      const edits = modelEdits(h, "main.", model);
      // The edit is consistent: the forced magnitude is the NaN formula value (E4M3) / 2^e = 2^31 (E5M2).
      if (format === "e4m3fn") expect(model.magnitude).toBe(E4M3_NAN_MAGNITUDE);
      else expect(model["raw.pow2e"]).toBe(1n << 31n);
      const random = prng(code);
      const candidates = [0n, 1n, p - 1n, inverse(2n), randomField(random), randomField(random), randomField(random)];
      const attempts = candidates.map((inv) =>
        attempt(
          h,
          h.edit(honest, { ...edits, [inverseWire]: inv }),
          `${hex(code, 2)} from ${hex(neighbourOf(code), 2)}: ${inverseWire} := ${inv}`,
        ),
      );
      expectAllRejected(attempts);
      // Rejected by exactly one constraint, the inverse check: everything else is consistent with the code.
      for (const a of attempts) {
        expect(a.violated, a.edit).toHaveLength(1);
        expect(a.signals, a.edit).toContain(inverseWire);
      }
    },
  );

  it("single-wire edits of an honest witness (every surviving wire: bit, code, magnitude, value, pow2 chain, z, inverses) are rejected, all codes", async () => {
    const h = get();
    const random = prng(format === "e4m3fn" ? 11 : 12);
    const accepted: string[] = [];
    const expected: string[] = [];
    for (const code of finiteCodes) {
      const honest = await h.witness({ code });
      for (const edit of acceptedSingleWireEdits(h, honest, random)) accepted.push(`${hex(code, 2)}: ${edit}`);
      const { exponent } = fp8Fields(code, format);
      const rawPrefix = format === "e4m3fn" ? "main.decoded.raw." : "main.raw.";
      // Expected exceptions, not weaknesses: (1) IsZero's inverse is free when its input 2^e − 1 is 0 (e = 0);
      // (2) in E4M3, flipping the sign bit of +0 gives exactly the honest witness of −0 (`code` has no wire).
      if (exponent === 0) {
        const inv = h.value(honest, `${rawPrefix}isSubnormal.inv`);
        expect(inv).toBe(0n);
        expected.push(`${hex(code, 2)}: ${rawPrefix}isSubnormal.inv := 1`);
        expected.push(`${hex(code, 2)}: ${rawPrefix}isSubnormal.inv := <random>`);
      }
      if (format === "e4m3fn" && (code === 0x00 || code === 0x80)) {
        const flipped = code ^ 0x80;
        expected.push(`${hex(code, 2)}: main.bits[7] := ${bit(flipped, 7)}`);
        expect(h.edit(honest, { "main.bits[7]": bit(flipped, 7) })).toEqual(await h.witness({ code: flipped }));
      }
    }
    // Random replacement values are reported as <random> for the free inverse wire.
    const normalized = accepted.map((edit) => edit.replace(/(isSubnormal\.inv := )(?!1$)\d+$/, "$1<random>"));
    expect(normalized.sort()).toEqual(expected.sort());
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("Float32OnGrid(27, 6)", () => {
  /** On-grid patterns: ±0, every exponent 100…163 with power-of-two, all-ones and random allowed mantissas. */
  function onGridBattery(): { label: string; word: number }[] {
    const random = prng(21);
    const battery = [
      { label: "+0", word: 0x0000_0000 },
      { label: "−0", word: 0x8000_0000 },
      { label: "2^-27 (smallest)", word: float32Bits(2 ** -27) },
      { label: "−2^-27", word: float32Bits(-(2 ** -27)) },
      { label: "1", word: float32Bits(1) },
      { label: "−1.5", word: float32Bits(-1.5) },
      { label: "2^36", word: float32Bits(2 ** 36) },
      { label: "2^37 − 2^13 (largest)", word: float32Bits(2 ** 37 - 2 ** 13) },
      { label: "−(2^37 − 2^13)", word: float32Bits(-(2 ** 37 - 2 ** 13)) },
    ];
    for (let exponent = E_LO; exponent <= E_LO + 63; exponent++) {
      const allowed = 0x7f_ffff & ~offGridMask(exponent);
      const negative = exponent % 2 === 1;
      battery.push({ label: `2^${exponent - 127}`, word: wordFrom(negative, exponent, 0) });
      battery.push({
        label: `exponent ${exponent}, all allowed mantissa bits`,
        word: wordFrom(!negative, exponent, allowed),
      });
      const mantissa = random() & allowed;
      battery.push({
        label: `exponent ${exponent}, mantissa ${hex(mantissa, 6)}`,
        word: wordFrom(negative, exponent, mantissa),
      });
    }
    for (let n = 0; n < 40; n++) {
      const exponent = E_LO + (random() % 64);
      const mantissa = random() & 0x7f_ffff & ~offGridMask(exponent);
      const word = wordFrom(random() % 2 === 1, exponent, mantissa);
      battery.push({ label: `random ${hex(word, 8)}`, word });
    }
    return battery;
  }

  it("names the wires that survive --O2 (word is replaced by Σ bits·2^i, shiftBits[5] by the shift equation)", () => {
    expect(onGrid.hasWire("main.word")).toBe(false);
    expect(onGrid.hasWire("main.shiftBits[5]")).toBe(false);
    expect(
      onGrid
        .signals(/^main\./)
        .map((s) => modelKey(s, "main."))
        .filter((s) => !/^bits\[/.test(s))
        .sort(),
    ).toEqual(
      [
        "value",
        "isZeroExponent",
        "shift",
        ...Array.from({ length: 5 }, (_, i) => `shiftBits[${i}]`),
        ...Array.from({ length: 5 }, (_, i) => `pow2[${i + 1}]`),
        "scaled",
        "IsZero.inv",
      ].sort(),
    );
  });

  it("on-grid patterns (±0, 2^-27 … 2^37 − 2^13, every exponent 100–163, random): value = c·2^27 from the reference", async () => {
    const battery = onGridBattery();
    expect(battery.length).toBeGreaterThan(200);
    for (const { label, word } of battery) {
      const expected = referenceScaled(word);
      const name = `${label} (${hex(word, 8)})`;
      expect(expected, name).not.toBeNull();
      expect(expected! < 1n << 64n && expected! > -(1n << 64n), name).toBe(true);
      const witness = await onGrid.witness({ word });
      expect(onGrid.firstViolated(witness), name).toBe(-1);
      expect(onGrid.value(witness, "main.value"), name).toBe(mod(expected!));
      for (let i = 0; i < 32; i++) expect(onGrid.value(witness, `main.bits[${i}]`), name).toBe(bit(word, i));
      const { actual, expected: modelled } = compareWithModel(onGrid, witness, "main.", float32Model(word));
      expect(actual, name).toEqual(modelled);
    }
  });

  it("single-wire edits of honest witnesses are rejected (the only exceptions: IsZero's free inverse and the sign of ±0)", async () => {
    const random = prng(22);
    const words = [0x0000_0000, 0x8000_0000, float32Bits(2 ** -27), float32Bits(1), float32Bits(-(2 ** 37 - 2 ** 13))];
    for (const { word } of onGridBattery()
      .slice(9, 200)
      .filter((_, n) => n % 20 === 0))
      words.push(word);
    const accepted: string[] = [];
    for (const word of words) {
      const honest = await onGrid.witness({ word });
      for (const edit of acceptedSingleWireEdits(onGrid, honest, random)) accepted.push(`${hex(word, 8)}: ${edit}`);
    }
    const inv = onGrid.signals(/^main\.IsZero_\d+_\d+\.inv$/)[0]!;
    // Flipping the sign of ±0 gives the honest witness of ∓0 (checked below); at exponent 0 the IsZero inverse is free.
    expect(accepted.map((a) => a.replace(/(\.inv := )\d+$/, "$1*")).sort()).toEqual(
      [
        `0x00000000: main.bits[31] := 1`,
        `0x00000000: ${inv} := *`,
        `0x00000000: ${inv} := *`,
        `0x80000000: main.bits[31] := 0`,
        `0x80000000: ${inv} := *`,
        `0x80000000: ${inv} := *`,
      ].sort(),
    );
    const plusZero = await onGrid.witness({ word: 0 });
    const minusZero = await onGrid.witness({ word: 0x8000_0000 });
    expect(onGrid.edit(plusZero, { "main.bits[31]": 1n })).toEqual(minusZero);
    expect(onGrid.edit(minusZero, { "main.bits[31]": 0n })).toEqual(plusZero);
  });

  describe("off-grid patterns (bits below 2^-27), through the range-checked wrapper", () => {
    const random = prng(23);
    const cases: { label: string; word: number }[] = [
      { label: "2^-27·(1 + 2^-23)", word: float32Bits(2 ** -27 * (1 + 2 ** -23)) },
      { label: "−1.5·2^-27", word: float32Bits(-1.5 * 2 ** -27) },
      { label: "2^-5 + 2^-28", word: float32Bits(2 ** -5 + 2 ** -28) },
      { label: "(2^24 − 1)·2^-28 (largest off-grid float32)", word: float32Bits((2 ** 24 - 1) * 2 ** -28) },
    ];
    for (let n = 0; n < 6; n++) {
      const exponent = E_LO + (random() % 23); // 100…122: the exponents with both on- and off-grid values
      let mantissa = random() & 0x7f_ffff;
      if ((mantissa & offGridMask(exponent)) === 0) mantissa |= 1;
      const word = wordFrom(random() % 2 === 1, exponent, mantissa);
      cases.push({ label: `random ${hex(word, 8)}`, word });
    }
    const table = cases.map(({ label, word }) => ({
      label,
      word,
      hexWord: hex(word, 8),
      nearby: (word & ~offGridMask(float32Fields(word).exponent)) >>> 0,
    }));

    it.each(table)(
      "$label ($hexWord): bare Float32OnGrid accepts it with value a huge field element (its soundness note)",
      async ({ word }) => {
        expect(referenceScaled(word)).toBeNull();
        expect(decodeFloat32(word).kind).toBe("finite");
        const witness = await onGrid.witness({ word });
        expect(onGrid.firstViolated(witness)).toBe(-1);
        const { actual, expected } = compareWithModel(onGrid, witness, "main.", float32Model(word));
        expect(actual).toEqual(expected);
        // value·2^23 ≡ ±M·2^d: a field element far from every integer of size < 2^64.
        const value = onGrid.value(witness, "main.value");
        expect(value > 1n << 200n && p - value > 1n << 200n).toBe(true);
      },
    );

    it.each(table.map((row) => ({ ...row, nearbyHex: hex(row.nearby, 8) })))(
      "$label ($hexWord): rejected by the wrapper's range check — witness of $nearbyHex with word, bits, IsZero, shift, shiftBits, pow2 chain, scaled and value (field division) rewritten, range-check bits canonical / 0 / 1 / random",
      async ({ label, word, nearby }) => {
        expect(referenceScaled(nearby)).not.toBeNull();
        const honest = await bounded.witness({ word: nearby });
        expect(bounded.firstViolated(honest)).toBe(-1);
        await expect(bounded.witness({ word })).rejects.toThrow();
        const choices: [string, ((i: number) => bigint) | undefined][] = [
          ["canonical low bits of value + 2^40", undefined],
          ["all 0", () => 0n],
          ["all 1", () => 1n],
          ["random", () => BigInt(random() & 1)],
        ];
        const attempts = choices.map(([name, rangeBits]) =>
          attempt(
            bounded,
            bounded.edit(honest, modelEdits(bounded, "main.", boundedModel(word, rangeBits))),
            `${label}: all decoder wires rewritten to ${hex(word, 8)}, range-check bits ${name}`,
          ),
        );
        // Only the range check (RangeCheck(42) of value + 2^40) fails; the decoder's own constraints all hold.
        expectRejectedBy(attempts, /^main\.bounded\./, true);
      },
    );

    it("the wrapper accepts on-grid values with |c·2^27| < 2^40 (its range check is the caller's, not too tight)", async () => {
      for (const x of [0, -0, 2 ** -27, -(2 ** -27), 1, -1.5, 8191.5, -(2 ** 13 - 2 ** -10)]) {
        const word = float32Bits(x);
        const witness = await bounded.witness({ word });
        expect(bounded.firstViolated(witness), String(x)).toBe(-1);
        expect(bounded.value(witness, "main.value"), String(x)).toBe(mod(referenceScaled(word)!));
      }
    });
  });

  /** Every combination of the surviving shift bits (shiftBits[5] implied), pow2 chain recomputed honestly. */
  function shiftBitChoices(): bigint[][] {
    return Array.from({ length: 1 << (DB - 1) }, (_, n) => Array.from({ length: DB - 1 }, (_, i) => bit(n, i)));
  }

  it.each(
    [
      { label: "2^37 (exponent 164)", word: float32Bits(2 ** 37) },
      { label: "−1.5·2^37", word: float32Bits(-1.5 * 2 ** 37) },
      { label: "2^100", word: float32Bits(2 ** 100) },
      { label: "largest finite float32", word: 0x7f7f_ffff },
      { label: "+Inf", word: 0x7f80_0000 },
      { label: "−Inf", word: 0xff80_0000 },
      { label: "quiet NaN", word: 0x7fc0_0000 },
      { label: "signalling NaN", word: 0x7f80_0001 },
      { label: "NaN 0xffffffff", word: 0xffff_ffff },
      { label: "2^-28 (exponent 99, below the grid)", word: float32Bits(2 ** -28) },
      { label: "−2^-100", word: float32Bits(-(2 ** -100)) },
      { label: "2^-126 (smallest normal)", word: float32Bits(2 ** -126) },
    ].map((row) => ({ ...row, hexWord: hex(row.word, 8) })),
  )(
    "$label ($hexWord): rejected by Num2Bits(6) of the shift — witness of 2^36 with bits, IsZero, shift rewritten, all 32 choices of shiftBits[0..4], pow2 chain, scaled, value recomputed",
    async ({ label, word }) => {
      const { exponent } = float32Fields(word);
      expect(exponent > E_LO + 63 || (exponent > 0 && exponent < E_LO)).toBe(true);
      await expect(onGrid.witness({ word })).rejects.toThrow();
      const honest = await onGrid.witness({ word: float32Bits(2 ** 36) });
      const attempts = shiftBitChoices().map((lowShiftBits) =>
        attempt(
          onGrid,
          onGrid.edit(honest, modelEdits(onGrid, "main.", float32Model(word, { lowShiftBits }))),
          `${label}: shift := ${mod(BigInt(exponent - E_LO))}, shiftBits[0..4] := ${lowShiftBits.join("")}`,
        ),
      );
      // Rejected only through the shift decomposition (booleanity of the implied shiftBits[5]).
      expectRejectedBy(attempts, /^main\.shift(Bits\[\d\])?$/, true);
    },
  );

  it.each(
    [
      { label: "smallest subnormal 2^-149", word: 0x0000_0001 },
      { label: "−(largest subnormal)", word: 0x807f_ffff },
      { label: "2^-127", word: 0x0040_0000 },
    ].map((row) => ({ ...row, hexWord: hex(row.word, 8) })),
  )(
    "subnormal $label ($hexWord): rejected by isZeroExponent·mantissa = 0 — witness of +0 with the mantissa bits set, value recomputed; also with isZeroExponent := 0 (IsZero rejects)",
    async ({ label, word }) => {
      await expect(onGrid.witness({ word })).rejects.toThrow();
      const honest = await onGrid.witness({ word: 0 });
      const random = prng(word);
      const honestEdit = attempt(
        onGrid,
        onGrid.edit(honest, modelEdits(onGrid, "main.", float32Model(word))),
        `${label}: bits := ${hex(word, 8)}, isZeroExponent := 1, value := ±mantissa/2^23`,
      );
      expectRejectedBy([honestEdit], /^main\.isZeroExponent$/, true);
      const lies = [0n, 1n, randomField(random)].map((inv) =>
        attempt(
          onGrid,
          onGrid.edit(
            honest,
            modelEdits(onGrid, "main.", float32Model(word, { isZeroExponent: 0n, isZeroInverse: inv })),
          ),
          `${label}: bits := ${hex(word, 8)}, isZeroExponent := 0, IsZero inverse := ${inv}, shift := −100 …`,
        ),
      );
      expectAllRejected(lies);
    },
  );
});

// ---------------------------------------------------------------------------------------------------------------

describe("CanonicalBits()", () => {
  const random = prng(31);
  const edges: [string, bigint][] = [
    ["0", 0n],
    ["1", 1n],
    ["2", 2n],
    ["2^127 − 1", MASK127],
    ["2^127", 1n << 127n],
    ["2^253", 1n << 253n],
    ["2^254 − p − 1 (largest x with a non-canonical twin)", (1n << 254n) - p - 1n],
    ["2^254 − p", (1n << 254n) - p],
    ["P_HIGH·2^127 (high = P_HIGH, low = 0)", P_HIGH << 127n],
    ["p − 2^127 (high = P_HIGH − 1)", p - (1n << 127n)],
    ["P_HIGH·2^127 − 1 (high = P_HIGH − 1, low = 2^127 − 1)", (P_HIGH << 127n) - 1n],
    ["p − 2", p - 2n],
    ["p − 1", p - 1n],
  ];
  for (let n = 0; n < 12; n++) edges.push([`random #${n}`, randomField(random)]);

  it("names the wires that survive --O2 (in is replaced by Σ bits·2^i)", () => {
    expect(canonical.hasWire("main.in")).toBe(false);
    const internal = canonical
      .signals(/^main\./)
      .map((s) => modelKey(s, "main."))
      .filter((s) => !/^bits\[/.test(s) && !/^(highAtMost|lowBelow)\.bits\[/.test(s));
    expect(internal.sort()).toEqual(["IsZero.inv", "highIsMax", "lowBelow.in"]);
  });

  it.each(edges.map(([label, x]) => ({ label, x })))(
    "$label: honest witness passes and bits are the canonical (< p) decomposition",
    async ({ x }) => {
      const witness = await canonical.witness({ in: x });
      expect(canonical.firstViolated(witness)).toBe(-1);
      const bits = Array.from({ length: 254 }, (_, i) => canonical.value(witness, `main.bits[${i}]`));
      expect(bits).toEqual(Array.from({ length: 254 }, (_, i) => bit(x, i)));
      const { actual, expected } = compareWithModel(canonical, witness, "main.", canonicalBitsModel(x));
      expect(actual).toEqual(expected);
    },
  );

  const twins: [string, bigint][] = [
    ["0 (twin p: high = P_HIGH, low = P_LOW)", 0n],
    ["1", 1n],
    ["2^126", 1n << 126n],
    ["2^127 − P_LOW − 1 (twin's low part 2^127 − 1)", MASK127 - P_LOW],
    ["2^127 − P_LOW (twin's high part P_HIGH + 1)", MASK127 - P_LOW + 1n],
    ["2^200", 1n << 200n],
    ["2^254 − p − 1 (twin 2^254 − 1)", (1n << 254n) - p - 1n],
  ];
  for (let n = 0; n < 5; n++) twins.push([`random #${n}`, randomBits(random, 256) % ((1n << 254n) - p)]);

  it.each(twins.map(([label, x]) => ({ label, x })))(
    "$label: the non-canonical decomposition x + p is rejected — honest witness of x with bits := bits of x + p and highIsMax, IsZero inverse, gap range-check wires recomputed (canonical / all 0 / random bits)",
    async ({ label, x }) => {
      const twin = x + p;
      expect(twin < 1n << 254n).toBe(true);
      const honest = await canonical.witness({ in: x });
      const model = canonicalBitsModel(twin);
      const base = modelEdits(canonical, "main.", model);
      const gapWires = canonical.signals(/^main\.(highAtMost|lowBelow)\.bits\[/);
      const variants: [string, Record<string, bigint>][] = [
        ["range-check bits canonical", {}],
        ["range-check bits all 0", Object.fromEntries(gapWires.map((s) => [s, 0n]))],
        ["range-check bits random", Object.fromEntries(gapWires.map((s) => [s, BigInt(random() & 1)]))],
      ];
      const attempts = variants.map(([name, override]) =>
        attempt(
          canonical,
          canonical.edit(honest, { ...base, ...override }),
          `${label}: bits := x + p (high ${model.highIsMax === 1n ? "= P_HIGH" : "> P_HIGH"}), ${name}`,
        ),
      );
      // The gap range checks (high ≤ P_HIGH, and low < P_LOW when high = P_HIGH) are what reject it.
      expectRejectedBy(attempts, /^main\.(highAtMost|lowBelow)\./);
    },
  );

  it("single-wire edits of the internal wires (highIsMax, IsZero inverse, gap range checks) are rejected", async () => {
    const accepted: string[] = [];
    const editRandom = prng(32);
    for (const [label, x] of edges) {
      const honest = await canonical.witness({ in: x });
      const internal = canonical.signals(/^main\./).filter((s) => !/^main\.bits\[/.test(s));
      for (const signal of internal) {
        const old = canonical.value(honest, signal);
        const other = old === 0n ? 1n : old === 1n ? 0n : mod(old + 1n);
        for (const value of [other, randomField(editRandom)]) {
          if (canonical.firstViolated(canonical.edit(honest, { [signal]: value })) < 0) {
            accepted.push(`${label}: ${signal}`);
          }
        }
      }
    }
    // IsZero's inverse is free exactly when high = P_HIGH (its input P_HIGH − high is 0).
    const inv = canonical.signals(/^main\.IsZero_\d+_\d+\.inv$/)[0]!;
    const highIsMax = edges.filter(([, x]) => x >> 127n === P_HIGH).map(([label]) => label);
    expect(highIsMax.length).toBeGreaterThanOrEqual(3);
    expect(accepted.sort()).toEqual(highIsMax.flatMap((label) => [`${label}: ${inv}`, `${label}: ${inv}`]).sort());
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("RangeCheck(8)", () => {
  it("accepts 0 and 255", async () => {
    for (const value of [0, 255]) {
      const witness = await range8.witness({ in: value });
      expect(range8.firstViolated(witness), String(value)).toBe(-1);
    }
  });

  it.each([
    { label: "256", value: 256n },
    { label: "257", value: 257n },
    { label: "511", value: 511n },
    { label: "p − 1 (−1)", value: p - 1n },
  ])(
    "in = $label is rejected for every choice of the boolean bits (bits[0..6] survive; bits[7] is implied)",
    async ({ value }) => {
      expect(range8.hasWire("main.bits[7]")).toBe(false);
      await expect(range8.witness({ in: value })).rejects.toThrow();
      const honest = await range8.witness({ in: 255 });
      const attempts = Array.from({ length: 128 }, (_, n) => {
        const changes: Record<string, bigint> = { "main.in": value };
        for (let i = 0; i < 7; i++) changes[`main.bits[${i}]`] = bit(n, i);
        return attempt(range8, range8.edit(honest, changes), `in := ${value}, bits[0..6] := ${n.toString(2)}`);
      });
      expectAllRejected(attempts);
    },
  );
});
