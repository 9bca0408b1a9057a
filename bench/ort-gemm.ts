/**
 * ORT CPU throughput of the miner's FP8-QDQ GEMM graph (miner/gemm.ts) against a plain float32 MatMul of the same
 * shape, in the same process, with interleaved repetitions and medians. Also: honest variants of the FP8 graph
 * (Cast instead of Q/DQ, inter-op parallelism) and thread settings, the miner's end-to-end `Fp8GemmRunner.runTimed`
 * (JS code decode + session.run), and ORT's per-node profile of both graphs (where the time goes).
 *
 * Interleaving: every round runs each variant (rotating order) as a block of back-to-back runs after an idle gap.
 * The gap matters: by default ORT's intra-op workers spin for tens of milliseconds after a run, so a session run right
 * after another session's run competes with that session's spinning workers for the cores.
 *
 *   npm run bench:ort [-- --rounds 20 --block 5 --gap 40 --shapes 512x512x64,1024x1024x64,512x512x512,2048x2048x64]
 *
 * Writes bench/results/ort-gemm.json. Every variant gets the same float32 inputs (decoded random non-NaN E4M3FN
 * codes) and must return C bit-identical to the float32 baseline, or the benchmark aborts.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";

import * as ort from "onnxruntime-node";

import { randomFiniteCodes } from "../common/fp8.js";
import { Prng } from "../common/prng.js";
import {
  Fp8GemmRunner,
  NO_SPINNING,
  buildFloat32GemmModel,
  buildFp8GemmModel,
  decodeE4m3fnMatrix,
  gemmMacs,
  macsPerSecond,
  type GemmShape,
} from "../miner/gemm.js";
import { DataType, GraphBuilder, attr } from "../miner/onnx/graph.js";
import { SESSION_OPTIONS } from "../miner/onnx/session.js";

const RESULTS_FILE = fileURLToPath(new URL("./results/ort-gemm.json", import.meta.url));

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "20" },
    block: { type: "string", default: "5" },
    gap: { type: "string", default: "40" },
    warmup: { type: "string", default: "3" },
    shapes: { type: "string", default: "512x512x64,1024x1024x64,512x512x512,2048x2048x64" },
  },
});
const ROUNDS = Number(args.rounds);
const BLOCK = Number(args.block);
const GAP_MS = Number(args.gap);
const WARMUP = Number(args.warmup);
const SHAPES: GemmShape[] = args.shapes.split(",").map((s) => {
  const [m, n, k] = s.split("x").map(Number);
  if (m === undefined || n === undefined || k === undefined) throw new Error(`bad shape ${s}; use MxNxK`);
  return { m, n, k };
});
if (!(ROUNDS >= 3) || !(BLOCK >= 2) || !(GAP_MS >= 0) || !(WARMUP >= 0)) {
  throw new Error("need --rounds ≥ 3, --block ≥ 2, --gap ≥ 0, --warmup ≥ 0");
}

/** FP8 boundary through Cast(to=FLOAT8E4M3FN, saturate=1) → Cast(to=FLOAT) instead of Q/DQ (same values). */
function buildFp8CastGemmModel({ m, n, k }: GemmShape): Uint8Array {
  const g = new GraphBuilder();
  const a = g.input("A", DataType.FLOAT, [m, k]);
  const b = g.input("B", DataType.FLOAT, [k, n]);
  const throughFp8 = (x: string): string => {
    const [f8] = g.node("Cast", [x], {
      attributes: { to: attr.int(DataType.FLOAT8E4M3FN), saturate: attr.int(1) },
      name: `cast_to_fp8_${x}`,
    });
    return g.node("Cast", [f8!], { attributes: { to: attr.int(DataType.FLOAT) }, name: `cast_from_fp8_${x}` })[0]!;
  };
  const [c] = g.node("MatMul", [throughFp8(a), throughFp8(b)], { outputs: ["C"], name: "gemm" });
  g.output(c!, DataType.FLOAT, [m, n]);
  return g.build();
}

interface Variant {
  readonly name: string;
  /** Variant whose median is the denominator of this one's ratio ("" for a baseline). */
  readonly baseline: string;
  readonly build: (shape: GemmShape) => Uint8Array;
  readonly options: ort.InferenceSession.SessionOptions;
}

