// The input-root ("job") mode batch-norm circuit (circuits/batchnorm_job.circom, docs/ops/batchnorm.md "Job mode")
// against its TypeScript reference (common/job-commitment.ts batchNormInputTree / batchNormWeightTree /
// batchNormJobProofInput), outputs of ONNX Runtime and of the exact reference, a real Groth16 proof of the demo main,
// and soundness shown by editing honest witnesses: the constraints themselves must reject every edit.
import { buildPoseidon } from "circomlibjs";
import { beforeAll, describe, expect, it } from "vitest";
import { fp8ToScaled, randomFiniteCodes } from "../common/fp8.js";
import {
  BATCHNORM_JOB_PARAMETERS,
  batchNormInputTree,
  batchNormJobInputs,
  batchNormJobProofInput,
  batchNormWeightTree,
  type BlockTree,
} from "../common/job-commitment.js";
import { float32FromBits } from "../common/numerics.js";
import {
  BATCHNORM_GRID_SHIFT,
  batchNormExact,
  batchNormInverseSqrt,
  batchNormTileWords,
  checkBatchNorm,
  commitBatchNormOutputs,
  defineBatchNormWork,
  referenceBatchNormOutputs,
  type BatchNormExact,
  type BatchNormTiling,
  type BatchNormWork,
} from "../common/ops/batchnorm.js";
import { Prng } from "../common/prng.js";
import { tileIndex, type WorkShape } from "../common/work.js";
import { miningJobKind } from "../miner/deploy.js";
import { JOB_CIRCUITS, jobCircuit, jobCircuitsFor, jobKindParams } from "../miner/job-circuits.js";
import { committedBatchNormWords, Fp8BatchNormRunner } from "../miner/ops/batchnorm.js";
import { CircuitHarness, fieldMod, loadMainCircuit } from "./helpers/circuit.js";
import { boundaryWords, rederiveOutput, type ContractBound, type ContractOutput } from "./helpers/contract-witness.js";
import {
  challengeFor,
  committedJob,
  describeCeremonyProof,
  e4m3DecodeWires,
  expectJobMain,
  JOB_PUBLIC_INPUT_CLASSES,
  jobProofParams,
  loadChallengedTiles,
  loadInputStandalones,
  loadMerklePath,
  loadPackedBytesHash,
  merklePathWitness,
  MINER,
  outputOpeningWires,
  type CommittedJob,
} from "./helpers/job-circuit.js";
import { describeProductionMain, expectEditsRejected, SMALL_AND_LARGE_EDITS } from "./helpers/soundness.js";

type Poseidon = Awaited<ReturnType<typeof buildPoseidon>>;

const DEMO = JOB_CIRCUITS["batchnorm-job-demo"];
const PRODUCTION = JOB_CIRCUITS["batchnorm-job"];
const [MEAN, VAR, GAMMA, BETA] = [0, 1, 2, 3];

// ---------------------------------------------------------------------------------------------------------------
// An independent recomputation of the commitments: circomlibjs directly, packing by multiplication, the trees by a
// sparse recursion over (level, index) with the empty subtrees' hashes.

function leafByHand(poseidon: Poseidon, codes: readonly number[]): bigint {
  const elements: bigint[] = [];
  codes.forEach((code, i) => {
    if (i % 31 === 0) elements.push(0n);
    elements[elements.length - 1] = elements.at(-1)! + BigInt(code) * 256n ** BigInt(i % 31);
  });
  expect(elements.length).toBeLessThanOrEqual(16); // one Poseidon: every leaf of these tests
  return poseidon.F.toObject(poseidon(elements));
}

function sparseTreeByHand(poseidon: Poseidon, depth: number, leaves: ReadonlyMap<number, bigint>) {
  const hash = (a: bigint, b: bigint) => poseidon.F.toObject(poseidon([a, b]));
  const empty = [0n];
  for (let level = 0; level < depth; level++) empty.push(hash(empty[level]!, empty[level]!));
  const indices = [...leaves.keys()];
  const memo = new Map<string, bigint>();
  const node = (level: number, index: number): bigint => {
    const [low, high] = [index * 2 ** level, (index + 1) * 2 ** level];
    if (!indices.some((i) => i >= low && i < high)) return empty[level]!;
    if (level === 0) return leaves.get(index)!;
    const key = `${level}/${index}`;
    if (!memo.has(key)) memo.set(key, hash(node(level - 1, 2 * index), node(level - 1, 2 * index + 1)));
    return memo.get(key)!;
  };
  return {
    root: node(depth, 0),
    path: (index: number) => Array.from({ length: depth }, (_, level) => node(level, (index >> level) ^ 1)),
  };
}

