// Property-based fault tests of DemleMining (issue #8): fast-check draws random protocol parameters and random
// sequences of commit / prove / slash / openEpoch / token transfer / unauthorised mint / mine-blocks by several actors,
// runs them on Hardhat's in-process network, and after EVERY step compares the chain with a TypeScript model:
//
//   - every call succeeds or reverts exactly when the model says, with the custom error the model predicts;
//   - total supply ≤ cap, and total supply = Σ rewards of accepted commitments, each
//     min(macs · (initialRewardPerMac >> (epoch / halvingEpochs)), cap − supply), so nothing mints without an accepted
//     proof (the supply changes only in a step that proved a commitment);
//   - each bond is returned or forfeited exactly once: the contract's ETH balance = Σ bonds of open commitments +
//     burned bonds, every actor's ETH balance equals its modelled balance (fees, bonds, refunds, bounties), and every
//     commitment's status is the model's;
//   - token balances are the model's.
//
// Proving runs no prover: DemleMining is deployed with contracts/test/TestVerifierAcceptsMarkedProofs (TEST ONLY),
// which accepts a proof iff its word a0 is 1 and its public inputs are field elements. Model proofs are "valid"
// (a0 = 1) or "invalid" (a0 = 2). Real proofs and the real verifier are exercised by public-inputs.faults.ts.
//
// Size: FAULTS_RUNS sequences (default 50) of FAULTS_STEPS steps (default 30); FAULTS_SEED replays a run. Figures go to
// build/faults/contract-properties.json.
import { mkdirSync, writeFileSync } from "node:fs";
import hre from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { Contract, isError, toQuantity, type ContractTransactionResponse, type Interface } from "ethers";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { revertData } from "../helpers/revert.js";

/** The revert data of a failed call (ethers' CALL_EXCEPTION or Hardhat's SolidityError); rethrows anything else. */
function revertDataOf(err: unknown): string {
  if (!isError(err, "CALL_EXCEPTION") && !(err instanceof Error && err.name === "SolidityError")) throw err;
  return revertData(err);
}

type Connection = Awaited<ReturnType<typeof hre.network.create>>;

const P = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;
const RUNS = Number(process.env.FAULTS_RUNS ?? 50);
const STEPS = Number(process.env.FAULTS_STEPS ?? 30);
const SEED = Number(process.env.FAULTS_SEED ?? Math.floor(Math.random() * 2 ** 31));
const ACTORS = 4;
const MAX_LOG2 = 2; // maxRowBlocksLog2 = maxColBlocksLog2
const TILE = { tileRows: 2n, tileCols: 2n, depth: 8n };
const MACS_PER_TILE = TILE.tileRows * TILE.tileCols * TILE.depth;

enum Status {
  None = 0,
  Committed = 1,
  Proven = 2,
  Slashed = 3,
}

/** The protocol parameters fast-check varies (the tiling is fixed: the stub verifier does not care). */
interface Protocol {
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

type Action =
  | { kind: "openEpoch"; actor: number }
  | {
      kind: "commit";
      actor: number;
      /** 0: current epoch (mostly), 1: previous, 2: next, 3: two back. */
      epochChoice: number;
      nonceOffset: number;
      rootOutOfField: boolean;
      root: bigint;
      dr: number;
      dc: number;
      bondDelta: number;
    }
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
const weighted = <T>(arbs: [number, fc.Arbitrary<T>][]) =>
  fc.oneof(...arbs.map(([weight, arbitrary]) => ({ weight, arbitrary })));

const shapeLog2 = weighted([
  [12, fc.integer({ min: 0, max: MAX_LOG2 })],
  [1, fc.constant(MAX_LOG2 + 1)],
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
        [11, fc.constant(false)],
        [1, fc.constant(true)],
      ]),
      root: fc.bigInt({ min: 0n, max: P - 1n }),
      dr: shapeLog2,
      dc: shapeLog2,
      bondDelta: weighted([
        [9, fc.constant(0)],
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
          [10, fc.constant(true)],
          [1, fc.constant(false)],
        ]),
        { minLength: 3, maxLength: 3 },
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

const protocolArb: fc.Arbitrary<Protocol> = fc.record({
  proofsPerCommitment: fc.bigInt({ min: 1n, max: 3n }),
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
});

interface ModelCommitment {
  miner: number;
  epoch: bigint;
  dr: number;
  dc: number;
  commitBlock: bigint;
  bond: bigint;
  status: Status;
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

