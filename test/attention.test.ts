// FP8 attention: the exact TypeScript reference against ONNX Runtime, and the circuits (softmax library templates,
// the demo and production seed proofs) against the reference, with soundness shown by editing honest witnesses.
import { beforeAll, describe, expect, it } from "vitest";
import { instantiateCircuit } from "../circuits/compile.js";
import {
  attentionProofInput,
  checkAttentionOutputs,
  commitAttentionOutputs,
  DEMO_ATTENTION_TILING,
  defineAttentionWork,
  exactScores,
  expNegReference,
  generateAttentionInputs,
  keysOfHead,
  nearestPCode,
  pCodeVerdict,
  PRODUCTION_ATTENTION_TILING,
  queryTile,
  referenceAttentionOutputs,
  scoreToleranceShift,
  softmaxInterval,
  SOFTMAX_PRECISION,
  type AttentionOutputs,
  type AttentionWork,
} from "../common/ops/attention.js";
import { runAttentionWork } from "../miner/ops/attention.js";
import { CircuitHarness, fieldInverse, fieldMod, loadMainCircuit } from "./helpers/circuit.js";
import { setRangeCheck } from "./helpers/contract-witness.js";
import {
  describeProductionMain,
  expectEditsRejected,
  expectMainCircuit,
  PUBLIC_INPUT_CLASSES,
  wiredSignals,
} from "./helpers/soundness.js";

const PREC = BigInt(SOFTMAX_PRECISION);

const bitLength = (x: bigint) => x.toString(2).length;

describe("reference vs ONNX Runtime (CPU): ORT's scores, P codes and outputs pass the contract", () => {
  const cases = [
    ["demo", DEMO_ATTENTION_TILING, { rowBlocksLog2: 2, colBlocksLog2: 2 }],
    ["production", PRODUCTION_ATTENTION_TILING, { rowBlocksLog2: 2, colBlocksLog2: 4 }],
  ] as const;

  it.each(cases)(
    "%s tiling: 24 seeds, every output inside the contract",
    async (_label, tiling, shape) => {
      const work = defineAttentionWork(tiling, shape);
      const worst = { score: 0, p: 0, output: 0 };
      let nonTrivial = 0;
      let differingFromReference = 0;
      for (let seed = 1n; seed <= 24n; seed++) {
        const inputs = await generateAttentionInputs(seed, work);
        const ort = await runAttentionWork(work, inputs);
        const check = checkAttentionOutputs(work, inputs, ort);
        expect(check, `seed ${seed}`).toMatchObject({ ok: true, badScores: 0, grayCodes: 0, outsideCodes: 0 });
        worst.score = Math.max(worst.score, check.worstScoreRatio);
        worst.p = Math.max(worst.p, check.worstPRatio);
        worst.output = Math.max(worst.output, check.worstOutputRatio);
        nonTrivial += Array.from(ort.pCodes).filter((code) => code !== 0 && code !== 0x78).length;
        const reference = referenceAttentionOutputs(work, inputs);
        differingFromReference += ort.pCodes.filter((code, i) => code !== reference.pCodes[i]).length;
      }
      // Measured figures (docs/ops/attention.md): fractions of each bound that ORT used.
      console.log(
        `ORT ${_label}: worst ratios ${JSON.stringify(worst)}, non-0/1 P codes ${nonTrivial}, ` +
          `P codes differing from the reference's nearest code ${differingFromReference}`,
      );
      expect(worst.score).toBeLessThanOrEqual(1);
      expect(worst.p).toBeLessThanOrEqual(1);
      expect(worst.output).toBeLessThanOrEqual(1);
    },
    120_000,
  );

  it("ORT's P codes pass on near-ties and near RNE midpoints (hand-made heads, softmax of close scores)", async () => {
    // One head, D = 4, L = 4: K = identity-like rows, Q rows chosen so scores differ by small amounts.
    const tiling = { ...DEMO_ATTENTION_TILING, causal: false, maxRowBlocksLog2: 2 };
    const work = defineAttentionWork(tiling, { rowBlocksLog2: 2, colBlocksLog2: 0 });
    const code = (x: number) => nearestPCode(BigInt(Math.round(x * 2 ** 20)) << (PREC - 28n)); // x·2^-8 as P code
    expect(code(1)).toBe(0x38); // 2^-8·256 = 1 → E4M3FN 1.0
    // Q·Kᵀ with K = e_j·c: the scores are q_j·c, so close q values give close scores.
    const q = Uint8Array.from([
      0x38, 0x38, 0x37, 0x30, 0x38, 0x39, 0x38, 0x00, 0x40, 0x40, 0x40, 0x40, 0x20, 0x21, 0x22, 0x23,
    ]);
    const k = Uint8Array.from([0x38, 0, 0, 0, 0, 0x38, 0, 0, 0, 0, 0x38, 0, 0, 0, 0, 0x38]);
    const v = Uint8Array.from({ length: 16 }, (_, i) => (i * 37 + 11) & 0x7e);
    const inputs = { q, k, v };
    const ort = await runAttentionWork(work, inputs);
    const check = checkAttentionOutputs(work, inputs, ort);
    expect(check).toMatchObject({ ok: true });
    expect(Array.from(ort.pCodes).filter((c) => c !== 0 && c !== 0x78).length).toBeGreaterThan(8);
  });
});