/** x's tile (r, c) written out: x[(r·TM + i)·C + c·TN + j] for i, j. */
function xTileByHand(t: BatchNormTiling, x: Uint8Array, channels: number, r: number, c: number): number[] {
  const codes: number[] = [];
  for (let i = 0; i < t.tileRows; i++) {
    for (let j = 0; j < t.tileChannels; j++) codes.push(x[(r * t.tileRows + i) * channels + c * t.tileChannels + j]!);
  }
  return codes;
}

/** Column block c's parameters written out: weights[p·C + c·TN + j] for p (mean, var, γ, β), then j. */
function paramBlockByHand(t: BatchNormTiling, weights: Uint8Array, channels: number, c: number): number[] {
  const codes: number[] = [];
  for (let p = 0; p < 4; p++) {
    for (let j = 0; j < t.tileChannels; j++) codes.push(weights[p * channels + c * t.tileChannels + j]!);
  }
  return codes;
}

/** 3 rows × 5 channels per tile on a 4 × 4 grid: a tiling with TN odd and TM ≠ TN. */
const ODD: BatchNormTiling = { tileRows: 3, tileChannels: 5, maxRowBlocksLog2: 2, maxColBlocksLog2: 2 };

// ---------------------------------------------------------------------------------------------------------------
// Jobs.

/** weights: 4 × channels codes, rows mean, var, γ, β. */
type BatchNormJob = CommittedJob<BatchNormWork>;

/** A job with random finite codes (unless given), outputs from the exact reference (unless given), and its trees. */
async function makeJob(
  tiling: BatchNormTiling,
  shape: WorkShape,
  seed: number,
  given: { x?: Uint8Array; weights?: Uint8Array; y?: Uint32Array } = {},
): Promise<BatchNormJob> {
  const work = defineBatchNormWork(tiling, shape);
  const prng = new Prng(seed);
  const randomX = randomFiniteCodes(prng, work.rows * work.channels, "e4m3fn");
  const randomWeights = randomFiniteCodes(prng, 4 * work.channels, "e4m3fn");
  const x = given.x ?? randomX;
  const weights = given.weights ?? randomWeights;
  const y = given.y ?? referenceBatchNormOutputs(batchNormJobInputs(x, weights, tiling, shape));
  return committedJob(
    work,
    { x, weights, y },
    {
      outputs: commitBatchNormOutputs,
      inputs: (codes) => batchNormInputTree(codes, tiling, shape),
      weights: (codes) => batchNormWeightTree(codes, tiling, shape),
    },
  );
}

function proofInput(job: BatchNormJob, challenge: bigint) {
  return batchNormJobProofInput(jobProofParams(job, challenge));
}

const scaled = (code: number) => BigInt(fp8ToScaled(code, "e4m3fn"));
const abs = (v: bigint) => (v < 0n ? -v : v);

/** Exact N and T of output (row, channel) of a job. */
function exactAt(job: BatchNormJob, row: number, channel: number): BatchNormExact {
  const p = (k: number) => job.weights[k * job.work.channels + channel]!;
  return batchNormExact(job.x[row * job.work.channels + channel]!, p(MEAN), p(VAR), p(GAMMA), p(BETA));
}

/** Output (i, j) of tile 0 of a batch-norm job main, and its contract bound (Fp8BatchNormContractCheck). */
function batchNormOutput(i: number, j: number): ContractOutput {
  const check = "main.tile[0].check";
  const grid = { gridShift: BATCHNORM_GRID_SHIFT, shiftBits: 7 };
  return { check, wordSignal: `main.y[0][${i}][${j}]`, bitsSignal: `${check}.yBits`, i, j, grid };
}
function batchNormBound(exact: BatchNormExact): ContractBound {
  return { centre: exact.n << 18n, tolerance: exact.t, rangeBits: 76 };
}

// ---------------------------------------------------------------------------------------------------------------

