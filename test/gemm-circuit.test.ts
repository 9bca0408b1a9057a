// The FP8 GEMM tile circuits against the TypeScript reference and real H100 outputs, with soundness shown by editing
// honest witnesses and checking that the constraints themselves reject them.
import { beforeAll, describe, expect, it } from "vitest";
import { compileCircuit, constraintCounts, inspectWarnings, instantiateCircuit } from "../circuits/compile.js";
import { decodeFloat32, exactTile, float32Bits, float32FromBits, toScaledInteger } from "../common/numerics.js";
import {
  commitOutputs,
  defineWork,
  gemmProofInput,
  generateInputs,
  PRODUCTION_TILING,
  rowBlockOfA,
  type GemmTiling,
  type GemmWork,
} from "../common/work.js";
import { fp8ToScaled } from "../common/fp8.js";
import { CircuitHarness, FIELD } from "./helpers/circuit.js";
import { loadH100Tiles, subTile, type H100Tile } from "./helpers/h100.js";
import { honestOutputs } from "./helpers/reference.js";

const mod = (x: bigint): bigint => ((x % FIELD) + FIELD) % FIELD;
function inverse(x: bigint): bigint {
  let [a, b, u, v] = [mod(x), FIELD, 1n, 0n];
  while (b !== 0n) {
    const q = a / b;
    [a, b, u, v] = [b, a - q * b, v, u - q * v];
  }
  return mod(u);
}

/**
 * Recomputes, for output (i, j) of an Fp8GemmContractCheck at `prefix`, every surviving witness wire that depends on
 * the output word, as an honest prover would for `word` — except that range-check bits can only be the low bits of
 * the (possibly negative) gap. A contract-violating word then fails exactly at the constraints that encode the
 * contract, not at bookkeeping.
 */
function rederiveOutput(
  harness: CircuitHarness,
  witness: bigint[],
  prefix: string,
  i: number,
  j: number,
  word: number,
  exact: { s: bigint; t: bigint; rangeBits: number },
  wordSignal: string,
): bigint[] {
  const set = new Map<string, bigint>();
  const bits = Array.from({ length: 32 }, (_, bit) => BigInt((word >>> bit) & 1));
  const mantissa = BigInt(word & 0x7fffff);
  const exponent = BigInt((word >>> 23) & 0xff);
  const sign = bits[31]!;
  const out = `${prefix}.outputWord[${i}][${j}]`;
  set.set(wordSignal, BigInt(word));
  bits.forEach((bit, index) => set.set(`${prefix}.cBits[${i}][${j}][${index}]`, bit));
  const zero = exponent === 0n ? 1n : 0n;
  set.set(`${out}.isZeroExponent`, zero);
  const inv = harness.signals(new RegExp(`^${escape(out)}\\.IsZero_[0-9_]+\\.inv$`));
  expect(inv).toHaveLength(1);
  set.set(inv[0]!, exponent === 0n ? 0n : inverse(exponent));
  const shift = mod((1n - zero) * (exponent - 100n));
  set.set(`${out}.shift`, shift);
  let pow = 1n;
  for (let bit = 0; bit < 6; bit++) {
    const b = (shift >> BigInt(bit)) & 1n;
    set.set(`${out}.shiftBits[${bit}]`, b);
    pow = bit === 0 ? 1n + b : mod(pow * (1n + ((1n << (1n << BigInt(bit))) - 1n) * b));
    set.set(`${out}.pow2[${bit}]`, pow);
  }
  const significand = (1n - zero) * (1n << 23n) + mantissa;
  const scaled = mod(significand * pow);
  set.set(`${out}.scaled`, scaled);
  const value = mod((1n - 2n * sign) * scaled * inverse(1n << 23n));
  const lower = mod(value - 512n * exact.s + exact.t);
  const upper = mod(512n * exact.s + exact.t - value);
  set.set(`${prefix}.lowerGap[${i}][${j}].in`, lower);
  set.set(`${prefix}.upperGap[${i}][${j}].in`, upper);
  for (let bit = 0; bit < exact.rangeBits; bit++) {
    set.set(`${prefix}.lowerGap[${i}][${j}].bits[${bit}]`, (lower >> BigInt(bit)) & 1n);
    set.set(`${prefix}.upperGap[${i}][${j}].bits[${bit}]`, (upper >> BigInt(bit)) & 1n);
  }
  const changes: Record<string, bigint> = {};
  for (const [signal, v] of set) if (harness.hasWire(signal)) changes[signal] = v;
  return harness.edit(witness, changes);
}

function escape(text: string): string {
  return text.replace(/[.[\]]/g, (c) => `\\${c}`);
}

