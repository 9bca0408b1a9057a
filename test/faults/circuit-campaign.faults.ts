// Automated soundness campaign over the mining circuits (issue #8): random single-wire edits of honest witnesses,
// sampled uniformly across signal classes, each checked against the R1CS constraints. An accepted edit would be a
// witness the verifier cannot tell from the honest one for a different value of some wire: the count must be 0, or
// each accepted edit must match one of the narrowly defined harmless rules of EXPLAINED.
//
// Circuits: the production and the demo main of every op in MINING_CIRCUITS — GEMM, conv2d, batch norm, attention.
// Honest witnesses: for GEMM from the TypeScript reference (common/work.ts, test/helpers/reference.ts), as in
// test/gemm-circuit.test.ts; for the other ops from the miner's own path (miner/ops/backend.ts: the op's ONNX Runtime
// run, its output commitment and its proof input), as test/conv.test.ts, test/batchnorm.test.ts and
// test/attention.test.ts build their production witnesses. Two witnesses per circuit, of different shapes, seeds,
// challenges and miners. Classes are derived generically from the .sym file: the surviving (post --O2) wires grouped
// by signal-name prefix, indices and circom's generated suffixes dropped, first three components (main.c,
// main.siblings, main.check.signedProduct, main.path.hash, …; four for conv2d, whose tile sits in main.tile:
// main.tile.check.signedProduct, …), plus one class for the public inputs. Edits: ± 1, a random field element, a bit flip (wires holding 0 or 1), p − value; an edit that leaves the
// value unchanged is not an edit and is redrawn.
//
// Checking, twice: the full checker (CircuitHarness.firstViolated, every constraint) on every FAULTS_FULL_CHECK_EVERY-th
// edit (default 1: all), and an independent local one for every edit: the honest witness satisfies every constraint,
// so a single-wire edit can only break the constraints that mention that wire. The verdicts must agree.
//
// Size: FAULTS_CIRCUIT_EDITS edits per circuit (default 1200), FAULTS_SEED for replay. Figures:
// build/faults/circuit-campaign.json.
import { mkdirSync, writeFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { compileCircuit } from "../../circuits/compile.js";
import { MINING_CIRCUITS, type MiningCircuit, type MiningCircuitName } from "../../miner/circuits.js";
import { opBackend } from "../../miner/ops/backend.js";
import { commitOutputs, defineWork, gemmProofInput, generateInputs, type WorkShape } from "../../common/work.js";
import { CircuitHarness, FIELD } from "../helpers/circuit.js";
import { honestOutputs } from "../helpers/reference.js";

const EDITS = Number(process.env.FAULTS_CIRCUIT_EDITS ?? 1200);
const FULL_CHECK_EVERY = Number(process.env.FAULTS_FULL_CHECK_EVERY ?? 1);
const SEED = BigInt(process.env.FAULTS_SEED ?? Math.floor(Math.random() * 2 ** 31));

/** splitmix64: a small seeded generator, so that a campaign can be replayed with FAULTS_SEED. */
class Rng {
  private state: bigint;
  constructor(seed: bigint) {
    this.state = seed & 0xffff_ffff_ffff_ffffn;
  }
  next64(): bigint {
    const mask = 0xffff_ffff_ffff_ffffn;
    this.state = (this.state + 0x9e37_79b9_7f4a_7c15n) & mask;
    let z = this.state;
    z = ((z ^ (z >> 30n)) * 0xbf58_476d_1ce4_e5b9n) & mask;
    z = ((z ^ (z >> 27n)) * 0x94d0_49bb_1331_11ebn) & mask;
    return z ^ (z >> 31n);
  }
  below(n: number): number {
    return Number(this.next64() % BigInt(n));
  }
  field(): bigint {
    return ((this.next64() << 192n) | (this.next64() << 128n) | (this.next64() << 64n) | this.next64()) % FIELD;
  }
}

type EditKind = "+1" | "-1" | "random" | "bitflip" | "p-value";
const KINDS: readonly EditKind[] = ["+1", "-1", "random", "bitflip", "p-value"];

function edited(kind: EditKind, value: bigint, rng: Rng): bigint | undefined {
  switch (kind) {
    case "+1":
      return (value + 1n) % FIELD;
    case "-1":
      return (value + FIELD - 1n) % FIELD;
    case "random":
      return rng.field();
    case "bitflip":
      return value === 0n ? 1n : value === 1n ? 0n : undefined; // only for wires holding a bit
    case "p-value":
      return (FIELD - value) % FIELD;
  }
}

/**
 * Accepted edits that change no statement, each narrowly defined. They are counted apart (`explainedAccepted`) and
 * listed in the figures; every other accepted edit fails the campaign.
 */
interface EditContext {
  /** Name of the edited wire's signal (the shortest of its names). */
  signal: string;
  from: bigint;
  to: bigint;
  /**
   * The edited wire enters its constraints only as a factor (in A or B, never in C) whose cofactor — the other side
   * of the product — is 0 in the honest witness: a multiplicative hint against a zero factor.
   */
  onlyAgainstZeroFactors: boolean;
}

const EXPLAINED: { rule: string; why: string; applies(edit: EditContext): boolean }[] = [
  {
    rule: "IsZero inverse hint when the input is 0",
    why:
      "circomlib's IsZero (the only template of circuits/ with an `inv` signal; IsEqual uses it) constrains inv only " +
      "through in·inv === 1 − out; when in = 0 (the honest inv is then 0), inv is a free hint: any value satisfies " +
      "the constraints with every other wire unchanged, so the proven statement is the same. Matched narrowly: the " +
      "signal's last component is `inv`, its honest value is 0, and the wire enters every constraint it is in only " +
      "as a factor whose cofactor (the IsZero input) is 0 in the honest witness",
    applies: ({ signal, from, onlyAgainstZeroFactors }) =>
      /\.inv$/.test(signal) && from === 0n && onlyAgainstZeroFactors,
  },
  {
    rule: "miner ↦ p − miner",
    why:
      "miner enters only minerSquared <== miner·miner, which binds it up to sign: the same witness proves the " +
      "statement for p − miner. Not exploitable through DemleMining, which passes uint160(msg.sender): for any " +
      "address m < 2^160, p − m > 2^160 is no address",
    applies: ({ signal, from, to }) => signal === "main.miner" && from !== 0n && to === FIELD - from,
  },
];

/**
 * Components of a signal name that make its class: three (main.check.signedProduct, main.path.hash, …), four for
 * conv2d, whose main holds the whole tile check in one sub-component `main.tile` (three would lump its products,
 * output words, range gaps and decoders — over a third of the wires — into the one class main.tile.check).
 */
const CLASS_DEPTH: Record<MiningCircuit["op"], number> = { gemm: 3, conv2d: 4, batchnorm: 3, attention: 3 };

/** The class of a wire: its signal name without indices or circom's generated suffixes, first `depth` components. */
function classOf(name: string, depth: number): string {
  return name
    .replace(/\[\d+\]/g, "")
    .split(".")
    .slice(0, depth)
    .map((part) => part.replace(/(_\d+)+$/, ""))
    .join(".");
}

interface ClassFigures {
  wires: number;
  edits: number;
  rejected: number;
  accepted: number;
  byKind: Partial<Record<EditKind, number>>;
}

interface CircuitFigures {
  circuit: string;
  op: MiningCircuit["op"];
  /** Where the honest witnesses came from. */
  witnessSource: string;
  constraints: number;
  wires: number;
  witnesses: number;
  edits: number;
  rejected: number;
  accepted: number;
  fullChecks: number;
  classes: Record<string, ClassFigures>;
  acceptedEdits: { signal: string; kind: EditKind; from: string; to: string }[];
  /** Accepted edits matching an EXPLAINED rule, by rule. */
  explainedAccepted: Record<string, number>;
  /** Each of them: which signal, which edit, which rule. */
  explainedEdits: { rule: string; signal: string; kind: EditKind }[];
  /** The miner sign edit applied to every honest witness, deterministically: accepted by the constraints? */
  minerNegationAccepted: boolean[];
  seconds: number;
}

const results: CircuitFigures[] = [];

/** Seeds, challenges and miners of the two honest witnesses of each circuit. */
const WITNESS_PARAMS: { seed: bigint; challenge: bigint; miner: bigint }[] = [
  { seed: 987_654_321n, challenge: 42n, miner: 0xabcdefn },
  {
    seed: 0x5eed_cafe_f00d_1234_5678_9abc_def0_1357n,
    challenge: 0x0c4a_11e9_6e00_0000_0000_0000_0000_0000_0000_0000_beefn,
    miner: 0x70997970c51812dc3a010c7d01b50e0d17dc79c8n,
  },
];

/**
 * The shapes of the two honest witnesses, per circuit: valid for the op's tiling (conv: whole images, so
 * dr ≥ outHeightLog2, and dc ≥ log2(groups); the causal demo attention: every query row of its L = 4 keys, dr = 2).
 */
const WITNESS_SHAPES: Record<MiningCircuitName, [WorkShape, WorkShape]> = {
  production: [
    { rowBlocksLog2: 1, colBlocksLog2: 1 },
    { rowBlocksLog2: 0, colBlocksLog2: 2 },
  ],
  demo: [
    { rowBlocksLog2: 1, colBlocksLog2: 1 },
    { rowBlocksLog2: 0, colBlocksLog2: 2 },
  ],
  conv2d: [
    { rowBlocksLog2: 3, colBlocksLog2: 1 },
    { rowBlocksLog2: 4, colBlocksLog2: 0 },
  ],
  "conv2d-demo": [
    { rowBlocksLog2: 2, colBlocksLog2: 1 },
    { rowBlocksLog2: 1, colBlocksLog2: 2 },
  ],
  batchnorm: [
    { rowBlocksLog2: 2, colBlocksLog2: 2 },
    { rowBlocksLog2: 1, colBlocksLog2: 1 },
  ],
  "batchnorm-demo": [
    { rowBlocksLog2: 3, colBlocksLog2: 2 },
    { rowBlocksLog2: 1, colBlocksLog2: 0 },
  ],
  attention: [
    { rowBlocksLog2: 2, colBlocksLog2: 2 },
    { rowBlocksLog2: 0, colBlocksLog2: 1 },
  ],
  "attention-demo": [
    { rowBlocksLog2: 2, colBlocksLog2: 2 },
    { rowBlocksLog2: 2, colBlocksLog2: 0 },
  ],
};

/** The witness inputs of one honest proof: from the GEMM reference, or (other ops) the miner's ORT backend. */
async function honestInput(
  circuit: MiningCircuit,
  shape: WorkShape,
  { seed, challenge, miner }: (typeof WITNESS_PARAMS)[number],
): Promise<Record<string, unknown>> {
  if (circuit.op === "gemm") {
    const work = defineWork(circuit.tiling, shape);
    const { a, b } = await generateInputs(seed, work);
    const c = honestOutputs(a, b, work.m, work.n, work.k);
    const tree = await commitOutputs(c, work);
    const tilesPerProof = circuit.tilesPerProof;
    return (await gemmProofInput({ work, tilesPerProof, c, tree, seed, challenge, miner })).input;
  }
  const backend = opBackend({ circuit, shape });
  try {
    const outputs = await backend.compute(seed);
    const tree = await backend.commit(outputs);
    return await backend.proofInput({ outputs, tree, seed, challenge, miner });
  } finally {
    await backend.release();
  }
}

async function campaign(key: MiningCircuitName, seed: bigint): Promise<CircuitFigures> {
  const circuit: MiningCircuit = MINING_CIRCUITS[key];
  const started = performance.now();
  const harness = await CircuitHarness.load(await compileCircuit(circuit.name, circuit.mainFile));
  const { r1cs } = harness;
  const publicWires = r1cs.publicOutputs + r1cs.publicInputs;

  // Honest witnesses, each checked against every constraint first.
  const witnesses: bigint[][] = [];
  for (const [i, shape] of WITNESS_SHAPES[key].entries()) {
    const witness = await harness.witness(await honestInput(circuit, shape, WITNESS_PARAMS[i]!));
    expect(harness.firstViolated(witness)).toBe(-1);
    witnesses.push(witness);
  }

  // Wires (one name each) grouped into classes.
  const nameOf = new Map<number, string>();
  for (const name of harness.signals(/^main\./)) {
    const wire = harness.wire(name);
    const known = nameOf.get(wire);
    if (known === undefined || name.length < known.length) nameOf.set(wire, name);
  }
  const classes = new Map<string, number[]>();
  for (const [wire, name] of nameOf) {
    if (wire === 0) continue;
    const cls = wire <= publicWires ? "public inputs" : classOf(name, CLASS_DEPTH[circuit.op]);
    if (!classes.has(cls)) classes.set(cls, []);
    classes.get(cls)!.push(wire);
  }
  const classNames = [...classes.keys()].sort();

  // The constraints each wire appears in.
  const constraintsOf = new Map<number, number[]>();
  r1cs.constraints.forEach((constraint, index) => {
    const wires = new Set<number>();
    for (const combination of constraint) for (const [wire] of combination) wires.add(wire);
    for (const wire of wires) {
      if (!constraintsOf.has(wire)) constraintsOf.set(wire, []);
      constraintsOf.get(wire)!.push(index);
    }
  });
  const evaluate = (combination: [number, bigint][], w: readonly bigint[]) => {
    let sum = 0n;
    for (const [wire, coefficient] of combination) sum += coefficient * w[wire]!;
    return sum % FIELD;
  };
  /** Whether the witness, honest except at `wire`, violates a constraint mentioning `wire`. */
  const rejects = (w: readonly bigint[], wire: number) =>
    (constraintsOf.get(wire) ?? []).some((index) => {
      const [a, b, c] = r1cs.constraints[index]!;
      return (evaluate(a, w) * evaluate(b, w) - evaluate(c, w)) % FIELD !== 0n;
    });

  /** See EditContext.onlyAgainstZeroFactors; `w` is the honest witness. */
  const againstZeroOnly = (w: readonly bigint[], wire: number) =>
    (constraintsOf.get(wire) ?? []).every((index) => {
      const [a, b, c] = r1cs.constraints[index]!;
      const has = (combination: [number, bigint][]) => combination.some(([x]) => x === wire);
      if (has(c) || (has(a) && has(b))) return false;
      return evaluate(has(a) ? b : a, w) === 0n;
    });

  const figures: CircuitFigures = {
    circuit: circuit.name,
    op: circuit.op,
    witnessSource: circuit.op === "gemm" ? "TypeScript reference" : "ONNX Runtime (miner backend)",
    constraints: harness.constraintCount,
    wires: r1cs.wires,
    witnesses: witnesses.length,
    edits: 0,
    rejected: 0,
    accepted: 0,
    fullChecks: 0,
    classes: Object.fromEntries(
      classNames.map((cls) => [
        cls,
        { wires: classes.get(cls)!.length, edits: 0, rejected: 0, accepted: 0, byKind: {} } satisfies ClassFigures,
      ]),
    ),
    acceptedEdits: [],
    explainedAccepted: {},
    explainedEdits: [],
    minerNegationAccepted: [],
    seconds: 0,
  };

  const rng = new Rng(seed);
  while (figures.edits < EDITS) {
    const cls = classNames[rng.below(classNames.length)]!;
    const wires = classes.get(cls)!;
    const wire = wires[rng.below(wires.length)]!;
    const witness = witnesses[figures.edits % witnesses.length]!;
    const original = witness[wire]!;
    const kind = KINDS[rng.below(KINDS.length)]!;
    const value = edited(kind, original, rng);
    if (value === undefined || value === original) continue; // not an edit: draw again

    witness[wire] = value;
    const rejected = rejects(witness, wire);
    if (figures.edits % FULL_CHECK_EVERY === 0) {
      expect(harness.firstViolated(witness) >= 0, `full check of ${nameOf.get(wire)} (${kind})`).toBe(rejected);
      figures.fullChecks++;
    }
    witness[wire] = original;

    const counts = figures.classes[cls]!;
    counts.edits++;
    counts.byKind[kind] = (counts.byKind[kind] ?? 0) + 1;
    figures.edits++;
    if (rejected) {
      counts.rejected++;
      figures.rejected++;
    } else {
      counts.accepted++;
      figures.accepted++;
      const signal = nameOf.get(wire)!;
      const context = { signal, from: original, to: value, onlyAgainstZeroFactors: againstZeroOnly(witness, wire) };
      const explained = EXPLAINED.find((rule) => rule.applies(context));
      if (explained) {
        figures.explainedAccepted[explained.rule] = (figures.explainedAccepted[explained.rule] ?? 0) + 1;
        figures.explainedEdits.push({ rule: explained.rule, signal, kind });
      } else figures.acceptedEdits.push({ signal, kind, from: String(original), to: String(value) });
    }
  }

  // The known sign ambiguity of the miner input, shown on every witness (the random campaign meets it rarely), and
  // why the contract cannot use it: the negated value is never an address.
  const minerWire = harness.wire("main.miner");
  for (const witness of witnesses) {
    const miner = witness[minerWire]!;
    expect(miner).toBeGreaterThan(0n);
    expect(FIELD - miner).toBeGreaterThanOrEqual(1n << 160n);
    figures.minerNegationAccepted.push(
      harness.firstViolated(harness.edit(witness, { "main.miner": FIELD - miner })) === -1,
    );
  }
  figures.seconds = (performance.now() - started) / 1000;
  return figures;
}

/** Production and demo main of every op. */
const CIRCUITS: readonly MiningCircuitName[] = [
  "production",
  "demo",
  "conv2d",
  "conv2d-demo",
  "batchnorm",
  "batchnorm-demo",
  "attention",
  "attention-demo",
];

describe(`circuit soundness campaign: ${EDITS} random witness edits per circuit (seed ${SEED})`, () => {
  afterAll(() => {
    if (results.length === 0) return;
    mkdirSync("build/faults", { recursive: true });
    writeFileSync(
      "build/faults/circuit-campaign.json",
      `${JSON.stringify(
        {
          editsPerCircuit: EDITS,
          fullCheckEvery: FULL_CHECK_EVERY,
          seed: String(SEED),
          explainedRules: EXPLAINED.map(({ rule, why }) => ({ rule, why })),
          circuits: results,
        },
        null,
        2,
      )}\n`,
    );
  });

  for (const [index, key] of CIRCUITS.entries()) {
    const circuit = MINING_CIRCUITS[key];
    it(`${circuit.mainFile}: no unexplained edit is accepted`, async () => {
      const figures = await campaign(key, SEED + BigInt(index));
      results.push(figures);
      console.log(
        `${circuit.name}: ${figures.edits} edits over ${Object.keys(figures.classes).length} classes, ` +
          `${figures.rejected} rejected, ${figures.accepted} accepted of which ${figures.acceptedEdits.length} ` +
          `unexplained (${JSON.stringify(figures.explainedAccepted)}), ${figures.fullChecks} full checks, ` +
          `in ${figures.seconds.toFixed(1)} s`,
      );
      expect(figures.acceptedEdits).toEqual([]);
      expect(figures.edits).toBe(EDITS);
    });
  }
});
