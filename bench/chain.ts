/**
 * Chain benchmark: what mining DEMLE costs on-chain and how long one epoch takes, on Hardhat's in-process network
 * (EDR) with the "gemm-demo" workload (one layer: the demo GEMM circuit gemm_seed_demo_2x2x16, NT = 1) and real
 * Groth16 proofs.
 *
 *   npm run bench:chain -- [--commitments 3] [--block-time 500] [--ort-rounds 30] [--shapes 16x16x16,512x512x64]
 *                          [--only gas,epochs,ort] [--out bench/results/chain.json]
 *
 * Measures, in one run:
 *   1. gas, from receipts: deploying the layer's verifier and DemleMining (which deploys DemleToken), openEpoch,
 *      commit (the contract's first, a later one of the same miner, another miner's first), prove for P = 1, 2, 4, 8
 *      proofs per commitment (one deployment per P; a first prove, which mints the token's first supply, and a later
 *      one), slash; a linear fit of prove gas over P; verifyProof alone (eth_estimateGas and a transaction sent
 *      straight to the verifier); and where prove()'s gas goes, from debug_traceTransaction (precompiles, token
 *      mint, bond, storage);
 *   2. the wall time of the demo's mining loop on that workload (2 miners, DEFAULT_PROTOCOL: P = 4), split into the
 *      Miner's phases compute / commit / wait for the challenge / prove / submit, medians over every commitment, the
 *      time from the start to the first reward, and the epochs the miners' admission control skipped;
 *   3. ONNX Runtime CPU throughput of the miner's FP8-QDQ GEMM graph against a plain float32 MatMul of the same shape
 *      (the demo miner's 16×16×16 and 512×512×64), interleaved repetitions, medians.
 * Progress goes to stderr, the tables to stdout, every raw number to the JSON file (default bench/results/chain.json).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Command, InvalidArgumentError } from "commander";
import { displayPath, gitCommit } from "./provenance.js";
import { Contract, NonceManager, type ContractTransactionResponse, type Signer, type TransactionReceipt } from "ethers";
import * as ort from "onnxruntime-node";
import { REPO_ROOT } from "../circuits/compile.js";
import { randomFiniteCodes } from "../common/fp8.js";
import { Prng } from "../common/prng.js";
import {
  commitOutputs,
  defineWork,
  encodeShape,
  gemmProofInput,
  generateInputs,
  type GemmWork,
} from "../common/work.js";
import { loadArtifact } from "../miner/artifacts.js";
import { MINING_CIRCUITS, MINING_WORKLOADS, prepareWorkload, type PreparedCircuit } from "../miner/circuits.js";
import { DEFAULT_PROTOCOL, deployDemle, miningParams, type MiningParams } from "../miner/deploy.js";
import {
  Fp8GemmRunner,
  NO_SPINNING,
  buildFloat32GemmModel,
  buildFp8GemmModel,
  decodeE4m3fnMatrix,
  gemmMacs,
  type GemmShape,
} from "../miner/gemm.js";
import { setIntervalMining, withHardhat } from "../miner/hardhat.js";
import { Miner, type Job } from "../miner/miner.js";
import { SESSION_OPTIONS } from "../miner/onnx/session.js";
import { proofToCalldata } from "../prover/calldata.js";
import { ProverPool, type ProveTask } from "../prover/pool.js";
import { errorMessage, terminateBn128Curve } from "../prover/snarkjs-runtime.js";

// ---------------------------------------------------------------------------------------------------------------
// Options, logging, small helpers

const SECTIONS = ["gas", "epochs", "ort"] as const;
type Section = (typeof SECTIONS)[number];

interface Options {
  readonly commitments: number;
  readonly blockTimeMs: number;
  readonly ortRounds: number;
  readonly shapes: readonly GemmShape[];
  readonly only: readonly Section[];
  readonly out: string;
}

/** The workload of the gas and epoch sections: one layer, the demo GEMM circuit. */
const WORKLOAD_NAME = "gemm-demo";
const WORKLOAD = MINING_WORKLOADS[WORKLOAD_NAME];
/** Its only layer (a GEMM circuit, whose works and proof inputs the gas section builds itself). */
const GEMM_LAYER = WORKLOAD[0];
/** Proofs per commitment measured in the gas section. */
const PROOF_COUNTS = [1, 2, 4, 8] as const;
/**
 * Epoch length of the gas deployments: long enough that every transaction of an instance lands in one epoch, so no
 * commit pays for opening an epoch by accident. Gas does not depend on it (an immutable).
 */
const GAS_EPOCH_LENGTH = 1_000;
const POOL_WORKERS = Math.min(2, os.availableParallelism());
const TX_BASE_GAS = 21_000;
/** EIP-1108 prices of the BN254 precompiles. */
const EC_ADD_GAS = 150;
const EC_MUL_GAS = 6_000;
const PAIRING_BASE_GAS = 45_000;
const PAIRING_PER_PAIR_GAS = 34_000;
/** The ≤ 300k gas target for proving k = 8 tiles. */
const TARGET_GAS_K8 = 300_000;
const PROVER_RESULTS = "bench/results/prover.json";
const VERIFIER_ABI = [
  "function verifyProof(uint256[2] _pA, uint256[2][2] _pB, uint256[2] _pC, uint256[5] _pubSignals) view returns (bool)",
];
const PRECOMPILES = {
  "0x0000000000000000000000000000000000000006": "ecAdd",
  "0x0000000000000000000000000000000000000007": "ecMul",
  "0x0000000000000000000000000000000000000008": "pairing",
} as const;

