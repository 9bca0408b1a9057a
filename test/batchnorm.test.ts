// FP8 batch normalisation (inference): the exact TypeScript reference against ONNX Runtime, and the tile circuits
// against the reference, with soundness shown by editing honest witnesses and checking that the constraints reject
// them.
import { beforeAll, describe, expect, it } from "vitest";
import { compileCircuit, constraintCounts, inspectWarnings, instantiateCircuit } from "../circuits/compile.js";
import { fp8ToScaled } from "../common/fp8.js";
import { decodeFloat32, float32Bits, float32FromBits, toScaledInteger } from "../common/numerics.js";
import {
  BATCHNORM_DEMO_TILES_PER_PROOF,
  BATCHNORM_DEMO_TILING,
  BATCHNORM_GRID_SHIFT,
  BATCHNORM_PRODUCTION_TILES_PER_PROOF,
  BATCHNORM_PRODUCTION_TILING,
  batchNormChannelParams,
  batchNormExact,
  batchNormInputTile,
  batchNormInverseSqrt,
  batchNormProofInput,
  batchNormQ,
  checkBatchNorm,
  checkBatchNormOutput,
  commitBatchNormOutputs,
  defineBatchNormWork,
  floorSqrt,
  generateBatchNormInputs,
  referenceBatchNormOutputs,
  roundToBatchNormGrid,
  type BatchNormExact,
  type BatchNormInputs,
} from "../common/ops/batchnorm.js";
import { committedBatchNormWords, Fp8BatchNormRunner, runBatchNormWork } from "../miner/ops/batchnorm.js";
import { CircuitHarness, FIELD } from "./helpers/circuit.js";

const FINITE_CODES = Array.from({ length: 256 }, (_, code) => code).filter((code) => (code & 0x7f) !== 0x7f);
const MAX_SCALED = 229376n;
const F = 40n;
/** The circuit's range-check widths, recomputed from the contract's bounds. */
const R_MAX = floorSqrt((1n << (2n * F)) / 32n);
const OUTPUT_RANGE_BITS = (2n * (2n * MAX_SCALED * MAX_SCALED * R_MAX + (MAX_SCALED << 44n))).toString(2).length;
const INVERSE_GAP_BITS = (
  2n * (1n << F) * (floorSqrt(2n * (MAX_SCALED + 16n)) + 1n) +
  2n * (MAX_SCALED + 16n)
).toString(2).length;

const mod = (x: bigint): bigint => ((x % FIELD) + FIELD) % FIELD;
function inverse(x: bigint): bigint {
  let [a, b, u, v] = [mod(x), FIELD, 1n, 0n];
  while (b !== 0n) {
    const q = a / b;
    [a, b, u, v] = [b, a - q * b, v, u - q * v];
  }
  return mod(u);
}
function escape(text: string): string {
  return text.replace(/[.[\]]/g, (c) => `\\${c}`);
}

/** Deterministic small PRNG for the input sweeps (xorshift32). */
function codePicker(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return FINITE_CODES[s % FINITE_CODES.length]!;
  };
}

/** A rows × channels problem with every finite x code in every column and random parameters. */
function sweepInputs(seed: number, channels: number): BatchNormInputs {
  const pick = codePicker(seed);
  const rows = FINITE_CODES.length;
  const x = new Uint8Array(rows * channels);
  for (let i = 0; i < rows; i++) for (let j = 0; j < channels; j++) x[i * channels + j] = FINITE_CODES[(i + j) % rows]!;
  const vector = () => Uint8Array.from({ length: channels }, pick);
  return { rows, channels, x, mean: vector(), variance: vector(), gamma: vector(), beta: vector() };
}

