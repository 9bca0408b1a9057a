// The FP8 GEMM tile circuits against the TypeScript reference and real H100 outputs, with soundness shown by editing
// honest witnesses and checking that the constraints themselves reject them.
import { beforeAll, describe, expect, it } from "vitest";
import { instantiateCircuit } from "../circuits/compile.js";
import { exactTile, float32FromBits } from "../common/numerics.js";
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
import { CircuitHarness, fieldMod } from "./helpers/circuit.js";
import {
  boundaryWords,
  GEMM_OUTPUT_GRID,
  gemmBound,
  gemmOutput,
  rederiveOutput,
  refusedWords,
} from "./helpers/contract-witness.js";
import { loadH100Tiles, subTile, type H100Tile } from "./helpers/h100.js";
import { honestOutputs } from "./helpers/reference.js";
import {
  describeProductionMain,
  expectEditsRejected,
  PUBLIC_INPUT_CLASSES,
  SMALL_AND_LARGE_EDITS,
} from "./helpers/soundness.js";

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

  const bound = (i: number, j: number) => gemmBound(exact.dot[i * cols + j]!, exact.absDot[i * cols + j]!, 16);
  const withOutput = (i: number, j: number, word: number) =>
    rederiveOutput(harness, honest, gemmOutput("main.check", `main.c[${i}][${j}]`, i, j), word, bound(i, j));

  it("the honest witness satisfies every constraint, and re-deriving an output's wires reproduces it", () => {
    expect(harness.firstViolated(honest)).toBe(-1);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) expect(withOutput(i, j, input.c[i]![j]!)).toEqual(honest);
    }
  });

  it("accepts an output exactly at the bound and rejects the next float32 beyond it, on both sides", () => {
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        for (const side of ["upper", "lower"] as const) {
          const { inside, outside } = boundaryWords(side, bound(i, j), GEMM_OUTPUT_GRID);
          expect(
            harness.firstViolated(withOutput(i, j, inside)),
            `(${i},${j}) at the bound ${float32FromBits(inside)}`,
          ).toBe(-1);
          expect(
            harness.firstViolated(withOutput(i, j, outside)),
            `(${i},${j}) beyond the bound ${float32FromBits(outside)}`,
          ).toBeGreaterThanOrEqual(0);
        }
      }
    }
  });

  it("rejects NaN, ±Inf, nonzero subnormals, off-grid values and magnitudes ≥ 2^37 for an output", () => {
    for (const [name, word] of Object.entries(refusedWords(GEMM_OUTPUT_GRID))) {
      expect(harness.firstViolated(withOutput(0, 0, word)), name).toBeGreaterThanOrEqual(0);
    }
  });

  it("rejects single edits of every signal class", () => {
    expectEditsRejected(
      harness,
      honest,
      {
        "input byte": ["main.a[0][0]", "main.b[3][1]"],
        "input bit": ["main.aDecode[0][0].bits[3]", "main.bDecode[0][1].bits[0]"],
        "decoded value": ["main.aDecode[1][2].value", "main.bDecode[2][0].magnitude"],
        "decoding internals": ["main.aDecode[0][1].decoded.raw.pow2e", "main.aDecode[0][1].decoded.nanInverse"],
        "exact sum terms": ["main.check.signedProduct[0][0][0]", "main.check.magnitudeProduct[1][1][15]"],
        "output word": ["main.c[0][0]", "main.c[1][1]"],
        "output bits": ["main.check.cBits[0][1][30]", "main.check.cBits[1][0][0]"],
        "output decoding": ["main.check.outputWord[0][0].shift", "main.check.outputWord[1][0].scaled"],
        "range-check bits": ["main.check.lowerGap[0][0].bits[0]", "main.check.upperGap[1][1].bits[5]"],
      },
      { deltas: SMALL_AND_LARGE_EDITS },
    );
  });
});

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
      if (single.hasWire(signal))
        expect(single.value(honest, signal)).toBe(fieldMod(BigInt(fp8ToScaled(code, "e4m3fn"))));
    });
    expect(single.signals(/^main\.aDecode\[0\]\[\d\]\[\d\]\.value$/).length).toBeGreaterThan(0);
  });

  it("rejects an edit of every signal class", () => {
    expectEditsRejected(single, honest, {
      ...PUBLIC_INPUT_CLASSES,
      "output word": ["main.c[0][0][0]", "main.c[0][1][1]"],
      "Merkle sibling": ["main.siblings[0][0]", "main.siblings[0][3]"],
      "path bit / tile index": single.signals(/^main\.path\[0\]\.indexBits\[\d\]$/),
      "challenge bits": single.signals(/^main\.challengeBits\.bits\[0\]\[(0|3|100)\]$/),
      "shape masks": single.signals(/^main\.grid\.(row|col)Mask\[\d\]$/),
      "generated input bits": single.signals(/^main\.aStream\[0\]\.decompose\[0\]\.bits\[(0|9|200)\]$/),
      "decoded inputs": ["main.aDecode[0][0][0].value", "main.bDecode[0][7][1].magnitude"],
      "exact sum terms": ["main.check[0].signedProduct[0][0][0]", "main.check[0].magnitudeProduct[1][1][7]"],
    });
  });
});

describeProductionMain(
  "gemm_seed_8x8x64",
  { nonLinear: 51_666, ptauPower: 16 },
  {
    title: "accepts an honest witness of a 16×16×64 work built by the reference",
    proofInput: async () => {
      const work = defineWork(PRODUCTION_TILING, { rowBlocksLog2: 1, colBlocksLog2: 1 });
      const seed = 987654321n;
      const { a, b } = await generateInputs(seed, work);
      const c = honestOutputs(a, b, work.m, work.n, work.k);
      const tree = await commitOutputs(c, work);
      return (await gemmProofInput({ work, tilesPerProof: 1, c, tree, seed, challenge: 42n, miner: 0xabcdefn })).input;
    },
  },
);