describe("ExpNegFixed (circuits/lib/softmax.circom), F = 19", () => {
  let harness: CircuitHarness;
  const F = 19;
  const XMAX = (() => {
    const ln2 = (799144290325165978n + (1n << (59n - 27n))) >> (60n - 27n);
    return (32n * ln2 - 1n) >> 8n;
  })();

  beforeAll(async () => {
    harness = await CircuitHarness.load(
      await instantiateCircuit("test_attention_exp_19", "lib/softmax.circom", "ExpNegFixed", [F, 40]),
    );
  }, 600_000);

  it("locks its constraint count", () => {
    expect(harness.constraintCount).toBe(203);
  });

  const args = [0n, 1n, 2n, 363408n, 363409n, 1n << 19n, 3n << 18n, 5_000_000n, XMAX - 1n, XMAX, XMAX + 1n, 1n << 39n];

  it("agrees with the bigint reference: |e − 2^31·exp(−x·2^-19)| ≤ 2^31·exp(−x·2^-19)·2^-16.5 + 3", async () => {
    for (const x of [...args, ...Array.from({ length: 40 }, (_, i) => BigInt(i * 261_733 + 17))]) {
      const w = await harness.witness({ x: String(x) });
      expect(harness.firstViolated(w)).toBe(-1);
      const e = harness.value(w, "main.e");
      const exact = expNegReference(x, F); // units 2^-128, ±2
      const scaled = e << (PREC - 31n);
      const gap = scaled > exact ? scaled - exact : exact - scaled;
      // 2^-16.5 < 2^-16 + 2^-18 (a bound on the Padé error for ρ < 1 and the reduction's rounding)
      const bound = (exact >> 16n) + (exact >> 18n) + (3n << (PREC - 31n)) + 4n;
      expect(gap <= bound, `x = ${x}: e = ${e}`).toBe(true);
    }
    expect(harness.value(await harness.witness({ x: "0" }), "main.e")).toBe(1n << 31n);
    expect(harness.value(await harness.witness({ x: String(XMAX) }), "main.e")).toBe(0n);
  });

  it("pins e to the 2–3 values just below the floor: e + 1 and e − 3 fail, accepted values are within the bound", async () => {
    for (const x of [5n, 300_000n, 2_000_000n]) {
      const honest = await harness.witness({ x: String(x) });
      const e = harness.value(honest, "main.e");
      const pN = harness.value(honest, "main.scaledNumerator");
      const denominator = harness.value(honest, "main.eTimesDenominator") / e;
      const withE = (value: bigint) => {
        const set = new Map<string, bigint>([
          ["main.e", fieldMod(value)],
          ["main.eTimesDenominator", fieldMod(value * denominator)],
        ]);
        setRangeCheck(set, "main.eRange", value, 32);
        setRangeCheck(set, "main.remainder", pN - value * denominator, 92);
        return harness.editWired(honest, set);
      };
      expect(harness.firstViolated(withE(e + 1n)), `x ${x}: e + 1`).toBeGreaterThanOrEqual(0);
      expect(harness.firstViolated(withE(e - 3n)), `x ${x}: e − 3`).toBeGreaterThanOrEqual(0);
      const exact = expNegReference(x, F);
      for (const other of [e - 2n, e - 1n]) {
        if (harness.firstViolated(withE(other)) !== -1) continue;
        const scaled = other << (PREC - 31n);
        const gap = scaled > exact ? scaled - exact : exact - scaled;
        expect(gap <= (exact >> 16n) + (exact >> 18n) + (3n << (PREC - 31n)) + 4n, `x ${x}: e' = ${other}`).toBe(true);
      }
    }
  });

  it("rejects single edits of every internal signal (clamp flag, k, k bits, r, powers, products, range bits)", async () => {
    const honest = await harness.witness({ x: "1234567" });
    const signals = [
      "main.x",
      "main.big",
      "main.bigX",
      "main.clamped",
      "main.k",
      "main.r",
      "main.pow2[2]",
      "main.r2",
      "main.r3",
      "main.scaledNumerator",
      "main.eTimesDenominator",
      "main.remainder.bits[0]",
      "main.rRange.bits[3]",
      "main.clampGap.bits[0]",
      ...harness.signals(/^main\.Num2Bits_[0-9_]+\.out\[1\]$/),
    ];
    const present = signals.filter((signal) => harness.hasWire(signal));
    expect(present.length).toBeGreaterThanOrEqual(12);
    expectEditsRejected(harness, honest, { "internal signal": present });
  });
});

