// The input-root ("job") mode linear-layer circuit (circuits/gemm_job.circom, docs/jobs.md) against its TypeScript
// reference (common/job-commitment.ts), a real Groth16 proof of the demo main, and soundness shown by editing honest
// witnesses: the constraints themselves must reject every edit.
import { buildPoseidon } from "circomlibjs";
import { beforeAll, describe, expect, it } from "vitest";
import { instantiateCircuit } from "../circuits/compile.js";
import { randomFiniteCodes } from "../common/fp8.js";
import { BlockTree, gemmJobProofInput, inputTree, packedBytesHash, weightTree } from "../common/job-commitment.js";
import { exactTile, float32FromBits } from "../common/numerics.js";
import { Prng } from "../common/prng.js";
import {
  challengedTile,
  commitOutputs,
  defineWork,
  tileIndex,
  type GemmTiling,
  type GemmWork,
  type OutputTree,
  type WorkShape,
} from "../common/work.js";
import { Fp8GemmRunner } from "../miner/gemm.js";
import { JOB_CIRCUITS, jobCircuit } from "../miner/job-circuits.js";
import { CircuitHarness, loadMainCircuit } from "./helpers/circuit.js";
import { boundaryWords, GEMM_OUTPUT_GRID, gemmBound, gemmOutput, rederiveOutput } from "./helpers/contract-witness.js";
import {
  decodeCode,
  describeCeremonyProof,
  expectJobMain,
  JOB_PUBLIC_INPUT_CLASSES,
  loadChallengedTiles,
  loadInputStandalones,
  merklePathWitness,
  MINER,
  outputOpeningWires,
  type InputStandalones,
} from "./helpers/job-circuit.js";
import { honestOutputs } from "./helpers/reference.js";
import { describeProductionMain, expectEditsRejected, SMALL_AND_LARGE_EDITS } from "./helpers/soundness.js";

type Poseidon = Awaited<ReturnType<typeof buildPoseidon>>;

// ---------------------------------------------------------------------------------------------------------------
// An independent, straightforward recomputation of the commitments: circomlibjs directly, packing through a hex
// string, dense trees.

function packDirect(bytes: Uint8Array): bigint {
  const hex = Array.from(bytes)
    .reverse()
    .map((byte) => byte.toString(16).padStart(2, "0"))
    .join("");
  return BigInt(`0x${hex}`);
}

function leafDirect(poseidon: Poseidon, bytes: Uint8Array): bigint {
  const hash = (inputs: bigint[]) => poseidon.F.toObject(poseidon(inputs));
  const elements: bigint[] = [];
  for (let i = 0; 31 * i < bytes.length; i++) elements.push(packDirect(bytes.slice(31 * i, 31 * i + 31)));
  if (elements.length <= 16) return hash(elements);
  const runHashes: bigint[] = [];
  for (let r = 0; 16 * r < elements.length; r++) runHashes.push(hash(elements.slice(16 * r, 16 * r + 16)));
  return hash(runHashes);
}

/** Every level of the dense tree, leaves first. */
function treeDirect(poseidon: Poseidon, depth: number, leaves: readonly bigint[]): bigint[][] {
  let level = Array.from({ length: 2 ** depth }, (_, i) => leaves[i] ?? 0n);
  const levels = [level];
  while (level.length > 1) {
    level = Array.from({ length: level.length / 2 }, (_, i) =>
      poseidon.F.toObject(poseidon([level[2 * i]!, level[2 * i + 1]!])),
    );
    levels.push(level);
  }
  return levels;
}

function pathDirect(levels: bigint[][], index: number): bigint[] {
  return levels.slice(0, -1).map((level, d) => level[(index >> d) ^ 1]!);
}

function randomBytes(prng: Prng, length: number): Uint8Array {
  return Uint8Array.from({ length }, () => prng.nextInt(256));
}

