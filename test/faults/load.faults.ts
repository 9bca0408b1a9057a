// Load (issue #8): 8 in-process miners on one local chain share one 2-worker prover pool, so the pool is saturated;
// each settles FAULTS_LOAD_EPOCHS (default 5) commitments of the "gemm-demo" workload (one GEMM demo layer). Every
// accepted proof must be accounted for (ProofAccepted events = settled jobs = Committed events), balances must equal
// the expected rewards exactly, no transaction may fail, and no bond may be lost: every commitment ends Proven, nothing
// is slashed or burned, and the contract holds no bond at the end.
//
// The miners' admission control skips an epoch when the shared pool's backlog would not fit half the proof window, so
// a miner may need more than FAULTS_LOAD_EPOCHS epochs: the test counts settled commitments, not epochs, and records
// the skipped epochs (stats.commitmentsDeferred) per miner. Figures go to build/faults/load.json.
//
// A miner whose run throws is restarted on its state directory, as a supervisor would restart `demle mine` (at most
// 5 times), so the figures stay complete; any restart or failed transaction still fails the test.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import hre from "hardhat";
import { Contract, NonceManager, type Signer } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadArtifact } from "../../miner/artifacts.js";
import { MINING_WORKLOADS, prepareWorkload, type PreparedCircuit } from "../../miner/circuits.js";
import { deployDemle, miningParams, type Deployment, type MiningParams } from "../../miner/deploy.js";
import { setIntervalMining } from "../../miner/hardhat.js";
import { Miner } from "../../miner/miner.js";
import { ProverPool } from "../../prover/pool.js";

const EPOCHS = Number(process.env.FAULTS_LOAD_EPOCHS ?? 5);
const MINERS = 8;
const WORKERS = 2;
const BLOCK_MS = 250;
const MAX_RESTARTS = 5;
const WORKLOAD_NAME = "gemm-demo";
const WORKLOAD = MINING_WORKLOADS[WORKLOAD_NAME];
/** Contract status codes (IDemleMining.Status). */
const STATUS_PROVEN = 2n;

type Connection = Awaited<ReturnType<typeof hre.network.create>>;