const F32 = "f32 MatMul";
const VARIANTS: readonly Variant[] = [
  { name: F32, baseline: "", build: buildFloat32GemmModel, options: {} },
  { name: "FP8 QDQ", baseline: F32, build: buildFp8GemmModel, options: {} },
  { name: "FP8 Cast-Cast", baseline: F32, build: buildFp8CastGemmModel, options: {} },
  {
    name: "FP8 QDQ inter-op 2",
    baseline: F32,
    build: buildFp8GemmModel,
    options: { interOpNumThreads: 2, executionMode: "parallel" },
  },
  {
    name: "FP8 QDQ inter-op 2 nospin",
    baseline: "f32 MatMul nospin",
    build: buildFp8GemmModel,
    options: { interOpNumThreads: 2, executionMode: "parallel", ...NO_SPINNING },
  },
  { name: "FP8 Cast-Cast nospin", baseline: "f32 MatMul nospin", build: buildFp8CastGemmModel, options: NO_SPINNING },
  { name: "f32 MatMul t=1", baseline: "", build: buildFloat32GemmModel, options: { intraOpNumThreads: 1 } },
  { name: "FP8 QDQ t=1", baseline: "f32 MatMul t=1", build: buildFp8GemmModel, options: { intraOpNumThreads: 1 } },
  { name: "f32 MatMul nospin", baseline: "", build: buildFloat32GemmModel, options: NO_SPINNING },
  { name: "FP8 QDQ nospin", baseline: "f32 MatMul nospin", build: buildFp8GemmModel, options: NO_SPINNING },
];
/** The miner's path: Fp8GemmRunner.runTimed (JS decode of the codes + session.run of the QDQ graph). */
const RUNNER = "runner decode+QDQ";
const RUNNER_NOSPIN = "runner decode+QDQ nospin";

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((p, q) => p - q);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

const wordsOf = (t: ort.Tensor): Uint32Array => {
  const f = t.data as Float32Array;
  return new Uint32Array(f.buffer, f.byteOffset, f.length);
};
const sameWords = (x: Uint32Array, y: Uint32Array): boolean => x.length === y.length && x.every((w, i) => w === y[i]);

interface Profile {
  /** Median kernel time per node, µs. */
  readonly nodes: Record<string, number>;
  /** Median ORT model_run, µs. */
  readonly modelRunUs: number;
  /** Median session.run wall time seen from JS, µs. */
  readonly wallUs: number;
}