describe("job commitments (common/job-commitment.ts) against a direct recomputation", () => {
  let poseidon: Poseidon;
  beforeAll(async () => {
    poseidon = await buildPoseidon();
  });

  it("packedBytesHash: one element, one Poseidon(n ≤ 16), and runs of 16 elements up to 16 runs", async () => {
    const prng = new Prng(11);
    for (const length of [1, 30, 31, 32, 62, 496, 497, 527, 1000, 31 * 256]) {
      const bytes = randomBytes(prng, length);
      expect(await packedBytesHash(bytes), `${length} bytes`).toBe(leafDirect(poseidon, bytes));
    }
    const ones = new Uint8Array(31).fill(0xff);
    expect(await packedBytesHash(ones)).toBe(poseidon.F.toObject(poseidon([(1n << 248n) - 1n])));
    expect(await packedBytesHash(Uint8Array.of(1, 2))).toBe(poseidon.F.toObject(poseidon([0x0201n])));
    await expect(packedBytesHash(new Uint8Array(0))).rejects.toThrow(/at least one byte/);
    await expect(packedBytesHash(new Uint8Array(31 * 256 + 1))).rejects.toThrow(/17 runs/);
  });

  const tiling: GemmTiling = { tileRows: 2, tileCols: 3, depth: 5, maxRowBlocksLog2: 3, maxColBlocksLog2: 2 };
  const shape: WorkShape = { rowBlocksLog2: 2, colBlocksLog2: 1 };

  it("inputTree: leaf r is row block r (TM·K bytes), zero leaves beyond 2^dr, every path", async () => {
    const x = randomBytes(new Prng(12), 8 * 5);
    const tree = await inputTree(x, tiling, shape);
    const leaves = [0, 1, 2, 3].map((r) => leafDirect(poseidon, x.slice(r * 10, r * 10 + 10)));
    const levels = treeDirect(poseidon, 3, leaves);
    expect(tree.depth).toBe(3);
    expect(tree.root).toBe(levels[3]![0]);
    for (let index = 0; index < 8; index++) expect(tree.path(index)).toEqual(pathDirect(levels, index));
  });

  it("weightTree: leaf c is the K×TN sub-matrix of column block c, k-major", async () => {
    const w = randomBytes(new Prng(13), 5 * 6);
    const tree = await weightTree(w, tiling, shape);
    const block = (c: number) => {
      const bytes: number[] = [];
      for (let k = 0; k < 5; k++) for (let j = 0; j < 3; j++) bytes.push(w[k * 6 + c * 3 + j]!);
      return Uint8Array.from(bytes);
    };
    const levels = treeDirect(poseidon, 2, [leafDirect(poseidon, block(0)), leafDirect(poseidon, block(1))]);
    expect(tree.depth).toBe(2);
    expect(tree.root).toBe(levels[2]![0]);
    for (let index = 0; index < 4; index++) expect(tree.path(index)).toEqual(pathDirect(levels, index));
  });

  it("BlockTree of 2^10 leaves", async () => {
    const leaves = Array.from({ length: 1024 }, (_, i) => BigInt(i) * 7919n + 3n);
    const tree = await BlockTree.build(10, leaves);
    const levels = treeDirect(poseidon, 10, leaves);
    expect(tree.root).toBe(levels[10]![0]);
    expect(tree.path(1023)).toEqual(pathDirect(levels, 1023));
    expect(tree.path(0)).toEqual(pathDirect(levels, 0));
  });

  it("refuses matrices of the wrong size and shapes beyond the tiling", async () => {
    await expect(inputTree(new Uint8Array(39), tiling, shape)).rejects.toThrow(/x must be 8×5 = 40 .*got 39/);
    await expect(weightTree(new Uint8Array(31), tiling, shape)).rejects.toThrow(/w must be 5×6 = 30 .*got 31/);
    await expect(inputTree(new Uint8Array(80), tiling, { rowBlocksLog2: 4, colBlocksLog2: 0 })).rejects.toThrow(
      /rowBlocksLog2 must be an integer in \[0, 3\]/,
    );
    await expect(weightTree(new Uint8Array(60), tiling, { rowBlocksLog2: 0, colBlocksLog2: 3 })).rejects.toThrow(
      /colBlocksLog2 must be an integer in \[0, 2\]/,
    );
    expect(() => jobCircuit("gemm-jobs")).toThrow(
      /unknown job circuit "gemm-jobs"; expected one of: gemm-job-demo, gemm-job/,
    );
  });
});

describe("PackedBytesHash (circuit) equals the reference", () => {
  it.each([32, 64, 527])(
    "%i bytes",
    async (nbytes) => {
      const harness = await CircuitHarness.load(
        await instantiateCircuit(`test_packed_bytes_hash_${nbytes}`, "lib/input_commitment.circom", "PackedBytesHash", [
          nbytes,
        ]),
      );
      const bytes = randomBytes(new Prng(nbytes), nbytes);
      bytes[nbytes - 1] = 0xff;
      const witness = await harness.witness({ bytes: Array.from(bytes, String) });
      expect(harness.firstViolated(witness)).toBe(-1);
      expect(harness.value(witness, "main.out")).toBe(await packedBytesHash(bytes));
    },
    300_000,
  );
});

