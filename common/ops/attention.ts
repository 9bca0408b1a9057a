/**
 * Seed-mode FP8 multi-head attention (docs/ops/attention.md): work definition, input generation from the seed, the
 * exact reference (bigint) and the numerics contract of circuits/attention_seed.circom, and the proof input.
 *
 * Per head c: O = softmax(Q·Kᵀ/√D + mask)·V with the FP8 recipe: Q, K, V are E4M3FN; scores and softmax in float32;
 * P = QuantizeLinear(softmax, scale 2^-8) as E4M3FN codes; O = DQ(P, 2^-8)·V in float32. The committed words are
 * O' = 2^8·O (exact in float32), i.e. DQ(P, 1)·V, which the circuit checks with the FP8 GEMM contract.
 * Every decision below is made with integers / bigints; no decision depends on a float64 rounding.
 */
import { decodeFp8, fp8ToScaled } from "../fp8.js";
import {
  checkOutput,
  decodeFloat32,
  roundScaledToFloat32Bits,
  toScaledInteger,
  type OutputCheck,
} from "../numerics.js";
import {
  commitTiles,
  seedProofInput,
  seedStream,
  tileIndex,
  type OutputTree,
  type SeedProofInput,
  type SeedProofParams,
  type TileGrid,
  type WorkShape,
  withoutNan,
  assertTile,
} from "../work.js";

/** Stream domains: Q tiles (block = tile index), K and V of a head (block = head). */
export const DOMAIN_ATTENTION_Q = 7n;
export const DOMAIN_ATTENTION_K = 8n;
export const DOMAIN_ATTENTION_V = 9n;

/** Parameters of Fp8AttentionSeedProof(NT, TQ, D, L, CAUSAL, MAX_DR, MAX_DC). */
export interface AttentionTiling extends TileGrid {
  /** TQ: query rows per tile. */
  readonly queryRows: number;
  /** D: head dimension, a power of 4 (1/√D = 2^-kk exactly). */
  readonly headDim: number;
  /** L: keys (and values) per head. */
  readonly keys: number;
  /** Causal mask: key j is visible to query row q iff j ≤ q. Requires keys = queryRows·2^maxRowBlocksLog2. */
  readonly causal: boolean;
}

/** circuits/main/attention_seed_demo_1x4x4_causal.circom: one query row, D = 4, L = 4, causal, 2^2 × 2^2 tiles. */
export const DEMO_ATTENTION_TILING: AttentionTiling = {
  queryRows: 1,
  headDim: 4,
  keys: 4,
  causal: true,
  maxRowBlocksLog2: 2,
  maxColBlocksLog2: 2,
};

/** circuits/main/attention_seed_4x16x16.circom: 4 query rows, D = 16, L = 16, not causal, 2^2 × 2^10 tiles. */
export const PRODUCTION_ATTENTION_TILING: AttentionTiling = {
  queryRows: 4,
  headDim: 16,
  keys: 16,
  causal: false,
  maxRowBlocksLog2: 2,
  maxColBlocksLog2: 10,
};

export interface AttentionWork {
  readonly tiling: AttentionTiling;
  readonly shape: WorkShape;
  /** Query rows per head: queryRows·2^rowBlocksLog2. */
  readonly queries: number;
  /** Heads: 2^colBlocksLog2. */
  readonly heads: number;
}

/** log2 √D, for D a power of 4. */
export function headDimShift(headDim: number): number {
  const kk = Math.round(Math.log2(headDim) / 2);
  if (!Number.isInteger(headDim) || headDim < 1 || 4 ** kk !== headDim) {
    throw new RangeError(`headDim must be a power of 4, got ${headDim}`);
  }
  return kk;
}

/** Score tolerance shift ES: a passing score s̃ has 2^ES·|s̃ − S| ≤ T, ES = 24 − log2 D. */
export function scoreToleranceShift(headDim: number): number {
  return 24 - 2 * headDimShift(headDim);
}