describe("batch-norm job commitments (common/job-commitment.ts) against a recomputation by hand", () => {
  let poseidon: Poseidon;
  beforeAll(async () => {
    poseidon = await buildPoseidon();
  });

  it.each([
    ["demo, full grid", DEMO.tiling, { rowBlocksLog2: 3, colBlocksLog2: 3 }],
    ["demo, 4 × 2 tiles", DEMO.tiling, { rowBlocksLog2: 2, colBlocksLog2: 1 }],
    ["3 × 5 tiles", ODD, { rowBlocksLog2: 1, colBlocksLog2: 2 }],
    ["production (depth-20 input tree)", PRODUCTION.tiling, { rowBlocksLog2: 1, colBlocksLog2: 1 }],
  ] as const)(
    "%s: input leaf c + 2^MAX_DC·r is x's tile (r, c), weight leaf c its parameter block",
    async (_, t, s) => {
      const job = await makeJob(t, s, 21);
      const channels = job.work.channels;
      const inputLeaves = new Map<number, bigint>();
      for (let r = 0; r < 2 ** s.rowBlocksLog2; r++) {
        for (let c = 0; c < 2 ** s.colBlocksLog2; c++) {
          const index = c + 2 ** t.maxColBlocksLog2 * r;
          inputLeaves.set(index, leafByHand(poseidon, xTileByHand(t, job.x, channels, r, c)));
        }
      }
      const depth = t.maxRowBlocksLog2 + t.maxColBlocksLog2;
      const inputs = sparseTreeByHand(poseidon, depth, inputLeaves);
      expect(job.inputs.depth).toBe(depth);
      expect(job.inputs.root).toBe(inputs.root);
      for (const index of [...inputLeaves.keys(), 1, 2 ** depth - 1]) {
        expect(job.inputs.path(index), `input ${index}`).toEqual(inputs.path(index));
      }
      const weightLeaves = new Map<number, bigint>();
      for (let c = 0; c < 2 ** s.colBlocksLog2; c++) {
        weightLeaves.set(c, leafByHand(poseidon, paramBlockByHand(t, job.weights, channels, c)));
      }
      const weights = sparseTreeByHand(poseidon, t.maxColBlocksLog2, weightLeaves);
      expect(job.weightsTree.depth).toBe(t.maxColBlocksLog2);
      expect(job.weightsTree.root).toBe(weights.root);
      for (let c = 0; c < Math.min(2 ** t.maxColBlocksLog2, 16); c++)
        expect(job.weightsTree.path(c)).toEqual(weights.path(c));
    },
  );

  it("the proof input's tiles, parameter blocks, words and paths are the reference's", async () => {
    const t = DEMO.tiling;
    const job = await makeJob(t, { rowBlocksLog2: 3, colBlocksLog2: 2 }, 22);
    for (const [r, c] of [
      [7, 3],
      [0, 0],
      [5, 1],
    ] as const) {
      const challenge = await challengeFor(job.work, r, c);
      const { input, publicSignals, tiles } = await proofInput(job, challenge);
      expect(tiles).toEqual([{ rowBlock: r, colBlock: c }]);
      expect(publicSignals).toEqual([
        job.outputTree.root,
        job.inputs.root,
        job.weightsTree.root,
        challenge,
        MINER,
        BigInt(3 + 256 * 2),
      ]);
      expect((input.x as string[][][])[0]!.flat()).toEqual(xTileByHand(t, job.x, 16, r, c).map(String));
      expect((input.params as string[][][])[0]!.flat()).toEqual(paramBlockByHand(t, job.weights, 16, c).map(String));
      const words = (input.y as string[][][])[0]!.flat().map(Number);
      for (let i = 0; i < 2; i++) {
        for (let j = 0; j < 4; j++) expect(words[i * 4 + j]).toBe(job.y[(r * 2 + i) * 16 + c * 4 + j]);
      }
      const index = c + 8 * r;
      expect(input.siblings).toEqual([job.outputTree.siblings(index).map(String)]);
      expect(input.inputSiblings).toEqual([job.inputs.path(index).map(String)]);
      expect(input.weightSiblings).toEqual([job.weightsTree.path(c).map(String)]);
    }
  });

  it("batchNormJobInputs reads the weight rows as mean, var, γ, β; checkBatchNorm counts violations and the worst error", async () => {
    const t = DEMO.tiling;
    const shape = { rowBlocksLog2: 1, colBlocksLog2: 1 };
    const job = await makeJob(t, shape, 23);
    const inputs = batchNormJobInputs(job.x, job.weights, t, shape);
    expect(BATCHNORM_JOB_PARAMETERS).toEqual(["mean", "variance", "gamma", "beta"]);
    expect([inputs.rows, inputs.channels]).toEqual([4, 8]);
    expect(Array.from(inputs.mean)).toEqual(Array.from(job.weights.subarray(0, 8)));
    expect(Array.from(inputs.variance)).toEqual(Array.from(job.weights.subarray(8, 16)));
    expect(Array.from(inputs.gamma)).toEqual(Array.from(job.weights.subarray(16, 24)));
    expect(Array.from(inputs.beta)).toEqual(Array.from(job.weights.subarray(24, 32)));
    const honest = checkBatchNorm(inputs, job.y);
    expect(honest.ok).toBe(true);
    expect(honest.worstFractionOfBound).toBeLessThan(2 ** -5);
    const y = Uint32Array.from(job.y);
    const e = exactAt(job, 3, 6);
    y[3 * 8 + 6] = boundaryWords("upper", batchNormBound(e), batchNormOutput(0, 0).grid).outside;
    y[0] = 0x7fc00000;
    const bad = checkBatchNorm(inputs, y);
    expect(bad.failures).toEqual([
      { index: 0, reason: "nan-or-inf" },
      { index: 30, reason: "out-of-tolerance" },
    ]);
    expect(bad.worstFractionOfBound).toBeGreaterThan(1);
  });

  it("refuses wrong sizes, shapes beyond the tiling, trees of other depths and data that are not the trees' leaves", async () => {
    const t = DEMO.tiling;
    const shape = { rowBlocksLog2: 2, colBlocksLog2: 1 };
    await expect(batchNormInputTree(new Uint8Array(8 * 8 - 1), t, shape)).rejects.toThrow(
      /x must be 8×8 = 64 E4M3FN codes for shape \(dr 2, dc 1\) of tiles 2×4, got 63/,
    );
    await expect(batchNormWeightTree(new Uint8Array(33), t, shape)).rejects.toThrow(
      /weights must be 4×8 = 32 E4M3FN codes .*got 33/,
    );
    expect(() => batchNormJobInputs(new Uint8Array(64), new Uint8Array(31), t, shape)).toThrow(/weights must be 4×8/);
    await expect(batchNormInputTree(new Uint8Array(32 * 8), t, { rowBlocksLog2: 4, colBlocksLog2: 0 })).rejects.toThrow(
      /rowBlocksLog2 must be an integer in \[0, 3\]/,
    );
    const job = await makeJob(t, shape, 24);
    const challenge = await challengeFor(job.work, 2, 1);
    const x = Uint8Array.from(job.x);
    x[(2 * 2 + 1) * 8 + 6] = x[(2 * 2 + 1) * 8 + 6]! ^ 1; // row 5, channel 6: tile (2, 1)
    await expect(proofInput({ ...job, x }, challenge)).rejects.toThrow(/input block 17 is not leaf 17/);
    const weights = Uint8Array.from(job.weights);
    weights[GAMMA * 8 + 5] = weights[GAMMA * 8 + 5]! ^ 1; // γ of channel 5: column block 1
    await expect(proofInput({ ...job, weights }, challenge)).rejects.toThrow(/weight block 1 is not leaf 1/);
    const rowsOnly = await batchNormWeightTree(job.x.subarray(0, 32), { ...t, maxColBlocksLog2: 3 }, shape);
    await expect(proofInput({ ...job, inputs: rowsOnly }, challenge)).rejects.toThrow(
      /the input tree has depth 3; the tiling needs 6/,
    );
  });
});

