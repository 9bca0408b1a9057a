// DemleMining end to end on Hardhat 3's in-process network, with a REAL Groth16 verifier: the seed-mode circuit
// Fp8GemmSeedProof(NT = 1, 2×2 tiles, K = 8, grid ≤ 4×4) and P = 2 proofs per commitment, so k = 2 tiles are checked.
// Work is generated from the on-chain seed with common/work.ts, outputs are exact sums rounded once to float32, and
// proofs come from snarkjs. The fixture proves once; tests revert to an EVM snapshot taken after the challenge exists.
import hre from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import {
  AbiCoder,
  ContractFactory,
  ZeroAddress,
  keccak256,
  parseEther,
  toQuantity,
  type BaseContract,
  type ContractRunner,
  type ContractTransactionReceipt,
  type ContractTransactionResponse,
  type Interface,
} from "ethers";
import * as snarkjs from "snarkjs";
import type { Groth16Proof } from "snarkjs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { expectCustomError } from "./helpers/revert.js";
import { honestOutputs } from "./helpers/reference.js";
import { instantiateCircuit } from "../circuits/compile.js";
import { checkTile, exactTile, roundScaledToFloat32Bits } from "../common/numerics.js";
import {
  FIELD_MODULUS,
  challengedTile,
  commitOutputs,
  defineWork,
  encodeShape,
  gemmProofInput,
  generateInputs,
  type GemmTiling,
  type OutputTree,
} from "../common/work.js";
import { setupCircuit, type CircuitSetup } from "../prover/setup.js";
import { terminateBn128Curve } from "../prover/snarkjs-runtime.js";
import { VERIFIER_COMPILER_SETTINGS, compileVerifier } from "../prover/verifier-contract.js";

type Connection = Awaited<ReturnType<typeof hre.network.create>>;
type Tx = Promise<ContractTransactionResponse>;
/** A proof as prove() takes it: [a0, a1, b00, b01, b10, b11, c0, c1] in exportSolidityCallData's order. */
type ProofWords = bigint[];

enum Status {
  None = 0,
  Committed = 1,
  Proven = 2,
  Slashed = 3,
}

interface CommitmentView {
  miner: string;
  epoch: bigint;
  rowBlocksLog2: bigint;
  colBlocksLog2: bigint;
  status: bigint;
  nonce: bigint;
  commitBlock: bigint;
  bond: bigint;
  outputRoot: bigint;
  seed: bigint;
}

/** Typed view of DemleMining (the project has no typechain). */
type Mining = Omit<BaseContract, "connect"> & {
  connect(runner: ContractRunner): Mining;
  FIELD_MODULUS(): Promise<bigint>;
  token(): Promise<string>;
  verifier(): Promise<string>;
  params(): Promise<{ toObject(): Record<string, bigint> }>;
  currentEpoch(): Promise<bigint>;
  epochSeed(epoch: bigint): Promise<bigint>;
  nextNonce(miner: string, epoch: bigint): Promise<bigint>;
  seedFor(miner: string, epoch: bigint, nonce: bigint): Promise<bigint>;
  challengeOf(id: bigint): Promise<bigint>;
  proofChallenge(id: bigint, j: bigint): Promise<bigint>;
  commitments(id: bigint): Promise<CommitmentView & { toObject(): CommitmentView }>;
  commitmentCount(): Promise<bigint>;
  rewardPerMac(epoch: bigint): Promise<bigint>;
  bondFor(dr: number, dc: number): Promise<bigint>;
  macsFor(dr: number, dc: number): Promise<bigint>;
  burnedBonds(): Promise<bigint>;
  openEpoch: (() => Tx) & { staticCall(): Promise<[bigint, bigint]> };
  commit(epoch: bigint, nonce: bigint, outputRoot: bigint, dr: number, dc: number, o?: { value: bigint }): Tx;
  prove(id: bigint, proofs: ProofWords[]): Tx;
  slash(id: bigint): Tx;
};

type Token = Omit<BaseContract, "connect"> & {
  totalSupply(): Promise<bigint>;
  balanceOf(account: string): Promise<bigint>;
  cap(): Promise<bigint>;
  minter(): Promise<string>;
};

type Verifier = BaseContract & {
  verifyProof: ((a: bigint[], b: bigint[][], c: bigint[], pub: bigint[]) => Promise<boolean>) & {
    estimateGas(a: bigint[], b: bigint[][], c: bigint[], pub: bigint[]): Promise<bigint>;
  };
};

const P = FIELD_MODULUS;