const startedAt = performance.now();
const elapsed = () => {
  const s = Math.round((performance.now() - startedAt) / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
};
function progress(line: string): void {
  process.stderr.write(`[bench:chain ${elapsed()}] ${line}\n`);
}

const round = (x: number, digits = 0) => Number(x.toFixed(digits));
const fmtInt = (x: number | bigint) => (typeof x === "bigint" ? x : BigInt(Math.round(x))).toLocaleString("en-US");
const fmtMs = (x: number) => (x >= 100 ? fmtInt(x) : x.toFixed(1));
const fmtS = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

interface Stats {
  readonly n: number;
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

function stats(values: readonly number[]): Stats {
  if (values.length === 0) return { n: 0, median: NaN, min: NaN, max: NaN };
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { n: sorted.length, median, min: sorted[0]!, max: sorted[sorted.length - 1]! };
}
const fmtStats = (s: Stats) => (s.n === 0 ? "—" : `${fmtMs(s.median)} (${fmtMs(s.min)}–${fmtMs(s.max)})`);

function table(headers: readonly string[], rows: readonly (readonly string[])[], rightAligned: readonly number[]) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => (rightAligned.includes(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (rightAligned.includes(i) ? `${"-".repeat(w + 1)}:` : "-".repeat(w + 2))).join("|")}|`;
  return [line(headers), rule, ...rows.map(line)].join("\n");
}

/** Least-squares line y = intercept + slope·x, with R². */
function linearFit(xs: readonly number[], ys: readonly number[]) {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
    syy += (ys[i]! - my) ** 2;
  }
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  const residuals = xs.map((x, i) => ys[i]! - (intercept + slope * x));
  return {
    slope: round(slope, 1),
    intercept: round(intercept, 1),
    r2: syy === 0 ? 1 : round((sxy * sxy) / (sxx * syy), 8),
    maxAbsResidual: round(Math.max(...residuals.map(Math.abs)), 1),
  };
}

type Hre = Parameters<Parameters<typeof withHardhat>[0]>[0];
type Connection = Awaited<ReturnType<Hre["network"]["create"]>>;
type Rpc = Connection["provider"];

const mine = (provider: Rpc, blocks: number) =>
  provider.request({ method: "hardhat_mine", params: [`0x${blocks.toString(16)}`] });

/** Sends `fn(args)` on `contract`, waits for the receipt, requires success. */
async function send(contract: Contract, fn: string, args: readonly unknown[], value?: bigint) {
  const tx = (await contract.getFunction(fn)(
    ...args,
    ...(value === undefined ? [] : [{ value }]),
  )) as ContractTransactionResponse;
  const receipt = await tx.wait();
  if (!receipt || receipt.status !== 1) throw new Error(`${fn} transaction ${tx.hash} failed`);
  return receipt;
}

async function view<T>(contract: Contract, fn: string, ...args: unknown[]): Promise<T> {
  return (await contract.getFunction(fn)(...args)) as T;
}

/** Calldata gas of a transaction's input: 4 per zero byte, 16 per non-zero byte (the EIP-7623 floor is far lower). */
function calldataGas(data: string): { bytes: number; zeroBytes: number; gas: number } {
  const hex = data.startsWith("0x") ? data.slice(2) : data;
  let zeroBytes = 0;
  for (let i = 0; i < hex.length; i += 2) if (hex.slice(i, i + 2) === "00") zeroBytes++;
  const bytes = hex.length / 2;
  return { bytes, zeroBytes, gas: 4 * zeroBytes + 16 * (bytes - zeroBytes) };
}

// ---------------------------------------------------------------------------------------------------------------
// Gas breakdown from debug_traceTransaction

interface StructLog {
  readonly pc: number;
  readonly op: string;
  readonly gas: number;
  readonly gasCost: number;
  readonly depth: number;
  readonly stack?: readonly string[];
}

/** Where one transaction's gas went. Every number is gas; `execution − refund + intrinsic = gasUsed`. */
interface GasBreakdown {
  readonly gasUsed: number;
  readonly intrinsic: { readonly base: number; readonly calldata: number; readonly calldataBytes: number };
  /** Gas the EVM charged for executing (before the refund). */
  readonly execution: number;
  readonly refund: number;
  /** Calls from the top frame to the verifier: count and gas of each (the CALL's own cost included). */
  readonly verifierCalls: readonly number[];
  /** Inside the verifier: precompile calls (count, gas with the 100-gas warm CALL cost each). */
  readonly precompiles: Record<"pairing" | "ecMul" | "ecAdd", { readonly calls: number; readonly gas: number }>;
  /** The verifier's own execution: everything in its calls except the precompiles. */
  readonly verifierOther: number;
  /** Calls from the top frame to other addresses, by label (gas each, callee execution included). */
  readonly otherCalls: Record<string, number>;
  /** The top frame's own opcodes, by kind (gasCost; calls excluded). */
  readonly topOps: Record<string, number>;
  /** Top frame, everything not listed above (ABI decoding, checks, arithmetic, memory). */
  readonly topOther: number;
}

function addressOnStack(stack: readonly string[] | undefined, fromTop: number): string | undefined {
  const word = stack?.[stack.length - 1 - fromTop];
  if (word === undefined) return undefined;
  return `0x${BigInt(word).toString(16).padStart(40, "0").slice(-40)}`;
}

const CALL_OPS = new Set(["CALL", "STATICCALL", "DELEGATECALL", "CALLCODE"]);
const TOP_OP_KINDS: Record<string, string> = {
  SSTORE: "SSTORE",
  SLOAD: "SLOAD",
  KECCAK256: "KECCAK256",
  SHA3: "KECCAK256",
  LOG1: "LOG",
  LOG2: "LOG",
  LOG3: "LOG",
  LOG4: "LOG",
  BLOCKHASH: "BLOCKHASH",
  TLOAD: "TLOAD/TSTORE",
  TSTORE: "TLOAD/TSTORE",
};

async function traceGas(
  provider: Rpc,
  receipt: TransactionReceipt,
  data: string,
  labels: Record<string, string>,
): Promise<GasBreakdown> {
  const trace = (await provider.request({
    method: "debug_traceTransaction",
    params: [receipt.hash, { disableMemory: true, disableStorage: true }],
  })) as { structLogs: StructLog[] };
  const logs = trace.structLogs;
  if (logs.length === 0) throw new Error(`empty trace for ${receipt.hash}`);
  const top = logs[0]!.depth;
  const last = logs[logs.length - 1]!;
  const execution = logs[0]!.gas - (last.gas - last.gasCost);
  const cd = calldataGas(data);
  const gasUsed = Number(receipt.gasUsed);
  const refund = TX_BASE_GAS + cd.gas + execution - gasUsed;

  const lowerLabels = Object.fromEntries(Object.entries(labels).map(([a, l]) => [a.toLowerCase(), l]));
  const verifierCalls: number[] = [];
  const precompiles = { pairing: { calls: 0, gas: 0 }, ecMul: { calls: 0, gas: 0 }, ecAdd: { calls: 0, gas: 0 } };
  const otherCalls: Record<string, number> = {};
  const topOps: Record<string, number> = {};
  let topCallsGas = 0;
  let topOpsGas = 0;
  for (let i = 0; i < logs.length; i++) {
    const step = logs[i]!;
    if (CALL_OPS.has(step.op)) {
      // The call's full cost: gas before it minus gas at the next step of the same frame.
      let j = i + 1;
      while (j < logs.length && logs[j]!.depth > step.depth) j++;
      const cost = j < logs.length && logs[j]!.depth === step.depth ? step.gas - logs[j]!.gas : step.gasCost;
      const target = addressOnStack(step.stack, 1);
      const precompile = target ? PRECOMPILES[target as keyof typeof PRECOMPILES] : undefined;
      if (precompile) {
        precompiles[precompile].calls++;
        precompiles[precompile].gas += cost;
      }
      if (step.depth === top) {
        topCallsGas += cost;
        const label = (target && lowerLabels[target]) ?? `call to ${target ?? "?"}`;
        if (label === "verifier") {
          verifierCalls.push(cost);
        } else if (!precompile) {
          otherCalls[label] = (otherCalls[label] ?? 0) + cost;
        }
      }
      continue;
    }
    if (step.depth === top) {
      const kind = TOP_OP_KINDS[step.op];
      if (kind) {
        topOps[kind] = (topOps[kind] ?? 0) + step.gasCost;
        topOpsGas += step.gasCost;
      }
    }
  }
  const precompileGas = precompiles.pairing.gas + precompiles.ecMul.gas + precompiles.ecAdd.gas;
  const verifierTotal = verifierCalls.reduce((a, b) => a + b, 0);
  // A transaction sent straight to the verifier has no verifier call: its top frame is the verifier.
  const verifierOther = verifierCalls.length > 0 ? verifierTotal - precompileGas : 0;
  return {
    gasUsed,
    intrinsic: { base: TX_BASE_GAS, calldata: cd.gas, calldataBytes: cd.bytes },
    execution,
    refund,
    verifierCalls,
    precompiles,
    verifierOther,
    otherCalls,
    topOps,
    topOther: execution - topCallsGas - topOpsGas,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// 1. Gas

interface ProveRun {
  readonly proofs: number;
  readonly k: number;
  readonly deployVerifierGas: number;
  readonly deployMiningGas: number;
  readonly openEpochGas: number;
  readonly openEpochAgainGas: number;
  readonly commitFirstGas: number;
  readonly commitSameMinerGas: number;
  readonly commitOtherMinerGas: number;
  /** The token's first mint (totalSupply and the miner's balance go 0 → x). */
  readonly proveFirstGas: number;
  /** A later prove of the same miner (supply and balance non-zero → non-zero). */
  readonly proveLaterGas: number;
  /** Another miner's first reward (supply non-zero → non-zero, its balance 0 → x). */
  readonly proveNewMinerGas: number;
  readonly slashFirstGas: number;
  readonly slashLaterGas: number;
  readonly proveFirstBreakdown: GasBreakdown;
  readonly proveLaterBreakdown: GasBreakdown;
  readonly proveNewMinerBreakdown: GasBreakdown;
  readonly provingWallMs: number;
  readonly proveMs: Stats;
}

interface VerifyAlone {
  readonly estimateGas: number;
  readonly txGasUsed: number;
  readonly breakdown: GasBreakdown;
  readonly result: boolean;
}

interface GasResults {
  readonly hardfork: string | null;
  readonly workload: string;
  readonly circuit: string;
  readonly runs: ProveRun[];
  readonly verifyProof: VerifyAlone;
  readonly fitFirst: ReturnType<typeof linearFit>;
  readonly fitLater: ReturnType<typeof linearFit>;
  readonly fitNewMiner: ReturnType<typeof linearFit>;
  readonly params: Omit<MiningParams, "proofsPerCommitment">;
}

async function measureGas(
  hre: Hre,
  prepared: readonly PreparedCircuit[],
  pool: ProverPool,
  abi: Contract["interface"]["fragments"],
): Promise<GasResults> {
  const { circuit, shape } = GEMM_LAYER;
  const prover = prepared[0]!.setup.prover;
  const connection = await hre.network.create();
  const runner = await Fp8GemmRunner.create({ ...shapeOfDemo(), allowSpinning: false });
  try {
    const provider = connection.provider;
    const [deployer, minerA, minerB, slasher, minerC] = (await connection.ethers.getSigners()) as unknown as Signer[];
    const addrA = await minerA!.getAddress();
    const addrC = await minerC!.getAddress();
    const shapes = [encodeShape(shape)];
    const work: GemmWork = defineWork(circuit.tiling, shape);
    const runs: ProveRun[] = [];
    let verifyAlone: VerifyAlone | undefined;
    let params: MiningParams | undefined;
    for (const P of PROOF_COUNTS) {
      progress(`gas: P = ${P}: deploying the verifier and DemleMining`);
      params = miningParams({ proofsPerCommitment: P, epochLength: GAS_EPOCH_LENGTH });
      const deployment = await deployDemle(deployer!, WORKLOAD_NAME, prepared, params);
      const verifierAddress = deployment.layers[0]!.verifier;
      const mining = new Contract(deployment.mining, abi, deployer);
      const asA = mining.connect(minerA!) as Contract;
      const asB = mining.connect(minerB!) as Contract;
      const asC = mining.connect(minerC!) as Contract;
      const open = await send(mining, "openEpoch", []);
      const openAgain = await send(asB, "openEpoch", []);
      const epoch = await view<bigint>(mining, "currentEpoch");
      const bond = await view<bigint>(mining, "bondFor", shapes);

      // Real works, committed in nonce order and proven below: miner A's nonces 0 and 1, miner C's nonce 0.
      const makeWork = async (address: string, nonce: bigint) => {
        const seed = await view<bigint>(mining, "seedFor", address, epoch, nonce);
        const { a, b } = await generateInputs(seed, work);
        const c = await runner.run(a, b);
        return { address, seed, c, tree: await commitOutputs(c, work) };
      };
      const works = [await makeWork(addrA, 0n), await makeWork(addrA, 1n), await makeWork(addrC, 0n)];
      const commitFirst = await send(asA, "commit", [epoch, 0n, [works[0]!.tree.root], shapes], bond);
      const commitSame = await send(asA, "commit", [epoch, 1n, [works[1]!.tree.root], shapes], bond);
      // Miner B's commitments are never proven: they are slashed below (any root < p will do).
      const commitOther = await send(asB, "commit", [epoch, 0n, [7n], shapes], bond);
      await send(asB, "commit", [epoch, 1n, [8n], shapes], bond);
      await send(asC, "commit", [epoch, 0n, [works[2]!.tree.root], shapes], bond);
      // Commitment ids in order: A0, A1, B0, B1, C0.
      const proven = [0n, 1n, 4n] as const;
      const slashed = [2n, 3n] as const;
      if ((await view<{ miner: string }>(mining, "commitments", proven[2])).miner !== addrC) {
        throw new Error("unexpected commitment ids");
      }
      await mine(provider, params.challengeDelay + 1);

      progress(`gas: P = ${P}: proving ${3 * P} tiles (3 commitments × ${P}) with the pool (${pool.workers} workers)`);
      const tasks: ProveTask[] = [];
      const challenges = new Map<string, bigint>();
      for (const [w, id] of proven.entries()) {
        for (let j = 0; j < P; j++) {
          const challenge = await view<bigint>(mining, "proofChallenge", id, j);
          challenges.set(`${id}/${j}`, challenge);
          const { input } = await gemmProofInput({
            work,
            tilesPerProof: circuit.tilesPerProof,
            c: works[w]!.c,
            tree: works[w]!.tree,
            seed: works[w]!.seed,
            challenge,
            miner: BigInt(works[w]!.address),
          });
          tasks.push({ id: `${id}/${j}`, circuit: prover, input });
        }
      }
      const proofs = new Map<string, string[]>();
      const proveMs: number[] = [];
      const provingStart = performance.now();
      for await (const outcome of pool.proveMany(tasks)) {
        if (!outcome.ok) throw new Error(`proof ${outcome.id} failed at ${outcome.stage}: ${outcome.error}`);
        proofs.set(outcome.id, proofToCalldata(outcome.proof));
        proveMs.push(outcome.timings.witnessMs + outcome.timings.proveMs);
      }
      const provingWallMs = performance.now() - provingStart;
      const proofsOf = (id: bigint) => Array.from({ length: P }, (_, j) => proofs.get(`${id}/${j}`)!);

      const labels = {
        [verifierAddress]: "verifier",
        [deployment.token]: "token.mint",
        [addrA]: "bond back to the miner",
        [addrC]: "bond back to the miner",
      };
      const proveAndTrace = async (as: Contract, id: bigint) => {
        const receipt = await send(as, "prove", [id, proofsOf(id)]);
        const data = mining.interface.encodeFunctionData("prove", [id, proofsOf(id)]);
        return { gas: Number(receipt.gasUsed), breakdown: await traceGas(provider, receipt, data, labels) };
      };
      const proveFirst = await proveAndTrace(asA, proven[0]);
      const proveLater = await proveAndTrace(asA, proven[1]);
      const proveNewMiner = await proveAndTrace(asC, proven[2]);

      if (verifyAlone === undefined) {
        // verifyProof on its own, for proof 0 of commitment 1 with the public inputs prove() derived for it.
        const words = proofsOf(proven[1])[0]!.map(BigInt);
        const inputs = [works[1]!.tree.root, works[1]!.seed, challenges.get(`${proven[1]}/0`)!, BigInt(addrA)];
        const args = [
          [words[0], words[1]],
          [
            [words[2], words[3]],
            [words[4], words[5]],
          ],
          [words[6], words[7]],
          [...inputs, encodeShape(shape)],
        ];
        const verifier = new Contract(verifierAddress, VERIFIER_ABI, minerA);
        const fn = verifier.getFunction("verifyProof");
        const result = (await fn.staticCall(...args)) as boolean;
        const estimateGas = Number(await fn.estimateGas(...args));
        const data = verifier.interface.encodeFunctionData("verifyProof", args);
        const receipt = await (await minerA!.sendTransaction({ to: verifierAddress, data })).wait();
        if (!receipt || receipt.status !== 1) throw new Error("transaction to verifyProof failed");
        verifyAlone = {
          estimateGas,
          txGasUsed: Number(receipt.gasUsed),
          breakdown: await traceGas(provider, receipt, data, {}),
          result,
        };
      }

      // Slash miner B's commitments once their window is over: the first slash writes burnedBonds (0 → x).
      await mine(provider, params.challengeDelay + params.proofWindow + 1);
      const asSlasher = mining.connect(slasher!) as Contract;
      const slashFirst = await send(asSlasher, "slash", [slashed[0]]);
      const slashLater = await send(asSlasher, "slash", [slashed[1]]);
      const committed = await view<{ status: bigint }>(mining, "commitments", slashed[0]);
      if (committed.status !== 3n) throw new Error("slash did not settle the commitment");

      const run: ProveRun = {
        proofs: P,
        k: P * circuit.tilesPerProof,
        deployVerifierGas: Number(deployment.gas.verifiers[0]),
        deployMiningGas: Number(deployment.gas.mining),
        openEpochGas: Number(open.gasUsed),
        openEpochAgainGas: Number(openAgain.gasUsed),
        commitFirstGas: Number(commitFirst.gasUsed),
        commitSameMinerGas: Number(commitSame.gasUsed),
        commitOtherMinerGas: Number(commitOther.gasUsed),
        proveFirstGas: proveFirst.gas,
        proveLaterGas: proveLater.gas,
        proveNewMinerGas: proveNewMiner.gas,
        slashFirstGas: Number(slashFirst.gasUsed),
        slashLaterGas: Number(slashLater.gasUsed),
        proveFirstBreakdown: proveFirst.breakdown,
        proveLaterBreakdown: proveLater.breakdown,
        proveNewMinerBreakdown: proveNewMiner.breakdown,
        provingWallMs: round(provingWallMs),
        proveMs: stats(proveMs),
      };
      runs.push(run);
      progress(
        `gas: P = ${P}: prove ${fmtInt(run.proveFirstGas)} (token's first mint) / ${fmtInt(run.proveNewMinerGas)} ` +
          `(a miner's first) / ${fmtInt(run.proveLaterGas)} (later); ${3 * P} proofs in ${fmtS(provingWallMs)}`,
      );
    }
    const hardfork = (connection.networkConfig as { hardfork?: unknown }).hardfork;
    const xs = runs.map((r) => r.proofs);
    const rest: Partial<MiningParams> = { ...params! };
    delete rest.proofsPerCommitment;
    return {
      hardfork: typeof hardfork === "string" ? hardfork : null,
      workload: WORKLOAD_NAME,
      circuit: circuit.name,
      runs,
      verifyProof: verifyAlone!,
      fitFirst: linearFit(
        xs,
        runs.map((r) => r.proveFirstGas),
      ),
      fitLater: linearFit(
        xs,
        runs.map((r) => r.proveLaterGas),
      ),
      fitNewMiner: linearFit(
        xs,
        runs.map((r) => r.proveNewMinerGas),
      ),
      params: rest as Omit<MiningParams, "proofsPerCommitment">,
    };
  } finally {
    await runner.release();
    await connection.close();
  }
}