function assertTiling(tiling: AttentionTiling): void {
  const kk = headDimShift(tiling.headDim);
  if (kk > 3) throw new RangeError(`headDim must be at most 64, got ${tiling.headDim}`);
  for (const [name, value, max] of [
    ["queryRows", tiling.queryRows, 112],
    ["keys", tiling.keys, 32],
    ["maxRowBlocksLog2", tiling.maxRowBlocksLog2, 32],
    ["maxColBlocksLog2", tiling.maxColBlocksLog2, 32],
  ] as const) {
    if (!Number.isInteger(value) || value < 1 || value > max) {
      throw new RangeError(`${name} must be an integer in [1, ${max}], got ${value}`);
    }
  }
  if (tiling.queryRows * tiling.headDim > 112) {
    throw new RangeError(`a tile of ${tiling.queryRows}×${tiling.headDim} words exceeds the 112-word leaf limit`);
  }
  if (tiling.causal && tiling.queryRows * 2 ** tiling.maxRowBlocksLog2 !== tiling.keys) {
    throw new RangeError(
      `a causal tiling needs keys = queryRows·2^maxRowBlocksLog2, got ${tiling.keys} ≠ ${tiling.queryRows}·2^${tiling.maxRowBlocksLog2}`,
    );
  }
}

export function defineAttentionWork(tiling: AttentionTiling, shape: WorkShape): AttentionWork {
  assertTiling(tiling);
  const { rowBlocksLog2: dr, colBlocksLog2: dc } = shape;
  if (!Number.isInteger(dr) || dr < 0 || dr > tiling.maxRowBlocksLog2) {
    throw new RangeError(`rowBlocksLog2 must be an integer in [0, ${tiling.maxRowBlocksLog2}], got ${dr}`);
  }
  if (!Number.isInteger(dc) || dc < 0 || dc > tiling.maxColBlocksLog2) {
    throw new RangeError(`colBlocksLog2 must be an integer in [0, ${tiling.maxColBlocksLog2}], got ${dc}`);
  }
  return { tiling, shape, queries: tiling.queryRows * 2 ** dr, heads: 2 ** dc };
}

/** Q rows r·TQ… of head c: TQ×D codes, row-major, stream(seed, 7, tile index). */
export async function queryTile(seed: bigint, tiling: AttentionTiling, rowBlock: number, head: number) {
  const bytes = tiling.queryRows * tiling.headDim;
  return withoutNan(await seedStream(seed, DOMAIN_ATTENTION_Q, tileIndex(tiling, rowBlock, head), bytes));
}

/** K of head c: L×D codes, row-major, stream(seed, 8, c). */
export async function keysOfHead(seed: bigint, tiling: AttentionTiling, head: number): Promise<Uint8Array> {
  return withoutNan(await seedStream(seed, DOMAIN_ATTENTION_K, head, tiling.keys * tiling.headDim));
}

/** V of head c: L×D codes, row-major, stream(seed, 9, c). */
export async function valuesOfHead(seed: bigint, tiling: AttentionTiling, head: number): Promise<Uint8Array> {
  return withoutNan(await seedStream(seed, DOMAIN_ATTENTION_V, head, tiling.keys * tiling.headDim));
}

/** The whole work's inputs, head-major: q (heads × queries × D), k and v (heads × L × D). */
export interface AttentionInputs {
  readonly q: Uint8Array;
  readonly k: Uint8Array;
  readonly v: Uint8Array;
}

export async function generateAttentionInputs(seed: bigint, work: AttentionWork): Promise<AttentionInputs> {
  const { queryRows: tq, headDim: d, keys: l } = work.tiling;
  const q = new Uint8Array(work.heads * work.queries * d);
  const k = new Uint8Array(work.heads * l * d);
  const v = new Uint8Array(work.heads * l * d);
  for (let c = 0; c < work.heads; c++) {
    for (let r = 0; r < work.queries / tq; r++) {
      q.set(await queryTile(seed, work.tiling, r, c), (c * work.queries + r * tq) * d);
    }
    k.set(await keysOfHead(seed, work.tiling, c), c * l * d);
    v.set(await valuesOfHead(seed, work.tiling, c), c * l * d);
  }
  return { q, k, v };
}

