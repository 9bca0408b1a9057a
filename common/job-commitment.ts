/**
 * Input-root ("job") mode commitments of the linear layer Y = X·W (docs/jobs.md "Commitments"): the byte leaf, the
 * input and weight block trees, and the witness input of circuits/gemm_job.circom (`Fp8GemmJobProof`). The output
 * tree, the tile grid and the challenge are seed mode's (common/work.ts).
 */
import {
  assertFieldElement,
  challengedTile,
  defineWork,
  encodeShape,
  matrixTileWords,
  OutputTree,
  poseidonHash,
  treeDepth,
  type CircuitInput,
  type GemmTiling,
  type GemmWork,
  type WorkShape,
} from "./work.js";

const BYTES_PER_ELEMENT = 31;
/** Poseidon inputs per hash (circomlib's Poseidon(n) takes n ≤ 16). */
const POSEIDON_WIDTH = 16;

/**
 * The byte leaf: bytes packed 31 per field element, little-endian (the last element holding the rest); with n ≤ 16
 * elements Poseidon(e_0…e_{n−1}), else Poseidon of the hashes of each run of 16 elements (the last run holding the
 * rest), at most 16 runs. circuits/lib/input_commitment.circom `PackedBytesHash`.
 */
export async function packedBytesHash(bytes: Uint8Array): Promise<bigint> {
  if (bytes.length === 0) throw new RangeError("packedBytesHash needs at least one byte");
  const elements: bigint[] = [];
  for (let start = 0; start < bytes.length; start += BYTES_PER_ELEMENT) {
    const chunk = bytes.subarray(start, start + BYTES_PER_ELEMENT);
    elements.push(chunk.reduceRight((element, byte) => (element << 8n) | BigInt(byte), 0n));
  }
  if (elements.length <= POSEIDON_WIDTH) return poseidonHash(elements);
  const runs: bigint[] = [];
  for (let start = 0; start < elements.length; start += POSEIDON_WIDTH) {
    runs.push(await poseidonHash(elements.slice(start, start + POSEIDON_WIDTH)));
  }
  if (runs.length > POSEIDON_WIDTH) {
    throw new RangeError(`${bytes.length} bytes need ${runs.length} runs of 16 elements; at most 16 are allowed`);
  }
  return poseidonHash(runs);
}

/** A binary Poseidon(2) Merkle tree of fixed depth over block leaves; leaves beyond the given ones are 0. */
export class BlockTree {
  readonly root: bigint;
  readonly depth: number;

  private constructor(private readonly tree: OutputTree) {
    this.root = tree.root;
    this.depth = tree.depth;
  }

  /** The tree of depth `depth` whose leaf i is `leaves[i]` (i < leaves.length) and 0 beyond. */
  static async build(depth: number, leaves: readonly bigint[]): Promise<BlockTree> {
    if (!Number.isInteger(depth) || depth < 1) throw new RangeError(`tree depth must be an integer ≥ 1, got ${depth}`);
    if (leaves.length > 2 ** depth) {
      throw new RangeError(`${leaves.length} leaves do not fit a tree of depth ${depth}`);
    }
    return new BlockTree(await OutputTree.build(depth, new Map(leaves.map((leaf, index) => [index, leaf]))));
  }

  /** Sibling hashes of leaf `index`, leaf level first. */
  path(index: number): bigint[] {
    return this.tree.siblings(index);
  }
}

/** The work of a job on `tiling` (throws on a shape beyond the tiling) after checking a matrix's size. */
function jobWork(
  name: string,
  matrix: Uint8Array,
  tiling: GemmTiling,
  shape: WorkShape,
  size: (work: GemmWork) => [rows: number, columns: number],
): GemmWork {
  const work = defineWork(tiling, shape);
  const [rows, columns] = size(work);
  if (matrix.length !== rows * columns) {
    throw new RangeError(
      `${name} must be ${rows}×${columns} = ${rows * columns} E4M3FN codes for shape ` +
        `(dr ${shape.rowBlocksLog2}, dc ${shape.colBlocksLog2}) of tiles ${tiling.tileRows}×${tiling.tileCols}×` +
        `${tiling.depth}, got ${matrix.length}`,
    );
  }
  return work;
}

/** X's row block r: rows r·TM … r·TM+TM−1 of the M×K matrix x, row-major (TM·K codes). */
export function inputRowBlock(x: Uint8Array, work: GemmWork, rowBlock: number): Uint8Array {
  const size = work.tiling.tileRows * work.k;
  return x.subarray(rowBlock * size, (rowBlock + 1) * size);
}

/** W's column block c: the K×TN sub-matrix of the K×N matrix w at columns c·TN…, row-major (K·TN codes). */
export function weightColBlock(w: Uint8Array, work: GemmWork, colBlock: number): Uint8Array {
  const tn = work.tiling.tileCols;
  const block = new Uint8Array(work.k * tn);
  for (let k = 0; k < work.k; k++) {
    const start = k * work.n + colBlock * tn;
    block.set(w.subarray(start, start + tn), k * tn);
  }
  return block;
}

async function blockTree(depth: number, blocks: number, block: (index: number) => Uint8Array): Promise<BlockTree> {
  const leaves: bigint[] = [];
  for (let index = 0; index < blocks; index++) leaves.push(await packedBytesHash(block(index)));
  return BlockTree.build(depth, leaves);
}

/** The input tree: leaf r is the byte leaf of X's row block r (x is M×K row-major, M = TM·2^dr); depth MAX_DR. */
export async function inputTree(x: Uint8Array, tiling: GemmTiling, shape: WorkShape): Promise<BlockTree> {
  const work = jobWork("x", x, tiling, shape, (wk) => [wk.m, wk.k]);
  return blockTree(tiling.maxRowBlocksLog2, 2 ** shape.rowBlocksLog2, (r) => inputRowBlock(x, work, r));
}

