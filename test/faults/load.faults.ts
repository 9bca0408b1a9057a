// Load (issue #8): 8 in-process miners on one local chain share one 2-worker prover pool, so the pool is saturated;
// each settles FAULTS_LOAD_EPOCHS (default 5) commitments, one per epoch. Every accepted proof must be accounted for
// (ProofAccepted events = settled jobs), balances must equal the expected rewards exactly, and no transaction may fail.
// Figures go to build/faults/load.json.
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
import { MINING_CIRCUITS, prepareCircuit, type PreparedCircuit } from "../../miner/circuits.js";
import { deployDemle, miningParams, type Deployment, type MiningParams } from "../../miner/deploy.js";
import { setIntervalMining } from "../../miner/hardhat.js";
import { Miner } from "../../miner/miner.js";
import { ProverPool } from "../../prover/pool.js";

const EPOCHS = Number(process.env.FAULTS_LOAD_EPOCHS ?? 5);
const MINERS = 8;
const WORKERS = 2;
const BLOCK_MS = 250;
const MAX_RESTARTS = 5;

type Connection = Awaited<ReturnType<typeof hre.network.create>>;

describe(`${MINERS} miners, one ${WORKERS}-worker prover pool`, () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "demle-faults-load-"));
  let prepared: PreparedCircuit;
  let connection: Connection;
  let deployment: Deployment;
  let params: MiningParams;
  let signers: Signer[];
  let pool: ProverPool;
  let abi: never;

  beforeAll(async () => {
    prepared = await prepareCircuit(MINING_CIRCUITS.demo, () => {});
    await hre.tasks.getTask("build").run({ quiet: true });
    connection = await hre.network.create();
    await setIntervalMining(connection.provider, BLOCK_MS);
    signers = (await connection.ethers.getSigners()) as unknown as Signer[];
    params = miningParams(prepared);
    deployment = await deployDemle(signers[0]!, prepared, params);
    abi = (await loadArtifact("DemleMining.sol", "DemleMining")).abi as never;
    pool = new ProverPool({ workers: WORKERS, taskTimeoutMs: 600_000 });
  }, 600_000);

  afterAll(async () => {
    await pool?.close();
    await connection?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it(`each settles ${EPOCHS} commitment(s): proofs, balances and nonces all add up`, async () => {
    const reward =
      BigInt(params.tileRows * params.tileCols * params.depth) *
      2n ** BigInt(params.maxRowBlocksLog2 + params.maxColBlocksLog2) *
      params.initialRewardPerMac;
    const logs: string[] = [];
    let retries = 0;
    const makeMiner = (i: number) =>
      new Miner({
        contract: deployment.mining,
        signer: new NonceManager(signers[i + 1]!),
        circuit: MINING_CIRCUITS.demo,
        prover: prepared.setup.prover,
        pool,
        shape: { rowBlocksLog2: params.maxRowBlocksLog2, colBlocksLog2: params.maxColBlocksLog2 },
        stateDir: path.join(root, `miner${i + 1}`),
        pollMs: 250,
        onEvent: (event) => {
          if (event.type !== "log") return;
          logs.push(`miner${i + 1}: ${event.message}`);
          if (event.message.startsWith("RPC error")) retries++;
        },
      });
    const errors: string[][] = Array.from({ length: MINERS }, () => []);
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
      perMiner.push({
        miner: address,
        run: results[i]!.status === "fulfilled" ? "ok" : String((results[i] as PromiseRejectedResult).reason),
        settled: jobs.filter((j) => j.stage === "settled").length,
        lost: jobs.filter((j) => j.stage === "lost").map((j) => j.note),
        restarts: errors[i]!.length,
        errors: errors[i],
        committed: committed.filter((e) => (e as unknown as { args: unknown[] }).args[1] === address).length,
        accepted: accepted.filter((e) => (e as unknown as { args: unknown[] }).args[1] === address).length,
        balance: ((await token.getFunction("balanceOf")(address)) as bigint).toString(),
        epochs: new Set(jobs.filter((j) => j.stage === "settled").map((j) => j.epoch)).size,
        stats: { ...m.stats, earned: m.stats.earned.toString(), bondAtRisk: m.stats.bondAtRisk.toString() },
      });
    }
    const settled = perMiner.reduce((sum, m) => sum + m.settled, 0);
    const proofs = accepted.length * params.proofsPerCommitment;
    const figures = {
      miners: MINERS,
      workers: WORKERS,
      epochsPerMiner: EPOCHS,
      blockMs: BLOCK_MS,
      proofsPerCommitment: params.proofsPerCommitment,
      epochLength: params.epochLength,
      commitments: committed.length,
      acceptedCommitments: accepted.length,
      settledJobs: settled,
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

    expect(perMiner.map((m) => m.run)).toEqual(Array(MINERS).fill("ok"));
    // Work dropped after a restart must not have cost a bond: it was never committed.
    for (const m of perMiner) for (const note of m.lost) expect(note).toMatch(/no bond paid/);
    expect(committed.length).toBe(MINERS * EPOCHS);
    expect(accepted.length).toBe(settled);
    expect(settled).toBe(MINERS * EPOCHS);
    for (const m of perMiner) {
      expect(m.accepted).toBe(m.settled);
      expect(m.committed).toBe(m.settled);
      expect(m.epochs).toBe(EPOCHS);
      expect(BigInt(m.balance)).toBe(BigInt(m.settled) * reward);
    }
    expect(retries).toBe(0);
    expect(perMiner.reduce((sum, m) => sum + m.restarts, 0)).toBe(0);
    expect(perMiner.flatMap((m) => m.errors)).toEqual([]);
    expect(failed).toBe(0);
  }, 1_200_000);
});