describe("reference: the fixed-point inverse square root and the exact contract", () => {
  it("R = ⌊2^40/√Q⌋ satisfies R²·Q ≤ 2^80 < (R + 1)²·Q for every variance code, and 32 ≤ Q ≤ 458784", () => {
    for (const code of FINITE_CODES) {
      const q = batchNormQ(code);
      const r = batchNormInverseSqrt(code);
      expect(q >= 32n && q <= 2n * (MAX_SCALED + 16n)).toBe(true);
      expect(r * r * q <= 1n << 80n && (r + 1n) * (r + 1n) * q > 1n << 80n, `code ${code}`).toBe(true);
    }
    expect(floorSqrt(0n)).toBe(0n);
    expect(floorSqrt((1n << 100n) - 1n)).toBe((1n << 50n) - 1n);
  });

  it("N·2^-53 is the affine map to within 2^-30 relative (float64 sanity check, not a decision)", () => {
    const pick = codePicker(7);
    for (let n = 0; n < 2000; n++) {
      const codes = [pick(), pick(), pick(), pick(), pick()] as const;
      const [x, m, v, g, b] = codes.map((c) => fp8ToScaled(c, "e4m3fn") * 2 ** -9) as [
        number,
        number,
        number,
        number,
        number,
      ];
      const ideal = ((x - m) * g) / Math.sqrt(Math.abs(v) + 2 ** -5) + b;
      const { n: exact, t } = batchNormExact(...codes);
      expect(Math.abs(Number(exact) * 2 ** -53 - ideal)).toBeLessThanOrEqual(Number(t) * 2 ** -53 * 2 ** -29 + 1e-300);
    }
  });

  it("refuses NaN/Inf and off-grid words; accepts the exact value; rounds tiny off-grid values onto the grid", () => {
    const exact: BatchNormExact = { n: 3n << 53n, t: 5n << 53n };
    expect(checkBatchNormOutput(float32Bits(3), exact).ok).toBe(true);
    expect(checkBatchNormOutput(0x7fc00000, exact)).toEqual({ ok: false, reason: "nan-or-inf" });
    expect(checkBatchNormOutput(0x7f800000, exact)).toEqual({ ok: false, reason: "nan-or-inf" });
    const tiny = float32Bits(3 * 2 ** -73);
    expect(checkBatchNormOutput(tiny, { n: 0n, t: 1n })).toEqual({ ok: false, reason: "off-grid" });
    expect(float32FromBits(roundToBatchNormGrid(tiny))).toBe(2 ** -71); // 0.75 grid units → 1
    expect(float32FromBits(roundToBatchNormGrid(float32Bits(-5 * 2 ** -73)))).toBe(-(2 ** -71)); // 1.25 → 1
    expect(roundToBatchNormGrid(float32Bits(2 ** -72))).toBe(0); // tie to even
    for (const word of [float32Bits(1.5), float32Bits(-(2 ** -48)), 0x80000000, 0x7f800000]) {
      expect(roundToBatchNormGrid(word)).toBe(word);
    }
  });
});

