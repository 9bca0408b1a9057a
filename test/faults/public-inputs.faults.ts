// Fault tests of the deployed Groth16 verifier with REAL proofs (issue #8): an honest proof of the demo circuit
// (circuits/main/gemm_seed_demo_2x2x16.circom, the setup `prepareCircuit` gives: the committed ceremony's or the dev
// one) verifies on chain; then every public input and every proof word is tampered with, and the verifier must
// return false or revert for each:
//
//   - each of the 5 public inputs (outputRoot, seed, challenge, miner, shape): + 1, + p, and = p − 1
//     (p: the BN254 scalar field modulus; + p is the same field element written non-canonically);
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
import { MINING_CIRCUITS, prepareCircuit, type PreparedCircuit } from "../../miner/circuits.js";
import { FIELD_MODULUS, commitOutputs, defineWork, gemmProofInput, generateInputs } from "../../common/work.js";
import { terminateBn128Curve } from "../../prover/snarkjs-runtime.js";
import { compileVerifier } from "../../prover/verifier-contract.js";
import { honestOutputs } from "../helpers/reference.js";

type Connection = Awaited<ReturnType<typeof hre.network.create>>;
type Verifier = BaseContract & {
  verifyProof: { staticCall(a: bigint[], b: bigint[][], c: bigint[], pub: bigint[]): Promise<boolean> };
};

const P = FIELD_MODULUS;
/** The BN254 base field modulus (curve point coordinates). */
const Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583n;
const INPUT_NAMES = ["outputRoot", "seed", "challenge", "miner", "shape"] as const;
const WORD_NAMES = ["a0", "a1", "b00", "b01", "b10", "b11", "c0", "c1"] as const;

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
  readonly target: string;
  readonly tamper: string;
  readonly onChain: Verdict;
  readonly offChain: "accepted" | "rejected" | "threw";
}