// ---------------------------------------------------------------------------------------------------------------
// The demo main against the reference.

const DEMO = JOB_CIRCUITS["gemm-job-demo"];

interface Job {
  readonly work: GemmWork;
  readonly x: Uint8Array;
  readonly w: Uint8Array;
  readonly c: Uint32Array;
  readonly outputTree: OutputTree;
  readonly inputs: Awaited<ReturnType<typeof inputTree>>;
  readonly weights: Awaited<ReturnType<typeof weightTree>>;
}

/** A job with random finite X and W, outputs from the exact reference rounded once to float32, and its trees. */
async function makeJob(
  tiling: GemmTiling,
  shape: WorkShape,
  seed: number,
  c?: Uint32Array,
  x?: Uint8Array,
): Promise<Job> {
  const work = defineWork(tiling, shape);
  const prng = new Prng(seed);
  const xCodes = randomFiniteCodes(prng, work.m * work.k, "e4m3fn");
  const w = randomFiniteCodes(prng, work.k * work.n, "e4m3fn");
  const outputs = c ?? honestOutputs(xCodes, w, work.m, work.n, work.k);
  const committedX = x ?? xCodes;
  return {
    work,
    x: committedX,
    w,
    c: outputs,
    outputTree: await commitOutputs(outputs, work),
    inputs: await inputTree(committedX, tiling, shape),
    weights: await weightTree(w, tiling, shape),
  };
}

function proofInput(job: Job, challenge: bigint) {
  return gemmJobProofInput({
    tiling: job.work.tiling,
    shape: job.work.shape,
    tilesPerProof: 1,
    x: job.x,
    w: job.w,
    c: job.c,
    outputTree: job.outputTree,
    inputs: job.inputs,
    weights: job.weights,
    challenge,
    miner: `0x${MINER.toString(16)}`,
  });
}

/** The first challenge ≥ 1 whose tile 0 satisfies `wanted` (the reference's challengedTile). */
async function findChallenge(work: GemmWork, wanted: (r: number, c: number) => boolean): Promise<bigint> {
  for (let challenge = 1n; challenge < 100_000n; challenge++) {
    const { rowBlock, colBlock } = await challengedTile(challenge, 0, work);
    if (wanted(rowBlock, colBlock)) return challenge;
  }
  throw new Error("no challenge found");
}