/** Whether key j is visible to query row `query` (global index within its head). */
export function isVisible(tiling: AttentionTiling, query: number, key: number): boolean {
  return !tiling.causal || key <= query;
}

// ---------------------------------------------------------------------------------------------------------------
// Outputs of a work (what the miner keeps): committed words plus the private witnesses of the softmax.

/**
 * A work's outputs, head-major: `words` (heads × queries × D) are the committed float32 bit patterns of O' = 2^8·O;
 * `scores` (heads × queries × L) the float32 scores fl(Q·Kᵀ) as exact integers in units 2^-18 (before 1/√D);
 * `pCodes` (heads × queries × L) the E4M3FN codes of P = softmax/2^-8.
 */
export interface AttentionOutputs {
  readonly words: Uint32Array;
  readonly scores: readonly bigint[];
  readonly pCodes: Uint8Array;
}

function assertOutputs(outputs: AttentionOutputs, work: AttentionWork): void {
  const rows = work.heads * work.queries;
  const { headDim: d, keys: l } = work.tiling;
  if (outputs.words.length !== rows * d)
    throw new RangeError(`expected ${rows * d} words, got ${outputs.words.length}`);
  if (outputs.scores.length !== rows * l)
    throw new RangeError(`expected ${rows * l} scores, got ${outputs.scores.length}`);
  if (outputs.pCodes.length !== rows * l)
    throw new RangeError(`expected ${rows * l} P codes, got ${outputs.pCodes.length}`);
}

/** Offset of tile (r, c)'s first row in the head-major row order. */
function tileRowOffset(work: AttentionWork, rowBlock: number, head: number): number {
  assertTile(work, rowBlock, head);
  return head * work.queries + rowBlock * work.tiling.queryRows;
}

/** The committed words of tile (r, c): TQ×D, row-major (query row, then d). */
export function attentionTileWords(outputs: AttentionOutputs, work: AttentionWork, r: number, c: number): Uint32Array {
  assertOutputs(outputs, work);
  const { queryRows: tq, headDim: d } = work.tiling;
  const start = tileRowOffset(work, r, c) * d;
  return outputs.words.slice(start, start + tq * d);
}

/** The output commitment of a whole attention work: one leaf per tile. */
export function commitAttentionOutputs(outputs: AttentionOutputs, work: AttentionWork): Promise<OutputTree> {
  return commitTiles(work, (r, c) => attentionTileWords(outputs, work, r, c));
}

// ---------------------------------------------------------------------------------------------------------------
// Exact reference

/** Exact scores S = Σ q·k and T = Σ |q·k| (units 2^-18) of one query row against L keys (codes, row-major L×D). */
export function exactScores(queryRow: Uint8Array, keys: Uint8Array, headDim: number): { s: bigint[]; t: bigint[] } {
  const q = Array.from(queryRow, (code) => BigInt(fp8ToScaled(code, "e4m3fn")));
  const s: bigint[] = [];
  const t: bigint[] = [];
  for (let j = 0; j < keys.length / headDim; j++) {
    let dot = 0n;
    let abs = 0n;
    for (let d = 0; d < headDim; d++) {
      const product = q[d]! * BigInt(fp8ToScaled(keys[j * headDim + d]!, "e4m3fn"));
      dot += product;
      abs += product < 0n ? -product : product;
    }
    s.push(dot);
    t.push(abs);
  }
  return { s, t };
}

/** The score contract: 2^ES·|s̃ − S| ≤ T (any float32 summation order of D exact products satisfies it). */
export function scoreWithinBound(score: bigint, s: bigint, t: bigint, headDim: number): boolean {
  const gap = (score - s) << BigInt(scoreToleranceShift(headDim));
  return gap <= t && -gap <= t;
}

/** Fraction bits of the reference's softmax values (q = value / 2^SOFTMAX_PRECISION). */
export const SOFTMAX_PRECISION = 128;
const PREC = BigInt(SOFTMAX_PRECISION);
const WORK_PREC = PREC + 24n;
const ONE = 1n << WORK_PREC;

