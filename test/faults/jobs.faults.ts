// Fault and attack tests of useful-work jobs (docs/jobs.md, docs/reliability.md "Jobs"), in three parts:
//
// 1. Contract property model of the job market. fast-check draws protocol parameters and 1–2 job kinds, and random
//    sequences of postJob / commitJob / proveJob / slashJob / refundJob (valid and invalid: unknown kinds and ids,
//    shapes off the grid, redundancy 0 or 9, fees 0 or not a multiple of r, roots ≥ p, empty or 513-byte URIs,
//    deadlines one block too soon, closed or full jobs, a second slot, wrong bonds, early, late, foreign, miscounted and
//    invalid proofs, double slashes and refunds), seed-work commit / prove / slash (their bonds share the contract's
//    balance) and block advances, by 5 actors that are requesters and miners at once. A TypeScript model of every job,
//    slot, seed commitment, balance and event predicts every call's success or exact custom error with its arguments,
//    and after EVERY step the chain is compared with it: the contract's native coin = bonds of committed assignments +
//    Σ over jobs not refunded of (fee − provenSlots · fee / r) + burned bonds + bonds of committed seed commitments;
//    each slot's fee share is paid at most once (JobFeePaid logs, per assignment), a job is refunded at most once and
//    only for its unproven slots (paid shares + refund ≤ fee), no job has more slots than its redundancy, no miner two
//    slots of one job, token supply = Σ minted (every actor's token and ETH balance is the model's), and every job and
//    assignment view is the model's. Verifiers are the marked-proof mocks (contracts/test/TestVerifier6AcceptsMarked-
//    Proofs for job kinds, TestVerifierAcceptsMarkedProofs for the seed layer): a proof is "valid" iff its a0 is 1.
//    FAULTS_RUNS sequences (default 50) of FAULTS_STEPS steps (default 30); FAULTS_SEED replays one.
//
// 2. Hostile data servers against the real JobWorker (real gemm-job-demo circuit; each case on its own DemleMining
//    sharing the deployed verifiers). A node:http server in the test serves the job's model and input, and misbehaves
//    on one of them: endless bodies, a Content-Length above the limit, a Content-Length lie followed by more bytes, a
//    wrong body, a model whose sha256 is the posted modelHash but whose weights are not the on-chain weightRoot, a
//    body that is not the modelHash, 404, a stall mid-body, a trickle, a server that is down, 500. For each case:
//    what the worker did (skipped with its reason, or "will try again later"), that it sent no transaction at all
//    when it refused (no bond paid: its account nonce did not move, the job has no assignment), how many bytes the
//    server managed to send (bounded: the miner hangs up at its limit rather than buffering), and for server errors
//    that the job is taken and PROVEN once the server is healthy again (a real Groth16 proof against the on-chain
//    roots: no commitment to data that does not match them).
//
// 3. Kills during a job. An in-process JobWorker on a linear demo job is "killed" at a stage (computed, commit-sent,
//    committed, proofs-ready, prove-sent, a transaction in flight before the worker saw its hash, or a random moment):
//    at that instant its state directory is copied (what a kill -9 leaves on disk), its RPC transport stops answering
//    for good and its signal is aborted; a new worker restarts on the copy. Then on chain: the job has exactly one
//    commitment (one JobCommitted), it is proven once (one JobProofAccepted), the fee paid once (one JobFeePaid of
//    fee / r), and the miner's mined transactions are counted (commitJob, proveJob, reverted). FAULTS_KILLS runs
//    (default 20; triggers in KILL_TRIGGERS order so a short run has the send/receipt kills).
//
// Figures go to build/faults/jobs.json (test/faults/report.ts turns them into rows).
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import hre from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import {
  BrowserProvider,
  Contract,
  ContractFactory,
  HDNodeWallet,
  Transaction,
  Interface,
  Mnemonic,
  NonceManager,
  toQuantity,
  type ContractTransactionReceipt,
  type Eip1193Provider,
  type JsonRpcProvider,
} from "ethers";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exampleJob, MAX_MODEL_BYTES, serializeJobModel, sha256Hex } from "../../common/job-files.js";
import { encodeShape } from "../../common/work.js";
import { loadArtifact } from "../../miner/artifacts.js";
import { MINING_WORKLOADS, prepareWorkload, type PreparedCircuit } from "../../miner/circuits.js";
import { deployDemle, miningLayer, miningParams, type Deployment } from "../../miner/deploy.js";
import { setIntervalMining } from "../../miner/hardhat.js";
import { JOB_CIRCUITS, prepareJobCircuit } from "../../miner/job-circuits.js";
import { JobMarket } from "../../miner/job-market.js";
import { jobOp } from "../../miner/job-ops.js";
import { JobWorker, type UsefulJobRecord } from "../../miner/job-worker.js";
import { ProverPool } from "../../prover/pool.js";
import { eventsOf } from "../helpers/chain.js";
import { minedTransactions } from "./chain-scan.js";
import { callHarness, P, Status, weighted, type Expected } from "./contract-harness.js";

type Connection = Awaited<ReturnType<typeof hre.network.create>>;

const RUNS = Number(process.env.FAULTS_RUNS ?? 50);
const STEPS = Number(process.env.FAULTS_STEPS ?? 30);
const SEED = Number(process.env.FAULTS_SEED ?? Math.floor(Math.random() * 2 ** 31));
const KILLS = Number(process.env.FAULTS_KILLS ?? 20);
/**
 * A killed job worker is restarted at once, while the transaction it sent just before the kill may still be pending
 * (the worker must wait for it before deciding to send again). FAULTS_KILL_RESTART_PENDING=0 restarts only once the
 * dead worker's transactions are mined.
 */
const RESTART_WITH_PENDING = process.env.FAULTS_KILL_RESTART_PENDING !== "0";

const figures: Record<string, unknown> = {};
const writeFigures = () => {
  mkdirSync("build/faults", { recursive: true });
  writeFileSync("build/faults/jobs.json", `${JSON.stringify(figures, null, 2)}\n`);
};

// ---------------------------------------------------------------------------------------------------------------------
// 1. Contract property model
// ---------------------------------------------------------------------------------------------------------------------

const ACTORS = 5;
const MAX_KINDS = 2;
const MAX_URI = 512;

interface KindSpec {
  macsPerTile: bigint;
  tilesPerProof: bigint;
  proofsPerJob: bigint;
  maxRowBlocksLog2: number;
  maxColBlocksLog2: number;
}

interface Protocol {
  kinds: KindSpec[];
  epochLength: bigint;
  challengeDelay: bigint;
  proofWindow: bigint;
  bondPerTile: bigint;
  slashBountyBps: bigint;
  initialRewardPerMac: bigint;
  halvingEpochs: bigint;
  cap: bigint;
}

/** Which job or assignment an action aims at: mostly one where it can succeed, else any, rarely an unknown id. */
type Target = "open" | "any" | "unknown";
const target = weighted<Target>([
  [8, fc.constant("open" as const)],
  [3, fc.constant("any" as const)],
  [1, fc.constant("unknown" as const)],
]);
const actor = fc.nat({ max: ACTORS - 1 });

type Action =
  | {
      kind: "post";
      actor: number;
      /** 0 … kindCount − 1 after folding; kindCount + this when `unknownKind`. */
      jobKind: number;
      unknownKind: boolean;
      dr: number;
      dc: number;
      /** 0 on the grid, 1 dr = MAX_DR + 1, 2 dc = MAX_DC + 1. */
      over: number;
      redundancy: number;
      share: bigint;
      /** 0 fee = share · r, 1 fee 0, 2 fee = share · r + 1 (not a multiple of r unless r = 1). */
      feeMode: number;
      /** 0 none, 1 inputRoot ≥ p, 2 weightRoot ≥ p. */
      rootOutOfField: number;
      inputRoot: bigint;
      weightRoot: bigint;
      /** 0 a normal URI, 1 empty, 2 MAX_URI + 1 bytes, 3 exactly MAX_URI bytes. */
      uri: number;
      /** deadline − earliest allowed (−1: one block too soon). */
      deadlineSlack: number;
    }
  | {
      kind: "commit";
      actor: number;
      target: Target;
      pick: number;
      /** Prefer a job where the actor holds no slot. */
      fresh: boolean;
      root: bigint;
      rootOutOfField: boolean;
      bondDelta: number;
    }
  | {
      kind: "prove";
      actor: number;
      target: Target;
      pick: number;
      align: boolean;
      ownMiner: boolean;
      proofs: boolean[];
      countDelta: number;
    }
  | { kind: "slash"; actor: number; target: Target; pick: number; align: boolean }
  | { kind: "refund"; actor: number; target: Target; pick: number; align: boolean }
  | { kind: "seedCommit"; actor: number; root: bigint }
  | { kind: "seedProve"; pick: number; align: boolean }
  | { kind: "seedSlash"; actor: number; pick: number; align: boolean }
  | { kind: "mine"; blocks: number };

