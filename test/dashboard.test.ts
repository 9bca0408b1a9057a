/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The live dashboard in a real browser (Debian's Chromium through playwright-core). A JSON-RPC server over a fresh
// in-process Hardhat network; real miners (ONNX Runtime, Poseidon commitments, real Groth16 proofs) talk to it
// directly, the dashboard through a proxy the test switches off to cut the RPC. Checks: balances on the page equal
// balanceOf; an accepted proof reaches the feed, the chart and the earning cue; "disconnected" shows and clears by
// itself; a reload shows the same state; the page loads nothing from outside; 100 miners and 100 jobs stay readable
// (synthetic state, with hostile inputUri text); a job posted, taken and proven on the chain shows in the Jobs table. Measures block-to-screen latency and page weight; writes screenshots to test-artifacts/ (gitignored).
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import hre from "hardhat";
import {
  Contract,
  ContractFactory,
  JsonRpcProvider,
  NonceManager,
  parseEther,
  type InterfaceAbi,
  type TransactionReceipt,
} from "ethers";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DashboardSource, DashboardUpdate, JobView, Snapshot } from "../dashboard/indexer.js";
import { createDashboardServer, startDashboard, type Dashboard } from "../dashboard/server.js";
import { loadArtifact } from "../miner/artifacts.js";
import { MINING_CIRCUITS, prepareCircuit, type PreparedCircuit } from "../miner/circuits.js";
import { miningLayer, miningParams, type MiningParams } from "../miner/deploy.js";
import { MinerMetrics } from "../miner/metrics.js";
import { Miner } from "../miner/miner.js";
import { ProverPool } from "../prover/pool.js";
import { compileVerifier } from "../prover/verifier-contract.js";
import { launchChromium } from "./helpers/browser.js";

const ARTIFACTS = path.resolve("test-artifacts");