/**
 * exp(−x·2^-f) as v with |v·2^-128 − exp(−x·2^-f)| ≤ 2^-128, for integer x ≥ 0 (bigint Taylor series and squaring).
 * Arguments of 64 or more give 0 (the true value is below 2^-92, far inside the 1-unit bound after the softmax's
 * own tolerance; see expInterval).
 */
export function expNegReference(x: bigint, f: number): bigint {
  if (x < 0n) throw new RangeError(`expNeg needs x ≥ 0, got ${x}`);
  if (x >= 64n << BigInt(f)) return 0n;
  // y = x·2^-(f+6) < 1; exp(−y) by Taylor (floor at every step, ≤ 2 units of 2^-WORK_PREC error per term).
  const y = (x << WORK_PREC) >> BigInt(f + 6);
  let term = ONE;
  let sum = ONE;
  for (let n = 1n; n <= 60n; n++) {
    term = (term * y) / (n << WORK_PREC);
    sum += n % 2n === 1n ? -term : term;
    if (term === 0n) break;
  }
  // Six squarings: the error grows to at most 2^6·(~130 + 2) units of 2^-WORK_PREC < 2^-(PREC+8).
  for (let i = 0; i < 6; i++) sum = (sum * sum) >> WORK_PREC;
  return sum >> (WORK_PREC - PREC);
}

/** Softmax bounds of one row: q_j ∈ [lo_j, hi_j]·2^-128 for the exact softmax of the visible scores (units 2^-f). */
export interface SoftmaxInterval {
  readonly lo: bigint[];
  readonly hi: bigint[];
}

/** The exact softmax of `scores` (integers in units 2^-f) over the visible positions, as rigorous intervals. */
export function softmaxInterval(scores: readonly bigint[], visible: readonly boolean[], f: number): SoftmaxInterval {
  const shown = scores.filter((_, j) => visible[j]);
  if (shown.length === 0) throw new RangeError("a softmax row needs at least one visible key");
  const max = shown.reduce((a, b) => (b > a ? b : a));
  // e_j within ±2 units (expNeg's 1 unit plus the rounding of >> (WORK_PREC − PREC)).
  const e = scores.map((score, j) => (visible[j] ? expNegReference(max - score, f) : 0n));
  const count = BigInt(shown.length);
  const z = e.reduce((a, b) => a + b, 0n);
  const zLo = z - 2n * count;
  const zHi = z + 2n * count;
  const lo = e.map((v, j) => (visible[j] && v > 2n ? ((v - 2n) << PREC) / zHi : 0n));
  const hi = e.map((v, j) => (visible[j] ? ((v + 2n) << PREC) / zLo + 1n : 0n));
  return { lo, hi };
}

/** ulp of an E4M3FN magnitude code's binade, in units 2^-9: 2^(max(e, 1) − 1). */
function e4m3Ulp(code: number): bigint {
  const exponent = (code >> 3) & 0xf;
  return 1n << BigInt(Math.max(exponent, 1) - 1);
}

/**
 * The P contract for one code (P = n·2^-17, n its E4M3FN value in units 2^-9), with tolerance
 * |P − q| ≤ ulp(P)/2 + 2^-REL·q + 2^-ABS, decided exactly for every q in [lo, hi]·2^-128.
 * Returns true when it holds for all q in the interval (`mode: "all"`) or for some q (`mode: "some"`).
 */
function pWithin(code: number, lo: bigint, hi: bigint, rel: bigint, abs: bigint, mode: "all" | "some"): boolean {
  if (code < 0 || code > 127) return false;
  const decoded = decodeFp8(code, "e4m3fn");
  if (decoded.kind !== "finite") return false;
  const p = BigInt(decoded.scaled) << (PREC - 17n);
  const halfUlp = e4m3Ulp(code) << (PREC - 18n);
  // g(q) = |P − q| − 2^-rel·q is convex in q: its max over [lo, hi] is at an end, its min at an end or at q = P.
  // Scaled by 2^rel to keep everything integral: 2^rel·|P − q| − q ≤ 2^rel·(halfUlp + 2^-abs).
  const bound = (halfUlp << rel) + (1n << (PREC + rel - abs));
  const g = (q: bigint) => ((p > q ? p - q : q - p) << rel) - q;
  if (mode === "all") return g(lo) <= bound && g(hi) <= bound;
  const candidates = [lo, hi];
  if (p >= lo && p <= hi) candidates.push(p);
  return candidates.some((q) => g(q) <= bound);
}

