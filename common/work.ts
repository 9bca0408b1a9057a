/**
 * Seed-mode GEMM work: how inputs are generated from a seed, how outputs are committed, and which tiles a challenge
 * selects. This is the TypeScript reference of circuits/gemm_seed.circom and the spec in docs/circuits.md; the miner
 * and the tests use it, the circuit re-derives the same values under constraints.
 */
import { buildPoseidon } from "circomlibjs";

/** BN254 scalar field modulus (the field of circom signals and of Groth16 public inputs). */
export const FIELD_MODULUS = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;

/** Stream domains of the seed generator. */
export const DOMAIN_A_ROWS = 1n;
export const DOMAIN_B_COLUMNS = 2n;
const BYTES_PER_ELEMENT = 31;
const ELEMENTS_PER_PERMUTATION = 17;
const WORDS_PER_PACKED_ELEMENT = 7;

/** The grid part of a tiling, shared by every op: the output tree has one leaf per tile of a 2^dr × 2^dc grid. */
export interface TileGrid {
  /** Largest grid the circuit supports: 2^maxRowBlocksLog2 × 2^maxColBlocksLog2 tiles. */
  readonly maxRowBlocksLog2: number;
  readonly maxColBlocksLog2: number;
}

/** A work on a tile grid: its circuit's grid limits and its own shape. */
export interface GridWork {
  readonly tiling: TileGrid;
  readonly shape: WorkShape;
}

/** Fixed parameters of a tile circuit. */
export interface GemmTiling extends TileGrid {
  /** Tile rows (TM) and columns (TN). */
  readonly tileRows: number;
  readonly tileCols: number;
  /** Inner dimension K of the GEMM. */
  readonly depth: number;
}

/** The tiling of circuits/main/gemm_seed_8x8x64.circom. */
export const PRODUCTION_TILING: GemmTiling = {
  tileRows: 8,
  tileCols: 8,
  depth: 64,
  maxRowBlocksLog2: 10,
  maxColBlocksLog2: 10,
};

/** A work's grid: 2^rowBlocksLog2 × 2^colBlocksLog2 tiles. */
export interface WorkShape {
  readonly rowBlocksLog2: number;
  readonly colBlocksLog2: number;
}

export interface GemmWork {
  readonly tiling: GemmTiling;
  readonly shape: WorkShape;
  /** M = tileRows·2^rowBlocksLog2, N = tileCols·2^colBlocksLog2, K = depth. */
  readonly m: number;
  readonly n: number;
  readonly k: number;
}

export function treeDepth(tiling: TileGrid): number {
  return tiling.maxRowBlocksLog2 + tiling.maxColBlocksLog2;
}

export function defineWork(tiling: GemmTiling, shape: WorkShape): GemmWork {
  const { rowBlocksLog2: dr, colBlocksLog2: dc } = shape;
  if (!Number.isInteger(dr) || dr < 0 || dr > tiling.maxRowBlocksLog2) {
    throw new RangeError(`rowBlocksLog2 must be an integer in [0, ${tiling.maxRowBlocksLog2}], got ${dr}`);
  }
  if (!Number.isInteger(dc) || dc < 0 || dc > tiling.maxColBlocksLog2) {
    throw new RangeError(`colBlocksLog2 must be an integer in [0, ${tiling.maxColBlocksLog2}], got ${dc}`);
  }
  return { tiling, shape, m: tiling.tileRows * 2 ** dr, n: tiling.tileCols * 2 ** dc, k: tiling.depth };
}

/** The public `shape` input of the circuit: dr + 256·dc. */
export function encodeShape(shape: WorkShape): bigint {
  return BigInt(shape.rowBlocksLog2) + 256n * BigInt(shape.colBlocksLog2);
}

export function assertFieldElement(name: string, value: bigint): void {
  if (value < 0n || value >= FIELD_MODULUS)
    throw new RangeError(`${name} must be a field element in [0, p), got ${value}`);
}

type Poseidon = Awaited<ReturnType<typeof buildPoseidon>>;
let poseidonInstance: Promise<Poseidon> | undefined;

/** circomlibjs' Poseidon, built once per process. */
function poseidon(): Promise<Poseidon> {
  return (poseidonInstance ??= buildPoseidon());
}

/** Poseidon(inputs) as circomlib's `Poseidon(n)` computes it. */
export async function poseidonHash(inputs: readonly bigint[]): Promise<bigint> {
  const hash = await poseidon();
  return hash.F.toObject(hash(inputs));
}

/** All 17 state words of one width-17 permutation, as circomlib's `PoseidonEx(16, 17)` with initialState 0. */
async function squeeze16(inputs: readonly bigint[]): Promise<bigint[]> {
  const hash = await poseidon();
  return hash(inputs, 0, ELEMENTS_PER_PERMUTATION).map((word) => hash.F.toObject(word));
}