/** A JSON-RPC pass-through that the test can switch off (connection refused) and on again, on the same port. */
class RpcProxy {
  private server?: http.Server;
  port = 0;
  constructor(private readonly target: string) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        fetch(this.target, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: Buffer.concat(chunks),
        })
          .then(async (r) => res.writeHead(r.status, { "content-type": "application/json" }).end(await r.text()))
          .catch(() => res.destroy());
      });
    });
    await new Promise<void>((resolve) => server.listen(this.port, "127.0.0.1", resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}

async function receiptOf(provider: JsonRpcProvider, hash: string): Promise<TransactionReceipt> {
  for (;;) {
    const receipt = await provider.getTransactionReceipt(hash);
    if (receipt) return receipt;
    await sleep(10);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Page weight of a first visit: bytes on the wire (headers + encoded bodies) and decoded, without /events. */
function trackWeight(page: Page): () => Promise<{ requests: string[]; wire: number; decoded: number }> {
  const pending: Promise<{ url: string; wire: number; decoded: number }>[] = [];
  let done = false;
  page.on("requestfinished", (request) => {
    if (done || request.url().endsWith("/events")) return;
    pending.push(
      (async () => {
        const sizes = await request.sizes();
        const response = await request.response();
        const decoded = response ? (await response.body()).length : 0;
        return { url: request.url(), wire: sizes.responseBodySize + sizes.responseHeadersSize, decoded };
      })(),
    );
  });
  return async () => {
    done = true;
    const all = await Promise.all(pending);
    return {
      requests: all.map((r) => r.url),
      wire: all.reduce((sum, r) => sum + r.wire, 0),
      decoded: all.reduce((sum, r) => sum + r.decoded, 0),
    };
  };
}

describe("dashboard in a real browser", () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await launchChromium();
    mkdirSync(ARTIFACTS, { recursive: true });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  it("stays readable with 100 miners (synthetic state)", async () => {
    const hex = (i: number) => `0x${i.toString(16).padStart(4, "0")}${"ab".repeat(18)}`;
    const accounts = Array.from({ length: 100 }, (_, i) => ({
      address: hex(i + 1),
      balance: String(BigInt(1000 - i * 7) * 10n ** 17n + BigInt(i)),
      earned: String(BigInt(1000 - i * 7) * 10n ** 17n),
      miner: true,
      commitments: 10 + i,
      proven: 9 + i,
      slashed: i % 7 === 0 ? 1 : 0,
      macs: String(4096 * (9 + i)),
      jobSlots: i % 3,
      jobsProven: i % 3 === 0 ? 0 : 1,
      jobsSlashed: 0,
      jobFees: String(BigInt(i % 3 === 0 ? 0 : 1) * 12_345_678_901_234_567n),
      lastEarn: { block: 900 + i, time: 1_750_000_000 + i, amount: String(4096n * 10n ** 14n), id: String(i) },
    }));
    // Hostile text in every inputUri: the page must show it as text, never parse it.
    const HOSTILE = '<img src=x onerror="window.pwned=1"><b>bold</b>';
    const statuses = ["open", "full", "closed", "expired", "done", "refunded"] as const;
    const jobs: JobView[] = Array.from({ length: 100 }, (_, n) => {
      const i = 149 - n; // 150 posted, the newest 100 shown
      return {
        id: String(i),
        requester: hex(i + 1),
        kind: i % 2,
        shape: 3 + 256 * 2,
        redundancy: 3,
        deadline: 1200 + i,
        fee: String(3n * 10n ** 16n),
        modelHash: `0x${"cd".repeat(32)}`,
        inputUri: `http://127.0.0.1:8091/blobs/${"e3".repeat(32)}${HOSTILE}`,
        block: 800 + i,
        time: 1_750_000_000 + i,
        tx: `0x${i.toString(16).padStart(64, "2")}`,
        slots: [],
        feesPaid: String(10n ** 16n),
        refunded: "0",
        rewards: "0",
        m: "8192",
        n: "4096",
        k: 4096,
        committed: 3,
        proven: 1,
        slashed: 1,
        status: statuses[i % statuses.length]!,
      };
    });
    const snapshot: Snapshot = {
      version: 1,
      chain: {
        chainId: "31337",
        mining: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        token: "0xa16E02E87b7454126E5E10d957A927A7F5B5d2be",
        fromBlock: 1,
        cap: String(21_000_000n * 10n ** 18n),
        symbol: "DEMLE",
        decimals: 18,
        reorgDepth: 12,
        pollMs: 1000,
        layers: [
          {
            verifier: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
            macsPerTile: 64,
            tilesPerProof: 1,
            maxRowBlocksLog2: 3,
            maxColBlocksLog2: 3,
          },
        ],
        jobKinds: [],
        params: {
          proofsPerCommitment: 4,
          epochLength: 20,
          challengeDelay: 2,
          proofWindow: 60,
        },
      },
      head: { block: 1000, hash: `0x${"00".repeat(32)}`, time: 1_750_000_100 },
      status: { connected: true, since: Date.now(), lastOk: Date.now() },
      token: { supply: String(65_350n * 10n ** 18n), cap: String(21_000_000n * 10n ** 18n), burnedBonds: "0" },
      commitments: { total: 5950, pending: 12, proven: 5900, expired: 3, slashed: 35 },
      proofs: { accepted: 5900, tilesChecked: "23600" },
      macs: { gemm: String(5900 * 4096) },
      epochs: Array.from({ length: 50 }, (_, i) => ({
        epoch: 49 - i,
        seed: `0x${(49 - i).toString(16).padStart(64, "0")}`,
        block: (49 - i) * 20,
        time: 1_750_000_000 + (49 - i) * 10,
        commitments: 120,
        proven: 118,
        slashed: 1,
        macs: String(118 * 4096),
      })),
      accounts,
      feed: Array.from({ length: 200 }, (_, i) => ({
        key: `0x${i.toString(16).padStart(64, "0")}:0`,
        block: 1000 - i,
        blockHash: `0x${i.toString(16).padStart(64, "0")}`,
        logIndex: 0,
        tx: `0x${i.toString(16).padStart(64, "1")}`,
        time: 1_750_000_100 - i,
        name: "RewardMinted",
        args: { id: String(5000 - i), miner: hex((i % 100) + 1), amount: String(4096n * 10n ** 14n) },
      })),
      series: {
        supply: Array.from({ length: 100 }, (_, i) => [i * 10, i * 653.5] as [number, number]),
        balances: Object.fromEntries(
          accounts.map((a, n) => [
            a.address,
            Array.from({ length: 60 }, (_, i) => [i * 16 + n, ((i + 1) / 60) * (100 - n * 0.7)] as [number, number]),
          ]),
        ),
      },
      jobs,
      jobTotals: {
        posted: 150,
        feesPosted: String(150n * 3n * 10n ** 16n),
        feesPaid: String(100n * 10n ** 16n),
        feesRefunded: String(10n ** 17n),
        feesEscrowed: String(150n * 3n * 10n ** 16n - 100n * 10n ** 16n - 10n ** 17n),
        rewards: String(10n ** 20n),
        macs: "0",
        tilesChecked: "0",
        slots: { committed: 300, proven: 100, slashed: 100 },
        bounties: "0",
        burned: "0",
        pruned: { done: 0, refunded: 0 },
        byStatus: { open: 17, full: 17, closed: 17, expired: 17, done: 16, refunded: 16 },
      },
    };
    const source: DashboardSource = {
      snapshot: () => snapshot,
      subscribe: (_listener: (update: DashboardUpdate) => void) => () => {},
    };
    const server = await createDashboardServer(source);
    const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    try {
      await page.goto(server.url);
      await page.waitForSelector('#conn[data-state="connected"]');
      await page.waitForFunction(
        () => (window as never as { demle: { charts: { balances: unknown } } }).demle.charts.balances,
      );
      const layout = await page.evaluate(() => {
        const scroll = document.querySelector("#miners")!.closest(".scroll")!;
        const rows = [...document.querySelectorAll("#miners tbody tr")] as HTMLElement[];
        const demle = (window as never as { demle: { charts: { balanceAccounts: string[] } } }).demle;
        return {
          rows: rows.length,
          tableFits: scroll.scrollWidth <= scroll.clientWidth,
          tallestRow: Math.max(...rows.map((r) => r.offsetHeight)),
          scrollHeight: scroll.scrollHeight,
          clientHeight: scroll.clientHeight,
          pageHeight: document.documentElement.scrollHeight,
          chartSeries: demle.charts.balanceAccounts.length,
          legend: document.querySelectorAll("#chart-balances .u-legend .u-series").length,
          note: document.querySelector("#chart-note")!.textContent,
          minersNote: document.querySelector("#miners-note")!.textContent,
          feedRows: document.querySelectorAll("#feed li").length,
          overflowX: document.documentElement.scrollWidth > document.documentElement.clientWidth,
          jobRows: document.querySelectorAll("#jobs tbody tr[data-job]").length,
          jobIds: [...document.querySelectorAll("#jobs tbody tr[data-job]")].map(
            (tr) => (tr as HTMLElement).dataset.job,
          ),
          jobsWidth: (() => {
            const box = document.querySelector("#jobs")!.closest(".scroll")!;
            return { scroll: box.scrollWidth, client: box.clientWidth };
          })(),
          tallestJobRow: Math.max(
            ...[...document.querySelectorAll("#jobs tbody tr")].map((r) => (r as HTMLElement).offsetHeight),
          ),
          jobsNote: document.querySelector("#jobs-note")!.textContent,
          injected: document.querySelectorAll("#jobs img, #jobs b, main img").length,
          pwned: (window as never as { pwned?: number }).pwned ?? 0,
          uri: (document.querySelector('#jobs tr[data-job="149"] td.uri') as HTMLElement).textContent,
          firstJob: (document.querySelector('#jobs tr[data-job="149"]') as HTMLElement).innerText,
          jobTotals: document.querySelector("#job-totals")!.textContent,
        };
      });
      expect(layout.rows).toBe(100);
      expect(layout.tableFits).toBe(true); // every column visible without scrolling sideways
      expect(layout.tallestRow).toBeLessThan(40); // one line per miner
      expect(layout.clientHeight).toBeLessThanOrEqual(420); // the table scrolls instead of stretching the page
      expect(layout.scrollHeight).toBeGreaterThan(layout.clientHeight);
      expect(layout.pageHeight).toBeLessThan(2400);
      expect(layout.chartSeries).toBe(8); // the largest holders only: 100 lines would be unreadable
      expect(layout.legend).toBe(9);
      expect(layout.note).toContain("92 more in the table");
      expect(layout.minersNote).toBe("100 miners, 100 accounts");
      expect(layout.feedRows).toBe(150);
      expect(layout.overflowX).toBe(false);
      // Jobs: newest first, the 100 the server sent, every column visible, one line each, hostile text as text.
      expect(layout.jobRows).toBe(100);
      expect(layout.jobIds[0]).toBe("149");
      expect(layout.jobIds.at(-1)).toBe("50");
      expect(layout.jobsWidth.scroll).toBeLessThanOrEqual(layout.jobsWidth.client); // no sideways scrolling
      expect(layout.tallestJobRow).toBeLessThan(40);
      expect(layout.jobsNote).toBe("150 posted; the newest 100 shown");
      expect(layout.injected).toBe(0);
      expect(layout.pwned).toBe(0);
      expect(layout.uri).toBe(jobs[0]!.inputUri);
      expect(layout.firstJob).toContain("8,192×4,096, K 4,096");
      expect(layout.firstJob).toContain("refunded"); // statuses[149 % 6]
      expect(await page.$eval('#jobs tr[data-job="147"] td.status', (td) => td.textContent)).toBe(
        "expired (refundable)",
      );
      expect(layout.jobTotals).toContain("posted150");
      // Sorted by balance, exact amounts in the title.
      const first = await page.$eval("#miners tbody tr td.balance", (td) => (td as HTMLElement).title);
      expect(first).toBe("100.0");
      await page.screenshot({ path: path.join(ARTIFACTS, "dashboard-100-miners.png"), fullPage: true });
    } finally {
      await page.close();
      await server.close();
    }
  });

  describe("on a chain with real miners", () => {
    let prepared: PreparedCircuit;
    let rpcServer: Awaited<ReturnType<typeof hre.network.createServer>>;
    let chain: JsonRpcProvider;
    let proxy: RpcProxy;
    let deployment: { mining: string; token: string; deployBlock: number };
    let params: MiningParams;
    let dashboard: Dashboard;
    let page: Page;
    let token: Contract;
    let pool: ProverPool;
    let weight: () => Promise<{ requests: string[]; wire: number; decoded: number }>;
    const minerMetrics = new MinerMetrics({ defaultMetrics: false });
    const stateRoot = mkdtempSync(path.join(os.tmpdir(), "demle-dashboard-"));
    const latencies: { what: string; receiptToScreen: number; blockToScreen: number }[] = [];
    // A GEMM-only deployment (the "gemm-demo" workload) keeps this test's proofs fast.
    const circuit = MINING_CIRCUITS.demo;
    const shape = { rowBlocksLog2: 3, colBlocksLog2: 3 };
    const requested: string[] = [];
    let firstVisit: { requests: string[]; wire: number; decoded: number };
    /** One job kind whose verifier is the test mock (a "proof" is accepted iff its first word is 1). */
    const JOB_KIND = {
      macsPerTile: 4 * 8 * 16,
      tilesPerProof: 1,
      proofsPerJob: 1,
      tileRows: 4,
      tileCols: 8,
      depth: 16,
      maxRowBlocksLog2: 3,
      maxColBlocksLog2: 3,
    };

    const seenAt = (key: string) =>
      page
        .waitForFunction((k) => (window as never as { demle: { seen: Record<string, number> } }).demle.seen[k], key, {
          timeout: 20_000,
          polling: 20,
        })
        .then((handle) => handle.jsonValue() as Promise<number>);

    async function balancesOnPage(): Promise<Map<string, string>> {
      const rows = await page.$$eval("#miners tbody tr[data-address]", (trs) =>
        trs.map((tr) => [
          (tr as HTMLElement).dataset.address!,
          (tr.querySelector("td.balance") as HTMLElement).dataset.wei!,
        ]),
      );
      return new Map(rows as [string, string][]);
    }

    async function expectBalancesMatchChain(): Promise<void> {
      const shown = await balancesOnPage();
      expect(shown.size).toBeGreaterThan(0);
      for (const [address, wei] of shown) {
        expect(wei, address).toBe(String(await token.getFunction("balanceOf")(address)));
      }
    }

    /** A token transfer from `from` (a dev account), timed from its receipt to its row on the page. */
    async function timedTransfer(from: number, to: string, amount: bigint, what: string): Promise<void> {
      const sender = await (await chain.getSigner(from)).getAddress();
      const data = token.interface.encodeFunctionData("transfer", [to, amount]);
      const hash = (await chain.send("eth_sendTransaction", [{ from: sender, to: token.target, data }])) as string;
      // The chain automines: when eth_sendTransaction returns, the transaction's block exists.
      const receivedAt = Date.now();
      const receipt = await receiptOf(chain, hash);
      const block = await chain.getBlock(receipt.blockNumber);
      const shownAt = await seenAt(`${receipt.blockHash}:${receipt.logs[0]!.index}`);
      latencies.push({ what, receiptToScreen: shownAt - receivedAt, blockToScreen: shownAt - block!.timestamp * 1000 });
    }

    beforeAll(async () => {
      prepared = await prepareCircuit(circuit, () => {});
      await hre.tasks.getTask("build").run({ quiet: true });
      rpcServer = await hre.network.createServer({}, "127.0.0.1", 0);
      const { address, port } = await rpcServer.listen();
      const rpcUrl = `http://${address}:${port}`;
      chain = new JsonRpcProvider(rpcUrl, undefined, { pollingInterval: 100, cacheTimeout: -1 });
      await chain.send("evm_setIntervalMining", [250]);
      params = miningParams({ proofsPerCommitment: 2, epochLength: 40, challengeDelay: 2, proofWindow: 200 });
      // The "gemm-demo" workload's real verifier for seed work, and one job kind with the mock verifier: deployed
      // here (deployDemle takes job circuits with real verifiers).
      const deployer = await chain.getSigner(0);
      const deployed = async (artifact: { abi: InterfaceAbi; bytecode: string }, ...args: unknown[]) => {
        const contract = await new ContractFactory(artifact.abi, artifact.bytecode, deployer).deploy(...args);
        const receipt = await contract.deploymentTransaction()!.wait();
        return { contract, address: await contract.getAddress(), block: receipt!.blockNumber };
      };
      const seedVerifier = await deployed(compileVerifier(prepared.setup.verifierPath));
      const jobVerifier = await deployed(
        await loadArtifact("test/TestVerifier6AcceptsMarkedProofs.sol", "TestVerifier6AcceptsMarkedProofs"),
      );
      const mining = await deployed(
        await loadArtifact("DemleMining.sol", "DemleMining"),
        [miningLayer(circuit, seedVerifier.address)],
        params,
        [{ verifier: jobVerifier.address, ...JOB_KIND }],
      );
      deployment = {
        mining: mining.address,
        token: (await mining.contract.getFunction("token")()) as string,
        deployBlock: mining.block,
      };
      token = new Contract(
        deployment.token,
        [
          "function balanceOf(address) view returns (uint256)",
          "function transfer(address,uint256) returns (bool)",
          "function totalSupply() view returns (uint256)",
        ],
        chain,
      );
      proxy = new RpcProxy(rpcUrl);
      await proxy.start();
      dashboard = await startDashboard({
        rpc: proxy.url,
        contract: deployment.mining,
        fromBlock: deployment.deployBlock,
        stateFile: path.join(stateRoot, "dashboard.json"),
        rpcTimeoutMs: 2000,
      });
      pool = new ProverPool({ workers: 2, taskTimeoutMs: 300_000 });
      page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
      weight = trackWeight(page);
      page.on("request", (request) => requested.push(request.url()));
    }, 900_000);

    afterAll(async () => {
      await page?.close();
      await dashboard?.close();
      await proxy?.stop();
      await pool?.close();
      chain?.destroy();
      await rpcServer?.close();
      rmSync(stateRoot, { recursive: true, force: true });
    });

    it("shows accepted proofs in the feed and the chart, with an earning cue, and balances equal balanceOf", async () => {
      await page.goto(dashboard.url, { waitUntil: "load" });
      await page.waitForSelector('#conn[data-state="connected"]', { timeout: 20_000 });
      firstVisit = await weight();
      const abi = (await loadArtifact("DemleMining.sol", "DemleMining")).abi as never;
      const settledAt = new Map<string, number>();
      const miners = await Promise.all(
        [1, 2].map(async (index) => {
          const signer = await chain.getSigner(index);
          const label = await signer.getAddress();
          let miner: Miner | undefined = undefined;
          const onMetrics = minerMetrics.add(label, () => miner!.stats);
          miner = new Miner({
            contract: deployment.mining,
            signer: new NonceManager(signer),
            layers: [{ circuit, shape, prover: prepared.setup.prover }],
            pool,
            stateDir: path.join(stateRoot, `miner${index}`),
            pollMs: 100,
            onEvent: (event) => {
              onMetrics(event);
              if (event.type === "job" && event.job.stage === "settled") settledAt.set(event.job.id!, Date.now());
            },
          });
          await miner.init(abi);
          return { miner, address: label };
        }),
      );
      await Promise.all(miners.map(({ miner }) => miner.run(1)));
      const reward = BigInt(circuit.macsPerTile) * 64n * params.initialRewardPerMac;
      for (const { miner, address } of miners) {
        const job = miner.jobs()[0]!;
        expect(job.stage, job.note).toBe("settled");
        // The accepted proof reaches the feed; timed from the prove transaction's receipt (the miner settles on it).
        const key = await page
          .waitForFunction(
            (id) =>
              (document.querySelector(`#feed li[data-name="ProofAccepted"][data-id="${id}"]`) as HTMLElement | null)
                ?.dataset.key,
            job.id!,
            { timeout: 20_000, polling: 20 },
          )
          .then((h) => h.jsonValue() as Promise<string>);
        const shownAt = await seenAt(key);
        const block = await chain.getBlock(key.split(":")[0]!);
        latencies.push({
          what: `ProofAccepted #${job.id}`,
          receiptToScreen: shownAt - settledAt.get(job.id!)!,
          blockToScreen: shownAt - block!.timestamp * 1000,
        });
        // … and the chart: the miner's balance series ends at its balance.
        const last = await page.waitForFunction(
          (a) => {
            const { charts } = (window as never as { demle: { charts: Record<string, never> } }).demle;
            const accounts = charts.balanceAccounts as unknown as string[] | undefined;
            const i = accounts?.indexOf(a) ?? -1;
            if (i < 0) return undefined;
            const series = (charts.balances as unknown as { data: number[][] }).data[i + 1]!;
            return series[series.length - 1] || undefined;
          },
          address,
          { timeout: 10_000 },
        );
        expect(await last.jsonValue()).toBeCloseTo(Number(reward) / 1e18, 12);
        expect(await token.getFunction("balanceOf")(address)).toBe(reward);
      }
      // The earning cue fired for both miners.
      const cues = await page.evaluate(
        () => (window as never as { demle: { cues: { miner: string; amount: string }[] } }).demle.cues,
      );
      expect(new Set(cues.map((c) => c.miner))).toEqual(new Set(miners.map((m) => m.address)));
      expect(cues.every((c) => c.amount === String(reward))).toBe(true);
      await expectBalancesMatchChain();
      expect((await balancesOnPage()).size).toBe(2);
      expect(await page.$eval("#supply", (e) => (e as HTMLElement).title)).toBe("0.8192 DEMLE");
      expect(await page.$eval('#commitments dd[data-count="proven"]', (e) => e.textContent)).toBe("2");
      expect(await page.$eval('#macs tr[data-op="gemm"] td.num', (e) => (e as HTMLElement).title)).toBe(
        String(2 * 64 * circuit.macsPerTile),
      );
      // Miner metrics (Prometheus) from the same run.
      const endpoint = await minerMetrics.serve(0);
      const text = await (await fetch(endpoint.url)).text();
      await endpoint.close();
      for (const { address } of miners) {
        expect(text).toContain(`demle_miner_proofs_total{miner="${address}",result="ok"} 2`);
        expect(text).toContain(`demle_miner_proof_seconds_count{miner="${address}"} 1`);
      }
      for (const { miner } of miners) await miner.release();
    }, 240_000);

    it("shows new events within 3 s of their block (timed transfers)", async () => {
      const [from] = [1];
      const to = await (await chain.getSigner(3)).getAddress();
      for (let i = 0; i < 5; i++) {
        await sleep(150 + i * 190); // spread over the poll period
        await timedTransfer(from, to, 10n ** 15n + BigInt(i), `Transfer ${i + 1}`);
      }
      await expectBalancesMatchChain();
      const transfers = latencies.filter((l) => l.what.startsWith("Transfer"));
      console.log(
        "block-to-screen latency (ms; this dev chain's block timestamps run ahead of the clock):\n" +
          latencies
            .map((l) => `  ${l.what}: receipt→screen ${l.receiptToScreen}, block time→screen ${l.blockToScreen}`)
            .join("\n") +
          `\n  transfers: median receipt→screen ${median(transfers.map((l) => l.receiptToScreen))} ms, max ` +
          `${Math.max(...transfers.map((l) => l.receiptToScreen))} ms`,
      );
      for (const l of latencies) {
        expect(l.receiptToScreen, l.what).toBeLessThan(3000);
        // Block timestamps have 1 s resolution, and run ahead of the clock on this fast dev chain (each block's
        // timestamp must exceed its parent's): an upper bound only.
        expect(l.blockToScreen, l.what).toBeLessThan(4000);
      }
    });

    it("shows a job posted, taken and proven on the chain in the Jobs table and the miners table", async () => {
      const abi = (await loadArtifact("DemleMining.sol", "DemleMining")).abi as never;
      const market = (index: number) => chain.getSigner(index).then((s) => new Contract(deployment.mining, abi, s));
      const [requester, miner] = [
        await (await chain.getSigner(5)).getAddress(),
        await (await chain.getSigner(6)).getAddress(),
      ];
      const fee = parseEther("0.02");
      const [dr, dc] = [1, 2];
      const deadline = (await chain.getBlockNumber()) + 400;
      const uri = "http://127.0.0.1:9/blobs/x<script>window.pwned=1</script>";
      const post = await (await market(5)).getFunction("postJob")(
        0,
        `0x${"ab".repeat(32)}`,
        1n,
        2n,
        uri,
        dr + 256 * dc,
        2,
        deadline,
        { value: fee },
      );
      await post.wait();
      const row = '#jobs tr[data-job="0"]';
      await page.waitForSelector(`${row}[data-status="open"]`, { timeout: 10_000 });
      const cells = () =>
        page.$$eval(`${row} td`, (tds) => tds.map((td) => [td.textContent, (td as HTMLElement).dataset.wei ?? null]));
      let shown = await cells();
      expect(shown[0]![0]).toBe("0");
      expect(shown[1]![0]).toBe(`${requester.slice(0, 6)}…${requester.slice(-4)}`);
      expect(shown[3]![0]).toBe(`${4 * 2 ** dr}×${8 * 2 ** dc}, K 16`);
      expect(shown[4]![1]).toBe(String(fee));
      expect(shown[4]![0]).toBe("0.02");
      expect(shown[5]![0]).toBe("2");
      expect(shown[6]![0]).toBe("0 / 0");
      expect(shown[7]![0]).toBe("open");
      expect(shown[11]![0]).toBe(uri);
      expect(await page.evaluate(() => (window as never as { pwned?: number }).pwned)).toBeUndefined();

      // A miner takes a slot and proves it: its fee share shows on the job and in the miners table.
      const bond = params.bondPerTile * 2n ** BigInt(dr + dc);
      const commit = await (await market(6)).getFunction("commitJob")(0, 77n, { value: bond });
      const committed = await commit.wait();
      const assignmentId = (committed.logs as never[])
        .map((l) => new Contract(deployment.mining, abi).interface.parseLog(l))
        .find((l) => l?.name === "JobCommitted")!.args[0] as bigint;
      await page.waitForFunction((sel) => document.querySelector(`${sel} td.slots`)?.textContent === "1 / 0", row);
      while ((await chain.getBlockNumber()) <= committed.blockNumber + params.challengeDelay) await sleep(100);
      await (await (await market(6)).getFunction("proveJob")(assignmentId, [[1n, 0n, 0n, 0n, 0n, 0n, 0n, 0n]])).wait();
      await page.waitForFunction((sel) => document.querySelector(`${sel} td.slots`)?.textContent === "1 / 1", row, {
        timeout: 10_000,
      });
      shown = await cells();
      expect(shown[8]![1]).toBe(String(fee / 2n)); // paid: one of two slots
      expect(shown[9]![1]).toBe("0"); // nothing refunded before the deadline
      expect(shown[7]![0]).toBe("open"); // the second slot is still free
      await page.waitForFunction((a) => document.querySelector(`#miners tr[data-address="${a}"] td.job-fees`), miner);
      expect(
        await page.$eval(`#miners tr[data-address="${miner}"] td.job-fees`, (td) => (td as HTMLElement).dataset.wei),
      ).toBe(String(fee / 2n));
      expect(
        await page.$eval('#job-totals dd[data-count="fees paid to miners"]', (dd) => (dd as HTMLElement).title),
      ).toBe("0.01 ETH");
      const metrics = await (await fetch(new URL("metrics", dashboard.url))).text();
      expect(metrics).toContain("demle_jobs_posted_total 1\n");
      expect(metrics).toContain("demle_jobs_open 1\n");
      expect(metrics).toContain(`demle_job_fees_paid_wei_total ${fee / 2n}\n`);
      expect(metrics).toContain("demle_job_fees_refunded_wei_total 0\n");
    });

    it("says disconnected while the RPC is down and recovers by itself", async () => {
      await proxy.stop();
      await page.waitForSelector('#conn[data-state="disconnected"]', { timeout: 10_000 });
      expect(await page.textContent("#conn")).toMatch(/disconnected: chain RPC unreachable/);
      expect((await fetch(new URL("healthz", dashboard.url))).status).toBe(503);
      // The chain goes on meanwhile.
      const to = await (await chain.getSigner(4)).getAddress();
      const signer = await chain.getSigner(2);
      const tx = (await (token.connect(signer) as Contract).getFunction("transfer")(to, 12345n)) as { hash: string };
      const receipt = await receiptOf(chain, tx.hash);
      await sleep(1500);
      expect(await page.getAttribute("#conn", "data-state")).toBe("disconnected");
      await proxy.start();
      await page.waitForSelector('#conn[data-state="connected"]', { timeout: 10_000 });
      await seenAt(`${receipt.blockHash}:${receipt.logs[0]!.index}`);
      expect((await fetch(new URL("healthz", dashboard.url))).status).toBe(200);
      await expectBalancesMatchChain();
      expect((await balancesOnPage()).get(to)).toBe("12345");
    });

    it("shows the same state after a reload, kept by the server", async () => {
      const read = () =>
        page.evaluate(() => ({
          miners: [...document.querySelectorAll("#miners tbody tr")].map((tr) => (tr as HTMLElement).innerText),
          feed: [...document.querySelectorAll("#feed li")].map((li) => (li as HTMLElement).dataset.key),
          epochs: [...document.querySelectorAll("#epochs tbody tr")].map((tr) => (tr as HTMLElement).innerText),
          supply: document.querySelector("#supply")!.textContent,
          commitments: document.querySelector("#commitments")!.textContent,
          macs: document.querySelector("#macs")!.textContent,
          jobs: [...document.querySelectorAll("#jobs tbody tr")].map((tr) => (tr as HTMLElement).innerText),
          jobTotals: document.querySelector("#job-totals")!.textContent,
        }));
      const before = await read();
      expect(before.feed.length).toBeGreaterThan(10);
      await page.reload();
      await page.waitForSelector('#conn[data-state="connected"]');
      await page.waitForFunction(() => document.querySelectorAll("#miners tbody tr[data-address]").length > 0);
      expect(await read()).toEqual(before);
    });

    it("loads nothing from outside, weighs little, serves /metrics, and leaves a screenshot", async () => {
      const { requests, wire, decoded } = firstVisit;
      const origin = new URL(dashboard.url).origin;
      expect(requests.length).toBe(5); // page, app.js, style.css, uPlot's script and stylesheet
      expect(requested.length).toBeGreaterThan(requests.length);
      for (const url of requested) expect(url.startsWith(origin), url).toBe(true);
      const state = await (await fetch(new URL("state", dashboard.url))).text();
      console.log(
        `page weight (first visit, without the event stream): ${wire} bytes on the wire (gzip), ${decoded} bytes ` +
          `decoded, ${requests.length} requests; initial state ${state.length} bytes of JSON`,
      );
      expect(wire).toBeLessThan(100_000);
      const metrics = await (await fetch(new URL("metrics", dashboard.url))).text();
      expect(metrics).toContain("demle_dashboard_rpc_up 1");
      expect(metrics).toContain("demle_dashboard_sse_clients 1"); // this page
      expect(metrics).toMatch(/demle_dashboard_rpc_errors_total [1-9]/);
      expect(metrics).toContain('demle_commitments{status="proven"} 2');
      expect(metrics).toContain(`demle_verified_macs{op="gemm"} ${2 * 64 * 2 * 2 * 16}`);
      // Two seed rewards (0.4096 DEMLE each) and the job's (4·2 × 8·4 tiles' 4096 MACs at 1e14: 0.4096).
      expect(metrics).toMatch(/demle_token_supply_tokens 1\.228\d*\n/);
      expect(metrics).toContain('demle_dashboard_events_total{event="ProofAccepted"} 2');
      await page.screenshot({ path: path.join(ARTIFACTS, "dashboard.png"), fullPage: true });
    });
  });
});