/** The circuit's tolerance is 2^-16·q + 2^-24 around its own exp approximation; see docs/ops/attention.md. */
export const P_TOLERANCE = {
  /** Guaranteed accepted: within ulp/2 + 2^-17·q + 2^-26 of the exact softmax. */
  inner: { rel: 17n, abs: 26n },
  /** Guaranteed refused: beyond ulp/2 + 2^-14·q + 2^-22 of the exact softmax. */
  outer: { rel: 14n, abs: 22n },
} as const;

export type PVerdict = "inside" | "gray" | "outside";

/** Where a P code stands against the contract for the exact softmax interval [lo, hi]. */
export function pCodeVerdict(code: number, lo: bigint, hi: bigint): PVerdict {
  const { inner, outer } = P_TOLERANCE;
  if (pWithin(code, lo, hi, inner.rel, inner.abs, "all")) return "inside";
  if (pWithin(code, lo, hi, outer.rel, outer.abs, "some")) return "gray";
  return "outside";
}

/** E4M3FN code of the value n (units 2^-9, 0 ≤ n ≤ 229376, on the E4M3FN grid). */
function e4m3CodeOfUnits(n: bigint): number {
  if (n < 8n) return Number(n);
  const top = n.toString(2).length - 1; // n ∈ [2^top, 2^(top+1))
  const exponent = top - 2; // biased exponent field: n = (8 + m)·2^(exponent − 1)
  const mantissa = Number(n >> BigInt(exponent - 1)) - 8;
  return (exponent << 3) | mantissa;
}

/** The E4M3FN code nearest (ties to even) to q·2^8 for q = x·2^-128 ∈ [0, 1]. */
export function nearestPCode(x: bigint): number {
  // value in units 2^-9 of the E4M3 value: q·2^8·2^9 = x·2^-111.
  const units = x; // over 2^111
  const scale = PREC - 17n;
  const whole = units >> scale;
  const top = whole === 0n ? -1 : whole.toString(2).length - 1;
  const stepShift = top < 3 ? 0n : BigInt(top - 3);
  const shift = scale + stepShift;
  let n = units >> shift;
  const remainder = units - (n << shift);
  const half = 1n << (shift - 1n);
  if (remainder > half || (remainder === half && (n & 1n) === 1n)) n += 1n;
  return e4m3CodeOfUnits(n << stepShift);
}

/** Exact S' = Σ_j n_j·v_j and T' = Σ |n_j·v_j| (units 2^-18) of O' = DQ(P, 1)·V for one row and column d. */
export function exactOutput(pCodes: Uint8Array, values: Uint8Array, headDim: number, d: number) {
  let s = 0n;
  let t = 0n;
  pCodes.forEach((code, j) => {
    const product = BigInt(fp8ToScaled(code, "e4m3fn")) * BigInt(fp8ToScaled(values[j * headDim + d]!, "e4m3fn"));
    s += product;
    t += product < 0n ? -product : product;
  });
  return { s, t };
}

/** Score units: s̃·2^-F is the softmax argument, F = 18 + log2 √D. */
export function scoreFractionBits(headDim: number): number {
  return 18 + headDimShift(headDim);
}

/** One row's reference data: exact scores, visibility and the softmax interval of the given (witness) scores. */
function rowContext(work: AttentionWork, inputs: AttentionInputs, head: number, query: number) {
  const { headDim: d, keys: l } = work.tiling;
  const qRow = inputs.q.subarray((head * work.queries + query) * d, (head * work.queries + query + 1) * d);
  const keys = inputs.k.subarray(head * l * d, (head + 1) * l * d);
  const values = inputs.v.subarray(head * l * d, (head + 1) * l * d);
  const visible = Array.from({ length: l }, (_, j) => isVisible(work.tiling, query, j));
  return { ...exactScores(qRow, keys, d), visible, values };
}