const actionArb: fc.Arbitrary<Action> = weighted<Action>([
  [
    5,
    fc.record({
      kind: fc.constant("post" as const),
      actor,
      jobKind: fc.nat({ max: MAX_KINDS - 1 }),
      unknownKind: weighted([
        [20, fc.constant(false)],
        [1, fc.constant(true)],
      ]),
      dr: fc.nat({ max: 2 }),
      dc: fc.nat({ max: 2 }),
      over: weighted([
        [20, fc.constant(0)],
        [1, fc.constantFrom(1, 2)],
      ]),
      redundancy: weighted([
        [20, fc.integer({ min: 1, max: 3 })],
        [2, fc.integer({ min: 4, max: 8 })],
        [1, fc.constantFrom(0, 9)],
      ]),
      share: fc.bigInt({ min: 1n, max: 10n ** 17n }),
      feeMode: weighted([
        [20, fc.constant(0)],
        [1, fc.constantFrom(1, 2)],
      ]),
      rootOutOfField: weighted([
        [20, fc.constant(0)],
        [1, fc.constantFrom(1, 2)],
      ]),
      inputRoot: fc.bigInt({ min: 0n, max: P - 1n }),
      weightRoot: fc.bigInt({ min: 0n, max: P - 1n }),
      uri: weighted([
        [20, fc.constant(0)],
        [1, fc.constantFrom(1, 2, 3)],
      ]),
      deadlineSlack: weighted([
        [20, fc.integer({ min: 10, max: 150 })],
        [3, fc.integer({ min: 0, max: 9 })],
        [1, fc.constant(-1)],
      ]),
    }),
  ],
  [
    7,
    fc.record({
      kind: fc.constant("commit" as const),
      actor,
      target,
      pick: fc.nat(),
      fresh: weighted([
        [6, fc.constant(true)],
        [1, fc.constant(false)],
      ]),
      root: fc.bigInt({ min: 0n, max: P - 1n }),
      rootOutOfField: weighted([
        [20, fc.constant(false)],
        [1, fc.constant(true)],
      ]),
      bondDelta: weighted([
        [12, fc.constant(0)],
        [1, fc.constantFrom(-1, 1)],
      ]),
    }),
  ],
  [
    7,
    fc.record({
      kind: fc.constant("prove" as const),
      actor,
      target,
      pick: fc.nat(),
      align: fc.nat({ max: 3 }).map((n) => n > 0),
      ownMiner: weighted([
        [6, fc.constant(true)],
        [1, fc.constant(false)],
      ]),
      proofs: fc.array(
        weighted([
          [20, fc.constant(true)],
          [1, fc.constant(false)],
        ]),
        { minLength: 5, maxLength: 5 },
      ),
      countDelta: weighted([
        [12, fc.constant(0)],
        [1, fc.constantFrom(-1, 1)],
      ]),
    }),
  ],
  [
    2,
    fc.record({
      kind: fc.constant("slash" as const),
      actor,
      target,
      pick: fc.nat(),
      align: fc.nat({ max: 2 }).map((n) => n > 0),
    }),
  ],
  [
    2,
    fc.record({
      kind: fc.constant("refund" as const),
      actor,
      target,
      pick: fc.nat(),
      align: fc.nat({ max: 2 }).map((n) => n > 0),
    }),
  ],
  [1, fc.record({ kind: fc.constant("seedCommit" as const), actor, root: fc.bigInt({ min: 0n, max: P - 1n }) })],
  [1, fc.record({ kind: fc.constant("seedProve" as const), pick: fc.nat(), align: fc.boolean() })],
  [
    1,
    fc.record({
      kind: fc.constant("seedSlash" as const),
      actor,
      pick: fc.nat(),
      align: fc.nat({ max: 2 }).map((n) => n > 0),
    }),
  ],
  [
    3,
    fc.record({
      kind: fc.constant("mine" as const),
      blocks: weighted([
        [6, fc.integer({ min: 1, max: 6 })],
        [1, fc.integer({ min: 7, max: 50 })],
      ]),
    }),
  ],
]);

const kindArb: fc.Arbitrary<KindSpec> = fc.record({
  macsPerTile: fc.bigInt({ min: 1n, max: 512n }),
  tilesPerProof: fc.bigInt({ min: 1n, max: 2n }),
  proofsPerJob: fc.bigInt({ min: 1n, max: 4n }),
  maxRowBlocksLog2: fc.integer({ min: 1, max: 2 }),
  maxColBlocksLog2: fc.integer({ min: 1, max: 2 }),
});

const protocolArb: fc.Arbitrary<Protocol> = fc.record({
  kinds: fc.array(kindArb, { minLength: 1, maxLength: MAX_KINDS }),
  epochLength: fc.bigInt({ min: 3n, max: 12n }),
  challengeDelay: fc.bigInt({ min: 1n, max: 3n }),
  proofWindow: fc.bigInt({ min: 1n, max: 8n }),
  bondPerTile: fc.bigInt({ min: 1n, max: 10n ** 16n }),
  slashBountyBps: weighted([
    [1, fc.constantFrom(0n, 10_000n)],
    [4, fc.bigInt({ min: 0n, max: 10_000n })],
  ]),
  initialRewardPerMac: fc.bigInt({ min: 1n, max: 10n ** 15n }),
  halvingEpochs: fc.bigInt({ min: 1n, max: 4n }),
  // Small caps are reached within a sequence: capped and zero job rewards, and seed commits refused (CapReached).
  cap: weighted([
    [1, fc.bigInt({ min: 10n ** 15n, max: 2n * 10n ** 17n })],
    [2, fc.bigInt({ min: 10n ** 18n, max: 10n ** 21n })],
  ]),
});

/** The seed-work layer of every deployment: one tile (shape 0), one proof. */
const SEED_MACS = 32n;

interface ModelJob {
  requester: number;
  kind: number;
  shape: bigint;
  tiles: bigint;
  redundancy: bigint;
  fee: bigint;
  deadline: bigint;
  postBlock: bigint;
  modelHash: string;
  weightRoot: bigint;
  inputRoot: bigint;
  uri: string;
  assignments: number[];
  provenSlots: bigint;
  refunded: boolean;
  refundedAmount: bigint;
  feePaid: bigint;
}

interface ModelAssignment {
  jobId: number;
  miner: number;
  outputRoot: bigint;
  commitBlock: bigint;
  status: Status;
  feePayments: number;
}

interface ModelSeed {
  miner: number;
  epoch: bigint;
  commitBlock: bigint;
  bond: bigint;
  status: Status;
}

class JobModel {
  readonly jobs: ModelJob[] = [];
  readonly assignments: ModelAssignment[] = [];
  readonly seeds: ModelSeed[] = [];
  readonly seedNonces = new Map<string, bigint>();
  readonly tokens: bigint[] = Array.from({ length: ACTORS }, () => 0n);
  supply = 0n;
  /** Σ of every mint the model predicted (jobs and seed work). */
  minted = 0n;
  burned = 0n;
  constructor(
    readonly protocol: Protocol,
    readonly eth: bigint[],
  ) {}

  bond(job: ModelJob): bigint {
    return this.protocol.bondPerTile * job.tiles;
  }
  macs(job: ModelJob): bigint {
    return this.protocol.kinds[job.kind]!.macsPerTile * job.tiles;
  }
  rewardPerMac(epoch: bigint): bigint {
    return this.protocol.initialRewardPerMac >> (epoch / this.protocol.halvingEpochs);
  }
  /** Mints `reward` capped by the cap; returns the amount minted. */
  mint(to: number, reward: bigint): bigint {
    const room = this.protocol.cap - this.supply;
    const minted = reward < room ? reward : room;
    this.supply += minted;
    this.minted += minted;
    this.tokens[to]! += minted;
    return minted;
  }
  /** The contract's native coin as the model accounts it. */
  expectedBalance(): bigint {
    const jobBonds = this.assignments
      .filter((a) => a.status === Status.Committed)
      .reduce((sum, a) => sum + this.bond(this.jobs[a.jobId]!), 0n);
    const escrow = this.jobs
      .filter((j) => !j.refunded)
      .reduce((sum, j) => sum + j.fee - j.provenSlots * (j.fee / j.redundancy), 0n);
    const seedBonds = this.seeds.filter((s) => s.status === Status.Committed).reduce((sum, s) => sum + s.bond, 0n);
    return jobBonds + escrow + this.burned + seedBonds;
  }
  pickJob(targetKind: Target, pick: number, filter: (job: ModelJob, id: number) => boolean): bigint {
    const all = [...this.jobs.keys()];
    const open = all.filter((id) => filter(this.jobs[id]!, id));
    const pool = targetKind === "open" && open.length > 0 ? open : all;
    if (targetKind === "unknown" || pool.length === 0) return BigInt(this.jobs.length);
    return BigInt(pool[pick % pool.length]!);
  }
  pickAssignment(targetKind: Target, pick: number, filter: (a: ModelAssignment) => boolean): bigint {
    const all = [...this.assignments.keys()];
    const open = all.filter((id) => filter(this.assignments[id]!));
    const pool = targetKind === "open" && open.length > 0 ? open : all;
    if (targetKind === "unknown" || pool.length === 0) return BigInt(this.assignments.length);
    return BigInt(pool[pick % pool.length]!);
  }
}