describe("ONNX Runtime (CPU) against the exact reference", () => {
  it("every ORT output of sweeps over all finite x codes is within the contract; worst error is far below the bound", async () => {
    const channels = 64;
    const runner = await Fp8BatchNormRunner.create(channels);
    let worst = 0;
    let rounded = 0;
    try {
      for (let seed = 1; seed <= 12; seed++) {
        const inputs = sweepInputs(seed, channels);
        if (seed === 1) {
          // Cancellation: mean = x in the first row, β = 0 (y* = 0 there, T = 2·|x·s|).
          inputs.mean.set(inputs.x.subarray(0, channels));
          inputs.beta.fill(0);
        }
        if (seed === 2) {
          // Extremes: var at both ends, γ = ±448 and ±0, mean = ∓448.
          inputs.variance.set([0x00, 0x80, 0x7e, 0xfe, 0x01]);
          inputs.gamma.set([0x7e, 0xfe, 0x00, 0x80, 0x7e]);
          inputs.mean.set([0xfe, 0x7e, 0x7e, 0x00, 0x01]);
        }
        const raw = await runner.run(inputs);
        const committed = committedBatchNormWords(raw);
        rounded += committed.filter((word, index) => word !== raw[index]).length;
        const result = checkBatchNorm(inputs, committed);
        expect(result.failures, `sweep ${seed}`).toEqual([]);
        worst = Math.max(worst, result.worstFractionOfBound);
      }
    } finally {
      await runner.release();
    }
    // Measured ≈ 0.054 of the bound (3.5 float32 ulps of T against 64); docs/ops/batchnorm.md.
    console.log(`ORT worst |y − ŷ| / bound = ${worst.toFixed(4)}; outputs rounded onto the grid: ${rounded}`);
    expect(worst).toBeLessThan(0.125);
  });

  it("a seed-mode work mined on ORT passes the contract, and so do the reference outputs", async () => {
    const work = defineBatchNormWork(BATCHNORM_PRODUCTION_TILING, { rowBlocksLog2: 2, colBlocksLog2: 3 });
    const inputs = await generateBatchNormInputs(0xba7c4n, work);
    const outputs = await runBatchNormWork(0xba7c4n, work);
    expect(inputs.rows * inputs.channels).toBe(48 * 64);
    expect(checkBatchNorm(inputs, outputs).ok).toBe(true);
    const reference = checkBatchNorm(inputs, referenceBatchNormOutputs(inputs));
    expect(reference.ok).toBe(true);
    expect(reference.worstFractionOfBound).toBeLessThan(2 ** -5);
  });

  it("validates work shapes with clear errors", () => {
    expect(() => defineBatchNormWork(BATCHNORM_DEMO_TILING, { rowBlocksLog2: 4, colBlocksLog2: 0 })).toThrow(
      /rowBlocksLog2 must be an integer in \[0, 3\]/,
    );
    expect(() => defineBatchNormWork(BATCHNORM_DEMO_TILING, { rowBlocksLog2: 0, colBlocksLog2: -1 })).toThrow(
      /colBlocksLog2/,
    );
    expect(() =>
      defineBatchNormWork(
        { ...BATCHNORM_DEMO_TILING, tileRows: 15, tileChannels: 8 },
        { rowBlocksLog2: 0, colBlocksLog2: 0 },
      ),
    ).toThrow(/112-word/);
  });
});

/** Float32 decoding wires of Float32OnGrid(71, 7) at `out`, for `word`. */
function float32Wires(harness: CircuitHarness, out: string, word: number): Map<string, bigint> {
  const set = new Map<string, bigint>();
  const bits = Array.from({ length: 32 }, (_, bit) => BigInt((word >>> bit) & 1));
  bits.forEach((bit, index) => set.set(`${out}.bits[${index}]`, bit));
  const mantissa = BigInt(word & 0x7fffff);
  const exponent = BigInt((word >>> 23) & 0xff);
  const zero = exponent === 0n ? 1n : 0n;
  set.set(`${out}.isZeroExponent`, zero);
  const inv = harness.signals(new RegExp(`^${escape(out)}\\.IsZero_[0-9_]+\\.inv$`));
  expect(inv).toHaveLength(1);
  set.set(inv[0]!, exponent === 0n ? 0n : inverse(exponent));
  const shift = mod((1n - zero) * (exponent - BigInt(127 - BATCHNORM_GRID_SHIFT)));
  set.set(`${out}.shift`, shift);
  let pow = 1n;
  for (let bit = 0; bit < 7; bit++) {
    const b = (shift >> BigInt(bit)) & 1n;
    set.set(`${out}.shiftBits[${bit}]`, b);
    pow = bit === 0 ? 1n + b : mod(pow * (1n + ((1n << (1n << BigInt(bit))) - 1n) * b));
    set.set(`${out}.pow2[${bit}]`, pow);
  }
  const significand = (1n - zero) * (1n << 23n) + mantissa;
  set.set(`${out}.significand`, significand);
  const scaled = mod(significand * pow);
  set.set(`${out}.scaled`, scaled);
  set.set(`${out}.value`, mod((1n - 2n * bits[31]!) * scaled * inverse(1n << 23n)));
  return set;
}

