/**
 * What the job-mode circuit tests (test/gemm-job.test.ts, test/conv-job.test.ts, test/batchnorm-job.test.ts) share:
 * the miner of their proofs, the locked size of a job main, the challenge of a given tile, standalone sub-circuits
 * whose witnesses are transplanted into a main's, and the Groth16 proof of a demo main with its committed ceremony key.
 */
import path from "node:path";
import * as snarkjs from "snarkjs";
import { afterAll, describe, expect, it } from "vitest";
import { constraintCounts, inspectWarnings, instantiateCircuit, REPO_ROOT } from "../../circuits/compile.js";
import type { BlockTree, JobProofMaterial } from "../../common/job-commitment.js";
import { challengedTile, type GridWork, type OutputTree } from "../../common/work.js";
import { jobCircuit, prepareJobCircuit, type JobCircuitName } from "../../miner/job-circuits.js";
import { readR1csHeader, requiredPtauPower } from "../../prover/setup.js";
import { terminateBn128Curve } from "../../prover/snarkjs-runtime.js";
import { CircuitHarness, FIELD, fieldInverse } from "./circuit.js";

/** The miner address the job tests' proofs are bound to. */
export const MINER = 0x70997970c51812dc3a010c7d01b50e0d17dc79c8n;

/** The six public inputs of every job main, as edit classes for `expectEditsRejected` (test/helpers/soundness.ts). */
export const JOB_PUBLIC_INPUT_CLASSES: Readonly<Record<string, readonly string[]>> = {
  "public output root": ["main.outputRoot"],
  "public input root": ["main.inputRoot"],
  "public weight root": ["main.weightRoot"],
  "public challenge": ["main.challenge"],
  "public miner": ["main.miner"],
  "public shape": ["main.shape"],
};

/**
 * The locked size of a job main: circom's constraint counts, the exact ptau power prover/setup.ts needs for its
 * constraints and public signals, the six public inputs and a clean `circom --inspect`.
 */
export async function expectJobMain(
  harness: CircuitHarness,
  locked: { nonLinear: number; ptauPower: number },
): Promise<void> {
  const { log, r1csPath } = harness.compiled;
  expect(constraintCounts(log)).toEqual({ nonLinear: locked.nonLinear, linear: 0 });
  expect(requiredPtauPower(await readR1csHeader(r1csPath))).toBe(locked.ptauPower);
  expect(harness.r1cs.publicInputs).toBe(6);
  expect(inspectWarnings(log)).toEqual([]);
}

/** Standalone instances of the templates a job main uses for one input leaf, its Merkle path and an E4M3 decoding. */
export interface InputStandalones {
  /** PackedBytesHash(32): a 32-byte input leaf. */
  readonly leaf: CircuitHarness;
  /** MerkleRootFromPath(depth). */
  readonly path: CircuitHarness;
  /** Fp8MagnitudeFromBits(4, 3): the magnitude of an E4M3FN code. */
  readonly raw: CircuitHarness;
}

export async function loadInputStandalones(pathDepth: number): Promise<InputStandalones> {
  return {
    leaf: await CircuitHarness.load(
      await instantiateCircuit("test_packed_bytes_hash_32", "lib/input_commitment.circom", "PackedBytesHash", [32]),
    ),
    path: await loadMerklePath(pathDepth),
    raw: await CircuitHarness.load(
      await instantiateCircuit("test_fp8_magnitude_e4m3", "lib/fp8.circom", "Fp8MagnitudeFromBits", [4, 3]),
    ),
  };
}

export async function loadMerklePath(depth: number): Promise<CircuitHarness> {
  return CircuitHarness.load(
    await instantiateCircuit(`test_merkle_path_${depth}`, "lib/merkle.circom", "MerkleRootFromPath", [depth]),
  );
}

/** The witness of a standalone MerkleRootFromPath for `leaf` at `index` with `siblings` (one per level). */
export function merklePathWitness(
  pathHarness: CircuitHarness,
  leaf: bigint,
  siblings: readonly bigint[],
  index: number,
): Promise<bigint[]> {
  return pathHarness.witness({
    leaf: String(leaf),
    siblings: siblings.map(String),
    indexBits: Array.from({ length: siblings.length }, (_, b) => String((index >> b) & 1)),
  });
}