/**
 * The first `length` raw bytes of stream(seed, domain, block): the 31 low bytes (little-endian) of each squeezed
 * word of PoseidonEx16(seed, domain, block, permutation index, 0…0), in order.
 */
export async function seedStream(seed: bigint, domain: bigint, block: number, length: number): Promise<Uint8Array> {
  assertFieldElement("seed", seed);
  const bytes = new Uint8Array(length);
  let written = 0;
  for (let permutation = 0; written < length; permutation++) {
    const words = await squeeze16([seed, domain, BigInt(block), BigInt(permutation), ...Array<bigint>(12).fill(0n)]);
    for (const word of words) {
      let rest = word;
      for (let byte = 0; byte < BYTES_PER_ELEMENT && written < length; byte++) {
        bytes[written++] = Number(rest & 0xffn);
        rest >>= 8n;
      }
      if (written === length) break;
    }
  }
  return bytes;
}

/** Seed-generated E4M3FN codes: the two NaN codes stand for ±0 (the circuits' Fp8E4M3FromBits(1) decodes them so). */
export function withoutNan(raw: Uint8Array): Uint8Array {
  return raw.map((code) => (code === 0x7f ? 0x00 : code === 0xff ? 0x80 : code));
}

/** Row block r of A: tileRows × depth E4M3FN codes, row-major. */
export async function rowBlockOfA(seed: bigint, tiling: GemmTiling, rowBlock: number): Promise<Uint8Array> {
  return withoutNan(await seedStream(seed, DOMAIN_A_ROWS, rowBlock, tiling.tileRows * tiling.depth));
}

/** Column block c of B: depth × tileCols E4M3FN codes, row-major. */
export async function colBlockOfB(seed: bigint, tiling: GemmTiling, colBlock: number): Promise<Uint8Array> {
  return withoutNan(await seedStream(seed, DOMAIN_B_COLUMNS, colBlock, tiling.depth * tiling.tileCols));
}

/** The whole work's inputs: A (M×K) and B (K×N), row-major E4M3FN codes. */
export async function generateInputs(seed: bigint, work: GemmWork): Promise<{ a: Uint8Array; b: Uint8Array }> {
  const { tileRows: tm, tileCols: tn, depth: k } = work.tiling;
  const a = new Uint8Array(work.m * k);
  for (let r = 0; r < work.m / tm; r++) a.set(await rowBlockOfA(seed, work.tiling, r), r * tm * k);
  const b = new Uint8Array(k * work.n);
  for (let c = 0; c < work.n / tn; c++) {
    const block = await colBlockOfB(seed, work.tiling, c);
    for (let row = 0; row < k; row++) b.set(block.subarray(row * tn, (row + 1) * tn), row * work.n + c * tn);
  }
  return { a, b };
}

/** Throws unless (rowBlock, colBlock) is a tile of the work's 2^dr × 2^dc grid. */
export function assertTile(work: GridWork, rowBlock: number, colBlock: number): void {
  const [rows, cols] = [2 ** work.shape.rowBlocksLog2, 2 ** work.shape.colBlocksLog2];
  const inRange = (v: number, n: number) => Number.isInteger(v) && v >= 0 && v < n;
  if (!inRange(rowBlock, rows) || !inRange(colBlock, cols))
    throw new RangeError(`tile (${rowBlock}, ${colBlock}) is outside the work's ${rows}×${cols} tiles`);
}

/**
 * The words of tile (rowBlock, colBlock), row-major, of a work whose outputs form one row-major rows × columns matrix
 * `name` cut into tileRows × tileCols tiles (GEMM's C, batch norm's y).
 */
export function matrixTileWords(
  matrix: Uint32Array,
  name: string,
  work: GridWork,
  size: { rows: number; columns: number; tileRows: number; tileCols: number },
  rowBlock: number,
  colBlock: number,
): Uint32Array {
  const { rows, columns, tileRows: tm, tileCols: tn } = size;
  if (matrix.length !== rows * columns)
    throw new RangeError(`${name} must have ${rows}×${columns} words, got ${matrix.length}`);
  assertTile(work, rowBlock, colBlock);
  const words = new Uint32Array(tm * tn);
  for (let i = 0; i < tm; i++) {
    const start = (rowBlock * tm + i) * columns + colBlock * tn;
    words.set(matrix.subarray(start, start + tn), i * tn);
  }
  return words;
}

/** The float32 words of tile (rowBlock, colBlock) of C (M×N row-major bit patterns), row-major. */
export function tileWords(c: Uint32Array, work: GemmWork, rowBlock: number, colBlock: number): Uint32Array {
  const { tileRows, tileCols } = work.tiling;
  return matrixTileWords(c, "C", work, { rows: work.m, columns: work.n, tileRows, tileCols }, rowBlock, colBlock);
}

