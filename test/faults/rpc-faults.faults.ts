// Fault injection (issue #8): a JSON-RPC proxy on 127.0.0.1 (rpc-proxy.ts) between a miner and the node. It can go
// down (refuse connections, as a stopped node does), add latency, or drop a transaction (error, lost response,
// swallowed). The miners are in-process, except in the last scenario, where `demle mine` runs as a child process
// (cli-miner.ts) behind the proxy through an outage. The deployments verify the "gemm-demo" workload (one GEMM demo
// layer). Each scenario records what the miner did and which of its transactions were mined (none may be sent twice);
// figures go to build/faults/rpc-faults.json.
//
// FAULTS_OUTAGE_MS (default 30000) is the outage between commit and prove; FAULTS_LATENCY_MS (default 1000) the least
// added latency per request (each request waits L…2L); FAULTS_HANG_MS (default 60000) how long a miner may take after
// a dropped transaction before it counts as hung.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import hre from "hardhat";
import { Contract, Interface, JsonRpcProvider, NonceManager, parseEther, Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadArtifact } from "../../miner/artifacts.js";
import { MINING_WORKLOADS, prepareWorkload, type PreparedCircuit } from "../../miner/circuits.js";
import { deployDemle, miningParams, type Deployment, type MiningParams } from "../../miner/deploy.js";
import { setIntervalMining } from "../../miner/hardhat.js";
import { Miner, type Job } from "../../miner/miner.js";
import { ProverPool } from "../../prover/pool.js";
import { minedTransactions, type MinedTransactions } from "./chain-scan.js";
import { logMessages, readState, startCliMiner } from "./cli-miner.js";
import { RpcProxy, type DropMode } from "./rpc-proxy.js";

const OUTAGE_MS = Number(process.env.FAULTS_OUTAGE_MS ?? 30_000);
const LATENCY_MS = Number(process.env.FAULTS_LATENCY_MS ?? 1000);
const HANG_MS = Number(process.env.FAULTS_HANG_MS ?? 60_000);
const BLOCK_MS = 250;
const WORKLOAD_NAME = "gemm-demo";
const WORKLOAD = MINING_WORKLOADS[WORKLOAD_NAME];
const KEYS = [
  "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
  "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
  "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
  "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
  "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
  "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
  "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
  "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcbf8faa8b14b",
];

interface ScenarioRecord {
  scenario: string;
  outcome: "proven" | "lost" | "error" | "hang";
  wallMs: number;
  stage?: string;
  note?: string;
  error?: string;
  retries: number;
  recoveredAfterRestart?: boolean;
  restartStage?: string;
  restartNote?: string;
  balanceOk?: boolean;
  /** The miner's transactions mined during the scenario (by function, and how many reverted). */
  transactions?: MinedTransactions;
  extra?: Record<string, unknown>;
}