describe("Fp8SoftmaxRowCheck (L = 4, F = 19): P codes against the exact softmax", () => {
  let harness: CircuitHarness;
  const F = 19;
  const PB = 62;
  // Scores (units 2^-19) for p ≈ [0.55, 0.33, 0.11, 0]: close enough for several non-trivial codes.
  const scores = [0n, -(1n << 18n), -(12n << 16n), -(30n << 19n)];
  const visible = [true, true, true, true];
  const { lo, hi } = softmaxInterval(scores, visible, F);
  const rne = lo.map((low, j) => nearestPCode((low + hi[j]!) / 2n));
  const input = (codes: number[]) => ({
    score: scores.map(String),
    visible: ["1", "1", "1", "1"],
    rowMax: "0",
    pCode: codes.map(String),
  });
  let honest: bigint[];

  beforeAll(async () => {
    harness = await CircuitHarness.load(
      await instantiateCircuit("test_attention_softmax_row_4", "lib/softmax.circom", "Fp8SoftmaxRowCheck", [
        4,
        F,
        40,
        0,
      ]),
    );
    honest = await harness.witness(input(rne));
  }, 600_000);

  it("locks its constraint count; the reference's nearest codes pass", () => {
    expect(harness.constraintCount).toBe(1_394);
    expect(harness.firstViolated(honest)).toBe(-1);
    expect(rne.filter((c) => c !== 0 && c !== 0x78).length).toBe(3);
  });

  /** Re-derives every wire that depends on the P code at position j. */
  function withCode(j: number, code: number): bigint[] {
    const set = new Map<string, bigint>();
    const p = `main.magnitude[${j}]`;
    const bits = Array.from({ length: 7 }, (_, b) => BigInt((code >> b) & 1));
    set.set(`main.pCode[${j}]`, BigInt(code));
    bits.forEach((bit, b) => set.set(`main.codeBits[${j}][${b}]`, bit));
    const e = Number((code >> 3) & 0xf);
    const m = BigInt(code & 7);
    let partial = 1n + bits[3]!;
    set.set(`${p}.partial[0]`, partial);
    for (let i = 1; i < 4; i++) {
      partial *= 1n + ((1n << (1n << BigInt(i))) - 1n) * bits[3 + i]!;
      set.set(`${p}.partial[${i}]`, partial);
    }
    const pow2e = partial;
    const z = e === 0 ? 1n : 0n;
    set.set(`${p}.pow2e`, pow2e);
    set.set(`${p}.z`, z);
    set.set(`${p}.isSubnormal.out`, z);
    set.set(`${p}.isSubnormal.in`, fieldMod(pow2e - 1n));
    set.set(`${p}.isSubnormal.inv`, z === 1n ? 0n : fieldInverse(pow2e - 1n));
    const magnitude = ((8n * (1n - z) + m) * (pow2e + z)) / 2n;
    set.set(`${p}.magnitude`, magnitude);
    set.set(`main.pMagnitude[${j}]`, magnitude);
    set.set(`main.isSubnormal[${j}]`, z);
    for (const name of harness.signals(new RegExp(`^main\\.IsZero_[0-9_]+\\.inv$`))) {
      // the IsZero of isSubnormal[j]: identify it by its input wire value
      const input = name.replace(/\.inv$/, ".in");
      if (
        harness.hasWire(input) &&
        harness.value(honest, input) === fieldMod(harness.value(honest, `${p}.pow2e`) - 1n)
      ) {
        set.set(input, fieldMod(pow2e - 1n));
        set.set(name, z === 1n ? 0n : fieldInverse(pow2e - 1n));
      }
    }
    const eWire = (i: number) => [`main.e[${i}]`, `main.exp[${i}].e`].find((name) => harness.hasWire(name))!;
    const exps = [0, 1, 2, 3].map((i) => harness.value(honest, eWire(i)));
    const sum = exps.reduce((a, b) => a + b, 0n);
    const ej = exps[j]!;
    set.set(`main.nTimesZ[${j}]`, fieldMod(magnitude * sum));
    set.set(`main.ulpTimesZ[${j}]`, fieldMod((pow2e + z) * sum));
    const tolerance = 32n * (pow2e + z) * sum + 256n * ej + sum;
    setRangeCheck(set, `main.lowerGap[${j}]`, tolerance - 128n * magnitude * sum + (1n << 24n) * ej, PB);
    setRangeCheck(set, `main.upperGap[${j}]`, tolerance + 128n * magnitude * sum - (1n << 24n) * ej, PB);
    return harness.editWired(honest, set);
  }

  it("every code the contract guarantees is accepted and every code it refuses is rejected, at all 4 positions", () => {
    expect(withCode(0, rne[0]!)).toEqual(honest);
    let [inside, outside, gray] = [0, 0, 0];
    for (let j = 0; j < 4; j++) {
      for (let code = 0; code < 128; code++) {
        const verdict = pCodeVerdict(code, lo[j]!, hi[j]!);
        const violated = harness.firstViolated(withCode(j, code));
        if (verdict === "inside") {
          inside++;
          expect(violated, `position ${j} code ${code}`).toBe(-1);
        } else if (verdict === "outside") {
          outside++;
          expect(violated, `position ${j} code ${code}`).toBeGreaterThanOrEqual(0);
        } else gray++;
      }
    }
    expect({ inside, gray }).toEqual({ inside: 4, gray: 0 });
    expect(outside).toBe(4 * 128 - 4);
  });

  it("accepts the second-nearest code exactly when q is within the tolerance of the midpoint", async () => {
    // A score pair whose p sits 2^-18 relative above an E4M3 midpoint: both neighbours pass; far from it only one.
    const target = 11n << (PREC - 4n); // q = 0.6875 = 11/16: P·256 = 176, exactly an E4M3FN value (no midpoint)
    expect(nearestPCode(target)).toBe(0x73);
    expect(pCodeVerdict(0x73, target, target)).toBe("inside");
    expect(pCodeVerdict(0x72, target, target)).toBe("outside");
    // The midpoint between 176 and 192 (0x73/0x74) is 184 = q 0.71875; a hair above it both codes are in contract.
    const mid = 23n << (PREC - 5n);
    const above = mid + (mid >> 20n);
    expect(nearestPCode(above)).toBe(0x74);
    expect(pCodeVerdict(0x73, above, above)).toBe("inside");
    expect(pCodeVerdict(0x74, above, above)).toBe("inside");
    const farAbove = mid + (mid >> 8n);
    expect(pCodeVerdict(0x73, farAbove, farAbove)).toBe("outside");
  });

  it("rejects edits of the row maximum, the scores, the exponentials, the sum and the products", () => {
    const signals = [
      "main.rowMax",
      "main.score[1]",
      "main.e[0]",
      "main.sum",
      "main.nTimesZ[0]",
      "main.ulpTimesZ[1]",
      "main.exp[1].e",
      "main.lowerGap[0].bits[4]",
    ];
    const present = signals.filter((signal) => harness.hasWire(signal));
    expect(present.length).toBeGreaterThanOrEqual(6);
    expectEditsRejected(harness, honest, { "row signal": present });
  });

  it("a row maximum above ln(2L) over the true maximum has no witness (Z < 1/2)", async () => {
    await expect(harness.witness({ ...input([0, 0, 0, 0]), rowMax: String(3n << 19n) })).rejects.toThrow();
  });
});

