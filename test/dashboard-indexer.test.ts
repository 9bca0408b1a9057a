// The dashboard's indexer against DemleMining on Hardhat's in-process network (through an EIP-1193 provider, as
// `npm run demo` uses it). The verifier is a stub that accepts every proof, so commitments, proofs, rewards, slashes and
// transfers happen in milliseconds; the real proofs run in test/dashboard.test.ts. Also: reorgs (evm_snapshot /
// evm_revert), the persisted cursor, log ranges, and the miner's Prometheus metrics.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { BrowserProvider, Contract, parseEther, type InterfaceAbi, type Provider, type Signer } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Indexer, type IndexerOptions, type Snapshot } from "../dashboard/indexer.js";
import { MinerMetrics } from "../miner/metrics.js";
import type { MinerStats } from "../miner/miner.js";
import { DASHBOARD_LAYER, DASHBOARD_PARAMS, deployDashboardChain, type Connection } from "./helpers/dashboard-chain.js";

/** Runtime code returning abi.encode(true) for any call: a verifier that accepts every proof. */
const ACCEPT_ALL_VERIFIER = "0x600a600c600039600a6000f3" + "600160005260206000f3";

const LAYER = DASHBOARD_LAYER;
const PARAMS = DASHBOARD_PARAMS;
const DUMMY_PROOFS = [Array(8).fill(1n), Array(8).fill(1n)];

