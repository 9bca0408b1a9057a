// The job market of DemleMining (contracts/DemleJobMarket.sol, docs/jobs.md "Contract") on Hardhat 3's in-process
// network, with mock verifiers (no prover):
//   - job kind 0 uses contracts/test/TestVerifier6ExpectsInputs, which accepts only (proof words, public inputs) pairs
//     the test registered: the test computes every public input itself (the challenge from the block hash with ethers'
//     keccak256 and ABI coder), so a proof is accepted only if the contract passes exactly the specified inputs;
//   - job kind 1 uses contracts/test/TestVerifier6AcceptsMarkedProofs (a proof is "valid" iff its word a0 is 1);
//   - the seed-work layer uses TestVerifierAcceptsMarkedProofs (5 inputs), so seed bonds share the contract's balance.
// Every expected amount (bond, MACs, reward, fee share, bounty, refund) is computed here from the parameters, not read
// from the contract. The native-coin invariant (balance = job bonds held + escrowed fees + burned + seed bonds) is
// checked after every step of the scenarios.
import hre from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import {
  AbiCoder,
  BaseContract,
  ZeroAddress,
  getBigInt,
  id as keccakText,
  keccak256,
  parseEther,
  toQuantity,
  type ContractRunner,
  type ContractTransactionReceipt,
  type Interface,
} from "ethers";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { chainControls, eventsOf, wait, type Connection, type Tx } from "./helpers/chain.js";
import { expectCustomError } from "./helpers/revert.js";

/** A struct as a view returns it (an ethers Result). */
type Struct<T> = T & { toObject(): T };

interface JobView {
  requester: string;
  kind: bigint;
  shape: bigint;
  redundancy: bigint;
  committedSlots: bigint;
  provenSlots: bigint;
  deadline: bigint;
  postBlock: bigint;
  fee: bigint;
  modelHash: string;
  weightRoot: bigint;
  inputRoot: bigint;
  inputUri: string;
  refunded: boolean;
}

interface AssignmentView {
  jobId: bigint;
  miner: string;
  outputRoot: bigint;
  commitBlock: bigint;
  status: bigint;
}

/** Typed view of DemleMining's job market (the project has no typechain); transactions go through getFunction. */
type Market = Omit<BaseContract, "connect"> & {
  connect(runner: ContractRunner): Market;
  MAX_JOB_KINDS(): Promise<bigint>;
  MAX_REDUNDANCY(): Promise<bigint>;
  MAX_PROOFS_PER_JOB(): Promise<bigint>;
  MAX_PROOFS_PER_COMMITMENT(): Promise<bigint>;
  MAX_INPUT_URI_BYTES(): Promise<bigint>;
  token(): Promise<string>;
  currentEpoch(): Promise<bigint>;
  burnedBonds(): Promise<bigint>;
  jobKindCount(): Promise<bigint>;
  jobKind(kind: bigint): Promise<Struct<JobKind>>;
  jobCount(): Promise<bigint>;
  job(jobId: bigint): Promise<Struct<JobView>>;
  jobAssignments(jobId: bigint): Promise<bigint[]>;
  assignmentCount(): Promise<bigint>;
  assignment(id: bigint): Promise<Struct<AssignmentView>>;
  jobChallengeOf(id: bigint): Promise<bigint>;
  jobProofChallenge(id: bigint, j: bigint): Promise<bigint>;
  jobBond(jobId: bigint): Promise<bigint>;
  jobMacs(jobId: bigint): Promise<bigint>;
  refundJob(jobId: bigint): Tx;
};

type Token = BaseContract & {
  totalSupply(): Promise<bigint>;
  balanceOf(account: string): Promise<bigint>;
};

type Actor = BaseContract & {
  reentryAttempted(): Promise<boolean>;
  reentrySucceeded(): Promise<boolean>;
  reentryResult(): Promise<string>;
  received(): Promise<bigint>;
};

const P = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;
const coder = AbiCoder.defaultAbiCoder();

enum Status {
  None = 0,
  Committed = 1,
  Proven = 2,
  Slashed = 3,
}

const PARAMS = {
  proofsPerCommitment: 1n,
  epochLength: 100n,
  challengeDelay: 3n,
  proofWindow: 20n,
  bondPerTile: parseEther("0.01"),
  slashBountyBps: 1_000n,
  initialRewardPerMac: 10n ** 15n,
  halvingEpochs: 10n,
  cap: parseEther("21000000"),
};
type Params = typeof PARAMS;
const D = PARAMS.challengeDelay;
const W = PARAMS.proofWindow;

/** IDemleJobMarket.JobKind. */
interface JobKind {
  verifier: string;
  macsPerTile: bigint;
  tilesPerProof: bigint;
  proofsPerJob: bigint;
  tileRows: bigint;
  tileCols: bigint;
  depth: bigint;
  maxRowBlocksLog2: bigint;
  maxColBlocksLog2: bigint;
}

/** Kind 0 (input-checking verifier): TM = 4, TN = 2, K = 16, NT = 2, 4 proofs, grid ≤ 8 × 4 blocks. */
const KIND0 = {
  macsPerTile: 4n * 2n * 16n,
  tilesPerProof: 2n,
  proofsPerJob: 4n,
  tileRows: 4n,
  tileCols: 2n,
  depth: 16n,
  maxRowBlocksLog2: 3n,
  maxColBlocksLog2: 2n,
};
/** Kind 1 (marked-proof verifier): TM = 2, TN = 4, K = 8, NT = 1, 4 proofs, grid ≤ 4 × 4 blocks. */
const KIND1 = {
  macsPerTile: 2n * 4n * 8n,
  tilesPerProof: 1n,
  proofsPerJob: 4n,
  tileRows: 2n,
  tileCols: 4n,
  depth: 8n,
  maxRowBlocksLog2: 2n,
  maxColBlocksLog2: 2n,
};
/** The seed-work layer (5-input marked verifier): 2×2 grid, 32 MACs per tile. */
const SEED_LAYER = { macsPerTile: 32n, tilesPerProof: 1n, maxRowBlocksLog2: 2n, maxColBlocksLog2: 2n };
const SEED_BOND = PARAMS.bondPerTile; // shape 0: one tile

/** dr = 2, dc = 1: 8 tiles. */
const SHAPE = 2 + 256 * 1;
const TILES = 8n;
const BOND = PARAMS.bondPerTile * TILES;
const MACS0 = KIND0.macsPerTile * TILES;
const MACS1 = KIND1.macsPerTile * TILES;
const MODEL_HASH = keccakText("model file bytes");
const WEIGHT_ROOT = 1234567n;
const INPUT_ROOT = 7654321n;
const URI = `http://127.0.0.1:8545/blobs/${"ab".repeat(32)}`;
const FEE_SHARE = parseEther("1");