describe(`${MINERS} miners, one ${WORKERS}-worker prover pool`, () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "demle-faults-load-"));
  let prepared: PreparedCircuit[];
  let connection: Connection;
  let deployment: Deployment;
  let params: MiningParams;
  let signers: Signer[];
  let pool: ProverPool;
  let abi: never;

  beforeAll(async () => {
    prepared = await prepareWorkload(WORKLOAD, () => {});
    await hre.tasks.getTask("build").run({ quiet: true });
    connection = await hre.network.create();
    await setIntervalMining(connection.provider, BLOCK_MS);
    signers = (await connection.ethers.getSigners()) as unknown as Signer[];
    params = miningParams();
    deployment = await deployDemle(signers[0]!, WORKLOAD_NAME, prepared, params);
    abi = (await loadArtifact("DemleMining.sol", "DemleMining")).abi as never;
    pool = new ProverPool({ workers: WORKERS, taskTimeoutMs: 600_000 });
  }, 600_000);

  afterAll(async () => {
    await pool?.close();
    await connection?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it(`each settles ${EPOCHS} commitment(s): proofs, balances and nonces all add up`, async () => {
    // Work units of every layer's work times the reward per unit (no halving in this run).
    const reward =
      WORKLOAD.reduce(
        (sum, { circuit, shape }) =>
          sum + BigInt(circuit.macsPerTile) * 2n ** BigInt(shape.rowBlocksLog2 + shape.colBlocksLog2),
        0n,
      ) * params.initialRewardPerMac;
    const layers = WORKLOAD.map((layer, i) => ({ ...layer, prover: prepared[i]!.setup.prover }));
    const logs: string[] = [];
    const t0 = performance.now();
    let retries = 0;
    const makeMiner = (i: number) =>
      new Miner({
        contract: deployment.mining,
        signer: new NonceManager(signers[i + 1]!),
        layers,
        pool,
        stateDir: path.join(root, `miner${i + 1}`),
        pollMs: 250,
        onEvent: (event) => {
          if (event.type !== "log") return;
          logs.push(`${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s miner${i + 1}: ${event.message}`);
          if (event.message.startsWith("RPC error")) retries++;
        },
      });
    const errors: string[][] = Array.from({ length: MINERS }, () => []);
    /** Epochs each miner skipped (admission control), summed over its restarts. */
    const deferred: number[] = Array(MINERS).fill(0);
    const miners: Miner[] = [];
    /** Runs miner i until it has settled EPOCHS commitments, restarting it after an error. */
    const supervise = async (i: number) => {
      for (let restarts = 0; ; restarts++) {
        const m = makeMiner(i);
        miners[i] = m;
        await m.init(abi);
        const settled = m.jobs().filter((j) => j.stage === "settled").length;
        if (settled >= EPOCHS) return;
        try {
          await m.run(EPOCHS - settled);
          if (m.jobs().filter((j) => j.stage === "settled").length >= EPOCHS) return;
        } catch (error) {
          errors[i]!.push(String(error).slice(0, 300));
          if (restarts >= MAX_RESTARTS) throw error;
        } finally {
          deferred[i] = deferred[i]! + m.stats.commitmentsDeferred;
          await m.release();
        }
      }
    };
    const fromBlock = await connection.ethers.provider.getBlockNumber();
    const started = performance.now();
    const results = await Promise.allSettled(Array.from({ length: MINERS }, (_, i) => supervise(i)));
    const wallMs = performance.now() - started;

    const mining = new Contract(deployment.mining, abi, connection.ethers.provider);
    const token = new Contract(
      deployment.token,
      ["function balanceOf(address) view returns (uint256)"],
      connection.ethers.provider,
    );
    const committed = await mining.queryFilter(mining.filters.Committed!(), fromBlock);
    const accepted = await mining.queryFilter(mining.filters.ProofAccepted!(), fromBlock);
    const slashed = await mining.queryFilter(mining.filters.Slashed!(), fromBlock);
    // No bond lost: every commitment of the run is Proven, nothing burned, and the contract holds no bond any more.
    const statuses = await Promise.all(
      committed.map(async (e) => {
        const id = (e as unknown as { args: unknown[] }).args[0] as bigint;
        return ((await mining.getFunction("commitments")(id)) as { status: bigint }).status;
      }),
    );
    const unproven = statuses.filter((status) => status !== STATUS_PROVEN).length;
    const burnedBonds = (await mining.getFunction("burnedBonds")()) as bigint;
    const bondsHeld = await connection.ethers.provider.getBalance(deployment.mining);
    // Every transaction the miners sent succeeded: no reverted receipt in the blocks of the run.
    const latest = await connection.ethers.provider.getBlockNumber();
    let transactions = 0;
    let failed = 0;
    const addresses = new Set(await Promise.all(miners.map((_, i) => signers[i + 1]!.getAddress())));
    for (let n = fromBlock + 1; n <= latest; n++) {
      const block = await connection.ethers.provider.getBlock(n, true);
      for (const tx of block?.prefetchedTransactions ?? []) {
        if (!addresses.has(tx.from)) continue;
        transactions++;
        const receipt = await connection.ethers.provider.getTransactionReceipt(tx.hash);
        if (receipt?.status !== 1) failed++;
      }
    }
    const perMiner = [];
    for (const [i, m] of miners.entries()) {
      const address = await signers[i + 1]!.getAddress();
      const jobs = m.jobs();
      const settledEpochs = jobs.filter((j) => j.stage === "settled").map((j) => j.epoch);
      perMiner.push({
        miner: address,
        run: results[i]!.status === "fulfilled" ? "ok" : String((results[i] as PromiseRejectedResult).reason),
        settled: jobs.filter((j) => j.stage === "settled").length,
        lost: jobs.filter((j) => j.stage === "lost").map((j) => ({ committed: j.id !== undefined, note: j.note })),
        deferred: deferred[i]!,
        restarts: errors[i]!.length,
        errors: errors[i],
        committed: committed.filter((e) => (e as unknown as { args: unknown[] }).args[1] === address).length,
        accepted: accepted.filter((e) => (e as unknown as { args: unknown[] }).args[1] === address).length,
        balance: ((await token.getFunction("balanceOf")(address)) as bigint).toString(),
        /** Epochs of the settled commitments (a skipped epoch shows as a gap). */
        epochs: settledEpochs,
        epochsSpanned: settledEpochs.length > 0 ? Math.max(...settledEpochs) - Math.min(...settledEpochs) + 1 : 0,
        stats: { ...m.stats, earned: m.stats.earned.toString(), bondAtRisk: m.stats.bondAtRisk.toString() },
        jobs: jobs.map(({ epoch, nonce, id, commitBlock, stage, note, timings }) => ({
          epoch,
          nonce,
          id,
          commitBlock,
          stage,
          note,
          timings,
        })),
      });
    }
    const settled = perMiner.reduce((sum, m) => sum + m.settled, 0);
    const proofs = accepted.length * params.proofsPerCommitment;
    const figures = {
      miners: MINERS,
      workers: WORKERS,
      epochsPerMiner: EPOCHS,
      blockMs: BLOCK_MS,
      workload: WORKLOAD_NAME,
      layers: WORKLOAD.map(({ circuit, shape }) => ({ circuit: circuit.name, op: circuit.op, shape })),
      proofsPerCommitment: params.proofsPerCommitment,
      epochLength: params.epochLength,
      proofWindow: params.proofWindow,
      commitments: committed.length,
      acceptedCommitments: accepted.length,
      settledJobs: settled,
      /** Epochs the miners skipped because the shared prover pool was too busy (admission control). */
      deferredEpochs: perMiner.reduce((sum, m) => sum + m.deferred, 0),
      lostJobs: perMiner.reduce((sum, m) => sum + m.lost.length, 0),
      unprovenCommitments: unproven,
      slashed: slashed.length,
      burnedBonds: burnedBonds.toString(),
      bondsHeldAtEnd: bondsHeld.toString(),
      proofs,
      transactions,
      failedTransactions: failed,
      restarts: perMiner.reduce((sum, m) => sum + m.restarts, 0),
      rpcRetries: retries,
      wallMs: Math.round(wallMs),
      proofsPerMinute: Number((proofs / (wallMs / 60_000)).toFixed(1)),
      commitmentsPerMinute: Number((accepted.length / (wallMs / 60_000)).toFixed(2)),
      perMiner,
    };
    mkdirSync(path.join("build", "faults"), { recursive: true });
    writeFileSync(path.join("build", "faults", "load.json"), `${JSON.stringify(figures, null, 2)}\n`);
    // The miners' log lines (admissions, skipped epochs, commitments, lost work), for reading a failure.
    writeFileSync(path.join("build", "faults", "load.log"), `${logs.join("\n")}\n`);

    expect(perMiner.map((m) => m.run)).toEqual(Array(MINERS).fill("ok"));
    // Work dropped (stale after a slow cycle or a restart) must not have cost a bond: it was never committed.
    for (const m of perMiner) {
      for (const lost of m.lost) {
        expect(lost.committed).toBe(false);
        expect(lost.note).toMatch(/no bond paid/);
      }
    }
    // No bond lost.
    expect(unproven).toBe(0);
    expect(slashed).toHaveLength(0);
    expect(burnedBonds).toBe(0n);
    expect(bondsHeld).toBe(0n);
    // Every accepted proof accounted for: one Committed and one ProofAccepted event per settled job.
    expect(committed.length).toBe(MINERS * EPOCHS);
    expect(accepted.length).toBe(settled);
    expect(settled).toBe(MINERS * EPOCHS);
    for (const m of perMiner) {
      expect(m.settled).toBe(EPOCHS);
      expect(m.accepted).toBe(m.settled);
      expect(m.committed).toBe(m.settled);
      expect(BigInt(m.balance)).toBe(BigInt(m.settled) * reward);
    }
    expect(retries).toBe(0);
    expect(perMiner.reduce((sum, m) => sum + m.restarts, 0)).toBe(0);
    expect(perMiner.flatMap((m) => m.errors)).toEqual([]);
    expect(failed).toBe(0);
  }, 1_200_000);
});
