/**
 * Witness re-derivation for the numerics-contract checks of the op circuits (Fp8GemmContractCheck in
 * circuits/lib/gemm.circom, Fp8BatchNormContractCheck in circuits/lib/batchnorm.circom), and the float32 words at the
 * contract's bounds. A test replaces an output word and re-derives every wire that depends on it as an honest prover
 * would, except that range-check bits can only be the low bits of a (possibly negative) gap: a contract-violating
 * word then fails exactly at the constraints that encode the contract, not at bookkeeping.
 */
import { decodeFloat32, float32Bits, toScaledInteger } from "../../common/numerics.js";
import { fieldInverse, fieldMod, type CircuitHarness } from "./circuit.js";

/** Float32OnGrid(gridShift, shiftBits) (circuits/lib/float32.circom) reads a word as X = c·2^gridShift. */
export interface Float32Grid {
  readonly gridShift: number;
  readonly shiftBits: number;
}

/** The grid of FP8 GEMM outputs (Fp8GemmContractCheck: Float32OnGrid(27, 6)); conv and attention reuse it. */
export const GEMM_OUTPUT_GRID: Float32Grid = { gridShift: 27, shiftBits: 6 };

/** Range-check width of Fp8GemmContractCheck at depth K: bitLength(2·K·229376²). */
function gemmRangeBits(k: number): number {
  return (2n * BigInt(k) * 229376n * 229376n).toString(2).length;
}

/** Sets a RangeCheck component's input and bits as an honest prover would for `value` (low bits when out of range). */
export function setRangeCheck(set: Map<string, bigint>, prefix: string, value: bigint, bits: number): void {
  const v = fieldMod(value);
  set.set(`${prefix}.in`, v);
  for (let bit = 0; bit < bits; bit++) set.set(`${prefix}.bits[${bit}]`, (v >> BigInt(bit)) & 1n);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.[\]]/g, (c) => `\\${c}`);
}

/** Every wire of the Float32OnGrid component `out` for `word`, as an honest prover computes them. */
function float32OnGridWires(
  harness: CircuitHarness,
  out: string,
  word: number,
  grid: Float32Grid,
): Map<string, bigint> {
  const set = new Map<string, bigint>();
  const bits = Array.from({ length: 32 }, (_, bit) => BigInt((word >>> bit) & 1));
  bits.forEach((bit, index) => set.set(`${out}.bits[${index}]`, bit));
  const mantissa = BigInt(word & 0x7fffff);
  const exponent = BigInt((word >>> 23) & 0xff);
  const zero = exponent === 0n ? 1n : 0n;
  set.set(`${out}.isZeroExponent`, zero);
  const inv = harness.signals(new RegExp(`^${escapeRegExp(out)}\\.IsZero_[0-9_]+\\.inv$`));
  if (inv.length !== 1) throw new Error(`${out} has ${inv.length} IsZero inverse wires, expected 1`);
  set.set(inv[0]!, exponent === 0n ? 0n : fieldInverse(exponent));
  const shift = fieldMod((1n - zero) * (exponent - BigInt(127 - grid.gridShift)));
  set.set(`${out}.shift`, shift);
  let pow = 1n;
  for (let bit = 0; bit < grid.shiftBits; bit++) {
    const b = (shift >> BigInt(bit)) & 1n;
    set.set(`${out}.shiftBits[${bit}]`, b);
    pow = bit === 0 ? 1n + b : fieldMod(pow * (1n + ((1n << (1n << BigInt(bit))) - 1n) * b));
    set.set(`${out}.pow2[${bit}]`, pow);
  }
  const significand = (1n - zero) * (1n << 23n) + mantissa;
  set.set(`${out}.significand`, significand);
  const scaled = fieldMod(significand * pow);
  set.set(`${out}.scaled`, scaled);
  set.set(`${out}.value`, fieldMod((1n - 2n * bits[31]!) * scaled * fieldInverse(1n << 23n)));
  return set;
}

/** Where output (i, j) of a contract check lives in a circuit. */
export interface ContractOutput {
  /** The contract check's signal prefix: its outputWord, lowerGap and upperGap components are below it. */
  readonly check: string;
  /** The signal of the committed word, e.g. "main.c[0][1]". */
  readonly wordSignal: string;
  /** The signal array of the word's bits, indexed [i][j][bit], e.g. "main.check.cBits". */
  readonly bitsSignal: string;
  readonly i: number;
  readonly j: number;
  readonly grid: Float32Grid;
}

/** The contract for one output: |X − centre| ≤ tolerance, checked by two RangeChecks of `rangeBits` bits. */
export interface ContractBound {
  readonly centre: bigint;
  readonly tolerance: bigint;
  readonly rangeBits: number;
}

