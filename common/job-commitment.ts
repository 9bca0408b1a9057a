/**
 * Input-root ("job") mode commitments of the linear layer Y = X·W (docs/jobs.md "Commitments"): the byte leaf, the
 * input and weight block trees, and the witness input of circuits/gemm_job.circom (`Fp8GemmJobProof`). The output
 * tree, the tile grid and the challenge are seed mode's (common/work.ts). The conv2d job (docs/ops/conv.md "Job mode",
 * circuits/conv_job.circom `Fp8ConvJobProof`) has its own input and weight trees, built from the same byte leaf.
 */
import { convTileWords, defineConvWork, validateConvTiling, type ConvTiling, type ConvWork } from "./ops/conv.js";
import {
  batchNormTileWords,
  defineBatchNormWork,
  type BatchNormInputs,
  type BatchNormTiling,
  type BatchNormWork,
} from "./ops/batchnorm.js";
import {
  assertFieldElement,
  challengedTile,
  defineWork,
  encodeShape,
  matrixTileWords,
  OutputTree,
  poseidonHash,
  tileIndex,
  treeDepth,
  type CircuitInput,
  type GemmTiling,
  type GemmWork,
  type TileGrid,
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

function assertTreeDepth(depth: number): void {
  if (!Number.isInteger(depth) || depth < 1) throw new RangeError(`tree depth must be an integer ≥ 1, got ${depth}`);
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
    assertTreeDepth(depth);
    if (leaves.length > 2 ** depth) {
      throw new RangeError(`${leaves.length} leaves do not fit a tree of depth ${depth}`);
    }
    return BlockTree.buildSparse(depth, new Map(leaves.map((leaf, index) => [index, leaf])));
  }

  /**
   * The tree of depth `depth` whose leaf i is `leaves.get(i)` and 0 at every index `leaves` does not hold (indices
   * outside the tree throw): for leaves spread over a large tree, e.g. the batch-norm input tree's tile indices.
   */
  static async buildSparse(depth: number, leaves: ReadonlyMap<number, bigint>): Promise<BlockTree> {
    assertTreeDepth(depth);
    return new BlockTree(await OutputTree.build(depth, leaves));
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

/**
 * The checks every job proof input starts with: the miner and the challenge are field elements, NT is a positive
 * integer, and the output, input and weight trees have the tiling's depths (the input tree's: `inputDepth`, by
 * default MAX_DR). Returns the miner as a number.
 */
function checkProofParams(
  minerAddress: string | bigint,
  challenge: bigint,
  tilesPerProof: number,
  tiling: TileGrid,
  [outputTree, inputs, weights]: readonly [{ depth: number }, { depth: number }, { depth: number }],
  inputDepth: number = tiling.maxRowBlocksLog2,
): bigint {
  const miner = BigInt(minerAddress);
  assertFieldElement("miner", miner);
  assertFieldElement("challenge", challenge);
  if (!Number.isSafeInteger(tilesPerProof) || tilesPerProof < 1) {
    throw new RangeError(`tilesPerProof must be a positive integer, got ${tilesPerProof}`);
  }
  const depths = [
    ["output", outputTree.depth, treeDepth(tiling)],
    ["input", inputs.depth, inputDepth],
    ["weight", weights.depth, tiling.maxColBlocksLog2],
  ] as const;
  for (const [name, actual, expected] of depths) {
    if (actual !== expected) throw new RangeError(`the ${name} tree has depth ${actual}; the tiling needs ${expected}`);
  }
  return miner;
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
  const miner = checkProofParams(params.miner, challenge, tilesPerProof, tiling, [outputTree, inputs, weights]);

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

// ---------------------------------------------------------------------------------------------------------------
// conv2d jobs (docs/ops/conv.md "Job mode", circuits/conv_job.circom): X is NCHW [N, Cin, H, W], the weights ONNX
// [Cout, Cin, KH, KW], Y NCHW float32 committed exactly as seed conv (commitConvOutputs).

/** Most bytes one byte leaf can hold (PackedBytesHash: 16 runs of 16 elements of 31 bytes). */
const MAX_LEAF_BYTES = BYTES_PER_ELEMENT * POSEIDON_WIDTH * POSEIDON_WIDTH;

/**
 * Throws a RangeError unless `tiling` is one a conv job circuit (Fp8ConvJobProof) supports: a valid conv tiling
 * (validateConvTiling) with one group, stride 1, dilation 1, an odd square kernel KH = KW, "same" padding
 * P = (KH − 1)/2 (so Ho = H = 2^outHeightLog2 and Wo = W), and input rows (Cin·W codes) and weight blocks
 * (Cin·KH·KW·TN codes) that fit a byte leaf.
 */
export function assertJobConvTiling(tiling: ConvTiling): void {
  validateConvTiling(tiling);
  const t = tiling;
  const need = (ok: boolean, message: string) => {
    if (!ok) throw new RangeError(`a conv job tiling needs ${message}`);
  };
  need(t.groups === 1, `groups = 1, got ${t.groups}`);
  need(t.stride === 1, `stride 1, got ${t.stride}`);
  need(t.dilation === 1, `dilation 1, got ${t.dilation}`);
  need(
    t.kernelHeight === t.kernelWidth && t.kernelHeight % 2 === 1,
    `an odd square kernel, got ${t.kernelHeight}×${t.kernelWidth}`,
  );
  need(
    t.padding === (t.kernelHeight - 1) / 2,
    `padding (kernel − 1)/2 = ${(t.kernelHeight - 1) / 2}, got ${t.padding}`,
  );
  // Implied by the above and validateConvTiling; checked so the reference never relies on it silently.
  need(t.inHeight === 2 ** t.outHeightLog2, `inHeight = 2^outHeightLog2, got ${t.inHeight}`);
  need(t.outWidth === t.inWidth, `outWidth = inWidth, got ${t.outWidth} and ${t.inWidth}`);
  const rowBytes = t.inChannels * t.inWidth;
  const blockBytes = t.inChannels * t.kernelHeight * t.kernelWidth * t.tileChannels;
  need(rowBytes <= MAX_LEAF_BYTES, `an input row of Cin·W ≤ ${MAX_LEAF_BYTES} codes, got ${rowBytes}`);
  need(blockBytes <= MAX_LEAF_BYTES, `a weight block of K·TN ≤ ${MAX_LEAF_BYTES} codes, got ${blockBytes}`);
}

/** The conv work of a job (throws on a tiling a job circuit does not support or a shape beyond it). */
function convJobWork(tiling: ConvTiling, shape: WorkShape): ConvWork {
  assertJobConvTiling(tiling);
  return defineConvWork(tiling, shape);
}

function assertConvSizes(work: ConvWork, x: Uint8Array | undefined, weights: Uint8Array | undefined): void {
  const t = work.tiling;
  const shapeText = `shape (dr ${work.shape.rowBlocksLog2}, dc ${work.shape.colBlocksLog2})`;
  const xSize = work.images * t.inChannels * t.inHeight * t.inWidth;
  if (x !== undefined && x.length !== xSize) {
    throw new RangeError(
      `x must be N·Cin·H·W = ${work.images}·${t.inChannels}·${t.inHeight}·${t.inWidth} = ${xSize} E4M3FN codes ` +
        `for ${shapeText}, got ${x.length}`,
    );
  }
  const wSize = work.outChannels * work.depth;
  if (weights !== undefined && weights.length !== wSize) {
    throw new RangeError(
      `weights must be Cout·Cin·KH·KW = ${work.outChannels}·${t.inChannels}·${t.kernelHeight}·${t.kernelWidth} = ` +
        `${wSize} E4M3FN codes for ${shapeText}, got ${weights.length}`,
    );
  }
}

/** Input leaf i = n·H + h: row h of image n, its Cin·W codes ordered [ci][w] (X[n][ci][h][w] at ci·W + w). */
function convJobInputRow(x: Uint8Array, work: ConvWork, index: number): Uint8Array {
  const { inChannels: cin, inHeight: h, inWidth: w } = work.tiling;
  const [n, row] = [Math.floor(index / h), index % h];
  const codes = new Uint8Array(cin * w);
  for (let ci = 0; ci < cin; ci++) {
    const start = ((n * cin + ci) * h + row) * w;
    codes.set(x.subarray(start, start + w), ci * w);
  }
  return codes;
}

/** Weight leaf c: the im2col K×TN block of column block c, row-major: entry (k, j) = weights[(c·TN + j)·K + k]. */
function convJobWeightBlock(weights: Uint8Array, work: ConvWork, colBlock: number): Uint8Array {
  const [k, tn] = [work.depth, work.tiling.tileChannels];
  const block = new Uint8Array(k * tn);
  for (let kk = 0; kk < k; kk++) {
    for (let j = 0; j < tn; j++) block[kk * tn + j] = weights[(colBlock * tn + j) * k + kk]!;
  }
  return block;
}

/**
 * The conv job's input tree: leaf i = n·H + h (i < 2^dr = N·H) is the byte leaf of row h of image n of x (NCHW
 * [N, Cin, H, W] codes), ordered [ci][w]; leaves ≥ 2^dr are 0; depth MAX_DR.
 */
export async function convInputTree(x: Uint8Array, tiling: ConvTiling, shape: WorkShape): Promise<BlockTree> {
  const work = convJobWork(tiling, shape);
  assertConvSizes(work, x, undefined);
  return blockTree(tiling.maxRowBlocksLog2, 2 ** shape.rowBlocksLog2, (i) => convJobInputRow(x, work, i));
}

/**
 * The conv job's weight tree: leaf c (c < 2^dc) is the byte leaf of the im2col K×TN block of column block c
 * (K = Cin·KH·KW, row k = (ci·KH + dh)·KW + dw, row-major) of the ONNX [Cout, Cin, KH, KW] codes; leaves ≥ 2^dc are 0;
 * depth MAX_DC.
 */
export async function convWeightTree(weights: Uint8Array, tiling: ConvTiling, shape: WorkShape): Promise<BlockTree> {
  const work = convJobWork(tiling, shape);
  assertConvSizes(work, undefined, weights);
  return blockTree(tiling.maxColBlocksLog2, 2 ** shape.colBlocksLog2, (c) => convJobWeightBlock(weights, work, c));
}

/** What a job proof is made of besides its circuit's parameters: the job's data, trees, challenge and miner. */
export interface JobProofMaterial {
  /** The input codes (conv2d: NCHW [N, Cin, H, W]; linear: M×K row-major). */
  readonly x: Uint8Array;
  /** The weight codes (conv2d: ONNX [Cout, Cin, KH, KW]; linear: K×N row-major). */
  readonly weights: Uint8Array;
  /** The committed outputs as float32 bit patterns (conv2d: NCHW; linear: M×N row-major). */
  readonly y: Uint32Array;
  readonly outputTree: OutputTree;
  readonly inputs: BlockTree;
  readonly weightsTree: BlockTree;
  readonly challenge: bigint;
  /** The miner's address (0x-hex or decimal) or its value. */
  readonly miner: string | bigint;
}

/** Everything a conv job proof of `tilesPerProof` challenged tiles is about. */
export interface ConvJobProofParams extends JobProofMaterial {
  readonly tiling: ConvTiling;
  readonly shape: WorkShape;
  readonly tilesPerProof: number;
  /** X, NCHW [N, Cin, H, W] E4M3FN codes. */
  readonly x: Uint8Array;
  /** The weights, ONNX [Cout, Cin, KH, KW] E4M3FN codes. */
  readonly weights: Uint8Array;
  /** The committed outputs, NCHW [N, Cout, H, W] float32 bit patterns. */
  readonly y: Uint32Array;
  readonly outputTree: OutputTree;
  readonly inputs: BlockTree;
  readonly weightsTree: BlockTree;
  readonly challenge: bigint;
  /** The miner's address (0x-hex or decimal) or its value. */
  readonly miner: string | bigint;
}

/**
 * The witness input of Fp8ConvJobProof (circuits/conv_job.circom), its public signals in the circuit's order
 * [outputRoot, inputRoot, weightRoot, challenge, miner, shape] and the challenged tiles. For each tile (r, c) — output
 * row oh = r mod H of image n = ⌊r / H⌋ — `x[u][dh]` holds input row h = oh − P + dh as its Cin·W codes ([ci][w];
 * circom fills the circuit's x[u][dh][ci][w] from it row-major) with its input-tree path, or, for a padding row
 * (h outside [0, H)), zero codes and zero siblings (the circuit ignores both). Throws when the tiling is not a job
 * tiling, the trees do not have its depths, or the challenged rows and blocks are not the trees' leaves.
 */
export async function convJobProofInput(
  params: ConvJobProofParams,
): Promise<{ input: CircuitInput; publicSignals: bigint[]; tiles: { rowBlock: number; colBlock: number }[] }> {
  const { tiling, shape, tilesPerProof, x, weights, y, outputTree, inputs, weightsTree, challenge } = params;
  const work = convJobWork(tiling, shape);
  assertConvSizes(work, x, weights);
  const miner = checkProofParams(params.miner, challenge, tilesPerProof, tiling, [outputTree, inputs, weightsTree]);

  const { inHeight: h, inChannels: cin, inWidth: w, kernelHeight: kh, padding, tileChannels: tn } = tiling;
  const tiles: { rowBlock: number; colBlock: number }[] = [];
  const [xRows, wBlocks, words]: [string[][][], string[][][], string[][][]] = [[], [], []];
  const [siblings, inputSiblings, weightSiblings]: [string[][], string[][][], string[][]] = [[], [], []];
  for (let u = 0; u < tilesPerProof; u++) {
    const { rowBlock, colBlock, index } = await challengedTile(challenge, u, work);
    tiles.push({ rowBlock, colBlock });
    const [n, oh] = [Math.floor(rowBlock / h), rowBlock % h];
    const tileRows: string[][] = [];
    const tilePaths: string[][] = [];
    for (let dh = 0; dh < kh; dh++) {
      const row = oh - padding + dh;
      if (row < 0 || row >= h) {
        tileRows.push(new Array<string>(cin * w).fill("0"));
        tilePaths.push(new Array<string>(tiling.maxRowBlocksLog2).fill("0"));
      } else {
        const codes = convJobInputRow(x, work, n * h + row);
        tileRows.push(Array.from(codes, String));
        tilePaths.push(await assertBlockInTree("input", inputs, n * h + row, codes));
      }
    }
    xRows.push(tileRows);
    inputSiblings.push(tilePaths);
    const block = convJobWeightBlock(weights, work, colBlock);
    wBlocks.push(rows(block, tn));
    weightSiblings.push(await assertBlockInTree("weight", weightsTree, colBlock, block));
    words.push(rows(convTileWords(y, work, rowBlock, colBlock), tn));
    siblings.push(outputTree.siblings(index).map(String));
  }
  const publicSignals = [outputTree.root, inputs.root, weightsTree.root, challenge, miner, encodeShape(shape)];
  const names = ["outputRoot", "inputRoot", "weightRoot", "challenge", "miner", "shape"];
  const input: CircuitInput = Object.fromEntries(names.map((name, i) => [name, String(publicSignals[i])]));
  Object.assign(input, { x: xRows, w: wBlocks, y: words, siblings, inputSiblings, weightSiblings });
  return { input, publicSignals, tiles };
}

// ---------------------------------------------------------------------------------------------------------------
// Batch-norm jobs (docs/ops/batchnorm.md "Job mode", circuits/batchnorm_job.circom `Fp8BatchNormJobProof`): x is
// rows × channels codes row-major, the weights 4 × channels codes row-major (rows mean, var, γ, β: the order of the
// seed parameter stream), y rows × channels float32 row-major, committed exactly as seed batch norm
// (commitBatchNormOutputs).

/** The parameter rows of a batch-norm job's weights, in order (circuits/lib/batchnorm.circom's mean, var, γ, β). */
export const BATCHNORM_JOB_PARAMETERS = ["mean", "variance", "gamma", "beta"] as const;

/** The batch-norm work of a job (throws on a shape beyond the tiling) after checking the sizes of x and the weights. */
function batchNormJobWork(
  tiling: BatchNormTiling,
  shape: WorkShape,
  x: Uint8Array | undefined,
  weights: Uint8Array | undefined,
): BatchNormWork {
  const work = defineBatchNormWork(tiling, shape);
  const shapeText = `shape (dr ${shape.rowBlocksLog2}, dc ${shape.colBlocksLog2}) of tiles ${tiling.tileRows}×${tiling.tileChannels}`;
  const sizes = [
    ["x", x, work.rows],
    ["weights", weights, BATCHNORM_JOB_PARAMETERS.length],
  ] as const;
  for (const [name, codes, rowCount] of sizes) {
    if (codes !== undefined && codes.length !== rowCount * work.channels) {
      throw new RangeError(
        `${name} must be ${rowCount}×${work.channels} = ${rowCount * work.channels} E4M3FN codes for ${shapeText}, ` +
          `got ${codes.length}`,
      );
    }
  }
  return work;
}

/** Input leaf c + 2^MAX_DC·r: x's tile (r, c), tileRows × tileChannels codes, row-major. */
function batchNormJobXTile(x: Uint8Array, work: BatchNormWork, rowBlock: number, colBlock: number): Uint8Array {
  const { tileRows: tm, tileChannels: tn } = work.tiling;
  const tile = new Uint8Array(tm * tn);
  for (let i = 0; i < tm; i++) {
    const start = (rowBlock * tm + i) * work.channels + colBlock * tn;
    tile.set(x.subarray(start, start + tn), i * tn);
  }
  return tile;
}

/** Weight leaf c: for each parameter row p in order, the codes of channels c·TN … c·TN + TN − 1 (4·TN codes). */
function batchNormJobParamBlock(weights: Uint8Array, work: BatchNormWork, colBlock: number): Uint8Array {
  const tn = work.tiling.tileChannels;
  const block = new Uint8Array(BATCHNORM_JOB_PARAMETERS.length * tn);
  BATCHNORM_JOB_PARAMETERS.forEach((_, p) => {
    const start = p * work.channels + colBlock * tn;
    block.set(weights.subarray(start, start + tn), p * tn);
  });
  return block;
}

/**
 * The batch-norm job's input tree: depth MAX_DR + MAX_DC (as the output tree); leaf c + 2^MAX_DC·r (r < 2^dr,
 * c < 2^dc) is the byte leaf of x's tile (r, c), tileRows × tileChannels codes row-major, of x (rows × channels codes,
 * row-major, rows = tileRows·2^dr, channels = tileChannels·2^dc); every other leaf is 0.
 */
export async function batchNormInputTree(x: Uint8Array, tiling: BatchNormTiling, shape: WorkShape): Promise<BlockTree> {
  const work = batchNormJobWork(tiling, shape, x, undefined);
  const leaves = new Map<number, bigint>();
  for (let r = 0; r < 2 ** shape.rowBlocksLog2; r++) {
    for (let c = 0; c < 2 ** shape.colBlocksLog2; c++) {
      leaves.set(tileIndex(tiling, r, c), await packedBytesHash(batchNormJobXTile(x, work, r, c)));
    }
  }
  return BlockTree.buildSparse(treeDepth(tiling), leaves);
}

/**
 * The batch-norm job's weight tree: depth MAX_DC; leaf c (c < 2^dc) is the byte leaf of column block c's parameters:
 * for each row p of the weights (4 × channels codes, row-major: mean, var, γ, β) the tileChannels codes of channels
 * c·TN … c·TN + TN − 1, p-major (4·TN codes); leaves ≥ 2^dc are 0.
 */
export async function batchNormWeightTree(
  weights: Uint8Array,
  tiling: BatchNormTiling,
  shape: WorkShape,
): Promise<BlockTree> {
  const work = batchNormJobWork(tiling, shape, undefined, weights);
  return blockTree(tiling.maxColBlocksLog2, 2 ** shape.colBlocksLog2, (c) => batchNormJobParamBlock(weights, work, c));
}

/**
 * A batch-norm job's whole problem as common/ops/batchnorm.ts takes it: for the contract check of committed outputs
 * (`checkBatchNorm(inputs, y)`: every failing output and the worst |Y − 2^18·N|/T) and the reference outputs
 * (`referenceBatchNormOutputs`). The parameter vectors are views of the weights' rows. Throws on wrong sizes.
 */
export function batchNormJobInputs(
  x: Uint8Array,
  weights: Uint8Array,
  tiling: BatchNormTiling,
  shape: WorkShape,
): BatchNormInputs {
  const { rows, channels } = batchNormJobWork(tiling, shape, x, weights);
  const row = (p: number) => weights.subarray(p * channels, (p + 1) * channels);
  const [mean, variance, gamma, beta] = BATCHNORM_JOB_PARAMETERS.map((_, p) => row(p)) as [
    Uint8Array,
    Uint8Array,
    Uint8Array,
    Uint8Array,
  ];
  return { rows, channels, x, mean, variance, gamma, beta };
}

/**
 * The witness input of Fp8BatchNormJobProof (circuits/batchnorm_job.circom), its public signals in the circuit's order
 * [outputRoot, inputRoot, weightRoot, challenge, miner, shape] and the challenged tiles. `x` is rows × channels codes,
 * `weights` 4 × channels codes (mean, var, γ, β rows), `y` the committed rows × channels float32 words (row-major, the
 * seed batch norm's output layout), `outputTree` their commitBatchNormOutputs tree. Per tile (r, c): x[u] the tile's
 * TM×TN codes, params[u] the 4×TN codes of column block c, y[u] the tile's words, and the three Merkle paths. Throws
 * when the sizes are wrong, the trees do not have the tiling's depths (output and input MAX_DR + MAX_DC, weight MAX_DC)
 * or the challenged blocks are not the trees' leaves.
 */
export async function batchNormJobProofInput(
  params: JobProofMaterial & { tiling: BatchNormTiling; shape: WorkShape; tilesPerProof: number },
): Promise<{ input: CircuitInput; publicSignals: bigint[]; tiles: { rowBlock: number; colBlock: number }[] }> {
  const { tiling, shape, tilesPerProof, x, weights, y, outputTree, inputs, weightsTree, challenge } = params;
  const work = batchNormJobWork(tiling, shape, x, weights);
  const trees = [outputTree, inputs, weightsTree] as const;
  const miner = checkProofParams(params.miner, challenge, tilesPerProof, tiling, trees, treeDepth(tiling));

  const tn = tiling.tileChannels;
  const tiles: { rowBlock: number; colBlock: number }[] = [];
  const [xTiles, paramBlocks, words]: [string[][][], string[][][], string[][][]] = [[], [], []];
  const [siblings, inputSiblings, weightSiblings]: [string[][], string[][], string[][]] = [[], [], []];
  for (let u = 0; u < tilesPerProof; u++) {
    const { rowBlock, colBlock, index } = await challengedTile(challenge, u, work);
    tiles.push({ rowBlock, colBlock });
    const xTile = batchNormJobXTile(x, work, rowBlock, colBlock);
    const block = batchNormJobParamBlock(weights, work, colBlock);
    xTiles.push(rows(xTile, tn));
    paramBlocks.push(rows(block, tn));
    words.push(rows(batchNormTileWords(y, work, rowBlock, colBlock), tn));
    siblings.push(outputTree.siblings(index).map(String));
    inputSiblings.push(await assertBlockInTree("input", inputs, index, xTile));
    weightSiblings.push(await assertBlockInTree("weight", weightsTree, colBlock, block));
  }
  const privateInputs = { x: xTiles, params: paramBlocks, y: words, siblings, inputSiblings, weightSiblings };
  return { ...jobProofSignals(trees, challenge, miner, shape, privateInputs), tiles };
}

/**
 * A job proof's public signals in every job circuit's order [outputRoot, inputRoot, weightRoot, challenge, miner,
 * shape] and its witness input: those six as decimal strings, then `privateInputs`.
 */
function jobProofSignals(
  [outputTree, inputs, weightsTree]: readonly [{ root: bigint }, { root: bigint }, { root: bigint }],
  challenge: bigint,
  miner: bigint,
  shape: WorkShape,
  privateInputs: CircuitInput,
): { input: CircuitInput; publicSignals: bigint[] } {
  const publicSignals = [outputTree.root, inputs.root, weightsTree.root, challenge, miner, encodeShape(shape)];
  const names = ["outputRoot", "inputRoot", "weightRoot", "challenge", "miner", "shape"];
  const input: CircuitInput = Object.fromEntries(names.map((name, i) => [name, String(publicSignals[i])]));
  return { input: { ...input, ...privateInputs }, publicSignals };
}
