// The dashboard's job-market view against DemleMining on Hardhat's in-process network. Test verifiers only
// (contracts/test: TestVerifierAcceptsMarkedProofs for the seed layer, TestVerifier6AcceptsMarkedProofs for the job
// kinds: a "proof" is accepted iff its first word is 1), so posting, committing, proving, slashing and refunding take
// milliseconds. Every figure the indexer shows is checked against a model the test keeps from what it sent (fees,
// redundancy, shapes, the constructor's parameters), not against the indexer's own arithmetic; also: statuses as the
// head moves (and in deltas), a reorg, the persisted state (and a version-1 file), /state and /metrics.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { BrowserProvider, Contract, parseEther, type InterfaceAbi, type Signer } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Indexer,
  type Delta,
  type IndexerOptions,
  type JobStatus,
  type JobView,
  type Snapshot,
} from "../dashboard/indexer.js";
import { startDashboard } from "../dashboard/server.js";
import { loadArtifact } from "../miner/artifacts.js";
import { DASHBOARD_LAYER, DASHBOARD_PARAMS, deployDashboardChain, type Connection } from "./helpers/dashboard-chain.js";

const LAYER = DASHBOARD_LAYER;
/** No halving within this test: rewardPerMac is initialRewardPerMac throughout. */
const PARAMS = { ...DASHBOARD_PARAMS, proofsPerCommitment: 1 };
const D = PARAMS.challengeDelay;
const W = PARAMS.proofWindow;
/** Two job kinds of different tiles, so that sizes must come from the right kind. */
const KINDS = [
  {
    macsPerTile: 4 * 8 * 16,
    tilesPerProof: 2,
    proofsPerJob: 2,
    tileRows: 4,
    tileCols: 8,
    depth: 16,
    maxRowBlocksLog2: 3,
    maxColBlocksLog2: 3,
  },
  {
    macsPerTile: 2 * 2 * 32,
    tilesPerProof: 1,
    proofsPerJob: 1,
    tileRows: 2,
    tileCols: 2,
    depth: 32,
    maxRowBlocksLog2: 2,
    maxColBlocksLog2: 2,
  },
];
const MARKED = (count: number) => Array.from({ length: count }, () => [1n, 0n, 0n, 0n, 0n, 0n, 0n, 0n]);
const shapeOf = (dr: number, dc: number) => dr + 256 * dc;

/** What the test sent, and what must follow from it. */
interface ModelJob {
  id: string;
  requester: string;
  kind: number;
  dr: number;
  dc: number;
  redundancy: number;
  fee: bigint;
  deadline: number;
  inputUri: string;
  slots: {
    assignmentId: string;
    miner: string;
    status: "committed" | "proven" | "slashed";
    fee: bigint;
    reward: bigint;
  }[];
  refunded: bigint;
  refundedFlag: boolean;
}