interface PropertyFigures {
  sequences: number;
  steps: number;
  invariantChecks: number;
  actions: Record<string, { succeeded: number; reverted: number }>;
  reverts: Record<string, number>;
  jobsPosted: number;
  slotsTaken: number;
  slotsProven: number;
  slotsSlashed: number;
  refunds: number;
  fullJobs: number;
  cappedJobRewards: number;
  seedCommitments: number;
  alignedBlocks: number;
  sequencesByKindCount: Record<string, number>;
}

const propertyFigures: PropertyFigures = {
  sequences: 0,
  steps: 0,
  invariantChecks: 0,
  actions: {},
  reverts: {},
  jobsPosted: 0,
  slotsTaken: 0,
  slotsProven: 0,
  slotsSlashed: 0,
  refunds: 0,
  fullJobs: 0,
  cappedJobRewards: 0,
  seedCommitments: 0,
  alignedBlocks: 0,
  sequencesByKindCount: {},
};

describe("job market under random action sequences (marked-proof verifiers, TS model)", () => {
  let connection: Connection;
  let ethers: Connection["ethers"];
  let deployer: HardhatEthersSigner;
  let actors: HardhatEthersSigner[];
  let verifier6: string;
  let verifier5: string;
  let snapshot: string;
  const started = performance.now();
  const request = (method: string, params: unknown[] = []) => connection.provider.request({ method, params });

  beforeAll(async () => {
    await hre.tasks.getTask("build").run({ quiet: true });
    connection = await hre.network.create();
    ethers = connection.ethers;
    const signers = await ethers.getSigners();
    deployer = signers[0]!;
    actors = signers.slice(1, 1 + ACTORS);
    verifier6 = await (await ethers.deployContract("TestVerifier6AcceptsMarkedProofs", [], deployer)).getAddress();
    verifier5 = await (await ethers.deployContract("TestVerifierAcceptsMarkedProofs", [], deployer)).getAddress();
    snapshot = (await request("evm_snapshot")) as string;
  }, 600_000);

  afterAll(async () => {
    await connection?.close();
  });

  async function runSequence(protocol: Protocol, actions: Action[]): Promise<void> {
    expect(await request("evm_revert", [snapshot])).toBe(true);
    snapshot = (await request("evm_snapshot")) as string;
    const { challengeDelay: D, proofWindow: W, epochLength } = protocol;
    const kinds = protocol.kinds.map((k) => ({
      verifier: verifier6,
      macsPerTile: k.macsPerTile,
      tilesPerProof: k.tilesPerProof,
      proofsPerJob: k.proofsPerJob,
      tileRows: 2n,
      tileCols: 2n,
      depth: 8n,
      maxRowBlocksLog2: BigInt(k.maxRowBlocksLog2),
      maxColBlocksLog2: BigInt(k.maxColBlocksLog2),
    }));
    const layers = [[verifier5, SEED_MACS, 1n, 1n, 1n]];
    const params = [
      1n,
      epochLength,
      D,
      W,
      protocol.bondPerTile,
      protocol.slashBountyBps,
      protocol.initialRewardPerMac,
      protocol.halvingEpochs,
      protocol.cap,
    ];
    const mining = (await ethers.deployContract(
      "DemleMining",
      [layers, params, kinds],
      deployer,
    )) as unknown as Contract;
    const miningAddress = await mining.getAddress();
    const token = (await ethers.getContractAt(
      "DemleToken",
      (await mining.getFunction("token")()) as string,
    )) as unknown as Contract;
    const model = new JobModel(protocol, await Promise.all(actors.map((a) => ethers.provider.getBalance(a.address))));
    const label = String(kinds.length);
    propertyFigures.sequencesByKindCount[label] = (propertyFigures.sequencesByKindCount[label] ?? 0) + 1;
    const { send } = callHarness(propertyFigures, () => model.eth);
    const iface = mining.interface;
    const events = (receipt: ContractTransactionReceipt) => eventsOf(receipt, mining, miningAddress);
    const latest = async () => BigInt(await ethers.provider.getBlockNumber());
    const deployBlock = await latest();

    // The kinds read back as drawn.
    expect(await mining.getFunction("jobKindCount")()).toBe(BigInt(kinds.length));
    for (const [i, k] of kinds.entries()) {
      const view = (await mining.getFunction("jobKind")(BigInt(i))) as { toObject(): Record<string, unknown> };
      expect(view.toObject()).toEqual(k);
    }

    async function checkInvariants(supplyBefore: bigint, mintedThisStep: bigint): Promise<void> {
      let checks = 0;
      const check = <T>(actual: T, expected: T, what: string) => {
        expect(actual, what).toEqual(expected);
        checks++;
      };
      // Native coin: bonds held + escrowed unpaid fees + burned + seed bonds, both as the model accounts it and as the
      // chain's own views add up.
      const balance = await ethers.provider.getBalance(miningAddress);
      check(balance, model.expectedBalance(), "contract balance = job bonds + escrow + burned + seed bonds");
      check((await mining.getFunction("burnedBonds")()) as bigint, model.burned, "burnedBonds");
      // Tokens: supply = Σ minted, moved only by this step's accepted proof, ≤ cap, = Σ balances.
      const supply = (await token.getFunction("totalSupply")()) as bigint;
      check(supply, model.minted, "token supply = Σ minted");
      check(supply - supplyBefore, mintedThisStep, "supply moved by this step's mint only");
      expect(supply).toBeLessThanOrEqual(protocol.cap);
      for (let i = 0; i < ACTORS; i++) {
        check(await ethers.provider.getBalance(actors[i]!.address), model.eth[i], `actor ${i} ETH`);
        check(
          (await token.getFunction("balanceOf")(actors[i]!.address)) as bigint,
          model.tokens[i],
          `actor ${i} DEMLE`,
        );
      }
      check((await mining.getFunction("jobCount")()) as bigint, BigInt(model.jobs.length), "jobCount");
      check((await mining.getFunction("assignmentCount")()) as bigint, BigInt(model.assignments.length), "assignments");
      // Fee shares and refunds from the logs: one JobFeePaid per proven assignment, one JobRefunded per refunded job.
      const feeLogs = await mining.queryFilter(mining.filters.JobFeePaid!(), deployBlock);
      const refundLogs = await mining.queryFilter(mining.filters.JobRefunded!(), deployBlock);
      const paidByJob = new Map<number, bigint>();
      for (const log of feeLogs) {
        const [jobId, , amount] = (log as unknown as { args: [bigint, string, bigint] }).args;
        paidByJob.set(Number(jobId), (paidByJob.get(Number(jobId)) ?? 0n) + amount);
      }
      const refundsByJob = new Map<number, bigint[]>();
      for (const log of refundLogs) {
        const [jobId, , amount] = (log as unknown as { args: [bigint, string, bigint] }).args;
        refundsByJob.set(Number(jobId), [...(refundsByJob.get(Number(jobId)) ?? []), amount]);
      }
      check(feeLogs.length, model.assignments.filter((a) => a.status === Status.Proven).length, "JobFeePaid count");
      for (const a of model.assignments) expect(a.feePayments).toBeLessThanOrEqual(1);
      for (const [id, job] of model.jobs.entries()) {
        const view = (await mining.getFunction("job")(BigInt(id))) as Record<string, unknown>;
        const share = job.fee / job.redundancy;
        check(
          [view.committedSlots, view.provenSlots, view.refunded, view.fee, view.deadline, view.redundancy],
          [BigInt(job.assignments.length), job.provenSlots, job.refunded, job.fee, job.deadline, job.redundancy],
          `job ${id} view`,
        );
        // No slot beyond redundancy; one slot per miner.
        const ids = [...((await mining.getFunction("jobAssignments")(BigInt(id))) as bigint[])];
        check(ids, job.assignments.map(BigInt), `job ${id} assignments`);
        expect(ids.length).toBeLessThanOrEqual(Number(job.redundancy));
        const miners = job.assignments.map((a) => model.assignments[a]!.miner);
        check(new Set(miners).size, miners.length, `job ${id}: one slot per miner`);
        // Fee paid at most once per slot (= share · proven slots), refund at most once, only for unproven slots.
        check(paidByJob.get(id) ?? 0n, share * job.provenSlots, `job ${id} fee shares paid`);
        const refunds = refundsByJob.get(id) ?? [];
        check(refunds, job.refunded ? [share * (job.redundancy - job.provenSlots)] : [], `job ${id} refunds`);
        expect((paidByJob.get(id) ?? 0n) + (refunds[0] ?? 0n)).toBeLessThanOrEqual(job.fee);
      }
      for (const [id, a] of model.assignments.entries()) {
        const view = (await mining.getFunction("assignment")(BigInt(id))) as Record<string, unknown>;
        check(
          [view.jobId, view.miner, view.outputRoot, view.commitBlock, Number(view.status)],
          [BigInt(a.jobId), actors[a.miner]!.address, a.outputRoot, a.commitBlock, a.status],
          `assignment ${id}`,
        );
      }
      for (const [id, s] of model.seeds.entries()) {
        const view = (await mining.getFunction("commitments")(BigInt(id))) as { status: bigint; bond: bigint };
        check([Number(view.status), view.bond], [s.status, s.bond], `seed commitment ${id}`);
      }
      propertyFigures.invariantChecks += checks;
    }

    for (const action of actions) {
      const supplyBefore = model.supply;
      let minted = 0n;
      let block = (await latest()) + 1n; // the block the next transaction lands in
      const alignTo = async (targetBlock: bigint) => {
        if (targetBlock <= block) return;
        await request("hardhat_mine", [toQuantity(targetBlock - block)]);
        propertyFigures.alignedBlocks += Number(targetBlock - block);
        block = targetBlock;
      };
      switch (action.kind) {
        case "post": {
          const who = action.actor;
          const kindCount = protocol.kinds.length;
          const kindIndex = action.unknownKind ? kindCount + (action.jobKind % 2) : action.jobKind % kindCount;
          const grid = protocol.kinds[kindIndex] ?? protocol.kinds[0]!;
          const dr = action.over === 1 ? grid.maxRowBlocksLog2 + 1 : action.dr % (grid.maxRowBlocksLog2 + 1);
          const dc = action.over === 2 ? grid.maxColBlocksLog2 + 1 : action.dc % (grid.maxColBlocksLog2 + 1);
          const shape = BigInt(dr + 256 * dc);
          const r = BigInt(action.redundancy);
          const fee = action.feeMode === 1 ? 0n : action.share * r + (action.feeMode === 2 ? 1n : 0n);
          const inputRoot = action.rootOutOfField === 1 ? P + (action.inputRoot % 1000n) : action.inputRoot;
          const weightRoot = action.rootOutOfField === 2 ? P + (action.weightRoot % 1000n) : action.weightRoot;
          const baseUri = `http://127.0.0.1:8080/blobs/${action.inputRoot.toString(16).padStart(64, "0").slice(0, 64)}`;
          const uri = ["", baseUri, "", "x".repeat(MAX_URI + 1), "y".repeat(MAX_URI)][action.uri + 1]!;
          const earliest = block + D + W + 1n;
          const deadline = earliest + BigInt(action.deadlineSlack);
          const modelHash = `0x${(action.weightRoot ^ action.inputRoot).toString(16).padStart(64, "0").slice(-64)}`;
          const uriBytes = BigInt(Buffer.byteLength(uri));
          let error: Expected | undefined;
          if (kindIndex >= kindCount) error = { name: "UnknownJobKind", args: [BigInt(kindIndex), BigInt(kindCount)] };
          else if (action.over !== 0) error = { name: "JobShapeTooLarge", args: [BigInt(kindIndex), shape] };
          else if (r === 0n || r > 8n) error = { name: "InvalidRedundancy", args: [r] };
          else if (fee === 0n || fee % r !== 0n) error = { name: "InvalidFee", args: [fee, r] };
          else if (inputRoot >= P) error = { name: "JobRootOutOfField", args: [1n, inputRoot] };
          else if (weightRoot >= P) error = { name: "JobRootOutOfField", args: [2n, weightRoot] };
          else if (uriBytes === 0n || uriBytes > BigInt(MAX_URI)) error = { name: "InvalidInputUri", args: [uriBytes] };
          else if (deadline < earliest) error = { name: "DeadlineTooSoon", args: [deadline, earliest] };
          const receipt = await send("postJob", who, iface, error, () =>
            mining.connect(actors[who]!).getFunction("postJob")(
              kindIndex,
              modelHash,
              weightRoot,
              inputRoot,
              uri,
              shape,
              r,
              deadline,
              {
                value: fee,
              },
            ),
          );
          if (receipt) {
            const id = BigInt(model.jobs.length);
            model.jobs.push({
              requester: who,
              kind: kindIndex,
              shape,
              tiles: 1n << BigInt(dr + dc),
              redundancy: r,
              fee,
              deadline,
              postBlock: block,
              modelHash,
              weightRoot,
              inputRoot,
              uri,
              assignments: [],
              provenSlots: 0n,
              refunded: false,
              refundedAmount: 0n,
              feePaid: 0n,
            });
            model.eth[who]! -= fee;
            expect(events(receipt)).toEqual([
              [
                "JobPosted",
                [
                  id,
                  actors[who]!.address,
                  BigInt(kindIndex),
                  modelHash,
                  weightRoot,
                  inputRoot,
                  uri,
                  shape,
                  r,
                  deadline,
                  fee,
                ],
              ],
            ]);
            propertyFigures.jobsPosted++;
          }
          break;
        }
        case "commit": {
          const who = action.actor;
          if (model.jobs.length === 0 && action.target !== "unknown") break;
          const openFor = (job: ModelJob) =>
            BigInt(job.assignments.length) < job.redundancy && block + D + W <= job.deadline;
          let id = model.pickJob(
            action.target,
            action.pick,
            (job) =>
              openFor(job) && (!action.fresh || job.assignments.every((a) => model.assignments[a]!.miner !== who)),
          );
          if (action.target === "open" && action.fresh && model.jobs[Number(id)] && !openFor(model.jobs[Number(id)]!))
            id = model.pickJob("open", action.pick, openFor);
          const job = model.jobs[Number(id)];
          const root = action.rootOutOfField ? P + (action.root % 1000n) : action.root;
          const bond = job ? model.bond(job) : 0n;
          const value = bond + BigInt(action.bondDelta);
          if (value < 0n) break;
          const held = job?.assignments.find((a) => model.assignments[a]!.miner === who);
          let error: Expected | undefined;
          if (!job) error = { name: "UnknownJob", args: [id] };
          else if (block > job.deadline - D - W) error = { name: "JobClosed", args: [id, job.deadline - D - W] };
          else if (BigInt(job.assignments.length) >= job.redundancy)
            error = { name: "JobFull", args: [id, job.redundancy] };
          else if (root >= P) error = { name: "JobRootOutOfField", args: [0n, root] };
          else if (held !== undefined)
            error = { name: "AlreadyCommittedToJob", args: [id, actors[who]!.address, BigInt(held)] };
          else if (value !== bond) error = { name: "JobBondMismatch", args: [value, bond] };
          const receipt = await send("commitJob", who, iface, error, () =>
            mining.connect(actors[who]!).getFunction("commitJob")(id, root, { value }),
          );
          if (receipt && job) {
            const assignmentId = model.assignments.length;
            model.assignments.push({
              jobId: Number(id),
              miner: who,
              outputRoot: root,
              commitBlock: block,
              status: Status.Committed,
              feePayments: 0,
            });
            job.assignments.push(assignmentId);
            model.eth[who]! -= value;
            expect(events(receipt)).toEqual([
              ["JobCommitted", [BigInt(assignmentId), id, actors[who]!.address, root, bond]],
            ]);
            propertyFigures.slotsTaken++;
            if (BigInt(job.assignments.length) === job.redundancy) propertyFigures.fullJobs++;
          }
          break;
        }
        case "prove": {
          if (model.assignments.length === 0 && action.target !== "unknown") break;
          const id = model.pickAssignment(
            action.target,
            action.pick,
            (a) => a.status === Status.Committed && block <= a.commitBlock + D + W,
          );
          const a = model.assignments[Number(id)];
          if (a && action.align) await alignTo(a.commitBlock + D + 1n + (BigInt(action.pick) % W));
          const job = a ? model.jobs[a.jobId]! : undefined;
          const who = a && action.ownMiner ? a.miner : action.actor;
          const required = job ? protocol.kinds[job.kind]!.proofsPerJob : 1n;
          const n = Math.max(0, Number(required) + action.countDelta);
          const marks = Array.from({ length: n }, (_, j) => action.proofs[j % action.proofs.length]!);
          const proofs = marks.map((valid, j) => [valid ? 1n : 2n, BigInt(j), 3n, 4n, 5n, 6n, 7n, 8n]);
          let error: Expected | undefined;
          if (!a || !job) error = { name: "UnknownAssignment", args: [id] };
          else if (who !== a.miner) error = { name: "NotAssignmentMiner", args: [id, actors[who]!.address] };
          else if (a.status !== Status.Committed) error = { name: "AssignmentSettled", args: [id, BigInt(a.status)] };
          else if (block <= a.commitBlock + D) error = { name: "JobTooEarly", args: [id, a.commitBlock + D + 1n] };
          else if (block > a.commitBlock + D + W) error = { name: "JobTooLate", args: [id, a.commitBlock + D + W] };
          else if (BigInt(n) !== required) error = { name: "WrongJobProofCount", args: [BigInt(n), required] };
          else if (marks.includes(false)) error = { name: "InvalidProof", args: [BigInt(marks.indexOf(false))] };
          const receipt = await send("proveJob", who, iface, error, () =>
            mining.connect(actors[who]!).getFunction("proveJob")(id, proofs),
          );
          if (receipt && a && job) {
            a.status = Status.Proven;
            a.feePayments++;
            job.provenSlots++;
            const share = job.fee / job.redundancy;
            job.feePaid += share;
            const bond = model.bond(job);
            const macs = model.macs(job);
            const reward = macs * model.rewardPerMac(block / epochLength);
            minted = model.mint(who, reward);
            if (minted < reward) propertyFigures.cappedJobRewards++;
            model.eth[who]! += share + bond;
            const miner = actors[who]!.address;
            const kind = protocol.kinds[job.kind]!;
            expect(events(receipt)).toEqual([
              ["JobProofAccepted", [id, BigInt(a.jobId), miner, kind.tilesPerProof * kind.proofsPerJob, macs]],
              ["JobFeePaid", [BigInt(a.jobId), miner, share]],
              ["JobRewardMinted", [id, miner, minted]],
              ["JobBondReturned", [id, miner, bond]],
            ]);
            propertyFigures.slotsProven++;
          }
          break;
        }
        case "slash": {
          if (model.assignments.length === 0 && action.target !== "unknown") break;
          const id = model.pickAssignment(action.target, action.pick, (a) => a.status === Status.Committed);
          const a = model.assignments[Number(id)];
          if (a && action.align) await alignTo(a.commitBlock + D + W + 1n + BigInt(action.pick % 3));
          let error: Expected | undefined;
          if (!a) error = { name: "UnknownAssignment", args: [id] };
          else if (a.status !== Status.Committed) error = { name: "AssignmentSettled", args: [id, BigInt(a.status)] };
          else if (block <= a.commitBlock + D + W)
            error = { name: "JobWindowOpen", args: [id, a.commitBlock + D + W + 1n] };
          const receipt = await send("slashJob", action.actor, iface, error, () =>
            mining.connect(actors[action.actor]!).getFunction("slashJob")(id),
          );
          if (receipt && a) {
            a.status = Status.Slashed;
            const bond = model.bond(model.jobs[a.jobId]!);
            const bounty = (bond * protocol.slashBountyBps) / 10_000n;
            model.eth[action.actor]! += bounty;
            model.burned += bond - bounty;
            expect(events(receipt)).toEqual([
              [
                "JobSlashed",
                [id, BigInt(a.jobId), actors[a.miner]!.address, actors[action.actor]!.address, bounty, bond - bounty],
              ],
            ]);
            propertyFigures.slotsSlashed++;
          }
          break;
        }
        case "refund": {
          if (model.jobs.length === 0 && action.target !== "unknown") break;
          const id = model.pickJob(action.target, action.pick, (job) => !job.refunded);
          const job = model.jobs[Number(id)];
          if (job && action.align) await alignTo(job.deadline + 1n + BigInt(action.pick % 3));
          let error: Expected | undefined;
          if (!job) error = { name: "UnknownJob", args: [id] };
          else if (block <= job.deadline) error = { name: "JobNotExpired", args: [id, job.deadline + 1n] };
          else if (job.refunded || job.provenSlots === job.redundancy) error = { name: "NothingToRefund", args: [id] };
          const receipt = await send("refundJob", action.actor, iface, error, () =>
            mining.connect(actors[action.actor]!).getFunction("refundJob")(id),
          );
          if (receipt && job) {
            const amount = (job.fee / job.redundancy) * (job.redundancy - job.provenSlots);
            job.refunded = true;
            job.refundedAmount = amount;
            model.eth[job.requester]! += amount;
            expect(events(receipt)).toEqual([["JobRefunded", [id, actors[job.requester]!.address, amount]]]);
            propertyFigures.refunds++;
          }
          break;
        }
        case "seedCommit": {
          const who = action.actor;
          const epoch = block / epochLength;
          const key = `${who}:${epoch}`;
          const nonce = model.seedNonces.get(key) ?? 0n;
          const bond = protocol.bondPerTile;
          const error = model.supply >= protocol.cap ? { name: "CapReached" } : undefined;
          const receipt = await send("seed commit", who, iface, error, () =>
            mining.connect(actors[who]!).getFunction("commit")(epoch, nonce, [action.root], [0], { value: bond }),
          );
          if (receipt) {
            model.seedNonces.set(key, nonce + 1n);
            model.seeds.push({ miner: who, epoch, commitBlock: block, bond, status: Status.Committed });
            model.eth[who]! -= bond;
            propertyFigures.seedCommitments++;
          }
          break;
        }
        case "seedProve": {
          const open = [...model.seeds.keys()].filter((i) => model.seeds[i]!.status === Status.Committed);
          if (open.length === 0) break;
          const id = open[action.pick % open.length]!;
          const s = model.seeds[id]!;
          if (action.align) await alignTo(s.commitBlock + D + 1n);
          let error: Expected | undefined;
          if (block <= s.commitBlock + D) error = { name: "TooEarly", args: [BigInt(id), s.commitBlock + D + 1n] };
          else if (block > s.commitBlock + D + W)
            error = { name: "TooLate", args: [BigInt(id), s.commitBlock + D + W] };
          const receipt = await send("seed prove", s.miner, iface, error, () =>
            mining.connect(actors[s.miner]!).getFunction("prove")(BigInt(id), [[1n, 0n, 3n, 4n, 5n, 6n, 7n, 8n]]),
          );
          if (receipt) {
            s.status = Status.Proven;
            minted = model.mint(s.miner, SEED_MACS * model.rewardPerMac(s.epoch));
            model.eth[s.miner]! += s.bond;
          }
          break;
        }
        case "seedSlash": {
          const open = [...model.seeds.keys()].filter((i) => model.seeds[i]!.status === Status.Committed);
          if (open.length === 0) break;
          const id = open[action.pick % open.length]!;
          const s = model.seeds[id]!;
          if (action.align) await alignTo(s.commitBlock + D + W + 1n);
          const error =
            block <= s.commitBlock + D + W
              ? { name: "WindowOpen", args: [BigInt(id), s.commitBlock + D + W + 1n] }
              : undefined;
          const receipt = await send("seed slash", action.actor, iface, error, () =>
            mining.connect(actors[action.actor]!).getFunction("slash")(BigInt(id)),
          );
          if (receipt) {
            s.status = Status.Slashed;
            const bounty = (s.bond * protocol.slashBountyBps) / 10_000n;
            model.eth[action.actor]! += bounty;
            model.burned += s.bond - bounty;
          }
          break;
        }
        case "mine": {
          await request("hardhat_mine", [toQuantity(action.blocks)]);
          const counts = (propertyFigures.actions.mine ??= { succeeded: 0, reverted: 0 });
          counts.succeeded++;
          break;
        }
      }
      await checkInvariants(supplyBefore, minted);
      propertyFigures.steps++;
    }
    propertyFigures.sequences++;
  }

  it(`keeps every job-market invariant over ${RUNS} random sequences of ${STEPS} steps (seed ${SEED})`, async () => {
    await fc.assert(
      fc.asyncProperty(protocolArb, fc.array(actionArb, { minLength: STEPS, maxLength: STEPS }), runSequence),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    const seconds = (performance.now() - started) / 1000;
    figures.properties = { runs: RUNS, stepsPerSequence: STEPS, seed: SEED, ...propertyFigures, seconds };
    writeFigures();
    console.log(
      `job market properties: ${propertyFigures.sequences} sequences, ${propertyFigures.steps} steps, ` +
        `${propertyFigures.invariantChecks} invariant checks; ${propertyFigures.jobsPosted} jobs, ` +
        `${propertyFigures.slotsTaken} slots, ${propertyFigures.slotsProven} proven, ${propertyFigures.slotsSlashed} ` +
        `slashed, ${propertyFigures.refunds} refunds; reverts ${JSON.stringify(propertyFigures.reverts)} ` +
        `in ${seconds.toFixed(1)} s`,
    );
    expect(propertyFigures.steps).toBe(RUNS * STEPS);
  }, 3_600_000);
});

// ---------------------------------------------------------------------------------------------------------------------
// 2 and 3: the real JobWorker (gemm-job-demo circuit) against hostile data servers, and killed mid-job
// ---------------------------------------------------------------------------------------------------------------------

const WORKLOAD_NAME = "gemm-demo";
const LINEAR = JOB_CIRCUITS["gemm-job-demo"];
const FEE = 3n * 10n ** 16n;
const BLOCK_MS = 250;
const MNEMONIC = "test test test test test test test test test test test junk";
const accountWallet = (i: number) => HDNodeWallet.fromMnemonic(Mnemonic.fromPhrase(MNEMONIC), `m/44'/60'/0'/0/${i}`);
const hang = () => new Promise<never>(() => {});

/**
 * The miner's RPC transport (EIP-1193 over Hardhat's provider) that can die: once dead it never answers again (the
 * process is gone), and the first request it refuses calls `onRefused` (the moment the state on disk is what a kill
 * leaves). `hook` may decide, per request, to die right after forwarding it ("after": the caller still gets this
 * answer) or while it is in flight ("in-flight": the node has it, the caller never hears back).
 */
class Transport implements Eip1193Provider {
  dead = false;
  hook?: (method: string, params: unknown[]) => "after" | "in-flight" | undefined;
  onRefused?: () => void;
  constructor(private readonly upstream: Connection["provider"]) {}
  async request({ method, params }: { method: string; params?: unknown[] | Record<string, unknown> }) {
    if (this.dead) {
      this.onRefused?.();
      return hang();
    }
    const decision = this.hook?.(method, (params ?? []) as unknown[]);
    const result = await this.upstream.request({ method, params: params as unknown[] });
    if (decision) {
      this.dead = true;
      if (decision === "in-flight") {
        this.onRefused?.();
        return hang();
      }
    }
    return result;
  }
}

function providerOver(transport: Transport): BrowserProvider {
  const provider = new BrowserProvider(transport);
  provider.pollingInterval = 100;
  return provider;
}

type Misbehaviour =
  | "endless"
  | "declared-too-large"
  | "length-lie"
  | "wrong-body"
  | "not-model-hash"
  | "weights-mismatch"
  | "404"
  | "stall"
  | "trickle"
  | "down"
  | "500";

interface HostileCase {
  name: string;
  target: "model" | "input";
  how: Misbehaviour;
  /** What the worker must do on the first attempt. */
  expect: "skipped" | "retry" | "proven";
  note?: RegExp;
}

const HOSTILE_CASES: HostileCase[] = [
  {
    name: "model: endless body (chunked, no length)",
    target: "model",
    how: "endless",
    expect: "skipped",
    note: /too large/,
  },
  {
    name: "input: endless body (chunked, no length)",
    target: "input",
    how: "endless",
    expect: "skipped",
    note: /too large/,
  },
  {
    name: "input: Content-Length 1 GiB, endless body",
    target: "input",
    how: "declared-too-large",
    expect: "skipped",
    note: /too large: 1073741824 bytes/,
  },
  {
    name: "input: Content-Length = the input's size, then 1 MiB of NaN codes more on the socket",
    target: "input",
    how: "length-lie",
    expect: "proven",
  },
  {
    name: "input: another body of the same size for the input URL",
    target: "input",
    how: "wrong-body",
    expect: "skipped",
    note: /input's root is not the job's inputRoot/,
  },
  {
    name: "model: a body that is not the modelHash",
    target: "model",
    how: "not-model-hash",
    expect: "skipped",
    note: /hash mismatch/,
  },
  {
    name: "model: sha256 = modelHash, weights ≠ on-chain weightRoot",
    target: "model",
    how: "weights-mismatch",
    expect: "skipped",
    note: /weight root is not the job's weightRoot/,
  },
  { name: "input: 404", target: "input", how: "404", expect: "skipped", note: /HTTP 404/ },
  { name: "input: stalls after half the body", target: "input", how: "stall", expect: "retry" },
  { name: "input: trickles one byte every 100 ms", target: "input", how: "trickle", expect: "retry" },
  { name: "server down (connection refused)", target: "input", how: "down", expect: "retry" },
  { name: "model: HTTP 500", target: "model", how: "500", expect: "retry" },
];

/** A data server in the test: serves stored blobs honestly except `target`, which it serves as `how` until healed. */
class HostileServer {
  readonly blobs = new Map<string, Uint8Array>();
  /** Bytes written for each GET of the target blob. */
  readonly served: number[] = [];
  healed = false;
  targetSha = "";
  alternative: Uint8Array = new Uint8Array();
  private server?: http.Server;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(readonly how: Misbehaviour) {}

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = http.createServer((req, res) => void this.handle(req, res));
    server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (req.method === "PUT") {
      for await (const chunk of req) void chunk; // outputs delivered: accepted, not checked here
      res.writeHead(201).end();
      return;
    }
    const sha = /^\/blobs\/([0-9a-f]{64})$/.exec(req.url ?? "")?.[1];
    const blob = sha === undefined ? undefined : this.blobs.get(sha);
    if (!blob) {
      res.writeHead(404, { "content-type": "application/json" }).end('{"error":"no such blob"}');
      return;
    }
    if (sha !== this.targetSha || this.healed) {
      res.writeHead(200, { "content-length": String(blob.length) }).end(blob);
      return;
    }
    const index = this.served.push(0) - 1;
    const count = (n: number) => (this.served[index]! += n);
    switch (this.how) {
      case "endless":
      case "declared-too-large": {
        res.writeHead(200, this.how === "endless" ? {} : { "content-length": String(2 ** 30) });
        const chunk = Buffer.alloc(64 * 1024, 0x38);
        let closed = false;
        res.on("close", () => (closed = true));
        while (!closed && this.served[index]! < 2 ** 30) {
          count(chunk.length);
          if (!res.write(chunk)) {
            await new Promise<void>((resolve) => {
              const done = () => {
                res.off("drain", done).off("close", done);
                resolve();
              };
              res.on("drain", done).on("close", done);
            });
          }
        }
        res.end();
        return;
      }
      case "length-lie": {
        res.writeHead(200, { "content-length": String(blob.length) });
        res.write(blob);
        count(blob.length);
        const junk = Buffer.alloc(64 * 1024, 0x7f); // 0x7f: a NaN code
        for (let i = 0; i < 16 && !res.socket?.destroyed; i++) {
          res.socket?.write(junk);
          count(junk.length);
          await sleep(5);
        }
        res.end();
        return;
      }
      case "wrong-body":
      case "not-model-hash":
        res.writeHead(200, { "content-length": String(this.alternative.length) }).end(this.alternative);
        count(this.alternative.length);
        return;
      case "weights-mismatch":
        res.writeHead(200, { "content-length": String(blob.length) }).end(blob);
        count(blob.length);
        return;
      case "404":
        res.writeHead(404, { "content-type": "application/json" }).end('{"error":"gone"}');
        return;
      case "500":
        res.writeHead(500, { "content-type": "application/json" }).end('{"error":"internal"}');
        return;
      case "stall": {
        res.writeHead(200, { "content-length": String(blob.length) });
        const half = blob.subarray(0, blob.length >> 1);
        res.write(half);
        count(half.length);
        return; // never ends
      }
      case "trickle": {
        res.writeHead(200, { "content-length": String(blob.length) });
        for (let i = 0; i < blob.length && !res.destroyed; i++) {
          res.write(blob.subarray(i, i + 1));
          count(1);
          await sleep(100);
        }
        res.end();
        return;
      }
      case "down":
        res.destroy();
        return;
    }
  }
}