describe("dashboard indexer", () => {
  let connection: Connection;
  let provider: BrowserProvider;
  let signers: Signer[];
  let abis: { mining: InterfaceAbi; token: InterfaceAbi };
  let mining: Contract;
  let token: Contract;
  let deployBlock: number;
  const dir = mkdtempSync(path.join(os.tmpdir(), "demle-indexer-"));

  const rpc = (method: string, params: unknown[] = []) => connection.provider.request({ method, params });
  const mine = (blocks: number) => rpc("hardhat_mine", [`0x${blocks.toString(16)}`]);
  const as = (index: number) => mining.connect(signers[index]!) as Contract;

  function indexer(options: Partial<IndexerOptions> = {}): Indexer {
    return new Indexer({ provider, mining: mining.target as string, abis, fromBlock: deployBlock, ...options });
  }

  async function commit(index: number, dr = 1, dc = 1): Promise<bigint> {
    const address = await signers[index]!.getAddress();
    await (await as(index).getFunction("openEpoch")()).wait();
    const epoch = (await mining.getFunction("currentEpoch")()) as bigint;
    const nonce = (await mining.getFunction("nextNonce")(address, epoch)) as bigint;
    const shapes = [dr + 256 * dc];
    const bond = (await mining.getFunction("bondFor")(shapes)) as bigint;
    const receipt = await (
      await as(index).getFunction("commit")(epoch, nonce, [12345n + BigInt(index)], shapes, { value: bond })
    ).wait();
    const log = receipt.logs
      .map((l: never) => mining.interface.parseLog(l))
      .find((l: { name: string }) => l?.name === "Committed");
    return log.args[0] as bigint;
  }

  async function expectMatchesChain(snapshot: Snapshot): Promise<void> {
    expect(snapshot.token.supply).toBe(String(await token.getFunction("totalSupply")()));
    expect(snapshot.accounts.length).toBeGreaterThan(0);
    for (const row of snapshot.accounts) {
      expect(row.balance, row.address).toBe(String(await token.getFunction("balanceOf")(row.address)));
    }
    expect(snapshot.commitments.total).toBe(Number(await mining.getFunction("commitmentCount")()));
  }

  beforeAll(async () => {
    // No job kinds: jobs are test/dashboard-jobs.test.ts's.
    ({ connection, provider, signers, abis, mining, token, deployBlock } = await deployDashboardChain({
      layerVerifier: { abi: [], bytecode: ACCEPT_ALL_VERIFIER },
      layer: LAYER,
      params: PARAMS,
    }));
  }, 600_000);

  afterAll(async () => {
    await connection?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("derives supply, balances, commitments by status, verified MACs, epochs and the feed from the events", async () => {
    const idx = indexer({ reorgDepth: 4 });
    await idx.pollOnce();
    expect(idx.snapshot().chain?.cap).toBe(String(PARAMS.cap));
    expect(idx.snapshot().accounts).toEqual([]);

    const proven = await commit(1);
    const slashed = await commit(2);
    await mine(PARAMS.challengeDelay);
    await (await as(1).getFunction("prove")(proven, DUMMY_PROOFS)).wait();
    await mine(PARAMS.proofWindow);
    await (await as(3).getFunction("slash")(slashed)).wait();
    const address1 = await signers[1]!.getAddress();
    const holder = await signers[4]!.getAddress();
    await (await (token.connect(signers[1]!) as Contract).getFunction("transfer")(holder, 10n ** 16n)).wait();
    const expired = await commit(2);
    await mine(PARAMS.challengeDelay + PARAMS.proofWindow + 1);

    await idx.pollOnce();
    const s = idx.snapshot();
    await expectMatchesChain(s);
    const macs = (await mining.getFunction("macsFor")([1 + 256])) as bigint;
    expect(s.commitments).toEqual({ total: 3, pending: 0, proven: 1, expired: 1, slashed: 1 });
    expect(s.proofs).toEqual({ accepted: 1, tilesChecked: "2" });
    expect(s.macs).toEqual({ gemm: String(macs) });
    expect(s.token.burnedBonds).toBe(String(await mining.getFunction("burnedBonds")()));
    const row1 = s.accounts.find((a) => a.address === address1)!;
    expect(row1).toMatchObject({ miner: true, commitments: 1, proven: 1, slashed: 0, macs: String(macs) });
    expect(row1.earned).toBe(String(macs * PARAMS.initialRewardPerMac));
    expect(row1.lastEarn?.id).toBe(String(proven));
    expect(s.accounts.find((a) => a.address === holder)).toMatchObject({ miner: false, balance: String(10n ** 16n) });
    expect(s.feed.map((e) => e.name)).toEqual(
      expect.arrayContaining([
        "EpochOpened",
        "Committed",
        "ProofAccepted",
        "RewardMinted",
        "BondReturned",
        "Slashed",
        "Transfer",
      ]),
    );
    // Mints are not repeated in the feed (RewardMinted says it); the user transfer is there.
    expect(s.feed.filter((e) => e.name === "Transfer")).toHaveLength(1);
    expect(s.feed.find((e) => e.name === "Committed" && e.args.id === String(expired))?.args.miner).toBe(
      await signers[2]!.getAddress(),
    );
    const epoch = s.epochs.find((e) => e.proven === 1)!;
    expect(epoch.macs).toBe(String(macs));
    // Balance history: the miner's series ends at its balance.
    const series = s.series.balances[address1]!;
    expect(series.at(-1)![1]).toBeCloseTo(Number(await token.getFunction("balanceOf")(address1)) / 1e18, 12);
    expect(s.series.supply.at(-1)![1]).toBeCloseTo(Number(s.token.supply) / 1e18, 12);
  });

  it("follows a reorg: events of replaced blocks disappear, the new branch's events appear", async () => {
    const idx = indexer({ reorgDepth: 8 });
    await idx.pollOnce();
    const updates: string[] = [];
    idx.subscribe((u) => updates.push(u.type));
    const sender = token.connect(signers[1]!) as Contract;
    const [gone, stays] = [await signers[5]!.getAddress(), await signers[6]!.getAddress()];
    const snapshotId = await rpc("evm_snapshot");
    const receipt = await (await sender.getFunction("transfer")(gone, 111n)).wait();
    await mine(1);
    await idx.pollOnce();
    expect(idx.snapshot().accounts.find((a) => a.address === gone)?.balance).toBe("111");
    const goneKey = `${receipt.blockHash}:${receipt.logs[0].index}`;
    expect(idx.snapshot().feed.some((e) => e.key === goneKey)).toBe(true);

    await rpc("evm_revert", [snapshotId]);
    await (await sender.getFunction("transfer")(stays, 222n)).wait();
    await mine(2);
    await idx.pollOnce();
    const s = idx.snapshot();
    expect(s.accounts.find((a) => a.address === gone)).toBeUndefined();
    expect(s.accounts.find((a) => a.address === stays)?.balance).toBe("222");
    expect(s.feed.some((e) => e.key === goneKey)).toBe(false);
    expect(updates).toContain("snapshot"); // a reorg resets the pages
    await expectMatchesChain(s);
  });

  it("persists its cursor and state, resumes from them, and re-indexes when the saved block left the chain", async () => {
    const stateFile = path.join(dir, "state.json");
    const first = indexer({ stateFile, reorgDepth: 4 });
    await first.pollOnce();
    await first.stop();
    const saved = JSON.parse(readFileSync(stateFile, "utf8")) as { cursor: { block: number; hash: string } };
    expect(saved.cursor.block).toBe(first.indexedBlock);

    // A new indexer on the same file scans only the re-scan window, and shows the same state.
    const ranges: [number, number][] = [];
    const counting = new Proxy(provider, {
      get(target, key) {
        const value = Reflect.get(target, key, target) as unknown;
        if (key === "getLogs")
          return (filter: { fromBlock: number; toBlock: number }) => {
            ranges.push([filter.fromBlock, filter.toBlock]);
            return target.getLogs(filter);
          };
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    }) as Provider;
    const resumed = indexer({ stateFile, reorgDepth: 4, provider: counting });
    await resumed.pollOnce();
    const head = await provider.getBlockNumber();
    expect(Math.min(...ranges.map(([from]) => from))).toBe(Math.min(saved.cursor.block + 1, head - 3));
    const strip = (s: Snapshot) => ({ ...s, version: 0, status: null, head: null });
    expect(strip(resumed.snapshot())).toEqual(strip(first.snapshot()));

    // The saved block is not on this chain (a restarted node, or a reorg deeper than the window): index again.
    writeFileSync(
      stateFile,
      JSON.stringify({
        ...JSON.parse(readFileSync(stateFile, "utf8")),
        cursor: { ...saved.cursor, hash: `0x${"11".repeat(32)}` },
      }),
    );
    const lines: string[] = [];
    const rebuilt = indexer({ stateFile, reorgDepth: 4, log: (line) => lines.push(line) });
    await rebuilt.pollOnce();
    expect(lines.join("\n")).toMatch(/not on this chain any more/);
    expect(strip(rebuilt.snapshot())).toEqual(strip(first.snapshot()));
  });

  it("reads logs in ranges, and narrows them when the node refuses a range", async () => {
    const whole = indexer();
    await whole.pollOnce();
    let refused = 0;
    const picky = new Proxy(provider, {
      get(target, key) {
        const value = Reflect.get(target, key, target) as unknown;
        if (key === "getLogs")
          return (filter: { fromBlock: number; toBlock: number }) => {
            if (filter.toBlock - filter.fromBlock + 1 > 5) {
              refused++;
              return Promise.reject(new Error("query exceeds max block range 5"));
            }
            return target.getLogs(filter);
          };
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    }) as Provider;
    const narrow = indexer({ provider: picky, maxBlockRange: 64 });
    while (await narrow.pollOnce());
    expect(refused).toBeGreaterThan(0);
    const strip = (s: Snapshot) => ({ ...s, version: 0, status: null, chain: null });
    expect(strip(narrow.snapshot())).toEqual(strip(whole.snapshot()));
  });

  it("miner metrics: MAC/s, proofs, proof latency, tokens and RPC errors in Prometheus format", async () => {
    const metrics = new MinerMetrics({ defaultMetrics: false });
    const stats: MinerStats = {
      epoch: 7,
      macsPerSecond: 1.5e6,
      proofsOk: 4,
      proofsFailed: 1,
      commitmentsSettled: 2,
      commitmentsDeferred: 3,
      commitmentsLost: 1,
      earned: 8192n * 10n ** 14n,
      bondAtRisk: parseEther("0.0064"),
    };
    const onEvent = metrics.add("0xMiner", () => stats);
    const job = { epoch: 7, nonce: 0, timings: { proveMs: 1500 } } as never;
    onEvent({ type: "job", job });
    onEvent({ type: "job", job }); // once per commitment
    onEvent({ type: "log", message: "RPC error in getBlockNumber (attempt 1), retrying in 500 ms: ECONNREFUSED" });
    onEvent({ type: "log", message: "epoch 7 nonce 0: computed" });
    const endpoint = await metrics.serve(0);
    try {
      const text = await (await fetch(endpoint.url)).text();
      expect(text).toContain('demle_miner_macs_per_second{miner="0xMiner"} 1500000');
      expect(text).toContain('demle_miner_proofs_total{miner="0xMiner",result="ok"} 4');
      expect(text).toContain('demle_miner_proofs_total{miner="0xMiner",result="failed"} 1');
      expect(text).toContain('demle_miner_commitments_total{miner="0xMiner",outcome="lost"} 1');
      expect(text).toContain('demle_miner_commitments_total{miner="0xMiner",outcome="deferred"} 3');
      expect(text).toContain('demle_miner_earned_tokens{miner="0xMiner"} 0.8192');
      expect(text).toContain('demle_miner_bond_at_risk_eth{miner="0xMiner"} 0.0064');
      expect(text).toContain('demle_miner_proof_seconds_count{miner="0xMiner"} 1');
      expect(text).toContain('demle_miner_proof_seconds_sum{miner="0xMiner"} 1.5');
      expect(text).toContain('demle_miner_rpc_errors_total{miner="0xMiner",call="getBlockNumber"} 1');
      expect((await fetch(endpoint.url.replace("/metrics", "/"))).status).toBe(404);
    } finally {
      await endpoint.close();
    }
  });
});
