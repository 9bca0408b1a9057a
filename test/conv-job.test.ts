// The input-root ("job") mode conv2d circuit (circuits/conv_job.circom, docs/ops/conv.md "Job mode") against its
// TypeScript reference (common/job-commitment.ts convInputTree / convWeightTree / convJobProofInput), outputs of ONNX
// Runtime and of the exact reference, a real Groth16 proof of the demo main, and soundness shown by editing honest
// witnesses: the constraints themselves must reject every edit.
import { buildPoseidon } from "circomlibjs";
import { beforeAll, describe, expect, it } from "vitest";
import { randomFiniteCodes } from "../common/fp8.js";
import {
  assertJobConvTiling,
  convInputTree,
  convJobProofInput,
  convWeightTree,
  type BlockTree,
} from "../common/job-commitment.js";
import { float32FromBits, roundScaledToFloat32Bits } from "../common/numerics.js";
import {
  checkConvOutputs,
  commitConvOutputs,
  convTileWords,
  defineConvWork,
  exactConv,
  type ConvTiling,
  type ConvWork,
} from "../common/ops/conv.js";
import { Prng } from "../common/prng.js";
import { challengedTile, tileIndex, type OutputTree, type WorkShape } from "../common/work.js";
import { JOB_CIRCUITS, jobCircuit, jobCircuitsFor, jobKindParams, type JobCircuit } from "../miner/job-circuits.js";
import { miningJobKind } from "../miner/deploy.js";
import { runFp8Conv } from "../miner/ops/conv.js";
import { CircuitHarness, loadMainCircuit } from "./helpers/circuit.js";
import { boundaryWords, GEMM_OUTPUT_GRID, gemmBound, gemmOutput, rederiveOutput } from "./helpers/contract-witness.js";
import {
  decodeCode,
  describeCeremonyProof,
  expectJobMain,
  JOB_PUBLIC_INPUT_CLASSES,
  loadChallengedTiles,
  loadInputStandalones,
  loadMerklePath,
  merklePathWitness,
  MINER,
  outputOpeningWires,
  type InputStandalones,
} from "./helpers/job-circuit.js";
import { describeProductionMain, expectEditsRejected, SMALL_AND_LARGE_EDITS } from "./helpers/soundness.js";

type Poseidon = Awaited<ReturnType<typeof buildPoseidon>>;

const DEMO = JOB_CIRCUITS["conv-job-demo"];
const PRODUCTION = JOB_CIRCUITS["conv-job"];

// ---------------------------------------------------------------------------------------------------------------
// An independent recomputation of the commitments: circomlibjs directly, NCHW / ONNX indexing written out, trees by
// recursion over (level, index).

function leafByHand(poseidon: Poseidon, bytes: readonly number[]): bigint {
  const hash = (inputs: bigint[]) => poseidon.F.toObject(poseidon(inputs));
  const elements = Array.from({ length: Math.ceil(bytes.length / 31) }, (_, e) =>
    bytes.slice(31 * e, 31 * e + 31).reduce((sum, byte, j) => sum + (BigInt(byte) << BigInt(8 * j)), 0n),
  );
  if (elements.length <= 16) return hash(elements);
  const runs = Array.from({ length: Math.ceil(elements.length / 16) }, (_, r) =>
    hash(elements.slice(16 * r, 16 * r + 16)),
  );
  return hash(runs);
}

/** A depth-`depth` Poseidon(2) tree as a function node(level, index), leaves beyond the list 0. */
function treeByHand(poseidon: Poseidon, depth: number, leaves: readonly bigint[]) {
  const memo = new Map<string, bigint>();
  const node = (level: number, index: number): bigint => {
    if (level === 0) return leaves[index] ?? 0n;
    const key = `${level}/${index}`;
    let value = memo.get(key);
    if (value === undefined) {
      value = poseidon.F.toObject(poseidon([node(level - 1, 2 * index), node(level - 1, 2 * index + 1)]));
      memo.set(key, value);
    }
    return value;
  };
  return {
    root: node(depth, 0),
    path: (index: number) => Array.from({ length: depth }, (_, level) => node(level, (index >> level) ^ 1)),
  };
}

/** Leaf n·H + h: X[n][ci][h][w] for ci, w. */
function inputRowByHand(t: ConvTiling, x: Uint8Array, n: number, h: number): number[] {
  const row: number[] = [];
  for (let ci = 0; ci < t.inChannels; ci++) {
    for (let w = 0; w < t.inWidth; w++) row.push(x[((n * t.inChannels + ci) * t.inHeight + h) * t.inWidth + w]!);
  }
  return row;
}

/** Leaf c: for each (ci, dh, dw) in that order, the TN weights Wt[c·TN + j][ci][dh][dw]. */
function weightBlockByHand(t: ConvTiling, weights: Uint8Array, c: number): number[] {
  const block: number[] = [];
  for (let ci = 0; ci < t.inChannels; ci++) {
    for (let dh = 0; dh < t.kernelHeight; dh++) {
      for (let dw = 0; dw < t.kernelWidth; dw++) {
        for (let j = 0; j < t.tileChannels; j++) {
          const co = c * t.tileChannels + j;
          block.push(weights[((co * t.inChannels + ci) * t.kernelHeight + dh) * t.kernelWidth + dw]!);
        }
      }
    }
  }
  return block;
}