function rangeBitsFor(k: number): number {
  return (2n * BigInt(k) * 229376n * 229376n).toString(2).length;
}

/** X = c·2^27 for an on-grid finite float32 word, else null (independent of the circuit). */
function gridValue(word: number): bigint | null {
  const decoded = decodeFloat32(word);
  return decoded.kind === "finite" ? toScaledInteger(decoded, 27) : null;
}

/** The largest positive float32 inside the contract bound for (S, T), and the next one, which is outside. */
function upperBoundaryWords(s: bigint, t: bigint): { inside: number; outside: number } {
  const within = (w: number) => {
    const x = gridValue(w);
    return x !== null && x - 512n * s <= t && 512n * s - x <= t;
  };
  // Positive float32 bit patterns are ordered like their values, so step through patterns from a float64 estimate.
  let inside = float32Bits(Math.fround(Number(512n * s + t) * 2 ** -27));
  while (!within(inside)) inside -= 1;
  while (within(inside + 1)) inside += 1;
  return { inside, outside: inside + 1 };
}

describe("Fp8GemmTile accepts every real H100 output (8×8 sub-tiles at full K)", () => {
  const tiles = loadH100Tiles();
  const harnesses = new Map<number, CircuitHarness>();

  beforeAll(async () => {
    for (const k of [...new Set(tiles.map((t) => t.K))].sort((x, y) => x - y)) {
      harnesses.set(
        k,
        await CircuitHarness.load(
          await instantiateCircuit(`test_gemm_tile_8x8x${k}`, "lib/gemm.circom", "Fp8GemmTile", [8, 8, k]),
        ),
      );
    }
  }, 600_000);

  it("locks the constraint counts of the tile templates", () => {
    const counts = Object.fromEntries([...harnesses].map(([k, h]) => [k, h.constraintCount]));
    expect(counts).toEqual({ 16: 14_528, 32: 20_800, 64: 33_216, 128: 57_920 });
  });

  it.each(tiles.map((tile, index) => [tile.label, index] as const))(
    "%s: all 4 sub-tiles satisfy the constraints",
    async (_label, index) => {
      const tile: H100Tile = tiles[index]!;
      const harness = harnesses.get(tile.K)!;
      for (const [row, col] of [
        [0, 0],
        [0, 8],
        [8, 0],
        [8, 8],
      ] as const) {
        const witness = await harness.witness(subTile(tile, row, col, 8, 8));
        expect(harness.firstViolated(witness), `sub-tile (${row}, ${col})`).toBe(-1);
      }
    },
  );
});