/** An E4M3FN code decoded by a standalone Fp8MagnitudeFromBits(4, 3), and the wires an honest decoding sets. */
export interface CodeDecoding {
  /** The code's bits, least significant first. */
  readonly bits: number[];
  readonly rawWitness: bigint[];
  readonly magnitude: bigint;
  /** The signed value: ±magnitude. */
  readonly value: bigint;
  /** An honest prover's inverse: 1/(|n| − 245760), and 0 when there is none (the NaN code). */
  readonly nanInverse: bigint;
}

export async function decodeCode(raw: CircuitHarness, code: number): Promise<CodeDecoding> {
  const bits = Array.from({ length: 8 }, (_, b) => (code >> b) & 1);
  const rawWitness = await raw.witness({ m: bits.slice(0, 3).map(String), e: bits.slice(3, 7).map(String) });
  const magnitude = raw.value(rawWitness, "main.magnitude");
  const value = (1n - 2n * BigInt(bits[7]!)) * magnitude;
  const gap = (magnitude - 245760n + FIELD) % FIELD;
  return { bits, rawWitness, magnitude, value, nanInverse: gap === 0n ? 0n : fieldInverse(gap) };
}

/** A standalone ChallengedTiles(1, words, maxRowBlocksLog2, maxColBlocksLog2): one tile's output opening. */
export async function loadChallengedTiles(
  words: number,
  maxRowBlocksLog2: number,
  maxColBlocksLog2: number,
): Promise<CircuitHarness> {
  return CircuitHarness.load(
    await instantiateCircuit(
      `test_challenged_tiles_1x${words}_${maxRowBlocksLog2}_${maxColBlocksLog2}`,
      "lib/tile_commitment.circom",
      "ChallengedTiles",
      [1, words, maxRowBlocksLog2, maxColBlocksLog2],
    ),
  );
}

/**
 * The wires of `harness`'s output opening (main.tiles, main.outputRoot, main.siblings[0]) for re-committed outputs:
 * a new output root, the challenged tile's words and its siblings, from a standalone ChallengedTiles.
 */
export async function outputOpeningWires(
  harness: CircuitHarness,
  tiles: CircuitHarness,
  opening: { root: bigint; siblings: readonly bigint[]; challenge: bigint; shape: number; words: readonly number[] },
): Promise<Map<string, bigint>> {
  const standalone = await tiles.witness({
    outputRoot: String(opening.root),
    challenge: String(opening.challenge),
    shape: String(opening.shape),
    words: [opening.words.map(String)],
    siblings: [opening.siblings.map(String)],
  });
  const set = harness.transplant("main.tiles", tiles, standalone);
  set.set("main.outputRoot", opening.root);
  opening.siblings.forEach((s, d) => set.set(`main.siblings[0][${d}]`, s));
  return set;
}

/**
 * A Groth16 proof of demo job circuit `key` with its committed ceremony key ({@link expectCeremonyProof}) of the proof
 * input `proofInput()` builds; `maxPower`, when given, bounds the setup's ptau power.
 */
export function describeCeremonyProof(
  key: JobCircuitName,
  proofInput: () => Promise<{ input: Record<string, unknown>; publicSignals: readonly bigint[] }>,
  maxPower?: number,
): void {
  describe(`Groth16 proof of the demo main with the committed ceremony key (ceremony/${key})`, () => {
    afterAll(async () => {
      await terminateBn128Curve(); // fullProve and verify built snarkjs' shared curve and its worker threads
    });

    it("proves and verifies; a changed public input does not verify", async () => {
      const power = await expectCeremonyProof(key, await proofInput());
      if (maxPower !== undefined) expect(power).toBeLessThanOrEqual(maxPower);
    }, 600_000);
  });
}

/**
 * Proves `proof.input` with the committed ceremony key of job circuit `key` (ceremony/<key>/final.zkey, which its
 * manifest pins, not a local dev setup): the proof has the expected `proof.publicSignals` and verifies, and it does
 * not verify with any one public input changed. Returns the ptau power of the setup.
 */
export async function expectCeremonyProof(
  key: JobCircuitName,
  proof: { input: Record<string, unknown>; publicSignals: readonly bigint[] },
): Promise<number> {
  const prepared = await prepareJobCircuit(jobCircuit(key));
  expect(path.relative(REPO_ROOT, prepared.setup.zkeyPath)).toBe(path.join("ceremony", key, "final.zkey"));
  const started = performance.now();
  const { proof: groth16, publicSignals } = await snarkjs.groth16.fullProve(
    proof.input,
    prepared.setup.prover.wasmPath,
    prepared.setup.prover.zkeyPath,
  );
  console.log(`${prepared.circuit.name}: groth16.fullProve ${((performance.now() - started) / 1000).toFixed(1)} s`);
  expect(publicSignals.map(BigInt)).toEqual(proof.publicSignals);
  expect(await snarkjs.groth16.verify(prepared.setup.vkey, publicSignals, groth16)).toBe(true);
  for (let index = 0; index < publicSignals.length; index++) {
    const changed = publicSignals.map((s, j) => (j === index ? String((BigInt(s) + 1n) % FIELD) : s));
    expect(await snarkjs.groth16.verify(prepared.setup.vkey, changed, groth16), `public ${index}`).toBe(false);
  }
  return prepared.setup.power;
}