describe(`demo main circuits/main/${DEMO.name}.circom (${DEMO.mainFile})`, () => {
  const tiling = DEMO.tiling;
  const full: WorkShape = { rowBlocksLog2: tiling.maxRowBlocksLog2, colBlocksLog2: tiling.maxColBlocksLog2 };
  const small: WorkShape = { rowBlocksLog2: 3, colBlocksLog2: 1 };
  let harness: CircuitHarness;
  let job: Job;
  let smallJob: Job;
  let challenge: bigint;
  let honest: bigint[];
  let honestInput: Awaited<ReturnType<typeof proofInput>>;

  beforeAll(async () => {
    harness = await loadMainCircuit(DEMO.name);
    job = await makeJob(tiling, full, 1);
    smallJob = await makeJob(tiling, small, 2);
    // An inner tile with rowBlock ≠ colBlock, so a swap is a different tile.
    challenge = await findChallenge(job.work, (r, c) => r > 0 && c > 0 && r < 3 && c < 3 && r !== c);
    honestInput = await proofInput(job, challenge);
    honest = await harness.witness(honestInput.input);
  }, 900_000);

  it("is sized for M ≥ 64, N ≥ 8 at K = 16, fits the power-13 dev ptau, constraints locked, --inspect clean", async () => {
    expect(tiling.depth).toBe(16);
    expect(tiling.tileRows * 2 ** tiling.maxRowBlocksLog2).toBeGreaterThanOrEqual(64);
    expect(tiling.tileCols * 2 ** tiling.maxColBlocksLog2).toBeGreaterThanOrEqual(8);
    await expectJobMain(harness, { nonLinear: 7_730, ptauPower: 13 });
  });

  it("accepts honest witnesses: grid corners, an inner tile, and a shape smaller than the maximum", async () => {
    const rows = 2 ** full.rowBlocksLog2;
    const cols = 2 ** full.colBlocksLog2;
    const cases: [Job, (r: number, c: number) => boolean][] = [
      [job, (r, c) => r === 0 && c === 0],
      [job, (r, c) => r === rows - 1 && c === cols - 1],
      [job, (r, c) => r === rows - 1 && c === 0],
      [job, (r, c) => r === 0 && c === cols - 1],
      [smallJob, (r, c) => r === 2 ** small.rowBlocksLog2 - 1 && c === 1],
      [smallJob, (r, c) => r === 0 && c === 0],
    ];
    for (const [which, wanted] of cases) {
      const found = await findChallenge(which.work, wanted);
      const { input, publicSignals, tiles } = await proofInput(which, found);
      expect(wanted(tiles[0]!.rowBlock, tiles[0]!.colBlock)).toBe(true);
      expect(publicSignals).toEqual([
        which.outputTree.root,
        which.inputs.root,
        which.weights.root,
        found,
        MINER,
        BigInt(which.work.shape.rowBlocksLog2 + 256 * which.work.shape.colBlocksLog2),
      ]);
      const witness = await harness.witness(input);
      expect(harness.firstViolated(witness), `tile ${JSON.stringify(tiles[0])}`).toBe(-1);
    }
    expect(harness.firstViolated(honest)).toBe(-1);
  }, 300_000);

  it("the circuit reads the challenged blocks: its input codes are X's row block and W's column block", () => {
    const { rowBlock, colBlock } = honestInput.tiles[0]!;
    const n = job.work.n;
    for (let i = 0; i < 2; i++) {
      for (let k = 0; k < 16; k++) {
        expect(harness.value(honest, `main.a[0][${i}][${k}]`)).toBe(BigInt(job.x[(rowBlock * 2 + i) * 16 + k]!));
      }
    }
    for (let k = 0; k < 16; k++) {
      for (let j = 0; j < 4; j++) {
        expect(harness.value(honest, `main.b[0][${k}][${j}]`)).toBe(BigInt(job.w[k * n + colBlock * 4 + j]!));
      }
    }
  });

  it("refuses proof inputs whose blocks are not the trees' leaves", async () => {
    const otherX = Uint8Array.from(job.x);
    const { rowBlock } = honestInput.tiles[0]!;
    otherX[rowBlock * 32] = otherX[rowBlock * 32]! ^ 1;
    await expect(proofInput({ ...job, x: otherX }, challenge)).rejects.toThrow(/input block \d+ is not leaf/);
  });

  it("rejects single edits of every signal class", () => {
    expectEditsRejected(
      harness,
      honest,
      {
        ...JOB_PUBLIC_INPUT_CLASSES,
        "X code": ["main.a[0][0][0]", "main.a[0][1][15]"],
        "W code": ["main.b[0][0][0]", "main.b[0][15][3]"],
        "output word": ["main.c[0][0][0]", "main.c[0][1][3]"],
        "output sibling": ["main.siblings[0][0]", "main.siblings[0][6]"],
        "input sibling": ["main.inputSiblings[0][0]", "main.inputSiblings[0][4]"],
        "weight sibling": ["main.weightSiblings[0][0]", "main.weightSiblings[0][1]"],
        "leaf hashes": ["main.inputLeaf[0].out", "main.weightLeaf[0].out"],
        "input / weight index bits": harness.signals(/^main\.(input|weight)Path\[0\]\.indexBits\[\d\]$/),
        "output index bits": harness.signals(/^main\.tiles\.path\[0\]\.indexBits\[\d\]$/),
        "decoded inputs": ["main.gemm[0].aDecode[0][0].value", "main.gemm[0].bDecode[3][1].magnitude"],
      },
      { deltas: SMALL_AND_LARGE_EDITS },
    );
  });

  it("rejects the swapped tile (colBlock, rowBlock) when (rowBlock, colBlock) is challenged", async () => {
    const { rowBlock, colBlock } = honestInput.tiles[0]!;
    const swappedChallenge = await findChallenge(job.work, (r, c) => r === colBlock && c === rowBlock);
    const swapped = await harness.witness((await proofInput(job, swappedChallenge)).input);
    expect(harness.firstViolated(swapped)).toBe(-1);
    // Everything of the swapped tile, but the public challenge and its bits are those of the real challenge.
    const set = new Map(
      harness.signals(/^main\.(challenge$|tiles\.challengeBits\.)/).map((s) => [s, harness.value(honest, s)]),
    );
    expect(set.size).toBeGreaterThan(254);
    expect(harness.firstViolated(harness.editWired(swapped, set))).toBeGreaterThanOrEqual(0);
  });

  it("accepts an output exactly at the contract bound and rejects the next float32 beyond it (re-committed)", async () => {
    const { rowBlock, colBlock } = honestInput.tiles[0]!;
    const { m, n, k } = job.work;
    const exact = exactTile(job.x, job.w, m, n, k, "e4m3fn");
    const tiles = await loadChallengedTiles(8, tiling.maxRowBlocksLog2, tiling.maxColBlocksLog2);
    for (const [i, j, side] of [
      [0, 0, "upper"],
      [1, 3, "lower"],
    ] as const) {
      const flat = (rowBlock * 2 + i) * n + colBlock * 4 + j;
      const bound = gemmBound(exact.dot[flat]!, exact.absDot[flat]!, k);
      const words = boundaryWords(side, bound, GEMM_OUTPUT_GRID);
      const outcome: Record<string, number> = {};
      for (const [which, word] of Object.entries(words)) {
        // The miner commits the edited output: a new output tree, leaf and path.
        const c = Uint32Array.from(job.c);
        c[flat] = word;
        const tree = await commitOutputs(c, job.work);
        const index = tileIndex(tiling, rowBlock, colBlock);
        const set = await outputOpeningWires(harness, tiles, {
          root: tree.root,
          siblings: tree.siblings(index),
          challenge,
          shape: job.work.shape.rowBlocksLog2 + 256 * job.work.shape.colBlocksLog2,
          words: Array.from({ length: 8 }, (_, t) => c[(rowBlock * 2 + (t >> 2)) * n + colBlock * 4 + (t & 3)]!),
        });
        const edited = harness.editWired(
          rederiveOutput(harness, honest, gemmOutput("main.gemm[0].check", `main.c[0][${i}][${j}]`, i, j), word, bound),
          set,
        );
        outcome[which] = harness.violations(edited).length;
        if (which === "inside") expect(outcome[which], `${float32FromBits(word)} at the bound`).toBe(0);
      }
      expect(outcome.outside, `(${i},${j}) ${side}: beyond the bound`).toBeGreaterThan(0);
    }
  }, 300_000);
});

