/**
 * Prover benchmark of the production tile circuit (circuits/main/gemm_seed_8x8x64.circom) and its alternatives.
 *
 *   npm run bench:prover -- [--proofs N] [--quick] [--out FILE]
 *
 * Measures, in one run:
 *   1. circuit size: constraints, MACs per proof, constraints per MAC, and the parts compiled separately
 *      (template × multiplicity, compared with the whole circuit);
 *   2. a naive version of the same byte-input tile check (circuits/bench/naive_gemm.circom) against Fp8GemmTile:
 *      constraints, per MAC, and proof time where it fits the power-16 ptau; both are first checked on an honest
 *      real-H100 sub-tile;
 *   3. the baseline: one plain snarkjs process proving N tiles one after another (wtns.calculate + groth16.prove,
 *      snarkjs' default multi-threaded curve), then the prover pool (2 single-threaded workers) over the same N tiles:
 *      proofs/min of both and their ratio, per-worker heap statistics and sampled process RSS;
 *   4. k tiles proved as k per-tile proofs (pool) vs one proof covering k small tiles, and the on-chain verification
 *      gas of both on an in-process Hardhat network (verifiers compiled with solc-js, hardhat.config.ts settings);
 *   5. every op's production tile circuit (conv2d, batchnorm, attention from bench/ops/*.ts, GEMM from 3.) and the
 *      input-root job circuit of the linear layer (bench/ops/linear-job.ts, circuits/main/gemm_job_8x8x64.circom):
 *      constraints, outputs and MACs per proof, constraints per output and per MAC, witness and prove medians.
 * Progress goes to stderr, the tables to stdout, every raw number to the JSON file (default bench/results/prover.json).
 *
 * --quick swaps in small circuits (Fp8GemmSeedProof(1, 2, 2, 8, 2, 2), 2×2×16 tiles, k = 2; the ops' demo mains; the
 * demo job main gemm_job_demo_2x4x16) to smoke-test the script in a few minutes; it uses the power-16 dev ptau if it is
 * already available, otherwise one small dev ptau.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { displayPath, gitCommit } from "./provenance.js";
import solc from "solc";
import * as snarkjs from "snarkjs";
import type { Groth16Proof, MemFile, NumericString } from "snarkjs";
import {
  compileCircuit,
  constraintCounts,
  inspectWarnings,
  instantiateCircuit,
  REPO_ROOT,
  type CompiledCircuit,
} from "../circuits/compile.js";
import { exactTile, roundScaledToFloat32Bits } from "../common/numerics.js";
import {
  challengedTile,
  commitOutputs,
  defineWork,
  gemmProofInput,
  generateInputs,
  type GemmTiling,
  type GemmWork,
  type OutputTree,
} from "../common/work.js";
import { devPtauPath, SHARED_POT16_FILE, SHARED_PTAU_DIR } from "../ptau/ptau.js";
import { ProverPool, type CircuitInput, type ProveOutcome, type ProveSuccess, type ProveTask } from "../prover/pool.js";
import {
  readR1csHeader,
  requiredPtauPower,
  setupCircuit,
  type CircuitSetup,
  type ProverCircuit,
  type R1csHeader,
} from "../prover/setup.js";
import { errorMessage, snarkjsVersion, terminateBn128Curve } from "../prover/snarkjs-runtime.js";
import { CircuitHarness } from "../test/helpers/circuit.js";
import { benchOp as benchAttention } from "./ops/attention.js";
import { benchOp as benchBatchNorm } from "./ops/batchnorm.js";
import { benchOp as benchConv } from "./ops/conv.js";
import { benchOp as benchLinearJob } from "./ops/linear-job.js";
import type { OpBenchRow } from "./ops/row.js";

const OP_BENCHES = [
  ["conv2d", benchConv],
  ["batchnorm", benchBatchNorm],
  ["attention", benchAttention],
  ["linear (job, input-root)", benchLinearJob],
] as const;
import { H100_TILES_FILE, loadH100Tiles, subTile } from "../test/helpers/h100.js";

// ---------------------------------------------------------------------------------------------------------------
// Options, plan, logging

interface Options {
  readonly proofs: number;
  readonly quick: boolean;
  readonly out: string;
}

/** Parameters of Fp8GemmSeedProof(NT, TM, TN, K, MAX_DR, MAX_DC). */
interface SeedParams {
  readonly nt: number;
  readonly tm: number;
  readonly tn: number;
  readonly k: number;
  readonly maxDr: number;
  readonly maxDc: number;
}

interface Plan {
  readonly label: string;
  /** The per-tile proof circuit: the production one, or a small instance with --quick. */
  readonly main: { readonly name: string; readonly params: SeedParams; readonly mainFile?: string };
  /** Byte-input tile for the naive-vs-optimised comparison (an H100 sub-tile with this K). */
  readonly tile: { readonly tm: number; readonly tn: number; readonly k: number };
  /** Candidates for the one-proof-covers-k-tiles circuit, first one that fits 2^16 wins. */
  readonly multi: readonly SeedParams[];
  /** k: tiles in the per-tile vs one-proof comparison. */
  readonly batch: number;
  /** Proofs of the byte-input tile and of the multi-tile circuit in the plain process. */
  readonly sideProofs: number;
}

const FULL_PLAN: Plan = {
  label: "production",
  main: {
    name: "gemm_seed_8x8x64",
    params: { nt: 1, tm: 8, tn: 8, k: 64, maxDr: 10, maxDc: 10 },
    mainFile: "circuits/main/gemm_seed_8x8x64.circom",
  },
  tile: { tm: 8, tn: 8, k: 64 },
  multi: [
    { nt: 8, tm: 2, tn: 2, k: 16, maxDr: 6, maxDc: 6 },
    { nt: 8, tm: 2, tn: 2, k: 8, maxDr: 6, maxDc: 6 },
  ],
  batch: 8,
  sideProofs: 3,
};

const QUICK_PLAN: Plan = {
  label: "quick (small circuits; smoke test, not representative)",
  main: { name: "bench_quick_gemm_seed_1x2x2x8", params: { nt: 1, tm: 2, tn: 2, k: 8, maxDr: 2, maxDc: 2 } },
  tile: { tm: 2, tn: 2, k: 16 },
  multi: [{ nt: 2, tm: 2, tn: 2, k: 8, maxDr: 2, maxDc: 2 }],
  batch: 2,
  sideProofs: 2,
};

const PUBLIC_INPUTS = ["outputRoot", "seed", "challenge", "miner", "shape"] as const;
const POOL_WORKERS = 2;
const MAX_DEV_POWER = 16;
const SEED = 0x5eed_0000_de31en;
const MULTI_SEED = 0x5eed_0000_0008n;
const MINER = 0x70997970c51812dc3a010c7d01b50e0d17dc79c8n;

const startedAt = performance.now();
const elapsed = () => {
  const s = Math.round((performance.now() - startedAt) / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
};
function progress(line: string): void {
  process.stderr.write(`[bench ${elapsed()}] ${line}\n`);
}

class BenchError extends Error {}

const mib = (bytes: number) => bytes / 2 ** 20;
const round = (x: number, digits = 0) => Number(x.toFixed(digits));
const fmtInt = (x: number) => Math.round(x).toLocaleString("en-US");
const fmtMs = (x: number) => (x >= 100 ? fmtInt(x) : x.toFixed(1));
const fmtMiB = (bytes: number) => `${fmtInt(mib(bytes))} MiB`;
const seedTemplate = (p: SeedParams) => `Fp8GemmSeedProof(${p.nt}, ${p.tm}, ${p.tn}, ${p.k}, ${p.maxDr}, ${p.maxDc})`;
const macsOf = (p: SeedParams) => p.nt * p.tm * p.tn * p.k;

interface Stats {
  readonly n: number;
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
}

function stats(values: readonly number[]): Stats {
  if (values.length === 0) return { n: 0, median: NaN, min: NaN, max: NaN, mean: NaN };
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  return { n: sorted.length, median, min: sorted[0]!, max: sorted[sorted.length - 1]!, mean };
}

const fmtStats = (s: Stats) => `${fmtMs(s.median)} (${fmtMs(s.min)}–${fmtMs(s.max)})`;

/** Samples process RSS every `everyMs` (the main thread is idle while workers prove, so samples keep coming). */
class RssSampler {
  #timer: NodeJS.Timeout | undefined;
  #peak = 0;
  #count = 0;
  readonly #startRss = process.memoryUsage.rss();
  constructor(everyMs = 100) {
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), everyMs);
    this.#timer.unref();
  }
  #sample(): void {
    this.#peak = Math.max(this.#peak, process.memoryUsage.rss());
    this.#count++;
  }
  stop(): { startRssBytes: number; peakRssBytes: number; endRssBytes: number; samples: number } {
    this.#sample();
    clearInterval(this.#timer);
    this.#timer = undefined;
    return {
      startRssBytes: this.#startRss,
      peakRssBytes: this.#peak,
      endRssBytes: process.memoryUsage.rss(),
      samples: this.#count,
    };
  }
}

