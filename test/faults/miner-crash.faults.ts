// Fault injection (issue #8): `demle mine` as a child process, on a "gemm-demo" deployment (one GEMM demo layer),
// killed with SIGKILL at a random moment or at a chosen phase of its commitment, then restarted on the same state
// directory. Afterwards the chain must show that nothing was lost or done twice: every commitment of the miner is
// Proven, its Committed events match the settled jobs of the state file, and its DEMLE balance is exactly (proven
// commitments) × (reward per commitment). The state file must parse after every kill. Figures go to
// build/faults/miner-crash.json.
//
// FAULTS_KILLS (default 20) sets the number of kill/restart runs; FAULTS_KILL_WINDOW_S (default 8) the span of the
// uniformly random kill time of the "random time" runs. A miner process that exits with an error fails the run.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import hre from "hardhat";
import { Contract, JsonRpcProvider, NonceManager, parseEther, Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadArtifact } from "../../miner/artifacts.js";
import { MINING_WORKLOADS, prepareWorkload } from "../../miner/circuits.js";
import { deployDemle, miningParams, type Deployment, type MiningParams } from "../../miner/deploy.js";
import { setIntervalMining } from "../../miner/hardhat.js";
import type { Job } from "../../miner/miner.js";

const KILLS = Number(process.env.FAULTS_KILLS ?? 20);
const KILL_WINDOW_MS = Number(process.env.FAULTS_KILL_WINDOW_S ?? 8) * 1000;
const BLOCK_MS = 250;
const WORKLOAD_NAME = "gemm-demo";
const WORKLOAD = MINING_WORKLOADS[WORKLOAD_NAME];
/** Restart a miner process that exits with an error (a known miner bug) instead of failing the run. */
const DEPLOYER_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const STATUS_PROVEN = 2n;

/** How a run picks its kill moment. */
const TRIGGERS = ["random-time", "computed", "after-commit", "waiting", "proving", "after-prove"] as const;
type Trigger = (typeof TRIGGERS)[number];

interface RunRecord {
  run: number;
  trigger: Trigger;
  miner: string;
  killAfterMs: number | null;
  /** Stage of the (last) job in the state file right after the kill; "none" when no job was persisted yet. */
  stageAtKill: string;
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
  settledJobs: number;
  lostJobs: number;
  balance: string;
  expectedBalance: string;
  ok: boolean;
  error?: string;
}

type StateFile = { jobs: Job[] };

function readState(file: string): { state?: StateFile; parseError?: string } {
  if (!existsSync(file)) return {};
  try {
    return { state: JSON.parse(readFileSync(file, "utf8")) as StateFile };
  } catch (error) {
    return { parseError: String(error) };
  }
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
    await setIntervalMining({ request: ({ method, params: p }) => provider.send(method, p ?? []) }, BLOCK_MS);
    funder = new NonceManager(new Wallet(DEPLOYER_KEY, provider));
    params = miningParams();
    // `demle mine --deployment` takes the workload from this file.
    deployment = await deployDemle(funder, WORKLOAD_NAME, prepared, params);
    deploymentFile = path.join(root, "deployment.json");
    writeFileSync(deploymentFile, JSON.stringify(deployment));
    const abi = (await loadArtifact("DemleMining.sol", "DemleMining")).abi;
    mining = new Contract(deployment.mining, abi, provider);
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
      commitments: records.reduce((sum, r) => sum + r.commitments, 0),
      proven: records.reduce((sum, r) => sum + r.proven, 0),
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

  function startMiner(key: string, stateDir: string): { child: ChildProcess; lines: string[]; exit: Promise<number> } {
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        path.join("cli", "demle.ts"),
        "mine",
        "--rpc",
        rpcUrl,
        "--deployment",
        deploymentFile,
        "--state-dir",
        stateDir,
        "--commitments",
        "1",
        "--workers",
        "1",
        "--status-interval",
        "3600",
        "--json",
      ],
      { env: { ...process.env, DEMLE_PRIVATE_KEY: key }, stdio: ["ignore", "pipe", "pipe"] },
    );
    const lines: string[] = [];
    let buffer = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      const parts = buffer.split("\n");
      buffer = parts.pop()!;
      lines.push(...parts.filter((line) => line.length > 0));
    });
    let stderr = "";
    child.stderr!.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    const exit = new Promise<number>((resolve) =>
      child.once("exit", (code, sig) => {
        if (code !== 0 && sig !== "SIGKILL") lines.push(JSON.stringify({ type: "stderr", message: stderr }));
        resolve(code ?? -1);
      }),
    );
    return { child, lines, exit };
  }

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
          delay = trigger === "waiting" ? Math.random() * 500 : trigger === "proving" ? Math.random() * 2000 : 0;
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
        settledJobs: 0,
        lostJobs: 0,
        balance: "0",
        expectedBalance: "0",
        ok: false,
      };
      records.push(record);
      try {
        const first = startMiner(wallet.privateKey, stateDir);
        let exited = false;
        void first.exit.then(() => (exited = true));
        record.killAfterMs = await waitForTrigger(trigger, statePath, () => exited, counters);
        record.exitedBeforeKill = exited;
        first.child.kill("SIGKILL");
        const code = await first.exit;
        if (record.exitedBeforeKill && code !== 0) {
          record.minerErrors.push(first.lines.slice(-2).join(" | ").slice(0, 400));
          throw new Error(`miner failed before the kill: ${first.lines.slice(-2).join(" | ")}`);
        }
        record.lastLogAtKill = first.lines.at(-1) ?? null;
        const afterKill = readState(statePath);
        record.stateParsedAfterKill = afterKill.parseError === undefined;
        record.stageAtKill = afterKill.state?.jobs.at(-1)?.stage ?? "none";
        expect(afterKill.parseError).toBeUndefined();

        const restarted = performance.now();
        const second = startMiner(wallet.privateKey, stateDir);
        let secondExited = false;
        void second.exit.then(() => (secondExited = true));
        // Keep checking the state file while the restarted miner works.
        while (!secondExited) {
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