/**
 * Recomputes every wire of output (i, j) of the Fp8BatchNormContractCheck main that depends on the output word, as an
 * honest prover would for `word`, except that range-check bits can only be the low bits of a (possibly negative) gap.
 * A contract-violating word then fails exactly at the constraints that encode the contract.
 */
function rederiveOutput(
  harness: CircuitHarness,
  witness: bigint[],
  i: number,
  j: number,
  word: number,
  exact: BatchNormExact,
): bigint[] {
  const set = float32Wires(harness, `main.outputWord[${i}][${j}]`, word);
  set.set(`main.yWord[${i}][${j}]`, BigInt(word));
  for (let bit = 0; bit < 32; bit++) set.set(`main.yBits[${i}][${j}][${bit}]`, BigInt((word >>> bit) & 1));
  const value = set.get(`main.outputWord[${i}][${j}].value`)!;
  const lower = mod(value - (exact.n << 18n) + exact.t);
  const upper = mod((exact.n << 18n) + exact.t - value);
  set.set(`main.lowerGap[${i}][${j}].in`, lower);
  set.set(`main.upperGap[${i}][${j}].in`, upper);
  for (let bit = 0; bit < OUTPUT_RANGE_BITS; bit++) {
    set.set(`main.lowerGap[${i}][${j}].bits[${bit}]`, (lower >> BigInt(bit)) & 1n);
    set.set(`main.upperGap[${i}][${j}].bits[${bit}]`, (upper >> BigInt(bit)) & 1n);
  }
  const changes: Record<string, bigint> = {};
  for (const [signal, v] of set) if (harness.hasWire(signal)) changes[signal] = v;
  return harness.edit(witness, changes);
}

function gridValue(word: number): bigint | null {
  const decoded = decodeFloat32(word);
  return decoded.kind === "finite" ? toScaledInteger(decoded, BATCHNORM_GRID_SHIFT) : null;
}

/** The next float32 bit pattern up (towards +Inf) and down, treating −0 and +0 as one point. */
function nextUp(word: number): number {
  if (word === 0x80000000) return 1;
  return word >>> 31 === 0 ? word + 1 : word - 1;
}
function nextDown(word: number): number {
  if (word === 0) return 0x80000001;
  return word >>> 31 === 0 ? word - 1 : word + 1;
}

/** The largest float32 inside the contract bound of (N, T), and the next one up, which is outside. */
function upperBoundaryWords(exact: BatchNormExact): { inside: number; outside: number } {
  const centre = exact.n << 18n;
  const within = (w: number) => {
    const y = gridValue(w);
    return y !== null && y - centre <= exact.t && centre - y <= exact.t;
  };
  let inside = float32Bits(Math.fround(Number(centre + exact.t) * 2 ** -71));
  while (!within(inside)) inside = nextDown(inside);
  while (within(nextUp(inside))) inside = nextUp(inside);
  return { inside, outside: nextUp(inside) };
}

function negate(words: { inside: number; outside: number }): { inside: number; outside: number } {
  return { inside: (words.inside ^ 0x80000000) >>> 0, outside: (words.outside ^ 0x80000000) >>> 0 };
}