const maxRssBytes = () => process.resourceUsage().maxRSS * 1024;

/** CPU time of the whole machine (all cores, all processes), from os.cpus() (ms). */
function machineCpuMs(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const { times } of os.cpus()) {
    const b = times.user + times.nice + times.sys + times.irq;
    busy += b;
    total += b + times.idle;
  }
  return { busy, total };
}

interface CpuWindow {
  readonly wallMs: number;
  /** CPU time of this process, all threads (process.cpuUsage). */
  readonly processCpuMs: number;
  /** Average cores this process kept busy. */
  readonly processCores: number;
  /** Average cores busy on the whole machine (this process and every other one). */
  readonly machineBusyCores: number;
  /** machineBusyCores − processCores: load from other processes (the machine may be shared). */
  readonly otherCores: number;
}

/** Starts measuring; the returned function ends the window. */
function cpuWindow(): () => CpuWindow {
  const t = performance.now();
  const process0 = process.cpuUsage();
  const machine0 = machineCpuMs();
  return () => {
    const wallMs = performance.now() - t;
    const used = process.cpuUsage(process0);
    const processCpuMs = (used.user + used.system) / 1000;
    const machine1 = machineCpuMs();
    const cores = os.cpus().length;
    const totalDelta = machine1.total - machine0.total;
    const machineBusyCores = totalDelta > 0 ? ((machine1.busy - machine0.busy) / totalDelta) * cores : NaN;
    const processCores = processCpuMs / wallMs;
    return {
      wallMs: round(wallMs),
      processCpuMs: round(processCpuMs),
      processCores: round(processCores, 2),
      machineBusyCores: round(machineBusyCores, 2),
      otherCores: round(Math.max(0, machineBusyCores - processCores), 2),
    };
  };
}

/** Several measurement windows as one: totals, and averages weighted by wall time. */
function combineCpu(windows: readonly CpuWindow[]): CpuWindow {
  const wallMs = windows.reduce((a, w) => a + w.wallMs, 0);
  const processCpuMs = windows.reduce((a, w) => a + w.processCpuMs, 0);
  const machineBusyCores = windows.reduce((a, w) => a + w.machineBusyCores * w.wallMs, 0) / wallMs;
  const processCores = processCpuMs / wallMs;
  return {
    wallMs: round(wallMs),
    processCpuMs: round(processCpuMs),
    processCores: round(processCores, 2),
    machineBusyCores: round(machineBusyCores, 2),
    otherCores: round(Math.max(0, machineBusyCores - processCores), 2),
  };
}

const fmtCpu = (c: CpuWindow) =>
  `${c.processCores.toFixed(2)} cores by this process; ${c.otherCores.toFixed(2)} by other processes`;

