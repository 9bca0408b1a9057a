// FP8 batch normalisation (inference): the exact TypeScript reference against ONNX Runtime, and the tile circuits
// against the reference, with soundness shown by editing honest witnesses and checking that the constraints reject
// them.
import { beforeAll, describe, expect, it } from "vitest";
import { instantiateCircuit } from "../circuits/compile.js";
import { fp8ToScaled } from "../common/fp8.js";
import { float32Bits, float32FromBits } from "../common/numerics.js";
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
import { CircuitHarness, fieldMod, loadMainCircuit } from "./helpers/circuit.js";
import {
  boundaryWords,
  rederiveOutput,
  refusedWords,
  setRangeCheck,
  type ContractBound,
  type ContractOutput,
  type Float32Grid,
} from "./helpers/contract-witness.js";
import {
  describeProductionMain,
  expectEditsRejected,
  expectMainCircuit,
  PUBLIC_INPUT_CLASSES,
  SMALL_AND_LARGE_EDITS,
  wiredSignals,
} from "./helpers/soundness.js";

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

/** Fp8BatchNormContractCheck reads outputs with Float32OnGrid(71, 7). */
const OUTPUT_GRID: Float32Grid = { gridShift: BATCHNORM_GRID_SHIFT, shiftBits: 7 };

/** Output (i, j) of the Fp8BatchNormContractCheck main. */
function batchNormOutput(i: number, j: number): ContractOutput {
  return { check: "main", wordSignal: `main.yWord[${i}][${j}]`, bitsSignal: "main.yBits", i, j, grid: OUTPUT_GRID };
}

/** The batch-norm contract of exact N and T: |Y − 2^18·N| ≤ T with Y = y·2^71. */
function batchNormBound(exact: BatchNormExact): ContractBound {
  return { centre: exact.n << 18n, tolerance: exact.t, rangeBits: OUTPUT_RANGE_BITS };
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
    const changes = new Map<string, bigint>([
      ["main.r", r],
      ["main.rq", rq],
      ["main.rrq", rrq],
    ]);
    for (let bit = 0; bit < 40; bit++) changes.set(`main.rRange.bits[${bit}]`, (fieldMod(r) >> BigInt(bit)) & 1n);
    setRangeCheck(changes, "main.below", (1n << 80n) - rrq, INVERSE_GAP_BITS);
    setRangeCheck(changes, "main.above", rrq + 2n * rq + q - (1n << 80n) - 1n, INVERSE_GAP_BITS);
    return harness.editWired(honest, changes);
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
      for (const wrong of [r + 1n, r - 1n, r + (1n << 40n), fieldMod(-r)]) {
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
  const withOutput = (i: number, j: number, word: number) =>
    rederiveOutput(harness, honest, batchNormOutput(i, j), word, batchNormBound(exact(i, j)));

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
      for (let j = 0; j < 2; j++) expect(withOutput(i, j, y[i * 2 + j]!)).toEqual(honest);
    }
  });

  it("accepts an output exactly at the bound and rejects the next float32 beyond it, on both sides", () => {
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 2; j++) {
        const e = exact(i, j);
        for (const side of ["upper", "lower"] as const) {
          const { inside, outside } = boundaryWords(side, batchNormBound(e), OUTPUT_GRID);
          expect(checkBatchNormOutput(inside, e).ok).toBe(true);
          expect(checkBatchNormOutput(outside, e).ok).toBe(false);
          const at = withOutput(i, j, inside);
          expect(harness.firstViolated(at), `(${i},${j}) ${side} ${float32FromBits(inside)}`).toBe(-1);
          const beyond = withOutput(i, j, outside);
          expect(
            harness.firstViolated(beyond),
            `(${i},${j}) ${side} ${float32FromBits(outside)}`,
          ).toBeGreaterThanOrEqual(0);
        }
      }
    }
  });

  it("rejects NaN, ±Inf, nonzero subnormals, off-grid values and huge magnitudes", () => {
    // Beyond the words every Float32OnGrid refuses: an on-grid value far outside the bound.
    for (const [name, word] of Object.entries({ ...refusedWords(OUTPUT_GRID), large: float32Bits(2 ** 40) })) {
      expect(harness.firstViolated(withOutput(0, 0, word)), name).toBeGreaterThanOrEqual(0);
    }
  });

  it("rejects single edits of every signal class", () => {
    const classes = wiredSignals(harness, {
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
    });
    expectEditsRejected(harness, honest, classes, { deltas: SMALL_AND_LARGE_EDITS });
  });
});

describe("demo circuit circuits/main/batchnorm_seed_demo_1x2x4.circom (seed mode, ORT outputs)", () => {
  const work = defineBatchNormWork(BATCHNORM_DEMO_TILING, { rowBlocksLog2: 3, colBlocksLog2: 2 });
  const seed = 0x5eed_b47c_4n;
  const challenge = 0xc4a11e96en;
  const miner = 0x70997970c51812dc3a010c7d01b50e0d17dc79c8n;
  let harness: CircuitHarness;
  let honest: bigint[];
  let proof: Awaited<ReturnType<typeof batchNormProofInput>>;

  beforeAll(async () => {
    harness = await loadMainCircuit("batchnorm_seed_demo_1x2x4");
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
    expectMainCircuit(harness, { nonLinear: 7_071, ptauPower: 13 });
  });

  it("accepts the honest witness built from ORT's committed outputs", () => {
    expect(harness.firstViolated(honest)).toBe(-1);
  });

  it("generates the same x and parameter bytes in-circuit as the reference", async () => {
    const { rowBlock, colBlock } = proof.tiles[0]!;
    const x = await batchNormInputTile(seed, work, rowBlock, colBlock);
    x.forEach((code, index) => {
      const signal = `main.check[0].xValue[${Math.floor(index / 4)}][${index % 4}]`;
      expect(harness.value(honest, signal)).toBe(fieldMod(BigInt(fp8ToScaled(code, "e4m3fn"))));
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
      codes.forEach((code, j) =>
        expect(harness.value(honest, `main.check[0].${name}[${j}]`)).toBe(fieldMod(value(code))),
      );
    }
    const inputs = await generateBatchNormInputs(seed, work);
    expect(inputs.x[rowBlock * 2 * work.channels + colBlock * 4]).toBe(x[0]);
  });

  it("rejects an edit of every signal class", () => {
    const classes = wiredSignals(harness, {
      ...PUBLIC_INPUT_CLASSES,
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
    });
    expectEditsRejected(harness, honest, classes);
  });
});

describeProductionMain(
  "batchnorm_seed_2x12x8",
  { nonLinear: 64_197, ptauPower: 16 },
  {
    title: "accepts an honest witness of two distinct challenged tiles of a 48×32 work mined on ORT",
    proofInput: async () => {
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
      return input;
    },
  },
);