describe("Fp8BatchNormInverseSqrt: the checked fixed-point 1/√Q", () => {
  let harness: CircuitHarness;

  beforeAll(async () => {
    harness = await CircuitHarness.load(
      await instantiateCircuit("test_batchnorm_inverse_sqrt", "lib/batchnorm.circom", "Fp8BatchNormInverseSqrt", []),
    );
  }, 600_000);

  /** Witness for q with r replaced by `r` and every dependent wire re-derived (range bits = low bits of the gaps). */
  function withR(honest: bigint[], q: bigint, r: bigint): bigint[] {
    const rq = r * q;
    const rrq = rq * r;
    const below = mod((1n << 80n) - rrq);
    const above = mod(rrq + 2n * rq + q - (1n << 80n) - 1n);
    const changes: Record<string, bigint> = { "main.r": r, "main.rq": rq, "main.rrq": rrq };
    for (let bit = 0; bit < 40; bit++) changes[`main.rRange.bits[${bit}]`] = (mod(r) >> BigInt(bit)) & 1n;
    changes["main.below.in"] = below;
    changes["main.above.in"] = above;
    for (let bit = 0; bit < INVERSE_GAP_BITS; bit++) {
      changes[`main.below.bits[${bit}]`] = (below >> BigInt(bit)) & 1n;
      changes[`main.above.bits[${bit}]`] = (above >> BigInt(bit)) & 1n;
    }
    return harness.edit(
      honest,
      Object.fromEntries(Object.entries(changes).filter(([signal]) => harness.hasWire(signal))),
    );
  }

  it("locks its constraint count (R range 40 bits, two 51-bit gap checks, two products)", () => {
    expect(INVERSE_GAP_BITS).toBe(51);
    expect(harness.constraintCount).toBe(144);
  });

  it("accepts R = ⌊2^40/√Q⌋ for every variance magnitude and rejects R ± 1 and R + 2^40 re-derived consistently", async () => {
    for (const code of FINITE_CODES.filter((c) => c < 0x80)) {
      const q = batchNormQ(code);
      const honest = await harness.witness({ q: String(q) });
      const r = batchNormInverseSqrt(code);
      expect(harness.value(honest, "main.r")).toBe(r);
      expect(harness.firstViolated(honest)).toBe(-1);
      expect(withR(honest, q, r)).toEqual(honest);
      for (const wrong of [r + 1n, r - 1n, r + (1n << 40n), mod(-r)]) {
        expect(harness.firstViolated(withR(honest, q, wrong)), `code ${code}, r = ${wrong}`).toBeGreaterThanOrEqual(0);
      }
    }
  });
});