/** Load averages at named moments of the run (the machine may be shared). */
const loadAverages: { at: string; elapsedS: number; loadavg: number[] }[] = [];
function noteLoad(at: string): void {
  loadAverages.push({
    at,
    elapsedS: round((performance.now() - startedAt) / 1000, 1),
    loadavg: os.loadavg().map((x) => round(x, 2)),
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Preconditions

function checkPreconditions(plan: Plan, quick: boolean): { quickPower16: boolean } {
  const h100 = path.resolve(REPO_ROOT, H100_TILES_FILE);
  if (!existsSync(h100)) {
    throw new BenchError(
      `real H100 tiles not found: ${H100_TILES_FILE} (the naive-vs-optimised check runs on one of them). ` +
        "The shared directory must sit next to the repository (see docs/numerics.md).",
    );
  }
  if (!loadH100Tiles().some((t) => t.K === plan.tile.k && t.M >= plan.tile.tm && t.N >= plan.tile.tn)) {
    throw new BenchError(`no H100 tile with K = ${plan.tile.k} in ${H100_TILES_FILE}`);
  }
  const local = devPtauPath(16);
  const haveLocal = existsSync(local) && existsSync(`${local}.json`);
  const shared = path.join(SHARED_PTAU_DIR, SHARED_POT16_FILE);
  const haveShared = existsSync(shared);
  if (!quick && !haveLocal && !haveShared) {
    throw new BenchError(
      `the production circuit needs the power-16 development ptau, and neither ${path.relative(REPO_ROOT, local)} ` +
        `nor the shared cache ${path.relative(REPO_ROOT, shared)} exists.\n` +
        "  Either build it once with `npm run ptau -- ensure 16` (about 25 min on 2 cores; later runs reuse it),\n" +
        "  or smoke-test this benchmark with small circuits: `npm run bench:prover -- --quick`.",
    );
  }
  return { quickPower16: haveLocal || haveShared };
}

// ---------------------------------------------------------------------------------------------------------------
// Compilation and circuit sizes

interface CircuitInfo {
  readonly name: string;
  readonly template: string;
  readonly constraints: number;
  readonly nonLinear: number;
  readonly linear: number;
  readonly r1cs: R1csHeader;
  readonly requiredPtauPower: number;
  readonly compileMs: number;
  readonly cached: boolean;
  readonly inspectWarnings: number;
}

async function describeCircuit(compiled: CompiledCircuit, template: string, compileMs: number): Promise<CircuitInfo> {
  const r1cs = await readR1csHeader(compiled.r1csPath);
  const counts = constraintCounts(compiled.log);
  return {
    name: compiled.name,
    template,
    constraints: r1cs.nConstraints,
    nonLinear: counts.nonLinear,
    linear: counts.linear,
    r1cs,
    requiredPtauPower: requiredPtauPower(r1cs),
    compileMs: round(compileMs),
    cached: compiled.cached,
    inspectWarnings: inspectWarnings(compiled.log).length,
  };
}

async function timedCompile(
  what: string,
  template: string,
  compile: () => Promise<CompiledCircuit>,
): Promise<{ compiled: CompiledCircuit; info: CircuitInfo }> {
  progress(`compiling ${what}: ${template}`);
  const t = performance.now();
  const compiled = await compile();
  const info = await describeCircuit(compiled, template, performance.now() - t);
  progress(
    `  ${compiled.name}: ${fmtInt(info.constraints)} constraints (${compiled.cached ? "cached" : `compiled in ${(info.compileMs / 1000).toFixed(1)} s`})`,
  );
  return { compiled, info };
}

function compileSeed(name: string, p: SeedParams): Promise<CompiledCircuit> {
  return instantiateCircuit(
    name,
    "gemm_seed.circom",
    "Fp8GemmSeedProof",
    [p.nt, p.tm, p.tn, p.k, p.maxDr, p.maxDc],
    PUBLIC_INPUTS,
  );
}

const seedName = (p: SeedParams) => `bench_gemm_seed_${p.nt}x${p.tm}x${p.tn}x${p.k}_d${p.maxDr}_${p.maxDc}`;

interface PartSpec {
  readonly part: string;
  readonly template: string;
  readonly include: string;
  readonly params: readonly number[];
  readonly multiplicity: number;
}

/** The sub-templates of Fp8GemmSeedProof and how often it instantiates each (see circuits/gemm_seed.circom). */
function partsOf(p: SeedParams): PartSpec[] {
  const depth = p.maxDr + p.maxDc;
  const hashes = Math.ceil(p.nt / Math.floor(224 / depth));
  const streams: PartSpec[] =
    p.tm * p.k === p.k * p.tn
      ? [
          {
            part: "seed streams (A rows, B columns)",
            template: "SeedStreamBits",
            include: "lib/seed_stream.circom",
            params: [p.tm * p.k, 1],
            multiplicity: 2 * p.nt,
          },
        ]
      : [
          {
            part: "seed stream (A rows)",
            template: "SeedStreamBits",
            include: "lib/seed_stream.circom",
            params: [p.tm * p.k, 1],
            multiplicity: p.nt,
          },
          {
            part: "seed stream (B columns)",
            template: "SeedStreamBits",
            include: "lib/seed_stream.circom",
            params: [p.k * p.tn, 2],
            multiplicity: p.nt,
          },
        ];
  return [
    ...streams,
    {
      part: "FP8 decoding of generated bytes",
      template: "Fp8E4M3FromBits",
      include: "lib/fp8.circom",
      params: [1],
      multiplicity: p.nt * (p.tm * p.k + p.k * p.tn),
    },
    {
      part: "contract check (products + output checks)",
      template: "Fp8GemmContractCheck",
      include: "lib/gemm.circom",
      params: [p.tm, p.tn, p.k],
      multiplicity: p.nt,
    },
    {
      part: "leaf hash",
      template: "PackedWordsHash",
      include: "lib/merkle.circom",
      params: [p.tm * p.tn],
      multiplicity: p.nt,
    },
    {
      part: "Merkle path",
      template: "MerkleRootFromPath",
      include: "lib/merkle.circom",
      params: [depth],
      multiplicity: p.nt,
    },
    {
      part: "challenge (Poseidon + canonical bits)",
      template: "ChallengeBits",
      include: "lib/challenge.circom",
      params: [hashes],
      multiplicity: 1,
    },
    {
      part: "challenged tile index (masks)",
      template: "ChallengedTile",
      include: "lib/challenge.circom",
      params: [p.maxDr, p.maxDc],
      multiplicity: p.nt,
    },
    {
      part: "work shape masks",
      template: "WorkShape",
      include: "lib/challenge.circom",
      params: [p.maxDr, p.maxDc],
      multiplicity: 1,
    },
  ];
}

interface PartResult {
  readonly part: string;
  readonly instance: string;
  readonly constraintsEach: number;
  readonly multiplicity: number;
  readonly constraints: number;
}

interface Breakdown {
  readonly parts: PartResult[];
  /** Products of the contract check, 2 per MAC by construction (signed and magnitude product). */
  readonly productConstraints: number;
  readonly sumOfParts: number;
  readonly total: number;
  /** total − sumOfParts: what the whole circuit has beyond (or, if negative, below) its parts compiled alone. */
  readonly difference: number;
}

async function breakdown(p: SeedParams, total: number): Promise<Breakdown> {
  const parts: PartResult[] = [];
  for (const spec of partsOf(p)) {
    const instance = `${spec.template}(${spec.params.join(", ")})`;
    const { info } = await timedCompile(`part "${spec.part}"`, instance, () =>
      instantiateCircuit(`bench_part_${spec.template}_${spec.params.join("_")}`, spec.include, spec.template, [
        ...spec.params,
      ]),
    );
    parts.push({
      part: spec.part,
      instance,
      constraintsEach: info.constraints,
      multiplicity: spec.multiplicity,
      constraints: info.constraints * spec.multiplicity,
    });
  }
  // miner · miner in the main template itself.
  parts.push({
    part: "miner binding (miner²)",
    instance: "main template",
    constraintsEach: 1,
    multiplicity: 1,
    constraints: 1,
  });
  const sumOfParts = parts.reduce((a, r) => a + r.constraints, 0);
  return { parts, productConstraints: 2 * macsOf(p), sumOfParts, total, difference: total - sumOfParts };
}

// ---------------------------------------------------------------------------------------------------------------
// Seed-mode work fixtures

interface WorkFixture {
  readonly params: SeedParams;
  readonly work: GemmWork;
  readonly seed: bigint;
  readonly c: Uint32Array;
  readonly tree: OutputTree;
}

function tilingOf(p: SeedParams): GemmTiling {
  return { tileRows: p.tm, tileCols: p.tn, depth: p.k, maxRowBlocksLog2: p.maxDr, maxColBlocksLog2: p.maxDc };
}

/** A work with at least `minTiles` tiles (up to the circuit's grid), honest outputs and its commitment. */
async function buildWork(p: SeedParams, minTiles: number, seed: bigint): Promise<WorkFixture> {
  const log2 = Math.min(Math.ceil(Math.log2(Math.max(2, minTiles))), p.maxDr + p.maxDc);
  const dr = Math.min(p.maxDr, Math.ceil(log2 / 2));
  const dc = Math.min(p.maxDc, log2 - dr);
  const work = defineWork(tilingOf(p), { rowBlocksLog2: dr, colBlocksLog2: dc });
  const { a, b } = await generateInputs(seed, work);
  // Exact sums rounded once to float32: what an ideal accumulator commits (as in test/gemm-circuit.test.ts).
  const { dot } = exactTile(a, b, work.m, work.n, work.k, "e4m3fn");
  const c = Uint32Array.from(dot, (s) => roundScaledToFloat32Bits(s, 18));
  return { params: p, work, seed, c, tree: await commitOutputs(c, work) };
}

interface TileInput {
  readonly id: string;
  readonly challenge: bigint;
  readonly tiles: { rowBlock: number; colBlock: number }[];
  readonly input: CircuitInput;
}

async function inputFor(fx: WorkFixture, challenge: bigint, id: string): Promise<TileInput> {
  const { input, tiles } = await gemmProofInput({
    work: fx.work,
    tilesPerProof: fx.params.nt,
    c: fx.c,
    tree: fx.tree,
    seed: fx.seed,
    challenge,
    miner: MINER,
  });
  return { id, challenge, tiles, input };
}

/** `count` inputs whose first challenged tile differs from the others' (as long as the work has enough tiles). */
async function distinctTileInputs(fx: WorkFixture, count: number, from: bigint, prefix: string): Promise<TileInput[]> {
  const tilesInWork = 2 ** (fx.work.shape.rowBlocksLog2 + fx.work.shape.colBlocksLog2);
  const seen = new Set<number>();
  const challenges: bigint[] = [];
  for (let challenge = from; challenges.length < count; challenge++) {
    const { index } = await challengedTile(challenge, 0, fx.work);
    if (seen.has(index) && seen.size < tilesInWork) continue;
    seen.add(index);
    challenges.push(challenge);
  }
  return Promise.all(challenges.map((ch, i) => inputFor(fx, ch, `${prefix}-${i}`)));
}

// ---------------------------------------------------------------------------------------------------------------
// Proving in one plain snarkjs process

interface PlainProof {
  readonly id: string;
  readonly witnessMs: number;
  readonly proveMs: number;
  readonly verifyMs: number;
  readonly verified: boolean;
  readonly proof: Groth16Proof;
  readonly publicSignals: NumericString[];
}

interface CurveThreads {
  readonly singleThread: boolean | null;
  readonly concurrency: number | null;
}

function sharedCurveThreads(): CurveThreads {
  const tm = (globalThis as { curve_bn128?: { tm?: { singleThread?: boolean; concurrency?: number } } | null })
    .curve_bn128?.tm;
  return { singleThread: tm?.singleThread ?? null, concurrency: tm?.concurrency ?? null };
}

/**
 * Witness + proof per input, one after another, with snarkjs' defaults (its shared bn128 curve, which is
 * multi-threaded in the main process). Each proof is verified afterwards, outside the timed part.
 */
async function provePlain(label: string, circuit: ProverCircuit, inputs: readonly TileInput[]): Promise<PlainProof[]> {
  const results: PlainProof[] = [];
  for (const [index, { id, input }] of inputs.entries()) {
    const wtns: MemFile = { type: "mem" };
    let t = performance.now();
    await snarkjs.wtns.calculate(input, circuit.wasmPath, wtns);
    const witnessMs = performance.now() - t;
    t = performance.now();
    const { proof, publicSignals } = await snarkjs.groth16.prove(circuit.zkeyPath, wtns);
    const proveMs = performance.now() - t;
    t = performance.now();
    const verified = await snarkjs.groth16.verify(circuit.vkey, publicSignals, proof);
    const verifyMs = performance.now() - t;
    if (!verified) throw new BenchError(`${label}: proof ${id} does not verify`);
    results.push({ id, witnessMs, proveMs, verifyMs, verified, proof, publicSignals });
    progress(
      `  ${label} ${index + 1}/${inputs.length}: witness ${fmtMs(witnessMs)} ms, prove ${fmtMs(proveMs)} ms, verified`,
    );
  }
  return results;
}

function plainSummary(proofs: readonly PlainProof[]) {
  const busyMs = proofs.reduce((a, p) => a + p.witnessMs + p.proveMs, 0);
  return {
    witnessMs: stats(proofs.map((p) => p.witnessMs)),
    proveMs: stats(proofs.map((p) => p.proveMs)),
    witnessPlusProveMs: stats(proofs.map((p) => p.witnessMs + p.proveMs)),
    verifyMs: stats(proofs.map((p) => p.verifyMs)),
    serialWitnessPlusProveMs: round(busyMs),
    proofsPerMin: proofs.length / (busyMs / 60_000),
  };
}

const plainRaw = (proofs: readonly PlainProof[]) =>
  proofs.map(({ id, witnessMs, proveMs, verifyMs, verified }) => ({
    id,
    witnessMs: round(witnessMs, 1),
    proveMs: round(proveMs, 1),
    verifyMs: round(verifyMs, 1),
    verified,
  }));

// ---------------------------------------------------------------------------------------------------------------
// Proving with the pool

interface PoolRun {
  readonly wallMs: number;
  readonly cpu: CpuWindow;
  readonly outcomes: ProveSuccess[];
  readonly rss: ReturnType<RssSampler["stop"]>;
}

async function runPool(pool: ProverPool, label: string, tasks: readonly ProveTask[]): Promise<PoolRun> {
  const sampler = new RssSampler();
  const outcomes: ProveSuccess[] = [];
  const endCpu = cpuWindow();
  const t = performance.now();
  try {
    for await (const outcome of pool.proveMany(tasks)) {
      if (!outcome.ok) throw new BenchError(`${label}: ${outcome.error}`);
      outcomes.push(outcome);
      progress(
        `  ${label} ${outcomes.length}/${tasks.length}: ${outcome.id} on thread ${outcome.threadId}: witness ` +
          `${fmtMs(outcome.timings.witnessMs)} ms, prove ${fmtMs(outcome.timings.proveMs)} ms, verify ` +
          `${fmtMs(outcome.timings.verifyMs)} ms`,
      );
    }
  } catch (error) {
    sampler.stop();
    throw error;
  }
  return { wallMs: performance.now() - t, cpu: endCpu(), outcomes, rss: sampler.stop() };
}

/** Rounds of `size` tiles; a shorter last round is merged into the one before. */
function roundsOf<T>(items: readonly T[], size: number): T[][] {
  const rounds: T[][] = [];
  for (let i = 0; i < items.length; i += size) rounds.push(items.slice(i, i + size));
  if (rounds.length > 1 && rounds.at(-1)!.length < size) rounds.at(-2)!.push(...rounds.pop()!);
  return rounds;
}

function combinePoolRuns(runs: readonly PoolRun[]): PoolRun {
  return {
    wallMs: runs.reduce((a, r) => a + r.wallMs, 0),
    cpu: combineCpu(runs.map((r) => r.cpu)),
    outcomes: runs.flatMap((r) => r.outcomes),
    rss: {
      startRssBytes: runs[0]!.rss.startRssBytes,
      peakRssBytes: Math.max(...runs.map((r) => r.rss.peakRssBytes)),
      endRssBytes: runs.at(-1)!.rss.endRssBytes,
      samples: runs.reduce((a, r) => a + r.rss.samples, 0),
    },
  };
}

function poolSummary(run: PoolRun) {
  const o = run.outcomes;
  return {
    wallMs: round(run.wallMs),
    proofsPerMin: o.length / (run.wallMs / 60_000),
    witnessMs: stats(o.map((x) => x.timings.witnessMs)),
    proveMs: stats(o.map((x) => x.timings.proveMs)),
    verifyMs: stats(o.map((x) => x.timings.verifyMs)),
    workerMs: stats(o.map((x) => x.timings.workerMs)),
    cpu: run.cpu,
    rss: run.rss,
  };
}

const poolRaw = (o: readonly ProveOutcome[]) =>
  o.map((x) => {
    if (!x.ok) return { id: x.id, ok: false, stage: x.stage, error: x.error };
    const t = x.timings;
    return {
      id: x.id,
      threadId: x.threadId,
      witnessMs: round(t.witnessMs, 1),
      proveMs: round(t.proveMs, 1),
      verifyMs: round(t.verifyMs, 1),
      workerMs: round(t.workerMs, 1),
      totalMs: round(t.totalMs, 1),
      memory: x.memory,
    };
  });

/** Per worker thread: the largest heap statistics it reported after any of its proofs. */
function perWorkerMemory(outcomes: readonly ProveSuccess[]) {
  const byThread = new Map<number, ProveSuccess[]>();
  for (const o of outcomes) byThread.set(o.threadId, [...(byThread.get(o.threadId) ?? []), o]);
  return [...byThread].map(([threadId, list]) => {
    const max = (f: (o: ProveSuccess) => number) => Math.max(...list.map(f));
    return {
      threadId,
      proofs: list.length,
      heapUsedBytes: max((o) => o.memory.heapUsedBytes),
      heapTotalBytes: max((o) => o.memory.heapTotalBytes),
      externalBytes: max((o) => o.memory.externalBytes),
      arrayBuffersBytes: max((o) => o.memory.arrayBuffersBytes),
      peakMallocedBytes: max((o) => o.memory.v8.peakMallocedMemory),
      processRssBytes: max((o) => o.memory.rssBytes),
      processMaxRssBytes: max((o) => o.memory.maxRssBytes),
    };
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Verification gas (solc-js + Hardhat in-process network)

interface SolcOutput {
  errors?: { severity: string; formattedMessage: string }[];
  contracts?: Record<string, Record<string, { abi: unknown[]; evm: { bytecode: { object: string } } }>>;
}

interface GasProof {
  readonly proof: Groth16Proof;
  readonly publicSignals: readonly NumericString[];
}

interface VerifierGas {
  readonly label: string;
  readonly circuit: string;
  readonly deployGas: number;
  readonly bytecodeBytes: number;
  /** A transaction sent straight to verifyProof: receipt gasUsed (21,000 base + calldata + execution). */
  readonly directTxGas: number;
  /** eth_estimateGas of the same transaction. */
  readonly directEstimateGas: number;
  /** verifyProof called from the probe contract, measured with gasleft() (the call only, cold account). */
  readonly callGas: number;
  /** The probe transaction with this one proof: receipt gasUsed. */
  readonly probeTxGas: number;
}

interface GasReport {
  readonly compiler: { version: string; settings: unknown };
  readonly hardfork: string | null;
  readonly verifiers: VerifierGas[];
  /** The k per-tile proofs verified in one probe transaction. */
  readonly batch: { count: number; txGas: number; callGas: number[]; sumCallGas: number };
}

function describeSettings(settings: unknown): string {
  const { optimizer, evmVersion } = settings as {
    optimizer?: { enabled?: boolean; runs?: number };
    evmVersion?: string;
  };
  const opt = optimizer?.enabled ? `optimizer on, ${optimizer.runs ?? "?"} runs` : "optimizer off";
  return `${opt}, evmVersion ${evmVersion ?? "default"}`;
}

function solidityArgs({ proof, publicSignals }: GasProof) {
  // snarkjs' Solidity verifier takes G2 coordinates in (imaginary, real) order.
  return {
    pA: [proof.pi_a[0]!, proof.pi_a[1]!],
    pB: [
      [proof.pi_b[0]![1]!, proof.pi_b[0]![0]!],
      [proof.pi_b[1]![1]!, proof.pi_b[1]![0]!],
    ],
    pC: [proof.pi_c[0]!, proof.pi_c[1]!],
    pubSignals: [...publicSignals],
  };
}

async function measureGas(
  verifiers: readonly { label: string; setup: CircuitSetup; proof: GasProof }[],
  batch: readonly GasProof[],
): Promise<GasReport> {
  progress("gas: loading Hardhat and compiling the verifiers with solc-js");
  const { default: hre } = await import("hardhat");
  const profile = hre.config.solidity.profiles.default;
  const compilerConfig = profile?.compilers[0];
  if (!compilerConfig) throw new BenchError("hardhat.config.ts has no default solidity compiler");
  const solcVersion = String(solc.version());
  if (!solcVersion.startsWith(`${compilerConfig.version}+`)) {
    throw new BenchError(`solc-js is ${solcVersion}, hardhat.config.ts wants ${compilerConfig.version}`);
  }
  const { optimizer, evmVersion } = compilerConfig.settings as { optimizer?: unknown; evmVersion?: string };
  const settings = {
    optimizer,
    evmVersion,
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
  };
  const sources: Record<string, { content: string }> = {
    "contracts/bench/VerifierGasProbe.sol": {
      content: readFileSync(path.join(REPO_ROOT, "contracts", "bench", "VerifierGasProbe.sol"), "utf8"),
    },
  };
  for (const v of verifiers) {
    sources[path.relative(REPO_ROOT, v.setup.verifierPath)] = { content: readFileSync(v.setup.verifierPath, "utf8") };
  }
  const t = performance.now();
  const output = JSON.parse(
    solc.compile(JSON.stringify({ language: "Solidity", sources, settings })) as string,
  ) as SolcOutput;
  const errors = (output.errors ?? []).filter((e) => e.severity === "error");
  if (errors.length > 0) throw new BenchError(`solc: ${errors.map((e) => e.formattedMessage).join("\n")}`);
  progress(`gas: compiled ${Object.keys(sources).length} sources in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const artifact = (file: string, name: string) => {
    const a = output.contracts?.[file]?.[name];
    if (!a) throw new BenchError(`solc produced no ${name} in ${file}`);
    return a;
  };

  const connection = await hre.network.create();
  try {
    const { ethers } = connection;
    const [signer] = await ethers.getSigners();
    if (!signer) throw new BenchError("the Hardhat network has no accounts");
    const deploy = async (file: string, name: string) => {
      const a = artifact(file, name);
      const factory = new ethers.ContractFactory(a.abi as never, a.evm.bytecode.object, signer);
      const contract = await factory.deploy();
      const receipt = await contract.deploymentTransaction()!.wait();
      return { contract, deployGas: Number(receipt!.gasUsed), bytecodeBytes: a.evm.bytecode.object.length / 2 };
    };
    const probe = await deploy("contracts/bench/VerifierGasProbe.sol", "VerifierGasProbe");
    const probeAddress = await probe.contract.getAddress();
    const probeCall = async (verifier: string, proofs: readonly GasProof[]) => {
      const data = probe.contract.interface.encodeFunctionData("verifyAll", [
        verifier,
        proofs.map((p) => solidityArgs(p)),
      ]);
      const response = await signer.sendTransaction({ to: probeAddress, data });
      const receipt = await response.wait();
      if (!receipt || receipt.status !== 1) throw new BenchError("probe transaction failed");
      const callGas = receipt.logs
        .map((log) => probe.contract.interface.parseLog(log))
        .filter((parsed) => parsed?.name === "Verified")
        .map((parsed) => Number(parsed!.args[1] as bigint));
      if (callGas.length !== proofs.length) throw new BenchError(`probe logged ${callGas.length}/${proofs.length}`);
      return { txGas: Number(receipt.gasUsed), callGas };
    };

    const deployedVerifiers = [];
    for (const v of verifiers) {
      const deployed = await deploy(path.relative(REPO_ROOT, v.setup.verifierPath), "Groth16Verifier");
      deployedVerifiers.push({ v, deployed, address: await deployed.contract.getAddress() });
    }
    // One unmeasured probe call first, so that every measured one writes its counter non-zero → non-zero.
    await probeCall(deployedVerifiers[0]!.address, [verifiers[0]!.proof]);

    const results: VerifierGas[] = [];
    for (const { v, deployed, address } of deployedVerifiers) {
      const args = solidityArgs(v.proof);
      const data = deployed.contract.interface.encodeFunctionData("verifyProof", [
        args.pA,
        args.pB,
        args.pC,
        args.pubSignals,
      ]);
      const [accepted] = deployed.contract.interface.decodeFunctionResult(
        "verifyProof",
        await signer.call({ to: address, data }),
      ) as unknown as [boolean];
      if (!accepted) throw new BenchError(`${v.label}: the Solidity verifier rejects the proof`);
      const directEstimateGas = Number(await signer.estimateGas({ to: address, data }));
      const direct = await (await signer.sendTransaction({ to: address, data })).wait();
      const probed = await probeCall(address, [v.proof]);
      results.push({
        label: v.label,
        circuit: v.setup.name,
        deployGas: deployed.deployGas,
        bytecodeBytes: deployed.bytecodeBytes,
        directTxGas: Number(direct!.gasUsed),
        directEstimateGas,
        callGas: probed.callGas[0]!,
        probeTxGas: probed.txGas,
      });
      progress(
        `gas: ${v.label}: verifyProof call ${fmtInt(probed.callGas[0]!)}, direct tx ${fmtInt(Number(direct!.gasUsed))}`,
      );
    }
    const batched = await probeCall(deployedVerifiers[0]!.address, batch);
    progress(`gas: ${batch.length} per-tile proofs in one probe tx: ${fmtInt(batched.txGas)}`);
    const hardfork = (connection.networkConfig as { hardfork?: unknown }).hardfork;
    return {
      compiler: { version: solcVersion, settings: { optimizer, evmVersion } },
      hardfork: typeof hardfork === "string" ? hardfork : null,
      verifiers: results,
      batch: {
        count: batch.length,
        txGas: batched.txGas,
        callGas: batched.callGas,
        sumCallGas: batched.callGas.reduce((a, b) => a + b, 0),
      },
    };
  } finally {
    await connection.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Tables

function table(headers: readonly string[], rows: readonly (readonly string[])[], rightAligned: readonly number[]) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    `| ${cells
      .map((c, i) => (rightAligned.includes(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (rightAligned.includes(i) ? `${"-".repeat(w + 1)}:` : "-".repeat(w + 2))).join("|")}|`;
  return [line(headers), rule, ...rows.map(line)].join("\n");
}

// ---------------------------------------------------------------------------------------------------------------
// Main

function parseProofs(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 5) throw new InvalidArgumentError("must be an integer >= 5");
  return n;
}

async function run(options: Options): Promise<void> {
  const plan = options.quick ? QUICK_PLAN : FULL_PLAN;
  const cpus = os.cpus();
  const machine = {
    cpus: cpus.length,
    availableParallelism: os.availableParallelism(),
    cpuModel: cpus[0]?.model ?? "unknown",
    totalMemBytes: os.totalmem(),
    freeMemBytesAtStart: os.freemem(),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    snarkjs: snarkjsVersion(),
    loadavgStart: os.loadavg().map((x) => round(x, 2)),
  };
  noteLoad("start");
  progress(
    `DEMLE prover benchmark, ${plan.label}: ${options.proofs} proofs; ${machine.cpus} × ${machine.cpuModel}, ` +
      `node ${machine.node}, load ${machine.loadavgStart.join(" ")}`,
  );
  const { quickPower16 } = checkPreconditions(plan, options.quick);
  const phasesMs: Record<string, number> = {};
  const phase = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    noteLoad(`${name} start`);
    try {
      return await fn();
    } finally {
      phasesMs[name] = round(performance.now() - t);
    }
  };

  // 1. Compile everything.
  const compiled = await phase("compile", async () => {
    const mp = plan.main.params;
    const main = await timedCompile("the per-tile proof circuit", seedTemplate(mp), () =>
      plan.main.mainFile ? compileCircuit(plan.main.name, plan.main.mainFile) : compileSeed(plan.main.name, mp),
    );
    const { tm, tn, k } = plan.tile;
    const naive = await timedCompile("the naive byte-input tile", `NaiveFp8GemmTile(${tm}, ${tn}, ${k})`, () =>
      instantiateCircuit(`bench_naive_gemm_${tm}x${tn}x${k}`, "bench/naive_gemm.circom", "NaiveFp8GemmTile", [
        tm,
        tn,
        k,
      ]),
    );
    const optimised = await timedCompile("the optimised byte-input tile", `Fp8GemmTile(${tm}, ${tn}, ${k})`, () =>
      instantiateCircuit(`bench_gemm_tile_${tm}x${tn}x${k}`, "lib/gemm.circom", "Fp8GemmTile", [tm, tn, k]),
    );
    const naiveDecode = await timedCompile("the naive FP8 decoder", "NaiveFp8E4M3Decode()", () =>
      instantiateCircuit("bench_part_NaiveFp8E4M3Decode", "bench/naive_gemm.circom", "NaiveFp8E4M3Decode", []),
    );
    const optimisedDecode = await timedCompile("the optimised FP8 byte decoder", "Fp8E4M3Decode()", () =>
      instantiateCircuit("bench_part_Fp8E4M3Decode", "lib/fp8.circom", "Fp8E4M3Decode", []),
    );
    const multiTried: { params: SeedParams; info: CircuitInfo; fits: boolean }[] = [];
    let multi: { compiled: CompiledCircuit; info: CircuitInfo; params: SeedParams } | undefined;
    for (const params of plan.multi) {
      const result = await timedCompile(`the ${params.nt}-tile proof circuit`, seedTemplate(params), () =>
        compileSeed(seedName(params), params),
      );
      const fits = result.info.requiredPtauPower <= MAX_DEV_POWER;
      multiTried.push({ params, info: result.info, fits });
      if (fits) {
        multi = { ...result, params };
        break;
      }
      progress(`  ${seedTemplate(params)} does not fit 2^${MAX_DEV_POWER}; trying the next candidate`);
    }
    if (!multi) throw new BenchError(`no multi-tile candidate fits 2^${MAX_DEV_POWER} constraints`);
    return { main, naive, optimised, naiveDecode, optimisedDecode, multi, multiTried };
  });
  const mainParams = plan.main.params;
  const parts = await phase("breakdown", () => breakdown(mainParams, compiled.main.info.constraints));

  // 2. Naive vs optimised on an honest H100 sub-tile.
  const tileCheck = await phase("tile check", async () => {
    const { tm, tn, k } = plan.tile;
    const tile = loadH100Tiles().find((t) => t.K === k && t.M >= tm && t.N >= tn)!;
    const input = subTile(tile, 0, 0, tm, tn);
    const corrupted = structuredClone(input);
    corrupted.c[0]![0] = (corrupted.c[0]![0]! ^ 0x0040_0000) >>> 0; // top mantissa bit: far outside the tolerance
    const check = async (label: string, c: CompiledCircuit) => {
      progress(`checking ${label} on H100 ${tile.label}, sub-tile (0, 0) ${tm}×${tn}`);
      const harness = await CircuitHarness.load(c);
      const honestViolated = harness.firstViolated(await harness.witness(input));
      let corruptedRejected = false;
      try {
        await harness.witness(corrupted);
      } catch {
        corruptedRejected = true;
      }
      if (honestViolated !== -1)
        throw new BenchError(`${label}: the honest H100 witness violates constraint ${honestViolated}`);
      if (!corruptedRejected) throw new BenchError(`${label}: a corrupted output word was accepted`);
      return { honestWitnessSatisfiesR1cs: true, corruptedWordRejectedByWitnessGenerator: true };
    };
    return {
      h100Tile: tile.label,
      subTile: { row: 0, col: 0, rows: tm, cols: tn, k },
      naive: await check(`NaiveFp8GemmTile`, compiled.naive.compiled),
      optimised: await check(`Fp8GemmTile`, compiled.optimised.compiled),
    };
  });

  // 3. Setups (production: the shared artifact with zKey verification; bench-only circuits skip it, their proofs
  //    are verified anyway).
  const naiveFits = compiled.naive.info.requiredPtauPower <= MAX_DEV_POWER;
  const setups = await phase("setup", async () => {
    let power: number | undefined;
    if (options.quick) {
      const needed = [compiled.main, compiled.optimised, compiled.multi, ...(naiveFits ? [compiled.naive] : [])].map(
        (c) => c.info.requiredPtauPower,
      );
      power = quickPower16 ? 16 : Math.max(...needed);
    }
    const setup = async (c: CompiledCircuit, verify: boolean) => {
      progress(`setup ${c.name}${power ? ` (ptau power ${power})` : ""}`);
      const t = performance.now();
      const s = await setupCircuit(c, {
        verify,
        ...(power ? { power } : {}),
        log: (line) => progress(`  setup ${c.name}: ${line}`),
      });
      const ms = performance.now() - t;
      progress(`  ${c.name}: ${s.cached ? "cached" : `set up in ${(ms / 1000).toFixed(1)} s`} (power ${s.power})`);
      return s;
    };
    return {
      main: await setup(compiled.main.compiled, !options.quick),
      optimised: await setup(compiled.optimised.compiled, false),
      naive: naiveFits ? await setup(compiled.naive.compiled, false) : undefined,
      multi: await setup(compiled.multi.compiled, false),
    };
  });

  // 4. Inputs.
  const N = options.proofs;
  const inputs = await phase("inputs", async () => {
    progress("generating seed-mode works, honest outputs and commitments");
    const mainWork = await buildWork(mainParams, 2 * Math.max(N, plan.batch), SEED);
    const tiles = await distinctTileInputs(mainWork, N, 1n, "tile");
    const batch = await distinctTileInputs(mainWork, plan.batch, 1000n, "batch");
    const multiWork = await buildWork(compiled.multi.params, 8 * compiled.multi.params.nt, MULTI_SEED);
    const multi = await Promise.all(
      Array.from({ length: plan.sideProofs }, (_, i) => inputFor(multiWork, BigInt(i + 1), `multi-${i}`)),
    );
    const { tm, tn, k } = plan.tile;
    const h100 = loadH100Tiles().filter((t) => t.K === k && t.M >= tm && t.N >= tn);
    const tileInputs = Array.from({ length: plan.sideProofs }, (_, i) => {
      const t = h100[i % h100.length]!;
      return { id: `h100-${i}`, challenge: 0n, tiles: [], input: subTile(t, 0, 0, tm, tn) };
    });
    const shape = (w: GemmWork) =>
      `${w.m}×${w.n}×${w.k} (${2 ** w.shape.rowBlocksLog2}×${2 ** w.shape.colBlocksLog2} tiles)`;
    progress(`  per-tile work ${shape(mainWork.work)}, ${compiled.multi.params.nt}-tile work ${shape(multiWork.work)}`);
    return { mainWork, tiles, batch, multi, tileInputs };
  });

  // 5. Baseline vs pool over the same N tiles, interleaved in rounds of POOL_WORKERS tiles (baseline proves a round's
  //    tiles one after another, then the pool proves them), so that load from other processes on a shared machine
  //    falls on both alike. Then the k per-tile proofs through the pool.
  const rounds = roundsOf(inputs.tiles, POOL_WORKERS);
  const proving = await phase("baseline vs pool", async () => {
    progress(
      `baseline (one plain snarkjs process, serial) vs pool (${POOL_WORKERS} workers): ${N} tiles in ` +
        `${rounds.length} interleaved rounds, after one warm-up proof each`,
    );
    const sampler = new RssSampler();
    const maxRssBefore = maxRssBytes();
    const warmup = await provePlain("baseline warm-up", setups.main.prover, [inputs.tiles[0]!]);
    const baselineRss = sampler.stop();
    const threads = sharedCurveThreads();
    const rssBeforePool = process.memoryUsage.rss();
    const pool = new ProverPool({ workers: POOL_WORKERS });
    try {
      const task = (t: TileInput): ProveTask => ({ id: t.id, circuit: setups.main.prover, input: t.input });
      const poolWarmup = await runPool(
        pool,
        "pool warm-up",
        inputs.tiles.slice(0, POOL_WORKERS).map((t) => ({ ...task(t), id: `warmup-${t.id}` })),
      );
      const baseline: PlainProof[] = [];
      const baselineCpu: CpuWindow[] = [];
      const poolRounds: PoolRun[] = [];
      for (const [r, slice] of rounds.entries()) {
        const endCpu = cpuWindow();
        baseline.push(...(await provePlain(`baseline round ${r + 1}/${rounds.length}`, setups.main.prover, slice)));
        baselineCpu.push(endCpu());
        poolRounds.push(await runPool(pool, `pool round ${r + 1}/${rounds.length}`, slice.map(task)));
      }
      progress(`k = ${plan.batch}: ${plan.batch} per-tile proofs through the pool`);
      const batch = await runPool(pool, `pool k=${plan.batch}`, inputs.batch.map(task));
      return {
        plain: { warmup, threads, baseline, cpu: combineCpu(baselineCpu), rss: baselineRss, maxRssBefore },
        pooled: {
          warmup: poolWarmup,
          throughput: combinePoolRuns(poolRounds),
          rounds: poolRounds.map((run) => ({
            wallMs: round(run.wallMs),
            cpu: run.cpu,
            ids: run.outcomes.map((o) => o.id),
          })),
          batch,
          rssBeforePool,
          maxRssAfter: maxRssBytes(),
        },
      };
    } finally {
      await pool.close();
    }
  });
  const pooled = proving.pooled;

  // 6. The other plain-process proofs: byte-input tiles and the multi-tile circuit.
  const plain = await phase("plain", async () => {
    progress(`optimised byte-input tile: ${plan.sideProofs} proofs`);
    const optimised = await provePlain("Fp8GemmTile", setups.optimised.prover, inputs.tileInputs);
    if (setups.naive) progress(`naive byte-input tile: ${plan.sideProofs} proofs`);
    const naive = setups.naive
      ? await provePlain("NaiveFp8GemmTile", setups.naive.prover, inputs.tileInputs)
      : undefined;
    progress(`${compiled.multi.params.nt}-tile proof circuit: ${plan.sideProofs} proofs`);
    const endMultiCpu = cpuWindow();
    const multi = await provePlain(`${compiled.multi.params.nt}-tile`, setups.multi.prover, inputs.multi);
    const multiCpu = endMultiCpu();
    await terminateBn128Curve();
    return { ...proving.plain, optimised, naive, multi, multiCpu };
  });

  // 7. Gas.
  const gas = await phase("gas", () =>
    measureGas(
      [
        { label: "per-tile", setup: setups.main, proof: pooled.batch.outcomes[0]! },
        { label: `${compiled.multi.params.nt}-tile`, setup: setups.multi, proof: plain.multi[0]! },
      ],
      pooled.batch.outcomes,
    ),
  );
  // 5. The other ops' tile circuits and the job circuit (bench/ops/*.ts): one honest tile each, median of 3 proofs.
  const opRows = await phase("ops", async () => {
    const rows: OpBenchRow[] = [];
    for (const [op, bench] of OP_BENCHES) {
      progress(`op ${op}: compile, setup and 3 honest tile proofs`);
      rows.push(await bench({ quick: options.quick }));
    }
    return rows;
  });
  noteLoad("end");

  // ----- Results -----
  const main = compiled.main.info;
  const mainMacs = macsOf(mainParams);
  const baseline = plainSummary(plain.baseline);
  const pool = poolSummary(pooled.throughput);
  const ratio = pool.proofsPerMin / baseline.proofsPerMin;
  const workers = perWorkerMemory([...pooled.warmup.outcomes, ...pooled.throughput.outcomes, ...pooled.batch.outcomes]);
  const { tm, tn, k } = plan.tile;
  const tileMacs = tm * tn * k;
  const tileBytes = tm * k + k * tn;
  const decodeNaive = compiled.naiveDecode.info.constraints;
  const decodeOpt = compiled.optimisedDecode.info.constraints;
  const naiveTotal = compiled.naive.info.constraints;
  const optTotal = compiled.optimised.info.constraints;
  const optimisedProofs = plainSummary(plain.optimised);
  const naiveProofs = plain.naive ? plainSummary(plain.naive) : undefined;
  const multiParams = compiled.multi.params;
  const multiMacs = macsOf(multiParams);
  const multiProofs = plainSummary(plain.multi);
  const batchRun = poolSummary(pooled.batch);
  const perTileGas = gas.verifiers[0]!;
  const multiGas = gas.verifiers[1]!;
  const totalS = (performance.now() - startedAt) / 1000;

  const out: string[] = [];
  const loadStart = machine.loadavgStart.join(" ");
  const loadEnd = loadAverages.at(-1)!.loadavg.join(" ");
  out.push(
    `DEMLE prover benchmark — ${plan.label}`,
    `machine: ${machine.cpus} × ${machine.cpuModel}, ${fmtMiB(machine.totalMemBytes)} RAM, node ${machine.node}, ` +
      `snarkjs ${machine.snarkjs}; load average (1/5/15 min) ${loadStart} at start, ${loadEnd} at end; ` +
      `run took ${(totalS / 60).toFixed(1)} min`,
    "",
    `## Circuit: ${main.name} = ${main.template}`,
    "",
    table(
      ["measurement", "value"],
      [
        ["constraints", fmtInt(main.constraints)],
        ["MACs per proof (NT·TM·TN·K)", fmtInt(mainMacs)],
        ["constraints per MAC", (main.constraints / mainMacs).toFixed(2)],
        ["wires / public inputs", `${fmtInt(main.r1cs.nWires)} / ${main.r1cs.nPubInputs}`],
        ["ptau power needed", String(main.requiredPtauPower)],
      ],
      [1],
    ),
    "",
    "Breakdown (each part compiled alone with the same flags, × how often the circuit instantiates it):",
    "",
    table(
      ["part", "template", "each", "×", "constraints", "share"],
      [
        ...parts.parts.flatMap((r) => {
          const row = [
            r.part,
            r.instance,
            fmtInt(r.constraintsEach),
            fmtInt(r.multiplicity),
            fmtInt(r.constraints),
            `${((100 * r.constraints) / main.constraints).toFixed(1)} %`,
          ];
          if (r.instance.startsWith("Fp8GemmContractCheck")) {
            const products = parts.productConstraints * (r.multiplicity / mainParams.nt);
            const rest = r.constraints - products;
            return [
              row,
              [
                "  of which products (2 per MAC)",
                "",
                "",
                "",
                fmtInt(products),
                `${((100 * products) / main.constraints).toFixed(1)} %`,
              ],
              [
                "  of which output checks",
                "",
                "",
                "",
                fmtInt(rest),
                `${((100 * rest) / main.constraints).toFixed(1)} %`,
              ],
            ];
          }
          return [row];
        }),
        ["sum of parts", "", "", "", fmtInt(parts.sumOfParts), ""],
        ["whole circuit", "", "", "", fmtInt(parts.total), ""],
        ["difference (whole − parts)", "", "", "", fmtInt(parts.difference), ""],
      ],
      [2, 3, 4, 5],
    ),
    "",
    `## Naive vs optimised byte-input tile (${tm}×${tn}×${k} = ${fmtInt(tileMacs)} MACs, A/B bytes + C words as inputs)`,
    "",
    table(
      ["measurement", `NaiveFp8GemmTile(${tm},${tn},${k})`, `Fp8GemmTile(${tm},${tn},${k})`],
      [
        ["constraints", fmtInt(naiveTotal), fmtInt(optTotal)],
        ["constraints per MAC", (naiveTotal / tileMacs).toFixed(2), (optTotal / tileMacs).toFixed(2)],
        ["  FP8 decode per byte (compiled alone)", fmtInt(decodeNaive), fmtInt(decodeOpt)],
        [`  decoding (${fmtInt(tileBytes)} bytes)`, fmtInt(decodeNaive * tileBytes), fmtInt(decodeOpt * tileBytes)],
        ["  per-MAC constraints (by construction)", fmtInt(3 * tileMacs), fmtInt(2 * tileMacs)],
        [
          `  output checks (${tm * tn} words; the rest)`,
          fmtInt(naiveTotal - decodeNaive * tileBytes - 3 * tileMacs),
          fmtInt(optTotal - decodeOpt * tileBytes - 2 * tileMacs),
        ],
        [
          "ptau power needed",
          String(compiled.naive.info.requiredPtauPower),
          String(compiled.optimised.info.requiredPtauPower),
        ],
        ["honest H100 witness satisfies R1CS / corrupted word rejected", "yes / yes", "yes / yes"],
        [
          `prove ms, median (min–max) of ${plan.sideProofs}, plain process`,
          naiveProofs
            ? fmtStats(naiveProofs.proveMs)
            : `not proved: needs 2^${compiled.naive.info.requiredPtauPower} > 2^${MAX_DEV_POWER} (largest dev ptau)`,
          fmtStats(optimisedProofs.proveMs),
        ],
        [
          "witness ms, median (min–max)",
          naiveProofs ? fmtStats(naiveProofs.witnessMs) : "—",
          fmtStats(optimisedProofs.witnessMs),
        ],
      ],
      [],
    ),
    "",
    `## Proving ${main.name}: baseline (one plain snarkjs process, serial) vs pool (${POOL_WORKERS} workers), same ${N} tiles`,
    "",
    `(interleaved: ${rounds.length} rounds of ${rounds.map((r) => r.length).join("/")} tiles, baseline then pool in each; ` +
      "one untimed warm-up proof each)",
    "",
    table(
      ["measurement", "baseline", `pool (${POOL_WORKERS} workers)`],
      [
        [
          "threads",
          `1 process; snarkjs curve ${plain.threads.singleThread ? "single-threaded" : `multi-threaded (${plain.threads.concurrency ?? "?"} curve threads)`}`,
          `${POOL_WORKERS} worker threads, single-threaded curve each`,
        ],
        ["witness ms, median (min–max)", fmtStats(baseline.witnessMs), fmtStats(pool.witnessMs)],
        ["prove ms, median (min–max)", fmtStats(baseline.proveMs), fmtStats(pool.proveMs)],
        [
          "witness + prove ms, median",
          fmtMs(baseline.witnessPlusProveMs.median),
          fmtMs(pool.witnessMs.median + pool.proveMs.median),
        ],
        [
          "verify ms, median (pool: in the worker, counted in its wall time)",
          fmtMs(baseline.verifyMs.median),
          fmtMs(pool.verifyMs.median),
        ],
        [
          `wall ms for ${N} proofs (baseline: Σ witness + prove)`,
          fmtInt(baseline.serialWitnessPlusProveMs),
          fmtInt(pool.wallMs),
        ],
        ["proofs/min", baseline.proofsPerMin.toFixed(2), pool.proofsPerMin.toFixed(2)],
        ["pool / baseline throughput", "1.00", ratio.toFixed(2)],
        [`average CPU use while proving (machine: ${machine.cpus} cores)`, fmtCpu(plain.cpu), fmtCpu(pool.cpu)],
        [
          "process CPU time per proof (all threads; witness, prove, verify)",
          `${(plain.cpu.processCpuMs / N / 1000).toFixed(2)} s`,
          `${(pool.cpu.processCpuMs / N / 1000).toFixed(2)} s`,
        ],
        [
          "process RSS, sampled every 100 ms: before → peak",
          `${fmtMiB(plain.rss.startRssBytes)} → ${fmtMiB(plain.rss.peakRssBytes)} (warm-up proof, no pool yet)`,
          `${fmtMiB(pooled.rssBeforePool)} (no pool yet) → ${fmtMiB(pool.rss.peakRssBytes)} (its ${N} proofs)`,
        ],
      ],
      [],
    ),
    "",
    "Pool memory per worker (largest value reported after any of its proofs; RSS is process-wide, workers share it):",
    "",
    table(
      [
        "worker thread",
        "proofs",
        "heap used",
        "heap total",
        "external",
        "array buffers",
        "peak malloced",
        "process RSS",
      ],
      workers.map((w) => [
        String(w.threadId),
        String(w.proofs),
        fmtMiB(w.heapUsedBytes),
        fmtMiB(w.heapTotalBytes),
        fmtMiB(w.externalBytes),
        fmtMiB(w.arrayBuffersBytes),
        fmtMiB(w.peakMallocedBytes),
        fmtMiB(w.processRssBytes),
      ]),
      [1, 2, 3, 4, 5, 6, 7],
    ),
    "",
    `## k = ${plan.batch} tiles: ${plan.batch} per-tile proofs vs one proof of ${multiParams.nt} small tiles`,
    "",
    table(
      ["measurement", `(a) ${plan.batch} × ${main.name}`, `(b) 1 × ${seedTemplate(multiParams)}`],
      [
        ["constraints per proof", fmtInt(main.constraints), fmtInt(compiled.multi.info.constraints)],
        [
          "MACs covered",
          `${fmtInt(plan.batch * mainMacs)} (${plan.batch} × ${mainParams.tm}×${mainParams.tn}×${mainParams.k})`,
          `${fmtInt(multiMacs)} (${multiParams.nt} × ${multiParams.tm}×${multiParams.tn}×${multiParams.k})`,
        ],
        [
          "constraints per MAC",
          (main.constraints / mainMacs).toFixed(2),
          (compiled.multi.info.constraints / multiMacs).toFixed(2),
        ],
        [
          "proof time",
          `${fmtInt(batchRun.wallMs)} ms wall for ${plan.batch} proofs (pool, ${POOL_WORKERS} workers; prove median ${fmtMs(batchRun.proveMs.median)} ms each)`,
          `${fmtMs(multiProofs.witnessPlusProveMs.median)} ms (witness ${fmtMs(multiProofs.witnessMs.median)} + prove ${fmtMs(multiProofs.proveMs.median)}, median of ${plan.sideProofs}, plain process)`,
        ],
        [
          "MACs per second of proving",
          fmtInt((plan.batch * mainMacs) / (batchRun.wallMs / 1000)),
          fmtInt(multiMacs / (multiProofs.witnessPlusProveMs.median / 1000)),
        ],
        [
          "verification gas: verifyProof call (from a contract)",
          `${plan.batch} × ${fmtInt(perTileGas.callGas)} = ${fmtInt(plan.batch * perTileGas.callGas)}`,
          fmtInt(multiGas.callGas),
        ],
        [
          "verification gas: own tx to verifyProof (gasUsed − 21,000)",
          `${plan.batch} × ${fmtInt(perTileGas.directTxGas - 21_000)} = ${fmtInt(plan.batch * (perTileGas.directTxGas - 21_000))}`,
          fmtInt(multiGas.directTxGas - 21_000),
        ],
        [
          `all proofs in one probe tx (gasUsed − 21,000)`,
          `${fmtInt(gas.batch.txGas - 21_000)} (calls: ${fmtInt(gas.batch.sumCallGas)})`,
          fmtInt(multiGas.probeTxGas - 21_000),
        ],
        ["verifier deployment gas", fmtInt(perTileGas.deployGas), fmtInt(multiGas.deployGas)],
        ["average CPU use while proving", fmtCpu(batchRun.cpu), fmtCpu(plain.multiCpu)],
      ],
      [],
    ),
    "",
    "Gas: verifiers compiled with solc-js " +
      `${gas.compiler.version.split("+")[0]} (${describeSettings(gas.compiler.settings)}), on Hardhat's in-process ` +
      `network${gas.hardfork ? ` (${gas.hardfork})` : ""}. "verifyProof call" = gasleft() difference around the call in ` +
      "contracts/bench/VerifierGasProbe.sol (cold verifier account on the first call: +2,500 vs later calls). " +
      '"own tx" = gasUsed of a transaction sent straight to verifyProof minus the 21,000 base (calldata + execution). ' +
      "The probe tx adds calldata, the loop, one event per proof and one storage write (non-zero → non-zero).",
  );
  const gemmRow: OpBenchRow = {
    op: "gemm",
    circuit: main.name,
    constraints: main.constraints,
    outputsPerTile: plan.main.params.nt * plan.main.params.tm * plan.main.params.tn,
    macsPerTile: mainMacs,
    constraintsPerOutput: main.constraints / (plan.main.params.nt * plan.main.params.tm * plan.main.params.tn),
    constraintsPerMac: main.constraints / mainMacs,
    witnessMs: baseline.witnessMs.median,
    proveMs: baseline.proveMs.median,
  };
  const allOps = [gemmRow, ...opRows];
  out.push(
    "",
    "## Every op's tile circuit (one challenged tile per proof; GEMM from the baseline above, others median of 3)",
    "",
    table(
      [
        "op",
        "circuit",
        "constraints",
        "outputs/proof",
        "MACs/proof",
        "constraints/output",
        "constraints/MAC",
        "witness",
        "prove",
      ],
      allOps.map((r) => [
        r.op,
        r.circuit,
        fmtInt(r.constraints),
        fmtInt(r.outputsPerTile),
        fmtInt(r.macsPerTile),
        r.constraintsPerOutput.toFixed(1),
        r.constraintsPerMac === null ? "—" : r.constraintsPerMac.toFixed(2),
        fmtMs(r.witnessMs),
        fmtMs(r.proveMs),
      ]),
      [2, 3, 4, 5, 6, 7, 8],
    ),
  );
  const text = out.join("\n");

  const report = {
    benchmark: "prover",
    mode: options.quick ? "quick" : "full",
    createdAt: new Date().toISOString(),
    gitCommit: gitCommit(),
    options,
    machine: { ...machine, loadavgEnd: loadAverages.at(-1)!.loadavg },
    loadAverages,
    durationMs: round(performance.now() - startedAt),
    phasesMs,
    circuits: {
      main: { ...main, params: mainParams, macs: mainMacs, constraintsPerMac: main.constraints / mainMacs },
      breakdown: parts,
      naiveTile: compiled.naive.info,
      optimisedTile: compiled.optimised.info,
      naiveDecode: compiled.naiveDecode.info,
      optimisedDecode: compiled.optimisedDecode.info,
      multiTile: { ...compiled.multi.info, params: multiParams, macs: multiMacs },
      multiCandidates: compiled.multiTried.map((m) => ({
        params: m.params,
        constraints: m.info.constraints,
        fits: m.fits,
      })),
    },
    tileComparison: {
      ...tileCheck,
      macs: tileMacs,
      naive: {
        ...tileCheck.naive,
        constraints: naiveTotal,
        constraintsPerMac: naiveTotal / tileMacs,
        proved: naiveProofs !== undefined,
        notProvedReason: naiveProofs
          ? null
          : `needs a 2^${compiled.naive.info.requiredPtauPower} ptau; the largest development ptau is 2^${MAX_DEV_POWER}`,
        proofs: plain.naive ? plainRaw(plain.naive) : [],
        summary: naiveProofs ?? null,
      },
      optimised: {
        ...tileCheck.optimised,
        constraints: optTotal,
        constraintsPerMac: optTotal / tileMacs,
        proofs: plainRaw(plain.optimised),
        summary: optimisedProofs,
      },
    },
    setups: Object.fromEntries(
      Object.entries(setups)
        .filter((e): e is [string, CircuitSetup] => e[1] !== undefined)
        .map(([key, s]) => [
          key,
          {
            name: s.name,
            power: s.power,
            cached: s.cached,
            stepsMs: s.stepsMs,
            ptau: path.relative(REPO_ROOT, s.ptauPath),
          },
        ]),
    ),
    baseline: {
      description:
        "one plain process: snarkjs.wtns.calculate + groth16.prove per tile, one after another, snarkjs defaults",
      curveThreads: plain.threads,
      warmup: plainRaw(plain.warmup),
      proofs: plainRaw(plain.baseline),
      summary: baseline,
      cpu: plain.cpu,
      rssDuringWarmup: plain.rss,
      maxRssBytesBefore: plain.maxRssBefore,
    },
    pool: {
      workers: POOL_WORKERS,
      warmup: { ...poolSummary(pooled.warmup), proofs: poolRaw(pooled.warmup.outcomes) },
      summary: pool,
      proofs: poolRaw(pooled.throughput.outcomes),
      throughputRatioVsBaseline: ratio,
      perWorkerMemory: workers,
      rounds: pooled.rounds,
      rssBytesBeforePoolCreated: pooled.rssBeforePool,
      maxRssBytesAfter: pooled.maxRssAfter,
    },
    kComparison: {
      k: plan.batch,
      perTile: {
        circuit: main.name,
        proofs: poolRaw(pooled.batch.outcomes),
        summary: batchRun,
        macs: plan.batch * mainMacs,
      },
      oneProof: {
        circuit: compiled.multi.info.name,
        template: seedTemplate(multiParams),
        constraints: compiled.multi.info.constraints,
        macs: multiMacs,
        proofs: plainRaw(plain.multi),
        summary: multiProofs,
        cpu: plain.multiCpu,
      },
    },
    gas,
    ops: allOps,
    table: text,
  };
  const outFile = options.out;
  mkdirSync(path.dirname(outFile), { recursive: true });
  writeFileSync(outFile, `${JSON.stringify(report, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v), 2)}\n`);
  progress(`done in ${(totalS / 60).toFixed(1)} min; raw numbers in ${displayPath(outFile)}`);
  process.stdout.write(`${text}\n`);
}

async function main(): Promise<void> {
  const program = new Command()
    .name("bench:prover")
    .description("Benchmark of the DEMLE Groth16 tile prover (see the header of bench/prover.ts)")
    .option("--proofs <n>", "proofs of the production circuit per measurement (>= 5)", parseProofs, 6)
    .option("--quick", "small circuits instead of the production one (smoke test)", false)
    .option("--out <file>", "JSON output", "bench/results/prover.json")
    .parse();
  const opts = program.opts<{ proofs: number; quick: boolean; out: string }>();
  // The default lives in the repo; an explicit --out is relative to the caller's directory (npm run starts in the
  // package root and passes the caller's directory as INIT_CWD).
  const out =
    program.getOptionValueSource("out") === "default"
      ? path.join(REPO_ROOT, opts.out)
      : path.resolve(process.env.INIT_CWD ?? process.cwd(), opts.out);
  process.chdir(REPO_ROOT); // Hardhat finds hardhat.config.ts from the working directory
  try {
    await run({ proofs: opts.proofs, quick: opts.quick, out });
  } finally {
    await terminateBn128Curve();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`\nbench:prover failed: ${error instanceof BenchError ? error.message : errorMessage(error)}\n`);
  if (!(error instanceof BenchError) && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  process.exitCode = 1;
});