describe("Fp8AttentionSeedProof demo main (circuits/main/attention_seed_demo_1x4x4_causal.circom)", () => {
  let harness: CircuitHarness;
  const work: AttentionWork = defineAttentionWork(DEMO_ATTENTION_TILING, { rowBlocksLog2: 2, colBlocksLog2: 2 });
  const seed = 0xa77e_0001n;
  const miner = 0x70997970c51812dc3a010c7d01b50e0d17dc79c8n;
  let outputs: AttentionOutputs;
  let honest: bigint[];
  let proof: Awaited<ReturnType<typeof attentionProofInput>>;

  beforeAll(async () => {
    harness = await loadMainCircuit("attention_seed_demo_1x4x4_causal");
    const inputs = await generateAttentionInputs(seed, work);
    outputs = referenceAttentionOutputs(work, inputs);
    const tree = await commitAttentionOutputs(outputs, work);
    // challenge 7 picks row block 0 (query 0), where the causal mask hides keys 1–3.
    proof = await attentionProofInput({ work, tilesPerProof: 1, outputs, tree, seed, challenge: 7n, miner });
    honest = await harness.witness(proof.input);
  }, 600_000);

  it("locks the constraint count (fits the power-13 ptau), circom --inspect is clean", () => {
    expectMainCircuit(harness, { nonLinear: 7_824, ptauPower: 13 });
  });

  it("accepts honest witnesses (reference and ORT outputs) for tiles in every row block", async () => {
    expect(proof.tiles[0]!.rowBlock).toBe(0);
    expect(harness.firstViolated(honest)).toBe(-1);
    const inputs = await generateAttentionInputs(seed, work);
    const ort = await runAttentionWork(work, inputs);
    const ortTree = await commitAttentionOutputs(ort, work);
    const rows = new Set<number>();
    for (let challenge = 1n; rows.size < 4 && challenge < 40n; challenge++) {
      const { input, tiles } = await attentionProofInput({
        work,
        tilesPerProof: 1,
        outputs: ort,
        tree: ortTree,
        seed,
        challenge,
        miner,
      });
      rows.add(tiles[0]!.rowBlock);
      expect(harness.firstViolated(await harness.witness(input)), `challenge ${challenge}`).toBe(-1);
    }
    expect(rows.size).toBe(4);
  });

  it("generates the same Q and K bytes in-circuit as the reference, and the exact scores", async () => {
    const { rowBlock, colBlock } = proof.tiles[0]!;
    const q = await queryTile(seed, work.tiling, rowBlock, colBlock);
    const k = await keysOfHead(seed, work.tiling, colBlock);
    const { s } = exactScores(q, k, 4);
    expect(s.map(String)).toEqual((proof.input.score as string[][][])[0]![0]);
  });

  it("a masked score accepts exactly the float32 bound: S ± ⌊T/2^ES⌋ pass, one more fails", async () => {
    const { rowBlock, colBlock } = proof.tiles[0]!;
    const q = await queryTile(seed, work.tiling, rowBlock, colBlock);
    const k = await keysOfHead(seed, work.tiling, colBlock);
    const { s, t } = exactScores(q, k, 4);
    // the masked key (query 0 sees key 0 only) with the largest T, so that the bound has room
    const j = [1, 2, 3].reduce((best, i) => (t[i]! > t[best]! ? i : best));
    const es = BigInt(scoreToleranceShift(4));
    const bits = bitLength(2n * 4n * 229376n * 229376n);
    const withScore = (score: bigint) => {
      const set = new Map<string, bigint>([
        [`main.score[0][0][${j}]`, fieldMod(score)],
        [`main.row[0][0].score[${j}]`, fieldMod(score)],
      ]);
      setRangeCheck(set, `main.scoreLower[0][0][${j}]`, ((score - s[j]!) << es) + t[j]!, bits);
      setRangeCheck(set, `main.scoreUpper[0][0][${j}]`, t[j]! - ((score - s[j]!) << es), bits);
      return harness.editWired(honest, set);
    };
    const slack = t[j]! >> es;
    expect(slack).toBeGreaterThan(0n);
    for (const side of [1n, -1n]) {
      expect(harness.firstViolated(withScore(s[j]! + side * slack)), `at the bound ${side}`).toBe(-1);
      expect(harness.firstViolated(withScore(s[j]! + side * (slack + 1n))), `beyond ${side}`).toBeGreaterThanOrEqual(0);
    }
  });

  it("rejects an edit of every signal class", () => {
    const classes = wiredSignals(harness, {
      ...PUBLIC_INPUT_CLASSES,
      "output word": ["main.o[0][0][0]", "main.o[0][0][3]"],
      "Merkle sibling": ["main.siblings[0][0]", "main.siblings[0][3]"],
      "score witness": ["main.score[0][0][0]", "main.score[0][0][2]"],
      "row maximum": ["main.rowMax[0][0]"],
      "P code": ["main.pCode[0][0][0]", "main.pCode[0][0][1]"],
      "decoded inputs": [
        "main.qDecode[0][0][1].value",
        "main.kDecode[0][2][0].magnitude",
        "main.vDecode[0][1][3].value",
      ],
      "score products": ["main.signedProduct[0][0][1][2]", "main.magnitudeProduct[0][0][3][0]"],
      "score range bits": ["main.scoreLower[0][0][1].bits[0]", "main.scoreUpper[0][0][2].bits[7]"],
      "causal one-hot / visibility": harness.signals(/^main\.isBlock\[0\]\[[1-3]\]\.isz\.inv$/),
      "exp hints": [
        "main.row[0][0].exp[0].e",
        "main.row[0][0].exp[0].k",
        "main.row[0][0].exp[0].big",
        "main.row[0][0].exp[0].r",
      ],
      "softmax sum / products": ["main.row[0][0].sum", "main.row[0][0].nTimesZ[0]", "main.row[0][0].ulpTimesZ[0]"],
      "P decoding": harness.signals(/^main\.row\[0\]\[0\]\.(magnitude\[0\]\.(pow2e|partial\[1\])|codeBits\[0\]\[3\])$/),
      "P·V products": ["main.outputCheck[0].signedProduct[0][0][0]", "main.outputCheck[0].magnitudeProduct[0][1][0]"],
      "output range bits": ["main.outputCheck[0].lowerGap[0][0].bits[0]", "main.outputCheck[0].upperGap[0][2].bits[3]"],
      "generated input bits": harness.signals(/^main\.kStream\[0\]\.decompose\[0\]\.bits\[(128|200|253)\]$/),
    });
    expectEditsRejected(harness, honest, classes);
  });

  it("P·V words: a re-committed word exactly at the GEMM bound passes, 2^-8 beyond it has no witness", async () => {
    // Query 0 sees key 0 only, so P = 1 (code 0x78, n = 2^17) and O' = 2^17·v in units 2^-18 with T' = |S'|: the
    // bound is |O' − S'| ≤ |S'|/512. Changing a word changes the leaf and root, so the outputs are re-committed.
    const { rowBlock, colBlock } = proof.tiles[0]!;
    const row = colBlock * work.queries + rowBlock;
    const d = Array.from(outputs.words.subarray(row * 4, row * 4 + 4)).findIndex((w) => (w & 0x7fffffff) !== 0);
    expect(d).toBeGreaterThanOrEqual(0);
    const o = new Float32Array(new Uint32Array([outputs.words[row * 4 + d]!]).buffer)[0]!;
    const withWord = async (value: number) => {
      const words = outputs.words.slice();
      words[row * 4 + d] = new Uint32Array(new Float32Array([value]).buffer)[0]!;
      const edited = { ...outputs, words };
      const tree = await commitAttentionOutputs(edited, work);
      const { input } = await attentionProofInput({
        work,
        tilesPerProof: 1,
        outputs: edited,
        tree,
        seed,
        challenge: 7n,
        miner,
      });
      return input;
    };
    const atBound = await harness.witness(await withWord(o * (1 + 2 ** -9)));
    expect(harness.firstViolated(atBound)).toBe(-1);
    await expect(harness.witness(await withWord(o * (1 + 2 ** -8)))).rejects.toThrow(/Assert Failed/);
  });
});

describeProductionMain(
  "attention_seed_4x16x16",
  { nonLinear: 62_598, ptauPower: 16 },
  {
    title: "accepts an honest witness of ORT's outputs for a 16-query × 4-head work",
    proofInput: async () => {
      const work = defineAttentionWork(PRODUCTION_ATTENTION_TILING, { rowBlocksLog2: 2, colBlocksLog2: 2 });
      const seed = 987654321n;
      const outputs = await runAttentionWork(work, await generateAttentionInputs(seed, work));
      const tree = await commitAttentionOutputs(outputs, work);
      const miner = 0xabcdefn;
      return (await attentionProofInput({ work, tilesPerProof: 1, outputs, tree, seed, challenge: 42n, miner })).input;
    },
  },
);