describe("a NaN input code is rejected by the NaN check alone (demo main)", () => {
  const tiling = DEMO.tiling;
  const shape: WorkShape = { rowBlocksLog2: tiling.maxRowBlocksLog2, colBlocksLog2: tiling.maxColBlocksLog2 };
  const [i, kk] = [1, 5];
  let harness: CircuitHarness;
  let base: Job;
  let baseWitness: bigint[];
  let challenge: bigint;
  let rowBlock: number;
  let standalone: InputStandalones;

  beforeAll(async () => {
    harness = await loadMainCircuit(DEMO.name);
    const job = await makeJob(tiling, shape, 3);
    const { m, n, k } = job.work;
    challenge = await findChallenge(job.work, (r) => r === 6);
    rowBlock = 6;
    // X[row][kk] = 0 and W's row kk all zero: the code at X[row][kk] meets only zeros, so the outputs (and the
    // output tree) do not depend on it; only its decoding and the input commitment do.
    const x = Uint8Array.from(job.x);
    const w = Uint8Array.from(job.w);
    x[(rowBlock * tiling.tileRows + i) * k + kk] = 0;
    w.fill(0, kk * n, (kk + 1) * n);
    const c = honestOutputs(x, w, m, n, k);
    base = {
      work: job.work,
      x,
      w,
      c,
      outputTree: await commitOutputs(c, job.work),
      inputs: await inputTree(x, tiling, shape),
      weights: await weightTree(w, tiling, shape),
    };
    baseWitness = await harness.witness((await proofInput(base, challenge)).input);
    standalone = await loadInputStandalones(tiling.maxRowBlocksLog2);
  }, 900_000);

  /** The base witness with X[row][kk] = code committed: new input root, leaf, path and decoding wires. */
  async function withCode(code: number): Promise<bigint[]> {
    const x = Uint8Array.from(base.x);
    const { k } = base.work;
    x[(rowBlock * tiling.tileRows + i) * k + kk] = code;
    const inputs = await inputTree(x, tiling, shape);
    const block = x.subarray(rowBlock * tiling.tileRows * k, (rowBlock + 1) * tiling.tileRows * k);
    const leafWitness = await standalone.leaf.witness({ bytes: Array.from(block, String) });
    const leaf = standalone.leaf.value(leafWitness, "main.out");
    const pathWitness = await merklePathWitness(standalone.path, leaf, inputs.path(rowBlock), rowBlock);
    expect(standalone.path.value(pathWitness, "main.root")).toBe(inputs.root);
    const { bits, rawWitness, magnitude, value, nanInverse } = await decodeCode(standalone.raw, code);
    const decode = `main.gemm[0].aDecode[${i}][${kk}]`;
    const set = new Map([
      ...harness.transplant("main.inputLeaf[0]", standalone.leaf, leafWitness),
      ...harness.transplant("main.inputPath[0]", standalone.path, pathWitness),
      ...harness.transplant(`${decode}.decoded.raw`, standalone.raw, rawWitness),
    ]);
    set.set("main.inputRoot", inputs.root);
    set.set(`main.a[0][${i}][${kk}]`, BigInt(code));
    for (const signal of harness.signals(new RegExp(`^${decode.replace(/[.[\]]/g, "\\$&")}\\.`))) {
      const bit = /\.(?:bits|out)\[(\d)\]$/.exec(signal);
      if (bit) set.set(signal, BigInt(bits[Number(bit[1])]!));
      else if (/\.magnitude$/.test(signal) && !signal.includes(".raw.")) set.set(signal, magnitude);
      else if (/\.value$/.test(signal)) set.set(signal, value);
    }
    set.set(`${decode}.decoded.nanInverse`, nanInverse);
    return harness.editWired(baseWitness, set);
  }

  it("the base witness is honest, and re-committing a finite code (0x7E, 0x01) is accepted", async () => {
    expect(harness.firstViolated(baseWitness)).toBe(-1);
    for (const code of [0x7e, 0x01, 0xfe]) expect(harness.violations(await withCode(code)), `code ${code}`).toEqual([]);
  });

  it("a committed 0x7F or 0xFF violates exactly one constraint: the NaN inverse", async () => {
    const nanInverse = harness.wire(`main.gemm[0].aDecode[${i}][${kk}].decoded.nanInverse`);
    for (const code of [0x7f, 0xff]) {
      const bad = harness.violations(await withCode(code));
      expect(bad, `code ${code}`).toHaveLength(1);
      expect(harness.constraintWires(bad[0]!).has(nanInverse)).toBe(true);
    }
  });
});