/** The reward of `macs` proven in block `block`: macs · (initialRewardPerMac >> (epoch / halvingEpochs)). */
const rewardAt = (macs: bigint, block: bigint, p: Params = PARAMS) =>
  macs * (p.initialRewardPerMac >> (block / p.epochLength / p.halvingEpochs));

/** Proof words for assignment `id`, proof j: distinct per (id, j, variant); a0 = 1 so the marked verifier accepts. */
const proofWords = (id: bigint, j: number, variant = 0n): bigint[] => [
  1n,
  1000n * id + BigInt(j),
  3n,
  4n,
  5n + variant,
  6n,
  7n,
  8n,
];

const gasUsed: Record<string, bigint> = {};

describe("DemleMining job market (mock verifiers)", () => {
  let connection: Connection;
  let ethers: Connection["ethers"];
  let deployer: HardhatEthersSigner;
  let requester: HardhatEthersSigner;
  let miners: HardhatEthersSigner[];
  let alice: HardhatEthersSigner;
  let expects: BaseContract;
  let marked: BaseContract;
  let marked5: BaseContract;
  let kinds: JobKind[];
  let market: Market;
  let marketAddress: string;
  let token: Token;
  let iface: Interface;

  const { request, mine, latestBlock, nextTxInBlock, takeSnapshot, revertToSnapshot } = chainControls(() => connection);
  const balance = (address: string) => ethers.provider.getBalance(address);

  const cost = (r: ContractTransactionReceipt) => r.gasUsed * r.gasPrice;

  const kindOf = (verifier: string, base: typeof KIND0, change: Partial<JobKind> = {}): JobKind => ({
    verifier,
    ...base,
    ...change,
  });
  const seedLayer = () => ({ verifier: marked5.target as string, ...SEED_LAYER });

  async function deployMarket(params: Params = PARAMS, jobKinds: JobKind[] = kinds): Promise<Market> {
    const contract = await ethers.deployContract("DemleMining", [[seedLayer()], params, jobKinds], deployer);
    return contract as unknown as Market;
  }

  interface PostOptions {
    kind?: bigint;
    modelHash?: string;
    weightRoot?: bigint;
    inputRoot?: bigint;
    uri?: string;
    shape?: number;
    redundancy?: bigint;
    deadline?: bigint;
    fee?: bigint;
    from?: HardhatEthersSigner;
    on?: Market;
  }
  /** postJob's arguments with defaults: kind 0, SHAPE, r = 1, fee = r ETH, deadline 60 blocks after the next. */
  async function postArgs(o: PostOptions = {}) {
    const redundancy = o.redundancy ?? 1n;
    const args = [
      o.kind ?? 0n,
      o.modelHash ?? MODEL_HASH,
      o.weightRoot ?? WEIGHT_ROOT,
      o.inputRoot ?? INPUT_ROOT,
      o.uri ?? URI,
      o.shape ?? SHAPE,
      redundancy,
      o.deadline ?? (await latestBlock()) + 1n + D + W + 40n,
    ] as const;
    return { args, fee: o.fee ?? FEE_SHARE * redundancy };
  }
  function post(o: PostOptions = {}): Tx {
    return postArgs(o).then(({ args, fee }) =>
      (o.on ?? market).connect(o.from ?? requester).getFunction("postJob")(...args, { value: fee }),
    );
  }

  /** The challenge of an assignment, computed here from the chain's block hash. */
  async function expectedChallenge(id: bigint, miner: string, outputRoot: bigint, commitBlock: bigint) {
    const block = await ethers.provider.getBlock(Number(commitBlock + D));
    if (block?.hash == null) throw new Error("no challenge block yet");
    const encoded = coder.encode(
      ["bytes32", "string", "uint256", "address", "uint256"],
      [block.hash, "demle-job", id, miner, outputRoot],
    );
    return getBigInt(keccak256(encoded)) % P;
  }
  const expectedProofChallenge = (challenge: bigint, j: number) =>
    getBigInt(keccak256(coder.encode(["uint256", "uint256"], [challenge, BigInt(j)]))) % P;

  interface JobSpec {
    inputRoot: bigint;
    weightRoot: bigint;
    shape: number;
  }
  const DEFAULT_JOB: JobSpec = { inputRoot: INPUT_ROOT, weightRoot: WEIGHT_ROOT, shape: SHAPE };

  /** The public inputs of proof j as the specification states them. */
  async function specInputs(id: bigint, miner: string, outputRoot: bigint, commitBlock: bigint, job = DEFAULT_JOB) {
    const challenge = await expectedChallenge(id, miner, outputRoot, commitBlock);
    return Array.from({ length: Number(KIND0.proofsPerJob) }, (_, j) => [
      outputRoot,
      job.inputRoot,
      job.weightRoot,
      expectedProofChallenge(challenge, j),
      getBigInt(miner),
      BigInt(job.shape),
    ]);
  }

  /** Registers the spec's inputs of every proof of an assignment with the kind-0 verifier; returns the proofs. */
  async function registerProofs(
    id: bigint,
    miner: string,
    outputRoot: bigint,
    commitBlock: bigint,
    job = DEFAULT_JOB,
  ): Promise<bigint[][]> {
    const inputs = await specInputs(id, miner, outputRoot, commitBlock, job);
    const proofs = inputs.map((_, j) => proofWords(id, j));
    await wait(expects.getFunction("expectAll")(proofs, inputs));
    return proofs;
  }

  const markedProofs = (count = Number(KIND1.proofsPerJob)) =>
    Array.from({ length: count }, (_, j) => proofWords(99n, j));

  /** Native coin the market should hold, tracked by the scenarios from independently computed amounts. */
  const model = { jobBonds: 0n, fees: 0n, burned: 0n, seedBonds: 0n };
  async function checkAccounting(): Promise<void> {
    expect(await balance(marketAddress)).toBe(model.jobBonds + model.fees + model.burned + model.seedBonds);
    expect(await market.burnedBonds()).toBe(model.burned);
  }

  async function commit(jobId: bigint, miner: HardhatEthersSigner, outputRoot: bigint, value = BOND) {
    const receipt = await wait(market.connect(miner).getFunction("commitJob")(jobId, outputRoot, { value }));
    const [, args] = eventsOf(receipt, market, marketAddress).find(([name]) => name === "JobCommitted")!;
    return { id: args[0] as bigint, block: BigInt(receipt.blockNumber), receipt };
  }

  beforeAll(async () => {
    await hre.tasks.getTask("build").run({ quiet: true });
    connection = await hre.network.create();
    ethers = connection.ethers;
    const signers = await ethers.getSigners();
    [deployer, requester, alice] = [signers[0]!, signers[1]!, signers[2]!];
    miners = signers.slice(3, 8);
    expects = await ethers.deployContract("TestVerifier6ExpectsInputs", [], deployer);
    marked = await ethers.deployContract("TestVerifier6AcceptsMarkedProofs", [], deployer);
    marked5 = await ethers.deployContract("TestVerifierAcceptsMarkedProofs", [], deployer);
    kinds = [kindOf(expects.target as string, KIND0), kindOf(marked.target as string, KIND1)];
    market = await deployMarket();
    marketAddress = await market.getAddress();
    iface = market.interface;
    token = (await ethers.getContractAt("DemleToken", await market.token())) as unknown as Token;
    await takeSnapshot();
  }, 600_000);

  beforeEach(async () => {
    await revertToSnapshot();
    Object.assign(model, { jobBonds: 0n, fees: 0n, burned: 0n, seedBonds: 0n });
  });

  afterAll(async () => {
    await connection?.close();
    console.log(
      "DemleJobMarket gas (mock verifiers):\n" +
        Object.entries(gasUsed)
          .map(([what, gas]) => `  ${what}: ${gas.toLocaleString("en-US")}`)
          .join("\n"),
    );
  });

  describe("deployment and views", () => {
    it("stores the job kinds as given and exposes the limits", async () => {
      expect(await market.jobKindCount()).toBe(2n);
      for (const [i, kind] of kinds.entries()) {
        expect((await market.jobKind(BigInt(i))).toObject()).toEqual(kind);
      }
      await expectCustomError(market.jobKind(2n), iface, "UnknownJobKind", [2n, 2n]);
      expect(await market.jobCount()).toBe(0n);
      expect(await market.assignmentCount()).toBe(0n);
      expect(await market.MAX_JOB_KINDS()).toBe(8n);
      expect(await market.MAX_REDUNDANCY()).toBe(8n);
      expect(await market.MAX_PROOFS_PER_JOB()).toBe(await market.MAX_PROOFS_PER_COMMITMENT());
      expect(await market.MAX_INPUT_URI_BYTES()).toBe(512n);
    });

    it("deploys with no job kinds (postJob then refuses every kind) and with 8", async () => {
      const none = await deployMarket(PARAMS, []);
      expect(await none.jobKindCount()).toBe(0n);
      await expectCustomError(post({ on: none }), iface, "UnknownJobKind", [0n, 0n]);
      const eight = await deployMarket(
        PARAMS,
        Array.from({ length: 8 }, () => kinds[1]!),
      );
      expect(await eight.jobKindCount()).toBe(8n);
    });

    it("views of unknown jobs and assignments", async () => {
      for (const view of ["job", "jobAssignments", "jobBond", "jobMacs"]) {
        await expectCustomError(market.getFunction(view)(0n), iface, "UnknownJob", [0n]);
      }
      const a = (await market.assignment(0n)).toObject();
      expect(a).toEqual({ jobId: 0n, miner: ZeroAddress, outputRoot: 0n, commitBlock: 0n, status: 0n });
      await expectCustomError(market.jobChallengeOf(0n), iface, "UnknownAssignment", [0n]);
      await expectCustomError(market.jobProofChallenge(0n, 0n), iface, "UnknownAssignment", [0n]);
    });
  });

  describe("constructor validation of job kinds", () => {
    const BIG_GRID = { maxRowBlocksLog2: 30n, maxColBlocksLog2: 30n }; // 2^60 tiles
    const MAX_BOND_60 = (2n ** 128n - 1n) >> 60n;
    const MACS_60 = (2n ** 63n) << 60n;
    const MAX_REWARD_60 = (2n ** 256n - 1n) / MACS_60;

    async function rejects(jobKinds: JobKind[], error: string, args: unknown[], params: Params = PARAMS) {
      const factory = await ethers.getContractFactory("DemleMining", deployer);
      await expectCustomError(factory.deploy([seedLayer()], params, jobKinds), factory.interface, error, args);
    }

    it("rejects more than 8 job kinds (InvalidJobKindCount)", async () => {
      await rejects(
        Array.from({ length: 9 }, () => kinds[1]!),
        "InvalidJobKindCount",
        [9n],
      );
    });

    it("rejects a verifier without code (InvalidJobKindVerifier with the kind's index)", async () => {
      await rejects([kinds[0]!, kindOf(alice.address, KIND1)], "InvalidJobKindVerifier", [1n, alice.address]);
      await rejects([kindOf(ZeroAddress, KIND1)], "InvalidJobKindVerifier", [0n, ZeroAddress]);
    });

    const zeroCases: [string, Partial<JobKind>][] = [
      ["zero macsPerTile", { macsPerTile: 0n }],
      ["zero tilesPerProof", { tilesPerProof: 0n }],
      ["zero tileRows", { tileRows: 0n }],
      ["zero tileCols", { tileCols: 0n }],
      ["zero depth", { depth: 0n }],
      ["zero MAX_DR", { maxRowBlocksLog2: 0n }],
      ["zero MAX_DC", { maxColBlocksLog2: 0n }],
      ["a tree deeper than 64 (MAX_DR + MAX_DC = 65)", { maxRowBlocksLog2: 40n, maxColBlocksLog2: 25n }],
    ];
    it.each(zeroCases)("rejects a job kind (kind 1) with %s (InvalidJobKind)", async (_label, change) => {
      await rejects([kinds[0]!, kindOf(marked.target as string, KIND1, change)], "InvalidJobKind", [1n]);
    });

    it("accepts a tree of depth exactly 64", async () => {
      const deep = await deployMarket(PARAMS, [
        kindOf(marked.target as string, KIND1, { maxRowBlocksLog2: 40n, maxColBlocksLog2: 24n }),
      ]);
      expect((await deep.jobKind(0n)).maxColBlocksLog2).toBe(24n);
    });

    it("rejects proofsPerJob 0 and 33 (InvalidJobProofCount), accepts 32", async () => {
      for (const proofsPerJob of [0n, 33n]) {
        await rejects([kinds[0]!, kindOf(marked.target as string, KIND1, { proofsPerJob })], "InvalidJobProofCount", [
          1n,
          proofsPerJob,
        ]);
      }
      const max = await deployMarket(PARAMS, [kindOf(marked.target as string, KIND1, { proofsPerJob: 32n })]);
      expect((await max.jobKind(0n)).proofsPerJob).toBe(32n);
    });

    it("rejects a kind whose largest bond reaches 2^128 (InvalidJobKindBond); the boundary deploys", async () => {
      const big = kindOf(marked.target as string, KIND1, BIG_GRID);
      await rejects([kinds[0]!, big], "InvalidJobKindBond", [1n], { ...PARAMS, bondPerTile: MAX_BOND_60 + 1n });
      await deployMarket({ ...PARAMS, bondPerTile: MAX_BOND_60 }, [kinds[0]!, big]);
    });

    it("rejects a kind whose largest reward overflows (InvalidJobKindReward); the boundary deploys", async () => {
      const big = kindOf(marked.target as string, KIND1, { ...BIG_GRID, macsPerTile: 2n ** 63n });
      await rejects([kinds[0]!, big], "InvalidJobKindReward", [1n], {
        ...PARAMS,
        initialRewardPerMac: MAX_REWARD_60 + 1n,
      });
      await deployMarket({ ...PARAMS, initialRewardPerMac: MAX_REWARD_60 }, [kinds[0]!, big]);
    });
  });

  describe("postJob", () => {
    it("stores the job, emits JobPosted and numbers jobs from 0", async () => {
      const { args, fee } = await postArgs({ redundancy: 3n, kind: 1n });
      const receipt = await wait(market.connect(requester).getFunction("postJob")(...args, { value: fee }));
      gasUsed["postJob (r = 3, 92-byte inputUri, first job)"] = receipt.gasUsed;
      const block = BigInt(receipt.blockNumber);
      const deadline = args[7];
      expect(eventsOf(receipt, market, marketAddress)).toEqual([
        [
          "JobPosted",
          [0n, requester.address, 1n, MODEL_HASH, WEIGHT_ROOT, INPUT_ROOT, URI, BigInt(SHAPE), 3n, deadline, fee],
        ],
      ]);
      expect((await market.job(0n)).toObject()).toEqual({
        requester: requester.address,
        kind: 1n,
        shape: BigInt(SHAPE),
        redundancy: 3n,
        committedSlots: 0n,
        provenSlots: 0n,
        deadline,
        postBlock: block,
        fee,
        modelHash: MODEL_HASH,
        weightRoot: WEIGHT_ROOT,
        inputRoot: INPUT_ROOT,
        inputUri: URI,
        refunded: false,
      });
      expect(await balance(marketAddress)).toBe(fee);
      expect(await market.jobCount()).toBe(1n);
      expect(await market.jobBond(0n)).toBe(BOND);
      expect(await market.jobMacs(0n)).toBe(MACS1);
      expect([...(await market.jobAssignments(0n))]).toEqual([]);
      const second = await wait(post());
      gasUsed["postJob (r = 1, 92-byte inputUri, next job)"] = second.gasUsed;
      expect(await market.jobCount()).toBe(2n);
      expect((await market.job(1n)).kind).toBe(0n);
      expect(await market.jobMacs(1n)).toBe(MACS0);
    });

    it("accepts the grid's largest shape, the smallest deadline, r = 8 and a 512-byte URI", async () => {
      const earliest = (await latestBlock()) + 1n + D + W + 1n;
      const uri = "u".repeat(512);
      await wait(post({ shape: 3 + 256 * 2, redundancy: 8n, deadline: earliest, uri }));
      const job = await market.job(0n);
      expect([job.deadline, job.inputUri, job.redundancy]).toEqual([earliest, uri, 8n]);
      expect(await market.jobBond(0n)).toBe(PARAMS.bondPerTile * 32n);
      expect(await market.jobMacs(0n)).toBe(KIND0.macsPerTile * 32n);
    });

    it("rejects an unknown kind (UnknownJobKind)", async () => {
      await expectCustomError(post({ kind: 2n }), iface, "UnknownJobKind", [2n, 2n]);
    });

    it("rejects redundancy 0 and 9 (InvalidRedundancy)", async () => {
      await expectCustomError(post({ redundancy: 0n, fee: 1n }), iface, "InvalidRedundancy", [0n]);
      await expectCustomError(post({ redundancy: 9n }), iface, "InvalidRedundancy", [9n]);
    });

    it("rejects a zero fee, a fee not divisible by r, and a fee ≥ 2^128 (InvalidFee)", async () => {
      await expectCustomError(post({ redundancy: 3n, fee: 0n }), iface, "InvalidFee", [0n, 3n]);
      await expectCustomError(post({ redundancy: 3n, fee: 10n }), iface, "InvalidFee", [10n, 3n]);
      const huge = 2n ** 128n;
      await request("hardhat_setBalance", [requester.address, toQuantity(huge * 2n)]);
      await expectCustomError(post({ fee: huge }), iface, "InvalidFee", [huge, 1n]);
      await wait(post({ fee: huge - 1n }));
      expect((await market.job(0n)).fee).toBe(huge - 1n);
    });

    it("rejects a shape beyond the kind's grid (JobShapeTooLarge)", async () => {
      await expectCustomError(post({ shape: 4 }), iface, "JobShapeTooLarge", [0n, 4n]);
      await expectCustomError(post({ shape: 3 * 256 }), iface, "JobShapeTooLarge", [0n, 768n]);
      await expectCustomError(post({ kind: 1n, shape: 3 }), iface, "JobShapeTooLarge", [1n, 3n]);
    });

    it("rejects roots outside the field (JobRootOutOfField: 1 inputRoot, 2 weightRoot)", async () => {
      await expectCustomError(post({ inputRoot: P }), iface, "JobRootOutOfField", [1n, P]);
      await expectCustomError(post({ weightRoot: P + 5n }), iface, "JobRootOutOfField", [2n, P + 5n]);
      await wait(post({ inputRoot: P - 1n, weightRoot: P - 1n }));
    });

    it("rejects an empty and a 513-byte inputUri (InvalidInputUri)", async () => {
      await expectCustomError(post({ uri: "" }), iface, "InvalidInputUri", [0n]);
      await expectCustomError(post({ uri: "é".repeat(257) }), iface, "InvalidInputUri", [514n]);
      await expectCustomError(post({ uri: "x".repeat(513) }), iface, "InvalidInputUri", [513n]);
    });

    it("rejects a deadline before block.number + D + W + 1 (DeadlineTooSoon)", async () => {
      const earliest = (await latestBlock()) + 1n + D + W + 1n;
      await expectCustomError(post({ deadline: earliest - 1n }), iface, "DeadlineTooSoon", [earliest - 1n, earliest]);
    });
  });

  describe("commitJob", () => {
    it("takes slots, emits JobCommitted and lists the job's assignments", async () => {
      await wait(post({ redundancy: 2n }));
      const first = await commit(0n, miners[0]!, 11n);
      gasUsed["commitJob (first assignment ever)"] = first.receipt.gasUsed;
      expect(eventsOf(first.receipt, market, marketAddress)).toEqual([
        ["JobCommitted", [0n, 0n, miners[0]!.address, 11n, BOND]],
      ]);
      const second = await commit(0n, miners[1]!, 12n);
      gasUsed["commitJob (second slot of a job)"] = second.receipt.gasUsed;
      expect(second.id).toBe(1n);
      expect([...(await market.jobAssignments(0n))]).toEqual([0n, 1n]);
      expect((await market.assignment(1n)).toObject()).toEqual({
        jobId: 0n,
        miner: miners[1]!.address,
        outputRoot: 12n,
        commitBlock: second.block,
        status: BigInt(Status.Committed),
      });
      expect((await market.job(0n)).committedSlots).toBe(2n);
      expect(await market.assignmentCount()).toBe(2n);
      expect(await balance(marketAddress)).toBe(2n * FEE_SHARE + 2n * BOND);
    });

    it("rejects an unknown job (UnknownJob)", async () => {
      await expectCustomError(
        market.connect(miners[0]!).getFunction("commitJob")(5n, 1n, { value: BOND }),
        iface,
        "UnknownJob",
        [5n],
      );
    });

    it("accepts commitments up to block deadline − D − W, then JobClosed", async () => {
      const deadline = (await latestBlock()) + 100n;
      await wait(post({ deadline, redundancy: 2n }));
      const last = deadline - D - W;
      await nextTxInBlock(last);
      const { block } = await commit(0n, miners[0]!, 1n);
      expect(block).toBe(last);
      await expectCustomError(
        market.connect(miners[1]!).getFunction("commitJob")(0n, 1n, { value: BOND }),
        iface,
        "JobClosed",
        [0n, last],
      );
    });

    it("rejects a commitment when every slot is taken (JobFull)", async () => {
      await wait(post({ redundancy: 2n }));
      await commit(0n, miners[0]!, 1n);
      await commit(0n, miners[1]!, 2n);
      await expectCustomError(
        market.connect(miners[2]!).getFunction("commitJob")(0n, 3n, { value: BOND }),
        iface,
        "JobFull",
        [0n, 2n],
      );
    });

    it("rejects an output root outside the field (JobRootOutOfField index 0)", async () => {
      await wait(post());
      await expectCustomError(
        market.connect(miners[0]!).getFunction("commitJob")(0n, P, { value: BOND }),
        iface,
        "JobRootOutOfField",
        [0n, P],
      );
    });

    it("rejects a second slot for the same miner (AlreadyCommittedToJob), even with another root", async () => {
      await wait(post({ redundancy: 3n }));
      await wait(post({ redundancy: 3n }));
      await commit(1n, miners[0]!, 1n); // assignment 0, job 1
      await commit(0n, miners[1]!, 1n); // assignment 1, job 0
      await commit(0n, miners[0]!, 1n); // assignment 2, job 0
      await expectCustomError(
        market.connect(miners[0]!).getFunction("commitJob")(0n, 9n, { value: BOND }),
        iface,
        "AlreadyCommittedToJob",
        [0n, miners[0]!.address, 2n],
      );
    });

    it("rejects a bond that is not jobBond (JobBondMismatch)", async () => {
      await wait(post());
      for (const value of [BOND - 1n, BOND + 1n, 0n]) {
        await expectCustomError(
          market.connect(miners[0]!).getFunction("commitJob")(0n, 1n, { value }),
          iface,
          "JobBondMismatch",
          [value, BOND],
        );
      }
    });
  });

  describe("proveJob", () => {
    /** A kind-0 job with one commitment by miners[0]; the challenge block exists. */
    async function committed(job: JobSpec = DEFAULT_JOB) {
      await wait(post({ inputRoot: job.inputRoot, weightRoot: job.weightRoot, shape: job.shape }));
      const c = await commit(0n, miners[0]!, 4242n);
      await mine(D + 1n); // views run in the latest block: the challenge exists from commitBlock + D + 1
      return c;
    }

    it("passes exactly [outputRoot, inputRoot, weightRoot, challenge_j, miner, shape] for each proof j", async () => {
      // Roots near p and a shape using both bytes make a swap or truncation visible.
      const job = { inputRoot: P - 2n, weightRoot: P - 3n, shape: 1 + 256 * 2 };
      const { id, block } = await committed(job);
      const challenge = await expectedChallenge(id, miners[0]!.address, 4242n, block);
      expect(await market.jobChallengeOf(id)).toBe(challenge);
      for (let j = 0; j < 4; j++) {
        expect(await market.jobProofChallenge(id, BigInt(j))).toBe(expectedProofChallenge(challenge, j));
      }
      await expectCustomError(market.jobProofChallenge(id, 4n), iface, "JobProofIndexOutOfRange", [4n, 4n]);
      const proofs = await registerProofs(id, miners[0]!.address, 4242n, block, job);
      await wait(market.connect(miners[0]!).getFunction("proveJob")(id, proofs));
      expect((await market.assignment(id)).status).toBe(BigInt(Status.Proven));
    });

    const wrongInputs: [string, number, (v: bigint) => bigint][] = [
      ["outputRoot", 0, (v) => v + 1n],
      ["inputRoot", 1, () => WEIGHT_ROOT],
      ["weightRoot", 2, () => INPUT_ROOT],
      ["challenge (not reduced mod p)", 3, (v) => v + P],
      ["miner", 4, (v) => v + 1n],
      ["shape", 5, () => 1n],
    ];
    it.each(wrongInputs)("a proof registered with a wrong %s is refused (InvalidProof)", async (_l, index, alter) => {
      const { id, block } = await committed();
      const inputs = await specInputs(id, miners[0]!.address, 4242n, block);
      const proofs = inputs.map((_, j) => proofWords(id, j));
      inputs[2]![index] = alter(inputs[2]![index]!);
      await wait(expects.getFunction("expectAll")(proofs, inputs));
      await expectCustomError(market.connect(miners[0]!).getFunction("proveJob")(id, proofs), iface, "InvalidProof", [
        2n,
      ]);
    });

    it("checks proof j with challenge j: swapped proofs fail (InvalidProof(0)), a missing one fails", async () => {
      const { id, block } = await committed();
      const proofs = await registerProofs(id, miners[0]!.address, 4242n, block);
      const swapped = [proofs[1]!, proofs[0]!, proofs[2]!, proofs[3]!];
      await expectCustomError(market.connect(miners[0]!).getFunction("proveJob")(id, swapped), iface, "InvalidProof", [
        0n,
      ]);
      const unregistered = [...proofs.slice(0, 3), proofWords(id, 3, 1n)];
      await expectCustomError(
        market.connect(miners[0]!).getFunction("proveJob")(id, unregistered),
        iface,
        "InvalidProof",
        [3n],
      );
    });

    it("rejects an unknown assignment, another caller, and a wrong proof count", async () => {
      const { id } = await committed();
      await expectCustomError(
        market.connect(miners[0]!).getFunction("proveJob")(7n, markedProofs()),
        iface,
        "UnknownAssignment",
        [7n],
      );
      await expectCustomError(
        market.connect(alice).getFunction("proveJob")(id, markedProofs()),
        iface,
        "NotAssignmentMiner",
        [id, alice.address],
      );
      for (const count of [3, 5, 0]) {
        await expectCustomError(
          market.connect(miners[0]!).getFunction("proveJob")(id, markedProofs(count)),
          iface,
          "WrongJobProofCount",
          [BigInt(count), 4n],
        );
      }
    });

    it("accepts proofs in blocks commitBlock + D + 1 … commitBlock + D + W only (JobTooEarly, JobTooLate)", async () => {
      await wait(post({ kind: 1n, redundancy: 2n }));
      const a = await commit(0n, miners[0]!, 1n);
      const b = await commit(0n, miners[1]!, 2n);
      await expectCustomError(market.jobChallengeOf(a.id), iface, "JobChallengeNotReady", [a.id, a.block + D + 1n]);
      await nextTxInBlock(a.block + D);
      await expectCustomError(
        market.connect(miners[0]!).getFunction("proveJob")(a.id, markedProofs()),
        iface,
        "JobTooEarly",
        [a.id, a.block + D + 1n],
      );
      await nextTxInBlock(a.block + D + 1n); // a reverted transaction mines no block
      const first = await wait(market.connect(miners[0]!).getFunction("proveJob")(a.id, markedProofs()));
      expect(BigInt(first.blockNumber)).toBe(a.block + D + 1n);
      await nextTxInBlock(b.block + D + W + 1n);
      await expectCustomError(
        market.connect(miners[1]!).getFunction("proveJob")(b.id, markedProofs()),
        iface,
        "JobTooLate",
        [b.id, b.block + D + W],
      );
    });

    it("accepts the last block of the window", async () => {
      await wait(post({ kind: 1n }));
      const a = await commit(0n, miners[0]!, 1n);
      await nextTxInBlock(a.block + D + W);
      const receipt = await wait(market.connect(miners[0]!).getFunction("proveJob")(a.id, markedProofs()));
      expect(BigInt(receipt.blockNumber)).toBe(a.block + D + W);
    });

    it("refuses a second proof and a proof after a slash (AssignmentSettled)", async () => {
      await wait(post({ kind: 1n, redundancy: 2n }));
      const a = await commit(0n, miners[0]!, 1n);
      const b = await commit(0n, miners[1]!, 2n);
      await mine(D);
      await wait(market.connect(miners[0]!).getFunction("proveJob")(a.id, markedProofs()));
      await expectCustomError(
        market.connect(miners[0]!).getFunction("proveJob")(a.id, markedProofs()),
        iface,
        "AssignmentSettled",
        [a.id, BigInt(Status.Proven)],
      );
      await nextTxInBlock(b.block + D + W + 1n);
      await wait(market.connect(alice).getFunction("slashJob")(b.id));
      await expectCustomError(
        market.connect(miners[1]!).getFunction("proveJob")(b.id, markedProofs()),
        iface,
        "AssignmentSettled",
        [b.id, BigInt(Status.Slashed)],
      );
    });

    it("rejects a marked-verifier proof that is not marked (InvalidProof with its index)", async () => {
      await wait(post({ kind: 1n }));
      const a = await commit(0n, miners[0]!, 1n);
      await mine(D);
      const proofs = markedProofs();
      proofs[1] = [2n, ...proofs[1]!.slice(1)];
      await expectCustomError(market.connect(miners[0]!).getFunction("proveJob")(a.id, proofs), iface, "InvalidProof", [
        1n,
      ]);
    });

    it("jobChallengeOf reverts with ChallengeExpired once blockhash(commitBlock + D) is unreadable", async () => {
      await wait(post({ kind: 1n }));
      const a = await commit(0n, miners[0]!, 1n);
      await mine(D + 1n);
      expect(await market.jobChallengeOf(a.id)).toBe(await expectedChallenge(a.id, miners[0]!.address, 1n, a.block));
      await mine(256n);
      await expectCustomError(market.jobChallengeOf(a.id), iface, "ChallengeExpired", [a.id]);
    });
  });

  describe("payment, reward, slashing and refunds", () => {
    it("redundancy 1: pays the whole fee and the bond, mints macs · rewardPerMac, nothing left to refund", async () => {
      await wait(
        market.connect(miners[4]!).getFunction("commit")(await market.currentEpoch(), 0n, [5n], [0n], {
          value: SEED_BOND,
        }),
      );
      model.seedBonds += SEED_BOND;
      const { args, fee } = await postArgs({ kind: 1n });
      await wait(market.connect(requester).getFunction("postJob")(...args, { value: fee }));
      model.fees += fee;
      await checkAccounting();
      const a = await commit(0n, miners[0]!, 77n);
      model.jobBonds += BOND;
      await checkAccounting();
      await mine(D);
      const before = await balance(miners[0]!.address);
      const receipt = await wait(market.connect(miners[0]!).getFunction("proveJob")(a.id, markedProofs()));
      gasUsed["proveJob (4 proofs, marked mock verifier, r = 1)"] = receipt.gasUsed;
      const reward = rewardAt(MACS1, BigInt(receipt.blockNumber));
      expect(reward).toBe(MACS1 * 10n ** 15n);
      expect(eventsOf(receipt, market, marketAddress)).toEqual([
        ["JobProofAccepted", [a.id, 0n, miners[0]!.address, KIND1.tilesPerProof * 4n, MACS1]],
        ["JobFeePaid", [0n, miners[0]!.address, fee]],
        ["JobRewardMinted", [a.id, miners[0]!.address, reward]],
        ["JobBondReturned", [a.id, miners[0]!.address, BOND]],
      ]);
      expect(eventsOf(receipt, token, await token.getAddress())).toEqual([
        ["Transfer", [ZeroAddress, miners[0]!.address, reward]],
      ]);
      expect(await balance(miners[0]!.address)).toBe(before + fee + BOND - cost(receipt));
      expect(await token.balanceOf(miners[0]!.address)).toBe(reward);
      model.jobBonds -= BOND;
      model.fees -= fee;
      await checkAccounting();
      const job = await market.job(0n);
      expect([job.committedSlots, job.provenSlots, job.refunded]).toEqual([1n, 1n, false]);
      await expectCustomError(market.refundJob(0n), iface, "JobNotExpired", [0n, args[7] + 1n]);
      await nextTxInBlock(args[7] + 1n);
      await expectCustomError(market.refundJob(0n), iface, "NothingToRefund", [0n]);
      await checkAccounting();
    });

    it("redundancy 3: two proven slots paid fee/3 each, one slashed (bounty, burn), its share refunded once", async () => {
      // A seed-work commitment shares the balance and the burned counter.
      const epoch = await market.currentEpoch();
      const seed = await wait(
        market.connect(miners[4]!).getFunction("commit")(epoch, 0n, [5n], [0n], { value: SEED_BOND }),
      );
      const seedBlock = BigInt(seed.blockNumber);
      model.seedBonds += SEED_BOND;
      await checkAccounting();

      const fee = 3n * parseEther("0.7");
      const { args } = await postArgs({ redundancy: 3n, fee });
      await wait(market.connect(requester).getFunction("postJob")(...args, { value: fee }));
      const deadline = args[7];
      model.fees += fee;
      await checkAccounting();
      const share = fee / 3n;

      const roots = [101n, 202n, 303n];
      const commits = [];
      for (let i = 0; i < 3; i++) {
        commits.push(await commit(0n, miners[i]!, roots[i]!));
        model.jobBonds += BOND;
        await checkAccounting();
      }
      await expectCustomError(
        market.connect(miners[3]!).getFunction("commitJob")(0n, 1n, { value: BOND }),
        iface,
        "JobFull",
        [0n, 3n],
      );
      expect([...(await market.jobAssignments(0n))]).toEqual(commits.map((c) => c.id));
      await mine(D);

      for (let i = 0; i < 2; i++) {
        const c = commits[i]!;
        const proofs = await registerProofs(c.id, miners[i]!.address, roots[i]!, c.block);
        const before = await balance(miners[i]!.address);
        const supply = await token.totalSupply();
        const receipt = await wait(market.connect(miners[i]!).getFunction("proveJob")(c.id, proofs));
        if (i === 0) gasUsed["proveJob (4 proofs, input-checking mock verifier, r = 3)"] = receipt.gasUsed;
        const reward = rewardAt(MACS0, BigInt(receipt.blockNumber));
        expect(eventsOf(receipt, market, marketAddress)).toEqual([
          ["JobProofAccepted", [c.id, 0n, miners[i]!.address, KIND0.tilesPerProof * 4n, MACS0]],
          ["JobFeePaid", [0n, miners[i]!.address, share]],
          ["JobRewardMinted", [c.id, miners[i]!.address, reward]],
          ["JobBondReturned", [c.id, miners[i]!.address, BOND]],
        ]);
        expect(await balance(miners[i]!.address)).toBe(before + share + BOND - cost(receipt));
        expect(await token.balanceOf(miners[i]!.address)).toBe(reward);
        expect(await token.totalSupply()).toBe(supply + reward);
        model.jobBonds -= BOND;
        model.fees -= share;
        await checkAccounting();
      }

      // The third miner never proves: after its window anyone slashes it.
      const third = commits[2]!;
      await expectCustomError(market.connect(alice).getFunction("slashJob")(third.id), iface, "JobWindowOpen", [
        third.id,
        third.block + D + W + 1n,
      ]);
      await nextTxInBlock(third.block + D + W + 1n);
      const aliceBefore = await balance(alice.address);
      const slash = await wait(market.connect(alice).getFunction("slashJob")(third.id));
      gasUsed["slashJob"] = slash.gasUsed;
      const bounty = (BOND * PARAMS.slashBountyBps) / 10_000n;
      expect(bounty).toBe(BOND / 10n);
      expect(eventsOf(slash, market, marketAddress)).toEqual([
        ["JobSlashed", [third.id, 0n, miners[2]!.address, alice.address, bounty, BOND - bounty]],
      ]);
      expect(await balance(alice.address)).toBe(aliceBefore + bounty - cost(slash));
      model.jobBonds -= BOND;
      model.burned += BOND - bounty;
      await checkAccounting();
      await expectCustomError(market.connect(alice).getFunction("slashJob")(third.id), iface, "AssignmentSettled", [
        third.id,
        BigInt(Status.Slashed),
      ]);
      await expectCustomError(
        market.connect(alice).getFunction("slashJob")(commits[0]!.id),
        iface,
        "AssignmentSettled",
        [commits[0]!.id, BigInt(Status.Proven)],
      );
      await expectCustomError(market.connect(alice).getFunction("slashJob")(9n), iface, "UnknownAssignment", [9n]);

      // The seed commitment is slashed too: both burns land in the same counter.
      expect(await latestBlock()).toBeGreaterThan(seedBlock + D + W);
      await wait(market.connect(alice).getFunction("slash")(0n));
      model.seedBonds -= SEED_BOND;
      model.burned += SEED_BOND - SEED_BOND / 10n;
      await checkAccounting();

      // Refund: before the deadline JobNotExpired; at deadline + 1 the slashed slot's share, once, to the requester.
      await expectCustomError(market.connect(alice).getFunction("refundJob")(0n), iface, "JobNotExpired", [
        0n,
        deadline + 1n,
      ]);
      await nextTxInBlock(deadline);
      await expectCustomError(market.connect(alice).getFunction("refundJob")(0n), iface, "JobNotExpired", [
        0n,
        deadline + 1n,
      ]);
      await nextTxInBlock(deadline + 1n); // a reverted transaction mines no block
      const requesterBefore = await balance(requester.address);
      const refund = await wait(market.connect(alice).getFunction("refundJob")(0n));
      expect(BigInt(refund.blockNumber)).toBe(deadline + 1n);
      expect(eventsOf(refund, market, marketAddress)).toEqual([["JobRefunded", [0n, requester.address, share]]]);
      expect(await balance(requester.address)).toBe(requesterBefore + share);
      model.fees -= share;
      expect(model.fees).toBe(0n);
      await checkAccounting();
      await expectCustomError(market.connect(requester).getFunction("refundJob")(0n), iface, "NothingToRefund", [0n]);
      const job = await market.job(0n);
      expect([job.committedSlots, job.provenSlots, job.refunded]).toEqual([3n, 2n, true]);
      expect(model).toEqual({
        jobBonds: 0n,
        fees: 0n,
        burned: BOND - bounty + SEED_BOND - SEED_BOND / 10n,
        seedBonds: 0n,
      });
    });

    it("refunds never-taken slots (r = 4, one proven) and a job nobody took, to the requester whoever calls", async () => {
      const fee = 4n * 1000n;
      const { args } = await postArgs({ kind: 1n, redundancy: 4n, fee });
      await wait(market.connect(requester).getFunction("postJob")(...args, { value: fee }));
      model.fees += fee;
      const empty = await postArgs({ kind: 1n, redundancy: 2n, fee: 2n * 999n, deadline: args[7] + 5n });
      await wait(market.connect(requester).getFunction("postJob")(...empty.args, { value: 2n * 999n }));
      model.fees += 2n * 999n;
      const a = await commit(0n, miners[0]!, 5n);
      model.jobBonds += BOND;
      await mine(D);
      await wait(market.connect(miners[0]!).getFunction("proveJob")(a.id, markedProofs()));
      model.jobBonds -= BOND;
      model.fees -= 1000n;
      await checkAccounting();

      await nextTxInBlock(args[7] + 1n);
      const before = await balance(requester.address);
      const receipt = await wait(market.connect(alice).getFunction("refundJob")(0n));
      gasUsed["refundJob"] = receipt.gasUsed;
      expect(await balance(requester.address)).toBe(before + 3n * 1000n);
      model.fees -= 3000n;
      await checkAccounting();

      await expectCustomError(market.refundJob(1n), iface, "JobNotExpired", [1n, empty.args[7] + 1n]);
      await nextTxInBlock(empty.args[7] + 1n);
      await wait(market.connect(miners[3]!).getFunction("refundJob")(1n));
      expect(await balance(requester.address)).toBe(before + 3000n + 2n * 999n);
      model.fees -= 2n * 999n;
      await checkAccounting();
      expect(model.fees).toBe(0n);
      await expectCustomError(market.refundJob(1n), iface, "NothingToRefund", [1n]);
      await expectCustomError(market.refundJob(2n), iface, "UnknownJob", [2n]);
    });

    it("mints with the reward per MAC of the proof's epoch (after a halving) and at most up to the cap", async () => {
      // Halving: epoch ≥ halvingEpochs = 10 halves the reward.
      await nextTxInBlock(PARAMS.epochLength * PARAMS.halvingEpochs);
      await wait(post({ kind: 1n, redundancy: 2n }));
      const a = await commit(0n, miners[0]!, 1n);
      await mine(D);
      const receipt = await wait(market.connect(miners[0]!).getFunction("proveJob")(a.id, markedProofs()));
      expect(rewardAt(MACS1, BigInt(receipt.blockNumber))).toBe((MACS1 * PARAMS.initialRewardPerMac) / 2n);
      expect(await token.balanceOf(miners[0]!.address)).toBe((MACS1 * PARAMS.initialRewardPerMac) / 2n);

      // Cap: a deployment whose cap is below one job's reward mints exactly the cap, then 0 (the fee is still paid).
      const cap = (MACS1 * PARAMS.initialRewardPerMac) / 3n;
      const capped = await deployMarket({ ...PARAMS, cap });
      const cappedToken = (await ethers.getContractAt("DemleToken", await capped.token())) as unknown as Token;
      await wait(post({ kind: 1n, redundancy: 2n, on: capped }));
      for (const m of miners.slice(0, 2)) {
        await wait(capped.connect(m).getFunction("commitJob")(0n, 1n, { value: BOND }));
      }
      await mine(D);
      const minted = [];
      for (const [i, m] of miners.slice(0, 2).entries()) {
        const before = await balance(m.address);
        const r = await wait(capped.connect(m).getFunction("proveJob")(BigInt(i), markedProofs()));
        const [, args] = eventsOf(r, capped, await capped.getAddress()).find(([n]) => n === "JobRewardMinted")!;
        minted.push(args[2]);
        expect(await balance(m.address)).toBe(before + FEE_SHARE + BOND - cost(r));
      }
      expect(minted).toEqual([cap, 0n]);
      expect(await cappedToken.totalSupply()).toBe(cap);
    });
  });

  describe("reentrancy", () => {
    let actor: Actor;
    let actorAddress: string;
    const REENTRANT = "0x" + keccakText("ReentrancyGuardReentrantCall()").slice(2, 10);

    beforeEach(async () => {
      actor = (await ethers.deployContract("TestJobMarketActor", [marketAddress], deployer)) as unknown as Actor;
      actorAddress = await actor.getAddress();
    });

    it("a miner contract re-entering proveJob from the payment is refused; it is paid once", async () => {
      await wait(post({ kind: 1n }));
      await wait(actor.getFunction("act")(iface.encodeFunctionData("commitJob", [0n, 9n]), { value: BOND }));
      await mine(D);
      const proofs = markedProofs();
      await wait(actor.getFunction("setReentry")(iface.encodeFunctionData("proveJob", [0n, proofs])));
      await wait(actor.getFunction("act")(iface.encodeFunctionData("proveJob", [0n, proofs])));
      expect(await actor.reentryAttempted()).toBe(true);
      expect(await actor.reentrySucceeded()).toBe(false);
      expect(await actor.reentryResult()).toBe(REENTRANT);
      expect(await actor.received()).toBe(FEE_SHARE + BOND);
      expect(await balance(actorAddress)).toBe(FEE_SHARE + BOND);
      expect(await token.balanceOf(actorAddress)).toBe(rewardAt(MACS1, await latestBlock()));
      expect((await market.assignment(0n)).status).toBe(BigInt(Status.Proven));
      expect(await balance(marketAddress)).toBe(0n);
    });

    it("a miner contract re-entering refundJob of an expired job from its payment is refused", async () => {
      // Job 0 expires while the actor's proof window on job 1 is open: without the guard, its refund would go through.
      const expiring = await postArgs({ kind: 1n, deadline: (await latestBlock()) + 1n + D + W + 1n });
      await wait(market.connect(requester).getFunction("postJob")(...expiring.args, { value: expiring.fee }));
      await wait(post({ kind: 1n }));
      const commitReceipt = await wait(
        actor.getFunction("act")(iface.encodeFunctionData("commitJob", [1n, 9n]), { value: BOND }),
      );
      const proveBlock = expiring.args[7] + 1n;
      expect(proveBlock).toBeLessThanOrEqual(BigInt(commitReceipt.blockNumber) + D + W);
      await wait(actor.getFunction("setReentry")(iface.encodeFunctionData("refundJob", [0n])));
      await nextTxInBlock(proveBlock);
      await wait(actor.getFunction("act")(iface.encodeFunctionData("proveJob", [0n, markedProofs()])));
      expect(await actor.reentryAttempted()).toBe(true);
      expect(await actor.reentrySucceeded()).toBe(false);
      expect(await actor.reentryResult()).toBe(REENTRANT);
      expect(await actor.received()).toBe(FEE_SHARE + BOND);
      expect((await market.job(0n)).refunded).toBe(false);
      const before = await balance(requester.address);
      await wait(market.connect(alice).getFunction("refundJob")(0n));
      expect(await balance(requester.address)).toBe(before + expiring.fee);
    });

    it("a requester contract re-entering refundJob is refused; the refund is paid once", async () => {
      const { args, fee } = await postArgs({ kind: 1n, redundancy: 2n });
      await wait(actor.getFunction("act")(iface.encodeFunctionData("postJob", [...args]), { value: fee }));
      expect((await market.job(0n)).requester).toBe(actorAddress);
      await nextTxInBlock(args[7] + 1n);
      await wait(actor.getFunction("setReentry")(iface.encodeFunctionData("refundJob", [0n])));
      await wait(market.connect(alice).getFunction("refundJob")(0n));
      expect(await actor.reentryAttempted()).toBe(true);
      expect(await actor.reentrySucceeded()).toBe(false);
      expect(await actor.reentryResult()).toBe(REENTRANT);
      expect(await actor.received()).toBe(fee);
      expect(await balance(marketAddress)).toBe(0n);
      await expectCustomError(market.refundJob(0n), iface, "NothingToRefund", [0n]);
    });

    it("a slasher contract re-entering slashJob on the same assignment is refused; the bounty is paid once", async () => {
      await wait(post({ kind: 1n }));
      const a = await commit(0n, miners[0]!, 1n);
      await nextTxInBlock(a.block + D + W + 1n);
      await wait(actor.getFunction("setReentry")(iface.encodeFunctionData("slashJob", [a.id])));
      await wait(actor.getFunction("act")(iface.encodeFunctionData("slashJob", [a.id])));
      expect(await actor.reentrySucceeded()).toBe(false);
      expect(await actor.reentryResult()).toBe(REENTRANT);
      expect(await actor.received()).toBe(BOND / 10n);
      expect(await market.burnedBonds()).toBe(BOND - BOND / 10n);
    });
  });
});