/** The GEMM the demo miner computes: the gemm-demo layer's work (the demo circuit's largest grid). */
function shapeOfDemo(): GemmShape {
  const work = defineWork(MINING_CIRCUITS.demo.tiling, GEMM_LAYER.shape);
  return { m: work.m, n: work.n, k: work.k };
}

// ---------------------------------------------------------------------------------------------------------------
// 2. Wall time of the demo's mining loop

interface JobRecord {
  readonly miner: string;
  readonly epoch: number;
  readonly nonce: number;
  readonly id: string | null;
  readonly commitBlock: number | null;
  readonly stage: string;
  readonly note: string | null;
  readonly timings: Job["timings"];
  readonly reward: string | null;
  /** ms since the miners started: when the job reached each stage. */
  readonly stageAtMs: Record<string, number>;
  /** From the start of its computation (computed − computeMs) to settled. */
  readonly latencyMs: number | null;
}

interface EpochResults {
  readonly workload: string;
  readonly blockTimeMs: number;
  readonly params: Record<string, string>;
  readonly commitmentsPerMiner: number;
  readonly deployMs: number;
  readonly runMs: number;
  readonly firstRewardMs: number | null;
  readonly firstRewardSinceSectionStartMs: number | null;
  readonly firstRewardSinceProcessStartMs: number | null;
  readonly jobs: JobRecord[];
  readonly phases: Record<"computeMs" | "commitMs" | "waitMs" | "proveMs" | "submitMs", Stats>;
  readonly activeMs: Stats;
  readonly latencyMs: Stats;
  /** Between the computation starts of a miner's consecutive commitments (one per epoch). */
  readonly intervalMs: Stats;
  /** Between the commit blocks of a miner's consecutive commitments. */
  readonly intervalBlocks: Stats;
  /** Epochs each miner committed in (one commitment per epoch at most). */
  readonly epochsByMiner: Record<string, number[]>;
  /**
   * Epochs between a miner's first and last commitment in which it did not commit (its cycle overran an epoch, or its
   * admission control skipped the epoch).
   */
  readonly skippedEpochs: number;
  /** Epochs the miners' admission control skipped (the shared pool's backlog would not fit half the proof window). */
  readonly deferredEpochs: Record<string, number>;
  readonly lost: number;
}