describe("outputs of ONNX Runtime (CPU) pass the demo main", () => {
  it("commits ORT's Y = X·W of a 64×16×16 job and proves four challenged tiles' witnesses", async () => {
    const tiling = DEMO.tiling;
    const shape: WorkShape = { rowBlocksLog2: tiling.maxRowBlocksLog2, colBlocksLog2: tiling.maxColBlocksLog2 };
    const work = defineWork(tiling, shape);
    const prng = new Prng(4);
    const x = randomFiniteCodes(prng, work.m * work.k, "e4m3fn");
    const w = randomFiniteCodes(prng, work.k * work.n, "e4m3fn");
    const runner = await Fp8GemmRunner.create({ m: work.m, n: work.n, k: work.k, intraOpNumThreads: 1 });
    let c: Uint32Array;
    try {
      c = await runner.run(x, w);
    } finally {
      await runner.release();
    }
    const job: Job = {
      work,
      x,
      w,
      c,
      outputTree: await commitOutputs(c, work),
      inputs: await inputTree(x, tiling, shape),
      weights: await weightTree(w, tiling, shape),
    };
    const harness = await loadMainCircuit(DEMO.name);
    for (const challenge of [5n, 77n, 2n ** 200n + 9n, 123456789n]) {
      const witness = await harness.witness((await proofInput(job, challenge)).input);
      expect(harness.firstViolated(witness), `challenge ${challenge}`).toBe(-1);
    }
  }, 300_000);
});

// The committed ceremony (circuits/manifests/gemm_job_demo_2x4x16.json pins it), not a local dev setup.
describeCeremonyProof(
  "gemm-job-demo",
  async () => proofInput(await makeJob(DEMO.tiling, { rowBlocksLog2: 5, colBlocksLog2: 2 }, 5), 31337n),
  13,
);

const PRODUCTION = JOB_CIRCUITS["gemm-job"];
describeProductionMain(
  PRODUCTION.name,
  { nonLinear: 46_266, ptauPower: 16 },
  {
    title: "accepts an honest witness of a 32×64 · 64×16 job built by the reference",
    check: async (harness) => {
      const job = await makeJob(PRODUCTION.tiling, { rowBlocksLog2: 2, colBlocksLog2: 1 }, 6);
      const witness = await harness.witness((await proofInput(job, 2024n)).input);
      expect(harness.firstViolated(witness)).toBe(-1);
    },
    timeout: 300_000,
  },
  expectJobMain,
);
