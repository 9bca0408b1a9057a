// Property-based fault tests of DemleMining (issue #8): fast-check draws random workloads (1 to 3 layers, each with
// its own grid, tiles per proof and work per tile) and protocol parameters (P ≥ L), and random sequences of commit /
// prove / slash / openEpoch / bondFor and macsFor quotes / token transfer / unauthorised mint / mine-blocks by several
// actors, runs them on Hardhat's in-process network, and after EVERY step compares the chain with a TypeScript model:
//
//   - every call succeeds or reverts exactly when the model says, with the custom error the model predicts (with its
//     arguments for the per-layer errors: WrongLayerCount, OutputRootOutOfField, ShapeTooLarge, BondMismatch,
//     InvalidProof);
//   - total supply ≤ cap, and total supply = Σ rewards of accepted commitments, each
//     min(Σ_layers macsPerTile·2^(dr+dc) · (initialRewardPerMac >> (epoch / halvingEpochs)), cap − supply), so nothing
//     mints without an accepted proof (the supply changes only in a step that proved a commitment);
//   - each bond (bondPerTile · Σ_layers 2^(dr+dc)) is returned or forfeited exactly once: the contract's ETH balance =
//     Σ bonds of open commitments + burned bonds, every actor's ETH balance equals its modelled balance (fees, bonds,
//     refunds, bounties), and every commitment's status, bond, roots and shapes are the model's;
//   - every event of a successful commit or prove is the model's (ProofAccepted's tilesChecked = Σ_j NT of layer
//     j mod L);
//   - token balances are the model's.
//
// Proving runs no prover: each layer's verifier is an instance of contracts/test/TestVerifierAcceptsMarkedProofs (TEST
// ONLY), which accepts a proof iff its word a0 is 1 and its public inputs are field elements. Model proofs are "valid"
// (a0 = 1) or "invalid" (a0 = 2). Real proofs, real verifiers and the routing of proof j to layer j mod L are
// exercised by test/mining.test.ts and public-inputs.faults.ts.
//
// Size: FAULTS_RUNS sequences (default 50) of FAULTS_STEPS steps (default 30); FAULTS_SEED replays a run. Figures go to
// build/faults/contract-properties.json.
import { mkdirSync, writeFileSync } from "node:fs";
import hre from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { Contract, Interface, toQuantity, type ContractTransactionReceipt } from "ethers";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callHarness, decodeRevert, P, revertDataOf, Status, weighted, type Expected } from "./contract-harness.js";

type Connection = Awaited<ReturnType<typeof hre.network.create>>;

const RUNS = Number(process.env.FAULTS_RUNS ?? 50);
const STEPS = Number(process.env.FAULTS_STEPS ?? 30);
const SEED = Number(process.env.FAULTS_SEED ?? Math.floor(Math.random() * 2 ** 31));
const ACTORS = 4;
/** Layers per workload: 1 … MAX_TEST_LAYERS (the contract allows 8). */
const MAX_TEST_LAYERS = 3;
/** P = L + 0 … MAX_EXTRA_PROOFS. */
const MAX_EXTRA_PROOFS = 2;
/** Stub verifier instances; layer i uses instance i mod VERIFIERS. */
const VERIFIERS = 2;
const PANIC = Interface.from(["error Panic(uint256 code)"]);

/** One layer of the workload (IDemleMining.Layer without its verifier). */
interface LayerSpec {
  macsPerTile: bigint;
  tilesPerProof: bigint;
  maxRowBlocksLog2: number;
  maxColBlocksLog2: number;
}

/** The workload and protocol parameters fast-check varies. */
interface Protocol {
  layers: LayerSpec[];
  proofsPerCommitment: bigint;
  epochLength: bigint;
  challengeDelay: bigint;
  proofWindow: bigint;
  bondPerTile: bigint;
  slashBountyBps: bigint;
  initialRewardPerMac: bigint;
  halvingEpochs: bigint;
  cap: bigint;
}

