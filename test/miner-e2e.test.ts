// End to end on an in-process chain: real miners (ONNX Runtime, Poseidon commitments, the prover pool, real proofs)
// against a real deployment of DemleMining with the demo workload: one layer per op, each with its circuit's verifier.
import { mkdtempSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import hre from "hardhat";
import { Contract, NonceManager, type Signer } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadArtifact } from "../miner/artifacts.js";
import { MINING_WORKLOADS, prepareWorkload, type PreparedCircuit } from "../miner/circuits.js";
import { deployDemle, miningParams, type Deployment, type MiningParams } from "../miner/deploy.js";
import { setIntervalMining } from "../miner/hardhat.js";
import { Miner, type Job } from "../miner/miner.js";
import { ProverPool } from "../prover/pool.js";

type Connection = Awaited<ReturnType<typeof hre.network.create>>;

const WORKLOAD = MINING_WORKLOADS.demo;

describe(`miners on an in-process chain (${WORKLOAD.map((l) => l.circuit.op).join(" + ")})`, () => {
  let prepared: PreparedCircuit[];
  let connection: Connection;
  let deployment: Deployment;
  let params: MiningParams;
  let pool: ProverPool;
  let signers: Signer[];
  let abi: never;
  let mining: Contract;
  let token: Contract;
  const stateRoot = mkdtempSync(path.join(os.tmpdir(), "demle-e2e-"));

  beforeAll(async () => {
    prepared = await prepareWorkload(WORKLOAD, () => {});
    await hre.tasks.getTask("build").run({ quiet: true });
    connection = await hre.network.create();
    await setIntervalMining(connection.provider, 200);
    signers = (await connection.ethers.getSigners()) as unknown as Signer[];
    // Epochs and windows long enough that a loaded CI machine still commits and proves in time.
    // One proof per layer, so every op is proven in every commitment.
    params = miningParams({
      proofsPerCommitment: WORKLOAD.length,
      epochLength: 100,
      challengeDelay: 2,
      proofWindow: 200,
    });
    deployment = await deployDemle(signers[0]!, "demo", prepared, params);
    abi = (await loadArtifact("DemleMining.sol", "DemleMining")).abi as never;
    mining = new Contract(deployment.mining, abi, connection.ethers.provider);
    token = new Contract(
      deployment.token,
      ["function balanceOf(address) view returns (uint256)"],
      connection.ethers.provider,
    );
    pool = new ProverPool({ workers: 2, taskTimeoutMs: 300_000 });
  }, 900_000);

  afterAll(async () => {
    await pool?.close();
    await connection?.close();
    rmSync(stateRoot, { recursive: true, force: true });
  });

  function miner(
    index: number,
    options: {
      onJob?: (job: Job) => void;
      computeOutputs?: (layer: number, seed: bigint, honest: () => Promise<Uint32Array>) => Promise<Uint32Array>;
    } = {},
  ) {
    return new Miner({
      contract: deployment.mining,
      signer: new NonceManager(signers[index]!),
      layers: WORKLOAD.map((layer, i) => ({ ...layer, prover: prepared[i]!.setup.prover })),
      pool,
      stateDir: path.join(stateRoot, `miner${index}`),
      pollMs: 100,
      ...(options.computeOutputs ? { computeOutputs: options.computeOutputs } : {}),
      onEvent: (event) => {
        if (event.type === "job") options.onJob?.(event.job);
      },
    });
  }

  /** Work units of every layer's work times the reward per unit (no halving yet), from the circuits' tilings. */
  const expectedReward = () =>
    WORKLOAD.reduce(
      (sum, { circuit, shape }) =>
        sum + BigInt(circuit.macsPerTile) * 2n ** BigInt(shape.rowBlocksLog2 + shape.colBlocksLog2),
      0n,
    ) * params.initialRewardPerMac;

  async function commitmentsOf(address: string): Promise<bigint[]> {
    const events = await mining.queryFilter(mining.filters.Committed!(null, address));
    return events.map((event) => (event as unknown as { args: bigint[] }).args[0]!);
  }

  it("two honest miners each earn exactly the expected reward and get their bonds back", async () => {
    const miners = [miner(1), miner(2)];
    for (const m of miners) await m.init(abi);
    await Promise.all(miners.map((m) => m.run(1)));
    for (const index of [1, 2]) {
      const address = await signers[index]!.getAddress();
      expect(await token.getFunction("balanceOf")(address)).toBe(expectedReward());
      expect(await commitmentsOf(address)).toHaveLength(1);
    }
    expect(await connection.ethers.provider.getBalance(deployment.mining)).toBe(0n);
    for (const m of miners) await m.release();
  }, 300_000);

  it.each(["computed", "committed", "proofs-ready"] as const)(
    "a miner killed once its commitment is %s resumes it after a restart: no recomputation, no second commitment",
    async (stage) => {
      const index = { computed: 3, committed: 4, "proofs-ready": 5 }[stage];
      const address = await signers[index]!.getAddress();
      let computations = 0;
      const computeOutputs = (_layer: number, _seed: bigint, honest: () => Promise<Uint32Array>) => {
        computations++;
        return honest();
      };
      const abort = new AbortController();
      const first = miner(index, { computeOutputs, onJob: (job) => job.stage === stage && abort.abort() });
      await first.init(abi);
      const stopped = await first.run(1, abort.signal).then(
        () => "finished",
        (error: unknown) => String(error),
      );
      expect(stopped).toMatch(/abort/i);
      const killedAt = first.jobs()[0]!;
      expect(killedAt.stage).toBe(stage);
      const outputsMtimes = killedAt.outputsFiles.map(
        (file) => statSync(path.join(stateRoot, `miner${index}`, file)).mtimeMs,
      );

      const second = miner(index, { computeOutputs });
      await second.init(abi);
      await second.run(1);
      const job = second.jobs()[0]!;
      expect(job.stage).toBe("settled");
      expect(second.jobs()).toHaveLength(1);
      expect(computations).toBe(WORKLOAD.length);
      expect(job.outputsFiles.map((file) => statSync(path.join(stateRoot, `miner${index}`, file)).mtimeMs)).toEqual(
        outputsMtimes,
      );
      expect(await commitmentsOf(address)).toEqual([BigInt(job.id!)]);
      expect(await token.getFunction("balanceOf")(address)).toBe(expectedReward());
      await first.release();
      await second.release();
    },
    300_000,
  );

  it("refuses a deployment whose layers are not the miner's workload", async () => {
    const [gemm] = MINING_WORKLOADS["gemm-demo"];
    const mismatched = new Miner({
      contract: deployment.mining,
      signer: new NonceManager(signers[8]!),
      layers: [{ ...gemm, prover: prepared[0]!.setup.prover }],
      pool,
      stateDir: path.join(stateRoot, "mismatched"),
    });
    await expect(mismatched.init(abi)).rejects.toThrow(
      new RegExp(`has ${WORKLOAD.length} layer\\(s\\); this miner's workload has 1 \\(gemm_seed_demo_2x2x16\\)`),
    );
    const reordered = new Miner({
      contract: deployment.mining,
      signer: new NonceManager(signers[8]!),
      layers: [...WORKLOAD]
        .reverse()
        .map((layer, i) => ({ ...layer, prover: prepared[WORKLOAD.length - 1 - i]!.setup.prover })),
      pool,
      stateDir: path.join(stateRoot, "reordered"),
    });
    await expect(reordered.init(abi)).rejects.toThrow(/layer 0 of the contract .* is not circuit attention_seed_demo/);
  });

  it("a miner whose GEMM outputs are wrong everywhere cannot prove, and loses its bond to a slash", async () => {
    const index = 6;
    const address = await signers[index]!.getAddress();
    // Layer 0 (GEMM): every output 10^6, far outside the contract for these inputs (|C| ≤ 16·448² ≈ 3.2·10^6 only
    // with T ≈ that); the other layers are honest.
    const cheater = miner(index, {
      computeOutputs: async (layer, _seed, honest) => (layer === 0 ? (await honest()).fill(0x49742400) : honest()),
    });
    await cheater.init(abi);
    await cheater.run(1).catch(() => {});
    const job = cheater.jobs()[0]!;
    expect(job.stage).toBe("lost");
    expect(job.note).toMatch(/failed at witness/);
    const balanceBefore = await connection.ethers.provider.getBalance(deployment.mining);
    expect(balanceBefore).toBe(BigInt(job.bond));
    // Let the proof window pass, then anyone may slash.
    await connection.provider.request({
      method: "hardhat_mine",
      params: [`0x${(params.proofWindow + params.challengeDelay + 1).toString(16)}`],
    });
    const slasher = new Contract(deployment.mining, abi, signers[7]!);
    const receipt = await (await slasher.getFunction("slash")(BigInt(job.id!))).wait();
    const slashed = receipt.logs
      .map((entry: { topics: string[]; data: string }) => mining.interface.parseLog(entry))
      .find((e: { name: string } | null) => e?.name === "Slashed");
    expect(slashed.args[1]).toBe(address);
    const bounty = (BigInt(job.bond) * BigInt(params.slashBountyBps)) / 10_000n;
    expect(slashed.args[3]).toBe(bounty);
    expect(await token.getFunction("balanceOf")(address)).toBe(0n);
    await cheater.release();
  }, 300_000);
});
