// DemleMining end to end on Hardhat 3's in-process network, with a REAL Groth16 verifier: a workload of L = 2 layers,
// both the seed-mode circuit Fp8GemmSeedProof(NT = 1, 2×2 tiles, K = 8, grid ≤ 4×4) but with different shapes (4×2
// and 1×4 tiles), and P = 2 proofs per commitment, so proof j checks layer j mod 2 and k = 2 tiles are checked (one
// per layer). Work is generated from the on-chain seed with common/work.ts, outputs are exact sums rounded once to
// float32, and proofs come from snarkjs. The fixture proves once; tests revert to an EVM snapshot taken after the
// challenge exists. A P = 4 deployment (two proofs per layer) is proven too.
import hre from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import {
  AbiCoder,
  ContractFactory,
  Interface,
  ZeroAddress,
  keccak256,
  parseEther,
  type BaseContract,
  type ContractRunner,
  type ContractTransactionReceipt,
} from "ethers";
import * as snarkjs from "snarkjs";
import type { Groth16Proof } from "snarkjs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { chainControls, eventsOf, wait, type Connection, type Tx } from "./helpers/chain.js";
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
  type GemmWork,
  type OutputTree,
  type WorkShape,
} from "../common/work.js";
import { setupCircuit, type CircuitSetup } from "../prover/setup.js";
import { terminateBn128Curve } from "../prover/snarkjs-runtime.js";
import { VERIFIER_COMPILER_SETTINGS, compileVerifier } from "../prover/verifier-contract.js";

/** A proof as prove() takes it: [a0, a1, b00, b01, b10, b11, c0, c1] in exportSolidityCallData's order. */
type ProofWords = bigint[];

enum Status {
  None = 0,
  Committed = 1,
  Proven = 2,
  Slashed = 3,
}

/** IDemleMining.Layer, as the constructor takes it and layer(i) returns it. */
interface Layer {
  verifier: string;
  macsPerTile: bigint;
  tilesPerProof: bigint;
  maxRowBlocksLog2: bigint;
  maxColBlocksLog2: bigint;
}

interface CommitmentView {
  miner: string;
  epoch: bigint;
  status: bigint;
  nonce: bigint;
  commitBlock: bigint;
  bond: bigint;
  seed: bigint;
  outputRoots: bigint[];
  shapes: bigint[];
}