describe("Fp8GemmTile soundness (edited witnesses, 2×2 sub-tile of a real H100 tile, K = 16)", () => {
  const tile = loadH100Tiles().find((t) => t.K === 16)!;
  const rows = 2;
  const cols = 2;
  const input = subTile(tile, 0, 0, rows, cols);
  const a = Uint8Array.from(input.a.flat());
  const b = Uint8Array.from(input.b.flat());
  const exact = exactTile(a, b, rows, cols, 16, "e4m3fn");
  let harness: CircuitHarness;
  let honest: bigint[];

  beforeAll(async () => {
    harness = await CircuitHarness.load(
      await instantiateCircuit("test_gemm_tile_2x2x16", "lib/gemm.circom", "Fp8GemmTile", [rows, cols, 16]),
    );
    honest = await harness.witness(input);
  }, 600_000);

  const outputCase = (i: number, j: number) => ({
    s: exact.dot[i * cols + j]!,
    t: exact.absDot[i * cols + j]!,
    rangeBits: rangeBitsFor(16),
  });

  it("the honest witness satisfies every constraint, and re-deriving an output's wires reproduces it", () => {
    expect(harness.firstViolated(honest)).toBe(-1);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        const again = rederiveOutput(
          harness,
          honest,
          "main.check",
          i,
          j,
          input.c[i]![j]!,
          outputCase(i, j),
          `main.c[${i}][${j}]`,
        );
        expect(again).toEqual(honest);
      }
    }
  });

  it("accepts an output exactly at the bound and rejects the next float32 beyond it, on both sides", () => {
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        const { s, t } = outputCase(i, j);
        for (const side of [1n, -1n]) {
          // The lower bound of (S, T) is the negated upper bound of (−S, T).
          const { inside, outside } = side === 1n ? upperBoundaryWords(s, t) : negate(upperBoundaryWords(-s, t));
          const accept = rederiveOutput(
            harness,
            honest,
            "main.check",
            i,
            j,
            inside,
            outputCase(i, j),
            `main.c[${i}][${j}]`,
          );
          expect(harness.firstViolated(accept), `(${i},${j}) at the bound ${float32FromBits(inside)}`).toBe(-1);
          const reject = rederiveOutput(
            harness,
            honest,
            "main.check",
            i,
            j,
            outside,
            outputCase(i, j),
            `main.c[${i}][${j}]`,
          );
          expect(
            harness.firstViolated(reject),
            `(${i},${j}) beyond the bound ${float32FromBits(outside)}`,
          ).toBeGreaterThanOrEqual(0);
        }
      }
    }
  });

  it("rejects NaN, ±Inf, nonzero subnormals, off-grid values and magnitudes ≥ 2^37 for an output", () => {
    const bad = {
      nan: 0x7fc00000,
      infinity: 0x7f800000,
      negativeInfinity: 0xff800000,
      subnormal: 0x00000001,
      offGrid: float32Bits(2 ** -28),
      offGridNearZero: float32Bits(3 * 2 ** -28),
      huge: float32Bits(2 ** 37),
    };
    for (const [name, word] of Object.entries(bad)) {
      const edited = rederiveOutput(harness, honest, "main.check", 0, 0, word, outputCase(0, 0), "main.c[0][0]");
      expect(harness.firstViolated(edited), name).toBeGreaterThanOrEqual(0);
    }
  });

  it("rejects single edits of every signal class", () => {
    const classes: Record<string, string[]> = {
      "input byte": ["main.a[0][0]", "main.b[3][1]"],
      "input bit": ["main.aDecode[0][0].bits[3]", "main.bDecode[0][1].bits[0]"],
      "decoded value": ["main.aDecode[1][2].value", "main.bDecode[2][0].magnitude"],
      "decoding internals": ["main.aDecode[0][1].decoded.raw.pow2e", "main.aDecode[0][1].decoded.nanInverse"],
      "exact sum terms": ["main.check.signedProduct[0][0][0]", "main.check.magnitudeProduct[1][1][15]"],
      "output word": ["main.c[0][0]", "main.c[1][1]"],
      "output bits": ["main.check.cBits[0][1][30]", "main.check.cBits[1][0][0]"],
      "output decoding": ["main.check.outputWord[0][0].shift", "main.check.outputWord[1][0].scaled"],
      "range-check bits": ["main.check.lowerGap[0][0].bits[0]", "main.check.upperGap[1][1].bits[5]"],
    };
    for (const [cls, signals] of Object.entries(classes)) {
      for (const signal of signals) {
        for (const delta of [1n, -1n, 1n << 40n]) {
          const edited = harness.edit(honest, { [signal]: harness.value(honest, signal) + delta });
          expect(harness.firstViolated(edited), `${cls}: ${signal} + ${delta}`).toBeGreaterThanOrEqual(0);
        }
      }
    }
  });
});

function negate(words: { inside: number; outside: number }): { inside: number; outside: number } {
  return { inside: (words.inside ^ 0x80000000) >>> 0, outside: (words.outside ^ 0x80000000) >>> 0 };
}