/** A shape entry drawn for a layer; folded onto the layer's grid by the model (`over` pushes dr or dc past it). */
interface ShapeDraw {
  dr: number;
  dc: number;
  /** 0: within the grid, 1: dr = MAX_DR + 1, 2: dc = MAX_DC + 1. */
  over: number;
}

/** Which arrays of a commit or quote have the wrong length. */
interface Lengths {
  /** outputRoots.length − L. */
  rootsDelta: number;
  /** shapes.length − L. */
  shapesDelta: number;
}

type Action =
  | { kind: "openEpoch"; actor: number }
  | ({
      kind: "commit";
      actor: number;
      /** 0: current epoch (mostly), 1: previous, 2: next, 3: two back. */
      epochChoice: number;
      nonceOffset: number;
      /** The layer whose root is pushed out of the field, or −1. */
      rootOutOfField: number;
      roots: bigint[];
      shapes: ShapeDraw[];
      bondDelta: number;
    } & Lengths)
  | ({ kind: "quote"; actor: number; shapes: ShapeDraw[] } & Lengths)
  | {
      kind: "prove";
      actor: number;
      target: Target;
      pick: number;
      /** Mine first into the proof window (at a random offset) if it has not opened yet. */
      align: boolean;
      ownMiner: boolean;
      proofs: boolean[];
      countDelta: number;
    }
  | {
      kind: "slash";
      actor: number;
      target: Target;
      pick: number;
      /** Mine first past the proof window if it has not closed yet. */
      align: boolean;
    }
  | { kind: "transfer"; from: number; to: number; permille: number }
  | { kind: "mint"; actor: number; amount: bigint }
  | { kind: "mine"; blocks: number };

const actor = fc.nat({ max: ACTORS - 1 });

/** One entry more than the largest workload, so that a too-long array can be drawn. */
const perLayer = <T>(arbitrary: fc.Arbitrary<T>) =>
  fc.array(arbitrary, { minLength: MAX_TEST_LAYERS + 1, maxLength: MAX_TEST_LAYERS + 1 });
const shapeDraws = perLayer(
  fc.record({
    dr: fc.nat({ max: 2 }),
    dc: fc.nat({ max: 2 }),
    over: weighted([
      [24, fc.constant(0)],
      [1, fc.constantFrom(1, 2)],
    ]),
  }),
);
const lengthDelta = weighted([
  [24, fc.constant(0)],
  [1, fc.constantFrom(-1, 1)],
]);
/** Which commitment a prove or slash targets: mostly an open one, else any, rarely an unknown id. */
const target = weighted([
  [8, fc.constant("open" as const)],
  [3, fc.constant("any" as const)],
  [1, fc.constant("unknown" as const)],
]);
type Target = "open" | "any" | "unknown";