/** Leaf of one tile: Poseidon over its words packed 7 per field element. */
export async function tileLeaf(words: Uint32Array): Promise<bigint> {
  const packed: bigint[] = [];
  for (let start = 0; start < words.length; start += WORDS_PER_PACKED_ELEMENT) {
    let element = 0n;
    words.subarray(start, start + WORDS_PER_PACKED_ELEMENT).forEach((word, j) => {
      element |= BigInt(word) << BigInt(32 * j);
    });
    packed.push(element);
  }
  if (packed.length > 16) throw new RangeError(`a tile of ${words.length} words exceeds the 112-word leaf limit`);
  return poseidonHash(packed);
}

/** Leaf index of a tile: colBlock + 2^maxColBlocksLog2 · rowBlock. */
export function tileIndex(tiling: TileGrid, rowBlock: number, colBlock: number): number {
  return colBlock + 2 ** tiling.maxColBlocksLog2 * rowBlock;
}

/** A sparse binary Poseidon Merkle tree of fixed depth whose absent leaves are 0. */
export class OutputTree {
  private constructor(
    readonly depth: number,
    private readonly levels: Map<number, bigint>[],
    private readonly emptySubtree: bigint[],
  ) {}

  static async build(depth: number, leaves: ReadonlyMap<number, bigint>): Promise<OutputTree> {
    const emptySubtree = [0n];
    for (let level = 0; level < depth; level++) {
      emptySubtree.push(await poseidonHash([emptySubtree[level]!, emptySubtree[level]!]));
    }
    const levels: Map<number, bigint>[] = [new Map(leaves)];
    for (const index of leaves.keys()) {
      if (!Number.isInteger(index) || index < 0 || index >= 2 ** depth) {
        throw new RangeError(`leaf index ${index} outside a tree of depth ${depth}`);
      }
    }
    for (let level = 0; level < depth; level++) {
      const below = levels[level]!;
      const above = new Map<number, bigint>();
      for (const index of below.keys()) {
        const parent = Math.floor(index / 2);
        if (above.has(parent)) continue;
        const left = below.get(parent * 2) ?? emptySubtree[level]!;
        const right = below.get(parent * 2 + 1) ?? emptySubtree[level]!;
        above.set(parent, await poseidonHash([left, right]));
      }
      levels.push(above);
    }
    return new OutputTree(depth, levels, emptySubtree);
  }

  get root(): bigint {
    return this.levels[this.depth]!.get(0) ?? this.emptySubtree[this.depth]!;
  }

  /** Sibling hashes of leaf `index`, leaf level first. */
  siblings(index: number): bigint[] {
    if (!Number.isInteger(index) || index < 0 || index >= 2 ** this.depth)
      throw new RangeError(`leaf index ${index} outside a tree of depth ${this.depth}`);
    const path: bigint[] = [];
    for (let level = 0, node = index; level < this.depth; level++, node = Math.floor(node / 2)) {
      path.push(this.levels[level]!.get(node ^ 1) ?? this.emptySubtree[level]!);
    }
    return path;
  }
}

/** The output commitment of any op's work: one leaf per tile, the leaf of tile (r, c) hashing `words(r, c)`. */
export async function commitTiles(
  work: GridWork,
  words: (rowBlock: number, colBlock: number) => Uint32Array,
): Promise<OutputTree> {
  const leaves = new Map<number, bigint>();
  for (let r = 0; r < 2 ** work.shape.rowBlocksLog2; r++) {
    for (let col = 0; col < 2 ** work.shape.colBlocksLog2; col++) {
      leaves.set(tileIndex(work.tiling, r, col), await tileLeaf(words(r, col)));
    }
  }
  return OutputTree.build(treeDepth(work.tiling), leaves);
}

/** The output commitment of a whole GEMM work: one leaf per tile. */
export function commitOutputs(c: Uint32Array, work: GemmWork): Promise<OutputTree> {
  return commitTiles(work, (r, col) => tileWords(c, work, r, col));
}

/** Challenge bits below this are uniform to within 2^-29 for a uniform field element's canonical value. */
const CHALLENGE_BITS_USED = 224;

/**
 * The u-th challenged tile. Tiles share challenge hashes: with window w = maxRowBlocksLog2 + maxColBlocksLog2 bits and
 * t = ⌊224 / w⌋ windows per hash, tile u reads window u mod t of Poseidon(challenge, ⌊u / t⌋); the row block is the
 * low dr bits of the window, the column block the dc bits at window offset maxRowBlocksLog2.
 */