describe("Fp8GemmSeedProof (seed mode) against the TypeScript reference", () => {
  const tiling: GemmTiling = { tileRows: 2, tileCols: 2, depth: 8, maxRowBlocksLog2: 2, maxColBlocksLog2: 2 };
  const work: GemmWork = defineWork(tiling, { rowBlocksLog2: 2, colBlocksLog2: 1 });
  const seed = 0x1234_5678_9abc_def0n;
  // A challenge whose first two tiles differ (found once by search; asserted below).
  const challenge = 0xc4a1_1e96en;
  const miner = 0x70997970c51812dc3a010c7d01b50e0d17dc79c8n;
  let single: CircuitHarness;
  let double: CircuitHarness;
  let honest: bigint[];
  let c: Uint32Array;
  let input: Awaited<ReturnType<typeof gemmProofInput>>;

  beforeAll(async () => {
    const publicInputs = ["outputRoot", "seed", "challenge", "miner", "shape"];
    single = await CircuitHarness.load(
      await instantiateCircuit(
        "test_gemm_seed_1x2x2x8",
        "gemm_seed.circom",
        "Fp8GemmSeedProof",
        [1, 2, 2, 8, 2, 2],
        publicInputs,
      ),
    );
    double = await CircuitHarness.load(
      await instantiateCircuit(
        "test_gemm_seed_2x2x2x8",
        "gemm_seed.circom",
        "Fp8GemmSeedProof",
        [2, 2, 2, 8, 2, 2],
        publicInputs,
      ),
    );
    const { a, b } = await generateInputs(seed, work);
    c = honestOutputs(a, b, work.m, work.n, work.k);
    const tree = await commitOutputs(c, work);
    input = await gemmProofInput({ work, tilesPerProof: 1, c, tree, seed, challenge, miner });
    honest = await single.witness(input.input);
  }, 600_000);

  it("locks the constraint counts", () => {
    expect({ single: single.constraintCount, double: double.constraintCount }).toEqual({
      single: 4_992,
      double: 9_229,
    });
  });

  it("accepts the honest witness for one and for two challenged tiles", async () => {
    expect(single.firstViolated(honest)).toBe(-1);
    const tree = await commitOutputs(c, work);
    const two = await gemmProofInput({ work, tilesPerProof: 2, c, tree, seed, challenge, miner });
    expect(two.tiles[0]).not.toEqual(two.tiles[1]);
    expect(double.firstViolated(await double.witness(two.input))).toBe(-1);
  });

  it("generates the same A bytes in-circuit as the reference", async () => {
    const { rowBlock } = input.tiles[0]!;
    const bytes = await rowBlockOfA(seed, tiling, rowBlock);
    bytes.forEach((code, index) => {
      const i = Math.floor(index / tiling.depth);
      const k = index % tiling.depth;
      const signal = `main.aDecode[0][${i}][${k}].value`;
      if (single.hasWire(signal)) expect(single.value(honest, signal)).toBe(mod(BigInt(fp8ToScaled(code, "e4m3fn"))));
    });
    expect(single.signals(/^main\.aDecode\[0\]\[\d\]\[\d\]\.value$/).length).toBeGreaterThan(0);
  });

  it("rejects an edit of every signal class", () => {
    const classes: Record<string, string[]> = {
      "public output root": ["main.outputRoot"],
      "public seed": ["main.seed"],
      "public challenge": ["main.challenge"],
      "public miner": ["main.miner"],
      "public shape": ["main.shape"],
      "output word": ["main.c[0][0][0]", "main.c[0][1][1]"],
      "Merkle sibling": ["main.siblings[0][0]", "main.siblings[0][3]"],
      "path bit / tile index": single.signals(/^main\.path\[0\]\.indexBits\[\d\]$/),
      "challenge bits": single.signals(/^main\.challengeBits\.bits\[0\]\[(0|3|100)\]$/),
      "shape masks": single.signals(/^main\.grid\.(row|col)Mask\[\d\]$/),
      "generated input bits": single.signals(/^main\.aStream\[0\]\.decompose\[0\]\.bits\[(0|9|200)\]$/),
      "decoded inputs": ["main.aDecode[0][0][0].value", "main.bDecode[0][7][1].magnitude"],
      "exact sum terms": ["main.check[0].signedProduct[0][0][0]", "main.check[0].magnitudeProduct[1][1][7]"],
    };
    for (const [cls, signals] of Object.entries(classes)) {
      expect(signals.length, cls).toBeGreaterThan(0);
      for (const signal of signals) {
        const edited = single.edit(honest, { [signal]: single.value(honest, signal) + 1n });
        expect(single.firstViolated(edited), `${cls}: ${signal}`).toBeGreaterThanOrEqual(0);
      }
    }
  });
});

describe("production circuit circuits/main/gemm_seed_8x8x64.circom", () => {
  let harness: CircuitHarness;
  let log: string;

  beforeAll(async () => {
    const compiled = await compileCircuit("gemm_seed_8x8x64", "circuits/main/gemm_seed_8x8x64.circom");
    log = compiled.log;
    harness = await CircuitHarness.load(compiled);
  }, 600_000);

  it("fits the power-16 ptau with its constraint count locked, and circom --inspect is clean", () => {
    expect(constraintCounts(log)).toEqual({ nonLinear: 51_666, linear: 0 });
    expect(harness.constraintCount + harness.r1cs.publicInputs + 1).toBeLessThanOrEqual(2 ** 16);
    expect(harness.r1cs.publicInputs).toBe(5);
    expect(inspectWarnings(log)).toEqual([]);
  });

  it("accepts an honest witness of a 16×16×64 work built by the reference", async () => {
    const work = defineWork(PRODUCTION_TILING, { rowBlocksLog2: 1, colBlocksLog2: 1 });
    const seed = 987654321n;
    const { a, b } = await generateInputs(seed, work);
    const c = honestOutputs(a, b, work.m, work.n, work.k);
    const tree = await commitOutputs(c, work);
    const { input } = await gemmProofInput({ work, tilesPerProof: 1, c, tree, seed, challenge: 42n, miner: 0xabcdefn });
    expect(harness.firstViolated(await harness.witness(input))).toBe(-1);
  });
});