const actionArb: fc.Arbitrary<Action> = weighted<Action>([
  [1, fc.record({ kind: fc.constant("openEpoch" as const), actor })],
  [
    6,
    fc.record({
      kind: fc.constant("commit" as const),
      actor,
      epochChoice: weighted([
        [8, fc.constant(0)],
        [1, fc.constant(1)],
        [1, fc.integer({ min: 2, max: 3 })],
      ]),
      nonceOffset: weighted([
        [9, fc.constant(0)],
        [1, fc.integer({ min: -1, max: 2 })],
      ]),
      rootOutOfField: weighted([
        [11, fc.constant(-1)],
        [1, fc.nat({ max: MAX_TEST_LAYERS - 1 })],
      ]),
      roots: perLayer(fc.bigInt({ min: 0n, max: P - 1n })),
      shapes: shapeDraws,
      rootsDelta: lengthDelta,
      shapesDelta: lengthDelta,
      bondDelta: weighted([
        [9, fc.constant(0)],
        [1, fc.constantFrom(-1, 1)],
      ]),
    }),
  ],
  [
    1,
    fc.record({
      kind: fc.constant("quote" as const),
      actor,
      // Views are cheap: draw invalid shapes more often than for commit.
      shapes: perLayer(
        fc.record({
          dr: fc.nat({ max: 2 }),
          dc: fc.nat({ max: 2 }),
          over: weighted([
            [6, fc.constant(0)],
            [1, fc.constantFrom(1, 2)],
          ]),
        }),
      ),
      rootsDelta: fc.constant(0),
      shapesDelta: weighted([
        [4, fc.constant(0)],
        [1, fc.constantFrom(-1, 1)],
      ]),
    }),
  ],
  [
    8,
    fc.record({
      kind: fc.constant("prove" as const),
      actor,
      target,
      pick: fc.nat(),
      align: fc.nat({ max: 2 }).map((n) => n > 0),
      ownMiner: weighted([
        [4, fc.constant(true)],
        [1, fc.constant(false)],
      ]),
      proofs: fc.array(
        weighted([
          [14, fc.constant(true)],
          [1, fc.constant(false)],
        ]),
        { minLength: MAX_TEST_LAYERS + MAX_EXTRA_PROOFS + 1, maxLength: MAX_TEST_LAYERS + MAX_EXTRA_PROOFS + 1 },
      ),
      countDelta: weighted([
        [9, fc.constant(0)],
        [1, fc.constantFrom(-1, 1)],
      ]),
    }),
  ],
  [
    3,
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
      kind: fc.constant("transfer" as const),
      from: actor,
      to: actor,
      permille: fc.integer({ min: 0, max: 1_100 }), // above 1000: more than the balance
    }),
  ],
  [1, fc.record({ kind: fc.constant("mint" as const), actor, amount: fc.bigInt({ min: 1n, max: 10n ** 18n }) })],
  [
    4,
    fc.record({
      kind: fc.constant("mine" as const),
      blocks: weighted([
        [4, fc.integer({ min: 1, max: 6 })],
        [1, fc.integer({ min: 7, max: 40 })],
      ]),
    }),
  ],
]);

const layerArb: fc.Arbitrary<LayerSpec> = fc.record({
  macsPerTile: weighted([
    [1, fc.constant(32n)], // the test GEMM circuit's 2×2×8
    [2, fc.bigInt({ min: 1n, max: 64n })],
  ]),
  tilesPerProof: fc.bigInt({ min: 1n, max: 4n }),
  maxRowBlocksLog2: fc.integer({ min: 1, max: 2 }),
  maxColBlocksLog2: fc.integer({ min: 1, max: 2 }),
});

const protocolArb: fc.Arbitrary<Protocol> = fc
  .record({
    layers: fc.array(layerArb, { minLength: 1, maxLength: MAX_TEST_LAYERS }),
    extraProofs: fc.nat({ max: MAX_EXTRA_PROOFS }),
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
    // Small caps are reached within a sequence, so capped mints and CapReached are exercised.
    cap: weighted([
      [1, fc.bigInt({ min: 10n ** 15n, max: 2n * 10n ** 16n })],
      [1, fc.bigInt({ min: 2n * 10n ** 16n, max: 10n ** 18n })],
      [1, fc.bigInt({ min: 10n ** 18n, max: 3n * 10n ** 18n })],
    ]),
  })
  .map(({ extraProofs, ...rest }) => ({
    ...rest,
    proofsPerCommitment: BigInt(rest.layers.length + extraProofs),
  }));

interface ModelCommitment {
  miner: number;
  epoch: bigint;
  nonce: bigint;
  roots: bigint[];
  /** dr + 256·dc per layer. */
  shapes: bigint[];
  commitBlock: bigint;
  bond: bigint;
  macs: bigint;
  status: Status;
}

/** The shapes a commit or quote sends, and the revert the model predicts for them (before the bond check). */
interface ShapeArgs {
  shapes: bigint[];
  /** WrongLayerCount or ShapeTooLarge, or undefined if the shapes are a valid workload. */
  error: Expected | undefined;
}

/** The TypeScript model of one deployment. */
class Model {
  readonly commitments: ModelCommitment[] = [];
  readonly openedEpochs = new Set<bigint>();
  readonly nonces = new Map<string, bigint>();
  readonly tokens: bigint[] = Array.from({ length: ACTORS }, () => 0n);
  supply = 0n;
  burned = 0n;
  constructor(
    readonly protocol: Protocol,
    readonly eth: bigint[],
  ) {}

