/**
 * The miner's FP8 GEMM in ONNX Runtime (miner/gemm.ts): ORT's outputs against the numerics contract
 * (common/numerics.ts) on seed-generated work and random inputs, the float8 content of the graph, input validation and
 * the execution-provider fallback.
 *
 * The error figures (worst |c − S·u²| / (T·u²) of ORT CPU) are printed for docs/numerics.md.
 */
import { afterAll, describe, expect, it } from "vitest";
import onnxProto from "onnx-proto";
import * as ort from "onnxruntime-node";

import { encodeFp8, randomFiniteCodes } from "../common/fp8.js";
import {
  checkTile,
  decodeFloat32,
  exactTile,
  productUnitShift,
  roundScaledToFloat32Bits,
  toScaledInteger,
} from "../common/numerics.js";
import { Prng } from "../common/prng.js";
import { PRODUCTION_TILING, defineWork, generateInputs, type GemmTiling } from "../common/work.js";
import {
  E4M3FN_DECODE_TABLE,
  Fp8GemmRunner,
  buildFloat32GemmModel,
  buildFp8GemmModel,
  macsPerSecond,
  type GemmShape,
} from "../miner/gemm.js";
import { DataType } from "../miner/onnx/graph.js";

const { onnx } = onnxProto;
const TOLERANCE = 2 ** -9;

const runners: Fp8GemmRunner[] = [];
async function runner(options: Parameters<typeof Fp8GemmRunner.create>[0]): Promise<Fp8GemmRunner> {
  const r = await Fp8GemmRunner.create(options);
  runners.push(r);
  return r;
}
afterAll(async () => {
  await Promise.all(runners.map((r) => r.release()));
});

/** Uniformly random non-NaN E4M3FN codes (every finite value equally likely: a wide exponent range). */
const uniformCodes = (prng: Prng, length: number) => randomFiniteCodes(prng, length, "e4m3fn");

/** Standard normal samples rounded to E4M3FN (Box–Muller; saturating, so never NaN). */
function normalCodes(prng: Prng, length: number): Uint8Array {
  const codes = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    const x = Math.sqrt(-2 * Math.log(1 - prng.nextFloat())) * Math.cos(2 * Math.PI * prng.nextFloat());
    codes[i] = encodeFp8(x, "e4m3fn", true);
  }
  return codes;
}

interface ErrorFigures {
  readonly worst: number;
  /** Share of outputs equal to the correctly rounded exact sum. */
  readonly correctlyRounded: number;
  /** Share of outputs equal to the exact sum (no rounding at all). */
  readonly exact: number;
  readonly failures: number;
  /** Largest |S·u²| (the exact output magnitude). */
  readonly largest: number;
}

function errorFigures(a: Uint8Array, b: Uint8Array, c: Uint32Array, { m, n, k }: GemmShape): ErrorFigures {
  const check = checkTile(a, b, c, m, n, k, "e4m3fn");
  const { dot } = exactTile(a, b, m, n, k, "e4m3fn");
  const unit = productUnitShift("e4m3fn");
  let rounded = 0;
  let exact = 0;
  let largest = 0n;
  for (let i = 0; i < m * n; i++) {
    const magnitude = dot[i]! < 0n ? -dot[i]! : dot[i]!;
    if (magnitude > largest) largest = magnitude;
    const bits = c[i]!;
    const nearest = roundScaledToFloat32Bits(dot[i]!, unit);
    // ±0 both count as the (correctly rounded, exact) zero.
    if (bits === nearest || (nearest === 0 && (bits & 0x7fff_ffff) === 0)) rounded++;
    const decoded = decodeFloat32(bits);
    if (decoded.kind === "finite" && toScaledInteger(decoded, unit) === dot[i]) exact++;
  }
  return {
    worst: check.worstRelativeError,
    correctlyRounded: rounded / (m * n),
    exact: exact / (m * n),
    failures: check.failures.length,
    largest: Number(largest) * 2 ** -unit,
  };
}

const SMALL_TILING: GemmTiling = { tileRows: 4, tileCols: 4, depth: 16, maxRowBlocksLog2: 2, maxColBlocksLog2: 2 };