/** ORT's own profiler on one session, run alone: median per-node kernel time, model_run and JS wall time. */
async function profile(
  model: Uint8Array,
  feeds: Record<string, ort.Tensor>,
  options: ort.InferenceSession.SessionOptions,
): Promise<Profile> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "ort-gemm-profile-"));
  try {
    const session = await ort.InferenceSession.create(model, {
      ...SESSION_OPTIONS,
      ...options,
      enableProfiling: true,
      profileFilePrefix: path.join(dir, "gemm"),
    });
    const wall: number[] = [];
    for (let i = 0; i < WARMUP + ROUNDS; i++) {
      const t0 = performance.now();
      await session.run(feeds);
      wall.push(performance.now() - t0);
    }
    session.endProfiling();
    await session.release();
    const [file] = readdirSync(dir);
    if (file === undefined) throw new Error("ORT wrote no profile");
    const events = JSON.parse(readFileSync(path.join(dir, file), "utf8")) as {
      cat: string;
      name: string;
      dur: number;
    }[];
    const perNode = new Map<string, number[]>();
    const runs: number[] = [];
    for (const e of events) {
      if (e.cat === "Session" && e.name === "model_run") runs.push(e.dur);
      if (e.cat === "Node" && e.name.endsWith("_kernel_time")) {
        const node = e.name.slice(0, -"_kernel_time".length);
        perNode.set(node, [...(perNode.get(node) ?? []), e.dur]);
      }
    }
    // Drop the warm-up runs (every node runs once per run).
    const nodes = Object.fromEntries([...perNode].map(([node, d]) => [node, median(d.slice(-ROUNDS))]));
    return { nodes, modelRunUs: median(runs.slice(-ROUNDS)), wallUs: 1000 * median(wall.slice(-ROUNDS)) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Row {
  shape: string;
  variant: string;
  medianMs: number;
  gmacPerSecond: number;
  /** Ratio of throughputs: baseline median / this median ("" baseline: 1). */
  vsF32: number;
  baseline: string;
  vsBaseline: number;
}

async function benchShape(shape: GemmShape, seed: number) {
  const { m, n, k } = shape;
  const prng = new Prng(seed);
  const aCodes = randomFiniteCodes(prng, m * k, "e4m3fn");
  const bCodes = randomFiniteCodes(prng, k * n, "e4m3fn");
  const feeds = {
    A: new ort.Tensor("float32", decodeE4m3fnMatrix(aCodes, "A", k), [m, k]),
    B: new ort.Tensor("float32", decodeE4m3fnMatrix(bCodes, "B", n), [k, n]),
  };
  const sessions: ort.InferenceSession[] = [];
  for (const v of VARIANTS)
    sessions.push(await ort.InferenceSession.create(v.build(shape), { ...SESSION_OPTIONS, ...v.options }));
  const runner = await Fp8GemmRunner.create({ ...shape, executionProvider: "cpu" });
  const runnerNoSpin = await Fp8GemmRunner.create({ ...shape, executionProvider: "cpu", allowSpinning: false });
  try {
    // Same bits from every variant: Q/DQ at scale 1 is the identity on E4M3FN values, and MLAS's sgemm splits M and
    // N (never K) across threads.
    const reference = new Uint32Array(wordsOf((await sessions[0]!.run(feeds)).C!));
    for (const [i, s] of sessions.entries()) {
      if (!sameWords(wordsOf((await s.run(feeds)).C!), reference)) {
        throw new Error(`${VARIANTS[i]!.name} output differs from the float32 MatMul`);
      }
    }
    for (const r of [runner, runnerNoSpin]) {
      if (!sameWords(await r.run(aCodes, bCodes), reference)) throw new Error("runner output differs");
    }

    const times = new Map<string, number[]>(
      [...VARIANTS.map((v) => v.name), RUNNER, RUNNER_NOSPIN].map((n) => [n, []]),
    );
    const runnerParts = new Map(
      [RUNNER, RUNNER_NOSPIN].map((n) => [n, { decode: [] as number[], compute: [] as number[] }]),
    );
    const tasks: ((record: boolean) => Promise<void>)[] = [
      ...sessions.map((s, i) => async (record: boolean) => {
        const t0 = performance.now();
        await s.run(feeds);
        if (record) times.get(VARIANTS[i]!.name)!.push(performance.now() - t0);
      }),
      ...(
        [
          [RUNNER, runner],
          [RUNNER_NOSPIN, runnerNoSpin],
        ] as const
      ).map(([name, r]) => async (record: boolean) => {
        const { timings } = await r.runTimed(aCodes, bCodes);
        if (!record) return;
        times.get(name)!.push(timings.totalMs);
        runnerParts.get(name)!.decode.push(timings.decodeMs);
        runnerParts.get(name)!.compute.push(timings.computeMs);
      }),
    ];
    // Each round runs every variant (rotating order) as a block of BLOCK back-to-back runs after an idle gap long
    // enough for the previous session's spinning ORT workers to go to sleep; a block's first run is not recorded.
    const block = async (task: (record: boolean) => Promise<void>, record: boolean) => {
      await sleep(GAP_MS);
      await task(false);
      for (let r = 1; r < BLOCK; r++) await task(record);
    };
    for (let w = 0; w < WARMUP; w++) for (const task of tasks) await task(false);
    for (let round = 0; round < ROUNDS; round++) {
      for (let j = 0; j < tasks.length; j++) await block(tasks[(round + j) % tasks.length]!, true);
    }

    const medians = new Map([...times].map(([name, t]) => [name, median(t)]));
    const label = `${m}×${n}×${k}`;
    const rows: Row[] = [...medians].map(([variant, ms]) => {
      const baseline =
        VARIANTS.find((v) => v.name === variant)?.baseline ?? (variant === RUNNER ? F32 : "f32 MatMul nospin");
      return {
        shape: label,
        variant,
        medianMs: ms,
        gmacPerSecond: macsPerSecond(shape, ms) / 1e9,
        vsF32: medians.get(F32)! / ms,
        baseline,
        vsBaseline: baseline === "" ? 1 : medians.get(baseline)! / ms,
      };
    });
    const profiles = {
      [F32]: await profile(buildFloat32GemmModel(shape), feeds, {}),
      "FP8 QDQ": await profile(buildFp8GemmModel(shape), feeds, {}),
      "f32 MatMul t=1": await profile(buildFloat32GemmModel(shape), feeds, { intraOpNumThreads: 1 }),
      "FP8 QDQ t=1": await profile(buildFp8GemmModel(shape), feeds, { intraOpNumThreads: 1 }),
      "FP8 Cast-Cast": await profile(buildFp8CastGemmModel(shape), feeds, {}),
    };
    return {
      shape: label,
      macs: gemmMacs(shape),
      inputElements: k * (m + n),
      rows,
      runner: Object.fromEntries(
        [...runnerParts].map(([name, p]) => [
          name,
          { decodeMedianMs: median(p.decode), runMedianMs: median(p.compute) },
        ]),
      ),
      profiles,
      samples: Object.fromEntries(times),
    };
  } finally {
    await Promise.all(sessions.map((s) => s.release()));
    await runner.release();
    await runnerNoSpin.release();
  }
}

const pad = (s: string, w: number, right = false): string => (right ? s.padStart(w) : s.padEnd(w));
const fmtRatio = (x: number): string => `${x.toFixed(2)}×`;

const cpus = os.cpus();
console.log(
  `ORT ${ort.env.versions.common} (onnxruntime-node, CPU EP, graphOptimizationLevel basic), Node ${process.version}, ` +
    `${cpus[0]?.model ?? "?"} ×${cpus.length}\n${ROUNDS} interleaved rounds; per round each variant runs a block of ` +
    `${BLOCK} back-to-back runs after a ${GAP_MS} ms idle gap, first run of a block not recorded; medians.\n` +
    `t = intraOpNumThreads (default: ORT's choice); nospin = session.intra_op.allow_spinning 0; ` +
    `inter-op 2 = executionMode parallel, interOpNumThreads 2.`,
);
const results = [];
for (const [i, shape] of SHAPES.entries()) results.push(await benchShape(shape, 1000 + i));

const header = `| ${pad("shape", 12)} | ${pad("variant", 26)} | ${pad("median ms", 9, true)} | ${pad("GMAC/s", 7, true)} | ${pad("vs f32", 6, true)} | ${pad("vs same-setting f32", 27)} |`;
console.log();
console.log(header);
console.log(
  `| ${"-".repeat(12)} | ${"-".repeat(26)} | ${"-".repeat(8)}: | ${"-".repeat(6)}: | ${"-".repeat(5)}: | ${"-".repeat(27)} |`,
);
for (const r of results) {
  for (const row of r.rows) {
    const same = row.baseline === "" || row.baseline === F32 ? "" : `${fmtRatio(row.vsBaseline)} (${row.baseline})`;
    console.log(
      `| ${pad(row.shape, 12)} | ${pad(row.variant, 26)} | ${pad(row.medianMs.toFixed(3), 9, true)} | ` +
        `${pad(row.gmacPerSecond.toFixed(2), 7, true)} | ${pad(fmtRatio(row.vsF32), 6, true)} | ${pad(same, 27)} |`,
    );
  }
}
console.log();
console.log("runner = Fp8GemmRunner.runTimed: median JS decode (codes → float32, NaN check) and session.run");
for (const r of results) {
  for (const [name, p] of Object.entries(r.runner)) {
    console.log(
      `  ${r.shape} ${name}: decode ${p.decodeMedianMs.toFixed(3)} ms, session.run ${p.runMedianMs.toFixed(3)} ms`,
    );
  }
}
console.log();
console.log(
  "ORT profiler, each session alone: median kernel µs per node; Q+DQ sum; ORT model_run; JS session.run wall",
);
for (const r of results) {
  for (const [name, p] of Object.entries(r.profiles)) {
    const nodes = Object.entries(p.nodes).map(([node, us]) => `${node} ${us}`);
    const qdq = Object.entries(p.nodes)
      .filter(([node]) => node !== "gemm")
      .reduce((sum, [, us]) => sum + us, 0);
    // Q+DQ (or Cast+Cast) of A and B touches K·(M+N) input elements.
    const perElement = qdq > 0 ? ` (${((1000 * qdq) / r.inputElements).toFixed(2)} ns per input element)` : "";
    console.log(
      `  ${pad(r.shape, 12)} ${pad(name, 15)} ${nodes.join(", ")}${qdq > 0 ? `; Q+DQ ${qdq}${perElement}` : ""}; ` +
        `model_run ${p.modelRunUs}; wall ${p.wallUs.toFixed(0)}`,
    );
  }
}

mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
writeFileSync(
  RESULTS_FILE,
  JSON.stringify(
    {
      date: new Date().toISOString(),
      ort: ort.env.versions.common,
      node: process.version,
      cpu: cpus[0]?.model,
      cpus: cpus.length,
      rounds: ROUNDS,
      block: BLOCK,
      gapMs: GAP_MS,
      warmup: WARMUP,
      results,
    },
    null,
    2,
  ) + "\n",
);
console.log(`\nwrote ${path.relative(process.cwd(), RESULTS_FILE)}`);