interface HostileFigure {
  case: string;
  outcome: string;
  note?: string;
  bytesServed: number[];
  limit: number;
  firstAttemptMs: number;
  /** Transactions the miner sent when it refused or deferred the job (none expected). */
  transactionsOnRefusal?: number;
  afterHeal?: string;
}

interface KillRun {
  run: number;
  trigger: string;
  stageAtKill: string;
  recomputed: boolean;
  commits: number;
  proofsAccepted: number;
  feePayments: number;
  feePaid: string;
  mined: Record<string, number>;
  reverted: number;
  seconds: number;
}

const KILL_TRIGGERS = [
  "commit-sent",
  "prove-sent",
  "proofs-ready",
  "computed",
  "committed",
  "commit-in-flight",
  "prove-in-flight",
  "random",
] as const;
type KillTrigger = (typeof KILL_TRIGGERS)[number];

describe("the job worker against hostile data servers and kills (real gemm-job-demo circuit)", () => {
  let prepared: PreparedCircuit[];
  let linear: Awaited<ReturnType<typeof prepareJobCircuit>>;
  let connection: Connection;
  let deployment: Deployment;
  let pool: ProverPool;
  let abi: never;
  let miningArtifact: { abi: never; bytecode: string };
  let live: BrowserProvider;
  let deployer: NonceManager;
  let requester: NonceManager;
  const params = miningParams({ proofsPerCommitment: 1, epochLength: 100, challengeDelay: 2, proofWindow: 200 });
  const root = mkdtempSync(path.join(os.tmpdir(), "demle-jobs-faults-"));
  const op = jobOp(LINEAR);
  const example = (seed: number) =>
    exampleJob({
      jobKind: "gemm-job-demo",
      op: "linear",
      images: 1,
      height: 8,
      width: 8,
      inChannels: LINEAR.tiling.depth,
      outChannels: 8,
      kernelSize: 1,
      seed,
    });

  beforeAll(async () => {
    prepared = await prepareWorkload(MINING_WORKLOADS[WORKLOAD_NAME], () => {});
    linear = await prepareJobCircuit(LINEAR, () => {});
    await hre.tasks.getTask("build").run({ quiet: true });
    connection = await hre.network.create();
    await connection.provider.request({ method: "evm_setAutomine", params: [false] });
    await setIntervalMining(connection.provider, BLOCK_MS);
    const signers = await connection.ethers.getSigners();
    for (const i of [0, 1, 13, 19]) expect(accountWallet(i).address).toBe(signers[i]!.address);
    live = providerOver(new Transport(connection.provider));
    deployer = new NonceManager(accountWallet(0).connect(live));
    requester = new NonceManager(accountWallet(19).connect(live));
    deployment = await deployDemle(deployer, WORKLOAD_NAME, prepared, params, [linear]);
    miningArtifact = (await loadArtifact("DemleMining.sol", "DemleMining")) as never;
    abi = miningArtifact.abi;
    pool = new ProverPool({ workers: 2, taskTimeoutMs: 300_000 });
  }, 900_000);

  afterAll(async () => {
    await pool?.close();
    live?.destroy();
    await connection?.close();
    rmSync(root, { recursive: true, force: true });
  });

  /** A new DemleMining with the deployment's verifiers, layers, job kind and parameters. */
  async function freshMining(): Promise<string> {
    const layers = prepared.map(({ circuit }, i) => miningLayer(circuit, deployment.layers[i]!.verifier));
    const factory = new ContractFactory(miningArtifact.abi, miningArtifact.bytecode, deployer);
    const contract = await factory.deploy(layers, params, deployment.jobKinds);
    await contract.waitForDeployment();
    return contract.getAddress();
  }

  /** Posts a linear job with the given served files and on-chain roots (redundancy 1). */
  async function post(
    mining: string,
    files: { modelBytes: Uint8Array; input: Uint8Array; inputUri: string; weightRoot?: bigint },
  ): Promise<bigint> {
    const model = JSON.parse(new TextDecoder().decode(files.modelBytes)) as { weights: string };
    const weights = new Uint8Array(Buffer.from(model.weights, "base64"));
    const shape = op.shapeFor({ ...example(1).model, weights } as never, files.input.length);
    const layout = op.layout(shape);
    const inputRoot = (await op.inputTree(layout, files.input)).root;
    const weightRoot = files.weightRoot ?? (await op.weightTree(layout, weights)).root;
    const contract = new Contract(mining, abi, requester);
    const deadline = (await live.getBlockNumber()) + 600;
    const tx = await contract.getFunction("postJob")(
      0,
      `0x${sha256Hex(files.modelBytes)}`,
      weightRoot,
      inputRoot,
      files.inputUri,
      encodeShape(shape),
      1,
      deadline,
      { value: FEE },
    );
    const receipt = await tx.wait();
    const parsed = receipt.logs
      .map((l: never) => contract.interface.parseLog(l))
      .find((e: { name?: string } | null) => e?.name === "JobPosted");
    return parsed.args.jobId as bigint;
  }

  it(`hostile data servers: ${HOSTILE_CASES.length} cases`, async () => {
    const started = performance.now();
    const baseline = process.memoryUsage();
    let peakRss = baseline.rss;
    let peakArrayBuffers = baseline.arrayBuffers;
    const sampler = setInterval(() => {
      const now = process.memoryUsage();
      peakRss = Math.max(peakRss, now.rss);
      peakArrayBuffers = Math.max(peakArrayBuffers, now.arrayBuffers);
    }, 20);
    const { model, input } = example(8);
    const modelBytes = serializeJobModel(model);
    const other = example(9);
    const layout = op.layout(op.shapeFor(model, input.length));

    const results = await Promise.all(
      HOSTILE_CASES.map(async (c, index): Promise<HostileFigure> => {
        const server = new HostileServer(c.how);
        // The server that goes down comes back on the same port: take one outside the ephemeral range, which other
        // processes' servers on port 0 could grab while it is down.
        for (let attempt = 0; ; attempt++) {
          if (c.how === "down") server.port = 20_000 + Math.floor(Math.random() * 10_000);
          try {
            await server.start();
            break;
          } catch (error) {
            if (attempt >= 20) throw error;
          }
        }
        const modelSha = sha256Hex(modelBytes);
        const inputSha = sha256Hex(input);
        server.blobs.set(modelSha, modelBytes);
        server.blobs.set(inputSha, input);
        server.targetSha = c.target === "model" ? modelSha : inputSha;
        server.alternative = c.how === "not-model-hash" ? serializeJobModel(other.model) : Uint8Array.from(other.input);
        const mining = await freshMining();
        const weightRoot =
          c.how === "weights-mismatch" ? (await op.weightTree(layout, other.model.weights)).root : undefined;
        const jobId = await post(mining, {
          modelBytes,
          input,
          inputUri: `${server.origin}/blobs/${inputSha}`,
          ...(weightRoot === undefined ? {} : { weightRoot }),
        });
        if (c.how === "down") await server.stop();
        const minerWallet = accountWallet(1 + index);
        const logs: string[] = [];
        const worker = new JobWorker({
          contract: mining,
          signer: new NonceManager(minerWallet.connect(live)),
          circuits: [{ circuit: LINEAR, prover: linear.setup.prover }],
          pool,
          stateDir: path.join(root, `hostile-${index}`),
          pollMs: 100,
          log: (line) => logs.push(line),
        });
        await worker.init(abi);
        const nonceBefore = await live.getTransactionCount(minerWallet.address, "latest");
        const t0 = performance.now();
        const worked = await worker.workOnce();
        const firstAttemptMs = Math.round(performance.now() - t0);
        const market = new JobMarket(new Contract(mining, abi, live));
        const records = worker.records() as UsefulJobRecord[];
        const figure: HostileFigure = {
          case: c.name,
          outcome: "",
          bytesServed: server.served,
          limit: c.target === "model" ? MAX_MODEL_BYTES : layout.inputBytes,
          firstAttemptMs,
        };
        if (c.expect === "proven") {
          expect(worked, c.name).toBe(true);
          expect(
            records.map((r) => r.stage),
            c.name,
          ).toEqual(["settled"]);
          expect(
            (await market.assignments(jobId)).map((a) => a.status),
            c.name,
          ).toEqual(["proven"]);
          figure.outcome = "committed and proven (the bytes the server announced match the on-chain roots)";
        } else {
          // Refused or deferred: not one transaction, no assignment, no bond.
          expect(worked, c.name).toBe(false);
          await sleep(2 * BLOCK_MS);
          figure.transactionsOnRefusal = (await live.getTransactionCount(minerWallet.address, "pending")) - nonceBefore;
          expect(figure.transactionsOnRefusal, c.name).toBe(0);
          expect(await market.assignments(jobId), c.name).toEqual([]);
          if (c.expect === "skipped") {
            expect(
              records.map((r) => r.stage),
              c.name,
            ).toEqual(["skipped"]);
            expect(records[0]!.note, c.name).toMatch(c.note!);
            figure.outcome = "skipped, no bond";
            figure.note = records[0]!.note!;
          } else {
            expect(records, c.name).toEqual([]);
            const line = logs.find((l) => l.includes("will try again later"));
            expect(line, `${c.name}: ${logs.join(" | ")}`).toBeDefined();
            figure.outcome = "retried later, no bond";
            figure.note = line!
              .replace(/^job #\d+: /, "")
              .replace(/http:\/\/127\.0\.0\.1:\d+\/blobs\/[0-9a-f]{64}/, "URL");
            // The server recovers: the next round takes the job and proves it against the on-chain roots.
            server.healed = true;
            if (c.how === "down") await server.start();
            expect(await worker.workOnce(), c.name).toBe(true);
            expect(
              worker.records().map((r) => r.stage),
              c.name,
            ).toEqual(["settled"]);
            expect(
              (await market.assignments(jobId)).map((a) => a.status),
              c.name,
            ).toEqual(["proven"]);
            figure.afterHeal = "proven";
          }
        }
        // Bounded: the miner hangs up at its limit instead of buffering what an endless server sends.
        for (const bytes of server.served) expect(bytes, c.name).toBeLessThanOrEqual(figure.limit + 16 * 2 ** 20);
        await server.stop();
        return figure;
      }),
    );
    clearInterval(sampler);
    figures.hostile = {
      cases: results,
      peakRssGrowthMiB: Math.round((peakRss - baseline.rss) / 2 ** 20),
      peakArrayBuffersGrowthMiB: Math.round((peakArrayBuffers - baseline.arrayBuffers) / 2 ** 20),
      seconds: Math.round((performance.now() - started) / 100) / 10,
    };
    writeFigures();
    for (const r of results) {
      console.log(
        `hostile: ${r.case}: ${r.outcome}${r.note ? ` (${r.note.slice(0, 140)})` : ""}; served ${JSON.stringify(r.bytesServed)} ` +
          `bytes (limit ${r.limit}); first attempt ${r.firstAttemptMs} ms${r.afterHeal ? `; after the server healed: ${r.afterHeal}` : ""}`,
      );
    }
  }, 600_000);

  it(`kills during a job: ${KILLS} runs, restart on the state left on disk`, async () => {
    const started = performance.now();
    const dataServer = new HostileServer("endless"); // nothing is its target: an honest server
    await dataServer.start();
    const mining = await freshMining();
    const live6 = new Contract(mining, abi, live);
    const iface = new Interface(abi);
    const miner = accountWallet(13);
    const runs: KillRun[] = [];
    let dir = path.join(root, "kills-0");
    const { model, input } = example(8);
    const modelBytes = serializeJobModel(model);
    dataServer.blobs.set(sha256Hex(modelBytes), modelBytes);
    dataServer.blobs.set(sha256Hex(input), input);
    const inputUri = `${dataServer.origin}/blobs/${sha256Hex(input)}`;

    for (let run = 0; run < KILLS; run++) {
      const runStarted = performance.now();
      const trigger: KillTrigger = KILL_TRIGGERS[run % KILL_TRIGGERS.length]!;
      const fromBlock = (await live.getBlockNumber()) + 1;
      const jobId = await post(mining, { modelBytes, input, inputUri });
      const next = path.join(root, `kills-${run + 1}`);
      const transport = new Transport(connection.provider);
      const abort = new AbortController();
      let stageAtKill: string | undefined;
      const snapshot = () => {
        if (stageAtKill !== undefined) return;
        transport.dead = true;
        cpSync(dir, next, { recursive: true });
        const saved = JSON.parse(readFileSync(path.join(next, "jobs-state.json"), "utf8")) as {
          jobs: UsefulJobRecord[];
        };
        stageAtKill = saved.jobs.find((r) => r.jobId === String(jobId))?.stage ?? "none";
        abort.abort();
      };
      transport.onRefused = snapshot;
      const sends = (name: string) => (method: string, rpcParams: unknown[]) => {
        if (method !== "eth_sendRawTransaction") return undefined;
        const parsed = iface.parseTransaction({ data: TransactionData(rpcParams[0] as string) });
        return parsed?.name === name ? (trigger.endsWith("in-flight") ? "in-flight" : "after") : undefined;
      };
      if (trigger === "commit-sent" || trigger === "commit-in-flight") transport.hook = sends("commitJob");
      if (trigger === "prove-sent" || trigger === "prove-in-flight") transport.hook = sends("proveJob");
      const killOnLog = (line: string) => {
        if (trigger === "computed" && line.includes("computed")) transport.dead = true;
        if (trigger === "committed" && line.includes("committed as assignment")) transport.dead = true;
      };
      const wrappedPool = Object.assign(Object.create(pool) as ProverPool, {
        proveMany: async function* (...args: Parameters<ProverPool["proveMany"]>) {
          for await (const outcome of pool.proveMany(...args)) yield outcome;
          if (trigger === "proofs-ready") transport.dead = true;
        },
      });
      const timer = trigger === "random" ? setTimeout(snapshot, 200 + Math.floor(Math.random() * 6000)) : undefined;
      const first = new JobWorker({
        contract: mining,
        signer: new NonceManager(miner.connect(providerOver(transport))),
        circuits: [{ circuit: LINEAR, prover: linear.setup.prover }],
        pool: wrappedPool,
        stateDir: dir,
        pollMs: 100,
        log: killOnLog,
      });
      await first.init(abi);
      let finished = false;
      const running = first.workOnce(abort.signal).then(
        () => (finished = true),
        () => {},
      );
      const deadline = performance.now() + 120_000;
      while (stageAtKill === undefined && !finished && performance.now() < deadline) await sleep(20);
      clearTimeout(timer);
      if (stageAtKill === undefined) snapshot(); // ran to its end before the random kill: the restart has nothing to do
      void running;
      // The restart comes at once, or once the dead worker's transactions are mined (see RESTART_WITH_PENDING).
      let pendingAtRestart = 0;
      for (;;) {
        pendingAtRestart =
          (await live.getTransactionCount(miner.address, "pending")) -
          (await live.getTransactionCount(miner.address, "latest"));
        if (RESTART_WITH_PENDING || pendingAtRestart === 0) break;
        await sleep(50);
      }

      const computations: bigint[] = [];
      const restarted = new JobWorker({
        contract: mining,
        signer: new NonceManager(miner.connect(live)),
        circuits: [{ circuit: LINEAR, prover: linear.setup.prover }],
        pool,
        stateDir: next,
        pollMs: 100,
        computeOutputs: (id, honest) => {
          computations.push(id);
          return honest();
        },
      });
      await restarted.init(abi);
      await restarted.workOnce();
      const record = restarted.records().find((r) => r.jobId === String(jobId));
      await sleep(2 * BLOCK_MS);
      const count = async (filter: unknown) => (await live6.queryFilter(filter as never, fromBlock)).length;
      const commits = await count(live6.filters.JobCommitted!(null, jobId));
      const proofsAccepted = await count(live6.filters.JobProofAccepted!(null, jobId));
      const feeLogs = await live6.queryFilter(live6.filters.JobFeePaid!(jobId), fromBlock);
      const job = await new JobMarket(live6).job(jobId);
      const mined = await minedTransactions(live as unknown as JsonRpcProvider, iface, miner.address, fromBlock);
      const entry: KillRun = {
        run,
        trigger,
        stageAtKill: stageAtKill!,
        recomputed: computations.length > 0,
        commits,
        proofsAccepted,
        feePayments: feeLogs.length,
        feePaid: feeLogs.map((l) => String((l as unknown as { args: unknown[] }).args[2])).join("+"),
        mined: mined.byFunction,
        reverted: mined.reverted,
        seconds: Math.round((performance.now() - runStarted) / 100) / 10,
      };
      runs.push(entry);
      console.log(
        `kill run ${JSON.stringify({ ...entry, pendingAtRestart, workerStage: record?.stage, note: record?.note })}`,
      );
      expect(record?.stage, `run ${run} (${trigger}, killed at ${stageAtKill}): ${record?.note}`).toBe("settled");
      expect(commits, `run ${run}: commitments`).toBe(1);
      expect(proofsAccepted, `run ${run}: accepted proofs`).toBe(1);
      expect(feeLogs.length, `run ${run}: fee payments`).toBe(1);
      expect(entry.feePaid).toBe(String(FEE));
      expect([job.committedSlots, job.provenSlots]).toEqual([1, 1]);
      // Work that was persisted is not done again: outputs are recomputed only if the kill came before they were saved.
      if (!["none", "computed"].includes(stageAtKill!)) expect(entry.recomputed, `run ${run}`).toBe(false);
      dir = next;
    }
    await dataServer.stop();
    const byStage: Record<string, number> = {};
    for (const r of runs) byStage[r.stageAtKill] = (byStage[r.stageAtKill] ?? 0) + 1;
    const minedTotal: Record<string, number> = {};
    for (const r of runs) for (const [k, v] of Object.entries(r.mined)) minedTotal[k] = (minedTotal[k] ?? 0) + v;
    figures.kills = {
      runs: runs.length,
      settled: runs.length,
      byStageAtKill: byStage,
      commitments: runs.reduce((s, r) => s + r.commits, 0),
      proofsAccepted: runs.reduce((s, r) => s + r.proofsAccepted, 0),
      feePayments: runs.reduce((s, r) => s + r.feePayments, 0),
      mined: minedTotal,
      reverted: runs.reduce((s, r) => s + r.reverted, 0),
      recomputed: runs.filter((r) => r.recomputed).length,
      blockMs: BLOCK_MS,
      detail: runs,
      seconds: Math.round((performance.now() - started) / 100) / 10,
    };
    writeFigures();
  }, 1_800_000);
});

/** The calldata of a signed raw transaction. */
function TransactionData(raw: string): string {
  return Transaction.from(raw).data;
}