  nonce(miner: number, epoch: bigint): bigint {
    return this.nonces.get(`${miner}:${epoch}`) ?? 0n;
  }
  macs(dr: number, dc: number): bigint {
    return MACS_PER_TILE << BigInt(dr + dc);
  }
  bond(dr: number, dc: number): bigint {
    return this.protocol.bondPerTile << BigInt(dr + dc);
  }
  reward(c: ModelCommitment): bigint {
    const shift = c.epoch / this.protocol.halvingEpochs;
    const perMac = shift >= 256n ? 0n : this.protocol.initialRewardPerMac >> shift;
    return this.macs(c.dr, c.dc) * perMac;
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
  acceptedProofSubmissions: 0,
  commitments: 0,
  slashed: 0,
  cappedMints: 0,
  sequencesReachingCap: 0,
  alignedBlocks: 0,
};

describe("DemleMining under random action sequences (stub verifier, TS model)", () => {
  let connection: Connection;
  let ethers: Connection["ethers"];
  let deployer: HardhatEthersSigner;
  let actors: HardhatEthersSigner[];
  let verifierAddress: string;
  /** Taken after the verifier's deployment: each sequence starts from it, at a low block number (epoch 0). */
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
    const verifier = await ethers.deployContract("TestVerifierAcceptsMarkedProofs", [], deployer);
    verifierAddress = await verifier.getAddress();
    snapshot = (await request("evm_snapshot")) as string;
  }, 600_000);

  afterAll(async () => {
    await connection?.close();
  });

