// Fault injection (issue #8): `demle mine` as a child process, on a "gemm-demo" deployment (one GEMM demo layer),
// killed with SIGKILL at a random moment or at a chosen phase of its commitment, then restarted on the same state
// directory. Afterwards the chain must show that nothing was lost or done twice: every commitment of the miner is
// Proven, its Committed events match the settled jobs of the state file, it sent exactly one commit and one prove
// transaction per commitment (none reverted), and its DEMLE balance is exactly (proven commitments) × (reward per
// commitment). The state file must parse after every kill. Figures go to build/faults/miner-crash.json.
//
// Blocks: the node mines only every FAULTS_CRASH_BLOCK_MS (default 1000) — automine off — so a sent transaction
// waits in the mempool until the next block, and the miner's receipt wait (ethers polls for blocks every 4 s) spans
// up to a few seconds: kills land between a transaction's send and its receipt (stages commit-sent and prove-sent),
// either while the transaction is still pending or after it was mined but before the miner saw the receipt. (With
// automine, every transaction is mined at once and those stages are never seen.) The triggers "commit-sent" and
// "prove-sent" aim there; the random-time runs hit them by chance.
//
// FAULTS_KILLS (default 20) sets the number of kill/restart runs (triggers in TRIGGERS order, so that a short run
// still has one of each send/receipt kill); FAULTS_KILL_WINDOW_S (default 18: a commitment takes ≈ 4–20 s from the
// start of the process at these block times) the span of the uniformly random kill time of the "random time" runs.
// A miner process that exits with an error fails the run.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import hre from "hardhat";
import { Contract, Interface, JsonRpcProvider, NonceManager, parseEther, Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadArtifact } from "../../miner/artifacts.js";
import { MINING_WORKLOADS, prepareWorkload } from "../../miner/circuits.js";
import { deployDemle, miningParams, type Deployment, type MiningParams } from "../../miner/deploy.js";
import { setIntervalMining } from "../../miner/hardhat.js";
import { minedTransactions } from "./chain-scan.js";
import { readState, startCliMiner } from "./cli-miner.js";

const KILLS = Number(process.env.FAULTS_KILLS ?? 20);
const KILL_WINDOW_MS = Number(process.env.FAULTS_KILL_WINDOW_S ?? 18) * 1000;
const BLOCK_MS = Number(process.env.FAULTS_CRASH_BLOCK_MS ?? 1000);
const WORKLOAD_NAME = "gemm-demo";
const WORKLOAD = MINING_WORKLOADS[WORKLOAD_NAME];
const DEPLOYER_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const STATUS_PROVEN = 2n;

/** How a run picks its kill moment. */
const TRIGGERS = [
  "random-time",
  "commit-sent",
  "prove-sent",
  "computed",
  "after-commit",
  "waiting",
  "proving",
  "after-prove",
] as const;
type Trigger = (typeof TRIGGERS)[number];

interface RunRecord {
  run: number;
  trigger: Trigger;
  miner: string;
  killAfterMs: number | null;
  /** Stage of the (last) job in the state file right after the kill; "none" when no job was persisted yet. */
  stageAtKill: string;
  /** Killed in commit-sent or prove-sent: whether that transaction was already mined (else still pending). */
  sentTxMinedAtKill?: boolean;
  lastLogAtKill: string | null;
  exitedBeforeKill: boolean;
  stateParsedAfterKill: boolean;
  statePolls: number;
  statePollParseFailures: number;
  restartMs: number;
  /** Errors a miner process exited with (each one fails the run). */
  minerErrors: string[];
  /** Temporary files of interrupted atomic writes left in the state directory. */
  leftoverTmpFiles: number;
  commitments: number;
  proven: number;
  /** Transactions of the miner mined on chain during the run, by function; and how many of them reverted. */
  transactions: Record<string, number>;
  revertedTransactions: number;
  settledJobs: number;
  lostJobs: number;
  balance: string;
  expectedBalance: string;
  ok: boolean;
  error?: string;
}