describe("the demo circuit's verifier rejects tampered public inputs and proof words", () => {
  let connection: Connection;
  let prepared: PreparedCircuit;
  let verifier: Verifier;
  let vkey: unknown;
  let words: bigint[];
  let inputs: bigint[];
  let proof: Groth16Proof;
  const cases: Case[] = [];
  const started = performance.now();

  beforeAll(async () => {
    prepared = await prepareCircuit(MINING_CIRCUITS.demo);
    vkey = JSON.parse(readFileSync(prepared.setup.vkeyPath, "utf8"));
    connection = await hre.network.create();
    const [deployer] = await connection.ethers.getSigners();
    const { abi, bytecode } = compileVerifier(prepared.setup.verifierPath);
    verifier = (await (
      await new ContractFactory(abi, bytecode, deployer).deploy()
    ).waitForDeployment()) as unknown as Verifier;

    const work = defineWork(prepared.circuit.tiling, { rowBlocksLog2: 1, colBlocksLog2: 2 });
    const seed = 0x5eed_0000_1234_5678_9abc_def0n;
    const { a, b } = await generateInputs(seed, work);
    const c = honestOutputs(a, b, work.m, work.n, work.k);
    const tree = await commitOutputs(c, work);
    const { input } = await gemmProofInput({
      work,
      tilesPerProof: prepared.circuit.tilesPerProof,
      c,
      tree,
      seed,
      challenge: 0xc4a1_1e96e_0000_0000_0000_0000_0042n,
      miner: 0x70997970c51812dc3a010c7d01b50e0d17dc79c8n,
    });
    const proved = await snarkjs.groth16.fullProve(
      input,
      prepared.setup.prover.wasmPath,
      prepared.setup.prover.zkeyPath,
    );
    proof = proved.proof;
    inputs = proved.publicSignals.map(BigInt);
    const [pa, pb, pc] = JSON.parse(`[${await exportSolidityCallData(proof, proved.publicSignals)}]`) as [
      string[],
      string[][],
      string[],
    ];
    words = [...pa, ...pb.flat(), ...pc].map(BigInt);
  }, 1_800_000);

  afterAll(async () => {
    await connection?.close();
    await terminateBn128Curve();
  });

  const split = (w: readonly bigint[]): [bigint[], bigint[][], bigint[]] => [
    w.slice(0, 2),
    [w.slice(2, 4), w.slice(4, 6)],
    w.slice(6, 8),
  ];

  async function onChain(w: readonly bigint[], pub: readonly bigint[]): Promise<Verdict> {
    try {
      return (await verifier.verifyProof.staticCall(...split(w), [...pub])) ? "accepted" : "false";
    } catch {
      return "reverted";
    }
  }

  /** snarkjs' proof object from the 8 words (B's pairs are imaginary part first in the words). */
  function proofOf(w: readonly bigint[]): Groth16Proof {
    const s = w.map(String);
    return {
      ...proof,
      pi_a: [s[0]!, s[1]!, "1"],
      pi_b: [
        [s[3]!, s[2]!],
        [s[5]!, s[4]!],
        ["1", "0"],
      ],
      pi_c: [s[6]!, s[7]!, "1"],
    };
  }

  async function offChain(w: readonly bigint[], pub: readonly bigint[]): Promise<Case["offChain"]> {
    try {
      return (await verifyOffChain(vkey, pub.map(String), proofOf(w))) ? "accepted" : "rejected";
    } catch {
      return "threw";
    }
  }

  it("accepts the honest proof (on chain and off chain)", async () => {
    expect(await onChain(words, inputs)).toBe("accepted");
    expect(await offChain(words, inputs)).toBe("accepted");
  });

  it("rejects every public input + 1, + p and = p − 1", async () => {
    for (const [i, name] of INPUT_NAMES.entries()) {
      for (const [tamper, value] of [
        ["+1", inputs[i]! + 1n],
        ["+p", inputs[i]! + P],
        ["=p-1", P - 1n],
      ] as const) {
        expect(value).not.toBe(inputs[i]);
        const pub = inputs.map((x, k) => (k === i ? value : x));
        cases.push({
          target: `input ${name}`,
          tamper,
          onChain: await onChain(words, pub),
          offChain: await offChain(words, pub),
        });
      }
    }
    expect(cases.filter((c) => c.target.startsWith("input"))).toHaveLength(15);
    expect(cases.filter((c) => c.onChain === "accepted")).toEqual([]);
  });

  it("rejects every proof word + 1, + p and + q", async () => {
    for (const [i, name] of WORD_NAMES.entries()) {
      for (const [tamper, delta] of [
        ["+1", 1n],
        ["+p", P],
        ["+q", Q],
      ] as const) {
        const w = words.map((x, k) => (k === i ? x + delta : x));
        cases.push({
          target: `proof ${name}`,
          tamper,
          onChain: await onChain(w, inputs),
          offChain: await offChain(w, inputs),
        });
      }
    }
    expect(cases.filter((c) => c.target.startsWith("proof"))).toHaveLength(24);
    expect(cases.filter((c) => c.onChain === "accepted")).toEqual([]);
  });

  it("records the figures", () => {
    const count = (pick: (c: Case) => string) =>
      cases.reduce<Record<string, number>>((acc, c) => ({ ...acc, [pick(c)]: (acc[pick(c)] ?? 0) + 1 }), {});
    const figures = {
      circuit: prepared.circuit.name,
      setup: prepared.setup.zkeyPath.includes("dev_insecure") ? "development" : "committed ceremony",
      tamperedCases: cases.length,
      acceptedOnChain: cases.filter((c) => c.onChain === "accepted").length,
      onChain: count((c) => c.onChain),
      offChainSnarkjs: count((c) => c.offChain),
      cases,
      seconds: (performance.now() - started) / 1000,
    };
    mkdirSync("build/faults", { recursive: true });
    writeFileSync("build/faults/public-inputs.json", `${JSON.stringify(figures, null, 2)}\n`);
    console.log(
      `public inputs: ${figures.tamperedCases} tampered cases, accepted on chain ${figures.acceptedOnChain}; ` +
        `on chain ${JSON.stringify(figures.onChain)}, snarkjs off chain ${JSON.stringify(figures.offChainSnarkjs)}`,
    );
    expect(figures.acceptedOnChain).toBe(0);
  });
});
