// Fault tests of the deployed Groth16 verifiers with REAL proofs (issue #8). DemleMining checks proof j of a
// commitment with the verifier of layer j mod L, so every layer's verifier is tested: for each distinct circuit of the
// demo workload (miner/circuits.ts MINING_WORKLOADS.demo: the GEMM and conv2d demo circuits, with the setup
// `prepareCircuit` gives: the committed ceremony's or the dev one), an honest proof of the layer's work (outputs
// computed with ONNX Runtime by the miner's op backend) verifies on chain; then every public input and every proof
// word is tampered with, and the verifier must return false or revert for each:
//
//   - each of the 5 public inputs every tile circuit has (outputRoot, seed, challenge, miner, shape): + 1, + p, and
//     = p − 1 (p: the BN254 scalar field modulus; + p is the same field element written non-canonically);
//   - each of the 8 proof words [a0, a1, b00, b01, b10, b11, c0, c1]: + 1, + p, and + q (q: the base field modulus,
//     so + q is the same coordinate written non-canonically).
//
// snarkjs' off-chain groth16.verify is run on the same tampered inputs for information only (the protocol verifies on
// chain); its verdicts are recorded next to the on-chain ones in build/faults/public-inputs.json.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import hre from "hardhat";
import { ContractFactory, type BaseContract } from "ethers";
import * as snarkjs from "snarkjs";
import type { Groth16Proof } from "snarkjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MINING_WORKLOADS, prepareCircuit, type PreparedCircuit, type WorkloadLayer } from "../../miner/circuits.js";
import { opBackend } from "../../miner/ops/backend.js";
import { FIELD_MODULUS, type CircuitInput } from "../../common/work.js";
import { terminateBn128Curve } from "../../prover/snarkjs-runtime.js";
import { compileVerifier } from "../../prover/verifier-contract.js";

type Connection = Awaited<ReturnType<typeof hre.network.create>>;
type Verifier = BaseContract & {
  verifyProof: { staticCall(a: bigint[], b: bigint[][], c: bigint[], pub: bigint[]): Promise<boolean> };
};

const P = FIELD_MODULUS;
/** The BN254 base field modulus (curve point coordinates). */
const Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583n;
const INPUT_NAMES = ["outputRoot", "seed", "challenge", "miner", "shape"] as const;
const WORD_NAMES = ["a0", "a1", "b00", "b01", "b10", "b11", "c0", "c1"] as const;
/** One layer per distinct circuit of the demo workload, in layer order. */
const LAYERS: readonly WorkloadLayer[] = [
  ...new Map(MINING_WORKLOADS.demo.map((layer) => [layer.circuit.name, layer] as const)).values(),
];
const LAYER_NAMES = LAYERS.map((layer) => layer.circuit.name);

const exportSolidityCallData = (
  snarkjs.groth16 as unknown as {
    exportSolidityCallData(proof: Groth16Proof, publicSignals: readonly string[]): Promise<string>;
  }
).exportSolidityCallData;
const verifyOffChain = (
  snarkjs.groth16 as unknown as {
    verify(vkey: unknown, publicSignals: string[], proof: Groth16Proof): Promise<boolean>;
  }
).verify;

type Verdict = "accepted" | "false" | "reverted";
interface Case {
  readonly circuit: string;
  readonly target: string;
  readonly tamper: string;
  readonly onChain: Verdict;
  readonly offChain: "accepted" | "rejected" | "threw";
}

/** A layer's verifier and an honest proof of its circuit. */
interface Subject {
  readonly prepared: PreparedCircuit;
  readonly verifier: Verifier;
  readonly vkey: unknown;
  readonly words: bigint[];
  readonly inputs: bigint[];
  readonly proof: Groth16Proof;
}

