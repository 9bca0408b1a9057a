/**
 * One row of the per-op prover benchmark (bench/ops/<op>.ts → `benchOp()`): the production circuit of an op, its
 * constraint count, the work one challenged tile covers and the measured dev-setup Groth16 witness and prove times.
 */
export interface OpBenchRow {
  /** Op name, e.g. `gemm`, `conv`. */
  op: string;
  /** Main circuit file the row was measured on (repo-relative). */
  circuit: string;
  /** R1CS constraints of that main. */
  constraints: number;
  /** float32 outputs committed per tile (the tile's leaf words). */
  outputsPerTile: number;
  /** FP8 multiply-accumulates behind one tile's outputs (0 for ops without dot products). */
  macsPerTile: number;
  /** constraints / outputsPerTile. */
  constraintsPerOutput: number;
  /** constraints / macsPerTile, or null when the op has no MACs. */
  constraintsPerMac: number | null;
  /** Median witness-generation time of one honest tile, milliseconds. */
  witnessMs: number;
  /** Median Groth16 prove time of one honest tile, milliseconds. */
  proveMs: number;
}