describe("Fp8GemmRunner: ORT outputs against the numerics contract", () => {
  for (const [label, tiling] of [
    ["PRODUCTION_TILING", PRODUCTION_TILING],
    ["4×4×16 tiling", SMALL_TILING],
  ] as const) {
    it(`seed-generated work, ${label}, 2×2 tiles: every output passes checkTile`, async () => {
      const work = defineWork(tiling, { rowBlocksLog2: 1, colBlocksLog2: 1 });
      const { a, b } = await generateInputs(0x5eedn + BigInt(tiling.depth), work);
      const r = await runner({ m: work.m, n: work.n, k: work.k, executionProvider: "cpu" });
      const { c, timings } = await r.runTimed(a, b);
      const check = checkTile(a, b, c, work.m, work.n, work.k, "e4m3fn");
      expect(check.failures).toEqual([]);
      expect(check.ok).toBe(true);
      expect(check.worstRelativeError).toBeLessThan(TOLERANCE);
      const figures = errorFigures(a, b, c, work);
      console.log(
        `[ORT CPU vs exact] seed work ${label} ${work.m}×${work.n}×${work.k}: worst |c − S|/T = ` +
          `${check.worstRelativeError.toExponential(2)} (tolerance 2^-9 = ${TOLERANCE.toExponential(2)}), ` +
          `correctly rounded ${(100 * figures.correctlyRounded).toFixed(1)} %, exact ${(100 * figures.exact).toFixed(1)} %; ` +
          `run ${timings.totalMs.toFixed(2)} ms`,
      );
    });
  }

  it("random inputs, K = 16 … 4096: ORT CPU's worst relative error (printed for docs/numerics.md)", async () => {
    const prng = new Prng(0x6e6d);
    // Odd M and N too, so MLAS's edge handling is exercised as well as its full blocks.
    const shapes: GemmShape[] = [
      { m: 33, n: 40, k: 16 },
      { m: 32, n: 32, k: 64 },
      { m: 24, n: 56, k: 256 },
      { m: 32, n: 32, k: 1024 },
      { m: 16, n: 16, k: 4096 },
    ];
    const lines: string[] = [];
    for (const shape of shapes) {
      const { m, n, k } = shape;
      const r = await runner({ ...shape, executionProvider: "cpu" });
      for (const [kind, generate] of [
        ["normal", normalCodes],
        ["uniform codes", uniformCodes],
      ] as const) {
        const a = generate(prng, m * k);
        const b = generate(prng, k * n);
        const c = await r.run(a, b);
        const figures = errorFigures(a, b, c, shape);
        expect(figures.failures, `${kind} ${m}×${n}×${k}`).toBe(0);
        expect(figures.worst, `${kind} ${m}×${n}×${k}`).toBeLessThan(TOLERANCE);
        const percent = (x: number) => `${(100 * x).toFixed(1)} %`;
        lines.push(
          `| ${kind.padEnd(13)} | ${`${m}×${n}×${k}`.padStart(10)} | ${figures.worst.toExponential(1).padStart(11)} | ` +
            `${percent(figures.correctlyRounded).padStart(17)} | ${percent(figures.exact).padStart(12)} | ` +
            `${Math.round(figures.largest).toLocaleString("en-US").padStart(12)} |`,
        );
      }
    }
    console.log(
      [
        `[ORT CPU vs exact] onnxruntime-node ${ort.env.versions.common} CPU EP, FP8-QDQ graph, E4M3FN inputs; ` +
          `worst |c − S·u²| / (T·u²) over all outputs:`,
        "| kind          | M×N×K      | ORT CPU f32 | correctly rounded | exact outputs | largest |S·u²| |",
        "| ------------- | ---------- | ----------: | ----------------: | ------------: | -------------: |",
        ...lines,
      ].join("\n"),
    );
  });
});