describe("Fp8BatchNormContractCheck(2, 2) against the reference (edited witnesses)", () => {
  const pick = codePicker(99);
  const inputs: BatchNormInputs = {
    rows: 2,
    channels: 2,
    x: Uint8Array.from([pick(), pick(), 0x80, pick()]),
    mean: Uint8Array.from([pick(), 0x00]),
    variance: Uint8Array.from([0xfe, pick()]),
    gamma: Uint8Array.from([pick(), pick()]),
    beta: Uint8Array.from([pick(), pick()]),
  };
  const scaled = (code: number) => BigInt(fp8ToScaled(code, "e4m3fn"));
  const abs = (v: bigint) => (v < 0n ? -v : v);
  const exact = (i: number, j: number) =>
    batchNormExact(inputs.x[i * 2 + j]!, inputs.mean[j]!, inputs.variance[j]!, inputs.gamma[j]!, inputs.beta[j]!);
  const y = referenceBatchNormOutputs(inputs);
  let harness: CircuitHarness;
  let honest: bigint[];

  beforeAll(async () => {
    harness = await CircuitHarness.load(
      await instantiateCircuit("test_batchnorm_check_2x2", "lib/batchnorm.circom", "Fp8BatchNormContractCheck", [2, 2]),
    );
    const matrix = (f: (v: bigint) => bigint) =>
      [0, 1].map((i) => [0, 1].map((j) => String(f(scaled(inputs.x[i * 2 + j]!)))));
    const vector = (codes: Uint8Array, f: (v: bigint) => bigint) => Array.from(codes, (c) => String(f(scaled(c))));
    const id = (v: bigint) => v;
    honest = await harness.witness({
      xValue: matrix(id),
      xMagnitude: matrix(abs),
      meanValue: vector(inputs.mean, id),
      meanMagnitude: vector(inputs.mean, abs),
      varMagnitude: vector(inputs.variance, abs),
      gammaValue: vector(inputs.gamma, id),
      gammaMagnitude: vector(inputs.gamma, abs),
      betaValue: vector(inputs.beta, id),
      betaMagnitude: vector(inputs.beta, abs),
      yWord: [0, 1].map((i) => [0, 1].map((j) => String(y[i * 2 + j]!))),
    });
  }, 600_000);

  it("locks its constraint count and range-check width", () => {
    expect(OUTPUT_RANGE_BITS).toBe(76);
    expect(harness.constraintCount).toBe(1_112);
  });

  it("the honest witness passes, and re-deriving an output's wires reproduces it", () => {
    expect(harness.firstViolated(honest)).toBe(-1);
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 2; j++)
        expect(rederiveOutput(harness, honest, i, j, y[i * 2 + j]!, exact(i, j))).toEqual(honest);
    }
  });

  it("accepts an output exactly at the bound and rejects the next float32 beyond it, on both sides", () => {
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 2; j++) {
        const e = exact(i, j);
        for (const side of ["upper", "lower"] as const) {
          const { inside, outside } =
            side === "upper" ? upperBoundaryWords(e) : negate(upperBoundaryWords({ n: -e.n, t: e.t }));
          expect(checkBatchNormOutput(inside, e).ok).toBe(true);
          expect(checkBatchNormOutput(outside, e).ok).toBe(false);
          const at = rederiveOutput(harness, honest, i, j, inside, e);
          expect(harness.firstViolated(at), `(${i},${j}) ${side} ${float32FromBits(inside)}`).toBe(-1);
          const beyond = rederiveOutput(harness, honest, i, j, outside, e);
          expect(
            harness.firstViolated(beyond),
            `(${i},${j}) ${side} ${float32FromBits(outside)}`,
          ).toBeGreaterThanOrEqual(0);
        }
      }
    }
  });

  it("rejects NaN, ±Inf, nonzero subnormals, off-grid values and huge magnitudes", () => {
    const bad = {
      nan: 0x7fc00000,
      infinity: 0x7f800000,
      negativeInfinity: 0xff800000,
      subnormal: 0x00000001,
      offGrid: float32Bits(2 ** -72),
      offGridOdd: float32Bits(3 * 2 ** -73),
      huge: float32Bits(2 ** 57),
      large: float32Bits(2 ** 40),
    };
    for (const [name, word] of Object.entries(bad)) {
      expect(
        harness.firstViolated(rederiveOutput(harness, honest, 0, 0, word, exact(0, 0))),
        name,
      ).toBeGreaterThanOrEqual(0);
    }
  });

  it("rejects single edits of every signal class", () => {
    const classes: Record<string, string[]> = {
      "decoded x": ["main.xValue[0][0]", "main.xMagnitude[1][1]"],
      "decoded parameters": [
        "main.meanValue[0]",
        "main.meanMagnitude[0]",
        "main.varMagnitude[1]",
        "main.gammaValue[1]",
        "main.gammaMagnitude[0]",
        "main.betaValue[0]",
        "main.betaMagnitude[1]",
      ],
      "inverse-sqrt hint and its products": [
        "main.inverseSqrt[0].r",
        "main.inverseSqrt[1].rq",
        "main.inverseSqrt[0].rrq",
      ],
      "inverse-sqrt range bits": [
        "main.inverseSqrt[0].rRange.bits[3]",
        "main.inverseSqrt[1].below.bits[0]",
        "main.inverseSqrt[1].above.bits[7]",
      ],
      products: ["main.gammaR[0]", "main.gammaMagnitudeR[1]", "main.centered[1][0]", "main.magnitudes[0][1]"],
      "output bits": ["main.yBits[0][1][30]", "main.yBits[1][0][0]"],
      "output decoding": [
        "main.outputWord[0][0].shift",
        "main.outputWord[1][0].scaled",
        "main.outputWord[0][1].pow2[6]",
      ],
      "output range-check bits": ["main.lowerGap[0][0].bits[0]", "main.upperGap[1][1].bits[70]"],
    };
    for (const [cls, signals] of Object.entries(classes)) {
      const present = signals.filter((s) => harness.hasWire(s));
      expect(present.length, cls).toBeGreaterThan(0);
      for (const signal of present) {
        for (const delta of [1n, -1n, 1n << 40n]) {
          const edited = harness.edit(honest, { [signal]: harness.value(honest, signal) + delta });
          expect(harness.firstViolated(edited), `${cls}: ${signal} + ${delta}`).toBeGreaterThanOrEqual(0);
        }
      }
    }
  });
});