describe("every demo layer's verifier rejects tampered public inputs and proof words", () => {
  let connection: Connection;
  const subjects = new Map<string, Subject>();
  const cases: Case[] = [];
  const started = performance.now();

  beforeAll(async () => {
    connection = await hre.network.create();
    const [deployer] = await connection.ethers.getSigners();
    const seed = 0x5eed_0000_1234_5678_9abc_def0n;
    for (const layer of LAYERS) {
      const prepared = await prepareCircuit(layer.circuit);
      const { abi, bytecode } = compileVerifier(prepared.setup.verifierPath);
      const verifier = (await (
        await new ContractFactory(abi, bytecode, deployer).deploy()
      ).waitForDeployment()) as unknown as Verifier;

      const backend = opBackend(layer);
      let input: CircuitInput;
      try {
        const outputs = await backend.compute(seed);
        const tree = await backend.commit(outputs);
        input = await backend.proofInput({
          outputs,
          tree,
          seed,
          challenge: 0xc4a1_1e96e_0000_0000_0000_0000_0042n,
          miner: 0x70997970c51812dc3a010c7d01b50e0d17dc79c8n,
        });
      } finally {
        await backend.release();
      }
      const proved = await snarkjs.groth16.fullProve(
        input,
        prepared.setup.prover.wasmPath,
        prepared.setup.prover.zkeyPath,
      );
      const [pa, pb, pc] = JSON.parse(`[${await exportSolidityCallData(proved.proof, proved.publicSignals)}]`) as [
        string[],
        string[][],
        string[],
      ];
      subjects.set(layer.circuit.name, {
        prepared,
        verifier,
        vkey: JSON.parse(readFileSync(prepared.setup.vkeyPath, "utf8")),
        words: [...pa, ...pb.flat(), ...pc].map(BigInt),
        inputs: proved.publicSignals.map(BigInt),
        proof: proved.proof,
      });
    }
  }, 1_800_000);

  afterAll(async () => {
    await connection?.close();
    await terminateBn128Curve();
  });

  const subjectOf = (name: string): Subject => {
    const subject = subjects.get(name);
    if (!subject) throw new Error(`no honest proof of ${name}`);
    return subject;
  };

  const split = (w: readonly bigint[]): [bigint[], bigint[][], bigint[]] => [
    w.slice(0, 2),
    [w.slice(2, 4), w.slice(4, 6)],
    w.slice(6, 8),
  ];

  async function onChain(subject: Subject, w: readonly bigint[], pub: readonly bigint[]): Promise<Verdict> {
    try {
      return (await subject.verifier.verifyProof.staticCall(...split(w), [...pub])) ? "accepted" : "false";
    } catch {
      return "reverted";
    }
  }

  /** snarkjs' proof object from the 8 words (B's pairs are imaginary part first in the words). */
  function proofOf(subject: Subject, w: readonly bigint[]): Groth16Proof {
    const s = w.map(String);
    return {
      ...subject.proof,
      pi_a: [s[0]!, s[1]!, "1"],
      pi_b: [
        [s[3]!, s[2]!],
        [s[5]!, s[4]!],
        ["1", "0"],
      ],
      pi_c: [s[6]!, s[7]!, "1"],
    };
  }

  async function offChain(subject: Subject, w: readonly bigint[], pub: readonly bigint[]): Promise<Case["offChain"]> {
    try {
      return (await verifyOffChain(subject.vkey, pub.map(String), proofOf(subject, w))) ? "accepted" : "rejected";
    } catch {
      return "threw";
    }
  }

  it("covers every op of the demo workload, each with the five public inputs", () => {
    expect(new Set(LAYERS.map((layer) => layer.circuit.op))).toEqual(
      new Set(MINING_WORKLOADS.demo.map((layer) => layer.circuit.op)),
    );
    expect(LAYERS.length).toBeGreaterThanOrEqual(2);
    for (const name of LAYER_NAMES) expect(subjectOf(name).inputs).toHaveLength(INPUT_NAMES.length);
  });

  it.each(LAYER_NAMES)("accepts the honest proof of %s (on chain and off chain)", async (name) => {
    const subject = subjectOf(name);
    expect(await onChain(subject, subject.words, subject.inputs)).toBe("accepted");
    expect(await offChain(subject, subject.words, subject.inputs)).toBe("accepted");
  });

  it.each(LAYER_NAMES)("rejects every public input of %s + 1, + p and = p − 1", async (name) => {
    const subject = subjectOf(name);
    const { inputs, words } = subject;
    for (const [i, input] of INPUT_NAMES.entries()) {
      for (const [tamper, value] of [
        ["+1", inputs[i]! + 1n],
        ["+p", inputs[i]! + P],
        ["=p-1", P - 1n],
      ] as const) {
        expect(value).not.toBe(inputs[i]);
        const pub = inputs.map((x, k) => (k === i ? value : x));
        cases.push({
          circuit: name,
          target: `input ${input}`,
          tamper,
          onChain: await onChain(subject, words, pub),
          offChain: await offChain(subject, words, pub),
        });
      }
    }
    const mine = cases.filter((c) => c.circuit === name && c.target.startsWith("input"));
    expect(mine).toHaveLength(15);
    expect(mine.filter((c) => c.onChain === "accepted")).toEqual([]);
  });

  it.each(LAYER_NAMES)("rejects every proof word of %s + 1, + p and + q", async (name) => {
    const subject = subjectOf(name);
    for (const [i, word] of WORD_NAMES.entries()) {
      for (const [tamper, delta] of [
        ["+1", 1n],
        ["+p", P],
        ["+q", Q],
      ] as const) {
        const w = subject.words.map((x, k) => (k === i ? x + delta : x));
        cases.push({
          circuit: name,
          target: `proof ${word}`,
          tamper,
          onChain: await onChain(subject, w, subject.inputs),
          offChain: await offChain(subject, w, subject.inputs),
        });
      }
    }
    const mine = cases.filter((c) => c.circuit === name && c.target.startsWith("proof"));
    expect(mine).toHaveLength(24);
    expect(mine.filter((c) => c.onChain === "accepted")).toEqual([]);
  });

  it("records the figures", () => {
    const count = (of: readonly Case[], pick: (c: Case) => string) =>
      of.reduce<Record<string, number>>((acc, c) => ({ ...acc, [pick(c)]: (acc[pick(c)] ?? 0) + 1 }), {});
    const figures = {
      circuits: LAYER_NAMES.map((name) => {
        const { prepared } = subjectOf(name);
        const mine = cases.filter((c) => c.circuit === name);
        return {
          circuit: name,
          op: prepared.circuit.op,
          setup: prepared.setup.zkeyPath.includes("dev_insecure") ? "development" : "committed ceremony",
          tamperedCases: mine.length,
          acceptedOnChain: mine.filter((c) => c.onChain === "accepted").length,
        };
      }),
      tamperedCases: cases.length,
      acceptedOnChain: cases.filter((c) => c.onChain === "accepted").length,
      onChain: count(cases, (c) => c.onChain),
      offChainSnarkjs: count(cases, (c) => c.offChain),
      cases,
      seconds: (performance.now() - started) / 1000,
    };
    mkdirSync("build/faults", { recursive: true });
    writeFileSync("build/faults/public-inputs.json", `${JSON.stringify(figures, null, 2)}\n`);
    console.log(
      `public inputs: ${figures.tamperedCases} tampered cases over ${LAYER_NAMES.join(", ")}, ` +
        `accepted on chain ${figures.acceptedOnChain}; on chain ${JSON.stringify(figures.onChain)}, ` +
        `snarkjs off chain ${JSON.stringify(figures.offChainSnarkjs)}`,
    );
    expect(figures.tamperedCases).toBe(LAYER_NAMES.length * 39);
    expect(figures.acceptedOnChain).toBe(0);
  });
});