/** The demo parameters for the test circuit (docs/protocol.md lists production values). */
const PARAMS = {
  tileRows: 2n,
  tileCols: 2n,
  depth: 8n,
  maxRowBlocksLog2: 2n,
  maxColBlocksLog2: 2n,
  tilesPerProof: 1n,
  proofsPerCommitment: 2n,
  epochLength: 100n,
  challengeDelay: 5n,
  proofWindow: 20n,
  bondPerTile: parseEther("0.01"),
  slashBountyBps: 1_000n,
  initialRewardPerMac: parseEther("0.001"),
  halvingEpochs: 10n,
  cap: parseEther("21000000"),
};
type Params = typeof PARAMS;
/** The circuit's tiling, from the same parameters the contract gets. */
const TILING: GemmTiling = {
  tileRows: Number(PARAMS.tileRows),
  tileCols: Number(PARAMS.tileCols),
  depth: Number(PARAMS.depth),
  maxRowBlocksLog2: Number(PARAMS.maxRowBlocksLog2),
  maxColBlocksLog2: Number(PARAMS.maxColBlocksLog2),
};
const SHAPE = { rowBlocksLog2: 2, colBlocksLog2: 1 } as const;
const WORK = defineWork(TILING, SHAPE);
const DR = SHAPE.rowBlocksLog2;
const DC = SHAPE.colBlocksLog2;
const D = PARAMS.challengeDelay;
const W = PARAMS.proofWindow;
const TILES = 2n ** BigInt(DR + DC);
const MACS = TILES * PARAMS.tileRows * PARAMS.tileCols * PARAMS.depth; // 256
const BOND = TILES * PARAMS.bondPerTile;
const REWARD = MACS * PARAMS.initialRewardPerMac; // epoch 0

const coder = AbiCoder.defaultAbiCoder();
const exportSolidityCallData = (
  snarkjs.groth16 as unknown as {
    exportSolidityCallData(proof: Groth16Proof, publicSignals: readonly string[]): Promise<string>;
  }
).exportSolidityCallData;

interface Work {
  readonly seed: bigint;
  readonly c: Uint32Array;
  readonly tree: OutputTree;
}

async function honestWork(seed: bigint): Promise<Work> {
  const { a, b } = await generateInputs(seed, WORK);
  const c = honestOutputs(a, b, WORK.m, WORK.n, WORK.k);
  return { seed, c, tree: await commitOutputs(c, WORK) };
}

const gasUsed: Record<string, bigint> = {};