describe("buildFp8GemmModel: float8 inside the graph", () => {
  type Graph = onnxProto.onnx.IGraphProto;
  /** protobufjs types repeated fields as optional; decode() always fills them. */
  const list = <T>(x: T[] | null | undefined): T[] => x ?? [];
  const decodeGraph = (bytes: Uint8Array) => {
    const model = onnx.ModelProto.decode(bytes);
    const graph: Graph = model.graph ?? {};
    return {
      opset: Number(list(model.opsetImport).find((o) => o.domain === "")?.version),
      graph,
      nodes: list(graph.node).map((n) => ({
        opType: n.opType,
        inputs: list(n.input),
        outputs: list(n.output),
        attributes: list(n.attribute).map((a) => a.name),
      })),
      io: (values: onnxProto.onnx.IValueInfoProto[] | null | undefined) =>
        list(values).map((v) => [v.name, v.type?.tensorType?.elemType]),
      initializer: (name: string | undefined) => list(graph.initializer).find((t) => t.name === name),
    };
  };
  const shape = { m: 16, n: 8, k: 64 };

  it("A and B each go through QuantizeLinear with a FLOAT8E4M3FN zero point, then DequantizeLinear, into MatMul", () => {
    const { opset, graph, nodes, io, initializer } = decodeGraph(buildFp8GemmModel(shape));
    expect(opset).toBe(21);
    expect(io(graph.input)).toEqual([
      ["A", DataType.FLOAT],
      ["B", DataType.FLOAT],
    ]);
    expect(io(graph.output)).toEqual([["C", DataType.FLOAT]]);
    expect(nodes.map((n) => n.opType).sort()).toEqual(
      ["DequantizeLinear", "DequantizeLinear", "MatMul", "QuantizeLinear", "QuantizeLinear"].sort(),
    );
    const quantize = nodes.filter((n) => n.opType === "QuantizeLinear");
    const dequantize = nodes.filter((n) => n.opType === "DequantizeLinear");
    expect(quantize.map((n) => n.inputs[0])).toEqual(["A", "B"]);
    for (const q of quantize) {
      const [, scale, zeroPoint] = q.inputs;
      // The zero point's element type is what makes QuantizeLinear's output float8 (opset 21).
      expect(initializer(zeroPoint)?.dataType).toBe(DataType.FLOAT8E4M3FN);
      expect([...(initializer(zeroPoint)?.rawData ?? [])]).toEqual([0]);
      expect(initializer(scale)?.dataType).toBe(DataType.FLOAT);
      expect(new Float32Array(Uint8Array.from(initializer(scale)?.rawData ?? []).buffer)).toEqual(Float32Array.of(1));
      expect(q.attributes).toEqual([]); // saturate: default (1)
      // The float8 output feeds a DequantizeLinear with the same float8 zero point.
      const dq = dequantize.find((d) => d.inputs[0] === q.outputs[0]);
      expect(dq?.inputs.slice(1)).toEqual([scale, zeroPoint]);
    }
    const matmul = nodes.filter((n) => n.opType === "MatMul");
    expect(matmul).toHaveLength(1);
    expect(matmul[0]?.inputs).toEqual(dequantize.map((d) => d.outputs[0]));
    expect(matmul[0]?.outputs).toEqual(["C"]);
  });

  it("the float32 baseline model is a bare MatMul of the same interface", () => {
    const { graph, nodes, io } = decodeGraph(buildFloat32GemmModel(shape));
    expect(nodes.map((n) => n.opType)).toEqual(["MatMul"]);
    expect(io(graph.input)).toEqual([
      ["A", DataType.FLOAT],
      ["B", DataType.FLOAT],
    ]);
    expect(io(graph.output)).toEqual([["C", DataType.FLOAT]]);
  });

  it("the decode table is exact E4M3FN (spot values) and the runner returns float32 bit patterns", async () => {
    expect(E4M3FN_DECODE_TABLE[0x7e]).toBe(448);
    expect(E4M3FN_DECODE_TABLE[0x01]).toBe(2 ** -9);
    expect(Object.is(E4M3FN_DECODE_TABLE[0x80], -0)).toBe(true);
    expect(E4M3FN_DECODE_TABLE[0x7f]).toBeNaN();
    const r = await runner({ m: 1, n: 1, k: 2, executionProvider: "cpu" });
    // 448·448 + 2^-9·2^-9: 200704 + 2^-18 is not a float32; the sum rounds to 200704 (0x48440000).
    expect([...(await r.run(Uint8Array.of(0x7e, 0x01), Uint8Array.of(0x7e, 0x01)))]).toEqual([0x4844_0000]);
    expect(macsPerSecond({ m: 512, n: 512, k: 64 }, 1)).toBe(512 * 512 * 64 * 1000);
  });
});

