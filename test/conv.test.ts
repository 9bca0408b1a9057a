/**
 * Seed-mode FP8 conv2d (docs/ops/conv.md): the TypeScript reference (common/ops/conv.ts) against an independent direct
 * convolution, ORT's FP8 Conv (miner/ops/conv.ts) against the numerics contract, and the circuits
 * (circuits/lib/conv.circom, circuits/conv_seed.circom) against the reference, with soundness shown by editing honest
 * witnesses and checking that the constraints themselves reject them.
 *
 * The instances together cover stride 2, padding on every side, dilation 2, a non-square kernel and 2 groups:
 * - DEMO (CONV_DEMO_TILING): Cin 2, G 2, 3×3, stride 2, padding 1, 4×4 images;
 * - DILATED: Cin 2, G 1, 2×3, stride 1, padding 1, dilation 2, 4×4 images (vertical padding above and below);
 * - PRODUCTION (CONV_PRODUCTION_TILING): Cin 8, 3×3, stride 1, padding 1, 8×8 images.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { inspectWarnings, instantiateCircuit } from "../circuits/compile.js";
import { fp8ToScaled } from "../common/fp8.js";
import { checkOutput, float32Bits, float32FromBits } from "../common/numerics.js";
import {
  CONV_DEMO_TILING,
  CONV_PRODUCTION_TILING,
  checkConvOutputs,
  commitConvOutputs,
  convInputRow,
  convOutputSize,
  convProofInput,
  convTileWords,
  convWeightBlock,
  defineConvWork,
  exactConv,
  generateConvInputs,
  groupOfColumnBlock,
  inputRowBlock,
  type ConvExact,
  type ConvInputs,
  type ConvTiling,
  type ConvWork,
} from "../common/ops/conv.js";
import { challengedTile, type OutputTree } from "../common/work.js";
import { runFp8Conv } from "../miner/ops/conv.js";
import { CircuitHarness, fieldMod, loadMainCircuit } from "./helpers/circuit.js";
import {
  boundaryWords,
  GEMM_OUTPUT_GRID,
  gemmBound,
  gemmOutput,
  rederiveOutput,
  refusedWords,
} from "./helpers/contract-witness.js";
import {
  describeProductionMain,
  expectEditsRejected,
  expectMainCircuit,
  PUBLIC_INPUT_CLASSES,
  SMALL_AND_LARGE_EDITS,
} from "./helpers/soundness.js";

const DILATED_TILING: ConvTiling = {
  inChannels: 2,
  groups: 1,
  kernelHeight: 2,
  kernelWidth: 3,
  stride: 1,
  padding: 1,
  dilation: 2,
  inHeight: 4,
  inWidth: 4,
  outWidth: 2,
  outHeightLog2: 2,
  tileChannels: 2,
  maxRowBlocksLog2: 3,
  maxColBlocksLog2: 2,
};

const SEED = 0x5eed_c0de_2026n;
const MINER = 0x70997970c51812dc3a010c7d01b50e0d17dc79c8n;

/** Template parameters of Fp8ConvSeedTile for a tiling. */
function tileParams(t: ConvTiling): number[] {
  return [
    t.inChannels,
    t.groups,
    t.kernelHeight,
    t.kernelWidth,
    t.stride,
    t.padding,
    t.dilation,
    t.inHeight,
    t.inWidth,
    t.outWidth,
    t.outHeightLog2,
    t.tileChannels,
    t.maxRowBlocksLog2,
  ];
}

/** A direct (loop) convolution of the codes, exact in bigint: an independent check of exactConv's im2col. */
function directConv(inputs: ConvInputs, work: ConvWork): ConvExact {
  const t = work.tiling;
  const dot: bigint[] = [];
  const absDot: bigint[] = [];
  const perGroup = work.outChannels / t.groups;
  for (let n = 0; n < work.images; n++) {
    for (let co = 0; co < work.outChannels; co++) {
      const g = Math.floor(co / perGroup);
      for (let oh = 0; oh < work.outHeight; oh++) {
        for (let ow = 0; ow < work.outWidth; ow++) {
          let s = 0n;
          let a = 0n;
          for (let ci = 0; ci < work.groupChannels; ci++) {
            for (let dh = 0; dh < t.kernelHeight; dh++) {
              for (let dw = 0; dw < t.kernelWidth; dw++) {
                const h = oh * t.stride - t.padding + dh * t.dilation;
                const w = ow * t.stride - t.padding + dw * t.dilation;
                if (h < 0 || h >= t.inHeight || w < 0 || w >= t.inWidth) continue;
                const xCode =
                  inputs.x[((n * t.inChannels + g * work.groupChannels + ci) * t.inHeight + h) * t.inWidth + w]!;
                const wCode =
                  inputs.weights[((co * work.groupChannels + ci) * t.kernelHeight + dh) * t.kernelWidth + dw]!;
                const product = BigInt(fp8ToScaled(xCode, "e4m3fn")) * BigInt(fp8ToScaled(wCode, "e4m3fn"));
                s += product;
                a += product < 0n ? -product : product;
              }
            }
          }
          dot.push(s);
          absDot.push(a);
        }
      }
    }
  }
  return { dot, absDot };
}