/** Differences of `value` between each miner's consecutive jobs (NaN dropped). */
function consecutive(jobs: readonly JobRecord[], value: (job: JobRecord) => number): number[] {
  const out: number[] = [];
  for (const miner of new Set(jobs.map((j) => j.miner))) {
    const values = jobs.filter((j) => j.miner === miner).map(value);
    for (let i = 1; i < values.length; i++) out.push(values[i]! - values[i - 1]!);
  }
  return out.filter((x) => Number.isFinite(x));
}

async function measureEpochs(
  hre: Hre,
  prepared: readonly PreparedCircuit[],
  pool: ProverPool,
  abi: Contract["interface"]["fragments"],
  options: Options,
): Promise<EpochResults> {
  const sectionStart = performance.now();
  const connection = await hre.network.create();
  await setIntervalMining(connection.provider, options.blockTimeMs);
  const stateRoot = mkdtempSync(path.join(os.tmpdir(), "demle-bench-chain-"));
  const miners: { name: string; miner: Miner }[] = [];
  try {
    const [deployer, ...accounts] = await connection.ethers.getSigners();
    const params = miningParams();
    const deployment = await deployDemle(deployer!, WORKLOAD_NAME, prepared, params);
    const deployMs = performance.now() - sectionStart;
    progress(
      `epochs: deployed (P = ${params.proofsPerCommitment}, ${params.epochLength}-block epochs, ` +
        `${options.blockTimeMs} ms blocks, D = ${params.challengeDelay}); 2 miners, ${options.commitments} commitments each`,
    );
    const layers = WORKLOAD.map((layer, i) => ({ ...layer, prover: prepared[i]!.setup.prover }));
    const stageAt = new Map<string, Record<string, number>>();
    let runStart = NaN;
    let firstReward: number | null = null;
    for (const [index, account] of accounts.slice(0, 2).entries()) {
      const name = `miner${index + 1}`;
      const miner = new Miner({
        contract: deployment.mining,
        signer: new NonceManager(account as unknown as Signer),
        layers,
        pool,
        stateDir: path.join(stateRoot, name),
        pollMs: Math.max(100, options.blockTimeMs / 2),
        onEvent: (event) => {
          if (event.type === "log") progress(`epochs: [${name}] ${event.message}`);
          if (event.type === "job") {
            const key = `${name}/${event.job.epoch}/${event.job.nonce}`;
            const at = stageAt.get(key) ?? {};
            at[event.job.stage] ??= performance.now() - runStart;
            stageAt.set(key, at);
            if (event.job.stage === "settled" && BigInt(event.job.reward ?? "0") > 0n && firstReward === null) {
              firstReward = performance.now();
            }
          }
        },
      });
      await miner.init(abi);
      miners.push({ name, miner });
    }
    runStart = performance.now();
    await Promise.all(miners.map(({ miner }) => miner.run(options.commitments)));
    const runMs = performance.now() - runStart;

    const jobs: JobRecord[] = miners.flatMap(({ name, miner }) =>
      miner.jobs().map((job) => {
        const at = stageAt.get(`${name}/${job.epoch}/${job.nonce}`) ?? {};
        const started = at.computed !== undefined ? at.computed - (job.timings.computeMs ?? 0) : undefined;
        return {
          miner: name,
          epoch: job.epoch,
          nonce: job.nonce,
          id: job.id ?? null,
          commitBlock: job.commitBlock ?? null,
          stage: job.stage,
          note: job.note ?? null,
          timings: { ...job.timings },
          reward: job.reward ?? null,
          stageAtMs: Object.fromEntries(Object.entries(at).map(([k, v]) => [k, round(v)])),
          latencyMs: started !== undefined && at.settled !== undefined ? round(at.settled - started) : null,
        };
      }),
    );
    const settled = jobs.filter((j) => j.stage === "settled");
    const phase = (key: keyof Job["timings"]) =>
      stats(settled.map((j) => j.timings[key]).filter((x): x is number => x !== undefined));
    const reward = firstReward as number | null;
    return {
      workload: WORKLOAD_NAME,
      blockTimeMs: options.blockTimeMs,
      params: deployment.params,
      commitmentsPerMiner: options.commitments,
      deployMs: round(deployMs),
      runMs: round(runMs),
      firstRewardMs: reward === null ? null : round(reward - runStart),
      firstRewardSinceSectionStartMs: reward === null ? null : round(reward - sectionStart),
      firstRewardSinceProcessStartMs: reward === null ? null : round(reward - startedAt),
      jobs,
      phases: {
        computeMs: phase("computeMs"),
        commitMs: phase("commitMs"),
        waitMs: phase("waitMs"),
        proveMs: phase("proveMs"),
        submitMs: phase("submitMs"),
      },
      activeMs: stats(
        settled.map(
          (j) =>
            (j.timings.computeMs ?? 0) +
            (j.timings.commitMs ?? 0) +
            (j.timings.waitMs ?? 0) +
            (j.timings.proveMs ?? 0) +
            (j.timings.submitMs ?? 0),
        ),
      ),
      latencyMs: stats(settled.map((j) => j.latencyMs).filter((x): x is number => x !== null)),
      intervalMs: stats(consecutive(jobs, (j) => (j.stageAtMs.computed ?? NaN) - (j.timings.computeMs ?? 0))),
      intervalBlocks: stats(consecutive(jobs, (j) => j.commitBlock ?? NaN)),
      epochsByMiner: Object.fromEntries(
        miners.map(({ name }) => [name, jobs.filter((j) => j.miner === name).map((j) => j.epoch)]),
      ),
      skippedEpochs: consecutive(jobs, (j) => j.epoch).reduce((sum, gap) => sum + Math.max(0, gap - 1), 0),
      deferredEpochs: Object.fromEntries(miners.map(({ name, miner }) => [name, miner.stats.commitmentsDeferred])),
      lost: jobs.filter((j) => j.stage === "lost").length,
    };
  } finally {
    await Promise.all(miners.map(({ miner }) => miner.release()));
    await connection.close();
    rmSync(stateRoot, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 3. ORT FP8-QDQ GEMM vs float32 MatMul

const ORT_BLOCK = 5;
const ORT_GAP_MS = 40;
const ORT_WARMUP = 3;

interface OrtRow {
  readonly variant: string;
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  readonly gmacPerSecond: number;
  /** Throughput relative to the float32 MatMul with the same session settings. */
  readonly vsF32: number;
  readonly samples: number;
}

interface OrtShapeResult {
  readonly shape: string;
  readonly macs: number;
  readonly rows: OrtRow[];
  readonly runnerDecodeMedianMs: number;
  readonly runnerRunMedianMs: number;
}

/**
 * The miner's sessions (Fp8GemmRunner with allowSpinning: false: graphOptimizationLevel basic, no spinning) and ORT's
 * defaults (spinning workers), each FP8 QDQ graph against a float32 MatMul with the same settings. Every round runs
 * each variant (rotating order) as a block of back-to-back runs after an idle gap, the block's first run unrecorded
 * (as in bench/ort-gemm.ts, whose spinning-worker finding this follows).
 */
async function measureOrtShape(shape: GemmShape, rounds: number, seed: number): Promise<OrtShapeResult> {
  const { m, n, k } = shape;
  const prng = new Prng(seed);
  const aCodes = randomFiniteCodes(prng, m * k, "e4m3fn");
  const bCodes = randomFiniteCodes(prng, k * n, "e4m3fn");
  const feeds = {
    A: new ort.Tensor("float32", decodeE4m3fnMatrix(aCodes, "A", k), [m, k]),
    B: new ort.Tensor("float32", decodeE4m3fnMatrix(bCodes, "B", n), [k, n]),
  };
  const specs = [
    { name: "f32 MatMul (miner settings)", baseline: "f32 MatMul (miner settings)", fp8: false, nospin: true },
    { name: "FP8 QDQ (miner settings)", baseline: "f32 MatMul (miner settings)", fp8: true, nospin: true },
    { name: "f32 MatMul (ORT default spin)", baseline: "f32 MatMul (ORT default spin)", fp8: false, nospin: false },
    { name: "FP8 QDQ (ORT default spin)", baseline: "f32 MatMul (ORT default spin)", fp8: true, nospin: false },
  ] as const;
  const RUNNER = "miner Fp8GemmRunner (decode + QDQ)";
  const sessions = await Promise.all(
    specs.map((s) =>
      ort.InferenceSession.create(s.fp8 ? buildFp8GemmModel(shape) : buildFloat32GemmModel(shape), {
        ...SESSION_OPTIONS,
        ...(s.nospin ? NO_SPINNING : {}),
      }),
    ),
  );
  const runner = await Fp8GemmRunner.create({ ...shape, executionProvider: "cpu", allowSpinning: false });
  try {
    const words = (t: ort.Tensor | undefined) => {
      const f = t!.data as Float32Array;
      return new Uint32Array(f.buffer, f.byteOffset, f.length);
    };
    const reference = Uint32Array.from(words((await sessions[0]!.run(feeds)).C));
    const same = (x: Uint32Array) => x.length === reference.length && x.every((w, i) => w === reference[i]);
    for (const [i, s] of sessions.entries()) {
      if (!same(words((await s.run(feeds)).C))) throw new Error(`${specs[i]!.name} output differs from f32 MatMul`);
    }
    if (!same(await runner.run(aCodes, bCodes))) throw new Error("Fp8GemmRunner output differs from f32 MatMul");

    const times = new Map<string, number[]>([...specs.map((s) => s.name), RUNNER].map((name) => [name, []]));
    const decode: number[] = [];
    const run: number[] = [];
    const tasks: ((record: boolean) => Promise<void>)[] = [
      ...sessions.map((s, i) => async (record: boolean) => {
        const t0 = performance.now();
        await s.run(feeds);
        if (record) times.get(specs[i]!.name)!.push(performance.now() - t0);
      }),
      async (record: boolean) => {
        const { timings } = await runner.runTimed(aCodes, bCodes);
        if (!record) return;
        times.get(RUNNER)!.push(timings.totalMs);
        decode.push(timings.decodeMs);
        run.push(timings.computeMs);
      },
    ];
    for (let w = 0; w < ORT_WARMUP; w++) for (const task of tasks) await task(false);
    for (let r = 0; r < rounds; r++) {
      for (let j = 0; j < tasks.length; j++) {
        const task = tasks[(r + j) % tasks.length]!;
        await sleep(ORT_GAP_MS);
        await task(false);
        for (let b = 1; b < ORT_BLOCK; b++) await task(true);
      }
    }
    const medians = new Map([...times].map(([name, t]) => [name, stats(t)]));
    const rows: OrtRow[] = [...medians].map(([variant, s]) => {
      const baseline = specs.find((x) => x.name === variant)?.baseline ?? "f32 MatMul (miner settings)";
      return {
        variant,
        medianMs: s.median,
        minMs: s.min,
        maxMs: s.max,
        gmacPerSecond: gemmMacs(shape) / (s.median / 1000) / 1e9,
        vsF32: medians.get(baseline)!.median / s.median,
        samples: s.n,
      };
    });
    return {
      shape: `${m}×${n}×${k}`,
      macs: gemmMacs(shape),
      rows,
      runnerDecodeMedianMs: stats(decode).median,
      runnerRunMedianMs: stats(run).median,
    };
  } finally {
    await Promise.all(sessions.map((s) => s.release()));
    await runner.release();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The 8-tile comparison from bench/prover.ts's results, if present

interface ProverFacts {
  readonly file: string;
  readonly createdAt: string | null;
  readonly mode: string | null;
  readonly perTile: { circuit: string; constraints: number; proveMedianMs: number | null } | null;
  readonly multiTile: { circuit: string; template: string; constraints: number; proveMedianMs: number | null } | null;
  readonly verifierCallGas: Record<string, number>;
  /** Estimated constraints of Fp8GemmSeedProof(8, 8, 8, 64, 10, 10) from the measured per-part breakdown. */
  readonly productionNt8Estimate: { constraints: number; ptauPower: number } | null;
}

function readProverFacts(): ProverFacts | null {
  const file = path.join(REPO_ROOT, PROVER_RESULTS);
  if (!existsSync(file)) return null;
  try {
    const r = JSON.parse(readFileSync(file, "utf8")) as {
      createdAt?: string;
      mode?: string;
      circuits?: {
        main?: { name: string; constraints: number };
        multiTile?: { name: string; template: string; constraints: number };
        breakdown?: { parts: { part: string; constraintsEach: number; multiplicity: number }[] };
      };
      pool?: { summary?: { proveMs?: { median: number }; witnessMs?: { median: number } } };
      kComparison?: { oneProof?: { summary?: { witnessPlusProveMs?: { median: number } } } };
      gas?: { verifiers?: { label: string; circuit: string; callGas: number }[] };
    };
    const main = r.circuits?.main;
    const multi = r.circuits?.multiTile;
    const pool = r.pool?.summary;
    // Parts instantiated once per proof whatever NT is (see partsOf in bench/prover.ts); the rest scale with NT.
    // ChallengeBits(⌈NT / 11⌉) stays one hash up to NT = 11 at depth 20.
    const shared = new Set(["challenge (Poseidon + canonical bits)", "work shape masks", "miner binding (miner²)"]);
    const parts = r.circuits?.breakdown?.parts;
    let productionNt8Estimate: ProverFacts["productionNt8Estimate"] = null;
    if (parts && parts.length > 0) {
      const constraints = parts.reduce(
        (sum, p) => sum + p.constraintsEach * p.multiplicity * (shared.has(p.part) ? 1 : 8),
        0,
      );
      productionNt8Estimate = { constraints, ptauPower: Math.ceil(Math.log2(constraints + 5 + 1)) };
    }
    return {
      file: PROVER_RESULTS,
      createdAt: r.createdAt ?? null,
      mode: r.mode ?? null,
      perTile: main
        ? {
            circuit: main.name,
            constraints: main.constraints,
            proveMedianMs: pool?.proveMs && pool.witnessMs ? round(pool.proveMs.median + pool.witnessMs.median) : null,
          }
        : null,
      multiTile: multi
        ? {
            circuit: multi.name,
            template: multi.template,
            constraints: multi.constraints,
            proveMedianMs: round(r.kComparison?.oneProof?.summary?.witnessPlusProveMs?.median ?? NaN) || null,
          }
        : null,
      verifierCallGas: Object.fromEntries((r.gas?.verifiers ?? []).map((v) => [v.circuit, v.callGas])),
      productionNt8Estimate,
    };
  } catch (error) {
    progress(`could not read ${PROVER_RESULTS}: ${errorMessage(error)}`);
    return null;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Report

function gasSection(gas: GasResults, prover: ProverFacts | null): string[] {
  const runs = gas.runs;
  const same = (pick: (r: ProveRun) => number) => {
    const values = [...new Set(runs.map(pick))];
    return values.length === 1 ? fmtInt(values[0]!) : `${fmtInt(Math.min(...values))}–${fmtInt(Math.max(...values))}`;
  };
  const p1 = runs.find((r) => r.proofs === 1)!;
  const p8 = runs.find((r) => r.proofs === 8)!;
  const v = gas.verifyProof;
  const vb = v.breakdown;
  const pairing = PAIRING_BASE_GAS + 4 * PAIRING_PER_PAIR_GAS;
  const out: string[] = [];
  out.push(
    `## 1. Gas: in-process Hardhat network (EDR${gas.hardfork ? `, ${gas.hardfork}` : ""}), workload ` +
      `${gas.workload} (one layer: ${gas.circuit}, NT = 1), ` +
      "gasUsed from receipts",
    "",
    table(
      ["transaction", "gas", "what it includes"],
      [
        ["deploy verifier (snarkjs Groth16, 5 public inputs)", same((r) => r.deployVerifierGas), "creation tx"],
        ["deploy DemleMining (deploys DemleToken)", same((r) => r.deployMiningGas), "creation tx, both contracts"],
        ["openEpoch (opens it: stores the seed)", same((r) => r.openEpochGas), "seed slot 0 → x, event"],
        ["openEpoch (already open)", same((r) => r.openEpochAgainGas), "no-op"],
        ["commit (the contract's first)", same((r) => r.commitFirstGas), "counter and nonce slots 0 → x"],
        ["commit (same miner, same epoch, later)", same((r) => r.commitSameMinerGas), "nonce slot x → y"],
        ["commit (another miner's first in the epoch)", same((r) => r.commitOtherMinerGas), "nonce slot 0 → 1"],
        ...runs.map((r) => [
          `prove, P = ${r.proofs} (k = ${r.k}), token's first mint`,
          fmtInt(r.proveFirstGas),
          "supply and balance 0 → x",
        ]),
        ...runs.map((r) => [
          `prove, P = ${r.proofs} (k = ${r.k}), a miner's first reward`,
          fmtInt(r.proveNewMinerGas),
          "supply x → y, balance 0 → x",
        ]),
        ...runs.map((r) => [
          `prove, P = ${r.proofs} (k = ${r.k}), later`,
          fmtInt(r.proveLaterGas),
          "supply and balance x → y",
        ]),
        ["slash (first: burnedBonds 0 → x)", same((r) => r.slashFirstGas), "bounty to the caller"],
        ["slash (later)", same((r) => r.slashLaterGas), ""],
      ],
      [1],
    ),
    "",
    `Values independent of P are the same in all ${runs.length} deployments unless a range is shown (ranges come ` +
      "from calldata: a zero byte of the random output root costs 4 gas instead of 16). " +
      `Parameters: DEFAULT_PROTOCOL (D = ${gas.params.challengeDelay}, W = ${gas.params.proofWindow}) except ` +
      `epochLength = ${GAS_EPOCH_LENGTH} (so that all of an instance's transactions share an epoch; gas does not ` +
      "depend on it); the work is the circuit's largest grid.",
    "",
    "### prove() gas against P (one deployment per P, real proofs)",
    "",
    table(
      [
        "P",
        "k = NT·P",
        "prove, token's first mint",
        "prove, a miner's first",
        "prove, later",
        "Δ per added proof (later)",
        "verifyProof calls inside (each)",
        "proving wall (3·P proofs)",
      ],
      runs.map((r, i) => {
        const prev = runs[i - 1];
        const calls = r.proveLaterBreakdown.verifierCalls;
        return [
          String(r.proofs),
          String(r.k),
          fmtInt(r.proveFirstGas),
          fmtInt(r.proveNewMinerGas),
          fmtInt(r.proveLaterGas),
          prev ? fmtInt((r.proveLaterGas - prev.proveLaterGas) / (r.proofs - prev.proofs)) : "—",
          [...new Set(calls)].map(fmtInt).join(" / "),
          fmtS(r.provingWallMs),
        ];
      }),
      [0, 1, 2, 3, 4, 5, 7],
    ),
    "",
    `Linear fit over P = ${runs.map((r) => r.proofs).join(", ")}: prove ≈ ${fmtInt(gas.fitLater.intercept)} + ` +
      `${fmtInt(gas.fitLater.slope)}·P (later; R² = ${gas.fitLater.r2}, max residual ${fmtInt(gas.fitLater.maxAbsResidual)}); ` +
      `≈ ${fmtInt(gas.fitNewMiner.intercept)} + ${fmtInt(gas.fitNewMiner.slope)}·P for a miner's first reward, ` +
      `≈ ${fmtInt(gas.fitFirst.intercept)} + ${fmtInt(gas.fitFirst.slope)}·P for the token's first mint. ` +
      `Marginal gas per proof: ${fmtInt(gas.fitLater.slope)}.`,
    "",
    "### verifyProof alone (one demo-circuit proof)",
    "",
    table(
      ["measurement", "gas", "what is measured"],
      [
        [
          "eth_estimateGas of verifyProof(...)",
          fmtInt(v.estimateGas),
          "the whole transaction as estimated: 21,000 + calldata + execution, + the estimator's 63/64 margin",
        ],
        ["transaction sent to verifyProof: gasUsed", fmtInt(v.txGasUsed), "21,000 + calldata + execution"],
        ["  21,000 base", fmtInt(vb.intrinsic.base), ""],
        ["  calldata", fmtInt(vb.intrinsic.calldata), `${vb.intrinsic.calldataBytes} bytes at 4 / 16 gas`],
        ["  execution", fmtInt(vb.execution), "gasUsed − 21,000 − calldata"],
        [
          "    pairing (0x08, 4 pairs)",
          fmtInt(vb.precompiles.pairing.gas),
          `${vb.precompiles.pairing.calls} call; EIP-1108 price ${fmtInt(pairing)} + 100 (warm CALL)`,
        ],
        [
          "    ecMul (0x07)",
          fmtInt(vb.precompiles.ecMul.gas),
          `${vb.precompiles.ecMul.calls} calls × (${fmtInt(EC_MUL_GAS)} + 100), one per public input`,
        ],
        [
          "    ecAdd (0x06)",
          fmtInt(vb.precompiles.ecAdd.gas),
          `${vb.precompiles.ecAdd.calls} calls × (${EC_ADD_GAS} + 100)`,
        ],
        [
          "    the verifier's own code",
          fmtInt(vb.execution - vb.precompiles.pairing.gas - vb.precompiles.ecMul.gas - vb.precompiles.ecAdd.gas),
          "field checks, memory, ABI",
        ],
        [
          "verifyProof call inside prove (call only)",
          [...new Set(p8.proveLaterBreakdown.verifierCalls)].map(fmtInt).join(" / "),
          "first call (cold verifier account, +2,500) / later calls, from debug_traceTransaction",
        ],
        ["marginal gas per proof in prove (fit slope)", fmtInt(gas.fitLater.slope), "call + its calldata + challenge"],
      ],
      [1],
    ),
    "",
  );

  // Where prove's gas goes.
  const columns = [
    { label: "P = 1 token's 1st", b: p1.proveFirstBreakdown },
    { label: "P = 1 miner's 1st", b: p1.proveNewMinerBreakdown },
    ...runs.map((r) => ({ label: `P = ${r.proofs} later`, b: r.proveLaterBreakdown })),
  ];
  const pick = (f: (b: GasBreakdown) => number) => columns.map((c) => fmtInt(f(c.b)));
  const verifierTotal = (b: GasBreakdown) => b.verifierCalls.reduce((a, x) => a + x, 0);
  const callLabels = [...new Set(columns.flatMap((c) => Object.keys(c.b.otherCalls)))];
  const opLabels = [...new Set(columns.flatMap((c) => Object.keys(c.b.topOps)))].sort();
  out.push(
    "### Where prove()'s gas goes (debug_traceTransaction; gas of each CALL includes the callee's execution)",
    "",
    table(
      ["part", ...columns.map((c) => c.label)],
      [
        ["21,000 base", ...pick((b) => b.intrinsic.base)],
        ["calldata", ...pick((b) => b.intrinsic.calldata)],
        ["verifyProof calls (all)", ...pick(verifierTotal)],
        ["  pairing precompile", ...pick((b) => b.precompiles.pairing.gas)],
        ["  ecMul precompile", ...pick((b) => b.precompiles.ecMul.gas)],
        ["  ecAdd precompile", ...pick((b) => b.precompiles.ecAdd.gas)],
        ["  verifier code + call overhead", ...pick((b) => b.verifierOther)],
        ...callLabels.map((l) => [l, ...pick((b) => b.otherCalls[l] ?? 0)]),
        ...opLabels.map((l) => [`${l} (DemleMining)`, ...pick((b) => b.topOps[l] ?? 0)]),
        ["rest of DemleMining (decoding, checks, challenges, memory)", ...pick((b) => b.topOther)],
        ["refund (subtracted)", ...pick((b) => -b.refund)],
        ["gasUsed", ...pick((b) => b.gasUsed)],
      ],
      columns.map((_, i) => i + 1),
    ),
    "",
    beyondPairings(p1, p8),
    "",
  );

  // Production comparison.
  const pairingShare = (b: GasBreakdown) => b.precompiles.pairing.gas / b.gasUsed;
  const nonVerifier = (b: GasBreakdown) => b.gasUsed - verifierTotal(b);
  out.push(
    "### Production circuit (gemm_seed_8x8x64, NT = 1) and the ≤ 300k target for k = 8",
    "",
    "Verification gas does not depend on the circuit's size, only on the number of public inputs (5 here and in " +
      "production), so every figure above holds per proof for the production circuit.",
    "",
    table(
      ["option for k = 8 tiles", "prove gas", "vs 300k"],
      [
        [
          "P = 8 proofs of NT = 1 (today's production setting), later",
          fmtInt(p8.proveLaterGas),
          `${(p8.proveLaterGas / TARGET_GAS_K8).toFixed(2)}×`,
        ],
        [
          "P = 8 proofs of NT = 1, token's first mint",
          fmtInt(p8.proveFirstGas),
          `${(p8.proveFirstGas / TARGET_GAS_K8).toFixed(2)}×`,
        ],
        [
          "P = 1 proof of NT = 8 (same verifier cost as P = 1 here), later",
          fmtInt(p1.proveLaterGas),
          `${(p1.proveLaterGas / TARGET_GAS_K8).toFixed(2)}×`,
        ],
        [
          "P = 1 proof of NT = 8, a miner's first reward",
          fmtInt(p1.proveNewMinerGas),
          `${(p1.proveNewMinerGas / TARGET_GAS_K8).toFixed(2)}×`,
        ],
        [
          "P = 1 proof of NT = 8, token's first mint",
          fmtInt(p1.proveFirstGas),
          `${(p1.proveFirstGas / TARGET_GAS_K8).toFixed(2)}×`,
        ],
      ],
      [1, 2],
    ),
    "",
    `One proof covering 8 tiles needs NT = 8 (k = NT·P). At P = 1 the pairing is ` +
      `${(100 * pairingShare(p1.proveLaterBreakdown)).toFixed(0)} % of prove's gas; the ` +
      `${fmtInt(nonVerifier(p1.proveLaterBreakdown))} gas outside the verifier call (later prove; ` +
      `${fmtInt(nonVerifier(p1.proveNewMinerBreakdown))} for a miner's first reward, ` +
      `${fmtInt(nonVerifier(p1.proveFirstBreakdown))} for the token's first mint) is what stands between one ` +
      `proof's verifier call (${fmtInt(p1.proveLaterBreakdown.verifierCalls[0] ?? NaN)}) and the target.`,
  );
  if (prover) {
    const est = prover.productionNt8Estimate;
    const lines = [
      `From ${prover.file} (${prover.mode ?? "?"} run, ${prover.createdAt ?? "?"}):`,
      prover.perTile
        ? `- per-tile circuit ${prover.perTile.circuit}: ${fmtInt(prover.perTile.constraints)} constraints, ` +
          `witness + prove ≈ ${prover.perTile.proveMedianMs === null ? "?" : fmtS(prover.perTile.proveMedianMs)} per proof (pool median)`
        : "- per-tile circuit: not in the file",
      prover.multiTile
        ? `- its one-proof-for-8-tiles circuit is ${prover.multiTile.template} (small 2×2×16 tiles, not production ` +
          `tiles): ${fmtInt(prover.multiTile.constraints)} constraints, witness + prove ≈ ` +
          `${prover.multiTile.proveMedianMs === null ? "?" : fmtS(prover.multiTile.proveMedianMs)}`
        : "- no multi-tile circuit in the file",
      Object.keys(prover.verifierCallGas).length > 0
        ? `- verifyProof call gas measured there: ${Object.entries(prover.verifierCallGas)
            .map(([c, g]) => `${c} ${fmtInt(g)}`)
            .join(", ")} (the same for both: size-independent)`
        : "- no verifier gas in the file",
      est
        ? `- NT = 8 with production tiles, Fp8GemmSeedProof(8, 8, 8, 64, 10, 10), estimated from its per-part ` +
          `breakdown (tile parts × 8, challenge/shape/miner once): ≈ ${fmtInt(est.constraints)} constraints, a ` +
          `2^${est.ptauPower} ptau (the largest development ptau is 2^16)`
        : "- no per-part breakdown to estimate an NT = 8 production circuit",
    ];
    out.push("", ...lines);
  } else {
    out.push(
      "",
      `${PROVER_RESULTS} not found (run \`npm run bench:prover\`): no measured 8-tile circuit to compare with; by ` +
        "construction an NT = 8 production circuit has about 8× the per-tile constraints (≈ 8 × 51k).",
    );
  }
  out.push("");
  return out;
}

/** One sentence: what prove() pays besides the pairing checks, per proof (P = 8 vs P = 1) and per transaction. */
function beyondPairings(p1: ProveRun, p8: ProveRun): string {
  const a = p1.proveLaterBreakdown;
  const b = p8.proveLaterBreakdown;
  const n = p8.proofs - p1.proofs;
  const per = (f: (x: GasBreakdown) => number) => fmtInt((f(b) - f(a)) / n);
  const sum = (xs: readonly number[]) => xs.reduce((x, y) => x + y, 0);
  const mint = (x: GasBreakdown) => x.otherCalls["token.mint"] ?? 0;
  const own = (x: GasBreakdown) => x.topOther + (x.topOps.KECCAK256 ?? 0);
  return (
    `Beyond the pairing (${per((x) => x.precompiles.pairing.gas)} per proof): per proof, ecMul ` +
    `${per((x) => x.precompiles.ecMul.gas)} (${b.precompiles.ecMul.calls / p8.proofs} calls, one per public input: ` +
    `the largest item after the pairing), ecAdd ${per((x) => x.precompiles.ecAdd.gas)}, calldata ` +
    `${per((x) => x.intrinsic.calldata)}, the verifier's code ${per((x) => x.verifierOther)}, DemleMining's loop ` +
    `(challenge hash, argument copies) ${per(own)}, together ${per((x) => x.gasUsed)}; per transaction (P = 1, ` +
    `later): 21,000 base, token.mint ${fmtInt(mint(a))} (${fmtInt(mint(p1.proveNewMinerBreakdown))} for a miner's ` +
    `first reward, ${fmtInt(mint(p1.proveFirstBreakdown))} for the token's first mint: fresh balance / supply ` +
    `slots), SLOAD ${fmtInt(a.topOps.SLOAD ?? 0)} (cold slots: the commitment, the epoch seed, the guard), bond ` +
    `transfer ${fmtInt(a.otherCalls["bond back to the miner"] ?? 0)}, SSTORE ${fmtInt(a.topOps.SSTORE ?? 0)}, events ` +
    `${fmtInt(a.topOps.LOG ?? 0)}, refund −${fmtInt(a.refund)}; everything outside the verifier call at P = 1: ` +
    `${fmtInt(a.gasUsed - sum(a.verifierCalls))}.`
  );
}

function epochSection(e: EpochResults): string[] {
  const p = e.phases;
  return [
    `## 2. Demo mining loop: 2 miners, workload ${e.workload}, P = ${e.params.proofsPerCommitment}, ` +
      `${e.params.epochLength}-block epochs, ${e.blockTimeMs} ms blocks, D = ${e.params.challengeDelay}, ` +
      `${e.commitmentsPerMiner} commitments per miner, ${POOL_WORKERS} prover workers shared`,
    "",
    table(
      ["phase (Miner job timings)", "median ms (min–max)", "n"],
      [
        ["compute (seed → inputs, ORT GEMM, Poseidon tree)", fmtStats(p.computeMs), String(p.computeMs.n)],
        ["commit (tx sent → receipt)", fmtStats(p.commitMs), String(p.commitMs.n)],
        ["wait for the challenge block", fmtStats(p.waitMs), String(p.waitMs.n)],
        ["prove (challenges, inputs, pool proofs)", fmtStats(p.proveMs), String(p.proveMs.n)],
        ["submit (prove tx → receipt)", fmtStats(p.submitMs), String(p.submitMs.n)],
        ["sum of the phases", fmtStats(e.activeMs), String(e.activeMs.n)],
        ["compute start → settled (wall)", fmtStats(e.latencyMs), String(e.latencyMs.n)],
      ],
      [1, 2],
    ),
    "",
    `Start to first reward: ${e.firstRewardMs === null ? "no reward" : fmtS(e.firstRewardMs)} from the miners' ` +
      `start, ${e.firstRewardSinceSectionStartMs === null ? "?" : fmtS(e.firstRewardSinceSectionStartMs)} including ` +
      `the chain's creation and the deployment (the circuit was prepared before: compiled and set up, cached). ` +
      `All ${e.jobs.length} commitments: ${fmtS(e.runMs)}${e.lost > 0 ? `; ${e.lost} lost` : ", none lost"}.`,
    "",
    `A miner commits once per epoch, then idles until the next: a miner's consecutive commitments were ` +
      `${fmtStats(e.intervalMs)} ms and ${fmtStats(e.intervalBlocks)} blocks apart (median, min–max). The chain mines ` +
      `a block every ${e.blockTimeMs} ms and one per transaction (automine stays on), so a ` +
      `${e.params.epochLength}-block epoch lasts less than ${fmtS(Number(e.params.epochLength) * e.blockTimeMs)}. ` +
      `Both miners prove at the same time on the shared pool, so "prove" is ${2 * Number(e.params.proofsPerCommitment)} ` +
      `proofs on ${POOL_WORKERS} workers. Epochs committed in: ` +
      `${Object.entries(e.epochsByMiner)
        .map(([m, epochs]) => `${m} ${epochs.join(", ")}`)
        .join("; ")}` +
      (e.skippedEpochs > 0
        ? ` — ${e.skippedEpochs} epoch(s) skipped: a commitment's cycle (compute → settled) outlasted the epoch, and ` +
          "the Miner starts the next work only after settling the previous one, in the epoch current by then, or " +
          "its admission control skipped the epoch."
        : " (no epoch skipped).") +
      ` Epochs skipped by admission control (the shared pool's backlog would not fit half the proof window): ` +
      `${Object.entries(e.deferredEpochs)
        .map(([m, n]) => `${m} ${n}`)
        .join("; ")}.`,
    "",
  ];
}

function ortSection(results: readonly OrtShapeResult[], rounds: number): string[] {
  return [
    `## 3. ONNX Runtime ${ort.env.versions.common} CPU: FP8-QDQ GEMM vs float32 MatMul (${rounds} interleaved rounds ` +
      `of ${ORT_BLOCK - 1} recorded runs, ${ORT_GAP_MS} ms idle gaps; medians)`,
    "",
    table(
      ["shape", "variant", "median ms", "min–max ms", "GMAC/s", "vs f32 (same settings)"],
      results.flatMap((r) =>
        r.rows.map((row) => [
          r.shape,
          row.variant,
          row.medianMs.toFixed(4),
          `${row.minMs.toFixed(3)}–${row.maxMs.toFixed(3)}`,
          row.gmacPerSecond.toFixed(3),
          `${row.vsF32.toFixed(2)}×`,
        ]),
      ),
      [2, 4, 5],
    ),
    "",
    "Miner settings = graphOptimizationLevel basic, intra-op spinning off (Fp8GemmRunner with allowSpinning: false, " +
      "as the Miner creates it). The runner row adds the JS decode of E4M3FN codes to float32 " +
      results
        .map(
          (r) =>
            `(${r.shape}: decode ${r.runnerDecodeMedianMs.toFixed(4)} ms + session.run ${r.runnerRunMedianMs.toFixed(4)} ms)`,
        )
        .join(", ") +
      "; its ratio is against the f32 MatMul with miner settings. Outputs of every variant are bit-identical.",
    "",
  ];
}

// ---------------------------------------------------------------------------------------------------------------
// Main

async function run(options: Options): Promise<void> {
  const cpus = os.cpus();
  const machine = {
    cpus: cpus.length,
    availableParallelism: os.availableParallelism(),
    cpuModel: cpus[0]?.model ?? "unknown",
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    ort: ort.env.versions.common,
    loadavgStart: os.loadavg().map((x) => round(x, 2)),
  };
  progress(
    `sections: ${options.only.join(", ")}; ${machine.cpus} CPUs, load average ${machine.loadavgStart.join(" ")}`,
  );
  const phasesMs: Record<string, number> = {};
  let gas: GasResults | undefined;
  let epochs: EpochResults | undefined;
  const ortResults: OrtShapeResult[] = [];

  if (options.only.includes("gas") || options.only.includes("epochs")) {
    progress(
      `preparing workload ${WORKLOAD_NAME}: ${WORKLOAD.map((l) => l.circuit.name).join(", ")} (compile + setup, ` +
        "cached after the first run)",
    );
    let t = performance.now();
    const prepared = await prepareWorkload(WORKLOAD, (line) => progress(`  ${line}`));
    const abi = (await loadArtifact("DemleMining.sol", "DemleMining")).abi as Contract["interface"]["fragments"];
    phasesMs.prepare = round(performance.now() - t);
    const pool = new ProverPool({ workers: POOL_WORKERS, taskTimeoutMs: 300_000 });
    try {
      await withHardhat(async (hre) => {
        if (options.only.includes("gas")) {
          t = performance.now();
          gas = await measureGas(hre, prepared, pool, abi);
          phasesMs.gas = round(performance.now() - t);
        }
        if (options.only.includes("epochs")) {
          t = performance.now();
          progress(`epochs: the demo setup, ${options.commitments} commitments per miner`);
          epochs = await measureEpochs(hre, prepared, pool, abi, options);
          phasesMs.epochs = round(performance.now() - t);
        }
      });
    } finally {
      await pool.close();
    }
  }
  if (options.only.includes("ort")) {
    const t = performance.now();
    for (const [i, shape] of options.shapes.entries()) {
      progress(`ort: ${shape.m}×${shape.n}×${shape.k}, ${options.ortRounds} rounds`);
      ortResults.push(await measureOrtShape(shape, options.ortRounds, 4200 + i));
    }
    phasesMs.ort = round(performance.now() - t);
  }

  const prover = readProverFacts();
  const out: string[] = [
    `# bench:chain (${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}; load average at start ` +
      `${machine.loadavgStart.join(" ")}, at end ${os
        .loadavg()
        .map((x) => x.toFixed(2))
        .join(" ")}; the machine may be shared)`,
    "",
  ];
  if (gas) out.push(...gasSection(gas, prover));
  if (epochs) out.push(...epochSection(epochs));
  if (ortResults.length > 0) out.push(...ortSection(ortResults, options.ortRounds));
  const text = out.join("\n");

  const durationMs = round(performance.now() - startedAt);
  const report = {
    benchmark: "chain",
    createdAt: new Date().toISOString(),
    gitCommit: gitCommit(),
    options: { ...options, out: displayPath(options.out) },
    machine: { ...machine, loadavgEnd: os.loadavg().map((x) => round(x, 2)) },
    durationMs,
    phasesMs,
    gas: gas ?? null,
    epochs: epochs ?? null,
    ort:
      ortResults.length > 0 ? { block: ORT_BLOCK, gapMs: ORT_GAP_MS, warmup: ORT_WARMUP, results: ortResults } : null,
    prover,
    constants: {
      txBaseGas: TX_BASE_GAS,
      ecAddGas: EC_ADD_GAS,
      ecMulGas: EC_MUL_GAS,
      pairingGas4: PAIRING_BASE_GAS + 4 * PAIRING_PER_PAIR_GAS,
      targetGasK8: TARGET_GAS_K8,
      defaultProtocol: DEFAULT_PROTOCOL,
    },
    table: text,
  };
  mkdirSync(path.dirname(options.out), { recursive: true });
  writeFileSync(
    options.out,
    `${JSON.stringify(report, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v), 2)}\n`,
  );
  progress(`done in ${fmtS(durationMs)}; raw numbers in ${displayPath(options.out)}`);
  process.stdout.write(`${text}\n`);
}

function positiveInt(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`must be an integer >= ${min}`);
    return n;
  };
}

function parseShapes(value: string): GemmShape[] {
  return value.split(",").map((s) => {
    const parts = s.trim().split("x").map(Number);
    if (parts.length !== 3 || parts.some((x) => !Number.isInteger(x) || x < 1)) {
      throw new InvalidArgumentError(`bad shape "${s}"; use MxNxK`);
    }
    const [m, n, k] = parts as [number, number, number];
    return { m, n, k };
  });
}

function parseSections(value: string): Section[] {
  const list = value.split(",").map((s) => s.trim());
  for (const s of list) {
    if (!(SECTIONS as readonly string[]).includes(s)) {
      throw new InvalidArgumentError(`unknown section "${s}"; expected ${SECTIONS.join(", ")}`);
    }
  }
  return list as Section[];
}

async function main(): Promise<void> {
  const demo = shapeOfDemo();
  const program = new Command()
    .name("bench:chain")
    .description("Gas, epoch wall time and ORT GEMM throughput of DEMLE mining (see the header of bench/chain.ts)")
    .option("--commitments <n>", "commitments per miner in the epoch section (>= 1)", positiveInt(1), 3)
    .option(
      "--block-time <ms>",
      "block interval of the epoch section's chain (the demo's default)",
      positiveInt(50),
      500,
    )
    .option("--ort-rounds <n>", "interleaved rounds per GEMM shape (>= 3)", positiveInt(3), 30)
    .option("--shapes <list>", "GEMM shapes MxNxK", parseShapes, [demo, { m: 512, n: 512, k: 64 }])
    .option("--only <sections>", `sections to run, of ${SECTIONS.join(",")}`, parseSections, [...SECTIONS])
    .option("--out <file>", "JSON output", "bench/results/chain.json")
    .parse();
  const opts = program.opts<{
    commitments: number;
    blockTime: number;
    ortRounds: number;
    shapes: GemmShape[];
    only: Section[];
    out: string;
  }>();
  // The default lives in the repo; an explicit --out is relative to the caller's directory (npm run starts in the
  // package root and passes the caller's directory as INIT_CWD).
  const out =
    program.getOptionValueSource("out") === "default"
      ? path.join(REPO_ROOT, opts.out)
      : path.resolve(process.env.INIT_CWD ?? process.cwd(), opts.out);
  if (opts.commitments < 3) progress(`note: --commitments ${opts.commitments} < 3; medians over few commitments`);
  try {
    await run({
      commitments: opts.commitments,
      blockTimeMs: opts.blockTime,
      ortRounds: opts.ortRounds,
      shapes: opts.shapes,
      only: opts.only,
      out,
    });
  } finally {
    await terminateBn128Curve();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`\nbench:chain failed: ${errorMessage(error)}\n`);
  if (error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  process.exitCode = 1;
});