describe("Fp8GemmRunner: bad inputs and providers", () => {
  it("rejects wrong lengths, NaN codes and bad shapes with clear errors", async () => {
    const r = await runner({ m: 2, n: 3, k: 4, executionProvider: "cpu" });
    const a = new Uint8Array(8).fill(0x38);
    const b = new Uint8Array(12).fill(0x38);
    await expect(r.run(a.subarray(1), b)).rejects.toThrow("A has 7 codes, expected 2×4 = 8");
    await expect(r.run(a, new Uint8Array(13))).rejects.toThrow("B has 13 codes, expected 4×3 = 12");
    await expect(r.run(a, [...b] as unknown as Uint8Array)).rejects.toThrow("B must be a Uint8Array");
    const nanA = a.slice();
    nanA[6] = 0x7f;
    await expect(r.run(nanA, b)).rejects.toThrow("A[6] (row 1, column 2) is E4M3FN code 0x7f = NaN");
    const nanB = b.slice();
    nanB[11] = 0xff;
    await expect(r.run(a, nanB)).rejects.toThrow("B[11] (row 3, column 2) is E4M3FN code 0xff = NaN");
    // Every non-NaN code is accepted, including ±448 and −0.
    await expect(r.run(Uint8Array.of(0x7e, 0xfe, 0x80, 0x00, 0x01, 0x81, 0x7d, 0xfd), b)).resolves.toHaveLength(6);
    expect(() => buildFp8GemmModel({ m: 0, n: 1, k: 1 })).toThrow("GEMM m must be a positive integer, got 0");
    await expect(Fp8GemmRunner.create({ m: 2, n: 2.5, k: 2 })).rejects.toThrow("GEMM n must be a positive integer");
    await expect(
      Fp8GemmRunner.create({ m: 2, n: 2, k: 2, executionProvider: "tpu" as unknown as "cpu" }),
    ).rejects.toThrow("unknown execution provider tpu");
    const released = await Fp8GemmRunner.create({ m: 2, n: 3, k: 4 });
    await released.release();
    await expect(released.run(a, b)).rejects.toThrow("already released");
  });

  for (const provider of ["cuda", "webgpu"] as const) {
    it(`'${provider}' falls back to 'cpu' with a message when ORT cannot create it here`, async () => {
      const listed = ort.listSupportedBackends();
      const messages: string[] = [];
      const r = await runner({ m: 2, n: 2, k: 4, executionProvider: provider, onFallback: (m) => messages.push(m) });
      console.log(
        `[EP] onnxruntime-node lists ${JSON.stringify(listed)}; requested '${provider}' → '${r.provider}'` +
          (messages.length > 0 ? `: ${messages.join("; ")}` : ""),
      );
      expect(r.requestedProvider).toBe(provider);
      if (r.provider === provider) {
        // A machine with the provider installed: no fallback, no message.
        expect(messages).toEqual([]);
        expect(r.fallbackReason).toBeUndefined();
      } else {
        expect(r.provider).toBe("cpu");
        expect(messages).toHaveLength(1);
        expect(messages[0]).toMatch(new RegExp(`^execution provider '${provider}' is (unavailable|not supported)`));
        expect(messages[0]).toContain("falling back to 'cpu'");
        expect(r.fallbackReason).toBeDefined();
        if (provider === "cuda" && listed.some((b) => b.name === "cuda" && !b.bundled)) {
          expect(messages[0]).toContain("not bundled with onnxruntime-node");
        }
      }
      // Either way the runner computes: [1 1 1 1]·[1 1 1 1]ᵀ = 4 in every output.
      const c = await r.run(new Uint8Array(8).fill(0x38), new Uint8Array(8).fill(0x38));
      expect([...new Float32Array(c.buffer)]).toEqual([4, 4, 4, 4]);
    });
  }
});