describe("a miner behind a faulty JSON-RPC proxy", () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "demle-faults-rpc-"));
  const records: ScenarioRecord[] = [];
  let server: Awaited<ReturnType<typeof hre.network.createServer>>;
  let direct: JsonRpcProvider;
  let proxy: RpcProxy;
  let prepared: PreparedCircuit[];
  let pool: ProverPool;
  let abi: never;
  /**
   * Default protocol (W = 200 blocks, 20-block epochs), one with a 10-block window for the long outage, and one with
   * 100-block epochs for the latency run: with 1–2 s per request the ~10 sequential calls from reading the epoch to the
   * commit take longer than two 5 s epochs, so on the default deployment the miner drops its work as stale ("epoch N
   * ended before the commit; no bond paid") every time.
   */
  let main: { deployment: Deployment; params: MiningParams };
  let short: { deployment: Deployment; params: MiningParams };
  let slow: { deployment: Deployment; params: MiningParams };
  /**
   * For `demle mine` through the outage: a proof window of at least the outage + 40 s, as the CLI's receipt waits
   * (ethers polls every 4 s) and retry backoff (up to 10 s) come on top of the outage.
   */
  let cli: { deployment: Deployment; params: MiningParams; file: string };
  let funder: NonceManager;
  let miningInterface: Interface;
  const providers: JsonRpcProvider[] = [];
  const started = performance.now();

  beforeAll(async () => {
    prepared = await prepareWorkload(WORKLOAD, () => {});
    await hre.tasks.getTask("build").run({ quiet: true });
    server = await hre.network.createServer({}, "127.0.0.1", 0);
    const { address, port } = await server.listen();
    const nodeUrl = `http://${address}:${port}`;
    direct = new JsonRpcProvider(nodeUrl, undefined, { staticNetwork: true, pollingInterval: 200 });
    await setIntervalMining({ request: ({ method, params }) => direct.send(method, params ?? []) }, BLOCK_MS);
    funder = new NonceManager(new Wallet(KEYS[0]!, direct));
    const deploy = async (params: MiningParams) => ({
      params,
      deployment: await deployDemle(funder, WORKLOAD_NAME, prepared, params),
    });
    main = await deploy(miningParams());
    short = await deploy(miningParams({ proofWindow: 10 }));
    slow = await deploy(miningParams({ epochLength: 100 }));
    // Room for the outage and 40 s more, up to the longest window the contract allows (D + W ≤ 250 blocks).
    const longestWindow = 250 - miningParams().challengeDelay;
    const cliParams = miningParams({
      proofWindow: Math.min(longestWindow, Math.max(200, Math.ceil((OUTAGE_MS + 40_000) / BLOCK_MS))),
    });
    cli = { ...(await deploy(cliParams)), file: path.join(root, "cli-deployment.json") };
    // `demle mine --deployment` takes the contract and the workload from this file.
    writeFileSync(cli.file, JSON.stringify(cli.deployment));
    abi = (await loadArtifact("DemleMining.sol", "DemleMining")).abi as never;
    miningInterface = new Interface(abi);
    proxy = new RpcProxy(nodeUrl);
    await proxy.listen();
    pool = new ProverPool({ workers: 2, taskTimeoutMs: 300_000 });
  }, 600_000);

  afterAll(async () => {
    mkdirSync(path.join("build", "faults"), { recursive: true });
    writeFileSync(
      path.join("build", "faults", "rpc-faults.json"),
      `${JSON.stringify(
        {
          outageMs: OUTAGE_MS,
          latencyMs: [LATENCY_MS, 2 * LATENCY_MS],
          hangMs: HANG_MS,
          workload: WORKLOAD_NAME,
          blockMs: BLOCK_MS,
          proofWindowBlocks: {
            main: main?.params.proofWindow,
            short: short?.params.proofWindow,
            cli: cli?.params.proofWindow,
          },
          epochLengthBlocks: { main: main?.params.epochLength, latency: slow?.params.epochLength },
          proxy: {
            requests: proxy?.requests,
            outagesMs: proxy?.outages,
            dropped: proxy?.dropped,
            forwardedTransactions: proxy?.forwardedTransactions.length,
          },
          wallMs: Math.round(performance.now() - started),
          scenarios: records,
        },
        null,
        2,
      )}\n`,
    );
    for (const p of providers) p.destroy();
    await proxy?.close();
    await pool?.close();
    direct?.destroy();
    await server?.close();
    rmSync(root, { recursive: true, force: true });
  });

  /** Work units of every layer's work times the reward per unit (no halving in these runs). */
  const reward = (params: MiningParams) =>
    WORKLOAD.reduce(
      (sum, { circuit, shape }) =>
        sum + BigInt(circuit.macsPerTile) * 2n ** BigInt(shape.rowBlocksLog2 + shape.colBlocksLog2),
      0n,
    ) * params.initialRewardPerMac;

  function makeMiner(
    key: string,
    dir: string,
    deployment: Deployment,
    on: { job?: (job: Job) => void; log?: (line: string) => void } = {},
  ): Miner {
    // As `demle mine` connects (cli/demle.ts), but through the proxy.
    const provider = new JsonRpcProvider(proxy.url, undefined, { staticNetwork: false, pollingInterval: 250 });
    providers.push(provider);
    return new Miner({
      contract: deployment.mining,
      signer: new NonceManager(new Wallet(key, provider)),
      layers: WORKLOAD.map((layer, i) => ({ ...layer, prover: prepared[i]!.setup.prover })),
      pool,
      stateDir: path.join(root, dir),
      pollMs: 250,
      // A swallowed transaction is noticed after this long, well inside FAULTS_HANG_MS.
      receiptTimeoutMs: 10_000,
      onEvent: (event) => {
        if (event.type === "job") on.job?.(event.job);
        if (event.type === "log") on.log?.(event.message);
      },
    });
  }

  /** A new miner key with 10 ETH. */
  async function fundedKey(): Promise<string> {
    const wallet = Wallet.createRandom();
    await (await funder.sendTransaction({ to: wallet.address, value: parseEther("10") })).wait();
    return wallet.privateKey;
  }

  const minedBy = (key: string, from: number) =>
    minedTransactions(direct, miningInterface, new Wallet(key).address, from);

  async function balanceOf(deployment: Deployment, key: string): Promise<bigint> {
    const token = new Contract(deployment.token, ["function balanceOf(address) view returns (uint256)"], direct);
    return (await token.getFunction("balanceOf")(new Wallet(key).address)) as bigint;
  }

  /** Runs one commitment; "hang" if it has not finished after `limitMs`. */
  async function runOne(
    miner: Miner,
    limitMs: number,
  ): Promise<{ outcome: ScenarioRecord["outcome"]; error?: string }> {
    const result = miner.run(1).then(
      () => ({ outcome: "done" as const }),
      (error: unknown) => ({ outcome: "error" as const, error: String(error).slice(0, 400) }),
    );
    const raced = await Promise.race([result, sleep(limitMs).then(() => ({ outcome: "hang" as const }))]);
    if (raced.outcome === "done") {
      const job = miner.jobs().at(-1)!;
      return { outcome: job.stage === "settled" ? "proven" : job.stage === "lost" ? "lost" : "error" };
    }
    return raced;
  }

  /** A fresh Miner on the same state directory (a restart), run to the end. */
  async function restart(record: ScenarioRecord, key: string, dir: string, deployment: Deployment): Promise<void> {
    const again = makeMiner(key, dir, deployment);
    await again.init(abi);
    const result = await runOne(again, 120_000);
    const job = again.jobs().at(-1)!;
    record.recoveredAfterRestart = result.outcome === "proven";
    record.restartStage = job.stage;
    if (job.note !== undefined) record.restartNote = job.note;
    await again.release();
  }

  it(`an outage of ${OUTAGE_MS} ms between commit and prove: the miner recovers by itself and proves`, async () => {
    const key = KEYS[1]!;
    const t0 = performance.now();
    let retries = 0;
    let outage: Promise<void> | undefined;
    const miner = makeMiner(key, "outage", main.deployment, {
      job: (job) => {
        if (job.stage === "committed" && !outage) outage = proxy.outage(OUTAGE_MS);
      },
      log: (line) => line.startsWith("RPC error") && retries++,
    });
    await miner.init(abi);
    const result = await runOne(miner, OUTAGE_MS + 120_000);
    await outage;
    const job = miner.jobs().at(-1)!;
    const record: ScenarioRecord = {
      scenario: `outage ${OUTAGE_MS} ms after commit (W = ${main.params.proofWindow} blocks of ${BLOCK_MS} ms)`,
      outcome: result.outcome,
      wallMs: Math.round(performance.now() - t0),
      stage: job.stage,
      retries,
      ...(result.error ? { error: result.error } : {}),
      ...(job.note ? { note: job.note } : {}),
    };
    records.push(record);
    if (result.outcome !== "proven") await restart(record, key, "outage", main.deployment);
    const provenCount = result.outcome === "proven" || record.recoveredAfterRestart ? 1n : 0n;
    record.balanceOk = (await balanceOf(main.deployment, key)) === provenCount * reward(main.params);
    await miner.release();
    expect(record.balanceOk).toBe(true);
    expect(record.recoveredAfterRestart ?? true).toBe(true);
    expect(result.outcome, `miner did not survive the outage by itself: ${result.error}`).toBe("proven");
  }, 900_000);

  it("an outage longer than the proof window: the miner says the window ended and the bond is forfeited", async () => {
    const key = KEYS[2]!;
    const p = short.params;
    const outageMs = (p.challengeDelay + p.proofWindow + 8) * BLOCK_MS + 2000;
    const t0 = performance.now();
    let retries = 0;
    const logs: string[] = [];
    let outage: Promise<void> | undefined;
    const miner = makeMiner(key, "long-outage", short.deployment, {
      job: (job) => {
        if (job.stage === "committed" && !outage) outage = proxy.outage(outageMs);
      },
      log: (line) => {
        logs.push(line);
        if (line.startsWith("RPC error")) retries++;
      },
    });
    await miner.init(abi);
    const result = await runOne(miner, outageMs + 120_000);
    await outage;
    const job = miner.jobs().at(-1)!;
    const record: ScenarioRecord = {
      scenario: `outage ${outageMs} ms after commit, longer than W = ${p.proofWindow} blocks of ${BLOCK_MS} ms`,
      outcome: result.outcome,
      wallMs: Math.round(performance.now() - t0),
      stage: job.stage,
      retries,
      ...(result.error ? { error: result.error } : {}),
      ...(job.note ? { note: job.note } : {}),
      extra: { lastLog: logs.at(-1) },
    };
    records.push(record);
    if (result.outcome === "error") await restart(record, key, "long-outage", short.deployment);
    await miner.release();
    const finalNote = record.restartNote ?? job.note ?? "";
    expect(record.restartStage ?? job.stage).toBe("lost");
    expect(finalNote).toMatch(/proof window ended/);
    expect(await balanceOf(short.deployment, key)).toBe(0n);
  }, 600_000);

  it(`latency of ${LATENCY_MS}–${2 * LATENCY_MS} ms per request: still proven`, async () => {
    const key = KEYS[3]!;
    const t0 = performance.now();
    let retries = 0;
    const miner = makeMiner(key, "latency", slow.deployment, {
      log: (line) => line.startsWith("RPC error") && retries++,
    });
    proxy.latencyMs = LATENCY_MS;
    try {
      await miner.init(abi);
      const result = await runOne(miner, 600_000);
      const job = miner.jobs().at(-1)!;
      records.push({
        scenario: `latency ${LATENCY_MS}-${2 * LATENCY_MS} ms per request (${slow.params.epochLength}-block epochs)`,
        outcome: result.outcome,
        wallMs: Math.round(performance.now() - t0),
        stage: job.stage,
        retries,
        ...(result.error ? { error: result.error } : {}),
        ...(job.note ? { note: job.note } : {}),
        extra: { timings: job.timings },
      });
      expect(result.outcome).toBe("proven");
      expect(await balanceOf(slow.deployment, key)).toBe(reward(slow.params));
    } finally {
      proxy.latencyMs = 0;
      await miner.release();
    }
  }, 900_000);

  it.each([
    ["error", KEYS[4]!],
    ["lost-response", KEYS[5]!],
    ["swallow", KEYS[6]!],
  ] as const)(
    "the commit transaction is dropped (%s): the miner ends with a clear error or proven; a restart proves",
    async (mode, key) => {
      const t0 = performance.now();
      const fromBlock = await direct.getBlockNumber();
      let retries = 0;
      const dir = `drop-${mode}`;
      const miner = makeMiner(key, dir, main.deployment, {
        job: (job) => job.stage === "computed" && proxy.dropNextTransaction(mode),
        log: (line) => line.startsWith("RPC error") && retries++,
      });
      await miner.init(abi);
      const result = await runOne(miner, HANG_MS);
      const job = miner.jobs().at(-1)!;
      const record: ScenarioRecord = {
        scenario: `commit transaction dropped by the proxy (${mode})`,
        outcome: result.outcome,
        wallMs: Math.round(performance.now() - t0),
        stage: job.stage,
        retries,
        ...(result.error ? { error: result.error } : {}),
        ...(job.note ? { note: job.note } : {}),
        extra: { commitTx: job.commitTx },
      };
      records.push(record);
      // A hung miner is left as it is (its pending receipt wait never ends); the restart must sort things out.
      if (result.outcome !== "proven") await restart(record, key, dir, main.deployment);
      const proven = result.outcome === "proven" || record.recoveredAfterRestart === true;
      record.balanceOk = (await balanceOf(main.deployment, key)) === (proven ? reward(main.params) : 0n);
      const mining = new Contract(main.deployment.mining, abi, direct);
      const commitments = await mining.queryFilter(mining.filters.Committed!(null, new Wallet(key).address));
      record.extra = { ...record.extra, onChainCommitments: commitments.length };
      record.transactions = await minedBy(key, fromBlock);
      if (result.outcome !== "hang") await miner.release();
      expect(record.balanceOk).toBe(true);
      // Never sent twice: one commit transaction per commitment on chain, none reverted.
      expect(record.transactions.byFunction.commit ?? 0).toBe(commitments.length);
      expect(record.transactions.reverted).toBe(0);
      if (proven) expect(commitments).toHaveLength(1);
      else {
        // The restart came after the work's epoch had passed: it must drop the work without having paid a bond.
        expect(record.restartStage).toBe("lost");
        expect(record.restartNote).toMatch(/no bond paid/);
        expect(commitments).toHaveLength(0);
      }
      expect(result.outcome, "the miner hangs after a dropped transaction").not.toBe("hang");
    },
    600_000,
  );
  it.each(["error", "lost-response", "swallow"] as const)(
    "the prove transaction is dropped (%s): proven within the window, sent once (a lost job must name the window)",
    async (mode: DropMode) => {
      const key = await fundedKey();
      const t0 = performance.now();
      const fromBlock = await direct.getBlockNumber();
      let retries = 0;
      let armed = false;
      const logs: string[] = [];
      const dir = `drop-prove-${mode}`;
      const miner = makeMiner(key, dir, main.deployment, {
        job: (job) => {
          if (job.stage !== "proofs-ready" || armed) return;
          armed = true;
          proxy.dropNextTransaction(mode);
        },
        log: (line) => {
          logs.push(line);
          if (line.startsWith("RPC error")) retries++;
        },
      });
      await miner.init(abi);
      const result = await runOne(miner, HANG_MS);
      const job = miner.jobs().at(-1)!;
      const record: ScenarioRecord = {
        scenario: `prove transaction dropped by the proxy (${mode})`,
        outcome: result.outcome,
        wallMs: Math.round(performance.now() - t0),
        stage: job.stage,
        retries,
        ...(result.error ? { error: result.error } : {}),
        ...(job.note ? { note: job.note } : {}),
        extra: {
          droppedTx: proxy.dropped.at(-1)?.hash,
          proveTx: job.proveTx,
          resends: logs.filter((line) => /prove of #\d+ was not accepted/.test(line)).length,
        },
      };
      records.push(record);
      // A miner that threw or hangs is restarted on its state directory: the restart must finish the job.
      if (result.outcome === "error" || result.outcome === "hang") await restart(record, key, dir, main.deployment);
      const finalStage = record.restartStage ?? job.stage;
      const finalNote = record.restartNote ?? job.note ?? "";
      const proven = finalStage === "settled";
      record.balanceOk = (await balanceOf(main.deployment, key)) === (proven ? reward(main.params) : 0n);
      record.transactions = await minedBy(key, fromBlock);
      if (result.outcome !== "hang") await miner.release();
      expect(armed, "the miner never reached proofs-ready").toBe(true);
      expect(proxy.dropped.at(-1)?.mode).toBe(mode);
      expect(record.balanceOk).toBe(true);
      // One commit, at most one prove on chain (exactly one when proven), nothing reverted: never submitted twice.
      expect(record.transactions.byFunction.commit).toBe(1);
      expect(record.transactions.byFunction.prove ?? 0).toBe(proven ? 1 : 0);
      expect(record.transactions.reverted).toBe(0);
      if (!proven) expect(finalNote, `the miner ended in ${finalStage} without a clear reason`).toMatch(/proof window/);
      expect(result.outcome, "the miner hangs after a dropped prove transaction").not.toBe("hang");
      expect(proven, `not proven within W = ${main.params.proofWindow} blocks: ${finalNote}`).toBe(true);
    },
    600_000,
  );

  it(`demle mine behind the proxy, node unreachable for ${OUTAGE_MS} ms after its commit: it recovers by itself and proves`, async () => {
    const key = await fundedKey();
    const stateDir = path.join(root, "cli-outage");
    const statePath = path.join(stateDir, "miner-state.json");
    const t0 = performance.now();
    const fromBlock = await direct.getBlockNumber();
    const limitMs = OUTAGE_MS + 240_000;
    const child = startCliMiner({ rpc: proxy.url, deploymentFile: cli.file, stateDir, key, workers: 1 });
    let outage: Promise<void> | undefined;
    let outageAt: { afterMs: number; block: number; epoch: number } | undefined;
    let timedOut = false;
    while (!child.exited()) {
      if (performance.now() - t0 > limitMs) {
        timedOut = true;
        child.child.kill("SIGKILL");
        break;
      }
      const job = readState(statePath).state?.jobs.at(-1);
      if (!outage && job?.stage === "committed") {
        // Between its commit and its proofs: the node goes away while the miner waits for the challenge block.
        outage = proxy.outage(OUTAGE_MS);
        outageAt = {
          afterMs: Math.round(performance.now() - t0),
          block: await direct.getBlockNumber(),
          epoch: job.epoch,
        };
      }
      await sleep(50);
    }
    const code = await child.exit;
    await outage;
    const messages = logMessages(child.lines);
    const { state, parseError } = readState(statePath);
    const job = state?.jobs.at(-1);
    const stage = job?.stage ?? "none";
    const record: ScenarioRecord = {
      scenario:
        `demle mine (child process): node unreachable ${OUTAGE_MS} ms after commit ` +
        `(W = ${cli.params.proofWindow} blocks of ${BLOCK_MS} ms)`,
      outcome: timedOut
        ? "hang"
        : code !== 0
          ? "error"
          : stage === "settled"
            ? "proven"
            : stage === "lost"
              ? "lost"
              : "error",
      wallMs: Math.round(performance.now() - t0),
      stage,
      retries: messages.filter((line) => line.startsWith("RPC error")).length,
      ...(job?.note ? { note: job.note } : {}),
      ...(code !== 0 ? { error: child.lines.slice(-2).join(" | ").slice(0, 400) } : {}),
      extra: { exitCode: code, outageAt, lastLog: messages.at(-1), commitMs: job?.timings.commitMs },
    };
    records.push(record);
    record.balanceOk = (await balanceOf(cli.deployment, key)) === (stage === "settled" ? reward(cli.params) : 0n);
    record.transactions = await minedBy(key, fromBlock);
    expect(parseError).toBeUndefined();
    expect(outageAt, "the miner never reached the committed stage").toBeDefined();
    expect(record.retries, "the outage did not hit the miner").toBeGreaterThan(0);
    expect(code, `demle mine exited with ${code}: ${record.error}`).toBe(0);
    expect(stage).toBe("settled");
    expect(record.balanceOk).toBe(true);
    expect(record.transactions.byFunction.commit).toBe(1);
    expect(record.transactions.byFunction.prove).toBe(1);
    expect(record.transactions.reverted).toBe(0);
  }, 900_000);
});