/** Typed view of DemleMining (the project has no typechain). */
type Mining = Omit<BaseContract, "connect"> & {
  connect(runner: ContractRunner): Mining;
  FIELD_MODULUS(): Promise<bigint>;
  MAX_LAYERS(): Promise<bigint>;
  token(): Promise<string>;
  layerCount(): Promise<bigint>;
  layer(index: bigint): Promise<Layer & { toObject(): Layer }>;
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
  bondFor(shapes: bigint[]): Promise<bigint>;
  macsFor(shapes: bigint[]): Promise<bigint>;
  burnedBonds(): Promise<bigint>;
  openEpoch: (() => Tx) & { staticCall(): Promise<[bigint, bigint]> };
  commit(epoch: bigint, nonce: bigint, outputRoots: bigint[], shapes: bigint[], o?: { value: bigint }): Tx;
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

/** The test circuit's tiling: every layer of the test workload uses it. */
const TILING: GemmTiling = { tileRows: 2, tileCols: 2, depth: 8, maxRowBlocksLog2: 2, maxColBlocksLog2: 2 };
const TILES_PER_PROOF = 1;
const MACS_PER_TILE = BigInt(TILING.tileRows * TILING.tileCols * TILING.depth); // 32
/** The workload's shapes: layer 0 has 4×2 tiles, layer 1 1×4 (its shape input uses the dc byte). */
const SHAPES: readonly WorkShape[] = [
  { rowBlocksLog2: 2, colBlocksLog2: 1 },
  { rowBlocksLog2: 0, colBlocksLog2: 2 },
];
const L = SHAPES.length;
const WORKS: readonly GemmWork[] = SHAPES.map((shape) => defineWork(TILING, shape));
const SHAPE_WORDS = SHAPES.map(encodeShape); // [2, 512]

/** The demo parameters for the test workload (docs/protocol.md lists production values). */
const PARAMS = {
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
const D = PARAMS.challengeDelay;
const W = PARAMS.proofWindow;
const TILES = SHAPES.map((s) => 2n ** BigInt(s.rowBlocksLog2 + s.colBlocksLog2)); // [8, 4]
const TOTAL_TILES = TILES.reduce((a, b) => a + b); // 12
const MACS = TOTAL_TILES * MACS_PER_TILE; // 384
const BOND = TOTAL_TILES * PARAMS.bondPerTile;
const REWARD = MACS * PARAMS.initialRewardPerMac; // epoch 0
/** The smallest workload (one tile per layer), for commitments whose roots do not matter. */
const SMALL_SHAPES = [0n, 0n];
const SMALL_ROOTS = [7n, 8n];
const SMALL_BOND = BigInt(L) * PARAMS.bondPerTile;

const coder = AbiCoder.defaultAbiCoder();
const PANIC = Interface.from(["error Panic(uint256 code)"]);
const exportSolidityCallData = (
  snarkjs.groth16 as unknown as {
    exportSolidityCallData(proof: Groth16Proof, publicSignals: readonly string[]): Promise<string>;
  }
).exportSolidityCallData;

interface LayerWork {
  readonly work: GemmWork;
  readonly c: Uint32Array;
  readonly tree: OutputTree;
}

/** The outputs of every layer for one seed. */
interface Workload {
  readonly seed: bigint;
  readonly layers: readonly LayerWork[];
  readonly roots: bigint[];
}

async function honestLayer(seed: bigint, layer: number): Promise<LayerWork> {
  const work = WORKS[layer]!;
  const { a, b } = await generateInputs(seed, work);
  const c = honestOutputs(a, b, work.m, work.n, work.k);
  return { work, c, tree: await commitOutputs(c, work) };
}

function workload(seed: bigint, layers: readonly LayerWork[]): Workload {
  return { seed, layers, roots: layers.map((l) => l.tree.root) };
}

async function honestWorkload(seed: bigint): Promise<Workload> {
  const layers: LayerWork[] = [];
  for (let l = 0; l < L; l++) layers.push(await honestLayer(seed, l));
  return workload(seed, layers);
}

const gasUsed: Record<string, bigint> = {};

describe("DemleMining with a real Groth16 verifier (L = 2 layers, k = NT·P = 1·2 tiles)", () => {
  let connection: Connection;
  let ethers: Connection["ethers"];
  let deployer: HardhatEthersSigner;
  let miner: HardhatEthersSigner;
  let alice: HardhatEthersSigner;
  let setup: CircuitSetup;
  let verifier: Verifier;
  let verifierAddress: string;
  let layers: Layer[];
  let mining: Mining;
  let miningAddress: string;
  let token: Token;
  let epoch0: bigint;
  let openReceipt: ContractTransactionReceipt;
  let commitReceipts: ContractTransactionReceipt[];
  let works: Workload[];
  let proofs0: ProofWords[];
  let proofOtherTile: ProofWords;
  let otherChallenge: bigint;
  /** Valid proofs of commitment 0 with the wrong layer's root and shape: layer 0's for index 1, layer 1's for 0. */
  let proofLayer0ForIndex1: ProofWords;
  let proofLayer1ForIndex0: ProofWords;

  const { mine, latestBlock, nextTxInBlock, takeSnapshot, revertToSnapshot } = chainControls(() => connection);

  /** A commitment as a plain object (its arrays as plain arrays). */
  async function commitmentOf(contract: Mining, id: bigint): Promise<CommitmentView> {
    const c = await contract.commitments(id);
    return { ...c.toObject(), outputRoots: [...c.outputRoots], shapes: [...c.shapes] };
  }

  const layerOf = (address: string, change: Partial<Layer> = {}): Layer => ({
    verifier: address,
    macsPerTile: MACS_PER_TILE,
    tilesPerProof: BigInt(TILES_PER_PROOF),
    maxRowBlocksLog2: BigInt(TILING.maxRowBlocksLog2),
    maxColBlocksLog2: BigInt(TILING.maxColBlocksLog2),
    ...change,
  });

  async function deployMining(params: Params, workloadLayers: Layer[] = layers): Promise<Mining> {
    return (await ethers.deployContract("DemleMining", [workloadLayers, params, []], deployer)) as unknown as Mining;
  }

  /** A Groth16 proof of the tile(s) of `layer` chosen by `challenge` for `miner`, as prove() takes it. */
  async function proveLayer(w: Workload, layer: number, challenge: bigint, minerAddress: string): Promise<ProofWords> {
    const { work, c, tree } = w.layers[layer]!;
    const { input, publicInputs } = await gemmProofInput({
      work,
      tilesPerProof: TILES_PER_PROOF,
      c,
      tree,
      seed: w.seed,
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
    const [a, b, cWords] = JSON.parse(`[${await exportSolidityCallData(proof, publicSignals)}]`) as [
      string[],
      string[][],
      string[],
    ];
    const words = [...a, ...b.flat(), ...cWords].map((x) => BigInt(x));
    // The layout prove() documents: B's coordinate pairs imaginary part first.
    expect(words).toEqual(
      [proof.pi_a[0], proof.pi_a[1], proof.pi_b[0]![1], proof.pi_b[0]![0], proof.pi_b[1]![1], proof.pi_b[1]![0]]
        .concat([proof.pi_c[0], proof.pi_c[1]])
        .map((x) => BigInt(x!)),
    );
    return words;
  }

  /** The honest proofs of commitment `id` of `contract`: proof j of layer j mod L for proofChallenge(id, j). */
  async function proveCommitment(contract: Mining, id: bigint, w: Workload, count: number): Promise<ProofWords[]> {
    const proofs: ProofWords[] = [];
    for (let j = 0; j < count; j++) {
      proofs.push(await proveLayer(w, j % L, await contract.proofChallenge(id, BigInt(j)), miner.address));
    }
    return proofs;
  }

  /** The inputs the contract passes for proof j of a commitment: those of layer j mod L. */
  async function publicInputsOf(id: bigint, j: bigint): Promise<bigint[]> {
    const c = await mining.commitments(id);
    const layer = Number(j % BigInt(L));
    return [c.outputRoots[layer]!, c.seed, await mining.proofChallenge(id, j), BigInt(c.miner), c.shapes[layer]!];
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
        TILES_PER_PROOF,
        TILING.tileRows,
        TILING.tileCols,
        TILING.depth,
        TILING.maxRowBlocksLog2,
        TILING.maxColBlocksLog2,
      ],
      ["outputRoot", "seed", "challenge", "miner", "shape"],
    );
    // The power-16 development ptau (a checked copy of ../shared/ptau/pot16_dev.ptau) fits this 5k-constraint circuit.
    setup = await setupCircuit(compiled, { power: 16 });
    const { abi, bytecode } = compileVerifier(setup.verifierPath);
    const verifierFactory = new ContractFactory(abi, bytecode, deployer);
    verifier = (await (await verifierFactory.deploy()).waitForDeployment()) as unknown as Verifier;
    verifierAddress = await verifier.getAddress();
    // Both layers are the same circuit (hence the same verifier); their shapes tell them apart.
    layers = SHAPES.map(() => layerOf(verifierAddress));

    mining = await deployMining(PARAMS);
    miningAddress = await mining.getAddress();
    token = (await ethers.getContractAt("DemleToken", await mining.token())) as unknown as Token;

    // A miner reads its seeds, computes two workloads (two layers each), and commits both.
    const asMiner = mining.connect(miner);
    openReceipt = await wait(asMiner.openEpoch());
    epoch0 = await mining.currentEpoch();
    works = [];
    commitReceipts = [];
    for (const nonce of [0n, 1n]) {
      const w = await honestWorkload(await mining.seedFor(miner.address, epoch0, nonce));
      works.push(w);
      commitReceipts.push(await wait(asMiner.commit(epoch0, nonce, w.roots, SHAPE_WORDS, { value: BOND })));
    }
    gasUsed["commit (L = 2; first ever: fresh nonce and counter slots)"] = commitReceipts[0]!.gasUsed;
    gasUsed["commit (L = 2; next nonce)"] = commitReceipts[1]!.gasUsed;

    // The challenge exists from commitBlock + D + 1 on; views run against the latest block, so mine D + 1 blocks.
    await mine(D + 1n);
    proofs0 = await proveCommitment(mining, 0n, works[0]!, Number(PARAMS.proofsPerCommitment));

    // A proof of a layer-0 tile the challenge did not pick: the first candidate challenge that selects another tile.
    const challenged = await challengedTile(await mining.proofChallenge(0n, 0n), 0, WORKS[0]!);
    otherChallenge = 1n;
    while ((await challengedTile(otherChallenge, 0, WORKS[0]!)).index === challenged.index) otherChallenge++;
    proofOtherTile = await proveLayer(works[0]!, 0, otherChallenge, miner.address);

    // Proofs of the right challenge but the wrong layer.
    proofLayer0ForIndex1 = await proveLayer(works[0]!, 0, await mining.proofChallenge(0n, 1n), miner.address);
    proofLayer1ForIndex0 = await proveLayer(works[0]!, 1, await mining.proofChallenge(0n, 0n), miner.address);

    await takeSnapshot();
    console.log(
      `mining fixture ready in ${((performance.now() - t0) / 1000).toFixed(1)} s (setup cached: ${setup.cached})`,
    );
  }, 600_000);

  beforeEach(async () => {
    await revertToSnapshot();
  });

  afterAll(async () => {
    await connection?.close();
    await terminateBn128Curve(); // fullProve built snarkjs' shared curve and its worker threads
    console.log(
      "DemleMining gas (L = 2 layers of a 5k-constraint circuit):\n" +
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

    it("deploys its token with itself as minter and the cap; exposes every parameter and layer", async () => {
      expect(await token.minter()).toBe(miningAddress);
      expect(await token.cap()).toBe(PARAMS.cap);
      expect(await mining.FIELD_MODULUS()).toBe(P);
      expect(await mining.MAX_LAYERS()).toBe(8n);
      expect((await mining.params()).toObject()).toEqual(PARAMS);
      expect(await mining.layerCount()).toBe(BigInt(L));
      for (let i = 0; i < L; i++) expect((await mining.layer(BigInt(i))).toObject()).toEqual(layers[i]);
      // layer(i) reads the layer array: an index ≥ L is Solidity's out-of-bounds panic (0x32).
      for (const index of [BigInt(L), 2n ** 256n - 1n]) {
        await expectCustomError(mining.layer(index), PANIC, "Panic", [0x32n]);
      }
      expect(mining.interface.getFunction("verifier")).toBeNull(); // one verifier per layer now
      // An unknown id reads as an empty commitment.
      expect(await commitmentOf(mining, 9n)).toEqual({
        miner: ZeroAddress,
        epoch: 0n,
        status: BigInt(Status.None),
        nonce: 0n,
        commitBlock: 0n,
        bond: 0n,
        seed: 0n,
        outputRoots: [],
        shapes: [],
      });
    });

    it("derives epochs, the halving schedule, and bonds and MAC counts summed over the layers", async () => {
      expect(await mining.currentEpoch()).toBe((await latestBlock()) / PARAMS.epochLength);
      const r = PARAMS.initialRewardPerMac;
      expect(await mining.rewardPerMac(0n)).toBe(r);
      expect(await mining.rewardPerMac(PARAMS.halvingEpochs - 1n)).toBe(r);
      expect(await mining.rewardPerMac(PARAMS.halvingEpochs)).toBe(r / 2n);
      expect(await mining.rewardPerMac(5n * PARAMS.halvingEpochs + 3n)).toBe(r >> 5n);
      expect(await mining.rewardPerMac(2n ** 64n - 1n)).toBe(0n); // a shift ≥ 256 gives 0
      expect(await mining.bondFor(SHAPE_WORDS)).toBe(BOND);
      expect(await mining.bondFor(SMALL_SHAPES)).toBe(SMALL_BOND);
      expect(await mining.macsFor(SHAPE_WORDS)).toBe(MACS);
      expect(await mining.macsFor([2n + 256n * 2n, 0n])).toBe(17n * 32n);
      expect(await mining.macsFor([2n + 256n * 2n, 2n + 256n * 2n])).toBe(32n * 32n);
      for (const [shapes, layer, shape] of [
        [[3n, 0n], 0n, 3n],
        [[0n, 3n], 1n, 3n],
        [[0n, 3n * 256n], 1n, 768n],
        [[SHAPE_WORDS[0]!, 255n], 1n, 255n],
        [[0n, 0xffffn], 1n, 0xffffn],
      ] as const) {
        await expectCustomError(mining.bondFor([...shapes]), mining.interface, "ShapeTooLarge", [layer, shape]);
        await expectCustomError(mining.macsFor([...shapes]), mining.interface, "ShapeTooLarge", [layer, shape]);
      }
      for (const shapes of [[], [SHAPE_WORDS[0]!], [...SHAPE_WORDS, 0n]]) {
        await expectCustomError(mining.bondFor(shapes), mining.interface, "WrongLayerCount", [
          BigInt(shapes.length),
          BigInt(L),
        ]);
        await expectCustomError(mining.macsFor(shapes), mining.interface, "WrongLayerCount", [
          BigInt(shapes.length),
          BigInt(L),
        ]);
      }
    });

    it("weights each layer by its own work per tile and checks each shape against its own grid", async () => {
      const mixed = [
        layerOf(verifierAddress),
        layerOf(verifierAddress, { macsPerTile: 1n, maxRowBlocksLog2: 1n, maxColBlocksLog2: 3n, tilesPerProof: 2n }),
        // Any contract can be a layer's verifier as far as the constructor can tell (here the token).
        layerOf(await token.getAddress(), {
          macsPerTile: 1_000n,
          maxRowBlocksLog2: 3n,
          maxColBlocksLog2: 1n,
        }),
      ];
      const three = await deployMining({ ...PARAMS, proofsPerCommitment: 3n }, mixed);
      expect(await three.layerCount()).toBe(3n);
      for (let i = 0; i < 3; i++) expect((await three.layer(BigInt(i))).toObject()).toEqual(mixed[i]);
      // Layer 0: 2^(1+1) tiles of 32, layer 1: 2^(0+3) of 1, layer 2: 2^(3+1) of 1000.
      const shapes = [1n + 256n, 3n * 256n, 3n + 256n];
      expect(await three.macsFor(shapes)).toBe(4n * 32n + 8n + 16n * 1_000n);
      expect(await three.bondFor(shapes)).toBe((4n + 8n + 16n) * PARAMS.bondPerTile);
      await expectCustomError(three.macsFor([0n, 2n, 0n]), three.interface, "ShapeTooLarge", [1n, 2n]);
      await expectCustomError(three.bondFor([0n, 0n, 2n * 256n]), three.interface, "ShapeTooLarge", [2n, 512n]);
      await expectCustomError(three.bondFor(SHAPE_WORDS), three.interface, "WrongLayerCount", [2n, 3n]);
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
    /** Largest values the 4-deep test layers allow: every layer's largest bond < 2^125, Σ rewards < 2^256. */
    const MAX_BOND = (2n ** 128n - 1n) >> 7n;
    const MAX_REWARD = (2n ** 256n - 1n) / ((MACS_PER_TILE << 4n) * 8n);
    const paramCases: [string, Partial<Params>, string, unknown[]][] = [
      ["zero proofs", { proofsPerCommitment: 0n }, "InvalidProofsPerCommitment", [0n]],
      ["fewer proofs than layers (P = 1 < L = 2)", { proofsPerCommitment: 1n }, "InvalidProofsPerCommitment", [1n]],
      ["33 proofs", { proofsPerCommitment: 33n }, "InvalidProofsPerCommitment", [33n]],
      ["zero epoch length", { epochLength: 0n }, "InvalidEpochs", []],
      ["zero halving period", { halvingEpochs: 0n }, "InvalidEpochs", []],
      ["zero delay", { challengeDelay: 0n }, "InvalidChallengeWindow", [0n, W]],
      ["zero window", { proofWindow: 0n }, "InvalidChallengeWindow", [D, 0n]],
      ["D + W = 251", { challengeDelay: 200n, proofWindow: 51n }, "InvalidChallengeWindow", [200n, 51n]],
      ["zero bond", { bondPerTile: 0n }, "InvalidBond", []],
      ["a layer's largest bond ≥ 2^125", { bondPerTile: MAX_BOND + 1n }, "InvalidBond", []],
      ["bounty above 100 %", { slashBountyBps: 10_001n }, "InvalidSlashBounty", [10_001n]],
      ["zero reward", { initialRewardPerMac: 0n }, "InvalidReward", []],
      ["reward overflow", { initialRewardPerMac: MAX_REWARD + 1n }, "InvalidReward", []],
      ["zero cap", { cap: 0n }, "InvalidCap", []],
    ];

    it.each(paramCases)("rejects %s", async (_label, change, error, args) => {
      const factory = await ethers.getContractFactory("DemleMining", deployer);
      await expectCustomError(factory.deploy(layers, { ...PARAMS, ...change }, []), factory.interface, error, args);
    });

    const layerCases: [string, Partial<Layer>][] = [
      ["zero work per tile", { macsPerTile: 0n }],
      ["zero tiles per proof", { tilesPerProof: 0n }],
      ["zero MAX_DR", { maxRowBlocksLog2: 0n }],
      ["zero MAX_DC", { maxColBlocksLog2: 0n }],
      ["a tree deeper than 64", { maxRowBlocksLog2: 40n, maxColBlocksLog2: 25n }],
    ];

    it.each(layerCases)("rejects a layer (layer 1) with %s", async (_label, change) => {
      const factory = await ethers.getContractFactory("DemleMining", deployer);
      await expectCustomError(
        factory.deploy([layers[0]!, layerOf(verifierAddress, change)], PARAMS, []),
        factory.interface,
        "InvalidLayer",
        [1n],
      );
    });

    it("rejects no layers and more than MAX_LAYERS = 8 (InvalidLayerCount)", async () => {
      const factory = await ethers.getContractFactory("DemleMining", deployer);
      await expectCustomError(factory.deploy([], PARAMS, []), factory.interface, "InvalidLayerCount", [0n]);
      const nine = Array.from({ length: 9 }, () => layerOf(verifierAddress));
      await expectCustomError(
        factory.deploy(nine, { ...PARAMS, proofsPerCommitment: 9n }, []),
        factory.interface,
        "InvalidLayerCount",
        [9n],
      );
    });

    it("rejects a layer verifier without code (InvalidVerifier with the layer's index)", async () => {
      const factory = await ethers.getContractFactory("DemleMining", deployer);
      await expectCustomError(
        factory.deploy([layers[0]!, layerOf(alice.address)], PARAMS, []),
        factory.interface,
        "InvalidVerifier",
        [1n, alice.address],
      );
      await expectCustomError(
        factory.deploy([layerOf(ZeroAddress), layers[1]!], PARAMS, []),
        factory.interface,
        "InvalidVerifier",
        [0n, ZeroAddress],
      );
    });

    it("accepts the edge values", async () => {
      // Eight layers with P = L, the widest window, a 100 % bounty, the largest bond and reward.
      const eight = Array.from({ length: 8 }, () => layerOf(verifierAddress));
      const edge = await deployMining(
        {
          ...PARAMS,
          challengeDelay: 230n,
          proofWindow: 20n,
          slashBountyBps: 10_000n,
          bondPerTile: MAX_BOND,
          proofsPerCommitment: 8n,
          initialRewardPerMac: MAX_REWARD,
        },
        eight,
      );
      expect((await edge.params()).toObject().challengeDelay).toBe(230n);
      expect(await edge.layerCount()).toBe(8n);
      const largest = Array.from({ length: 8 }, () => 2n + 256n * 2n);
      expect(await edge.bondFor(largest)).toBe(8n * 16n * MAX_BOND); // < 2^128
      expect(await edge.macsFor(largest)).toBe(8n * 16n * MACS_PER_TILE);
      // One layer, 32 proofs, a 64-deep tree.
      const deep = await deployMining({ ...PARAMS, proofsPerCommitment: 32n }, [
        layerOf(verifierAddress, { maxRowBlocksLog2: 40n, maxColBlocksLog2: 24n }),
      ]);
      expect(await deep.macsFor([40n + 256n * 24n])).toBe(MACS_PER_TILE << 64n);
    });
  });

  describe("commit", () => {
    it("records the commitment and emits Committed with every field", async () => {
      const receipt = commitReceipts[0]!;
      expect(await commitmentOf(mining, 0n)).toEqual({
        miner: miner.address,
        epoch: epoch0,
        status: BigInt(Status.Committed),
        nonce: 0n,
        commitBlock: BigInt(receipt.blockNumber),
        bond: BOND,
        seed: works[0]!.seed,
        outputRoots: works[0]!.roots,
        shapes: SHAPE_WORDS,
      });
      expect(works[0]!.roots[0]).not.toBe(works[0]!.roots[1]);
      expect(eventsOf(receipt, mining, miningAddress)).toEqual([
        ["Committed", [0n, miner.address, epoch0, 0n, works[0]!.seed, works[0]!.roots, SHAPE_WORDS, MACS, BOND]],
      ]);
      expect(await mining.commitmentCount()).toBe(2n);
      expect(await mining.nextNonce(miner.address, epoch0)).toBe(2n);
      expect(await ethers.provider.getBalance(miningAddress)).toBe(2n * BOND);
    });

    it("reverts with BondMismatch for a bond too small or too large", async () => {
      const asMiner = mining.connect(miner);
      // The bond of one layer only is too small too.
      for (const value of [BOND - 1n, BOND + 1n, 0n, TILES[0]! * PARAMS.bondPerTile]) {
        await expectCustomError(
          asMiner.commit(epoch0, 2n, works[0]!.roots, SHAPE_WORDS, { value }),
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
          asMiner.commit(epoch0, nonce, works[0]!.roots, SHAPE_WORDS, { value: BOND }),
          mining.interface,
          "WrongNonce",
          [nonce, 2n],
        );
      }
    });

    it("reverts with WrongLayerCount unless it gets one root and one shape per layer", async () => {
      const asMiner = mining.connect(miner);
      const [r0, r1] = works[0]!.roots as [bigint, bigint];
      const cases: [bigint[], bigint[], bigint][] = [
        [[], SHAPE_WORDS, 0n],
        [[r0], SHAPE_WORDS, 1n],
        [[r0, r1, r0], SHAPE_WORDS, 3n],
        [works[0]!.roots, [], 0n],
        [works[0]!.roots, [SHAPE_WORDS[0]!], 1n],
        [works[0]!.roots, [...SHAPE_WORDS, 0n], 3n],
      ];
      for (const [roots, shapes, given] of cases) {
        await expectCustomError(
          asMiner.commit(epoch0, 2n, roots, shapes, { value: BOND }),
          mining.interface,
          "WrongLayerCount",
          [given, BigInt(L)],
        );
      }
    });

    it("reverts with ShapeTooLarge beyond a layer's grid and OutputRootOutOfField for a root ≥ p, in either layer", async () => {
      const asMiner = mining.connect(miner);
      const roots = works[0]!.roots;
      for (const [shapes, layer, shape] of [
        [[3n, SHAPE_WORDS[1]!], 0n, 3n],
        [[SHAPE_WORDS[0]!, 3n], 1n, 3n],
        [[SHAPE_WORDS[0]!, 3n * 256n], 1n, 768n],
        [[SHAPE_WORDS[0]!, 255n * 256n], 1n, 255n * 256n],
      ] as const) {
        await expectCustomError(
          asMiner.commit(epoch0, 2n, roots, [...shapes], { value: BOND }),
          mining.interface,
          "ShapeTooLarge",
          [layer, shape],
        );
      }
      for (const root of [P, P + roots[1]!, 2n ** 256n - 1n]) {
        await expectCustomError(
          asMiner.commit(epoch0, 2n, [roots[0]!, root], SHAPE_WORDS, { value: BOND }),
          mining.interface,
          "OutputRootOutOfField",
          [1n, root],
        );
        await expectCustomError(
          asMiner.commit(epoch0, 2n, [root, roots[1]!], SHAPE_WORDS, { value: BOND }),
          mining.interface,
          "OutputRootOutOfField",
          [0n, root],
        );
      }
      // p − 1 is a field element.
      await wait(asMiner.commit(epoch0, 2n, [P - 1n, P - 1n], SMALL_SHAPES, { value: SMALL_BOND }));
    });

    it("accepts the previous epoch's work (opening the new epoch), and rejects older or future epochs", async () => {
      const asMiner = mining.connect(miner);
      await nextTxInBlock((epoch0 + 1n) * PARAMS.epochLength);
      const receipt = await wait(asMiner.commit(epoch0, 2n, SMALL_ROOTS, SMALL_SHAPES, { value: SMALL_BOND }));
      const events = eventsOf(receipt, mining, miningAddress);
      expect(events.map(([name]) => name)).toEqual(["EpochOpened", "Committed"]);
      expect(events[0]![1][0]).toBe(epoch0 + 1n);
      expect(events[1]![1].slice(0, 4)).toEqual([2n, miner.address, epoch0, 2n]);
      expect(events[1]![1].slice(5)).toEqual([SMALL_ROOTS, SMALL_SHAPES, BigInt(L) * MACS_PER_TILE, SMALL_BOND]);

      await nextTxInBlock((epoch0 + 2n) * PARAMS.epochLength);
      for (const epoch of [epoch0, epoch0 + 3n]) {
        await expectCustomError(
          asMiner.commit(epoch, 0n, SMALL_ROOTS, SMALL_SHAPES, { value: SMALL_BOND }),
          mining.interface,
          "StaleEpoch",
          [epoch, epoch0 + 2n],
        );
      }
    });

    it("reverts with EpochNotOpen for the previous epoch if nobody opened it", async () => {
      await nextTxInBlock((epoch0 + 2n) * PARAMS.epochLength);
      await expectCustomError(
        mining.connect(miner).commit(epoch0 + 1n, 0n, SMALL_ROOTS, SMALL_SHAPES, { value: SMALL_BOND }),
        mining.interface,
        "EpochNotOpen",
        [epoch0 + 1n],
      );
    });

    it("binds work to the committing identity: another account's commitment of the same roots gets another seed", async () => {
      const receipt = await wait(
        mining.connect(alice).commit(epoch0, 0n, works[0]!.roots, SHAPE_WORDS, { value: BOND }),
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
    it("does not exist before commitBlock + D + 1, then is the documented hash of every root; per-proof challenges derive from it", async () => {
      const c = await mining.commitments(0n);
      const challengeBlock = c.commitBlock + D;
      const hash = (await ethers.provider.getBlock(Number(challengeBlock)))!.hash!;
      const challenge =
        BigInt(
          keccak256(
            coder.encode(["bytes32", "uint256", "address", "uint256[]"], [hash, 0n, miner.address, works[0]!.roots]),
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

      const receipt = await wait(
        mining.connect(miner).commit(epoch0, 2n, SMALL_ROOTS, SMALL_SHAPES, { value: SMALL_BOND }),
      );
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
        ["ProofAccepted", [0n, miner.address, 2n * BigInt(TILES_PER_PROOF), MACS]],
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
      await revertToSnapshot();
      await nextTxInBlock(last);
      const receipt = await wait(mining.connect(miner).prove(0n, proofs0));
      expect(receipt.blockNumber).toBe(Number(last));
    });

    it("reverts with TooEarly before the challenge exists", async () => {
      const receipt = await wait(
        mining.connect(miner).commit(epoch0, 2n, SMALL_ROOTS, SMALL_SHAPES, { value: SMALL_BOND }),
      );
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
      // Each proof is valid, but for the other index's challenge (and layer).
      await expectCustomError(asMiner.prove(0n, [p1, p0]), mining.interface, "InvalidProof", [0n]);
      // Proof 0 reused for index 1.
      await expectCustomError(asMiner.prove(0n, [p0, p0]), mining.interface, "InvalidProof", [1n]);
      // A valid proof of another layer-0 tile (made for a challenge the contract did not issue).
      const inputs = await publicInputsOf(0n, 0n);
      inputs[2] = otherChallenge;
      expect(await verifier.verifyProof(...split(proofOtherTile), inputs)).toBe(true);
      await expectCustomError(asMiner.prove(0n, [proofOtherTile, p1]), mining.interface, "InvalidProof", [0n]);
    });

    it("checks proof j against layer j mod L: a valid proof for the right challenge but the other layer's root and shape is rejected", async () => {
      const asMiner = mining.connect(miner);
      const [p0, p1] = proofs0 as [ProofWords, ProofWords];
      const [root0, root1] = works[0]!.roots as [bigint, bigint];
      const [shape0, shape1] = SHAPE_WORDS as [bigint, bigint];
      const seed = works[0]!.seed;
      const [ch0, ch1] = [await mining.proofChallenge(0n, 0n), await mining.proofChallenge(0n, 1n)];
      const minerInput = BigInt(miner.address);
      // What the contract passes: index 0 gets layer 0's root and shape, index 1 layer 1's.
      expect(await publicInputsOf(0n, 0n)).toEqual([root0, seed, ch0, minerInput, shape0]);
      expect(await publicInputsOf(0n, 1n)).toEqual([root1, seed, ch1, minerInput, shape1]);
      expect(await verifier.verifyProof(...split(p1), [root1, seed, ch1, minerInput, shape1])).toBe(true);
      expect(await verifier.verifyProof(...split(p1), [root0, seed, ch1, minerInput, shape0])).toBe(false);
      // Layer 0's proof for index 1's challenge is valid for layer 0, and rejected at index 1.
      expect(await verifier.verifyProof(...split(proofLayer0ForIndex1), [root0, seed, ch1, minerInput, shape0])).toBe(
        true,
      );
      await expectCustomError(asMiner.prove(0n, [p0, proofLayer0ForIndex1]), mining.interface, "InvalidProof", [1n]);
      // And layer 1's proof for index 0's challenge is rejected at index 0.
      expect(await verifier.verifyProof(...split(proofLayer1ForIndex0), [root1, seed, ch0, minerInput, shape1])).toBe(
        true,
      );
      await expectCustomError(asMiner.prove(0n, [proofLayer1ForIndex0, p1]), mining.interface, "InvalidProof", [0n]);
      // Both wrong layers at once: the first index fails.
      await expectCustomError(
        asMiner.prove(0n, [proofLayer1ForIndex0, proofLayer0ForIndex1]),
        mining.interface,
        "InvalidProof",
        [0n],
      );
    });

    it("rejects a commitment whose two roots are swapped: the honest work's proofs for its challenges fail", async () => {
      const asMiner = mining.connect(miner);
      const w = await honestWorkload(await mining.seedFor(miner.address, epoch0, 2n));
      const swapped = [w.roots[1]!, w.roots[0]!];
      await wait(asMiner.commit(epoch0, 2n, swapped, SHAPE_WORDS, { value: BOND }));
      await mine(D + 1n);
      // Proof j of the honest layer j mod L, for the swapped commitment's own challenges.
      const proofs = await proveCommitment(mining, 2n, w, L);
      const inputs = await publicInputsOf(2n, 0n);
      expect(inputs[0]).toBe(w.roots[1]);
      inputs[0] = w.roots[0]!;
      expect(await verifier.verifyProof(...split(proofs[0]!), inputs)).toBe(true); // against the honest root
      await expectCustomError(asMiner.prove(2n, proofs), mining.interface, "InvalidProof", [0n]);
      await expectCustomError(asMiner.prove(2n, [proofs[1]!, proofs[0]!]), mining.interface, "InvalidProof", [0n]);
    });

    it("reverts with InvalidProof for valid proofs of another commitment", async () => {
      await expectCustomError(mining.connect(miner).prove(1n, proofs0), mining.interface, "InvalidProof", [0n]);
    });

    it("reverts with NotMiner for anyone else, and the proofs would not verify for a front-runner's address", async () => {
      await expectCustomError(mining.connect(alice).prove(0n, proofs0), mining.interface, "NotMiner", [
        0n,
        alice.address,
      ]);
      for (const j of [0n, 1n]) {
        const inputs = await publicInputsOf(0n, j);
        expect(await verifier.verifyProof(...split(proofs0[Number(j)]!), inputs)).toBe(true);
        const asAlice = [...inputs];
        asAlice[3] = BigInt(alice.address);
        expect(await verifier.verifyProof(...split(proofs0[Number(j)]!), asAlice)).toBe(false);
      }
      gasUsed["verifyProof called directly (one proof, with the 21,000 base and calldata)"] =
        await verifier.verifyProof.estimateGas(...split(proofs0[0]!), await publicInputsOf(0n, 0n));
    });

    it("the verifier rejects every public input of either layer shifted by p (not a field element)", async () => {
      for (const j of [0n, 1n]) {
        const inputs = await publicInputsOf(0n, j);
        for (let i = 0; i < 5; i++) {
          const shifted = [...inputs];
          shifted[i] = shifted[i]! + P;
          expect(await verifier.verifyProof(...split(proofs0[Number(j)]!), shifted), `proof ${j} input ${i}`).toBe(
            false,
          );
        }
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
      gasUsed["slash (L = 2)"] = receipt.gasUsed;
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

    it("a miner whose outputs of one layer are wrong everywhere cannot prove that layer, and is slashed without a mint", async () => {
      const seed = await mining.seedFor(miner.address, epoch0, 2n);
      const work = WORKS[0]!;
      const { a, b } = await generateInputs(seed, work);
      const { dot, absDot } = exactTile(a, b, work.m, work.n, work.k, "e4m3fn");
      // Every word of layer 0 is pushed +1.0 plus twice the tolerance (T/512) away from the exact sum; layer 1 is honest.
      const c = Uint32Array.from(dot, (s, i) => roundScaledToFloat32Bits(s + (absDot[i]! >> 8n) + (1n << 18n), 18));
      expect(checkTile(a, b, c, work.m, work.n, work.k, "e4m3fn").failures).toHaveLength(work.m * work.n);
      const cheat = workload(seed, [{ work, c, tree: await commitOutputs(c, work) }, await honestLayer(seed, 1)]);
      const receipt = await wait(mining.connect(miner).commit(epoch0, 2n, cheat.roots, SHAPE_WORDS, { value: BOND }));
      const commitBlock = BigInt(receipt.blockNumber);
      await mine(D + 1n);
      await expect(proveLayer(cheat, 0, await mining.proofChallenge(2n, 0n), miner.address)).rejects.toThrow();
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

  it("with P = 4, each layer gets two proofs (proof j checks layer j mod 2)", async () => {
    const four = await deployMining({ ...PARAMS, proofsPerCommitment: 4n });
    const fourAddress = await four.getAddress();
    const asMiner = four.connect(miner);
    await wait(asMiner.openEpoch());
    const epoch = await four.currentEpoch();
    const w = await honestWorkload(await four.seedFor(miner.address, epoch, 0n));
    await wait(asMiner.commit(epoch, 0n, w.roots, SHAPE_WORDS, { value: BOND }));
    await mine(D + 1n);
    const proofs = await proveCommitment(four, 0n, w, 4);
    const [p0, p1, p2, p3] = proofs as [ProofWords, ProofWords, ProofWords, ProofWords];
    await expectCustomError(four.proofChallenge(0n, 4n), four.interface, "ProofIndexOutOfRange", [4n, 4n]);
    // Layer 0's proof of index 0 at index 2 (also layer 0): the wrong challenge.
    await expectCustomError(asMiner.prove(0n, [p0, p1, p0, p3]), four.interface, "InvalidProof", [2n]);
    // Layer 1's proof of index 3 at index 2: the wrong layer (and challenge).
    await expectCustomError(asMiner.prove(0n, [p0, p1, p3, p2]), four.interface, "InvalidProof", [2n]);
    await expectCustomError(asMiner.prove(0n, [p0, p1, p2, p1]), four.interface, "InvalidProof", [3n]);
    await expectCustomError(asMiner.prove(0n, [p0, p1]), four.interface, "WrongProofCount", [2n, 4n]);
    const receipt = await wait(asMiner.prove(0n, proofs));
    gasUsed["prove (P = 4)"] = receipt.gasUsed;
    expect(eventsOf(receipt, four, fourAddress)).toEqual([
      ["ProofAccepted", [0n, miner.address, 4n * BigInt(TILES_PER_PROOF), MACS]],
      ["RewardMinted", [0n, miner.address, REWARD]],
      ["BondReturned", [0n, miner.address, BOND]],
    ]);
  });

  it("mints only up to the cap, then refuses commitments with CapReached", async () => {
    const cap = REWARD / 2n;
    const capped = await deployMining({ ...PARAMS, cap });
    const cappedAddress = await capped.getAddress();
    const cappedToken = (await ethers.getContractAt("DemleToken", await capped.token())) as unknown as Token;
    const asMiner = capped.connect(miner);
    await wait(asMiner.openEpoch());
    const epoch = await capped.currentEpoch();
    const w = await honestWorkload(await capped.seedFor(miner.address, epoch, 0n));
    await wait(asMiner.commit(epoch, 0n, w.roots, SHAPE_WORDS, { value: BOND }));
    await mine(D + 1n);
    const proofs = await proveCommitment(capped, 0n, w, Number(PARAMS.proofsPerCommitment));
    const receipt = await wait(asMiner.prove(0n, proofs));
    expect(eventsOf(receipt, capped, cappedAddress)).toEqual([
      ["ProofAccepted", [0n, miner.address, 2n, MACS]],
      ["RewardMinted", [0n, miner.address, cap]],
      ["BondReturned", [0n, miner.address, BOND]],
    ]);
    expect(await cappedToken.totalSupply()).toBe(cap);
    await expectCustomError(
      asMiner.commit(epoch, 1n, w.roots, SHAPE_WORDS, { value: BOND }),
      capped.interface,
      "CapReached",
    );
  });
});