/** The weight tree: leaf c is the byte leaf of W's column block c (w is K×N row-major, N = TN·2^dc); depth MAX_DC. */
export async function weightTree(w: Uint8Array, tiling: GemmTiling, shape: WorkShape): Promise<BlockTree> {
  const work = jobWork("w", w, tiling, shape, (wk) => [wk.k, wk.n]);
  return blockTree(tiling.maxColBlocksLog2, 2 ** shape.colBlocksLog2, (c) => weightColBlock(w, work, c));
}

/** Throws unless `block` is leaf `index` of `tree` by `tree.path(index)`: the miner's data must match the job's root. */
async function assertBlockInTree(name: string, tree: BlockTree, index: number, block: Uint8Array): Promise<string[]> {
  const path = tree.path(index);
  let node = await packedBytesHash(block);
  for (let level = 0; level < path.length; level++) {
    const sibling = path[level]!;
    node = await poseidonHash(((index >> level) & 1) === 0 ? [node, sibling] : [sibling, node]);
  }
  if (node !== tree.root) throw new Error(`${name} block ${index} is not leaf ${index} of the ${name} tree's root`);
  return path.map(String);
}

function rows(values: ArrayLike<number>, rowLength: number): string[][] {
  const result: string[][] = [];
  for (let start = 0; start < values.length; start += rowLength) {
    result.push(Array.from({ length: rowLength }, (_, j) => String(values[start + j])));
  }
  return result;
}

/** Everything a job proof of `tilesPerProof` challenged tiles is about. */
export interface GemmJobProofParams {
  readonly tiling: GemmTiling;
  readonly shape: WorkShape;
  readonly tilesPerProof: number;
  /** X, M×K E4M3FN codes, row-major. */
  readonly x: Uint8Array;
  /** W, K×N E4M3FN codes, row-major. */
  readonly w: Uint8Array;
  /** The committed outputs, M×N float32 bit patterns, row-major. */
  readonly c: Uint32Array;
  readonly outputTree: OutputTree;
  readonly inputs: BlockTree;
  readonly weights: BlockTree;
  readonly challenge: bigint;
  /** The miner's address (0x-hex or decimal) or its value. */
  readonly miner: string | bigint;
}

/**
 * The witness input of Fp8GemmJobProof (circuits/gemm_job.circom), its public signals in the circuit's order
 * [outputRoot, inputRoot, weightRoot, challenge, miner, shape] and the challenged tiles. Throws when the trees do not
 * have the tiling's depths or the challenged blocks of x and w are not the trees' leaves.
 */
export async function gemmJobProofInput(
  params: GemmJobProofParams,
): Promise<{ input: CircuitInput; publicSignals: bigint[]; tiles: { rowBlock: number; colBlock: number }[] }> {
  const { tiling, shape, tilesPerProof, x, w, c, outputTree, inputs, weights, challenge } = params;
  const work = jobWork("x", x, tiling, shape, (wk) => [wk.m, wk.k]);
  jobWork("w", w, tiling, shape, (wk) => [wk.k, wk.n]);
  const miner = BigInt(params.miner);
  assertFieldElement("miner", miner);
  assertFieldElement("challenge", challenge);
  if (!Number.isSafeInteger(tilesPerProof) || tilesPerProof < 1) {
    throw new RangeError(`tilesPerProof must be a positive integer, got ${tilesPerProof}`);
  }
  const depths = [
    ["output", outputTree.depth, treeDepth(tiling)],
    ["input", inputs.depth, tiling.maxRowBlocksLog2],
    ["weight", weights.depth, tiling.maxColBlocksLog2],
  ] as const;
  for (const [name, actual, expected] of depths) {
    if (actual !== expected) throw new RangeError(`the ${name} tree has depth ${actual}; the tiling needs ${expected}`);
  }

  const { tileRows: tm, tileCols: tn, depth: k } = tiling;
  const size = { rows: work.m, columns: work.n, tileRows: tm, tileCols: tn };
  const tiles: { rowBlock: number; colBlock: number }[] = [];
  const [a, b, words]: [string[][][], string[][][], string[][][]] = [[], [], []];
  const [siblings, inputSiblings, weightSiblings]: [string[][], string[][], string[][]] = [[], [], []];
  for (let u = 0; u < tilesPerProof; u++) {
    const { rowBlock, colBlock, index } = await challengedTile(challenge, u, work);
    tiles.push({ rowBlock, colBlock });
    const xBlock = inputRowBlock(x, work, rowBlock);
    const wBlock = weightColBlock(w, work, colBlock);
    a.push(rows(xBlock, k));
    b.push(rows(wBlock, tn));
    words.push(rows(matrixTileWords(c, "c", work, size, rowBlock, colBlock), tn));
    siblings.push(outputTree.siblings(index).map(String));
    inputSiblings.push(await assertBlockInTree("input", inputs, rowBlock, xBlock));
    weightSiblings.push(await assertBlockInTree("weight", weights, colBlock, wBlock));
  }
  const publicSignals = [outputTree.root, inputs.root, weights.root, challenge, miner, encodeShape(shape)];
  const names = ["outputRoot", "inputRoot", "weightRoot", "challenge", "miner", "shape"];
  const input: CircuitInput = Object.fromEntries(names.map((name, i) => [name, String(publicSignals[i])]));
  Object.assign(input, { a, b, c: words, siblings, inputSiblings, weightSiblings });
  return { input, publicSignals, tiles };
}