describe("job circuits (miner/job-circuits.ts): batch-norm kinds", () => {
  it("jobKindParams: TM, TN, depth 1 and the grid; macsPerTile = TM·TN (one unit per output, as seed mode)", () => {
    expect(jobKindParams(DEMO)).toEqual({
      tileRows: 2,
      tileCols: 4,
      depth: 1,
      maxRowBlocksLog2: 3,
      maxColBlocksLog2: 3,
    });
    expect(jobKindParams(PRODUCTION)).toEqual({
      tileRows: 12,
      tileCols: 8,
      depth: 1,
      maxRowBlocksLog2: 10,
      maxColBlocksLog2: 10,
    });
    expect([DEMO.macsPerTile, PRODUCTION.macsPerTile]).toEqual([8, 96]);
    expect([DEMO.tilesPerProof, DEMO.proofsPerJob, PRODUCTION.tilesPerProof, PRODUCTION.proofsPerJob]).toEqual([
      1, 4, 1, 4,
    ]);
    expect(jobCircuit("batchnorm-job-demo")).toBe(DEMO);
    for (const circuit of [DEMO, PRODUCTION]) {
      expect(jobCircuitsFor([{ tiling: jobKindParams(circuit), proofsPerJob: 4 }])).toEqual([circuit]);
      expect(miningJobKind(circuit, "0x01")).toMatchObject({ circuit: circuit.name, ...jobKindParams(circuit) });
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe(`demo main circuits/main/${DEMO.name}.circom`, () => {
  const tiling = DEMO.tiling;
  const full: WorkShape = { rowBlocksLog2: 3, colBlocksLog2: 3 };
  const [ROW, COL] = [5, 2];
  let harness: CircuitHarness;
  let job: BatchNormJob;
  let challenge: bigint;
  let honest: bigint[];

  beforeAll(async () => {
    harness = await loadMainCircuit(DEMO.name);
    job = await makeJob(tiling, full, 1);
    challenge = await challengeFor(job.work, ROW, COL);
    honest = await harness.witness((await proofInput(job, challenge)).input);
  }, 900_000);

  it("is 2 × 4 tiles up to 16 rows × 32 channels, fits the power-13 dev ptau, constraints locked, --inspect clean", async () => {
    expect(defineBatchNormWork(tiling, full)).toMatchObject({ rows: 16, channels: 32 });
    await expectJobMain(harness, { nonLinear: 7_663, ptauPower: 13 });
  });

  it("accepts honest witnesses: grid corners, an inner tile, and smaller shapes", async () => {
    const small = await makeJob(tiling, { rowBlocksLog2: 2, colBlocksLog2: 1 }, 2);
    const single = await makeJob(tiling, { rowBlocksLog2: 0, colBlocksLog2: 0 }, 3);
    const cases: [BatchNormJob, number, number][] = [
      [job, 0, 0],
      [job, 7, 7],
      [job, 7, 0],
      [job, 0, 7],
      [job, ROW, COL],
      [small, 3, 1],
      [small, 0, 1],
      [single, 0, 0],
    ];
    for (const [which, r, c] of cases) {
      const found = await challengeFor(which.work, r, c);
      const { input } = await proofInput(which, found);
      expect(harness.firstViolated(await harness.witness(input)), `tile (${r}, ${c})`).toBe(-1);
    }
  }, 300_000);

  it("reads the challenged tile and parameter block: codes, decoded x and parameters in their meaning's slots", () => {
    const value = (s: string) => harness.value(honest, s);
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 4; j++) {
        const code = job.x[(ROW * 2 + i) * 32 + COL * 4 + j]!;
        expect(value(`main.x[0][${i}][${j}]`)).toBe(BigInt(code));
        expect(value(`main.tile[0].check.xValue[${i}][${j}]`)).toBe(fieldMod(scaled(code)));
      }
    }
    for (let j = 0; j < 4; j++) {
      const p = (k: number) => job.weights[k * 32 + COL * 4 + j]!;
      for (let k = 0; k < 4; k++) expect(value(`main.params[0][${k}][${j}]`)).toBe(BigInt(p(k)));
      const check = "main.tile[0].check";
      expect(value(`${check}.meanValue[${j}]`)).toBe(fieldMod(scaled(p(MEAN))));
      expect(value(`${check}.varMagnitude[${j}]`)).toBe(abs(scaled(p(VAR))));
      expect(value(`${check}.gammaValue[${j}]`)).toBe(fieldMod(scaled(p(GAMMA))));
      expect(value(`${check}.betaValue[${j}]`)).toBe(fieldMod(scaled(p(BETA))));
      expect(value(`${check}.inverseSqrt[${j}].r`)).toBe(batchNormInverseSqrt(p(VAR)));
    }
  });

  it("rejects single edits of every signal class", () => {
    const tile = "main.tile[0]";
    expectEditsRejected(
      harness,
      honest,
      {
        ...JOB_PUBLIC_INPUT_CLASSES,
        "x code": ["main.x[0][0][0]", "main.x[0][1][3]", "main.x[0][0][2]"],
        "parameter code (mean, var, γ, β)": [0, 1, 2, 3].map((p) => `main.params[0][${p}][${p}]`),
        "output word": ["main.y[0][0][0]", "main.y[0][1][3]"],
        "output sibling": ["main.siblings[0][0]", "main.siblings[0][5]"],
        "input sibling": ["main.inputSiblings[0][0]", "main.inputSiblings[0][3]", "main.inputSiblings[0][5]"],
        "weight sibling": ["main.weightSiblings[0][0]", "main.weightSiblings[0][2]"],
        "leaf hashes": [`${tile}.xCodes.leaf.out`, `${tile}.paramCodes.leaf.out`],
        "input / weight index bits": harness.signals(/^main\.tile\[0\]\.(xCodes|paramCodes)\.indexBits\.out\[\d\]$/),
        "output index bits": harness.signals(/^main\.tiles\.path\[0\]\.indexBits\[\d\]$/),
        "decoded codes": [
          `${tile}.check.xValue[0][1]`,
          `${tile}.check.xMagnitude[1][2]`,
          `${tile}.check.meanValue[0]`,
          `${tile}.check.varMagnitude[2]`,
          `${tile}.check.gammaValue[1]`,
          `${tile}.check.betaMagnitude[3]`,
          `${tile}.paramCodes.decode[9].decoded.raw.pow2e`,
        ],
        "inverse square root": [`${tile}.check.inverseSqrt[0].r`, `${tile}.check.gammaR[3]`],
      },
      { deltas: SMALL_AND_LARGE_EDITS },
    );
  });

  it("rejects the swapped tile (colBlock, rowBlock) when (rowBlock, colBlock) is challenged", async () => {
    const swapped = await harness.witness((await proofInput(job, await challengeFor(job.work, COL, ROW))).input);
    expect(harness.firstViolated(swapped)).toBe(-1);
    // Everything of the swapped tile, but the public challenge and its bits are those of the real challenge.
    const set = new Map(
      harness.signals(/^main\.(challenge$|tiles\.challengeBits\.)/).map((s) => [s, harness.value(honest, s)]),
    );
    expect(harness.violations(harness.editWired(swapped, set)).length).toBeGreaterThan(0);
  });

  it("a var code with its sign flipped (same |var|, same outputs) is rejected by the weight commitment alone", async () => {
    // Channel 1 of the tile: re-derive the decoding of the flipped code; the outputs do not change (|var| is used).
    const [j, global] = [1, COL * 4 + 1];
    const code = job.weights[VAR * 32 + global]!;
    const flipped = code ^ 0x80;
    const { raw, path } = await loadInputStandalones(3);
    const decode = await e4m3DecodeWires(harness, raw, `main.tile[0].paramCodes.decode[${4 + j}]`, flipped, {
      value: [`main.tile[0].paramCodes.value[${4 + j}]`],
      magnitude: [`main.tile[0].paramCodes.magnitude[${4 + j}]`, `main.tile[0].check.varMagnitude[${j}]`],
    });
    decode.set(`main.params[0][1][${j}]`, BigInt(flipped));
    const decoded = harness.editWired(honest, decode);
    const leafBad = harness.violations(decoded);
    expect(leafBad.length, "the old leaf hash no longer matches the bytes").toBeGreaterThan(0);
    // The leaf of the flipped bytes, opened with the honest siblings: only the weight root comparison fails.
    const weights = Uint8Array.from(job.weights);
    weights[VAR * 32 + global] = flipped;
    const leafHarness = await loadPackedBytesHash(16);
    const bytes = paramBlockByHand(tiling, weights, 32, COL);
    const leafWitness = await leafHarness.witness({ bytes: bytes.map(String) });
    const leaf = leafHarness.value(leafWitness, "main.out");
    const pathWitness = await merklePathWitness(path, leaf, job.weightsTree.path(COL), COL);
    const set = new Map([
      ...decode,
      ...harness.transplant("main.tile[0].paramCodes.leaf", leafHarness, leafWitness),
      ...harness.transplant("main.tile[0].paramCodes.path", path, pathWitness),
    ]);
    const bad = harness.violations(harness.editWired(honest, set));
    expect(bad).toHaveLength(1);
    expect(harness.constraintWires(bad[0]!).has(harness.wire("main.weightRoot"))).toBe(true);
    // Under the weight root of the flipped parameters (another job; leaf COL's siblings are unchanged) it all holds.
    const reposted = await batchNormWeightTree(weights, tiling, full);
    expect(reposted.path(COL)).toEqual(job.weightsTree.path(COL));
    expect(path.value(pathWitness, "main.root")).toBe(reposted.root);
    set.set("main.weightRoot", reposted.root);
    expect(harness.violations(harness.editWired(honest, set))).toEqual([]);
  }, 300_000);

  it("accepts an output exactly at the contract bound and rejects the next float32 beyond it (re-committed)", async () => {
    const tiles = await loadChallengedTiles(8, 3, 3);
    for (const [i, j, side] of [
      [0, 0, "upper"],
      [1, 3, "lower"],
      [1, 1, "upper"],
    ] as const) {
      const [row, channel] = [ROW * 2 + i, COL * 4 + j];
      const bound = batchNormBound(exactAt(job, row, channel));
      expect(bound.tolerance).toBeGreaterThan(0n);
      const outcome: Record<string, number> = {};
      for (const [which, word] of Object.entries(boundaryWords(side, bound, batchNormOutput(i, j).grid))) {
        const y = Uint32Array.from(job.y);
        y[row * 32 + channel] = word;
        const tree = await commitBatchNormOutputs(y, job.work);
        const set = await outputOpeningWires(harness, tiles, {
          root: tree.root,
          siblings: tree.siblings(tileIndex(tiling, ROW, COL)),
          challenge,
          shape: 3 + 256 * 3,
          words: Array.from(batchNormTileWords(y, job.work, ROW, COL)),
        });
        const edited = harness.editWired(rederiveOutput(harness, honest, batchNormOutput(i, j), word, bound), set);
        outcome[which] = harness.violations(edited).length;
      }
      const at = float32FromBits(job.y[row * 32 + channel]!);
      expect(outcome.inside, `(${i}, ${j}) ${side}: ${at} at the bound`).toBe(0);
      expect(outcome.outside, `(${i}, ${j}) ${side}: beyond the bound`).toBeGreaterThan(0);
    }
  }, 300_000);
});

describe("a NaN code committed in the input or weight tree is rejected by the NaN check alone (demo main)", () => {
  const tiling = DEMO.tiling;
  const shape: WorkShape = { rowBlocksLog2: 3, colBlocksLog2: 2 };
  const [ROW, COL] = [6, 3];
  // Channel 1 of the tile has γ = 0 (its outputs are β whatever x is): x of row 1 there is the x code under test.
  // Channel 2 has x = 0 in the tile's rows and mean = 0 (its outputs are β whatever γ is): its γ is the γ code.
  const X_AT = { i: 1, j: 1 };
  const GAMMA_AT = 2;
  const channels = 16;
  let harness: CircuitHarness;
  let base: BatchNormJob;
  let baseWitness: bigint[];
  let challenge: bigint;
  let raw: CircuitHarness;

  beforeAll(async () => {
    harness = await loadMainCircuit(DEMO.name);
    const job = await makeJob(tiling, shape, 3);
    const x = Uint8Array.from(job.x);
    const weights = Uint8Array.from(job.weights);
    weights[GAMMA * channels + COL * 4 + X_AT.j] = 0;
    for (let i = 0; i < 2; i++) x[(ROW * 2 + i) * channels + COL * 4 + GAMMA_AT] = 0;
    weights[MEAN * channels + COL * 4 + GAMMA_AT] = 0;
    weights[GAMMA * channels + COL * 4 + GAMMA_AT] = 0;
    base = await makeJob(tiling, shape, 3, { x, weights });
    challenge = await challengeFor(base.work, ROW, COL);
    baseWitness = await harness.witness((await proofInput(base, challenge)).input);
    ({ raw } = await loadInputStandalones(3));
  }, 900_000);

  /** The wires of one committed block (its leaf, path, siblings and root) for new codes, from standalones. */
  async function blockWires(which: "xCodes" | "paramCodes", codes: number[], tree: BlockTree, index: number) {
    const leafHarness = await loadPackedBytesHash(codes.length);
    const pathHarness = await loadMerklePath(tree.depth);
    const leafWitness = await leafHarness.witness({ bytes: codes.map(String) });
    const pathWitness = await merklePathWitness(
      pathHarness,
      leafHarness.value(leafWitness, "main.out"),
      tree.path(index),
      index,
    );
    expect(pathHarness.value(pathWitness, "main.root")).toBe(tree.root);
    const set = new Map([
      ...harness.transplant(`main.tile[0].${which}.leaf`, leafHarness, leafWitness),
      ...harness.transplant(`main.tile[0].${which}.path`, pathHarness, pathWitness),
    ]);
    const [siblings, root] = which === "xCodes" ? ["inputSiblings", "inputRoot"] : ["weightSiblings", "weightRoot"];
    tree.path(index).forEach((s, d) => set.set(`main.${siblings}[0][${d}]`, s));
    set.set(`main.${root}`, tree.root);
    return set;
  }

  /** The base witness with x[row 1][channel 1] of the tile = code, committed: new input root, leaf, path, decoding. */
  async function withXCode(code: number): Promise<bigint[]> {
    const x = Uint8Array.from(base.x);
    x[(ROW * 2 + X_AT.i) * channels + COL * 4 + X_AT.j] = code;
    const tree = await batchNormInputTree(x, tiling, shape);
    const set = await blockWires("xCodes", xTileByHand(tiling, x, channels, ROW, COL), tree, COL + 8 * ROW);
    const k = X_AT.i * 4 + X_AT.j;
    const [xi, xj] = [X_AT.i, X_AT.j];
    const decode = await e4m3DecodeWires(harness, raw, `main.tile[0].xCodes.decode[${k}]`, code, {
      value: [`main.tile[0].xCodes.value[${k}]`, `main.tile[0].check.xValue[${xi}][${xj}]`],
      magnitude: [`main.tile[0].xCodes.magnitude[${k}]`, `main.tile[0].check.xMagnitude[${xi}][${xj}]`],
    });
    decode.set(`main.x[0][${xi}][${xj}]`, BigInt(code));
    return harness.editWired(baseWitness, new Map([...set, ...decode]));
  }

  /** The base witness with γ of the tile's channel 2 = code, committed: new weight root, leaf, path, decoding, G·R. */
  async function withGammaCode(code: number): Promise<bigint[]> {
    const weights = Uint8Array.from(base.weights);
    weights[GAMMA * channels + COL * 4 + GAMMA_AT] = code;
    const tree = await batchNormWeightTree(weights, tiling, shape);
    const set = await blockWires("paramCodes", paramBlockByHand(tiling, weights, channels, COL), tree, COL);
    const k = GAMMA * 4 + GAMMA_AT;
    const check = "main.tile[0].check";
    const decode = await e4m3DecodeWires(harness, raw, `main.tile[0].paramCodes.decode[${k}]`, code, {
      value: [`main.tile[0].paramCodes.value[${k}]`, `${check}.gammaValue[${GAMMA_AT}]`],
      magnitude: [`main.tile[0].paramCodes.magnitude[${k}]`, `${check}.gammaMagnitude[${GAMMA_AT}]`],
    });
    decode.set(`main.params[0][${GAMMA}][${GAMMA_AT}]`, BigInt(code));
    const r = harness.value(baseWitness, `${check}.inverseSqrt[${GAMMA_AT}].r`);
    const magnitude = decode.get(`${check}.gammaMagnitude[${GAMMA_AT}]`)!;
    decode.set(`${check}.gammaR[${GAMMA_AT}]`, decode.get(`${check}.gammaValue[${GAMMA_AT}]`)! * r);
    decode.set(`${check}.gammaMagnitudeR[${GAMMA_AT}]`, magnitude * r);
    return harness.editWired(baseWitness, new Map([...set, ...decode]));
  }

  it("the base witness is honest, and re-committing a finite code (0x7E, 0x01, 0xFE) is accepted", async () => {
    expect(harness.firstViolated(baseWitness)).toBe(-1);
    for (const code of [0x7e, 0x01, 0xfe]) {
      expect(harness.violations(await withXCode(code)), `x code ${code}`).toEqual([]);
      expect(harness.violations(await withGammaCode(code)), `γ code ${code}`).toEqual([]);
    }
  }, 300_000);

  it("a committed 0x7F or 0xFF violates exactly one constraint: the NaN inverse", async () => {
    const x = harness.wire(`main.tile[0].xCodes.decode[${X_AT.i * 4 + X_AT.j}].decoded.nanInverse`);
    const gamma = harness.wire(`main.tile[0].paramCodes.decode[${GAMMA * 4 + GAMMA_AT}].decoded.nanInverse`);
    for (const code of [0x7f, 0xff]) {
      for (const [name, witness, wire] of [
        ["x", await withXCode(code), x],
        ["γ", await withGammaCode(code), gamma],
      ] as const) {
        const bad = harness.violations(witness);
        expect(bad, `${name} code ${code}`).toHaveLength(1);
        expect(harness.constraintWires(bad[0]!).has(wire)).toBe(true);
      }
    }
  }, 300_000);
});

/**
 * A job whose outputs are ORT's FP8 batch norm (miner/ops/batchnorm.ts) of random codes (with extreme parameters in
 * the first channels), checked against the contract, and the honest witnesses of the given tiles on `harness`.
 */
async function expectOrtTilesPass(
  harness: CircuitHarness,
  tiling: BatchNormTiling,
  shape: WorkShape,
  seed: number,
  tiles: readonly (readonly [number, number])[],
): Promise<void> {
  const random = await makeJob(tiling, shape, seed);
  const weights = Uint8Array.from(random.weights);
  const channels = random.work.channels;
  // var 0 and ±448, γ ±448 and −0, mean ±448.
  weights.set([0x00, 0xfe, 0x7e, 0x80], VAR * channels);
  weights.set([0x7e, 0xfe, 0x80, 0x7e], GAMMA * channels);
  weights.set([0xfe, 0x7e, 0x00, 0x01], MEAN * channels);
  const inputs = batchNormJobInputs(random.x, weights, tiling, shape);
  const runner = await Fp8BatchNormRunner.create(channels);
  let y: Uint32Array;
  try {
    y = committedBatchNormWords(await runner.run(inputs));
  } finally {
    await runner.release();
  }
  const check = checkBatchNorm(inputs, y);
  expect(check.failures).toEqual([]);
  const job = await makeJob(tiling, shape, seed, { x: random.x, weights, y });
  expect(job.y).not.toEqual(referenceBatchNormOutputs(inputs)); // ORT's words, not the reference's everywhere
  for (const [r, c] of tiles) {
    const witness = await harness.witness((await proofInput(job, await challengeFor(job.work, r, c))).input);
    expect(harness.firstViolated(witness), `tile (${r}, ${c})`).toBe(-1);
  }
}

describe("outputs of ONNX Runtime (CPU) pass the demo main", () => {
  it("commits ORT's batch norm of a 16 × 32 job and proves challenged tiles' witnesses", async () => {
    await expectOrtTilesPass(await loadMainCircuit(DEMO.name), DEMO.tiling, { rowBlocksLog2: 3, colBlocksLog2: 3 }, 4, [
      [0, 0],
      [7, 7],
      [3, 5],
      [6, 0],
    ]);
  }, 300_000);
});

// The committed ceremony (circuits/manifests/batchnorm_job_demo_1x2x4.json pins it), not a local dev setup.
describeCeremonyProof(
  "batchnorm-job-demo",
  async () => proofInput(await makeJob(DEMO.tiling, { rowBlocksLog2: 3, colBlocksLog2: 3 }, 5), 31337n),
  13,
);

describeProductionMain(
  PRODUCTION.name,
  { nonLinear: 36_857, ptauPower: 16 },
  {
    title: "accepts honest witnesses of ORT's outputs for a 48 × 32 job",
    check: (harness) =>
      expectOrtTilesPass(harness, PRODUCTION.tiling, { rowBlocksLog2: 2, colBlocksLog2: 2 }, 6, [
        [3, 2],
        [0, 3],
      ]),
    timeout: 300_000,
  },
  expectJobMain,
);