describe("demo circuit circuits/main/batchnorm_seed_demo_1x2x4.circom (seed mode, ORT outputs)", () => {
  const work = defineBatchNormWork(BATCHNORM_DEMO_TILING, { rowBlocksLog2: 3, colBlocksLog2: 2 });
  const seed = 0x5eed_b47c_4n;
  const challenge = 0xc4a11e96en;
  const miner = 0x70997970c51812dc3a010c7d01b50e0d17dc79c8n;
  let harness: CircuitHarness;
  let log: string;
  let honest: bigint[];
  let proof: Awaited<ReturnType<typeof batchNormProofInput>>;

  beforeAll(async () => {
    const compiled = await compileCircuit(
      "batchnorm_seed_demo_1x2x4",
      "circuits/main/batchnorm_seed_demo_1x2x4.circom",
    );
    log = compiled.log;
    harness = await CircuitHarness.load(compiled);
    const outputs = await runBatchNormWork(seed, work);
    const tree = await commitBatchNormOutputs(outputs, work);
    proof = await batchNormProofInput({
      work,
      tilesPerProof: BATCHNORM_DEMO_TILES_PER_PROOF,
      outputs,
      tree,
      seed,
      challenge,
      miner,
    });
    honest = await harness.witness(proof.input);
  }, 600_000);

  it("locks the constraint count (≤ 8,000, power-13 ptau) and circom --inspect is clean", () => {
    expect(constraintCounts(log)).toEqual({ nonLinear: 7_071, linear: 0 });
    expect(harness.constraintCount + harness.r1cs.publicInputs + 1).toBeLessThanOrEqual(2 ** 13);
    expect(harness.r1cs.publicInputs).toBe(5);
    expect(inspectWarnings(log)).toEqual([]);
  });

  it("accepts the honest witness built from ORT's committed outputs", () => {
    expect(harness.firstViolated(honest)).toBe(-1);
  });

  it("generates the same x and parameter bytes in-circuit as the reference", async () => {
    const { rowBlock, colBlock } = proof.tiles[0]!;
    const x = await batchNormInputTile(seed, work, rowBlock, colBlock);
    x.forEach((code, index) => {
      const signal = `main.check[0].xValue[${Math.floor(index / 4)}][${index % 4}]`;
      expect(harness.value(honest, signal)).toBe(mod(BigInt(fp8ToScaled(code, "e4m3fn"))));
    });
    const params = await batchNormChannelParams(seed, work.tiling, colBlock);
    const scaled = (code: number) => BigInt(fp8ToScaled(code, "e4m3fn"));
    const expected: [string, Uint8Array, (code: number) => bigint][] = [
      ["meanValue", params.mean, scaled],
      ["varMagnitude", params.variance, (code) => (scaled(code) < 0n ? -scaled(code) : scaled(code))],
      ["gammaValue", params.gamma, scaled],
      ["betaValue", params.beta, scaled],
    ];
    for (const [name, codes, value] of expected) {
      codes.forEach((code, j) => expect(harness.value(honest, `main.check[0].${name}[${j}]`)).toBe(mod(value(code))));
    }
    const inputs = await generateBatchNormInputs(seed, work);
    expect(inputs.x[rowBlock * 2 * work.channels + colBlock * 4]).toBe(x[0]);
  });

  it("rejects an edit of every signal class", () => {
    const classes: Record<string, string[]> = {
      "public output root": ["main.outputRoot"],
      "public seed": ["main.seed"],
      "public challenge": ["main.challenge"],
      "public miner": ["main.miner"],
      "public shape": ["main.shape"],
      "output word / bits": harness.signals(/^main\.(y\[0\]\[\d\]\[\d\]|check\[0\]\.yBits\[0\]\[1\]\[(0|31)\])$/),
      "Merkle sibling": ["main.siblings[0][0]", "main.siblings[0][5]"],
      "path bit / tile index": harness.signals(/^main\.tiles\.path\[0\]\.indexBits\[\d\]$/),
      "challenge bits": harness.signals(/^main\.tiles\.challengeBits\.bits\[0\]\[(0|3|100)\]$/),
      "shape masks": harness.signals(/^main\.tiles\.grid\.(row|col)Mask\[\d\]$/),
      "generated x bits": harness.signals(/^main\.xStream\[0\]\.decompose\[0\]\.bits\[\d+\]$/).slice(0, 4),
      "generated parameter bits": harness.signals(/^main\.paramStream\[0\]\.decompose\[0\]\.bits\[\d+\]$/).slice(0, 4),
      "decoded inputs": harness.signals(
        /^main\.(check\[0\]\.x(Value|Magnitude)|xDecode\[0\])\[[01]\]\[[0-3]\](\.(value|magnitude))?$/,
      ),
      "decoded parameters": harness.signals(
        /^main\.check\[0\]\.((mean|gamma|beta)(Value|Magnitude)|varMagnitude)\[[0-3]\]$/,
      ),
      "inverse-sqrt hint": ["main.check[0].inverseSqrt[0].r", "main.check[0].inverseSqrt[3].rrq"],
      "inverse-sqrt range bits": [
        "main.check[0].inverseSqrt[1].below.bits[2]",
        "main.check[0].inverseSqrt[2].rRange.bits[39]",
      ],
      products: ["main.check[0].gammaR[2]", "main.check[0].centered[1][1]", "main.check[0].magnitudes[0][3]"],
      "output range-check bits": ["main.check[0].lowerGap[0][0].bits[5]", "main.check[0].upperGap[1][2].bits[0]"],
    };
    for (const [cls, signals] of Object.entries(classes)) {
      const present = signals.filter((s) => harness.hasWire(s));
      expect(present.length, cls).toBeGreaterThan(0);
      for (const signal of present) {
        const edited = harness.edit(honest, { [signal]: harness.value(honest, signal) + 1n });
        expect(harness.firstViolated(edited), `${cls}: ${signal}`).toBeGreaterThanOrEqual(0);
      }
    }
  });
});