  get layerCount(): number {
    return this.protocol.layers.length;
  }
  nonce(miner: number, epoch: bigint): bigint {
    return this.nonces.get(`${miner}:${epoch}`) ?? 0n;
  }
  /** log2 of each layer's tile count, for valid shapes. */
  private tilesLog2(shapes: readonly bigint[]): bigint[] {
    return shapes.map((shape) => (shape & 0xffn) + (shape >> 8n));
  }
  macs(shapes: readonly bigint[]): bigint {
    return this.tilesLog2(shapes).reduce((sum, log2, i) => sum + (this.protocol.layers[i]!.macsPerTile << log2), 0n);
  }
  bond(shapes: readonly bigint[]): bigint {
    return this.tilesLog2(shapes).reduce((sum, log2) => sum + (this.protocol.bondPerTile << log2), 0n);
  }
  /** Σ NT over the P proofs: proof j checks layer j mod L. */
  tilesChecked(): bigint {
    let tiles = 0n;
    for (let j = 0; j < Number(this.protocol.proofsPerCommitment); j++) {
      tiles += this.protocol.layers[j % this.layerCount]!.tilesPerProof;
    }
    return tiles;
  }
  reward(c: ModelCommitment): bigint {
    const shift = c.epoch / this.protocol.halvingEpochs;
    const perMac = shift >= 256n ? 0n : this.protocol.initialRewardPerMac >> shift;
    return c.macs * perMac;
  }
  /** Folds drawn shapes onto the layers' grids and predicts WrongLayerCount / ShapeTooLarge. */
  shapeArgs(draws: readonly ShapeDraw[], shapesDelta: number): ShapeArgs {
    const count = this.layerCount + shapesDelta;
    const shapes: bigint[] = [];
    let tooLarge: Expected | undefined;
    for (let i = 0; i < count; i++) {
      const grid = this.protocol.layers[i] ?? this.protocol.layers[0]!;
      const { dr: drawnDr, dc: drawnDc, over } = draws[i]!;
      const dr = over === 1 ? grid.maxRowBlocksLog2 + 1 : drawnDr % (grid.maxRowBlocksLog2 + 1);
      const dc = over === 2 ? grid.maxColBlocksLog2 + 1 : drawnDc % (grid.maxColBlocksLog2 + 1);
      const shape = BigInt(dr) + 256n * BigInt(dc);
      shapes.push(shape);
      if (tooLarge === undefined && over !== 0 && i < this.layerCount) {
        tooLarge = { name: "ShapeTooLarge", args: [BigInt(i), shape] };
      }
    }
    if (count !== this.layerCount) {
      return { shapes, error: { name: "WrongLayerCount", args: [BigInt(count), BigInt(this.layerCount)] } };
    }
    return { shapes, error: tooLarge };
  }
  /** The id a prove or slash targets: an open commitment, any commitment, or the first unknown id. */
  pick(target: Target, pick: number): bigint {
    const open = [...this.commitments.keys()].filter((id) => this.commitments[id]!.status === Status.Committed);
    const pool = target === "open" && open.length > 0 ? open : [...this.commitments.keys()];
    if (target === "unknown" || pool.length === 0) return BigInt(this.commitments.length);
    return BigInt(pool[pick % pool.length]!);
  }
  openBonds(): bigint {
    return this.commitments.filter((c) => c.status === Status.Committed).reduce((sum, c) => sum + c.bond, 0n);
  }
}

interface Figures {
  sequences: number;
  steps: number;
  invariantChecks: number;
  actions: Record<string, { succeeded: number; reverted: number }>;
  reverts: Record<string, number>;
  sequencesByLayerCount: Record<string, number>;
  acceptedProofSubmissions: number;
  commitments: number;
  slashed: number;
  cappedMints: number;
  sequencesReachingCap: number;
  alignedBlocks: number;
}