describe("demle mine killed with SIGKILL and restarted", () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "demle-faults-crash-"));
  const records: RunRecord[] = [];
  let server: Awaited<ReturnType<typeof hre.network.createServer>>;
  let rpcUrl: string;
  let provider: JsonRpcProvider;
  let funder: NonceManager;
  let deployment: Deployment;
  let deploymentFile: string;
  let params: MiningParams;
  let mining: Contract;
  let token: Contract;
  let miningInterface: Interface;
  const started = performance.now();
  /** Work units of every layer's work (the workload's shapes, which `demle mine` commits) times the reward per unit. */
  const reward = () =>
    WORKLOAD.reduce(
      (sum, { circuit, shape }) =>
        sum + BigInt(circuit.macsPerTile) * 2n ** BigInt(shape.rowBlocksLog2 + shape.colBlocksLog2),
      0n,
    ) * params.initialRewardPerMac;

  beforeAll(async () => {
    const prepared = await prepareWorkload(WORKLOAD, () => {});
    await hre.tasks.getTask("build").run({ quiet: true });
    server = await hre.network.createServer({}, "127.0.0.1", 0);
    const { address, port } = await server.listen();
    rpcUrl = `http://${address}:${port}`;
    provider = new JsonRpcProvider(rpcUrl, undefined, { staticNetwork: true, pollingInterval: 200 });
    funder = new NonceManager(new Wallet(DEPLOYER_KEY, provider));
    params = miningParams();
    // `demle mine --deployment` takes the workload from this file. Deployed with automine (fast), then blocks only
    // every BLOCK_MS.
    deployment = await deployDemle(funder, WORKLOAD_NAME, prepared, params);
    await setIntervalMining({ request: ({ method, params: p }) => provider.send(method, p ?? []) }, BLOCK_MS);
    await provider.send("evm_setAutomine", [false]);
    deploymentFile = path.join(root, "deployment.json");
    writeFileSync(deploymentFile, JSON.stringify(deployment));
    const abi = (await loadArtifact("DemleMining.sol", "DemleMining")).abi;
    mining = new Contract(deployment.mining, abi, provider);
    miningInterface = new Interface(abi);
    token = new Contract(deployment.token, ["function balanceOf(address) view returns (uint256)"], provider);
  }, 600_000);

  afterAll(async () => {
    const summary = {
      kills: KILLS,
      workload: WORKLOAD_NAME,
      killWindowMs: KILL_WINDOW_MS,
      blockMs: BLOCK_MS,
      params: deployment?.params,
      runs: records.length,
      ok: records.filter((r) => r.ok).length,
      byStageAtKill: records.reduce<Record<string, number>>(
        (acc, r) => ({ ...acc, [r.stageAtKill]: (acc[r.stageAtKill] ?? 0) + 1 }),
        {},
      ),
      byTrigger: records.reduce<Record<string, number>>(
        (acc, r) => ({ ...acc, [r.trigger]: (acc[r.trigger] ?? 0) + 1 }),
        {},
      ),
      /** Kills between a transaction's send and its receipt: with the transaction still pending, or already mined. */
      sendReceiptKills: Object.fromEntries(
        ["commit-sent", "prove-sent"].map((stage) => [
          stage,
          {
            pending: records.filter((r) => r.stageAtKill === stage && r.sentTxMinedAtKill === false).length,
            mined: records.filter((r) => r.stageAtKill === stage && r.sentTxMinedAtKill === true).length,
          },
        ]),
      ),
      commitments: records.reduce((sum, r) => sum + r.commitments, 0),
      proven: records.reduce((sum, r) => sum + r.proven, 0),
      transactions: records.reduce<Record<string, number>>((acc, r) => {
        for (const [what, n] of Object.entries(r.transactions)) acc[what] = (acc[what] ?? 0) + n;
        return acc;
      }, {}),
      revertedTransactions: records.reduce((sum, r) => sum + r.revertedTransactions, 0),
      statePolls: records.reduce((sum, r) => sum + r.statePolls, 0),
      statePollParseFailures: records.reduce((sum, r) => sum + r.statePollParseFailures, 0),
      wallMs: Math.round(performance.now() - started),
      records,
    };
    mkdirSync(path.join("build", "faults"), { recursive: true });
    writeFileSync(path.join("build", "faults", "miner-crash.json"), `${JSON.stringify(summary, null, 2)}\n`);
    provider?.destroy();
    await server?.close();
    rmSync(root, { recursive: true, force: true });
  });

  const startMiner = (key: string, stateDir: string) =>
    startCliMiner({ rpc: rpcUrl, deploymentFile, stateDir, key, commitments: 1, workers: 1 });

  /** Resolves when the run's trigger fires (or the child ends by itself); polls the state file meanwhile. */
  async function waitForTrigger(
    trigger: Trigger,
    statePath: string,
    exited: () => boolean,
    counters: { polls: number; failures: number },
  ): Promise<number | null> {
    const t0 = performance.now();
    const killAt = trigger === "random-time" ? 500 + Math.random() * (KILL_WINDOW_MS - 500) : undefined;
    let armedAt: number | undefined;
    let delay = 0;
    while (!exited()) {
      if (performance.now() - t0 > 120_000) throw new Error(`trigger ${trigger} not reached in 120 s`);
      const { state, parseError } = readState(statePath);
      counters.polls++;
      if (parseError) counters.failures++;
      const job = state?.jobs.at(-1);
      const stage = job?.stage;
      if (killAt !== undefined) {
        if (performance.now() - t0 >= killAt) return Math.round(performance.now() - t0);
      } else if (armedAt === undefined) {
        let arm = false;
        if (trigger === "computed") arm = stage !== undefined;
        // The send/receipt stages, or any later one should the poll miss them (the record says where it landed).
        else if (trigger === "commit-sent") arm = stage !== undefined && stage !== "computed";
        else if (trigger === "prove-sent") arm = stage === "prove-sent" || stage === "settled";
        else if (trigger === "after-commit" || trigger === "waiting")
          arm = stage !== undefined && !["computed", "commit-sent"].includes(stage);
        else if (trigger === "proving") {
          if (job?.commitBlock !== undefined) {
            const block = await provider.getBlockNumber();
            arm = block > job.commitBlock + params.challengeDelay || stage !== "committed";
          }
        } else if (trigger === "after-prove") arm = stage === "proofs-ready" || stage === "prove-sent";
        if (arm) {
          armedAt = performance.now();
          // Into the receipt wait by up to one block: the transaction is then still pending, or just mined.
          delay =
            trigger === "waiting"
              ? Math.random() * 500
              : trigger === "proving"
                ? Math.random() * 2000
                : trigger === "commit-sent" || trigger === "prove-sent"
                  ? Math.random() * BLOCK_MS
                  : 0;
        }
      }
      if (armedAt !== undefined && performance.now() - armedAt >= delay) return Math.round(performance.now() - t0);
      await sleep(20);
    }
    return null;
  }

  it.each(Array.from({ length: KILLS }, (_, run) => run))(
    "run %i: kill -9, restart, every commitment proven exactly once",
    async (run) => {
      const trigger = TRIGGERS[run % TRIGGERS.length]!;
      const wallet = Wallet.createRandom();
      await (await funder.sendTransaction({ to: wallet.address, value: parseEther("10") })).wait();
      const stateDir = path.join(root, `miner${run}`);
      const statePath = path.join(stateDir, "miner-state.json");
      const counters = { polls: 0, failures: 0 };
      const record: RunRecord = {
        run,
        trigger,
        miner: wallet.address,
        killAfterMs: null,
        stageAtKill: "none",
        lastLogAtKill: null,
        exitedBeforeKill: false,
        stateParsedAfterKill: true,
        statePolls: 0,
        statePollParseFailures: 0,
        restartMs: 0,
        minerErrors: [],
        leftoverTmpFiles: 0,
        commitments: 0,
        proven: 0,
        transactions: {},
        revertedTransactions: 0,
        settledJobs: 0,
        lostJobs: 0,
        balance: "0",
        expectedBalance: "0",
        ok: false,
      };
      records.push(record);
      const fromBlock = await provider.getBlockNumber();
      try {
        const first = startMiner(wallet.privateKey, stateDir);
        record.killAfterMs = await waitForTrigger(trigger, statePath, first.exited, counters);
        record.exitedBeforeKill = first.exited();
        first.child.kill("SIGKILL");
        const code = await first.exit;
        if (record.exitedBeforeKill && code !== 0) {
          record.minerErrors.push(first.lines.slice(-2).join(" | ").slice(0, 400));
          throw new Error(`miner failed before the kill: ${first.lines.slice(-2).join(" | ")}`);
        }
        record.lastLogAtKill = first.lines.at(-1) ?? null;
        const afterKill = readState(statePath);
        record.stateParsedAfterKill = afterKill.parseError === undefined;
        const killedJob = afterKill.state?.jobs.at(-1);
        record.stageAtKill = killedJob?.stage ?? "none";
        expect(afterKill.parseError).toBeUndefined();
        const sentTx =
          killedJob?.stage === "commit-sent"
            ? killedJob.commitTx
            : killedJob?.stage === "prove-sent"
              ? killedJob.proveTx
              : undefined;
        if (sentTx !== undefined) record.sentTxMinedAtKill = (await provider.getTransactionReceipt(sentTx)) !== null;

        const restarted = performance.now();
        const second = startMiner(wallet.privateKey, stateDir);
        // Keep checking the state file while the restarted miner works.
        while (!second.exited()) {
          const { parseError } = readState(statePath);
          counters.polls++;
          if (parseError) counters.failures++;
          if (performance.now() - restarted > 180_000) {
            second.child.kill("SIGKILL");
            throw new Error(`restarted miner did not finish in 180 s; last line: ${second.lines.at(-1)}`);
          }
          await sleep(50);
        }
        const exitCode = await second.exit;
        record.restartMs = Math.round(performance.now() - restarted);
        if (exitCode !== 0) {
          record.minerErrors.push(second.lines.slice(-2).join(" | ").slice(0, 400));
          throw new Error(`restarted miner exited with ${exitCode}: ${second.lines.slice(-2).join(" | ")}`);
        }
        record.leftoverTmpFiles = readdirSync(stateDir).filter((f) => f.endsWith(".tmp")).length;

        const { state, parseError } = readState(statePath);
        expect(parseError).toBeUndefined();
        const jobs = state!.jobs;
        record.settledJobs = jobs.filter((j) => j.stage === "settled").length;
        record.lostJobs = jobs.filter((j) => j.stage === "lost").length;
        const events = await mining.queryFilter(mining.filters.Committed!(null, wallet.address));
        const ids = events.map((e) => (e as unknown as { args: bigint[] }).args[0]!);
        record.commitments = ids.length;
        for (const id of ids) {
          const c = (await mining.getFunction("commitments")(id)) as { status: bigint };
          if (c.status === STATUS_PROVEN) record.proven++;
        }
        const mined = await minedTransactions(provider, miningInterface, wallet.address, fromBlock);
        record.transactions = mined.byFunction;
        record.revertedTransactions = mined.reverted;
        const balance = (await token.getFunction("balanceOf")(wallet.address)) as bigint;
        record.balance = balance.toString();
        record.expectedBalance = (BigInt(record.proven) * reward()).toString();
        // Nothing lost, nothing twice: every commitment proven, one job per commitment, (epoch, nonce) unique.
        // Work may only be dropped (after a known-bug restart) if it was never committed: no bond paid.
        for (const job of jobs.filter((j) => j.stage === "lost")) {
          expect(job.id).toBeUndefined();
          expect(job.note).toMatch(/no bond paid/);
        }
        expect(record.lostJobs).toBe(0);
        expect(record.commitments).toBeGreaterThanOrEqual(1);
        expect(record.proven).toBe(record.commitments);
        expect(record.settledJobs).toBe(record.commitments);
        expect(new Set(jobs.map((j) => `${j.epoch}/${j.nonce}`)).size).toBe(jobs.length);
        const committedJobs = jobs.filter((j) => j.id !== undefined);
        expect(new Set(committedJobs.map((j) => j.id)).size).toBe(committedJobs.length);
        expect(new Set(ids.map(String))).toEqual(new Set(committedJobs.map((j) => j.id)));
        // Nothing sent twice: one commit and one prove transaction per commitment, none reverted.
        expect(record.transactions.commit ?? 0).toBe(record.commitments);
        expect(record.transactions.prove ?? 0).toBe(record.commitments);
        expect(record.revertedTransactions).toBe(0);
        expect(balance).toBe(BigInt(record.proven) * reward());
        record.ok = true;
      } catch (error) {
        record.error = String(error).slice(0, 500);
        throw error;
      } finally {
        record.statePolls = counters.polls;
        record.statePollParseFailures = counters.failures;
        expect(counters.failures).toBe(0);
      }
    },
    420_000,
  );
});