/** The smallest challenge ≥ 1 whose tile 0 is (rowBlock, colBlock) (the reference's challengedTile). */
export async function challengeFor(work: GridWork, rowBlock: number, colBlock: number): Promise<bigint> {
  for (let challenge = 1n; challenge <= 200_000n; challenge++) {
    const tile = await challengedTile(challenge, 0, work);
    if (tile.rowBlock === rowBlock && tile.colBlock === colBlock) return challenge;
  }
  throw new Error(`no challenge selects tile (${rowBlock}, ${colBlock})`);
}

/** A standalone PackedBytesHash(nbytes): a byte leaf of `nbytes` codes. */
export async function loadPackedBytesHash(nbytes: number): Promise<CircuitHarness> {
  return CircuitHarness.load(
    await instantiateCircuit(`test_packed_bytes_hash_${nbytes}`, "lib/input_commitment.circom", "PackedBytesHash", [
      nbytes,
    ]),
  );
}

/**
 * The wires of an Fp8E4M3Decode at `prefix` (its bits, raw magnitude, NaN inverse, magnitude and value) decoding
 * `code`, plus `aliases`: signals downstream that carry the same magnitude or value (set where they kept a wire).
 */
export async function e4m3DecodeWires(
  harness: CircuitHarness,
  raw: CircuitHarness,
  prefix: string,
  code: number,
  aliases: { readonly value: readonly string[]; readonly magnitude: readonly string[] } = { value: [], magnitude: [] },
): Promise<Map<string, bigint>> {
  const { bits, rawWitness, magnitude, value, nanInverse } = await decodeCode(raw, code);
  const set = harness.transplant(`${prefix}.decoded.raw`, raw, rawWitness);
  for (let b = 0; b < 8; b++) {
    set.set(`${prefix}.bits[${b}]`, BigInt(bits[b]!));
    set.set(`${prefix}.decoded.bits[${b}]`, BigInt(bits[b]!));
  }
  for (const signal of [`${prefix}.magnitude`, `${prefix}.decoded.magnitude`, ...aliases.magnitude]) {
    set.set(signal, magnitude);
  }
  for (const signal of [`${prefix}.value`, `${prefix}.decoded.value`, ...aliases.value]) set.set(signal, value);
  set.set(`${prefix}.decoded.nanInverse`, nanInverse);
  return set;
}

/** A job's data and commitments on its work (grid, shape, sizes): what a test's proof inputs are built from. */
export type CommittedJob<W extends GridWork> = Omit<JobProofMaterial, "challenge" | "miner"> & { readonly work: W };

/** The job of `data` on `work` with its output, input and weight trees, each computed by `commit`. */
export async function committedJob<W extends GridWork>(
  work: W,
  data: { readonly x: Uint8Array; readonly weights: Uint8Array; readonly y: Uint32Array },
  commit: {
    readonly outputs: (y: Uint32Array, work: W) => Promise<OutputTree>;
    readonly inputs: (x: Uint8Array) => Promise<BlockTree>;
    readonly weights: (weights: Uint8Array) => Promise<BlockTree>;
  },
): Promise<CommittedJob<W>> {
  return {
    work,
    ...data,
    outputTree: await commit.outputs(data.y, work),
    inputs: await commit.inputs(data.x),
    weightsTree: await commit.weights(data.weights),
  };
}

/** The proof parameters of one challenged tile of `job` (NT = 1), bound to {@link MINER}. */
export function jobProofParams<W extends GridWork>(
  job: CommittedJob<W>,
  challenge: bigint,
): JobProofMaterial & { tiling: W["tiling"]; shape: W["shape"]; tilesPerProof: number } {
  const { work, ...material } = job;
  return {
    ...material,
    tiling: work.tiling,
    shape: work.shape,
    tilesPerProof: 1,
    challenge,
    miner: `0x${MINER.toString(16)}`,
  };
}