describe("production circuit circuits/main/batchnorm_seed_2x12x8.circom", () => {
  let harness: CircuitHarness;
  let log: string;

  beforeAll(async () => {
    const compiled = await compileCircuit("batchnorm_seed_2x12x8", "circuits/main/batchnorm_seed_2x12x8.circom");
    log = compiled.log;
    harness = await CircuitHarness.load(compiled);
  }, 600_000);

  it("fits the power-16 ptau with its constraint count locked, and circom --inspect is clean", () => {
    expect(constraintCounts(log)).toEqual({ nonLinear: 64_197, linear: 0 });
    expect(harness.constraintCount + harness.r1cs.publicInputs + 1).toBeLessThanOrEqual(2 ** 16);
    expect(harness.r1cs.publicInputs).toBe(5);
    expect(inspectWarnings(log)).toEqual([]);
  });

  it("accepts an honest witness of two distinct challenged tiles of a 48×32 work mined on ORT", async () => {
    const work = defineBatchNormWork(BATCHNORM_PRODUCTION_TILING, { rowBlocksLog2: 2, colBlocksLog2: 2 });
    const seed = 987654321n;
    const outputs = await runBatchNormWork(seed, work);
    const tree = await commitBatchNormOutputs(outputs, work);
    const { input, tiles } = await batchNormProofInput({
      work,
      tilesPerProof: BATCHNORM_PRODUCTION_TILES_PER_PROOF,
      outputs,
      tree,
      seed,
      challenge: 42n,
      miner: 0xabcdefn,
    });
    expect(tiles[0]).not.toEqual(tiles[1]);
    expect(harness.firstViolated(await harness.witness(input))).toBe(-1);
  });
});