/** A 5×5 kernel on 4×6 images (W ≠ H), 3 input channels, 3 channels per tile: a second job tiling. */
const WIDE: ConvTiling = {
  inChannels: 3,
  groups: 1,
  kernelHeight: 5,
  kernelWidth: 5,
  stride: 1,
  padding: 2,
  dilation: 1,
  inHeight: 4,
  inWidth: 6,
  outWidth: 6,
  outHeightLog2: 2,
  tileChannels: 3,
  maxRowBlocksLog2: 4,
  maxColBlocksLog2: 2,
};

// ---------------------------------------------------------------------------------------------------------------
// Jobs.

interface ConvJob {
  readonly work: ConvWork;
  readonly x: Uint8Array;
  readonly weights: Uint8Array;
  readonly y: Uint32Array;
  readonly outputTree: OutputTree;
  readonly inputs: BlockTree;
  readonly weightsTree: BlockTree;
}

/** The exact conv of the codes rounded once to float32 (NCHW words): what an ideal accumulator commits. */
function exactOutputs(x: Uint8Array, weights: Uint8Array, work: ConvWork): Uint32Array {
  return Uint32Array.from(exactConv({ x, weights }, work).dot, (s) => roundScaledToFloat32Bits(s, 18));
}

/** A job with random finite codes (unless given), outputs from the exact reference (unless given), and its trees. */
async function makeJob(
  tiling: ConvTiling,
  shape: WorkShape,
  seed: number,
  given: { x?: Uint8Array; weights?: Uint8Array; y?: Uint32Array } = {},
): Promise<ConvJob> {
  const work = defineConvWork(tiling, shape);
  const prng = new Prng(seed);
  const randomX = randomFiniteCodes(prng, work.images * tiling.inChannels * tiling.inHeight * tiling.inWidth, "e4m3fn");
  const randomWeights = randomFiniteCodes(prng, work.outChannels * work.depth, "e4m3fn");
  const x = given.x ?? randomX;
  const weights = given.weights ?? randomWeights;
  const y = given.y ?? exactOutputs(x, weights, work);
  return {
    work,
    x,
    weights,
    y,
    outputTree: await commitConvOutputs(y, work),
    inputs: await convInputTree(x, tiling, shape),
    weightsTree: await convWeightTree(weights, tiling, shape),
  };
}

function proofInput(job: ConvJob, challenge: bigint) {
  return convJobProofInput({
    tiling: job.work.tiling,
    shape: job.work.shape,
    tilesPerProof: 1,
    x: job.x,
    weights: job.weights,
    y: job.y,
    outputTree: job.outputTree,
    inputs: job.inputs,
    weightsTree: job.weightsTree,
    challenge,
    miner: `0x${MINER.toString(16)}`,
  });
}

/** The smallest challenge ≥ 1 whose tile 0 is (rowBlock, colBlock) (the reference's challengedTile). */
async function challengeFor(work: ConvWork, rowBlock: number, colBlock: number): Promise<bigint> {
  let challenge = 1n;
  for (;;) {
    const tile = await challengedTile(challenge, 0, work);
    if (tile.rowBlock === rowBlock && tile.colBlock === colBlock) return challenge;
    if (++challenge > 200_000n) throw new Error(`no challenge selects tile (${rowBlock}, ${colBlock})`);
  }
}

/** Values in `witness` of every signal of `harness` whose name starts with `prefix`. */
function copied(harness: CircuitHarness, prefix: string, witness: readonly bigint[]): Map<string, bigint> {
  return new Map(
    harness.signals(new RegExp(`^${prefix.replace(/[.[\]]/g, "\\$&")}`)).map((s) => [s, harness.value(witness, s)]),
  );
}

// ---------------------------------------------------------------------------------------------------------------