/**
 * The reference's honest outputs: scores s̃ = S (exact), P = the nearest E4M3FN code to the exact softmax·2^8 and
 * O' = the exact DQ(P, 1)·V rounded once to float32.
 */
export function referenceAttentionOutputs(work: AttentionWork, inputs: AttentionInputs): AttentionOutputs {
  const { headDim: d, keys: l } = work.tiling;
  const f = scoreFractionBits(d);
  const rows = work.heads * work.queries;
  const words = new Uint32Array(rows * d);
  const scores: bigint[] = [];
  const pCodes = new Uint8Array(rows * l);
  for (let head = 0; head < work.heads; head++) {
    for (let query = 0; query < work.queries; query++) {
      const row = head * work.queries + query;
      const { s, visible, values } = rowContext(work, inputs, head, query);
      const { lo, hi } = softmaxInterval(s, visible, f);
      const codes = Uint8Array.from(lo, (low, j) => nearestPCode((low + hi[j]!) / 2n));
      pCodes.set(codes, row * l);
      scores.push(...s);
      for (let col = 0; col < d; col++) {
        words[row * d + col] = roundScaledToFloat32Bits(exactOutput(codes, values, d, col).s, 18);
      }
    }
  }
  return { words, scores, pCodes };
}

/** Result of checking a work's outputs against the contract. */
export interface AttentionCheck {
  readonly ok: boolean;
  /** Scores outside 2^ES·|s̃ − S| ≤ T. */
  readonly badScores: number;
  /** P codes not guaranteed accepted ("gray") and guaranteed refused ("outside"). */
  readonly grayCodes: number;
  readonly outsideCodes: number;
  /** Output words failing the GEMM contract for DQ(P, 1)·V. */
  readonly badWords: number;
  /** max 2^ES·|s̃ − S|/T over all scores (≤ 1 passes), for reporting. */
  readonly worstScoreRatio: number;
  /** max over P codes of |P − q|/(ulp/2 + 2^-17·q + 2^-26) at q's interval midpoint (≤ 1 passes), for reporting. */
  readonly worstPRatio: number;
  /** max |X − 512·S'|/T' over the words (≤ 1 passes), for reporting. */
  readonly worstOutputRatio: number;
}

/** Checks outputs of a whole work (e.g. ORT's) against the contract, with the exact reference of the inputs. */
export function checkAttentionOutputs(
  work: AttentionWork,
  inputs: AttentionInputs,
  outputs: AttentionOutputs,
): AttentionCheck {
  assertOutputs(outputs, work);
  const { headDim: d, keys: l } = work.tiling;
  const f = scoreFractionBits(d);
  const es = BigInt(scoreToleranceShift(d));
  let [badScores, grayCodes, outsideCodes, badWords] = [0, 0, 0, 0];
  let [worstScoreRatio, worstPRatio, worstOutputRatio] = [0, 0, 0];
  for (let head = 0; head < work.heads; head++) {
    for (let query = 0; query < work.queries; query++) {
      const row = head * work.queries + query;
      const { s, t, visible, values } = rowContext(work, inputs, head, query);
      const witness = outputs.scores.slice(row * l, (row + 1) * l);
      witness.forEach((score, j) => {
        if (!scoreWithinBound(score, s[j]!, t[j]!, d)) badScores++;
        const gap = (score > s[j]! ? score - s[j]! : s[j]! - score) << es;
        worstScoreRatio = Math.max(worstScoreRatio, t[j] === 0n ? (gap === 0n ? 0 : Infinity) : ratio(gap, t[j]!));
      });
      const { lo, hi } = softmaxInterval(witness, visible, f);
      const codes = outputs.pCodes.subarray(row * l, (row + 1) * l);
      codes.forEach((code, j) => {
        const verdict = pCodeVerdict(code, lo[j]!, hi[j]!);
        if (verdict === "gray") grayCodes++;
        if (verdict === "outside") outsideCodes++;
        worstPRatio = Math.max(worstPRatio, pRatio(code, (lo[j]! + hi[j]!) / 2n));
      });
      if (codes.some((code) => decodeFp8(code, "e4m3fn").kind !== "finite")) {
        badWords += d;
        continue;
      }
      for (let col = 0; col < d; col++) {
        const { s: so, t: to } = exactOutput(codes, values, d, col);
        const check: OutputCheck = checkOutput(outputs.words[row * d + col]!, so, to, "e4m3fn");
        if (!check.ok) badWords++;
        if (check.ok || check.reason === "out-of-tolerance") {
          worstOutputRatio = Math.max(
            worstOutputRatio,
            check.bound === 0n ? (check.error === 0n ? 0 : Infinity) : ratio(check.error, check.bound),
          );
        }
      }
    }
  }
  const ok = badScores === 0 && grayCodes === 0 && outsideCodes === 0 && badWords === 0;
  return { ok, badScores, grayCodes, outsideCodes, badWords, worstScoreRatio, worstPRatio, worstOutputRatio };
}