  /** Runs one sequence against a fresh deployment; throws (through expect) on the first divergence. */
  async function runSequence(protocol: Protocol, actions: Action[]): Promise<void> {
    expect(await request("evm_revert", [snapshot])).toBe(true);
    snapshot = (await request("evm_snapshot")) as string;
    const params = {
      ...TILE,
      maxRowBlocksLog2: BigInt(MAX_LOG2),
      maxColBlocksLog2: BigInt(MAX_LOG2),
      tilesPerProof: 1n,
      ...protocol,
    };
    // Field order of IDemleMining.Params.
    const ordered = [
      params.tileRows,
      params.tileCols,
      params.depth,
      params.maxRowBlocksLog2,
      params.maxColBlocksLog2,
      params.tilesPerProof,
      params.proofsPerCommitment,
      params.epochLength,
      params.challengeDelay,
      params.proofWindow,
      params.bondPerTile,
      params.slashBountyBps,
      params.initialRewardPerMac,
      params.halvingEpochs,
      params.cap,
    ];
    const mining = (await ethers.deployContract(
      "DemleMining",
      [verifierAddress, ordered],
      deployer,
    )) as unknown as Contract;
    const miningAddress = await mining.getAddress();
    const token = (await ethers.getContractAt(
      "DemleToken",
      (await mining.getFunction("token")()) as string,
    )) as unknown as Contract;
    const model = new Model(protocol, await Promise.all(actors.map((a) => ethers.provider.getBalance(a.address))));
    const { challengeDelay: D, proofWindow: W, epochLength, proofsPerCommitment: NP } = protocol;
    const latest = async () => BigInt(await ethers.provider.getBlockNumber());

    /** Sends a transaction of `from` that the model expects to succeed (error === undefined) or revert with `error`. */
    async function send(
      label: string,
      from: number,
      iface: Interface,
      expected: string | undefined,
      tx: () => Promise<ContractTransactionResponse>,
    ): Promise<boolean> {
      const counts = (figures.actions[label] ??= { succeeded: 0, reverted: 0 });
      let response: ContractTransactionResponse;
      try {
        response = await tx();
      } catch (err) {
        const name = iface.parseError(revertDataOf(err))?.name ?? "unknown";
        expect(name, `${label}: unexpected revert`).toBe(expected ?? "(success)");
        counts.reverted++;
        figures.reverts[name] = (figures.reverts[name] ?? 0) + 1;
        return false;
      }
      const receipt = await response.wait();
      expect(receipt?.status).toBe(1);
      expect(expected, `${label}: succeeded, model expected a revert`).toBeUndefined();
      model.eth[from]! -= receipt!.fee;
      counts.succeeded++;
      return true;
    }

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
        const view = (await mining.getFunction("commitments")(BigInt(id))) as { status: bigint; bond: bigint };
        expect(Number(view.status)).toBe(c.status);
        expect(view.bond).toBe(c.bond);
      }
      figures.invariantChecks += 8 + 2 * ACTORS + model.commitments.length;
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
          const { actor: who, dr, dc } = action;
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
          const root = action.rootOutOfField ? P + (action.root % 1000n) : action.root;
          const shapeOk = dr <= MAX_LOG2 && dc <= MAX_LOG2;
          const bond = shapeOk ? model.bond(dr, dc) : 0n;
          const value = bond + BigInt(action.bondDelta);
          if (value < 0n) break;
          let error: string | undefined;
          if (epoch > current || current - epoch > 1n) error = "StaleEpoch";
          else if (epoch !== current && !model.openedEpochs.has(epoch)) error = "EpochNotOpen";
          else if (nonce !== expectedNonce) error = "WrongNonce";
          else if (root >= P) error = "OutputRootOutOfField";
          else if (!shapeOk) error = "ShapeTooLarge";
          else if (value !== bond) error = "BondMismatch";
          else if (model.supply >= protocol.cap) error = "CapReached";
          const ok = await send("commit", who, mining.interface, error, () =>
            mining.connect(actors[who]!).getFunction("commit")(epoch, nonce, root, dr, dc, { value }),
          );
          if (ok) {
            model.openedEpochs.add(current);
            model.nonces.set(`${who}:${epoch}`, expectedNonce + 1n);
            model.commitments.push({ miner: who, epoch, dr, dc, commitBlock: block, bond, status: Status.Committed });
            model.eth[who]! -= value;
            figures.commitments++;
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
          let error: string | undefined;
          if (!c) error = "UnknownCommitment";
          else if (who !== c.miner) error = "NotMiner";
          else if (c.status !== Status.Committed) error = "AlreadySettled";
          else if (block <= c.commitBlock + D) error = "TooEarly";
          else if (block > c.commitBlock + D + W) error = "TooLate";
          else if (BigInt(n) !== NP) error = "WrongProofCount";
          else if (marks.includes(false)) error = "InvalidProof";
          const ok = await send("prove", who, mining.interface, error, () =>
            mining.connect(actors[who]!).getFunction("prove")(id, proofs),
          );
          if (ok && c) {
            c.status = Status.Proven;
            const reward = model.reward(c);
            const room = protocol.cap - model.supply;
            minted = reward < room ? reward : room;
            if (minted < reward) figures.cappedMints++;
            model.supply += minted;
            model.tokens[who]! += minted;
            model.eth[who]! += c.bond;
            figures.acceptedProofSubmissions++;
          }
          break;
        }
        case "slash": {
          const id = model.pick(action.target, action.pick);
          const c = model.commitments[Number(id)];
          if (c && action.align) await alignTo(c.commitBlock + D + W + 1n + BigInt(action.pick % 3));
          let error: string | undefined;
          if (!c) error = "UnknownCommitment";
          else if (c.status !== Status.Committed) error = "AlreadySettled";
          else if (block <= c.commitBlock + D + W) error = "WindowOpen";
          const ok = await send("slash", action.actor, mining.interface, error, () =>
            mining.connect(actors[action.actor]!).getFunction("slash")(id),
          );
          if (ok && c) {
            c.status = Status.Slashed;
            const bounty = (c.bond * protocol.slashBountyBps) / 10_000n;
            model.eth[action.actor]! += bounty;
            model.burned += c.bond - bounty;
            figures.slashed++;
          }
          break;
        }
        case "transfer": {
          const balance = model.tokens[action.from]!;
          const amount = (balance * BigInt(action.permille)) / 1000n + (action.permille > 1000 ? 1n : 0n);
          const error = amount > balance ? "ERC20InsufficientBalance" : undefined;
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
          await send("mint (unauthorised)", action.actor, token.interface, "DemleUnauthorizedMinter", () =>
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
      `contract properties: ${figures.sequences} sequences, ${figures.steps} steps, ` +
        `${figures.invariantChecks} invariant checks, ${figures.acceptedProofSubmissions} accepted proofs, ` +
        `${figures.slashed} slashes in ${seconds.toFixed(1)} s`,
    );
    expect(figures.steps).toBe(RUNS * STEPS);
  }, 3_600_000);
});