/** `witness` with output `output` set to `word` and every wire that depends on it re-derived (module comment). */
export function rederiveOutput(
  harness: CircuitHarness,
  witness: readonly bigint[],
  output: ContractOutput,
  word: number,
  bound: ContractBound,
): bigint[] {
  const { check, i, j } = output;
  const set = float32OnGridWires(harness, `${check}.outputWord[${i}][${j}]`, word, output.grid);
  set.set(output.wordSignal, BigInt(word));
  for (let bit = 0; bit < 32; bit++) set.set(`${output.bitsSignal}[${i}][${j}][${bit}]`, BigInt((word >>> bit) & 1));
  const value = set.get(`${check}.outputWord[${i}][${j}].value`)!;
  setRangeCheck(set, `${check}.lowerGap[${i}][${j}]`, value - bound.centre + bound.tolerance, bound.rangeBits);
  setRangeCheck(set, `${check}.upperGap[${i}][${j}]`, bound.centre + bound.tolerance - value, bound.rangeBits);
  return harness.editWired(witness, set);
}

/** The output (i, j) of an Fp8GemmContractCheck at `check` whose committed word is `wordSignal`. */
export function gemmOutput(check: string, wordSignal: string, i: number, j: number): ContractOutput {
  return { check, wordSignal, bitsSignal: `${check}.cBits`, i, j, grid: GEMM_OUTPUT_GRID };
}

/** The GEMM contract of exact sums S and T at depth K: |X − 512·S| ≤ T with X = c·2^27. */
export function gemmBound(s: bigint, t: bigint, k: number): ContractBound {
  return { centre: 512n * s, tolerance: t, rangeBits: gemmRangeBits(k) };
}

/**
 * Words Float32OnGrid(gridShift, shiftBits) refuses whatever the contract's bound: NaN, ±Inf, a nonzero subnormal,
 * off-grid values (0.5, 0.75 and 1.5 grid units) and the smallest power of two too large (2^(2^shiftBits − gridShift)).
 */
export function refusedWords(grid: Float32Grid): Record<string, number> {
  const unit = 2 ** -grid.gridShift;
  return {
    nan: 0x7fc00000,
    infinity: 0x7f800000,
    negativeInfinity: 0xff800000,
    subnormal: 0x00000001,
    offGridHalf: float32Bits(unit / 2),
    offGridThreeQuarters: float32Bits((3 * unit) / 4),
    offGridThreeHalves: float32Bits((3 * unit) / 2),
    huge: float32Bits(2 ** (2 ** grid.shiftBits - grid.gridShift)),
  };
}

/** X = c·2^gridShift for an on-grid finite float32 word, else null (independent of the circuit). */
function gridValue(word: number, gridShift: number): bigint | null {
  const decoded = decodeFloat32(word);
  return decoded.kind === "finite" ? toScaledInteger(decoded, gridShift) : null;
}

/** float32 bit patterns as integers ordered like their values (±0 both map to 0), and back. */
const orderKey = (word: number): number => (word < 0x80000000 ? word : -(word - 0x80000000));
const fromOrderKey = (key: number): number => (key >= 0 ? key : 0x80000000 - key);

/** The largest float32 with |X − centre| ≤ tolerance, and the next one up, which is outside. */
function upperBoundaryWords(centre: bigint, tolerance: bigint, gridShift: number): { inside: number; outside: number } {
  const within = (w: number) => {
    const x = gridValue(w, gridShift);
    return x !== null && x - centre <= tolerance && centre - x <= tolerance;
  };
  // The bound centre + tolerance may be negative, so patterns are stepped in value order from a float64 estimate.
  let key = orderKey(float32Bits(Math.fround(Number(centre + tolerance) * 2 ** -gridShift)));
  for (let steps = 0; !within(fromOrderKey(key)); steps++, key--) {
    if (steps > 1_000_000)
      throw new Error(`no float32 within the bound near the estimate for ${centre} ± ${tolerance}`);
  }
  for (let steps = 0; within(fromOrderKey(key + 1)); steps++, key++) {
    if (steps > 1_000_000) throw new Error(`the bound ${centre} ± ${tolerance} is far from its estimate`);
  }
  return { inside: fromOrderKey(key), outside: fromOrderKey(key + 1) };
}

/**
 * The float32 words at one side of the contract |X − centre| ≤ tolerance (X = word·2^gridShift): the outermost word
 * inside and the next one beyond it.
 */
export function boundaryWords(
  side: "upper" | "lower",
  { centre, tolerance }: Pick<ContractBound, "centre" | "tolerance">,
  grid: Float32Grid,
): { inside: number; outside: number } {
  if (side === "upper") return upperBoundaryWords(centre, tolerance, grid.gridShift);
  // The lower bound of (centre, tolerance) is the negated upper bound of (−centre, tolerance).
  const { inside, outside } = upperBoundaryWords(-centre, tolerance, grid.gridShift);
  return { inside: (inside ^ 0x80000000) >>> 0, outside: (outside ^ 0x80000000) >>> 0 };
}