/** A work with its seed-generated inputs, exact sums and ORT outputs. */
interface Instance {
  readonly work: ConvWork;
  readonly inputs: ConvInputs;
  readonly exact: ConvExact;
  readonly y: Uint32Array;
}

async function instance(tiling: ConvTiling, dr: number, dc: number): Promise<Instance> {
  const work = defineConvWork(tiling, { rowBlocksLog2: dr, colBlocksLog2: dc });
  const inputs = await generateConvInputs(SEED, work);
  return { work, inputs, exact: exactConv(inputs, work), y: await runFp8Conv(inputs, work) };
}

/** The proof input of `tilesPerProof` challenged tiles of an instance's committed ORT words. */
function proofInput(inst: Instance, tree: OutputTree, challenge: bigint, tilesPerProof = 1) {
  return convProofInput({ work: inst.work, tilesPerProof, outputs: inst.y, tree, seed: SEED, challenge, miner: MINER });
}

/** Exact S and T of output (ow, j) of tile (r, c). */
function tileExact(inst: Instance, r: number, c: number, ow: number, j: number): { s: bigint; t: bigint } {
  const { work } = inst;
  const n = Math.floor(r / work.outHeight);
  const oh = r % work.outHeight;
  const index = ((n * work.outChannels + c * work.tiling.tileChannels + j) * work.outHeight + oh) * work.outWidth + ow;
  return { s: inst.exact.dot[index]!, t: inst.exact.absDot[index]! };
}

function tileInput(inst: Instance, r: number, c: number): Record<string, unknown> {
  const tn = inst.work.tiling.tileChannels;
  const words = convTileWords(inst.y, inst.work, r, c);
  return {
    seed: String(SEED),
    rowBlock: String(r),
    colBlock: String(c),
    group: String(groupOfColumnBlock(inst.work, c)),
    y: Array.from({ length: inst.work.outWidth }, (_, ow) =>
      Array.from(words.subarray(ow * tn, (ow + 1) * tn), String),
    ),
  };
}