describe("conv job commitments (common/job-commitment.ts) against a recomputation by hand", () => {
  let poseidon: Poseidon;
  beforeAll(async () => {
    poseidon = await buildPoseidon();
  });

  it.each([
    ["demo", DEMO.tiling, { rowBlocksLog2: 4, colBlocksLog2: 1 }],
    ["5×5 kernel, W ≠ H", WIDE, { rowBlocksLog2: 3, colBlocksLog2: 2 }],
    ["production (K·TN = 576 bytes: two runs)", PRODUCTION.tiling, { rowBlocksLog2: 3, colBlocksLog2: 1 }],
  ] as const)(
    "%s: input leaf n·H + h is row h of image n ([ci][w]), weight leaf c its im2col block",
    async (_, t, shape) => {
      const job = await makeJob(t, shape, 21);
      const images = 2 ** (shape.rowBlocksLog2 - t.outHeightLog2);
      const inputLeaves: bigint[] = [];
      for (let n = 0; n < images; n++) {
        for (let h = 0; h < t.inHeight; h++) inputLeaves.push(leafByHand(poseidon, inputRowByHand(t, job.x, n, h)));
      }
      expect(inputLeaves).toHaveLength(2 ** shape.rowBlocksLog2);
      const inputs = treeByHand(poseidon, t.maxRowBlocksLog2, inputLeaves);
      expect(job.inputs.depth).toBe(t.maxRowBlocksLog2);
      expect(job.inputs.root).toBe(inputs.root);
      for (let i = 0; i < 2 ** t.maxRowBlocksLog2; i += 3)
        expect(job.inputs.path(i), `input ${i}`).toEqual(inputs.path(i));
      const weightLeaves = Array.from({ length: 2 ** shape.colBlocksLog2 }, (_, c) =>
        leafByHand(poseidon, weightBlockByHand(t, job.weights, c)),
      );
      const weights = treeByHand(poseidon, t.maxColBlocksLog2, weightLeaves);
      expect(job.weightsTree.depth).toBe(t.maxColBlocksLog2);
      expect(job.weightsTree.root).toBe(weights.root);
      for (let c = 0; c < 2 ** t.maxColBlocksLog2; c++) expect(job.weightsTree.path(c)).toEqual(weights.path(c));
    },
  );

  it("the proof input's rows, paths, weight block and words are the reference's; padding rows are zeros", async () => {
    const t = DEMO.tiling;
    const job = await makeJob(t, { rowBlocksLog2: 4, colBlocksLog2: 2 }, 22);
    const inputs = treeByHand(
      poseidon,
      4,
      Array.from({ length: 16 }, (_, i) => leafByHand(poseidon, inputRowByHand(t, job.x, i >> 3, i & 7))),
    );
    for (const [r, c] of [
      [8, 3],
      [15, 0],
      [11, 1],
    ] as const) {
      const { input, publicSignals, tiles } = await proofInput(job, await challengeFor(job.work, r, c));
      expect(tiles).toEqual([{ rowBlock: r, colBlock: c }]);
      expect(publicSignals[1]).toBe(inputs.root);
      expect(publicSignals[5]).toBe(BigInt(4 + 256 * 2));
      const [n, oh] = [r >> 3, r & 7];
      const x = input.x as string[][][];
      const paths = input.inputSiblings as string[][][];
      for (let dh = 0; dh < 3; dh++) {
        const h = oh - 1 + dh;
        const inside = h >= 0 && h < 8;
        expect(x[0]![dh], `row dh ${dh}`).toEqual(
          inside ? inputRowByHand(t, job.x, n, h).map(String) : Array(32).fill("0"),
        );
        expect(paths[0]![dh]).toEqual(inside ? inputs.path(n * 8 + h).map(String) : Array(4).fill("0"));
      }
      expect((input.w as string[][][])[0]!.flat()).toEqual(weightBlockByHand(t, job.weights, c).map(String));
      const words = (input.y as string[][][])[0]!.flat().map(Number);
      for (let ow = 0; ow < 8; ow++) {
        for (let j = 0; j < 2; j++) {
          expect(words[ow * 2 + j]).toBe(job.y[((n * 8 + c * 2 + j) * 8 + oh) * 8 + ow]);
        }
      }
    }
  });

  it("refuses tilings a job circuit does not support, wrong sizes, and data that are not the trees' leaves", async () => {
    const t = DEMO.tiling;
    const shape = { rowBlocksLog2: 3, colBlocksLog2: 0 };
    expect(() => assertJobConvTiling(t)).not.toThrow();
    expect(() => assertJobConvTiling(WIDE)).not.toThrow();
    expect(() => assertJobConvTiling({ ...t, groups: 2 })).toThrow(/needs groups = 1, got 2/);
    expect(() => assertJobConvTiling({ ...t, inHeight: 16, inWidth: 16, stride: 2 })).toThrow(/needs stride 1, got 2/);
    expect(() => assertJobConvTiling({ ...t, dilation: 2, padding: 2 })).toThrow(/needs dilation 1, got 2/);
    expect(() =>
      assertJobConvTiling({ ...t, kernelHeight: 2, padding: 1, inHeight: 7, outWidth: 8, outHeightLog2: 3 }),
    ).toThrow(/an odd square kernel, got 2×3/);
    expect(() =>
      assertJobConvTiling({ ...t, padding: 0, inHeight: 10, inWidth: 10, outWidth: 8, outHeightLog2: 3 }),
    ).toThrow(/padding \(kernel − 1\)\/2 = 1, got 0/);
    expect(() => assertJobConvTiling({ ...t, outWidth: 7 })).toThrow(/outWidth must be the conv output width 8/);
    expect(() => assertJobConvTiling({ ...t, inChannels: 1000, tileChannels: 1 })).toThrow(
      /Cin·W ≤ 7936 codes, got 8000/,
    );
    await expect(convInputTree(new Uint8Array(4 * 64 - 1), t, shape)).rejects.toThrow(
      /x must be N·Cin·H·W = 1·4·8·8 = 256 E4M3FN codes .*got 255/,
    );
    await expect(convWeightTree(new Uint8Array(73), t, shape)).rejects.toThrow(
      /weights must be Cout·Cin·KH·KW = 2·4·3·3 = 72 E4M3FN codes .*got 73/,
    );
    await expect(convInputTree(new Uint8Array(128), t, { rowBlocksLog2: 2, colBlocksLog2: 0 })).rejects.toThrow(
      /rowBlocksLog2 must be an integer in \[3, 4\] \(whole images/,
    );
    const job = await makeJob(t, { rowBlocksLog2: 4, colBlocksLog2: 2 }, 23);
    const challenge = await challengeFor(job.work, 11, 1);
    const x = Uint8Array.from(job.x);
    const xAt = ((1 * 4 + 2) * 8 + 4) * 8 + 5; // image 1, channel 2, row 4 (read by oh 3 through dh 2)
    x[xAt] = x[xAt]! ^ 1;
    await expect(proofInput({ ...job, x }, challenge)).rejects.toThrow(/input block 12 is not leaf 12/);
    const weights = Uint8Array.from(job.weights);
    weights[3 * 36 + 7] = weights[3 * 36 + 7]! ^ 1; // output channel 3: column block 1
    await expect(proofInput({ ...job, weights }, challenge)).rejects.toThrow(/weight block 1 is not leaf 1/);
    const shallow = await convWeightTree(job.weights, { ...t, maxColBlocksLog2: 3 }, job.work.shape);
    await expect(proofInput({ ...job, weightsTree: shallow }, challenge)).rejects.toThrow(
      /the weight tree has depth 3; the tiling needs 2/,
    );
  });
});

describe("job circuits (miner/job-circuits.ts): conv kinds and on-chain kind parameters", () => {
  it("jobKindParams: linear TM, TN, K; conv2d Wo, TN, Cin·KH·KW; macsPerTile = Wo·TN·K", () => {
    expect(jobKindParams(JOB_CIRCUITS["gemm-job"])).toEqual({
      tileRows: 8,
      tileCols: 8,
      depth: 64,
      maxRowBlocksLog2: 10,
      maxColBlocksLog2: 10,
    });
    expect(jobKindParams(DEMO)).toEqual({
      tileRows: 8,
      tileCols: 2,
      depth: 36,
      maxRowBlocksLog2: 4,
      maxColBlocksLog2: 2,
    });
    expect(jobKindParams(PRODUCTION)).toEqual({
      tileRows: 8,
      tileCols: 8,
      depth: 72,
      maxRowBlocksLog2: 10,
      maxColBlocksLog2: 6,
    });
    expect([DEMO.macsPerTile, PRODUCTION.macsPerTile]).toEqual([8 * 2 * 36, 8 * 8 * 72]);
    expect(jobCircuit("conv-job")).toBe(PRODUCTION);
    for (const circuit of [DEMO, PRODUCTION]) {
      expect(() => assertJobConvTiling(circuit.tiling)).not.toThrow();
      expect(miningJobKind(circuit, "0x01")).toMatchObject({ circuit: circuit.name, ...jobKindParams(circuit) });
    }
  });

  it("no two job circuits share an on-chain kind, and jobCircuitsFor maps each kind to its own circuit", () => {
    const circuits: JobCircuit[] = Object.values(JOB_CIRCUITS);
    const key = (c: JobCircuit, withMacs: boolean) =>
      JSON.stringify([jobKindParams(c), c.proofsPerJob, withMacs ? c.macsPerTile : 0]);
    expect(new Set(circuits.map((c) => key(c, true))).size).toBe(circuits.length);
    // jobCircuitsFor compares the JobKind fields and proofsPerJob only: those alone must be distinct too.
    expect(new Set(circuits.map((c) => key(c, false))).size).toBe(circuits.length);
    for (const circuit of circuits) {
      expect(jobCircuitsFor([{ tiling: jobKindParams(circuit), proofsPerJob: circuit.proofsPerJob }])).toEqual([
        circuit,
      ]);
    }
    const kind = { tiling: jobKindParams(DEMO), proofsPerJob: DEMO.proofsPerJob };
    expect(jobCircuitsFor([{ ...kind, proofsPerJob: 5 }])).toEqual([]);
    expect(jobCircuitsFor([{ ...kind, tiling: { ...kind.tiling, depth: 35 } }])).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe(`demo main circuits/main/${DEMO.name}.circom`, () => {
  const tiling = DEMO.tiling;
  const full: WorkShape = { rowBlocksLog2: 4, colBlocksLog2: 2 };
  // Image 1, output row 3 (input rows 2, 3, 4 all inside), column block 1.
  const [ROW, COL] = [11, 1];
  let harness: CircuitHarness;
  let job: ConvJob;
  let challenge: bigint;
  let honest: bigint[];

  beforeAll(async () => {
    harness = await loadMainCircuit(DEMO.name);
    job = await makeJob(tiling, full, 1);
    challenge = await challengeFor(job.work, ROW, COL);
    honest = await harness.witness((await proofInput(job, challenge)).input);
  }, 900_000);

  it("is a 3×3 conv of up to 2 images of 4×8×8 into 8 channels, power-14 ptau, constraints locked, --inspect clean", async () => {
    expect(defineConvWork(tiling, full)).toMatchObject({ images: 2, outChannels: 8, depth: 36 });
    await expectJobMain(harness, { nonLinear: 12_861, ptauPower: 14 });
  });

  it("accepts honest witnesses: padding rows at oh = 0 and oh = 7, corners, the second image, a smaller shape", async () => {
    const small = await makeJob(tiling, { rowBlocksLog2: 3, colBlocksLog2: 1 }, 2);
    const cases: [ConvJob, number, number][] = [
      [job, 0, 0], // image 0, oh 0: kernel row 0 reads padding
      [job, 15, 3], // image 1, oh 7: kernel row 2 reads padding; last column block
      [job, 7, 0],
      [job, 8, 3], // image 1, oh 0
      [job, ROW, COL],
      [small, 0, 1],
      [small, 7, 0],
      [small, 4, 1],
    ];
    for (const [which, r, c] of cases) {
      const found = await challengeFor(which.work, r, c);
      const { input, publicSignals } = await proofInput(which, found);
      const { rowBlocksLog2: dr, colBlocksLog2: dc } = which.work.shape;
      expect(publicSignals).toEqual([
        which.outputTree.root,
        which.inputs.root,
        which.weightsTree.root,
        found,
        MINER,
        BigInt(dr + 256 * dc),
      ]);
      expect(harness.firstViolated(await harness.witness(input)), `tile (${r}, ${c})`).toBe(-1);
    }
  }, 300_000);

  it("reads the challenged rows and block; padding rows are flagged and zeroed, inside rows are not", async () => {
    const value = (w: readonly bigint[], s: string) => harness.value(w, s);
    for (let dh = 0; dh < 3; dh++) {
      // Kernel row 1 always reads inside the image: its flag and index are constants or merged away by --O2.
      if (dh !== 1) expect(value(honest, `main.tile[0].row.valid[${dh}]`)).toBe(1n);
      if (harness.hasWire(`main.tile[0].inputIndex[${dh}]`)) {
        expect(value(honest, `main.tile[0].inputIndex[${dh}]`)).toBe(BigInt(8 + 2 + dh));
      }
      expect(harness.value(honest, `main.tile[0].inputBits[${dh}].out[1]`)).toBe(BigInt(((8 + 2 + dh) >> 1) & 1));
      for (const [ci, w] of [
        [0, 0],
        [3, 7],
        [2, 5],
      ] as const) {
        expect(value(honest, `main.x[0][${dh}][${ci}][${w}]`)).toBe(BigInt(job.x[((4 + ci) * 8 + 2 + dh) * 8 + w]!));
      }
    }
    for (const [k, j] of [
      [0, 0],
      [35, 1],
      [13, 0],
    ] as const) {
      expect(value(honest, `main.w[0][${k}][${j}]`)).toBe(BigInt(job.weights[(COL * 2 + j) * 36 + k]!));
    }
    // Tile (8, 0): image 1, oh 0; kernel row 0 would read row −1.
    const top = await harness.witness((await proofInput(job, await challengeFor(job.work, 8, 0))).input);
    expect(value(top, "main.tile[0].row.valid[0]")).toBe(0n);
    expect(value(top, "main.tile[0].inputIndex[0]")).toBe(0n);
    expect(value(top, "main.tile[0].row.valid[2]")).toBe(1n);
    // The prover's codes for the padding row, decoded, then zeroed: put a nonzero code there.
    const { input } = await proofInput(job, await challengeFor(job.work, 8, 0));
    (input.x as string[][][])[0]![0]![9] = "56"; // channel 1, w 1
    const poked = await harness.witness(input);
    expect(harness.firstViolated(poked)).toBe(-1);
    expect(value(poked, "main.tile[0].xDecode[0][1][1].value")).not.toBe(0n);
    expect(value(poked, "main.tile[0].xValue[0][1][1]")).toBe(0n);
  }, 300_000);

  it("rejects single edits of every signal class", () => {
    const tile = "main.tile[0]";
    expectEditsRejected(
      harness,
      honest,
      {
        ...JOB_PUBLIC_INPUT_CLASSES,
        "input code of an inside row": ["main.x[0][0][0][0]", "main.x[0][1][2][5]", "main.x[0][2][3][7]"],
        "weight code": ["main.w[0][0][0]", "main.w[0][35][1]", "main.w[0][17][0]"],
        "output word": ["main.y[0][0][0]", "main.y[0][7][1]"],
        "output sibling": ["main.siblings[0][0]", "main.siblings[0][5]"],
        "input sibling": ["main.inputSiblings[0][0][0]", "main.inputSiblings[0][1][3]", "main.inputSiblings[0][2][2]"],
        "weight sibling": ["main.weightSiblings[0][0]", "main.weightSiblings[0][1]"],
        "leaf hashes": [0, 1, 2].map((dh) => `${tile}.inputLeaf[${dh}].out`).concat(`${tile}.weightLeaf.out`),
        "input / weight index bits": harness.signals(/^main\.tile\[0\]\.(inputBits\[\d\]|colBits)\.out\[\d\]$/),
        "row geometry": harness.signals(/^main\.tile\[0\]\.(row\.(valid|bits)\[\d\]|inputIndex\[\d\])$/),
        "decoded inputs": [
          `${tile}.xDecode[0][1][2].value`,
          `${tile}.xValue[2][3][4]`,
          `${tile}.wDecode[3][1].decoded.raw.pow2e`,
        ],
      },
      { deltas: SMALL_AND_LARGE_EDITS },
    );
  });

  it("padding rows: their siblings are not read; claiming an inside row is padding is rejected by ConvOutputRow", async () => {
    const pathHarness = await loadMerklePath(4);
    /** The path wires of `inputPath[dh]` for a leaf, siblings and index, from a standalone MerkleRootFromPath(4). */
    const pathWires = async (dh: number, leaf: bigint, siblings: readonly bigint[], index: number) => {
      const pathWitness = await merklePathWitness(pathHarness, leaf, siblings, index);
      const set = harness.transplant(`main.tile[0].inputPath[${dh}]`, pathHarness, pathWitness);
      siblings.forEach((sibling, d) => set.set(`main.inputSiblings[0][${dh}][${d}]`, sibling));
      return set;
    };

    // An honest padding row's siblings are free (the Merkle check is off); an inside row's are not.
    const top = await harness.witness((await proofInput(job, await challengeFor(job.work, 8, 0))).input);
    for (const [dh, free] of [
      [0, true],
      [2, false],
    ] as const) {
      const leaf = harness.value(top, `main.tile[0].inputLeaf[${dh}].out`);
      const siblings = Array.from({ length: 4 }, (_, d) => harness.value(top, `main.inputSiblings[0][${dh}][${d}]`));
      siblings[1] = 12345n;
      const index = dh === 0 ? 0 : 8 + 1;
      const edited = harness.editWired(top, await pathWires(dh, leaf, siblings, index));
      expect(harness.violations(edited).length === 0, `kernel row ${dh}`).toBe(free);
    }

    // The attack: for tile (11, 1), input row 2 of image 1 (kernel row 0) is inside. A miner commits outputs computed
    // with that row zeroed (job `fake`) and claims the row is padding, so it need not open it against the real root.
    const x = Uint8Array.from(job.x);
    for (let ci = 0; ci < 4; ci++) x.fill(0, ((4 + ci) * 8 + 2) * 8, ((4 + ci) * 8 + 3) * 8);
    const fake = await makeJob(tiling, full, 1, { x, weights: job.weights });
    expect(fake.outputTree.root).not.toBe(job.outputTree.root);
    const fakeWitness = await harness.witness((await proofInput(fake, challenge)).input);
    const zeroRowLeaf = harness.value(fakeWitness, "main.tile[0].inputLeaf[0].out");
    const siblings = Array.from({ length: 4 }, (_, d) => harness.value(fakeWitness, `main.inputSiblings[0][0][${d}]`));
    // Rows 3 and 4 are the same in both jobs: their openings against the real root are the honest witness's.
    const set = new Map<string, bigint>([
      ["main.inputRoot", job.inputs.root],
      ...copied(harness, "main.tile[0].inputPath[1].", honest),
      ...copied(harness, "main.tile[0].inputPath[2].", honest),
      ...copied(harness, "main.inputSiblings[0][1]", honest),
      ...copied(harness, "main.inputSiblings[0][2]", honest),
    ]);
    const opened = harness.editWired(fakeWitness, set);
    const openedBad = harness.violations(opened);
    expect(openedBad.length, "the zeroed row is not leaf 10 of the real root").toBeGreaterThan(0);

    // Claim padding: index 0, its bits, the path recomputed for index 0, and the flag (which --O2 merged with the top
    // bit of the comparison oh + 8 − 1 = 10 of kernel row 0), alone or with every lower bit of the comparison set.
    set.set("main.tile[0].inputIndex[0]", 0n);
    for (let b = 0; b < 4; b++) set.set(`main.tile[0].inputBits[0].out[${b}]`, 0n);
    for (const [signal, v] of await pathWires(0, zeroRowLeaf, siblings, 0)) set.set(signal, v);
    expect(harness.signals(/^main\.tile\[0\]\.row\.below\[0\]\.out\[\d\]$/).length).toBeGreaterThan(0);
    for (const claim of [
      { "main.tile[0].row.valid[0]": 0n },
      {
        "main.tile[0].row.valid[0]": 0n,
        ...Object.fromEntries(harness.signals(/^main\.tile\[0\]\.row\.below\[0\]\.out\[\d\]$/).map((s) => [s, 1n])),
      },
    ]) {
      const edited = harness.edit(harness.editWired(fakeWitness, set), claim);
      const bad = harness.violations(edited);
      // Everything else of the lie is consistent: exactly one constraint catches it, ConvOutputRow's decomposition
      // of oh + 8 − 1 (whose top bit is the flag).
      expect(bad, JSON.stringify(Object.keys(claim))).toHaveLength(1);
      const wires = harness.constraintWires(bad[0]!);
      expect(wires.has(harness.wire("main.tile[0].row.valid[0]"))).toBe(true);
      expect(wires.has(harness.wire("main.tile[0].row.below[0].out[0]"))).toBe(true);
    }
  }, 300_000);

  it("accepts an output exactly at the contract bound and rejects the next float32 beyond it (re-committed)", async () => {
    const exact = exactConv({ x: job.x, weights: job.weights }, job.work);
    const tiles = await loadChallengedTiles(16, 4, 2);
    for (const [ow, j, side] of [
      [0, 0, "upper"],
      [7, 1, "lower"],
      [3, 1, "upper"],
    ] as const) {
      const flat = ((1 * 8 + COL * 2 + j) * 8 + 3) * 8 + ow;
      const bound = gemmBound(exact.dot[flat]!, exact.absDot[flat]!, 36);
      const outcome: Record<string, number> = {};
      for (const [which, word] of Object.entries(boundaryWords(side, bound, GEMM_OUTPUT_GRID))) {
        const y = Uint32Array.from(job.y);
        y[flat] = word;
        const tree = await commitConvOutputs(y, job.work);
        const set = await outputOpeningWires(harness, tiles, {
          root: tree.root,
          siblings: tree.siblings(tileIndex(tiling, ROW, COL)),
          challenge,
          shape: 4 + 256 * 2,
          words: Array.from(convTileWords(y, job.work, ROW, COL)),
        });
        const output = gemmOutput("main.tile[0].check", `main.y[0][${ow}][${j}]`, ow, j);
        const edited = harness.editWired(rederiveOutput(harness, honest, output, word, bound), set);
        outcome[which] = harness.violations(edited).length;
      }
      expect(outcome.inside, `(${ow}, ${j}) ${side}: ${float32FromBits(job.y[flat]!)} at the bound`).toBe(0);
      expect(outcome.outside, `(${ow}, ${j}) ${side}: beyond the bound`).toBeGreaterThan(0);
    }
  }, 300_000);
});

describe("a NaN input code committed in the input tree is rejected by the NaN check alone (demo main)", () => {
  const tiling = DEMO.tiling;
  const shape: WorkShape = { rowBlocksLog2: 4, colBlocksLog2: 2 };
  // Tile (11, 1): image 1, oh 3. The code at X[1][2][3][5] is read through kernel row 1 (input row 3).
  const [n, ci, h, iw] = [1, 2, 3, 5];
  const position = ((n * 4 + ci) * 8 + h) * 8 + iw;
  let harness: CircuitHarness;
  let base: ConvJob;
  let baseWitness: bigint[];
  let challenge: bigint;
  let standalone: InputStandalones;

  beforeAll(async () => {
    harness = await loadMainCircuit(DEMO.name);
    const job = await makeJob(tiling, shape, 3);
    // X[1][2][3][5] = 0 and every weight of input channel 2 zero: the outputs (and the output tree) do not depend on
    // that code; only its decoding and the input commitment do.
    const x = Uint8Array.from(job.x);
    x[position] = 0;
    const weights = Uint8Array.from(job.weights);
    for (let co = 0; co < 8; co++) weights.fill(0, co * 36 + ci * 9, co * 36 + ci * 9 + 9);
    base = await makeJob(tiling, shape, 3, { x, weights });
    challenge = await challengeFor(base.work, 11, 1);
    baseWitness = await harness.witness((await proofInput(base, challenge)).input);
    standalone = await loadInputStandalones(4);
  }, 900_000);

  /** The base witness with X[1][2][3][5] = code committed: new input root, leaf, three paths, decoding wires. */
  async function withCode(code: number): Promise<bigint[]> {
    const x = Uint8Array.from(base.x);
    x[position] = code;
    const inputs = await convInputTree(x, tiling, shape);
    const set = new Map<string, bigint>([["main.inputRoot", inputs.root]]);
    for (let dh = 0; dh < 3; dh++) {
      const index = n * 8 + 2 + dh;
      const row = inputRowByHand(tiling, x, n, 2 + dh);
      const leafWitness = await standalone.leaf.witness({ bytes: row.map(String) });
      const leaf = standalone.leaf.value(leafWitness, "main.out");
      const pathWitness = await merklePathWitness(standalone.path, leaf, inputs.path(index), index);
      expect(standalone.path.value(pathWitness, "main.root")).toBe(inputs.root);
      for (const [s, v] of harness.transplant(`main.tile[0].inputLeaf[${dh}]`, standalone.leaf, leafWitness))
        set.set(s, v);
      for (const [s, v] of harness.transplant(`main.tile[0].inputPath[${dh}]`, standalone.path, pathWitness))
        set.set(s, v);
      inputs.path(index).forEach((s, d) => set.set(`main.inputSiblings[0][${dh}][${d}]`, s));
    }
    const { bits, rawWitness, magnitude, value, nanInverse } = await decodeCode(standalone.raw, code);
    const decode = `main.tile[0].xDecode[1][${ci}][${iw}]`;
    for (const [s, v] of harness.transplant(`${decode}.decoded.raw`, standalone.raw, rawWitness)) set.set(s, v);
    for (let b = 0; b < 8; b++) set.set(`${decode}.bits[${b}]`, BigInt(bits[b]!));
    set.set(`${decode}.magnitude`, magnitude);
    set.set(`${decode}.value`, value);
    set.set(`${decode}.decoded.magnitude`, magnitude);
    set.set(`${decode}.decoded.value`, value);
    set.set(`main.tile[0].xValue[1][${ci}][${iw}]`, value);
    set.set(`main.tile[0].xMagnitude[1][${ci}][${iw}]`, magnitude);
    // im2col: the code is A[ow][k] for k = (ci·3 + 1)·3 + dw, ow = iw + 1 − dw.
    for (let dw = 0; dw < 3; dw++) {
      const [ow, k] = [iw + 1 - dw, (ci * 3 + 1) * 3 + dw];
      set.set(`main.tile[0].check.aValue[${ow}][${k}]`, value);
      set.set(`main.tile[0].check.aMagnitude[${ow}][${k}]`, magnitude);
    }
    set.set(`main.x[0][1][${ci}][${iw}]`, BigInt(code));
    set.set(`${decode}.decoded.nanInverse`, nanInverse);
    return harness.editWired(baseWitness, set);
  }

  it("the base witness is honest, and re-committing a finite code (0x7E, 0x01, 0xFE) is accepted", async () => {
    expect(harness.firstViolated(baseWitness)).toBe(-1);
    for (const code of [0x7e, 0x01, 0xfe]) {
      expect(harness.violations(await withCode(code)), `code ${code}`).toEqual([]);
    }
  });

  it("a committed 0x7F or 0xFF violates exactly one constraint: the NaN inverse", async () => {
    const nanInverse = harness.wire(`main.tile[0].xDecode[1][${ci}][${iw}].decoded.nanInverse`);
    for (const code of [0x7f, 0xff]) {
      const bad = harness.violations(await withCode(code));
      expect(bad, `code ${code}`).toHaveLength(1);
      expect(harness.constraintWires(bad[0]!).has(nanInverse)).toBe(true);
    }
  });
});

/**
 * A job whose outputs are ORT's FP8 conv (miner/ops/conv.ts) of random codes, checked against the contract, and the
 * honest witnesses of the given tiles on `harness`.
 */
async function expectOrtTilesPass(
  harness: CircuitHarness,
  tiling: ConvTiling,
  shape: WorkShape,
  seed: number,
  tiles: readonly (readonly [number, number])[],
): Promise<void> {
  const random = await makeJob(tiling, shape, seed);
  const inputs = { x: random.x, weights: random.weights };
  const y = await runFp8Conv(inputs, random.work);
  expect(checkConvOutputs(y, exactConv(inputs, random.work), random.work).ok).toBe(true);
  const job = await makeJob(tiling, shape, seed, { ...inputs, y });
  expect(job.y).not.toEqual(random.y); // ORT's words, not the exact reference's rounding everywhere
  for (const [r, c] of tiles) {
    const witness = await harness.witness((await proofInput(job, await challengeFor(job.work, r, c))).input);
    expect(harness.firstViolated(witness), `tile (${r}, ${c})`).toBe(-1);
  }
}

describe("outputs of ONNX Runtime (CPU) pass the demo main", () => {
  it("commits ORT's conv of a 2×4×8×8 job into 8 channels and proves challenged tiles' witnesses", async () => {
    const tiles = [
      [0, 0],
      [15, 3],
      [8, 1],
      [5, 2],
    ] as const;
    await expectOrtTilesPass(
      await loadMainCircuit(DEMO.name),
      DEMO.tiling,
      { rowBlocksLog2: 4, colBlocksLog2: 2 },
      4,
      tiles,
    );
  }, 300_000);
});

// The committed ceremony (circuits/manifests/conv_job_demo_c4_k3_h8w8_tn2.json pins it), not a local dev setup.
describeCeremonyProof("conv-job-demo", async () =>
  proofInput(await makeJob(DEMO.tiling, { rowBlocksLog2: 4, colBlocksLog2: 2 }, 5), 31337n),
);

describeProductionMain(
  PRODUCTION.name,
  { nonLinear: 45_393, ptauPower: 16 },
  {
    title: "accepts honest witnesses of ORT's outputs for a 2×8×8×8 job into 16 channels",
    check: (harness) =>
      expectOrtTilesPass(harness, PRODUCTION.tiling, { rowBlocksLog2: 4, colBlocksLog2: 1 }, 6, [
        [8, 1],
        [7, 0],
      ]),
    timeout: 300_000,
  },
  expectJobMain,
);