export async function challengedTile(
  challenge: bigint,
  u: number,
  work: GridWork,
): Promise<{ rowBlock: number; colBlock: number; index: number }> {
  assertFieldElement("challenge", challenge);
  if (!Number.isSafeInteger(u) || u < 0)
    throw new RangeError(`challenged tile number must be an integer >= 0, got ${u}`);
  const window = work.tiling.maxRowBlocksLog2 + work.tiling.maxColBlocksLog2;
  const perHash = Math.floor(CHALLENGE_BITS_USED / window);
  const h = await poseidonHash([challenge, BigInt(Math.floor(u / perHash))]);
  const bits = h >> BigInt((u % perHash) * window);
  const rowBlock = Number(bits & ((1n << BigInt(work.shape.rowBlocksLog2)) - 1n));
  const colBits = bits >> BigInt(work.tiling.maxRowBlocksLog2);
  const colBlock = Number(colBits & ((1n << BigInt(work.shape.colBlocksLog2)) - 1n));
  return { rowBlock, colBlock, index: tileIndex(work.tiling, rowBlock, colBlock) };
}

/** Public inputs of every seed-mode proof circuit (Fp8GemmSeedProof, Fp8ConvSeedProof, …), in the circuits' order. */
export interface SeedProofPublicInputs {
  readonly outputRoot: bigint;
  readonly seed: bigint;
  readonly challenge: bigint;
  readonly miner: bigint;
  readonly shape: bigint;
}

export type CircuitInput = Record<string, string | string[] | string[][] | string[][][]>;

/** A seed-mode proof's witness input, its public inputs and the challenged tiles it proves. */
export interface SeedProofInput {
  readonly input: CircuitInput;
  readonly publicInputs: SeedProofPublicInputs;
  readonly tiles: { rowBlock: number; colBlock: number }[];
}

/** What a seed-mode proof of `tilesPerProof` challenged tiles is about: the work, its committed tree and the values. */
export interface SeedProofParams {
  readonly work: GridWork;
  readonly tilesPerProof: number;
  readonly tree: OutputTree;
  readonly seed: bigint;
  readonly challenge: bigint;
  readonly miner: bigint;
}

/**
 * The witness input every seed-mode proof circuit shares: the public inputs, then `outputName`, the committed words
 * of each challenged tile (`tileWords(rowBlock, colBlock)`, as rows of `rowLength` decimal strings), then `siblings`,
 * each tile's Merkle siblings (leaf level first). Ops with more per-tile inputs append them to `input`.
 */
export async function seedProofInput(
  params: SeedProofParams,
  outputName: string,
  tileWords: (rowBlock: number, colBlock: number) => Uint32Array,
  rowLength: number,
): Promise<SeedProofInput> {
  const { work, tilesPerProof, tree, seed, challenge, miner } = params;
  assertFieldElement("seed", seed);
  assertFieldElement("miner", miner);
  if (!Number.isSafeInteger(tilesPerProof) || tilesPerProof < 1) {
    throw new RangeError(`tilesPerProof must be a positive integer, got ${tilesPerProof}`);
  }
  if (!Number.isSafeInteger(rowLength) || rowLength < 1)
    throw new RangeError(`rowLength must be positive, got ${rowLength}`);
  const tiles = [];
  const words: string[][][] = [];
  const siblings: string[][] = [];
  for (let u = 0; u < tilesPerProof; u++) {
    const tile = await challengedTile(challenge, u, work);
    tiles.push({ rowBlock: tile.rowBlock, colBlock: tile.colBlock });
    const tileOutputs = tileWords(tile.rowBlock, tile.colBlock);
    const rows: string[][] = [];
    for (let start = 0; start < tileOutputs.length; start += rowLength) {
      rows.push(Array.from(tileOutputs.subarray(start, start + rowLength), String));
    }
    words.push(rows);
    siblings.push(tree.siblings(tile.index).map(String));
  }
  const publicInputs = { outputRoot: tree.root, seed, challenge, miner, shape: encodeShape(work.shape) };
  const input: CircuitInput = {
    outputRoot: String(publicInputs.outputRoot),
    seed: String(seed),
    challenge: String(challenge),
    miner: String(miner),
    shape: String(publicInputs.shape),
    [outputName]: words,
    siblings,
  };
  return { input, publicInputs, tiles };
}

/**
 * The full witness input of Fp8GemmSeedProof for `tilesPerProof` challenged tiles. Outputs (C, M×N float32 bit
 * patterns) and the tree must be the miner's committed ones.
 */
export function gemmProofInput(params: SeedProofParams & { work: GemmWork; c: Uint32Array }): Promise<SeedProofInput> {
  const { work, c } = params;
  return seedProofInput(params, "c", (r, col) => tileWords(c, work, r, col), work.tiling.tileCols);
}