describe("conv work definition and the TypeScript reference", () => {
  it("validates tilings and work shapes with clear errors", () => {
    expect(() => defineConvWork({ ...CONV_DEMO_TILING, groups: 3 }, { rowBlocksLog2: 1, colBlocksLog2: 1 })).toThrow(
      /groups must be a power of two dividing inChannels/,
    );
    expect(() => defineConvWork({ ...CONV_DEMO_TILING, outWidth: 3 }, { rowBlocksLog2: 1, colBlocksLog2: 1 })).toThrow(
      /outWidth must be the conv output width 2/,
    );
    expect(() => defineConvWork({ ...CONV_DEMO_TILING, inHeight: 6 }, { rowBlocksLog2: 1, colBlocksLog2: 1 })).toThrow(
      /output height 3 must be 2\^outHeightLog2/,
    );
    expect(() =>
      defineConvWork({ ...CONV_PRODUCTION_TILING, tileChannels: 16 }, { rowBlocksLog2: 3, colBlocksLog2: 0 }),
    ).toThrow(/exceeds 112/);
    expect(() => defineConvWork(CONV_DEMO_TILING, { rowBlocksLog2: 0, colBlocksLog2: 1 })).toThrow(
      /rowBlocksLog2 must be an integer in \[1, 3\] \(whole images/,
    );
    expect(() => defineConvWork(CONV_DEMO_TILING, { rowBlocksLog2: 1, colBlocksLog2: 0 })).toThrow(
      /colBlocksLog2 must be an integer in \[1, 3\] \(each of the 2 groups/,
    );
    expect(() =>
      defineConvWork(
        { ...DILATED_TILING, padding: 0, dilation: 3, inHeight: 7, kernelHeight: 3 },
        {
          rowBlocksLog2: 2,
          colBlocksLog2: 0,
        },
      ),
    ).toThrow(/outWidth must be/);
    const work = defineConvWork(CONV_PRODUCTION_TILING, { rowBlocksLog2: 10, colBlocksLog2: 6 });
    expect([work.images, work.outChannels, work.outHeight, work.outWidth, work.depth]).toEqual([128, 512, 8, 8, 72]);
    expect(convOutputSize(4, 3, 2, 1, 1)).toBe(2);
  });

  it("lays the seed streams out as ONNX X [N, Cin, H, W] and weights [Cout, Cg, kh, kw]", async () => {
    const work = defineConvWork(CONV_DEMO_TILING, { rowBlocksLog2: 2, colBlocksLog2: 2 });
    const { x, weights } = await generateConvInputs(SEED, work);
    const t = work.tiling;
    // Image 1, row 3, group 1 holds input channel 1 (Cg = 1).
    const row = await convInputRow(SEED, t, 1, 3, 1);
    expect(inputRowBlock(t, 1, 3, 1)).toBe((1 * 4 + 3) * 2 + 1);
    expect(Array.from(x.subarray(((1 * 2 + 1) * 4 + 3) * 4, ((1 * 2 + 1) * 4 + 3) * 4 + 4))).toEqual(Array.from(row));
    // Column block 3 holds output channels 6 and 7; weight (co, ci, dh, dw) is block row k = (ci·3 + dh)·3 + dw.
    const block = await convWeightBlock(SEED, t, 3);
    for (let k = 0; k < 9; k++) {
      expect(weights[6 * 9 + k]).toBe(block[k * 2]);
      expect(weights[7 * 9 + k]).toBe(block[k * 2 + 1]);
    }
    // NaN codes never reach the inputs.
    expect([...x, ...weights].some((code) => (code & 0x7f) === 0x7f)).toBe(false);
  });

  it.each([
    ["DEMO (stride 2, groups 2)", CONV_DEMO_TILING, 3, 2],
    ["DILATED (dilation 2, 2×3 kernel)", DILATED_TILING, 3, 1],
    ["PRODUCTION", CONV_PRODUCTION_TILING, 4, 1],
  ] as const)("%s: the im2col reference equals a direct convolution", async (_name, tiling, dr, dc) => {
    const work = defineConvWork(tiling, { rowBlocksLog2: dr, colBlocksLog2: dc });
    const inputs = await generateConvInputs(SEED, work);
    expect(exactConv(inputs, work)).toEqual(directConv(inputs, work));
  });

  it.each([
    ["DEMO (stride 2, groups 2)", CONV_DEMO_TILING, 3, 3],
    ["DILATED (dilation 2, 2×3 kernel)", DILATED_TILING, 3, 2],
    ["PRODUCTION", CONV_PRODUCTION_TILING, 5, 3],
  ] as const)("%s: ORT's FP8 Conv is within the contract, far below its bound", async (name, tiling, dr, dc) => {
    const inst = await instance(tiling, dr, dc);
    const check = checkConvOutputs(inst.y, inst.exact, inst.work);
    expect(check.failures).toEqual([]);
    expect(check.ok).toBe(true);
    console.log(
      `${name}: ${inst.y.length} ORT outputs, worst 512·|C − S| / T = ${check.worstErrorToBound.toExponential(3)}`,
    );
  });

  it("the contract check names failing outputs by NCHW coordinates", async () => {
    const inst = await instance(CONV_DEMO_TILING, 1, 1);
    const y = inst.y.slice();
    const index = ((0 * 2 + 1) * 2 + 1) * 2 + 0; // n 0, co 1, oh 1, ow 0
    y[index] = float32Bits(float32FromBits(y[index]!) + 1);
    const check = checkConvOutputs(y, inst.exact, inst.work);
    expect(check.ok).toBe(false);
    expect(check.failures.map(({ n, co, oh, ow, reason }) => ({ n, co, oh, ow, reason }))).toEqual([
      { n: 0, co: 1, oh: 1, ow: 0, reason: "out-of-tolerance" },
    ]);
  });
});

describe("ConvOutputRow and ConvColumnGroup (lib templates)", () => {
  const rowCases = [
    ["DEMO", CONV_DEMO_TILING],
    ["DILATED", DILATED_TILING],
  ] as const;
  const rows = new Map<string, CircuitHarness>();
  const groups = new Map<number, CircuitHarness>();

  beforeAll(async () => {
    for (const [name, t] of rowCases) {
      const params = [t.kernelHeight, t.stride, t.padding, t.dilation, t.inHeight, t.outHeightLog2, t.groups];
      const circuit = await instantiateCircuit(
        `test_conv_output_row_${name.toLowerCase()}`,
        "lib/conv.circom",
        "ConvOutputRow",
        [...params, t.maxRowBlocksLog2],
      );
      expect(inspectWarnings(circuit.log)).toEqual([]);
      rows.set(name, await CircuitHarness.load(circuit));
    }
    for (const logG of [1, 2]) {
      const circuit = await instantiateCircuit(`test_conv_column_group_${logG}`, "lib/conv.circom", "ConvColumnGroup", [
        logG,
        4,
      ]);
      expect(inspectWarnings(circuit.log)).toEqual([]);
      groups.set(logG, await CircuitHarness.load(circuit));
    }
  }, 600_000);

  it("locks the constraint counts", () => {
    expect({
      rowDemo: rows.get("DEMO")!.constraintCount,
      rowDilated: rows.get("DILATED")!.constraintCount,
      group1: groups.get(1)!.constraintCount,
      group2: groups.get(2)!.constraintCount,
    }).toEqual({ rowDemo: 9, rowDilated: 10, group1: 8, group2: 10 });
  });

  it.each(rowCases)("%s: flags and stream blocks of every row block and group match the reference", async (name, t) => {
    const harness = rows.get(name)!;
    for (let r = 0; r < 2 ** t.maxRowBlocksLog2; r++) {
      for (let g = 0; g < t.groups; g++) {
        const witness = await harness.witness({ rowBlock: r, group: g });
        expect(harness.firstViolated(witness)).toBe(-1);
        const n = Math.floor(r / 2 ** t.outHeightLog2);
        const oh = r % 2 ** t.outHeightLog2;
        for (let dh = 0; dh < t.kernelHeight; dh++) {
          const h = oh * t.stride - t.padding + dh * t.dilation;
          const valid = h >= 0 && h < t.inHeight ? 1n : 0n;
          expect(harness.value(witness, `main.valid[${dh}]`), `r ${r} dh ${dh}`).toBe(valid);
          expect(harness.value(witness, `main.block[${dh}]`)).toBe(fieldMod(BigInt(inputRowBlock(t, n, h, g))));
          // A flipped flag (padding read as data, or data zeroed) violates the constraints.
          const flipped = harness.edit(witness, { [`main.valid[${dh}]`]: 1n - valid });
          expect(harness.firstViolated(flipped), `flip valid r ${r} dh ${dh}`).toBeGreaterThanOrEqual(0);
        }
      }
    }
    // Every flag that can be 0 has comparison bits; the rest are the constant 1.
    const padded = Array.from({ length: t.kernelHeight }, (_, dh) =>
      Array.from({ length: 2 ** t.outHeightLog2 }, (_, oh) => oh * t.stride - t.padding + dh * t.dilation).some(
        (h) => h < 0 || h >= t.inHeight,
      ),
    );
    expect(padded.some(Boolean)).toBe(true);
    const witness = await harness.witness({ rowBlock: 0, group: 0 });
    expectEditsRejected(
      harness,
      witness,
      {
        // (O2 merges a comparison's top bit with its flag and eliminates the bits that are linear in others.)
        "row-block and comparison bits": harness.signals(/^main\.(bits\[\d\]|(below|above)\[\d\]\.out\[\d\])$/),
        "validity flags": padded.flatMap((p, dh) => (p ? [`main.valid[${dh}]`] : [])),
        "stream blocks": [`main.block[0]`],
        "public input": ["main.rowBlock"],
      },
      { firstSignalDeltas: SMALL_AND_LARGE_EDITS },
    );
  });

  it.each([1, 2])("log2 G = %i: the group of every column block of every dc ≥ log2 G is ONNX's", async (logG) => {
    const harness = groups.get(logG)!;
    const maxDc = 4;
    for (let dc = logG; dc <= maxDc; dc++) {
      const work = defineConvWork(
        { ...DILATED_TILING, inChannels: 4, groups: 2 ** logG, maxColBlocksLog2: maxDc },
        { rowBlocksLog2: 2, colBlocksLog2: dc },
      );
      const colMask = Array.from({ length: maxDc }, (_, i) => (i < dc ? 1 : 0));
      for (let c = 0; c < 2 ** dc; c++) {
        const witness = await harness.witness({ colBlock: c, colMask });
        expect(harness.firstViolated(witness)).toBe(-1);
        const group = groupOfColumnBlock(work, c);
        // ONNX: output channel co is in group ⌊co / (Cout/G)⌋, for every channel of the block.
        for (let j = 0; j < work.tiling.tileChannels; j++) {
          expect(Math.floor((c * work.tiling.tileChannels + j) / (work.outChannels / work.tiling.groups))).toBe(group);
        }
        expect(harness.value(witness, "main.group")).toBe(BigInt(group));
        const edited = harness.edit(witness, { "main.group": BigInt(group) + 1n });
        expect(harness.firstViolated(edited)).toBeGreaterThanOrEqual(0);
      }
    }
    // The masks below log2 G are constants (colMask[i] === 1 for i < log2 G; O2 substitutes them, and inside
    // Fp8ConvSeedProof WorkShape's shape decomposition then forces dc ≥ log2 G, tested on the demo main).
    // Block c = 2^(dc − 1) with dc = log2 G + 1 is in group 2^(log2 G − 1); a mask of dc − 1 or dc + 1 moves the
    // group window, so an edited mask must be rejected.
    const dc = logG + 1;
    const honest = await harness.witness({
      colBlock: 2 ** (dc - 1),
      colMask: Array.from({ length: maxDc }, (_, i) => (i < dc ? 1 : 0)),
    });
    expect(harness.firstViolated(honest)).toBe(-1);
    for (const [signal, value] of [
      [`main.colMask[${dc}]`, 1n],
      ...(dc - 1 >= logG ? [[`main.colMask[${dc - 1}]`, 0n] as const] : []),
    ] as const) {
      expect(harness.firstViolated(harness.edit(honest, { [signal]: value })), signal).toBeGreaterThanOrEqual(0);
    }
    expectEditsRejected(
      harness,
      honest,
      {
        "column-block bits": harness.signals(/^main\.bits\[\d\]$/),
        "selection products": harness.signals(/^main\.selected\[\d\]\[\d\]$/),
      },
      { firstSignalDeltas: SMALL_AND_LARGE_EDITS },
    );
  });
});

describe.each([
  ["DEMO (stride 2, padding 1, groups 2)", CONV_DEMO_TILING, 3, 2, 5_201],
  ["DILATED (dilation 2, padding 1, 2×3 kernel)", DILATED_TILING, 3, 1, 4_263],
] as const)("Fp8ConvSeedTile %s", (name, tiling, dr, dc, constraints) => {
  let harness: CircuitHarness;
  let inst: Instance;
  const k = (tiling.inChannels / tiling.groups) * tiling.kernelHeight * tiling.kernelWidth;
  /** Output (ow, j) of the tile's contract check, with the contract of output (ow, j) of tile (r, c). */
  const output = (ow: number, j: number) => gemmOutput("main.check", `main.y[${ow}][${j}]`, ow, j);
  const bound = (r: number, c: number, ow: number, j: number) => {
    const { s, t } = tileExact(inst, r, c, ow, j);
    return gemmBound(s, t, k);
  };

  beforeAll(async () => {
    const circuit = await instantiateCircuit(
      `test_conv_seed_tile_${name.split(" ")[0]!.toLowerCase()}`,
      "lib/conv.circom",
      "Fp8ConvSeedTile",
      tileParams(tiling),
    );
    expect(inspectWarnings(circuit.log)).toEqual([]);
    harness = await CircuitHarness.load(circuit);
    inst = await instance(tiling, dr, dc);
  }, 600_000);

  it("locks the constraint count", () => {
    expect(harness.constraintCount).toBe(constraints);
  });

  it("accepts ORT's words for every tile of the work, and generates the reference's inputs in-circuit", async () => {
    const t = tiling;
    const cg = t.inChannels / t.groups;
    for (let r = 0; r < 2 ** dr; r++) {
      for (let c = 0; c < 2 ** dc; c++) {
        const witness = await harness.witness(tileInput(inst, r, c));
        expect(harness.firstViolated(witness), `tile (${r}, ${c})`).toBe(-1);
        const n = Math.floor(r / inst.work.outHeight);
        const oh = r % inst.work.outHeight;
        const g = groupOfColumnBlock(inst.work, c);
        for (let dh = 0; dh < t.kernelHeight; dh++) {
          const h = oh * t.stride - t.padding + dh * t.dilation;
          for (let ci = 0; ci < cg; ci++) {
            for (let w = 0; w < t.inWidth; w++) {
              const inside = h >= 0 && h < t.inHeight;
              const code = inside
                ? inst.inputs.x[((n * t.inChannels + g * cg + ci) * t.inHeight + h) * t.inWidth + w]!
                : 0;
              const signal = `main.xValue[${dh}][${ci}][${w}]`;
              if (harness.hasWire(signal)) {
                expect(harness.value(witness, signal), `${signal} tile (${r}, ${c})`).toBe(
                  fieldMod(BigInt(fp8ToScaled(code, "e4m3fn"))),
                );
              }
            }
          }
        }
        const block = await convWeightBlock(SEED, t, c);
        block.forEach((code, index) => {
          const signal = `main.wDecode[${Math.floor(index / t.tileChannels)}][${index % t.tileChannels}].value`;
          if (harness.hasWire(signal))
            expect(harness.value(witness, signal)).toBe(fieldMod(BigInt(fp8ToScaled(code, "e4m3fn"))));
        });
      }
    }
    expect(harness.signals(/^main\.xValue\[\d\]\[\d\]\[\d\]$/).length).toBeGreaterThan(0);
  });

  it("accepts an output exactly at the bound and rejects the next float32 beyond it, on both sides", async () => {
    // A tile whose first kernel row is padding (oh = 0) in the last group.
    const c = 2 ** dc - 1;
    const honest = await harness.witness(tileInput(inst, 0, c));
    for (let ow = 0; ow < tiling.outWidth; ow++) {
      for (let j = 0; j < tiling.tileChannels; j++) {
        const contract = bound(0, c, ow, j);
        // Re-deriving the honest word's wires reproduces the honest witness.
        const word = Number(harness.value(honest, `main.y[${ow}][${j}]`));
        expect(rederiveOutput(harness, honest, output(ow, j), word, contract)).toEqual(honest);
        for (const side of ["upper", "lower"] as const) {
          const { inside, outside } = boundaryWords(side, contract, GEMM_OUTPUT_GRID);
          const accept = rederiveOutput(harness, honest, output(ow, j), inside, contract);
          expect(harness.firstViolated(accept), `(${ow},${j}) at the bound ${float32FromBits(inside)}`).toBe(-1);
          const reject = rederiveOutput(harness, honest, output(ow, j), outside, contract);
          expect(
            harness.firstViolated(reject),
            `(${ow},${j}) beyond ${float32FromBits(outside)}`,
          ).toBeGreaterThanOrEqual(0);
        }
      }
    }
  });

  it("rejects the outputs of a miner that ignores padding or reads another group's channels", async () => {
    const t = tiling;
    const cg = t.inChannels / t.groups;
    // Tile (0, c): output row 0, whose kernel row 0 is padding. The wrong miner reads that row's stream bytes
    // (as if the image extended upwards) and, with groups, the channels of the other group.
    const c = 2 ** dc - 1;
    const g = groupOfColumnBlock(inst.work, c);
    const wrongGroup = t.groups > 1 ? (g + 1) % t.groups : g;
    const honest = await harness.witness(tileInput(inst, 0, c));
    const weights = await convWeightBlock(SEED, t, c);
    const rowsOf = async (group: number) =>
      Promise.all(
        Array.from({ length: t.kernelHeight }, (_, dh) =>
          convInputRow(SEED, t, 0, -t.padding + dh * t.dilation, group),
        ),
      );
    let rejected = 0;
    for (const [label, rows, zeroPadding] of [
      ["padding read from the stream", await rowsOf(g), false],
      ["another group's channels", await rowsOf(wrongGroup), true],
    ] as const) {
      if (label === "another group's channels" && t.groups === 1) continue;
      for (let ow = 0; ow < t.outWidth; ow++) {
        for (let j = 0; j < t.tileChannels; j++) {
          let wrong = 0n;
          for (let ci = 0; ci < cg; ci++) {
            for (let dh = 0; dh < t.kernelHeight; dh++) {
              const h = -t.padding + dh * t.dilation;
              if (zeroPadding && (h < 0 || h >= t.inHeight)) continue;
              for (let dw = 0; dw < t.kernelWidth; dw++) {
                const w = ow * t.stride - t.padding + dw * t.dilation;
                if (w < 0 || w >= t.inWidth) continue;
                const kk = (ci * t.kernelHeight + dh) * t.kernelWidth + dw;
                wrong +=
                  BigInt(fp8ToScaled(rows[dh]![ci * t.inWidth + w]!, "e4m3fn")) *
                  BigInt(fp8ToScaled(weights[kk * t.tileChannels + j]!, "e4m3fn"));
              }
            }
          }
          const { s, t: tolerance } = tileExact(inst, 0, c, ow, j);
          // The wrong miner's output, exactly rounded; skip outputs where its mistake happens to stay in bounds.
          const word = float32Bits(Number(wrong) * 2 ** -18 === 0 ? 0 : Math.fround(Number(wrong) * 2 ** -18));
          if (checkOutput(word, s, tolerance, "e4m3fn").ok) continue;
          const edited = rederiveOutput(harness, honest, output(ow, j), word, gemmBound(s, tolerance, k));
          expect(harness.firstViolated(edited), `${label} (${ow}, ${j})`).toBeGreaterThanOrEqual(0);
          rejected++;
        }
      }
    }
    expect(rejected).toBeGreaterThan(0);
  });

  it("rejects NaN, ±Inf, nonzero subnormals, off-grid values and magnitudes ≥ 2^37 for an output", async () => {
    const honest = await harness.witness(tileInput(inst, 1, 0));
    for (const [label, word] of Object.entries(refusedWords(GEMM_OUTPUT_GRID))) {
      const edited = rederiveOutput(harness, honest, output(0, 0), word, bound(1, 0, 0, 0));
      expect(harness.firstViolated(edited), label).toBeGreaterThanOrEqual(0);
    }
  });

  it("rejects single edits of every signal class", async () => {
    const honest = await harness.witness(tileInput(inst, 0, 2 ** dc - 1));
    expectEditsRejected(
      harness,
      honest,
      {
        "inputs (seed, blocks, group)": ["main.seed", "main.rowBlock", "main.colBlock", "main.group"],
        "output words": ["main.y[0][0]", `main.y[${tiling.outWidth - 1}][${tiling.tileChannels - 1}]`],
        "generated input bits": harness.signals(/^main\.xStream\[0\]\.decompose\[0\]\.bits\[(0|9|200)\]$/),
        "generated weight bits": harness.signals(/^main\.wStream\.decompose\[0\]\.bits\[(0|17|247)\]$/),
        "decoded inputs": harness.signals(/^main\.xDecode\[\d\]\[0\]\[[01]\]\.(value|magnitude)$/),
        "padding-zeroed inputs": harness.signals(/^main\.x(Value|Magnitude)\[0\]\[0\]\[[12]\]$/),
        "decoded weights": harness.signals(/^main\.check\.b(Value|Magnitude)\[[03]\]\[1\]$/),
        "decoding hints (NaN test inverse, 2^e)": harness.signals(
          /^main\.wDecode\[2\]\[0\]\.(IsEqual_\d+_\d+\.isz\.inv|raw\.partial\[\d\]|raw\.isSubnormal\.inv|isNan)$/,
        ),
        "row geometry (bits, flags)": harness.signals(/^main\.row\.(bits\[\d\]|valid\[\d\])$/),
        "exact sum terms": harness.signals(/^main\.check\.(signed|magnitude)Product\[0\]\[[01]\]\[(0|4|8)\]$/),
        "output decoding": harness.signals(/^main\.check\.outputWord\[0\]\[0\]\.(shift|scaled|isZeroExponent)$/),
        "output bits": ["main.check.cBits[0][1][30]", "main.check.cBits[1][0][0]"],
        "range-check bits": harness.signals(/^main\.check\.(lower|upper)Gap\[0\]\[[01]\]\.bits\[(0|5|40)\]$/),
      },
      { firstSignalDeltas: SMALL_AND_LARGE_EDITS },
    );
  });
});

describe("Fp8ConvSeedProof: demo main circuits/main/conv_seed_demo_c2g2_k3s2_h4w4_tn2.circom", () => {
  let harness: CircuitHarness;
  let inst: Instance;

  beforeAll(async () => {
    harness = await loadMainCircuit("conv_seed_demo_c2g2_k3s2_h4w4_tn2");
    inst = await instance(CONV_DEMO_TILING, 3, 2);
  }, 600_000);

  /** The first challenge ≥ 1 whose tile 0 is (r, c): found by search, deterministic. */
  async function challengeFor(work: ConvWork, r: number, c: number): Promise<bigint> {
    for (let challenge = 1n; ; challenge++) {
      const tile = await challengedTile(challenge, 0, work);
      if (tile.rowBlock === r && tile.colBlock === c) return challenge;
    }
  }

  it("locks the constraint count (≤ 8,000 for the power-13 dev ptau), and circom --inspect is clean", () => {
    expectMainCircuit(harness, { nonLinear: 7_637, ptauPower: 13 });
  });

  it("accepts ORT's committed words on padding and interior rows of both groups", async () => {
    const tree = await commitConvOutputs(inst.y, inst.work);
    // (r, c): image 0 row 0 (padding above) in group 0; image 3 row 1 in group 1; image 2 row 0 in group 1.
    for (const [r, c] of [
      [0, 0],
      [7, 3],
      [4, 2],
    ] as const) {
      const challenge = await challengeFor(inst.work, r, c);
      const { input, tiles, publicInputs } = await proofInput(inst, tree, challenge);
      expect(tiles).toEqual([{ rowBlock: r, colBlock: c }]);
      expect(publicInputs.shape).toBe(3n + 256n * 2n);
      const witness = await harness.witness(input);
      expect(harness.firstViolated(witness), `tile (${r}, ${c})`).toBe(-1);
      expect(harness.value(witness, "main.columnGroup[0].group")).toBe(BigInt(groupOfColumnBlock(inst.work, c)));
    }
  });

  it("rejects an edit of every signal class", async () => {
    const tree = await commitConvOutputs(inst.y, inst.work);
    const challenge = await challengeFor(inst.work, 0, 3);
    const { input } = await proofInput(inst, tree, challenge);
    const honest = await harness.witness(input);
    expect(harness.firstViolated(honest)).toBe(-1);
    expectEditsRejected(
      harness,
      honest,
      {
        ...PUBLIC_INPUT_CLASSES,
        "output words": ["main.y[0][0][0]", "main.y[0][1][1]"],
        "Merkle siblings": ["main.siblings[0][0]", "main.siblings[0][5]"],
        "challenge bits": harness.signals(/^main\.tiles\.challengeBits\.bits\[0\]\[(0|3|100)\]$/),
        "shape masks": harness.signals(/^main\.(tiles\.)?grid\.(row|col)Mask\[\d\]$/),
        "column group selection": harness.signals(/^main\.columnGroup\[0\]\.(bits\[\d\]|selected\[0\]\[\d\]|group)$/),
        "tile row geometry": harness.signals(/^main\.tile\[0\]\.row\.(bits\[\d\]|valid\[0\])$/),
        "tile inputs and sums": harness.signals(
          /^main\.tile\[0\]\.(xValue\[0\]\[0\]\[1\]|wDecode\[0\]\[0\]\.value|check\.signedProduct\[0\]\[0\]\[4\])$/,
        ),
      },
      { firstSignalDeltas: SMALL_AND_LARGE_EDITS },
    );
  });

  it.each([
    ["fewer row blocks than one image (dr = 0 < log2 Ho)", 0, 3, 0, 2, "rowMask"],
    ["fewer column blocks than groups (dc = 0 < log2 G)", 2, 0, 3, 0, "colMask"],
  ] as const)("rejects a shape with %s at the conv's own shape constraints", async (_label, r, c, dr, dc, mask) => {
    // Tile (r, c) of the dr = 3, dc = 2 work, whose window bits above the smaller shape are 0: under (dr, dc) the
    // challenge selects the same tile, so only the shape and ChallengedTiles' masks change.
    expect((r >> dr) + (c >> dc)).toBe(0);
    const tree = await commitConvOutputs(inst.y, inst.work);
    const challenge = await challengeFor(inst.work, r, c);
    const { input } = await proofInput(inst, tree, challenge);
    const honest = await harness.witness(input);
    // ChallengedTiles' WorkShape (and the conv's, where O2 kept its mask wires) re-derived for (dr, dc).
    const changes: Record<string, bigint> = { "main.shape": BigInt(dr + 256 * dc) };
    for (const signal of harness.signals(
      new RegExp(`^main\\.(tiles\\.grid|grid|columnGroup\\[0\\])\\.${mask}\\[\\d\\]$`),
    )) {
      const index = Number(/\[(\d+)\]$/.exec(signal)![1]);
      changes[signal] = index < (mask === "rowMask" ? dr : dc) ? 1n : 0n;
    }
    const edited = harness.edit(honest, changes);
    const commitment = new Set(harness.signals(/^main\.tiles\./).map((signal) => harness.wire(signal)));
    const violated = harness.r1cs.constraints.filter(([a, b, c]) => {
      const value = (lc: typeof a) => lc.reduce((sum, [wire, coefficient]) => sum + coefficient * edited[wire]!, 0n);
      return fieldMod(value(a) * value(b) - value(c)) !== 0n;
    });
    // ChallengedTiles accepts the edited shape (no violated constraint touches its wires); the conv's own shape
    // constraints reject it.
    expect(violated.length).toBeGreaterThan(0);
    for (const [a, b, c] of violated) {
      expect([...a, ...b, ...c].some(([wire]) => commitment.has(wire))).toBe(false);
    }
  });
});

describe("Fp8ConvSeedProof with two challenged tiles (NT = 2, demo parameters)", () => {
  it("accepts both tiles' honest words and rejects an edit of the second tile's words or siblings", async () => {
    const t = CONV_DEMO_TILING;
    const harness = await CircuitHarness.load(
      await instantiateCircuit(
        "test_conv_seed_nt2_demo",
        "conv_seed.circom",
        "Fp8ConvSeedProof",
        [2, ...tileParams(t), t.maxColBlocksLog2],
        ["outputRoot", "seed", "challenge", "miner", "shape"],
      ),
    );
    expect(harness.constraintCount).toBe(14_509);
    const inst = await instance(t, 3, 2);
    const tree = await commitConvOutputs(inst.y, inst.work);
    // The first challenge ≥ 1 whose two tiles differ in both coordinates (deterministic search).
    let challenge = 1n;
    let proof = await proofInput(inst, tree, challenge, 2);
    while (
      proof.tiles[0]!.rowBlock === proof.tiles[1]!.rowBlock ||
      proof.tiles[0]!.colBlock === proof.tiles[1]!.colBlock
    ) {
      challenge++;
      proof = await proofInput(inst, tree, challenge, 2);
    }
    const honest = await harness.witness(proof.input);
    expect(harness.firstViolated(honest)).toBe(-1);
    expectEditsRejected(
      harness,
      honest,
      {
        "second tile's words": ["main.y[1][0][0]", "main.y[1][1][1]"],
        "second tile's siblings": ["main.siblings[1][0]", "main.siblings[1][5]"],
        "second tile's inputs": harness.signals(/^main\.tile\[1\]\.check\.signedProduct\[0\]\[0\]\[4\]$/),
      },
      { firstSignalDeltas: SMALL_AND_LARGE_EDITS },
    );
  });
});

describeProductionMain(
  "conv_seed_c8_k3_h8w8_tn8",
  { nonLinear: 47_319, ptauPower: 16 },
  {
    title: "accepts ORT's words for a challenged tile of a 1-image, 16-channel work",
    proofInput: async () => {
      const inst = await instance(CONV_PRODUCTION_TILING, 3, 1);
      const { input, tiles } = await proofInput(inst, await commitConvOutputs(inst.y, inst.work), 42n);
      expect(tiles[0]!.rowBlock).toBeLessThan(8);
      return input;
    },
  },
);