describe("dashboard: jobs and fees", () => {
  let connection: Connection;
  let provider: BrowserProvider;
  let signers: Signer[];
  let addresses: string[];
  let abis: { mining: InterfaceAbi; token: InterfaceAbi };
  let mining: Contract;
  let token: Contract;
  let deployBlock: number;
  let jobVerifier: string;
  const dir = mkdtempSync(path.join(os.tmpdir(), "demle-dashboard-jobs-"));
  const jobs: ModelJob[] = [];
  let burned = 0n;
  let bounties = 0n;

  const rpc = (method: string, params: unknown[] = []) => connection.provider.request({ method, params });
  const mine = (blocks: number) => rpc("hardhat_mine", [`0x${blocks.toString(16)}`]);
  const head = () => provider.getBlockNumber();
  async function mineTo(block: number): Promise<void> {
    const now = await head();
    expect(block).toBeGreaterThanOrEqual(now);
    if (block > now) await mine(block - now);
  }
  const as = (index: number) => mining.connect(signers[index]!) as Contract;

  function indexer(options: Partial<IndexerOptions> = {}): Indexer {
    return new Indexer({ provider, mining: mining.target as string, abis, fromBlock: deployBlock, ...options });
  }

  async function send(index: number, method: string, args: unknown[], value?: bigint) {
    const tx = await as(index).getFunction(method)(...args, ...(value !== undefined ? [{ value }] : []));
    const receipt = await tx.wait();
    return receipt.logs.map((l: never) => mining.interface.parseLog(l)).filter((l: unknown) => l !== null) as {
      name: string;
      args: Record<string, unknown> & unknown[];
    }[];
  }

  async function post(
    requester: number,
    kind: number,
    dr: number,
    dc: number,
    redundancy: number,
    fee: bigint,
    blocksToDeadline: number,
  ): Promise<ModelJob> {
    const deadline = (await head()) + 1 + blocksToDeadline; // the post transaction is mined in the next block
    const inputUri = `http://127.0.0.1:9/blobs/${jobs.length}<b onmouseover="x">&amp;</b>`; // untrusted text
    const logs = await send(
      requester,
      "postJob",
      [kind, `0x${"ab".repeat(32)}`, 11n, 22n, inputUri, shapeOf(dr, dc), redundancy, deadline],
      fee,
    );
    const id = String(logs.find((l) => l.name === "JobPosted")!.args[0]);
    const job: ModelJob = {
      id,
      requester: addresses[requester]!,
      kind,
      dr,
      dc,
      redundancy,
      fee,
      deadline,
      inputUri,
      slots: [],
      refunded: 0n,
      refundedFlag: false,
    };
    jobs.push(job);
    return job;
  }

  const tilesOf = (job: ModelJob) => 1n << BigInt(job.dr + job.dc);
  const bondOf = (job: ModelJob) => PARAMS.bondPerTile * tilesOf(job);
  const macsOf = (job: ModelJob) => BigInt(KINDS[job.kind]!.macsPerTile) * tilesOf(job);

  async function commit(miner: number, job: ModelJob): Promise<string> {
    const logs = await send(miner, "commitJob", [job.id, 1000n + BigInt(miner)], bondOf(job));
    const assignmentId = String(logs.find((l) => l.name === "JobCommitted")!.args[0]);
    job.slots.push({ assignmentId, miner: addresses[miner]!, status: "committed", fee: 0n, reward: 0n });
    return assignmentId;
  }

  async function prove(miner: number, job: ModelJob, assignmentId: string): Promise<void> {
    await send(miner, "proveJob", [assignmentId, MARKED(KINDS[job.kind]!.proofsPerJob)]);
    const slot = job.slots.find((s) => s.assignmentId === assignmentId)!;
    slot.status = "proven";
    slot.fee = job.fee / BigInt(job.redundancy);
    slot.reward = macsOf(job) * PARAMS.initialRewardPerMac;
  }

  async function slash(caller: number, job: ModelJob, assignmentId: string): Promise<void> {
    await send(caller, "slashJob", [assignmentId]);
    job.slots.find((s) => s.assignmentId === assignmentId)!.status = "slashed";
    const bounty = (bondOf(job) * BigInt(PARAMS.slashBountyBps)) / 10_000n;
    bounties += bounty;
    burned += bondOf(job) - bounty;
  }

  async function refund(caller: number, job: ModelJob): Promise<void> {
    await send(caller, "refundJob", [job.id]);
    const proven = job.slots.filter((s) => s.status === "proven").length;
    job.refunded = (job.fee / BigInt(job.redundancy)) * BigInt(job.redundancy - proven);
    job.refundedFlag = true;
  }

  const sum = (xs: bigint[]) => xs.reduce((a, b) => a + b, 0n);
  const allSlots = () => jobs.flatMap((j) => j.slots);

  /** Every job figure of a snapshot against the model. */
  function expectJobs(s: Snapshot, statuses: Record<string, JobStatus>): void {
    expect(s.jobs.map((j) => j.id)).toEqual(
      [...jobs].sort((x, y) => Number(y.id) - Number(x.id)).map((j) => j.id), // newest first
    );
    for (const job of jobs) {
      const view = s.jobs.find((j) => j.id === job.id)!;
      const kind = KINDS[job.kind]!;
      const proven = job.slots.filter((x) => x.status === "proven");
      expect(view, `job ${job.id}`).toMatchObject({
        requester: job.requester,
        kind: job.kind,
        shape: shapeOf(job.dr, job.dc),
        m: String(kind.tileRows * 2 ** job.dr),
        n: String(kind.tileCols * 2 ** job.dc),
        k: kind.depth,
        redundancy: job.redundancy,
        deadline: job.deadline,
        fee: String(job.fee),
        inputUri: job.inputUri,
        committed: job.slots.length,
        proven: proven.length,
        slashed: job.slots.filter((x) => x.status === "slashed").length,
        feesPaid: String(sum(proven.map((x) => x.fee))),
        refunded: String(job.refunded),
        rewards: String(sum(proven.map((x) => x.reward))),
        status: statuses[job.id],
      });
      expect(
        view.slots.map((x) => ({
          assignmentId: x.assignmentId,
          miner: x.miner,
          status: x.status,
          fee: x.fee,
          reward: x.reward,
        })),
      ).toEqual(job.slots.map((x) => ({ ...x, fee: String(x.fee), reward: String(x.reward) })));
    }
    const t = s.jobTotals;
    const feesPosted = sum(jobs.map((j) => j.fee));
    const feesPaid = sum(allSlots().map((x) => x.fee));
    const feesRefunded = sum(jobs.map((j) => j.refunded));
    const proven = jobs.flatMap((j) => j.slots.filter((x) => x.status === "proven").map(() => j));
    expect(t).toMatchObject({
      posted: jobs.length,
      feesPosted: String(feesPosted),
      feesPaid: String(feesPaid),
      feesRefunded: String(feesRefunded),
      feesEscrowed: String(feesPosted - feesPaid - feesRefunded),
      rewards: String(sum(allSlots().map((x) => x.reward))),
      macs: String(sum(proven.map(macsOf))),
      tilesChecked: String(sum(proven.map((j) => BigInt(KINDS[j.kind]!.proofsPerJob * KINDS[j.kind]!.tilesPerProof)))),
      slots: {
        committed: allSlots().length,
        proven: allSlots().filter((x) => x.status === "proven").length,
        slashed: allSlots().filter((x) => x.status === "slashed").length,
      },
      bounties: String(bounties),
      burned: String(burned),
    });
    const byStatus = { open: 0, full: 0, closed: 0, expired: 0, done: 0, refunded: 0 };
    for (const status of Object.values(statuses)) byStatus[status]++;
    expect(t.byStatus).toEqual(byStatus);
    // Per miner: fee shares, slots, and DEMLE (these miners do no seed work: their balance is their job rewards).
    for (const address of new Set(allSlots().map((x) => x.miner))) {
      const mine = allSlots().filter((x) => x.miner === address);
      const row = s.accounts.find((a) => a.address === address)!;
      const rewards = sum(mine.map((x) => x.reward));
      expect(row, address).toMatchObject({
        miner: true,
        jobSlots: mine.length,
        jobsProven: mine.filter((x) => x.status === "proven").length,
        jobsSlashed: mine.filter((x) => x.status === "slashed").length,
        jobFees: String(sum(mine.map((x) => x.fee))),
        earned: String(rewards),
        balance: String(rewards),
      });
    }
    if (proven.length > 0) expect(s.macs["linear (jobs)"]).toBe(String(sum(proven.map(macsOf))));
    expect(s.token.burnedBonds).toBe(String(burned));
  }

  async function expectMatchesChain(s: Snapshot): Promise<void> {
    expect(s.jobTotals.posted).toBe(Number(await mining.getFunction("jobCount")()));
    expect(s.token.burnedBonds).toBe(String(await mining.getFunction("burnedBonds")()));
    expect(s.token.supply).toBe(String(await token.getFunction("totalSupply")()));
    for (const view of s.jobs) {
      const onChain = (await mining.getFunction("job")(view.id)) as Record<string, unknown>;
      expect(Number(onChain.committedSlots)).toBe(view.committed);
      expect(Number(onChain.provenSlots)).toBe(view.proven);
      expect(onChain.refunded).toBe(view.status === "refunded");
    }
    for (const row of s.accounts) {
      expect(row.balance).toBe(String(await token.getFunction("balanceOf")(row.address)));
    }
  }

  beforeAll(async () => {
    const [layerVerifier, kindVerifier] = await Promise.all([
      loadArtifact("test/TestVerifierAcceptsMarkedProofs.sol", "TestVerifierAcceptsMarkedProofs"),
      loadArtifact("test/TestVerifier6AcceptsMarkedProofs.sol", "TestVerifier6AcceptsMarkedProofs"),
    ]);
    const chain = await deployDashboardChain({
      layerVerifier,
      layer: LAYER,
      params: PARAMS,
      jobVerifier: kindVerifier,
      kinds: KINDS,
    });
    ({ connection, provider, signers, abis, mining, token, deployBlock } = chain);
    jobVerifier = chain.jobVerifier!;
    addresses = await Promise.all(signers.map((s) => s.getAddress()));
  }, 600_000);

  afterAll(async () => {
    await connection?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("lists jobs with their size, slots, fees, rewards and status, and the market's totals", async () => {
    const idx = indexer({ reorgDepth: 4 });
    await idx.pollOnce();
    expect(idx.snapshot().chain?.jobKinds).toEqual(KINDS.map((kind) => ({ verifier: jobVerifier, ...kind })));
    expect(idx.snapshot().jobs).toEqual([]);

    const a = await post(5, 0, 1, 2, 2, parseEther("0.02"), 30);
    const b = await post(6, 1, 0, 0, 1, parseEther("0.003"), 30);
    const c = await post(5, 0, 0, 1, 3, parseEther("0.03"), 60);
    const a1 = await commit(1, a);
    const a2 = await commit(2, a);
    const b1 = await commit(1, b);
    await idx.pollOnce();
    expectJobs(idx.snapshot(), { [a.id]: "full", [b.id]: "full", [c.id]: "open" });

    await mine(D);
    await prove(1, a, a1);
    await prove(1, b, b1);
    await mine(W); // a2's window closes unproven
    await slash(3, a, a2);
    await idx.pollOnce();
    let s = idx.snapshot();
    expectJobs(s, { [a.id]: "full", [b.id]: "done", [c.id]: "open" });
    await expectMatchesChain(s);
    expect(s.feed.map((e) => e.name)).toEqual(
      expect.arrayContaining([
        "JobPosted",
        "JobCommitted",
        "JobProofAccepted",
        "JobFeePaid",
        "JobRewardMinted",
        "JobBondReturned",
        "JobSlashed",
      ]),
    );
    expect(s.accounts.find((r) => r.address === addresses[1])!.lastEarn).toMatchObject({ id: b1, job: b.id });

    // Statuses follow the head, and reach the pages in deltas without any event: open → closed → expired.
    const deltas: Delta[] = [];
    idx.subscribe((u) => {
      if (u.type === "delta") deltas.push(u.delta);
    });
    const statusInDeltas = (id: string) =>
      deltas.flatMap((d) => d.jobs.filter((j: JobView) => j.id === id).map((j) => j.status));
    await mineTo(c.deadline - D - W); // the last block in which a commitment is accepted
    await idx.pollOnce();
    expect(idx.snapshot().jobs.find((j) => j.id === c.id)!.status).toBe("open");
    await mine(1);
    await idx.pollOnce();
    expect(idx.snapshot().jobs.find((j) => j.id === c.id)!.status).toBe("closed");
    expect(statusInDeltas(c.id)).toEqual(["closed"]);
    expect(deltas.at(-1)!.jobTotals.byStatus.closed).toBe(1);
    await mineTo(c.deadline);
    await idx.pollOnce();
    expect(idx.snapshot().jobs.find((j) => j.id === c.id)!.status).toBe("closed");
    await mine(1);
    await idx.pollOnce();
    expect(statusInDeltas(c.id)).toEqual(["closed", "expired"]);
    // a's deadline passed earlier: expired too (one proven, one slashed slot: one fee share to refund).
    expectJobs(idx.snapshot(), { [a.id]: "expired", [b.id]: "done", [c.id]: "expired" });

    await refund(4, a);
    await refund(4, c);
    const d = await post(7, 1, 1, 1, 2, parseEther("0.004"), 40);
    await commit(2, d);
    await idx.pollOnce();
    expectJobs(idx.snapshot(), { [a.id]: "refunded", [b.id]: "done", [c.id]: "refunded", [d.id]: "open" });
    await commit(1, d);
    await idx.pollOnce();
    s = idx.snapshot();
    expectJobs(s, { [a.id]: "refunded", [b.id]: "done", [c.id]: "refunded", [d.id]: "full" });
    await expectMatchesChain(s);
    // The model's arithmetic, spelled out once: a paid half its fee and refunded the other half; c refunded it all.
    expect(s.jobTotals.feesPaid).toBe(String(parseEther("0.01") + parseEther("0.003")));
    expect(s.jobTotals.feesRefunded).toBe(String(parseEther("0.01") + parseEther("0.03")));
    expect(s.jobTotals.feesEscrowed).toBe(String(parseEther("0.004")));
    expect(s.jobs.find((j) => j.id === a.id)).toMatchObject({ m: "8", n: "32", k: 16 });
  });

  it("follows a reorg: a replaced job's figures disappear, the new branch's job takes its id", async () => {
    const idx = indexer({ reorgDepth: 8 });
    await idx.pollOnce();
    const before = idx.snapshot();
    const snapshotId = await rpc("evm_snapshot");
    const gone = await post(8, 0, 0, 0, 1, parseEther("0.005"), 20);
    await commit(1, gone);
    await idx.pollOnce();
    const withGone = { ...Object.fromEntries(before.jobs.map((j) => [j.id, j.status])), [gone.id]: "full" as const };
    expectJobs(idx.snapshot(), withGone);

    await rpc("evm_revert", [snapshotId]);
    jobs.pop();
    const updates: string[] = [];
    idx.subscribe((u) => updates.push(u.type));
    const stays = await post(9, 1, 0, 1, 2, parseEther("0.006"), 20);
    expect(stays.id).toBe(gone.id);
    await mine(2);
    await idx.pollOnce();
    const s = idx.snapshot();
    expect(updates).toContain("snapshot");
    expectJobs(s, { ...Object.fromEntries(before.jobs.map((j) => [j.id, j.status])), [stays.id]: "open" });
    expect(s.jobs.find((j) => j.id === stays.id)).toMatchObject({ requester: addresses[9], slots: [] });
    await expectMatchesChain(s);
  });

  it("persists jobs in its state file, and ignores a version-1 file", async () => {
    const stateFile = path.join(dir, "state.json");
    const first = indexer({ stateFile, reorgDepth: 4 });
    await first.pollOnce();
    await first.stop();
    const saved = JSON.parse(readFileSync(stateFile, "utf8")) as {
      version: number;
      checkpoint: { jobs: Record<string, unknown> };
      tail: unknown[];
    };
    expect(saved.version).toBe(2);
    const strip = (s: Snapshot) => ({ ...s, version: 0, status: null, head: null });
    const lines: string[] = [];
    const resumed = indexer({ stateFile, reorgDepth: 4, log: (line) => lines.push(line) });
    await resumed.pollOnce();
    expect(lines.join("\n")).toMatch(/resumed from/);
    expect(strip(resumed.snapshot())).toEqual(strip(first.snapshot()));
    expect(resumed.snapshot().jobs).toHaveLength(jobs.length);

    // A file of the previous format (no jobs in its accounts or state) is not resumed: the chain is indexed again.
    writeFileSync(stateFile, JSON.stringify({ ...JSON.parse(readFileSync(stateFile, "utf8")), version: 1 }));
    lines.length = 0;
    const rebuilt = indexer({ stateFile, reorgDepth: 4, log: (line) => lines.push(line) });
    await rebuilt.pollOnce();
    expect(lines.join("\n")).toMatch(/another format version/);
    expect(strip(rebuilt.snapshot())).toEqual(strip(first.snapshot()));
  });

  it("serves the jobs in /state and the job figures in /metrics", async () => {
    const dashboard = await startDashboard({
      provider,
      contract: mining.target as string,
      fromBlock: deployBlock,
      pollMs: 50,
      abis,
    });
    try {
      const target = await head();
      for (let i = 0; (dashboard.indexer.indexedBlock ?? 0) < target; i++) {
        expect(i).toBeLessThan(200);
        await sleep(50);
      }
      const state = (await (await fetch(new URL("state", dashboard.url))).json()) as Snapshot;
      expect(state.jobs.map((j) => [j.id, j.fee, j.inputUri])).toEqual(
        [...jobs].reverse().map((j) => [j.id, String(j.fee), j.inputUri]),
      );
      const text = await (await fetch(new URL("metrics", dashboard.url))).text();
      const feesPaid = sum(allSlots().map((x) => x.fee));
      const feesRefunded = sum(jobs.map((j) => j.refunded));
      const feesPosted = sum(jobs.map((j) => j.fee));
      expect(text).toContain(`demle_jobs_posted_total ${jobs.length}\n`);
      expect(text).toContain(`demle_job_fees_paid_wei_total ${feesPaid}\n`);
      expect(text).toContain(`demle_job_fees_refunded_wei_total ${feesRefunded}\n`);
      expect(text).toContain(`demle_job_fees_posted_wei_total ${feesPosted}\n`);
      expect(text).toContain(`demle_job_fees_escrowed_wei ${feesPosted - feesPaid - feesRefunded}\n`);
      expect(text).toContain("demle_jobs_open 1\n"); // the reorg test's job
      expect(text).toContain('demle_jobs{status="refunded"} 2\n');
      expect(text).toContain('demle_jobs{status="done"} 1\n');
      expect(text).toContain('demle_jobs{status="full"} 1\n');
      expect(text).toContain(`demle_job_slots{status="committed"} ${allSlots().length}\n`);
      expect(text).toContain('demle_job_slots{status="slashed"} 1\n');
      const miner1Fees = sum(
        allSlots()
          .filter((x) => x.miner === addresses[1])
          .map((x) => x.fee),
      );
      expect(text).toContain(`demle_account_job_fees_wei{account="${addresses[1]}"} ${miner1Fees}\n`);
      expect(text).not.toContain(`demle_account_job_fees_wei{account="${addresses[2]}"}`); // slashed, never paid
      const rewards = sum(allSlots().map((x) => x.reward));
      expect(text).toContain(`demle_job_rewards_tokens_total ${Number(rewards) / 1e18}\n`);
    } finally {
      await dashboard.close();
    }
  });
});