const figures: Figures = {
  sequences: 0,
  steps: 0,
  invariantChecks: 0,
  actions: {},
  reverts: {},
  sequencesByLayerCount: {},
  acceptedProofSubmissions: 0,
  commitments: 0,
  slashed: 0,
  cappedMints: 0,
  sequencesReachingCap: 0,
  alignedBlocks: 0,
};

describe("DemleMining under random action sequences (stub verifiers, TS model)", () => {
  let connection: Connection;
  let ethers: Connection["ethers"];
  let deployer: HardhatEthersSigner;
  let actors: HardhatEthersSigner[];
  let verifierAddresses: string[];
  /** Taken after the verifiers' deployment: each sequence starts from it, at a low block number (epoch 0). */
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
    verifierAddresses = [];
    for (let i = 0; i < VERIFIERS; i++) {
      const verifier = await ethers.deployContract("TestVerifierAcceptsMarkedProofs", [], deployer);
      verifierAddresses.push(await verifier.getAddress());
    }
    snapshot = (await request("evm_snapshot")) as string;
  }, 600_000);

  afterAll(async () => {
    await connection?.close();
  });

  /** Runs one sequence against a fresh deployment; throws (through expect) on the first divergence. */
  async function runSequence(protocol: Protocol, actions: Action[]): Promise<void> {
    expect(await request("evm_revert", [snapshot])).toBe(true);
    snapshot = (await request("evm_snapshot")) as string;
    // Field order of IDemleMining.Layer and IDemleMining.Params.
    const layers = protocol.layers.map((layer, i) => [
      verifierAddresses[i % VERIFIERS]!,
      layer.macsPerTile,
      layer.tilesPerProof,
      BigInt(layer.maxRowBlocksLog2),
      BigInt(layer.maxColBlocksLog2),
    ]);
    const params = [
      protocol.proofsPerCommitment,
      protocol.epochLength,
      protocol.challengeDelay,
      protocol.proofWindow,
      protocol.bondPerTile,
      protocol.slashBountyBps,
      protocol.initialRewardPerMac,
      protocol.halvingEpochs,
      protocol.cap,
    ];
    const mining = (await ethers.deployContract("DemleMining", [layers, params, []], deployer)) as unknown as Contract;
    const miningAddress = await mining.getAddress();
    const token = (await ethers.getContractAt(
      "DemleToken",
      (await mining.getFunction("token")()) as string,
    )) as unknown as Contract;
    const model = new Model(protocol, await Promise.all(actors.map((a) => ethers.provider.getBalance(a.address))));
    const { challengeDelay: D, proofWindow: W, epochLength, proofsPerCommitment: NP } = protocol;
    const L = model.layerCount;
    const latest = async () => BigInt(await ethers.provider.getBlockNumber());
    const label = String(L);
    figures.sequencesByLayerCount[label] = (figures.sequencesByLayerCount[label] ?? 0) + 1;

    // The deployment reads back as drawn.
    expect((await mining.getFunction("layerCount")()) as bigint).toBe(BigInt(L));
    for (const [i, layer] of layers.entries()) {
      expect([...((await mining.getFunction("layer")(BigInt(i))) as unknown[])]).toEqual(layer);
    }
    try {
      await mining.getFunction("layer")(BigInt(L));
      expect.unreachable("layer(L) must revert");
    } catch (err) {
      expect([...(PANIC.parseError(revertDataOf(err))?.args ?? [])]).toEqual([0x32n]);
    }

    const { send, expectRevert } = callHarness(figures, () => model.eth);
    const decode = decodeRevert;

    /** The mining contract's events in a receipt, as [name, args] (array arguments as plain arrays). */
    const eventsOf = (receipt: ContractTransactionReceipt) =>
      receipt.logs
        .filter((log) => log.address === miningAddress)
        .map((log) => {
          const parsed = mining.interface.parseLog(log);
          return [parsed?.name, parsed?.args.toArray(true)];
        });

    async function checkInvariants(supplyBefore: bigint, mintedThisStep: bigint): Promise<void> {
      const supply = (await token.getFunction("totalSupply")()) as bigint;
      expect(supply).toBeLessThanOrEqual(protocol.cap);
      expect(supply).toBe(model.supply);
      // No mint without an accepted proof: the supply moved by exactly what this step's accepted proof minted.
      expect(supply - supplyBefore).toBe(mintedThisStep);
      const burned = (await mining.getFunction("burnedBonds")()) as bigint;
      expect(burned).toBe(model.burned);
      expect(await ethers.provider.getBalance(miningAddress)).toBe(model.openBonds() + model.burned);
      expect((await mining.getFunction("commitmentCount")()) as bigint).toBe(BigInt(model.commitments.length));
      for (let i = 0; i < ACTORS; i++) {
        expect(await ethers.provider.getBalance(actors[i]!.address)).toBe(model.eth[i]);
        expect((await token.getFunction("balanceOf")(actors[i]!.address)) as bigint).toBe(model.tokens[i]);
      }
      expect(model.tokens.reduce((a, b) => a + b, 0n)).toBe(supply);
      for (const [id, c] of model.commitments.entries()) {
        const view = (await mining.getFunction("commitments")(BigInt(id))) as {
          status: bigint;
          bond: bigint;
          outputRoots: bigint[];
          shapes: bigint[];
        };
        expect(Number(view.status)).toBe(c.status);
        expect(view.bond).toBe(c.bond);
        expect([...view.outputRoots]).toEqual(c.roots);
        expect([...view.shapes]).toEqual(c.shapes);
      }
      figures.invariantChecks += 8 + 2 * ACTORS + 3 * model.commitments.length;
    }

    for (const action of actions) {
      const supplyBefore = model.supply;
      let minted = 0n;
      let block = (await latest()) + 1n; // the block the next transaction lands in
      let current = block / epochLength;
      /** Mines so that the next transaction lands in block `target` (if it is ahead). */
      const alignTo = async (target: bigint) => {
        if (target <= block) return;
        await request("hardhat_mine", [toQuantity(target - block)]);
        figures.alignedBlocks += Number(target - block);
        block = target;
        current = block / epochLength;
      };
      switch (action.kind) {
        case "openEpoch": {
          if (
            await send("openEpoch", action.actor, mining.interface, undefined, () =>
              mining.connect(actors[action.actor]!).getFunction("openEpoch")(),
            )
          )
            model.openedEpochs.add(current);
          break;
        }
        case "commit": {
          const { actor: who } = action;
          const epoch =
            action.epochChoice === 0
              ? current
              : action.epochChoice === 1
                ? current - 1n
                : action.epochChoice === 2 || current < 2n
                  ? current + 1n
                  : current - 2n;
          if (epoch < 0n) break;
          const expectedNonce = model.nonce(who, epoch);
          const nonce = expectedNonce + BigInt(action.nonceOffset);
          if (nonce < 0n) break;
          const roots = action.roots
            .slice(0, L + action.rootsDelta)
            .map((root, i) => (i === action.rootOutOfField ? P + (root % 1000n) : root));
          const { shapes, error: shapeError } = model.shapeArgs(action.shapes, action.shapesDelta);
          const bond = shapeError ? 0n : model.bond(shapes);
          const value = bond + BigInt(action.bondDelta);
          if (value < 0n) break;
          const outOfField = roots.findIndex((root) => root >= P);
          let error: Expected | undefined;
          if (epoch > current || current - epoch > 1n) error = { name: "StaleEpoch", args: [epoch, current] };
          else if (epoch !== current && !model.openedEpochs.has(epoch)) error = { name: "EpochNotOpen", args: [epoch] };
          else if (nonce !== expectedNonce) error = { name: "WrongNonce", args: [nonce, expectedNonce] };
          else if (roots.length !== L) error = { name: "WrongLayerCount", args: [BigInt(roots.length), BigInt(L)] };
          else if (outOfField >= 0)
            error = { name: "OutputRootOutOfField", args: [BigInt(outOfField), roots[outOfField]] };
          else if (shapeError) error = shapeError;
          else if (value !== bond) error = { name: "BondMismatch", args: [value, bond] };
          else if (model.supply >= protocol.cap) error = { name: "CapReached" };
          const receipt = await send("commit", who, mining.interface, error, () =>
            mining.connect(actors[who]!).getFunction("commit")(epoch, nonce, roots, shapes, { value }),
          );
          if (receipt) {
            model.openedEpochs.add(current);
            model.nonces.set(`${who}:${epoch}`, expectedNonce + 1n);
            const id = BigInt(model.commitments.length);
            const macs = model.macs(shapes);
            model.commitments.push({
              miner: who,
              epoch,
              nonce,
              roots,
              shapes,
              commitBlock: block,
              bond,
              macs,
              status: Status.Committed,
            });
            const seed = (await mining.getFunction("seedFor")(actors[who]!.address, epoch, nonce)) as bigint;
            const events = eventsOf(receipt).filter(([name]) => name !== "EpochOpened");
            expect(events).toEqual([
              ["Committed", [id, actors[who]!.address, epoch, nonce, seed, roots, shapes, macs, bond]],
            ]);
            model.eth[who]! -= value;
            figures.commitments++;
          }
          break;
        }
        case "quote": {
          // bondFor and macsFor: the model's sums, or its WrongLayerCount / ShapeTooLarge.
          const { shapes, error } = model.shapeArgs(action.shapes, action.shapesDelta);
          const counts = (figures.actions.quote ??= { succeeded: 0, reverted: 0 });
          for (const [name, expected] of [
            ["bondFor", error ? undefined : model.bond(shapes)],
            ["macsFor", error ? undefined : model.macs(shapes)],
          ] as const) {
            let value: bigint;
            try {
              value = (await mining.getFunction(name)(shapes)) as bigint;
            } catch (err) {
              expectRevert(name, decode(mining.interface, err), error);
              counts.reverted++;
              continue;
            }
            expect(error, `${name}: succeeded, model expected a revert`).toBeUndefined();
            expect(value, name).toBe(expected);
            counts.succeeded++;
          }
          break;
        }
        case "prove": {
          const id = model.pick(action.target, action.pick);
          const c = model.commitments[Number(id)];
          if (c && action.align) await alignTo(c.commitBlock + D + 1n + (BigInt(action.pick) % W));
          const who = c && action.ownMiner ? c.miner : action.actor;
          const n = Math.max(0, Number(NP) + action.countDelta);
          const marks = Array.from({ length: n }, (_, j) => action.proofs[j % action.proofs.length]!);
          const proofs = marks.map((valid, j) => [valid ? 1n : 2n, BigInt(j), 3n, 4n, 5n, 6n, 7n, 8n]);
          let error: Expected | undefined;
          if (!c) error = { name: "UnknownCommitment", args: [id] };
          else if (who !== c.miner) error = { name: "NotMiner", args: [id, actors[who]!.address] };
          else if (c.status !== Status.Committed) error = { name: "AlreadySettled", args: [id, BigInt(c.status)] };
          else if (block <= c.commitBlock + D) error = { name: "TooEarly", args: [id, c.commitBlock + D + 1n] };
          else if (block > c.commitBlock + D + W) error = { name: "TooLate", args: [id, c.commitBlock + D + W] };
          else if (BigInt(n) !== NP) error = { name: "WrongProofCount", args: [BigInt(n), NP] };
          else if (marks.includes(false)) error = { name: "InvalidProof", args: [BigInt(marks.indexOf(false))] };
          const receipt = await send("prove", who, mining.interface, error, () =>
            mining.connect(actors[who]!).getFunction("prove")(id, proofs),
          );
          if (receipt && c) {
            c.status = Status.Proven;
            const reward = model.reward(c);
            const room = protocol.cap - model.supply;
            minted = reward < room ? reward : room;
            if (minted < reward) figures.cappedMints++;
            model.supply += minted;
            model.tokens[who]! += minted;
            model.eth[who]! += c.bond;
            const miner = actors[who]!.address;
            expect(eventsOf(receipt)).toEqual([
              ["ProofAccepted", [id, miner, model.tilesChecked(), c.macs]],
              ["RewardMinted", [id, miner, minted]],
              ["BondReturned", [id, miner, c.bond]],
            ]);
            figures.acceptedProofSubmissions++;
          }
          break;
        }
        case "slash": {
          const id = model.pick(action.target, action.pick);
          const c = model.commitments[Number(id)];
          if (c && action.align) await alignTo(c.commitBlock + D + W + 1n + BigInt(action.pick % 3));
          let error: Expected | undefined;
          if (!c) error = { name: "UnknownCommitment", args: [id] };
          else if (c.status !== Status.Committed) error = { name: "AlreadySettled", args: [id, BigInt(c.status)] };
          else if (block <= c.commitBlock + D + W)
            error = { name: "WindowOpen", args: [id, c.commitBlock + D + W + 1n] };
          const receipt = await send("slash", action.actor, mining.interface, error, () =>
            mining.connect(actors[action.actor]!).getFunction("slash")(id),
          );
          if (receipt && c) {
            c.status = Status.Slashed;
            const bounty = (c.bond * protocol.slashBountyBps) / 10_000n;
            model.eth[action.actor]! += bounty;
            model.burned += c.bond - bounty;
            expect(eventsOf(receipt)).toEqual([
              ["Slashed", [id, actors[c.miner]!.address, actors[action.actor]!.address, bounty, c.bond - bounty]],
            ]);
            figures.slashed++;
          }
          break;
        }
        case "transfer": {
          const balance = model.tokens[action.from]!;
          const amount = (balance * BigInt(action.permille)) / 1000n + (action.permille > 1000 ? 1n : 0n);
          const error = amount > balance ? { name: "ERC20InsufficientBalance" } : undefined;
          const ok = await send("transfer", action.from, token.interface, error, () =>
            token.connect(actors[action.from]!).getFunction("transfer")(actors[action.to]!.address, amount),
          );
          if (ok) {
            model.tokens[action.from]! -= amount;
            model.tokens[action.to]! += amount;
          }
          break;
        }
        case "mint": {
          // An actor calls the token's mint directly: only the mining contract may.
          await send("mint (unauthorised)", action.actor, token.interface, { name: "DemleUnauthorizedMinter" }, () =>
            token.connect(actors[action.actor]!).getFunction("mint")(actors[action.actor]!.address, action.amount),
          );
          break;
        }
        case "mine": {
          await request("hardhat_mine", [toQuantity(action.blocks)]);
          const counts = (figures.actions.mine ??= { succeeded: 0, reverted: 0 });
          counts.succeeded++;
          break;
        }
      }
      await checkInvariants(supplyBefore, minted);
      figures.steps++;
    }
    figures.sequences++;
    if (model.supply === protocol.cap) figures.sequencesReachingCap++;
  }

  it(`keeps every invariant over ${RUNS} random sequences of ${STEPS} steps (seed ${SEED})`, async () => {
    await fc.assert(
      fc.asyncProperty(protocolArb, fc.array(actionArb, { minLength: STEPS, maxLength: STEPS }), runSequence),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    const seconds = (performance.now() - started) / 1000;
    mkdirSync("build/faults", { recursive: true });
    writeFileSync(
      "build/faults/contract-properties.json",
      `${JSON.stringify({ runs: RUNS, stepsPerSequence: STEPS, seed: SEED, ...figures, seconds }, null, 2)}\n`,
    );
    console.log(
      `contract properties: ${figures.sequences} sequences (by layer count ${JSON.stringify(figures.sequencesByLayerCount)}), ` +
        `${figures.steps} steps, ${figures.invariantChecks} invariant checks, ` +
        `${figures.acceptedProofSubmissions} accepted proofs, ${figures.slashed} slashes in ${seconds.toFixed(1)} s`,
    );
    expect(figures.steps).toBe(RUNS * STEPS);
  }, 3_600_000);
});