describe("DemleMining with a real Groth16 verifier (k = NT·P = 1·2 tiles)", () => {
  let connection: Connection;
  let ethers: Connection["ethers"];
  let deployer: HardhatEthersSigner;
  let miner: HardhatEthersSigner;
  let alice: HardhatEthersSigner;
  let setup: CircuitSetup;
  let verifier: Verifier;
  let verifierAddress: string;
  let mining: Mining;
  let miningAddress: string;
  let token: Token;
  let epoch0: bigint;
  let openReceipt: ContractTransactionReceipt;
  let commitReceipts: ContractTransactionReceipt[];
  let works: Work[];
  let proofs0: ProofWords[];
  let proofOtherTile: ProofWords;
  let otherChallenge: bigint;
  let snapshot: string;

  const request = (method: string, params: unknown[] = []) => connection.provider.request({ method, params });
  const mine = async (blocks: bigint) => {
    if (blocks > 0n) await request("hardhat_mine", [toQuantity(blocks)]);
  };
  const latestBlock = async () => BigInt(await ethers.provider.getBlockNumber());
  /** Mines so that the next transaction lands in block `block`. */
  const nextTxInBlock = async (block: bigint) => {
    const latest = await latestBlock();
    expect(block).toBeGreaterThan(latest);
    await mine(block - latest - 1n);
  };

  async function wait(tx: Tx): Promise<ContractTransactionReceipt> {
    const receipt = await (await tx).wait();
    if (receipt === null) throw new Error("no receipt");
    return receipt;
  }

  /** The events of `contract` in a receipt, as [name, args]. */
  function eventsOf(receipt: ContractTransactionReceipt, contract: { interface: Interface }, address: string) {
    return receipt.logs
      .filter((log) => log.address === address)
      .map((log) => {
        const parsed = contract.interface.parseLog(log);
        if (parsed === null) throw new Error(`unparsed log from ${address}`);
        return [parsed.name, [...parsed.args]] as [string, unknown[]];
      });
  }

  async function deployMining(params: Params): Promise<Mining> {
    return (await ethers.deployContract("DemleMining", [verifierAddress, params], deployer)) as unknown as Mining;
  }

  /** A Groth16 proof of tile(s) chosen by `challenge` for `miner`, as prove() takes it. */
  async function proveTile(work: Work, challenge: bigint, minerAddress: string): Promise<ProofWords> {
    const { input, publicInputs } = await gemmProofInput({
      work: WORK,
      tilesPerProof: Number(PARAMS.tilesPerProof),
      c: work.c,
      tree: work.tree,
      seed: work.seed,
      challenge,
      miner: BigInt(minerAddress),
    });
    const { proof, publicSignals } = await snarkjs.groth16.fullProve(
      input,
      setup.prover.wasmPath,
      setup.prover.zkeyPath,
    );
    const { outputRoot, seed, miner: minerInput, shape } = publicInputs;
    expect(publicSignals.map(BigInt)).toEqual([outputRoot, seed, challenge, minerInput, shape]);
    const [a, b, c] = JSON.parse(`[${await exportSolidityCallData(proof, publicSignals)}]`) as [
      string[],
      string[][],
      string[],
    ];
    const words = [...a, ...b.flat(), ...c].map((x) => BigInt(x));
    // The layout prove() documents: B's coordinate pairs imaginary part first.
    expect(words).toEqual(
      [proof.pi_a[0], proof.pi_a[1], proof.pi_b[0]![1], proof.pi_b[0]![0], proof.pi_b[1]![1], proof.pi_b[1]![0]]
        .concat([proof.pi_c[0], proof.pi_c[1]])
        .map((x) => BigInt(x!)),
    );
    return words;
  }

  /** The inputs the contract passes for proof j of a commitment. */
  async function publicInputsOf(id: bigint, j: bigint): Promise<bigint[]> {
    const c = await mining.commitments(id);
    return [c.outputRoot, c.seed, await mining.proofChallenge(id, j), BigInt(c.miner), encodeShape(SHAPE)];
  }

  const split = (w: ProofWords): [bigint[], bigint[][], bigint[]] => [
    w.slice(0, 2),
    [w.slice(2, 4), w.slice(4, 6)],
    w.slice(6, 8),
  ];

  beforeAll(async () => {
    const t0 = performance.now();
    await hre.tasks.getTask("build").run({ quiet: true });
    connection = await hre.network.create();
    ethers = connection.ethers;
    [deployer, miner, alice] = (await ethers.getSigners()) as [
      HardhatEthersSigner,
      HardhatEthersSigner,
      HardhatEthersSigner,
    ];

    const compiled = await instantiateCircuit(
      "test_mining_1x2x2x8",
      "gemm_seed.circom",
      "Fp8GemmSeedProof",
      [
        PARAMS.tilesPerProof,
        PARAMS.tileRows,
        PARAMS.tileCols,
        PARAMS.depth,
        PARAMS.maxRowBlocksLog2,
        PARAMS.maxColBlocksLog2,
      ],
      ["outputRoot", "seed", "challenge", "miner", "shape"],
    );
    // The power-16 development ptau (a checked copy of ../shared/ptau/pot16_dev.ptau) fits this 5k-constraint circuit.
    setup = await setupCircuit(compiled, { power: 16 });
    const { abi, bytecode } = compileVerifier(setup.verifierPath);
    const verifierFactory = new ContractFactory(abi, bytecode, deployer);
    verifier = (await (await verifierFactory.deploy()).waitForDeployment()) as unknown as Verifier;
    verifierAddress = await verifier.getAddress();

    mining = await deployMining(PARAMS);
    miningAddress = await mining.getAddress();
    token = (await ethers.getContractAt("DemleToken", await mining.token())) as unknown as Token;

    // A miner reads its seeds, computes two works, and commits both.
    const asMiner = mining.connect(miner);
    openReceipt = await wait(asMiner.openEpoch());
    epoch0 = await mining.currentEpoch();
    works = [];
    commitReceipts = [];
    for (const nonce of [0n, 1n]) {
      const work = await honestWork(await mining.seedFor(miner.address, epoch0, nonce));
      works.push(work);
      commitReceipts.push(await wait(asMiner.commit(epoch0, nonce, work.tree.root, DR, DC, { value: BOND })));
    }
    gasUsed["commit (first ever: fresh nonce and counter slots)"] = commitReceipts[0]!.gasUsed;
    gasUsed["commit (next nonce)"] = commitReceipts[1]!.gasUsed;

    // The challenge exists from commitBlock + D + 1 on; views run against the latest block, so mine D + 1 blocks.
    await mine(D + 1n);
    proofs0 = [];
    for (const j of [0n, 1n])
      proofs0.push(await proveTile(works[0]!, await mining.proofChallenge(0n, j), miner.address));

    // A proof of a tile the challenge did not pick: the first candidate challenge that selects another tile.
    const challenged = await challengedTile(await mining.proofChallenge(0n, 0n), 0, WORK);
    otherChallenge = 1n;
    while ((await challengedTile(otherChallenge, 0, WORK)).index === challenged.index) otherChallenge++;
    proofOtherTile = await proveTile(works[0]!, otherChallenge, miner.address);

    snapshot = (await request("evm_snapshot")) as string;
    console.log(
      `mining fixture ready in ${((performance.now() - t0) / 1000).toFixed(1)} s (setup cached: ${setup.cached})`,
    );
  }, 600_000);

  beforeEach(async () => {
    expect(await request("evm_revert", [snapshot])).toBe(true);
    snapshot = (await request("evm_snapshot")) as string;
  });

  afterAll(async () => {
    await connection?.close();
    await terminateBn128Curve(); // fullProve built snarkjs' shared curve and its worker threads
    console.log(
      "DemleMining gas (P = 2, 5k-constraint circuit):\n" +
        Object.entries(gasUsed)
          .map(([what, gas]) => `  ${what}: ${gas.toLocaleString("en-US")}`)
          .join("\n"),
    );
  });

  describe("deployment and views", () => {
    it("compiles the verifier with the Hardhat config's solc settings", () => {
      const compiler = hre.config.solidity.profiles.default!.compilers[0]!;
      expect(compiler.settings).toMatchObject(VERIFIER_COMPILER_SETTINGS);
      expect(compileVerifier(setup.verifierPath).solcVersion.startsWith(`${compiler.version}+`)).toBe(true);
    });

    it("deploys its token with itself as minter and the cap; exposes every parameter", async () => {
      expect(await mining.verifier()).toBe(verifierAddress);
      expect(await token.minter()).toBe(miningAddress);
      expect(await token.cap()).toBe(PARAMS.cap);
      expect(await mining.FIELD_MODULUS()).toBe(P);
      expect((await mining.params()).toObject()).toEqual(PARAMS);
    });

    it("derives epochs, the halving schedule, bonds and MAC counts", async () => {
      expect(await mining.currentEpoch()).toBe((await latestBlock()) / PARAMS.epochLength);
      const r = PARAMS.initialRewardPerMac;
      expect(await mining.rewardPerMac(0n)).toBe(r);
      expect(await mining.rewardPerMac(PARAMS.halvingEpochs - 1n)).toBe(r);
      expect(await mining.rewardPerMac(PARAMS.halvingEpochs)).toBe(r / 2n);
      expect(await mining.rewardPerMac(5n * PARAMS.halvingEpochs + 3n)).toBe(r >> 5n);
      expect(await mining.rewardPerMac(2n ** 64n - 1n)).toBe(0n); // a shift ≥ 256 gives 0
      expect(await mining.bondFor(DR, DC)).toBe(BOND);
      expect(await mining.bondFor(0, 0)).toBe(PARAMS.bondPerTile);
      expect(await mining.macsFor(DR, DC)).toBe(MACS);
      expect(await mining.macsFor(2, 2)).toBe(16n * 32n);
      await expectCustomError(mining.bondFor(3, 0), mining.interface, "ShapeTooLarge", [3n, 0n]);
      await expectCustomError(mining.macsFor(0, 3), mining.interface, "ShapeTooLarge", [0n, 3n]);
    });

    it("opens an epoch once with the documented seed; later calls change nothing", async () => {
      const block = await ethers.provider.getBlock(openReceipt.blockNumber - 1);
      const seed = BigInt(
        keccak256(
          coder.encode(
            ["bytes32", "uint64", "address", "uint256"],
            [block!.hash, epoch0, miningAddress, (await ethers.provider.getNetwork()).chainId],
          ),
        ),
      );
      expect(eventsOf(openReceipt, mining, miningAddress)).toEqual([["EpochOpened", [epoch0, seed]]]);
      expect(await mining.epochSeed(epoch0)).toBe(seed);
      expect([...(await mining.openEpoch.staticCall())]).toEqual([epoch0, seed]);
      const again = await wait(mining.connect(alice).openEpoch());
      expect(again.logs).toEqual([]);
      expect(await mining.epochSeed(epoch0)).toBe(seed);
    });

    it("binds the work seed to the miner, the epoch and the nonce", async () => {
      const epochSeed = await mining.epochSeed(epoch0);
      for (const [who, nonce] of [
        [miner.address, 0n],
        [miner.address, 1n],
        [alice.address, 0n],
      ] as const) {
        const expected = BigInt(keccak256(coder.encode(["uint256", "address", "uint64"], [epochSeed, who, nonce]))) % P;
        expect(await mining.seedFor(who, epoch0, nonce)).toBe(expected);
      }
      expect(works[0]!.seed).not.toBe(works[1]!.seed);
      expect(await mining.seedFor(alice.address, epoch0, 0n)).not.toBe(works[0]!.seed);
      await expectCustomError(mining.seedFor(miner.address, epoch0 + 1n, 0n), mining.interface, "EpochNotOpen", [
        epoch0 + 1n,
      ]);
    });
  });

  describe("constructor validation", () => {
    const cases: [string, Partial<Params>, string, unknown[]][] = [
      ["zero tile rows", { tileRows: 0n }, "InvalidTiling", []],
      ["tiles above 112 words", { tileRows: 12n, tileCols: 10n }, "InvalidTiling", []],
      ["K above 2^18", { depth: 2n ** 18n + 1n }, "InvalidTiling", []],
      ["zero tiles per proof", { tilesPerProof: 0n }, "InvalidTiling", []],
      ["tree deeper than 64", { maxRowBlocksLog2: 40n, maxColBlocksLog2: 25n }, "InvalidTiling", []],
      ["zero proofs", { proofsPerCommitment: 0n }, "InvalidProofsPerCommitment", [0n]],
      ["33 proofs", { proofsPerCommitment: 33n }, "InvalidProofsPerCommitment", [33n]],
      ["zero epoch length", { epochLength: 0n }, "InvalidEpochs", []],
      ["zero halving period", { halvingEpochs: 0n }, "InvalidEpochs", []],
      ["zero delay", { challengeDelay: 0n }, "InvalidChallengeWindow", [0n, W]],
      ["zero window", { proofWindow: 0n }, "InvalidChallengeWindow", [D, 0n]],
      ["D + W = 251", { challengeDelay: 200n, proofWindow: 51n }, "InvalidChallengeWindow", [200n, 51n]],
      ["zero bond", { bondPerTile: 0n }, "InvalidBond", []],
      ["bond of the largest work ≥ 2^128", { bondPerTile: ((2n ** 128n) >> 4n) + 1n }, "InvalidBond", []],
      ["bounty above 100 %", { slashBountyBps: 10_001n }, "InvalidSlashBounty", [10_001n]],
      ["zero reward", { initialRewardPerMac: 0n }, "InvalidReward", []],
      ["reward overflow", { initialRewardPerMac: 2n ** 256n / 512n }, "InvalidReward", []],
      ["zero cap", { cap: 0n }, "InvalidCap", []],
    ];

    it.each(cases)("rejects %s", async (_label, change, error, args) => {
      const factory = await ethers.getContractFactory("DemleMining", deployer);
      await expectCustomError(
        factory.deploy(verifierAddress, { ...PARAMS, ...change }),
        factory.interface,
        error,
        args,
      );
    });

    it("rejects a verifier without code, and accepts the edge values", async () => {
      const factory = await ethers.getContractFactory("DemleMining", deployer);
      await expectCustomError(factory.deploy(alice.address, PARAMS), factory.interface, "InvalidVerifier", [
        alice.address,
      ]);
      const edge = await deployMining({
        ...PARAMS,
        challengeDelay: 230n,
        proofWindow: 20n,
        slashBountyBps: 10_000n,
        bondPerTile: (2n ** 128n - 1n) >> 4n,
        proofsPerCommitment: 32n,
        initialRewardPerMac: (2n ** 256n - 1n) / 512n,
      });
      expect((await edge.params()).toObject().challengeDelay).toBe(230n);
    });
  });

  describe("commit", () => {
    it("records the commitment and emits Committed with every field", async () => {
      const receipt = commitReceipts[0]!;
      const c = await mining.commitments(0n);
      expect({ ...c.toObject() }).toEqual({
        miner: miner.address,
        epoch: epoch0,
        rowBlocksLog2: BigInt(DR),
        colBlocksLog2: BigInt(DC),
        status: BigInt(Status.Committed),
        nonce: 0n,
        commitBlock: BigInt(receipt.blockNumber),
        bond: BOND,
        outputRoot: works[0]!.tree.root,
        seed: works[0]!.seed,
      });
      expect(eventsOf(receipt, mining, miningAddress)).toEqual([
        [
          "Committed",
          [0n, miner.address, epoch0, 0n, works[0]!.tree.root, works[0]!.seed, BigInt(DR), BigInt(DC), MACS, BOND],
        ],
      ]);
      expect(await mining.commitmentCount()).toBe(2n);
      expect(await mining.nextNonce(miner.address, epoch0)).toBe(2n);
      expect(await ethers.provider.getBalance(miningAddress)).toBe(2n * BOND);
    });

    it("reverts with BondMismatch for a bond too small or too large", async () => {
      const asMiner = mining.connect(miner);
      for (const value of [BOND - 1n, BOND + 1n, 0n]) {
        await expectCustomError(
          asMiner.commit(epoch0, 2n, works[0]!.tree.root, DR, DC, { value }),
          mining.interface,
          "BondMismatch",
          [value, BOND],
        );
      }
    });

    it("reverts with WrongNonce for a used or skipped nonce (one computation, one commitment)", async () => {
      const asMiner = mining.connect(miner);
      for (const nonce of [0n, 1n, 3n]) {
        await expectCustomError(
          asMiner.commit(epoch0, nonce, works[0]!.tree.root, DR, DC, { value: BOND }),
          mining.interface,
          "WrongNonce",
          [nonce, 2n],
        );
      }
    });

    it("reverts with ShapeTooLarge beyond the circuit's grid and OutputRootOutOfField for a root ≥ p", async () => {
      const asMiner = mining.connect(miner);
      await expectCustomError(
        asMiner.commit(epoch0, 2n, 1n, 3, 0, { value: 8n * PARAMS.bondPerTile }),
        mining.interface,
        "ShapeTooLarge",
        [3n, 0n],
      );
      await expectCustomError(
        asMiner.commit(epoch0, 2n, 1n, 0, 255, { value: PARAMS.bondPerTile }),
        mining.interface,
        "ShapeTooLarge",
        [0n, 255n],
      );
      for (const root of [P, P + works[0]!.tree.root, 2n ** 256n - 1n]) {
        await expectCustomError(
          asMiner.commit(epoch0, 2n, root, DR, DC, { value: BOND }),
          mining.interface,
          "OutputRootOutOfField",
          [root],
        );
      }
    });

    it("accepts the previous epoch's work (opening the new epoch), and rejects older or future epochs", async () => {
      const asMiner = mining.connect(miner);
      await nextTxInBlock((epoch0 + 1n) * PARAMS.epochLength);
      const receipt = await wait(asMiner.commit(epoch0, 2n, 7n, 0, 0, { value: PARAMS.bondPerTile }));
      const events = eventsOf(receipt, mining, miningAddress);
      expect(events.map(([name]) => name)).toEqual(["EpochOpened", "Committed"]);
      expect(events[0]![1][0]).toBe(epoch0 + 1n);
      expect(events[1]![1].slice(0, 4)).toEqual([2n, miner.address, epoch0, 2n]);

      await nextTxInBlock((epoch0 + 2n) * PARAMS.epochLength);
      for (const epoch of [epoch0, epoch0 + 3n]) {
        await expectCustomError(
          asMiner.commit(epoch, 0n, 7n, 0, 0, { value: PARAMS.bondPerTile }),
          mining.interface,
          "StaleEpoch",
          [epoch, epoch0 + 2n],
        );
      }
    });

    it("reverts with EpochNotOpen for the previous epoch if nobody opened it", async () => {
      await nextTxInBlock((epoch0 + 2n) * PARAMS.epochLength);
      await expectCustomError(
        mining.connect(miner).commit(epoch0 + 1n, 0n, 7n, 0, 0, { value: PARAMS.bondPerTile }),
        mining.interface,
        "EpochNotOpen",
        [epoch0 + 1n],
      );
    });

    it("binds work to the committing identity: another account's commitment of the same root gets another seed", async () => {
      const receipt = await wait(
        mining.connect(alice).commit(epoch0, 0n, works[0]!.tree.root, DR, DC, { value: BOND }),
      );
      const id = BigInt(eventsOf(receipt, mining, miningAddress)[0]![1][0] as bigint);
      expect((await mining.commitments(id)).seed).toBe(await mining.seedFor(alice.address, epoch0, 0n));
      expect((await mining.commitments(id)).seed).not.toBe(works[0]!.seed);
      await mine(D + 1n);
      // Even with the miner's proofs (made for the miner's seed and address), alice cannot prove.
      await expectCustomError(mining.connect(alice).prove(id, proofs0), mining.interface, "InvalidProof", [0n]);
    });
  });

  describe("challenge", () => {
    it("does not exist before commitBlock + D + 1, then is the documented hash; per-proof challenges derive from it", async () => {
      const c = await mining.commitments(0n);
      const challengeBlock = c.commitBlock + D;
      const hash = (await ethers.provider.getBlock(Number(challengeBlock)))!.hash!;
      const challenge =
        BigInt(
          keccak256(
            coder.encode(["bytes32", "uint256", "address", "uint256"], [hash, 0n, miner.address, c.outputRoot]),
          ),
        ) % P;
      expect(await mining.challengeOf(0n)).toBe(challenge);
      for (const j of [0n, 1n]) {
        expect(await mining.proofChallenge(0n, j)).toBe(
          BigInt(keccak256(coder.encode(["uint256", "uint256"], [challenge, j]))) % P,
        );
      }
      await expectCustomError(mining.proofChallenge(0n, 2n), mining.interface, "ProofIndexOutOfRange", [2n, 2n]);
      await expectCustomError(mining.challengeOf(9n), mining.interface, "UnknownCommitment", [9n]);

      const receipt = await wait(mining.connect(miner).commit(epoch0, 2n, 7n, 0, 0, { value: PARAMS.bondPerTile }));
      const ready = BigInt(receipt.blockNumber) + D + 1n;
      await expectCustomError(mining.challengeOf(2n), mining.interface, "ChallengeNotReady", [2n, ready]);
    });

    it("expires with the block hash (ChallengeExpired) after 256 blocks", async () => {
      await mine(256n);
      await expectCustomError(mining.challengeOf(0n), mining.interface, "ChallengeExpired", [0n]);
    });
  });

  describe("prove", () => {
    it("accepts the honest proofs: mints macs · rewardPerMac, returns the bond, emits every event", async () => {
      const before = await ethers.provider.getBalance(miner.address);
      const receipt = await wait(mining.connect(miner).prove(0n, proofs0));
      gasUsed["prove (P = 2)"] = receipt.gasUsed;
      expect(eventsOf(receipt, mining, miningAddress)).toEqual([
        ["ProofAccepted", [0n, miner.address, 2n, MACS]],
        ["RewardMinted", [0n, miner.address, REWARD]],
        ["BondReturned", [0n, miner.address, BOND]],
      ]);
      expect(eventsOf(receipt, token, await token.getAddress())).toEqual([
        ["Transfer", [ZeroAddress, miner.address, REWARD]],
      ]);
      expect(await token.balanceOf(miner.address)).toBe(REWARD);
      expect(await token.totalSupply()).toBe(REWARD);
      expect(await ethers.provider.getBalance(miner.address)).toBe(before + BOND - receipt.gasUsed * receipt.gasPrice);
      expect(await ethers.provider.getBalance(miningAddress)).toBe(BOND); // commitment 1's bond
      expect((await mining.commitments(0n)).status).toBe(BigInt(Status.Proven));
    });

    it("accepts proofs in the last block of the window, rejects them one block later (TooLate)", async () => {
      const last = (await mining.commitments(0n)).commitBlock + D + W;
      await nextTxInBlock(last + 1n);
      await expectCustomError(mining.connect(miner).prove(0n, proofs0), mining.interface, "TooLate", [0n, last]);
      await request("evm_revert", [snapshot]);
      snapshot = (await request("evm_snapshot")) as string;
      await nextTxInBlock(last);
      const receipt = await wait(mining.connect(miner).prove(0n, proofs0));
      expect(receipt.blockNumber).toBe(Number(last));
    });

    it("reverts with TooEarly before the challenge exists", async () => {
      const receipt = await wait(mining.connect(miner).commit(epoch0, 2n, 7n, 0, 0, { value: PARAMS.bondPerTile }));
      const first = BigInt(receipt.blockNumber) + D + 1n;
      await expectCustomError(mining.connect(miner).prove(2n, proofs0), mining.interface, "TooEarly", [2n, first]);
      await nextTxInBlock(first - 1n);
      await expectCustomError(mining.connect(miner).prove(2n, proofs0), mining.interface, "TooEarly", [2n, first]);
    });

    it("reverts with InvalidProof(j) for a tampered proof", async () => {
      const tamperedA = proofs0.map((w) => [...w]);
      tamperedA[0]![0]! += 1n; // A no longer on the curve
      await expectCustomError(mining.connect(miner).prove(0n, tamperedA), mining.interface, "InvalidProof", [0n]);
      const tamperedC = proofs0.map((w) => [...w]);
      tamperedC[1]![7] = (tamperedC[1]![7]! + 1n) % P;
      await expectCustomError(mining.connect(miner).prove(0n, tamperedC), mining.interface, "InvalidProof", [1n]);
    });

    it("reverts with InvalidProof for proofs of tiles that were not challenged", async () => {
      const asMiner = mining.connect(miner);
      const [p0, p1] = proofs0 as [ProofWords, ProofWords];
      // Each proof is valid, but for the other index's challenge.
      await expectCustomError(asMiner.prove(0n, [p1, p0]), mining.interface, "InvalidProof", [0n]);
      // Proof 0 reused for index 1.
      await expectCustomError(asMiner.prove(0n, [p0, p0]), mining.interface, "InvalidProof", [1n]);
      // A valid proof of another tile (made for a challenge the contract did not issue).
      expect(
        await verifier.verifyProof(...split(proofOtherTile), [
          ...(await publicInputsOf(0n, 0n)).slice(0, 2),
          otherChallenge,
          BigInt(miner.address),
          encodeShape(SHAPE),
        ]),
      ).toBe(true);
      await expectCustomError(asMiner.prove(0n, [proofOtherTile, p1]), mining.interface, "InvalidProof", [0n]);
    });

    it("reverts with InvalidProof for valid proofs of another commitment", async () => {
      await expectCustomError(mining.connect(miner).prove(1n, proofs0), mining.interface, "InvalidProof", [0n]);
    });

    it("reverts with NotMiner for anyone else, and the proofs would not verify for a front-runner's address", async () => {
      await expectCustomError(mining.connect(alice).prove(0n, proofs0), mining.interface, "NotMiner", [
        0n,
        alice.address,
      ]);
      const inputs = await publicInputsOf(0n, 0n);
      expect(await verifier.verifyProof(...split(proofs0[0]!), inputs)).toBe(true);
      gasUsed["verifyProof called directly (one proof, with the 21,000 base and calldata)"] =
        await verifier.verifyProof.estimateGas(...split(proofs0[0]!), inputs);
      const asAlice = [...inputs];
      asAlice[3] = BigInt(alice.address);
      expect(await verifier.verifyProof(...split(proofs0[0]!), asAlice)).toBe(false);
    });

    it("the verifier rejects every public input shifted by p (not a field element)", async () => {
      const inputs = await publicInputsOf(0n, 0n);
      for (let i = 0; i < 5; i++) {
        const shifted = [...inputs];
        shifted[i] = shifted[i]! + P;
        expect(await verifier.verifyProof(...split(proofs0[0]!), shifted), `input ${i}`).toBe(false);
      }
    });

    it("reverts with WrongProofCount unless exactly P proofs are given", async () => {
      const asMiner = mining.connect(miner);
      for (const proofs of [[], [proofs0[0]!], [...proofs0, proofs0[0]!]]) {
        await expectCustomError(asMiner.prove(0n, proofs), mining.interface, "WrongProofCount", [
          BigInt(proofs.length),
          2n,
        ]);
      }
    });

    it("reverts with AlreadySettled on replay, and UnknownCommitment for an unknown id", async () => {
      const asMiner = mining.connect(miner);
      await wait(asMiner.prove(0n, proofs0));
      await expectCustomError(asMiner.prove(0n, proofs0), mining.interface, "AlreadySettled", [
        0n,
        BigInt(Status.Proven),
      ]);
      await expectCustomError(mining.connect(alice).slash(0n), mining.interface, "AlreadySettled", [
        0n,
        BigInt(Status.Proven),
      ]);
      await expectCustomError(asMiner.prove(2n, proofs0), mining.interface, "UnknownCommitment", [2n]);
    });
  });

  describe("slash", () => {
    it("reverts with WindowOpen until commitBlock + D + W + 1, then pays the bounty and burns the rest", async () => {
      const c = await mining.commitments(1n);
      const slashable = c.commitBlock + D + W + 1n;
      await expectCustomError(mining.connect(alice).slash(1n), mining.interface, "WindowOpen", [1n, slashable]);
      await nextTxInBlock(slashable - 1n);
      await expectCustomError(mining.connect(alice).slash(1n), mining.interface, "WindowOpen", [1n, slashable]);
      await mine(1n); // the reverted call was only estimated, not mined

      const before = await ethers.provider.getBalance(alice.address);
      const receipt = await wait(mining.connect(alice).slash(1n));
      gasUsed.slash = receipt.gasUsed;
      const bounty = (BOND * PARAMS.slashBountyBps) / 10_000n;
      expect(eventsOf(receipt, mining, miningAddress)).toEqual([
        ["Slashed", [1n, miner.address, alice.address, bounty, BOND - bounty]],
      ]);
      expect(await ethers.provider.getBalance(alice.address)).toBe(
        before + bounty - receipt.gasUsed * receipt.gasPrice,
      );
      expect(await mining.burnedBonds()).toBe(BOND - bounty);
      expect((await mining.commitments(1n)).status).toBe(BigInt(Status.Slashed));
      // Commitment 0's bond (not proven in this test) and the burned part of commitment 1's stay in the contract.
      expect(await ethers.provider.getBalance(miningAddress)).toBe(BOND + BOND - bounty);
      await expectCustomError(mining.connect(alice).slash(1n), mining.interface, "AlreadySettled", [
        1n,
        BigInt(Status.Slashed),
      ]);
      await expectCustomError(mining.connect(miner).prove(1n, proofs0), mining.interface, "AlreadySettled", [
        1n,
        BigInt(Status.Slashed),
      ]);
      await expectCustomError(mining.connect(alice).slash(5n), mining.interface, "UnknownCommitment", [5n]);
    });

    it("a miner whose outputs are wrong everywhere cannot make a proof, and is slashed without a mint", async () => {
      const seed = await mining.seedFor(miner.address, epoch0, 2n);
      const { a, b } = await generateInputs(seed, WORK);
      const { dot, absDot } = exactTile(a, b, WORK.m, WORK.n, WORK.k, "e4m3fn");
      // Every word is pushed +1.0 plus twice the tolerance (T/512) away from the exact sum.
      const c = Uint32Array.from(dot, (s, i) => roundScaledToFloat32Bits(s + (absDot[i]! >> 8n) + (1n << 18n), 18));
      expect(checkTile(a, b, c, WORK.m, WORK.n, WORK.k, "e4m3fn").failures).toHaveLength(WORK.m * WORK.n);
      const cheat: Work = { seed, c, tree: await commitOutputs(c, WORK) };
      const receipt = await wait(mining.connect(miner).commit(epoch0, 2n, cheat.tree.root, DR, DC, { value: BOND }));
      const commitBlock = BigInt(receipt.blockNumber);
      await mine(D + 1n);
      for (const j of [0n, 1n]) {
        await expect(proveTile(cheat, await mining.proofChallenge(2n, j), miner.address)).rejects.toThrow();
      }
      await nextTxInBlock(commitBlock + D + W + 1n);
      const before = await ethers.provider.getBalance(alice.address);
      const slashed = await wait(mining.connect(alice).slash(2n));
      const bounty = (BOND * PARAMS.slashBountyBps) / 10_000n;
      expect(eventsOf(slashed, mining, miningAddress)).toEqual([
        ["Slashed", [2n, miner.address, alice.address, bounty, BOND - bounty]],
      ]);
      expect(await ethers.provider.getBalance(alice.address)).toBe(
        before + bounty - slashed.gasUsed * slashed.gasPrice,
      );
      expect(await mining.burnedBonds()).toBe(BOND - bounty);
      expect((await mining.commitments(2n)).status).toBe(BigInt(Status.Slashed));
      expect(await token.totalSupply()).toBe(0n);
      expect(await token.balanceOf(miner.address)).toBe(0n);
    });
  });

  it("mints only up to the cap, then refuses commitments with CapReached", async () => {
    const cap = REWARD / 2n;
    const capped = await deployMining({ ...PARAMS, cap });
    const cappedAddress = await capped.getAddress();
    const cappedToken = (await ethers.getContractAt("DemleToken", await capped.token())) as unknown as Token;
    const asMiner = capped.connect(miner);
    await wait(asMiner.openEpoch());
    const epoch = await capped.currentEpoch();
    const work = await honestWork(await capped.seedFor(miner.address, epoch, 0n));
    await wait(asMiner.commit(epoch, 0n, work.tree.root, DR, DC, { value: BOND }));
    await mine(D + 1n);
    const proofs: ProofWords[] = [];
    for (const j of [0n, 1n]) proofs.push(await proveTile(work, await capped.proofChallenge(0n, j), miner.address));
    const receipt = await wait(asMiner.prove(0n, proofs));
    expect(eventsOf(receipt, capped, cappedAddress)).toEqual([
      ["ProofAccepted", [0n, miner.address, 2n, MACS]],
      ["RewardMinted", [0n, miner.address, cap]],
      ["BondReturned", [0n, miner.address, BOND]],
    ]);
    expect(await cappedToken.totalSupply()).toBe(cap);
    await expectCustomError(
      asMiner.commit(epoch, 1n, work.tree.root, DR, DC, { value: BOND }),
      capped.interface,
      "CapReached",
    );
  });
});