/** a/b for reporting (bigint division first, so large operands keep their precision). */
function ratio(a: bigint, b: bigint): number {
  const scaled = (a << 40n) / b;
  return Number(scaled) / 2 ** 40;
}

/** |P − q| / (ulp/2 + 2^-17·q + 2^-26) for q = x·2^-128, for reporting. */
function pRatio(code: number, x: bigint): number {
  const decoded = decodeFp8(code, "e4m3fn");
  if (decoded.kind !== "finite" || code > 127) return Infinity;
  const p = BigInt(decoded.scaled) << (PREC - 17n);
  const tolerance = (e4m3Ulp(code) << (PREC - 18n)) + (x >> 17n) + (1n << (PREC - 26n));
  return ratio(p > x ? p - x : x - p, tolerance);
}

/** The float32 score word (bit pattern of fl(Q·Kᵀ)) as its exact integer in units 2^-18; throws off the grid. */
export function scoreFromFloat32(bits: number): bigint {
  const decoded = decodeFloat32(bits);
  const value = decoded.kind === "finite" ? toScaledInteger(decoded, 18) : null;
  if (value === null) throw new RangeError(`score word 0x${bits.toString(16)} is not a finite multiple of 2^-18`);
  return value;
}

// ---------------------------------------------------------------------------------------------------------------
// Proof input

/** The witness input of Fp8AttentionSeedProof for `tilesPerProof` challenged tiles of the committed outputs. */
export async function attentionProofInput(
  params: SeedProofParams & { work: AttentionWork; outputs: AttentionOutputs },
): Promise<SeedProofInput> {
  const { work, outputs } = params;
  const { queryRows: tq, headDim: d, keys: l } = work.tiling;
  const proof = await seedProofInput(params, "o", (r, head) => attentionTileWords(outputs, work, r, head), d);
  /** The per-row values of each challenged tile: f(row in the head-major row order, query index). */
  const perRow = <T>(f: (row: number, query: number) => T): T[][] =>
    proof.tiles.map(({ rowBlock, colBlock }) => {
      const first = tileRowOffset(work, rowBlock, colBlock);
      return Array.from({ length: tq }, (_, i) => f(first + i, rowBlock * tq + i));
    });
  const scoresOf = (row: number) => outputs.scores.slice(row * l, (row + 1) * l);
  return {
    ...proof,
    input: {
      ...proof.input,
      score: perRow((row) => scoresOf(row).map(String)),
      rowMax: perRow((row, query) => {
        const shown = scoresOf(row).filter((_, j) => isVisible(work.tiling, query, j));
        return String(shown.reduce((a, b) => (b > a ? b : a)));
      }),
      pCode: perRow((row) => Array.from(outputs.pCodes.subarray(row * l, (row + 1) * l), String)),
    },
  };
}
