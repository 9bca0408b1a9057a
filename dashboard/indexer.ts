/**
 * The dashboard's indexer: reads DemleMining's and DemleToken's events by polling `eth_getLogs` over block ranges (no
 * `.on` filters, which lose events when a node drops them), and derives what the page shows: supply against the cap,
 * balances over time, epochs, commitments by status, verified MACs and a feed of recent events.
 *
 * Reorgs: every poll scans again the last `reorgDepth` blocks. Events of those blocks (the "tail") are kept apart from
 * the state derived from older, final blocks (the "checkpoint"); when the re-scan finds a different set of events
 * (keys are block hash + log index, so a replaced block changes them), the live state is rebuilt from the checkpoint
 * and the new tail. Reorgs deeper than `reorgDepth` are not followed (at startup they are detected through the
 * cursor's block hash, and the index is rebuilt from scratch).
 *
 * The cursor (last indexed block and its hash), the checkpoint and the tail are kept in a JSON file (atomic writes),
 * so a restarted dashboard resumes where it stopped and shows the same state.
 *
 * Jobs (docs/jobs.md): JobPosted … JobRefunded build a row per job (slots, fees paid, refund) and the job market's
 * totals; a job's size comes from its kind (read once, with the other deployment figures, at startup) and its status
 * (open, full, closed, expired, done, refunded) from the head block, so it is computed when the state is shown.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Contract, Interface, isError, type InterfaceAbi, type Log, type Provider } from "ethers";
import { writeFileAtomic } from "../common/files.js";
import { MINING_CIRCUITS, type MiningCircuit } from "../miner/circuits.js";
import type { MiningJobKind } from "../miner/deploy.js";
import { JobMarket } from "../miner/job-market.js";

/** A chart point: block number and a value in whole tokens (a float: charts only; exact amounts are elsewhere). */
export type Point = [block: number, value: number];

/** One decoded event. Numbers are decimal strings, addresses checksummed. */
export interface ChainEvent {
  readonly block: number;
  readonly blockHash: string;
  readonly logIndex: number;
  readonly tx: string;
  /** Block timestamp (s). */
  readonly time: number;
  /**
   * Event name: EpochOpened, Committed, ProofAccepted, RewardMinted, BondReturned, Slashed, Transfer, and the job
   * market's JobPosted, JobCommitted, JobProofAccepted, JobFeePaid, JobRewardMinted, JobBondReturned, JobSlashed,
   * JobRefunded.
   */
  readonly name: string;
  readonly args: Readonly<Record<string, string>>;
}

export interface FeedEntry extends ChainEvent {
  /** `blockHash:logIndex`: unique, and changes when the block is replaced by a reorg. */
  readonly key: string;
}

export interface AccountRow {
  address: string;
  /** Token balance (smallest unit). */
  balance: string;
  /** Minted to this account by DemleMining (smallest unit). */
  earned: string;
  /** Whether the account ever committed work. */
  miner: boolean;
  commitments: number;
  proven: number;
  slashed: number;
  /** Verified MACs of its proven work (seed work; job MACs are in the job totals). */
  macs: string;
  /** Job slots it took (JobCommitted), proved and lost (slashed). */
  jobSlots: number;
  jobsProven: number;
  jobsSlashed: number;
  /** Job fee shares paid to it (wei). */
  jobFees: string;
  /** Its last reward; `job` is set when it was a job's (then `id` is the assignment id, else the commitment id). */
  lastEarn?: { block: number; time: number; amount: string; id: string; job?: string };
}

/** A job slot: one miner's assignment. */
export interface JobSlot {
  assignmentId: string;
  miner: string;
  outputRoot: string;
  /** Bond paid (wei). */
  bond: string;
  /** Commit block. */
  block: number;
  status: "committed" | "proven" | "slashed";
  /** Fee share paid (wei; "0" unless proven). */
  fee: string;
  /** DEMLE minted for it (smallest unit). */
  reward: string;
  /** Work units verified (set when proven). */
  macs?: string;
  /** When slashed: who slashed it, the bounty paid and the bond burned (wei). */
  slasher?: string;
  bounty?: string;
  burned?: string;
}

/** A job as derived from its events (persisted). */
export interface JobRow {
  id: string;
  requester: string;
  kind: number;
  /** dr + 256·dc: 2^dr row blocks, 2^dc column blocks. */
  shape: number;
  redundancy: number;
  /** Block after which unproven fee shares can be refunded. */
  deadline: number;
  /** Escrowed fee (wei). */
  fee: string;
  modelHash: string;
  /** Untrusted text (the requester chose it): the page shows it as text only. */
  inputUri: string;
  /** Posted in block / at (s) / transaction. */
  block: number;
  time: number;
  tx: string;
  /** In commit order. */
  slots: JobSlot[];
  /** Fee shares paid to miners, refunded to the requester (wei); DEMLE minted for its slots. */
  feesPaid: string;
  refunded: string;
  rewards: string;
  /** Whether JobRefunded was seen. */
  refundedAt?: number;
}

/**
 * open: a slot is free and commitments are accepted (head + D + W ≤ deadline); full: every slot is taken, deadline not
 * passed; closed: commitments no longer accepted with slots free, deadline not passed; expired: deadline passed and
 * not refunded (the requester can call refundJob); done: every slot proven (nothing to refund); refunded.
 */
export type JobStatus = "open" | "full" | "closed" | "expired" | "done" | "refunded";
export const JOB_STATUSES: readonly JobStatus[] = ["open", "full", "closed", "expired", "done", "refunded"];

/** A job as shown: its row, its size (M×N outputs, depth K; null when the kind is unknown) and its status. */
export interface JobView extends JobRow {
  m: string | null;
  n: string | null;
  k: number | null;
  committed: number;
  proven: number;
  slashed: number;
  status: JobStatus;
}

/** The job market's figures derived from events (persisted). */
export interface JobTotals {
  posted: number;
  /** Fees escrowed by JobPosted, ever (wei). */
  feesPosted: string;
  /** Fee shares paid to miners (JobFeePaid) and refunded to requesters (JobRefunded) (wei). */
  feesPaid: string;
  feesRefunded: string;
  /** DEMLE minted by JobRewardMinted (smallest unit). */
  rewards: string;
  /** Work units and output tiles verified by accepted job proofs. */
  macs: string;
  tilesChecked: string;
  slots: { committed: number; proven: number; slashed: number };
  /** Job bonds forfeited: bounties paid to slashers and the rest burned (wei). */
  bounties: string;
  burned: string;
  /** Jobs dropped from the state because they were finished and too old (by their final status). */
  pruned: { done: number; refunded: number };
}

/** The job totals as shown: with the fees still escrowed and the jobs by status. */
export interface JobSummary extends JobTotals {
  /** feesPosted − feesPaid − feesRefunded (wei). */
  feesEscrowed: string;
  byStatus: Record<JobStatus, number>;
}

export interface EpochRow {
  epoch: number;
  seed: string;
  block: number;
  time: number;
  commitments: number;
  proven: number;
  slashed: number;
  macs: string;
}

/** State derived from events only (JSON-serialisable: it is persisted). */
export interface DerivedState {
  /** Events applied. */
  events: number;
  supply: string;
  burnedBonds: string;
  commitments: { total: number; proven: number; slashed: number };
  /** Commitments neither proven nor slashed, by id. */
  pending: Record<string, { miner: string; block: number; epoch: number; shapes: string }>;
  proofs: { accepted: number; tilesChecked: string };
  /** Verified MACs (work units) by op of the deployment's layers ("all" when a commitment's layers are unknown). */
  macs: Record<string, string>;
  epochs: Record<string, EpochRow>;
  accounts: Record<string, AccountRow>;
  /** Newest last. */
  feed: FeedEntry[];
  supplyHistory: Point[];
  balanceHistory: Record<string, Point[]>;
  /** Jobs by id (finished ones beyond JOBS_KEPT are dropped, oldest first). */
  jobs: Record<string, JobRow>;
  /** The job of each assignment of a kept job. */
  assignmentJobs: Record<string, string>;
  jobTotals: JobTotals;
}

/** A job kind of the deployment (DemleMining.jobKind(i)): the constructor's JobKind, flat. */
export type JobKindInfo = Omit<MiningJobKind, "circuit">;

export interface ChainInfo {
  chainId: string;
  mining: string;
  token: string;
  fromBlock: number;
  cap: string;
  symbol: string;
  decimals: number;
  reorgDepth: number;
  pollMs: number;
  /** The workload's layers (DemleMining.layer(i)). */
  layers: {
    verifier: string;
    macsPerTile: number;
    tilesPerProof: number;
    maxRowBlocksLog2: number;
    maxColBlocksLog2: number;
  }[];
  /** The job kinds (empty for a deployment without a job market). */
  jobKinds: JobKindInfo[];
  params: {
    proofsPerCommitment: number;
    epochLength: number;
    challengeDelay: number;
    proofWindow: number;
  };
}

export interface Head {
  block: number;
  hash: string;
  /** Block timestamp (s). */
  time: number;
}

export interface SourceStatus {
  connected: boolean;
  /** Since when (ms since the Unix epoch) the connection has been in this state. */
  since: number;
  error?: string;
  /** Last successful poll (ms since the Unix epoch). */
  lastOk?: number;
}

export interface CommitmentCounts {
  total: number;
  /** Committed, proof window still open. */
  pending: number;
  proven: number;
  /** Committed, proof window closed without an accepted proof (rejected or abandoned), not slashed yet. */
  expired: number;
  slashed: number;
}

/** Everything the page shows; what `/state` returns and the SSE stream starts with. */
export interface Snapshot {
  version: number;
  chain?: ChainInfo;
  head?: Head;
  status: SourceStatus;
  token: { supply: string; cap: string; burnedBonds: string };
  commitments: CommitmentCounts;
  proofs: { accepted: number; tilesChecked: string };
  macs: Record<string, string>;
  /** Newest first. */
  epochs: EpochRow[];
  /** By balance, largest first. */
  accounts: AccountRow[];
  /** Newest first. */
  feed: FeedEntry[];
  series: { supply: Point[]; balances: Record<string, Point[]> };
  /** Newest first, at most JOBS_SHOWN. */
  jobs: JobView[];
  jobTotals: JobSummary;
}

/** What changed since version `prev`. Points replace a series' last point when they have its block. */
export interface Delta {
  prev: number;
  version: number;
  head: Head;
  token: Snapshot["token"];
  commitments: CommitmentCounts;
  proofs: Snapshot["proofs"];
  macs: Record<string, string>;
  epochs: EpochRow[];
  accounts: AccountRow[];
  /** Oldest first. */
  feed: FeedEntry[];
  series: { supply: Point[]; balances: Record<string, Point[]> };
  /** Jobs changed by events, or whose status changed with the head block. */
  jobs: JobView[];
  jobTotals: JobSummary;
}

export type DashboardUpdate =
  { type: "snapshot"; snapshot: Snapshot } | { type: "delta"; delta: Delta } | { type: "status"; status: SourceStatus };

/** What the dashboard server serves: the indexer, or in tests a synthetic source. */
export interface DashboardSource {
  snapshot(): Snapshot;
  subscribe(listener: (update: DashboardUpdate) => void): () => void;
}

export interface IndexerObserver {
  poll?(seconds: number, ok: boolean): void;
  events?(name: string, count: number): void;
  reorg?(): void;
}

export interface IndexerOptions {
  /** An ethers provider, or a factory the indexer calls (again after a failure) until it has one. */
  readonly provider: Provider | (() => Promise<Provider>);
  /** DemleMining's address. */
  readonly mining: string;
  readonly abis: { readonly mining: InterfaceAbi; readonly token: InterfaceAbi };
  /** First block to scan (the deployment block); default 0. */
  readonly fromBlock?: number;
  /** JSON file keeping the cursor, the final state and the tail; none: nothing persists. */
  readonly stateFile?: string;
  /** Blocks scanned again on every poll (default 12). */
  readonly reorgDepth?: number;
  /** Largest block range of one eth_getLogs call (default 2,000; halved when the node refuses a range). */
  readonly maxBlockRange?: number;
  /** Milliseconds between polls (default 1,000). */
  readonly pollMs?: number;
  /** Events kept in the feed (default 200). */
  readonly feedSize?: number;
  /** Points kept per chart series before older ones are thinned (default 240). */
  readonly historyPoints?: number;
  readonly observer?: IndexerObserver;
  readonly log?: (line: string) => void;
}

/** Version 2: jobs (version 1 files are ignored and the chain indexed again). */
const STATE_VERSION = 2;
const ZERO = "0x0000000000000000000000000000000000000000";
const DECIMALS = 18;
const UNIT = 10n ** BigInt(DECIMALS);
const EPOCHS_KEPT = 500;
/** Finished jobs (done or refunded) kept in the state; older finished ones are dropped. */
const JOBS_KEPT = 1000;
/** Jobs in a snapshot (newest first). */
export const JOBS_SHOWN = 100;
const MAX_CHUNKS_PER_POLL = 20;

interface PersistedState {
  version: number;
  chainId: string;
  mining: string;
  fromBlock: number;
  cursor: { block: number; hash: string };
  checkpoint: DerivedState;
  tail: ChainEvent[];
}

export function emptyState(): DerivedState {
  return {
    events: 0,
    supply: "0",
    burnedBonds: "0",
    commitments: { total: 0, proven: 0, slashed: 0 },
    pending: {},
    proofs: { accepted: 0, tilesChecked: "0" },
    macs: {},
    epochs: {},
    accounts: {},
    feed: [],
    supplyHistory: [],
    balanceHistory: {},
    jobs: {},
    assignmentJobs: {},
    jobTotals: {
      posted: 0,
      feesPosted: "0",
      feesPaid: "0",
      feesRefunded: "0",
      rewards: "0",
      macs: "0",
      tilesChecked: "0",
      slots: { committed: 0, proven: 0, slashed: 0 },
      bounties: "0",
      burned: "0",
      pruned: { done: 0, refunded: 0 },
    },
  };
}

/** Whole tokens as a float, for charts. */
export function toTokens(amount: bigint): number {
  return Number(amount / UNIT) + Number(amount % UNIT) / Number(UNIT);
}

const add = (a: string, b: string | bigint): string => (BigInt(a) + BigInt(b)).toString();

/** The `macs` entry (verified MACs by op) of accepted job proofs: linear layers in input-root mode. */
export const JOB_MACS_KEY = "linear (jobs)";

/** Changes made while applying events, for a delta. */
interface Touch {
  accounts: Set<string>;
  jobs: Set<string>;
  epochs: Set<string>;
  feed: FeedEntry[];
  supplyPoints: Point[];
  balancePoints: Map<string, Point[]>;
}

function newTouch(): Touch {
  return {
    accounts: new Set(),
    jobs: new Set(),
    epochs: new Set(),
    feed: [],
    supplyPoints: [],
    balancePoints: new Map(),
  };
}

interface Limits {
  readonly feedSize: number;
  readonly historyPoints: number;
  /** Per layer of the deployment, its op and work per tile (splits verified MACs by op). */
  readonly layers?: readonly { readonly op: string; readonly macsPerTile: bigint }[];
}

/** The op of a deployed layer: the mining circuit with its grid, else "layer i". */
function layerOp(layer: ChainInfo["layers"][number], index: number): string {
  const circuit = Object.values(MINING_CIRCUITS).find(
    (c: MiningCircuit) =>
      c.macsPerTile === layer.macsPerTile &&
      c.tilesPerProof === layer.tilesPerProof &&
      c.tiling.maxRowBlocksLog2 === layer.maxRowBlocksLog2 &&
      c.tiling.maxColBlocksLog2 === layer.maxColBlocksLog2,
  );
  return circuit?.op ?? `layer ${index}`;
}

/** Appends a point (or replaces the last one of the same block); thins the older half when the series is full. */
function pushPoint(series: Point[], point: Point, max: number): void {
  const last = series[series.length - 1];
  if (last && last[0] === point[0]) series[series.length - 1] = point;
  else series.push(point);
  if (series.length > max) {
    const half = Math.floor(series.length / 2);
    const thinned = series.slice(0, half).filter((_, i) => i % 2 === 0);
    series.splice(0, half, ...thinned);
  }
}

function account(state: DerivedState, address: string): AccountRow {
  let row = state.accounts[address];
  if (!row) {
    row = {
      address,
      balance: "0",
      earned: "0",
      miner: false,
      commitments: 0,
      proven: 0,
      slashed: 0,
      macs: "0",
      jobSlots: 0,
      jobsProven: 0,
      jobsSlashed: 0,
      jobFees: "0",
    };
    state.accounts[address] = row;
  }
  return row;
}

/** Applies one event (events must come in chain order). */
export function applyEvent(state: DerivedState, event: ChainEvent, limits: Limits, touch?: Touch): void {
  const a = event.args;
  state.events++;
  const touchAccount = (address: string) => touch?.accounts.add(address);
  const touchJob = (id: string) => touch?.jobs.add(id);
  const slotOf = (assignmentId: string) => {
    const job = state.jobs[state.assignmentJobs[assignmentId] ?? ""];
    const slot = job?.slots.find((x) => x.assignmentId === assignmentId);
    return job && slot ? { job, slot } : undefined;
  };
  const epochRow = (epoch: number) => state.epochs[String(epoch)];
  let inFeed = true;
  switch (event.name) {
    case "EpochOpened": {
      state.epochs[a.epoch!] = {
        epoch: Number(a.epoch),
        seed: a.seed!,
        block: event.block,
        time: event.time,
        commitments: 0,
        proven: 0,
        slashed: 0,
        macs: "0",
      };
      const keys = Object.keys(state.epochs);
      if (keys.length > EPOCHS_KEPT) {
        const oldest = keys.map(Number).sort((x, y) => x - y);
        for (const epoch of oldest.slice(0, keys.length - EPOCHS_KEPT)) delete state.epochs[String(epoch)];
      }
      touch?.epochs.add(a.epoch!);
      break;
    }
    case "Committed": {
      const epoch = Number(a.epoch);
      state.commitments.total++;
      state.pending[a.id!] = { miner: a.miner!, block: event.block, epoch, shapes: a.shapes! };
      const row = account(state, a.miner!);
      row.miner = true;
      row.commitments++;
      touchAccount(a.miner!);
      const e = epochRow(epoch);
      if (e) {
        e.commitments++;
        touch?.epochs.add(String(epoch));
      }
      break;
    }
    case "ProofAccepted": {
      const pending = state.pending[a.id!];
      delete state.pending[a.id!];
      state.commitments.proven++;
      state.proofs.accepted++;
      state.proofs.tilesChecked = add(state.proofs.tilesChecked, a.tilesChecked!);
      const shapes = pending?.shapes.split(",").map(Number) ?? [];
      const layers = limits.layers ?? [];
      if (layers.length > 0 && shapes.length === layers.length) {
        shapes.forEach((shape, i) => {
          const { op, macsPerTile } = layers[i]!;
          const macs = macsPerTile << BigInt((shape & 0xff) + (shape >> 8));
          state.macs[op] = add(state.macs[op] ?? "0", String(macs));
        });
      } else state.macs.all = add(state.macs.all ?? "0", a.macs!);
      const row = account(state, a.miner!);
      row.proven++;
      row.macs = add(row.macs, a.macs!);
      touchAccount(a.miner!);
      const e = pending && epochRow(pending.epoch);
      if (e) {
        e.proven++;
        e.macs = add(e.macs, a.macs!);
        touch?.epochs.add(String(e.epoch));
      }
      break;
    }
    case "RewardMinted": {
      const row = account(state, a.miner!);
      row.earned = add(row.earned, a.amount!);
      row.lastEarn = { block: event.block, time: event.time, amount: a.amount!, id: a.id! };
      touchAccount(a.miner!);
      break;
    }
    case "BondReturned":
      break;
    case "Slashed": {
      const pending = state.pending[a.id!];
      delete state.pending[a.id!];
      state.commitments.slashed++;
      state.burnedBonds = add(state.burnedBonds, a.burned!);
      const row = account(state, a.miner!);
      row.slashed++;
      touchAccount(a.miner!);
      const e = pending && epochRow(pending.epoch);
      if (e) {
        e.slashed++;
        touch?.epochs.add(String(e.epoch));
      }
      break;
    }
    case "JobPosted": {
      const t = state.jobTotals;
      t.posted++;
      t.feesPosted = add(t.feesPosted, a.fee!);
      state.jobs[a.jobId!] = {
        id: a.jobId!,
        requester: a.requester!,
        kind: Number(a.kind),
        shape: Number(a.shape),
        redundancy: Number(a.redundancy),
        deadline: Number(a.deadline),
        fee: a.fee!,
        modelHash: a.modelHash!,
        inputUri: a.inputUri!,
        block: event.block,
        time: event.time,
        tx: event.tx,
        slots: [],
        feesPaid: "0",
        refunded: "0",
        rewards: "0",
      };
      touchJob(a.jobId!);
      pruneJobs(state);
      break;
    }
    case "JobCommitted": {
      state.jobTotals.slots.committed++;
      const job = state.jobs[a.jobId!];
      if (job) {
        job.slots.push({
          assignmentId: a.assignmentId!,
          miner: a.miner!,
          outputRoot: a.outputRoot!,
          bond: a.bond!,
          block: event.block,
          status: "committed",
          fee: "0",
          reward: "0",
        });
        state.assignmentJobs[a.assignmentId!] = job.id;
        touchJob(job.id);
      }
      const row = account(state, a.miner!);
      row.miner = true;
      row.jobSlots++;
      touchAccount(a.miner!);
      break;
    }
    case "JobProofAccepted": {
      const t = state.jobTotals;
      t.slots.proven++;
      t.macs = add(t.macs, a.macs!);
      t.tilesChecked = add(t.tilesChecked, a.tilesChecked!);
      state.macs[JOB_MACS_KEY] = add(state.macs[JOB_MACS_KEY] ?? "0", a.macs!);
      const s = slotOf(a.assignmentId!);
      if (s) {
        s.slot.status = "proven";
        s.slot.macs = a.macs!;
        touchJob(s.job.id);
      }
      account(state, a.miner!).jobsProven++;
      touchAccount(a.miner!);
      break;
    }
    case "JobFeePaid": {
      const t = state.jobTotals;
      t.feesPaid = add(t.feesPaid, a.amount!);
      const job = state.jobs[a.jobId!];
      if (job) {
        job.feesPaid = add(job.feesPaid, a.amount!);
        const slot = job.slots.find((x) => x.miner === a.miner);
        if (slot) slot.fee = add(slot.fee, a.amount!);
        touchJob(job.id);
      }
      const row = account(state, a.miner!);
      row.jobFees = add(row.jobFees, a.amount!);
      touchAccount(a.miner!);
      break;
    }
    case "JobRewardMinted": {
      state.jobTotals.rewards = add(state.jobTotals.rewards, a.amount!);
      const s = slotOf(a.assignmentId!);
      if (s) {
        s.slot.reward = add(s.slot.reward, a.amount!);
        s.job.rewards = add(s.job.rewards, a.amount!);
        touchJob(s.job.id);
      }
      const row = account(state, a.miner!);
      row.earned = add(row.earned, a.amount!);
      row.lastEarn = {
        block: event.block,
        time: event.time,
        amount: a.amount!,
        id: a.assignmentId!,
        ...(s ? { job: s.job.id } : {}),
      };
      touchAccount(a.miner!);
      break;
    }
    case "JobBondReturned":
      break;
    case "JobSlashed": {
      const t = state.jobTotals;
      t.slots.slashed++;
      t.bounties = add(t.bounties, a.bounty!);
      t.burned = add(t.burned, a.burned!);
      // DemleMining adds burned job bonds to burnedBonds, like seed-work bonds.
      state.burnedBonds = add(state.burnedBonds, a.burned!);
      const s = slotOf(a.assignmentId!);
      if (s) {
        Object.assign(s.slot, { status: "slashed", slasher: a.slasher!, bounty: a.bounty!, burned: a.burned! });
        touchJob(s.job.id);
      }
      account(state, a.miner!).jobsSlashed++;
      touchAccount(a.miner!);
      break;
    }
    case "JobRefunded": {
      state.jobTotals.feesRefunded = add(state.jobTotals.feesRefunded, a.amount!);
      const job = state.jobs[a.jobId!];
      if (job) {
        job.refunded = add(job.refunded, a.amount!);
        job.refundedAt = event.block;
        touchJob(job.id);
      }
      break;
    }
    case "Transfer": {
      const value = BigInt(a.value!);
      const point = (series: Point[], amount: string): Point => {
        const p: Point = [event.block, toTokens(BigInt(amount))];
        pushPoint(series, p, limits.historyPoints);
        return p;
      };
      if (a.from === ZERO) {
        state.supply = add(state.supply, value);
        const p = point(state.supplyHistory, state.supply);
        touch?.supplyPoints.push(p);
        inFeed = false; // a mint: RewardMinted already says it
      }
      if (a.to === ZERO) {
        state.supply = add(state.supply, -value);
        const p = point(state.supplyHistory, state.supply);
        touch?.supplyPoints.push(p);
      }
      for (const [address, sign] of [
        [a.from!, -1n],
        [a.to!, 1n],
      ] as const) {
        if (address === ZERO) continue;
        const row = account(state, address);
        row.balance = add(row.balance, sign * value);
        const p = point((state.balanceHistory[address] ??= []), row.balance);
        if (touch) {
          const list = touch.balancePoints.get(address) ?? [];
          list.push(p);
          touch.balancePoints.set(address, list);
        }
        touchAccount(address);
      }
      break;
    }
    default:
      inFeed = false;
  }
  if (inFeed) {
    const entry: FeedEntry = { ...event, key: `${event.blockHash}:${event.logIndex}` };
    state.feed.push(entry);
    if (state.feed.length > limits.feedSize) state.feed.splice(0, state.feed.length - limits.feedSize);
    touch?.feed.push(entry);
  }
}

/** Whether no event can change the job any more (refunded, or every slot proven). */
function jobFinished(job: JobRow): "done" | "refunded" | undefined {
  if (job.refundedAt !== undefined) return "refunded";
  return job.slots.filter((s) => s.status === "proven").length === job.redundancy ? "done" : undefined;
}

/** Drops the oldest finished jobs beyond JOBS_KEPT (their events are over; the totals keep them). */
function pruneJobs(state: DerivedState): void {
  const ids = Object.keys(state.jobs);
  if (ids.length <= JOBS_KEPT) return;
  const finished = ids
    .map((id) => ({ id, final: jobFinished(state.jobs[id]!) }))
    .filter((x) => x.final !== undefined)
    .sort((x, y) => Number(BigInt(x.id) - BigInt(y.id)));
  for (const { id, final } of finished.slice(0, ids.length - JOBS_KEPT)) {
    for (const slot of state.jobs[id]!.slots) delete state.assignmentJobs[slot.assignmentId];
    delete state.jobs[id];
    state.jobTotals.pruned[final!]++;
  }
}

/** A job's status at head block `head` (D + W: the challenge delay plus the proof window). */
export function jobStatus(job: JobRow, head: number, delayAndWindow: number): JobStatus {
  const final = jobFinished(job);
  if (final) return final;
  if (head > job.deadline) return "expired";
  if (job.slots.length >= job.redundancy) return "full";
  return head + delayAndWindow <= job.deadline ? "open" : "closed";
}

/** A job with its size (from its kind) and its status. */
export function jobView(job: JobRow, kinds: readonly JobKindInfo[], head: number, delayAndWindow: number): JobView {
  const kind = kinds[job.kind];
  const dr = BigInt(job.shape & 0xff);
  const dc = BigInt(job.shape >> 8);
  const count = (status: JobSlot["status"]) => job.slots.filter((s) => s.status === status).length;
  return {
    ...job,
    m: kind ? String(BigInt(kind.tileRows) << dr) : null,
    n: kind ? String(BigInt(kind.tileCols) << dc) : null,
    k: kind ? kind.depth : null,
    committed: job.slots.length,
    proven: count("proven"),
    slashed: count("slashed"),
    status: jobStatus(job, head, delayAndWindow),
  };
}

function compareEvents(x: ChainEvent, y: ChainEvent): number {
  return x.block - y.block || x.logIndex - y.logIndex;
}

function sameEvents(a: readonly ChainEvent[], b: readonly ChainEvent[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((e, i) => e.blockHash === b[i]!.blockHash && e.logIndex === b[i]!.logIndex);
}

function newestJobFirst(x: JobRow, y: JobRow): number {
  const d = BigInt(y.id) - BigInt(x.id);
  return d > 0n ? 1 : d < 0n ? -1 : 0;
}

function byBalance(x: AccountRow, y: AccountRow): number {
  const d = BigInt(y.balance) - BigInt(x.balance);
  return d > 0n ? 1 : d < 0n ? -1 : x.address.localeCompare(y.address);
}

function errorText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0]!.slice(0, 300);
}

/** DemleMining's events the indexer reads (the job market's are skipped when the ABI has none). */
const MINING_EVENTS = [
  "EpochOpened",
  "Committed",
  "ProofAccepted",
  "RewardMinted",
  "BondReturned",
  "Slashed",
  "JobPosted",
  "JobCommitted",
  "JobProofAccepted",
  "JobFeePaid",
  "JobRewardMinted",
  "JobBondReturned",
  "JobSlashed",
  "JobRefunded",
] as const;

export class Indexer implements DashboardSource {
  private providerValue?: Provider;
  private readonly miningIface: Interface;
  private readonly tokenIface: Interface;
  private readonly reorgDepth: number;
  private readonly pollMs: number;
  private limits: Limits;
  private maxBlockRange: number;
  private info?: ChainInfo;
  private checkpoint = emptyState();
  private live = emptyState();
  private tail: ChainEvent[] = [];
  private cursor?: { block: number; hash: string };
  private head?: Head;
  private statusValue: SourceStatus = { connected: false, since: Date.now(), error: "starting" };
  private version = 0;
  private readonly listeners = new Set<(update: DashboardUpdate) => void>();
  private readonly blockTimes = new Map<string, number>();
  private loop?: Promise<void>;
  private readonly stopping = new AbortController();
  private lastPersist = 0;
  private dirty = false;
  /** Status of each job as last published (a job whose status changes with the head goes into the next delta). */
  private shownStatus = new Map<string, JobStatus>();

  constructor(private readonly options: IndexerOptions) {
    if (typeof options.provider !== "function") this.providerValue = options.provider;
    this.miningIface = new Interface(options.abis.mining);
    this.tokenIface = new Interface(options.abis.token);
    this.reorgDepth = Math.max(1, options.reorgDepth ?? 12);
    this.pollMs = options.pollMs ?? 1000;
    this.maxBlockRange = Math.max(1, options.maxBlockRange ?? 2000);
    this.limits = { feedSize: options.feedSize ?? 200, historyPoints: options.historyPoints ?? 240 };
  }

  private get provider(): Provider {
    if (!this.providerValue) throw new Error("not connected");
    return this.providerValue;
  }

  get status(): Readonly<SourceStatus> {
    return this.statusValue;
  }

  /** The last block indexed (all its events applied). */
  get indexedBlock(): number | undefined {
    return this.cursor?.block;
  }

  subscribe(listener: (update: DashboardUpdate) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(update: DashboardUpdate): void {
    for (const listener of this.listeners) {
      try {
        listener(update);
      } catch (error) {
        this.options.log?.(`dashboard listener failed: ${errorText(error)}`);
      }
    }
  }

  /** Starts polling; the first poll runs at once. Errors never stop the loop: they mark the source disconnected. */
  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
    this.persist(true);
  }

  private async run(): Promise<void> {
    while (!this.stopping.signal.aborted) {
      let more = false;
      const started = performance.now();
      try {
        more = await this.pollOnce();
        this.options.observer?.poll?.((performance.now() - started) / 1000, true);
        this.setStatus(true);
      } catch (error) {
        this.options.observer?.poll?.((performance.now() - started) / 1000, false);
        if (this.stopping.signal.aborted) break;
        this.setStatus(false, errorText(error));
      }
      if (more) continue; // catching up: no pause between ranges
      await sleep(this.pollMs, undefined, { signal: this.stopping.signal }).catch(() => {});
    }
  }

  private setStatus(connected: boolean, error?: string): void {
    const was = this.statusValue;
    const now = Date.now();
    if (connected) {
      this.statusValue = { connected, since: was.connected ? was.since : now, lastOk: now };
      if (!was.connected) {
        this.options.log?.("dashboard: connected to the chain");
        this.emit({ type: "status", status: this.statusValue });
      }
    } else {
      this.statusValue = {
        connected,
        since: was.connected ? now : was.since,
        error: error ?? "disconnected",
        ...(was.lastOk !== undefined ? { lastOk: was.lastOk } : {}),
      };
      if (was.connected || was.error !== error) {
        if (was.connected) this.options.log?.(`dashboard: disconnected from the chain: ${error}`);
        this.emit({ type: "status", status: this.statusValue });
      }
    }
  }

  /** Reads the deployment (token, cap, parameters) and restores the persisted state if it belongs to this chain. */
  private async init(): Promise<void> {
    const source = this.options.provider;
    this.providerValue ??= typeof source === "function" ? await source() : source;
    const provider = this.provider;
    const network = await provider.getNetwork();
    const mining = new Contract(this.options.mining, this.miningIface, provider);
    if ((await provider.getCode(this.options.mining)) === "0x") {
      throw new Error(`no contract at ${this.options.mining} on chain ${network.chainId}`);
    }
    const tokenAddress = (await mining.getFunction("token")()) as string;
    const token = new Contract(tokenAddress, this.tokenIface, provider);
    const [cap, p, layerCount] = await Promise.all([
      token.getFunction("cap")() as Promise<bigint>,
      mining.getFunction("params")() as Promise<Record<string, bigint>>,
      mining.getFunction("layerCount")() as Promise<bigint>,
    ]);
    const layers: ChainInfo["layers"] = [];
    for (let i = 0; i < Number(layerCount); i++) {
      const layer = (await mining.getFunction("layer")(i)) as Record<string, bigint | string>;
      layers.push({
        verifier: String(layer.verifier),
        macsPerTile: Number(layer.macsPerTile),
        tilesPerProof: Number(layer.tilesPerProof),
        maxRowBlocksLog2: Number(layer.maxRowBlocksLog2),
        maxColBlocksLog2: Number(layer.maxColBlocksLog2),
      });
    }
    const jobKinds = await this.readJobKinds(mining);
    const info: ChainInfo = {
      chainId: network.chainId.toString(),
      mining: await mining.getAddress(),
      token: tokenAddress,
      fromBlock: this.options.fromBlock ?? 0,
      cap: cap.toString(),
      symbol: "DEMLE",
      decimals: DECIMALS,
      reorgDepth: this.reorgDepth,
      pollMs: this.pollMs,
      layers,
      jobKinds,
      params: {
        proofsPerCommitment: Number(p.proofsPerCommitment),
        epochLength: Number(p.epochLength),
        challengeDelay: Number(p.challengeDelay),
        proofWindow: Number(p.proofWindow),
      },
    };
    this.limits = {
      ...this.limits,
      layers: layers.map((layer, i) => ({ op: layerOp(layer, i), macsPerTile: BigInt(layer.macsPerTile) })),
    };
    await this.restore(info);
    this.info = info;
    this.publishSnapshot();
  }

  /** The deployment's job kinds, each read once (none when the ABI or the contract has no job market). */
  private async readJobKinds(mining: Contract): Promise<JobKindInfo[]> {
    if (!this.miningIface.getFunction("jobKindCount")) return [];
    let count: bigint;
    try {
      count = (await mining.getFunction("jobKindCount")()) as bigint;
    } catch (error) {
      if (isError(error, "CALL_EXCEPTION") || isError(error, "BAD_DATA")) return []; // a contract before jobs
      throw error;
    }
    const market = new JobMarket(mining);
    const kinds: JobKindInfo[] = [];
    for (let i = 0; i < Number(count); i++) {
      const { verifier, macsPerTile, tilesPerProof, proofsPerJob, tiling } = await market.jobKind(i);
      kinds.push({ verifier, macsPerTile: Number(macsPerTile), tilesPerProof, proofsPerJob, ...tiling });
    }
    return kinds;
  }

  private async restore(info: ChainInfo): Promise<void> {
    const file = this.options.stateFile;
    if (!file || !existsSync(file)) return;
    let saved: PersistedState;
    try {
      saved = JSON.parse(readFileSync(file, "utf8")) as PersistedState;
    } catch (error) {
      this.options.log?.(`dashboard: ignoring unreadable state file ${file}: ${errorText(error)}`);
      return;
    }
    const mismatch =
      saved.version !== STATE_VERSION
        ? "another format version"
        : saved.chainId !== info.chainId
          ? "another chain"
          : saved.mining.toLowerCase() !== info.mining.toLowerCase()
            ? "another contract"
            : saved.fromBlock !== info.fromBlock
              ? "another start block"
              : undefined;
    if (mismatch) {
      this.options.log?.(`dashboard: state file ${file} belongs to ${mismatch}; indexing from block ${info.fromBlock}`);
      return;
    }
    const block = await this.provider.getBlock(saved.cursor.block);
    if (!block || block.hash !== saved.cursor.hash) {
      this.options.log?.(
        `dashboard: block ${saved.cursor.block} of ${file} is not on this chain any more (a restarted chain, or a reorg ` +
          `deeper than ${this.reorgDepth} blocks); indexing again from block ${info.fromBlock}`,
      );
      return;
    }
    this.cursor = saved.cursor;
    this.checkpoint = saved.checkpoint;
    this.tail = saved.tail;
    this.live = structuredClone(saved.checkpoint);
    for (const event of this.tail) applyEvent(this.live, event, this.limits);
    this.options.log?.(`dashboard: resumed from ${file} at block ${saved.cursor.block}`);
  }

  private persist(force = false): void {
    const file = this.options.stateFile;
    if (!file || !this.info || !this.cursor) return;
    const now = Date.now();
    if (!force && !this.dirty && now - this.lastPersist < 10_000) return;
    const state: PersistedState = {
      version: STATE_VERSION,
      chainId: this.info.chainId,
      mining: this.info.mining,
      fromBlock: this.info.fromBlock,
      cursor: this.cursor,
      checkpoint: this.checkpoint,
      tail: this.tail,
    };
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileAtomic(file, JSON.stringify(state));
    this.lastPersist = now;
    this.dirty = false;
  }

  private async headAt(block: number | "latest"): Promise<Head> {
    const b = await this.provider.getBlock(block);
    if (!b?.hash) throw new Error(`block ${block} not found`);
    this.rememberTime(b.hash, b.timestamp);
    return { block: b.number, hash: b.hash, time: b.timestamp };
  }

  private rememberTime(hash: string, time: number): void {
    this.blockTimes.set(hash, time);
    if (this.blockTimes.size > 4096) this.blockTimes.delete(this.blockTimes.keys().next().value!);
  }

  /** eth_getLogs over [from, to] in ranges of at most maxBlockRange blocks (halved when a node refuses a range). */
  private async getLogs(from: number, to: number): Promise<Log[]> {
    const info = this.info!;
    const topics = [
      [
        ...MINING_EVENTS.map((name) => this.miningIface.getEvent(name)?.topicHash).filter(
          (topic): topic is string => topic !== undefined,
        ),
        this.tokenIface.getEvent("Transfer")!.topicHash,
      ],
    ];
    const logs: Log[] = [];
    for (let start = from; start <= to;) {
      const end = Math.min(to, start + this.maxBlockRange - 1);
      try {
        logs.push(
          ...(await this.provider.getLogs({
            address: [info.mining, info.token],
            topics,
            fromBlock: start,
            toBlock: end,
          })),
        );
        start = end + 1;
      } catch (error) {
        if (this.maxBlockRange > 1 && /range|limit|too many|exceed|size/i.test(errorText(error))) {
          this.maxBlockRange = Math.max(1, Math.floor(this.maxBlockRange / 2));
          this.options.log?.(`dashboard: the node refused a log range; now ${this.maxBlockRange} blocks per call`);
          continue;
        }
        throw error;
      }
    }
    return logs;
  }

  private async decode(logs: readonly Log[]): Promise<ChainEvent[]> {
    const info = this.info!;
    const missing = [...new Set(logs.map((log) => log.blockHash))].filter((hash) => !this.blockTimes.has(hash));
    for (let i = 0; i < missing.length; i += 8) {
      await Promise.all(
        missing.slice(i, i + 8).map(async (hash) => {
          const block = await this.provider.getBlock(hash);
          if (!block) throw new Error(`block ${hash} vanished while indexing (reorg); scanning again`);
          this.rememberTime(hash, block.timestamp);
        }),
      );
    }
    const events: ChainEvent[] = [];
    for (const log of logs) {
      if (log.removed) continue;
      const isMining = log.address.toLowerCase() === info.mining.toLowerCase();
      const parsed = (isMining ? this.miningIface : this.tokenIface).parseLog({
        topics: [...log.topics],
        data: log.data,
      });
      if (!parsed) continue;
      const args: Record<string, string> = {};
      parsed.fragment.inputs.forEach((input, i) => {
        args[input.name] = String(parsed.args[i]);
      });
      events.push({
        block: log.blockNumber,
        blockHash: log.blockHash,
        logIndex: log.index,
        tx: log.transactionHash,
        time: this.blockTimes.get(log.blockHash)!,
        name: parsed.name,
        args,
      });
    }
    return events.sort(compareEvents);
  }

  /**
   * One poll: scans from the cursor (or `reorgDepth` blocks back, whichever is earlier) to the head. Returns true
   * when it stopped short of the head (catching up), so the loop polls again at once.
   */
  async pollOnce(): Promise<boolean> {
    if (!this.info) await this.init();
    const info = this.info!;
    const latest = await this.headAt("latest");
    const start = info.fromBlock;
    if (latest.block < start) {
      this.head = latest;
      return false;
    }
    const cursorBlock = this.cursor?.block ?? start - 1;
    const from = Math.max(start, Math.min(cursorBlock + 1, latest.block - this.reorgDepth + 1));
    const to = Math.min(latest.block, from + this.maxBlockRange * MAX_CHUNKS_PER_POLL - 1);
    const target = to === latest.block ? latest : await this.headAt(to);
    const fresh = await this.decode(await this.getLogs(from, to));

    const rescanned = this.tail.filter((e) => e.block >= from);
    const reorg = !sameEvents(
      rescanned,
      fresh.filter((e) => e.block <= cursorBlock),
    );
    const added = fresh.filter((e) => e.block > cursorBlock);
    const finalBlock = latest.block - this.reorgDepth;
    const tail = [...this.tail.filter((e) => e.block < from), ...fresh];
    for (const event of tail) if (event.block <= finalBlock) applyEvent(this.checkpoint, event, this.limits);
    this.tail = tail.filter((e) => e.block > finalBlock);
    if (tail.length !== this.tail.length || added.length > 0 || reorg) this.dirty = true;

    const headChanged = this.head?.hash !== target.hash;
    this.head = target;
    this.cursor = { block: target.block, hash: target.hash };
    if (reorg) {
      this.options.log?.(`dashboard: reorg below block ${cursorBlock + 1}: events of replaced blocks dropped`);
      this.options.observer?.reorg?.();
      this.live = structuredClone(this.checkpoint);
      for (const event of this.tail) applyEvent(this.live, event, this.limits);
      this.publishSnapshot();
    } else if (added.length > 0 || headChanged) {
      const touch = newTouch();
      for (const event of added) applyEvent(this.live, event, this.limits, touch);
      this.publishDelta(touch);
    }
    const counts = new Map<string, number>();
    for (const event of added) counts.set(event.name, (counts.get(event.name) ?? 0) + 1);
    for (const [name, count] of counts) this.options.observer?.events?.(name, count);
    this.persist();
    return to < latest.block;
  }

  private commitmentCounts(): CommitmentCounts {
    const s = this.live.commitments;
    const info = this.info;
    const head = this.head?.block ?? 0;
    let expired = 0;
    const pending = Object.values(this.live.pending);
    if (info) {
      const last = info.params.challengeDelay + info.params.proofWindow;
      expired = pending.filter((p) => head > p.block + last).length;
    }
    return { total: s.total, pending: pending.length - expired, proven: s.proven, expired, slashed: s.slashed };
  }

  private jobView(job: JobRow): JobView {
    const p = this.info?.params;
    return jobView(job, this.info?.jobKinds ?? [], this.head?.block ?? 0, p ? p.challengeDelay + p.proofWindow : 0);
  }

  /** Every kept job as shown now, and the job totals with the fees still escrowed and the jobs by status. */
  private jobFigures(): { views: JobView[]; summary: JobSummary } {
    const t = this.live.jobTotals;
    const views = Object.values(this.live.jobs).map((job) => this.jobView(job));
    const byStatus = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>;
    for (const view of views) byStatus[view.status]++;
    byStatus.done += t.pruned.done;
    byStatus.refunded += t.pruned.refunded;
    const feesEscrowed = BigInt(t.feesPosted) - BigInt(t.feesPaid) - BigInt(t.feesRefunded);
    return { views, summary: { ...structuredClone(t), feesEscrowed: feesEscrowed.toString(), byStatus } };
  }

  /** Job totals (for metrics). */
  jobSummary(): JobSummary {
    return this.jobFigures().summary;
  }

  private tokenFigures(): Snapshot["token"] {
    return { supply: this.live.supply, cap: this.info?.cap ?? "0", burnedBonds: this.live.burnedBonds };
  }

  snapshot(): Snapshot {
    const s = this.live;
    const jobs = this.jobFigures();
    return {
      version: this.version,
      ...(this.info ? { chain: this.info } : {}),
      ...(this.head ? { head: this.head } : {}),
      status: this.statusValue,
      token: this.tokenFigures(),
      commitments: this.commitmentCounts(),
      proofs: s.proofs,
      macs: s.macs,
      epochs: Object.values(s.epochs)
        .sort((x, y) => y.epoch - x.epoch)
        .slice(0, 50),
      accounts: Object.values(s.accounts).sort(byBalance),
      feed: [...s.feed].reverse(),
      series: { supply: s.supplyHistory, balances: s.balanceHistory },
      jobs: jobs.views.sort(newestJobFirst).slice(0, JOBS_SHOWN),
      jobTotals: jobs.summary,
    };
  }

  private publishSnapshot(): void {
    this.version++;
    const snapshot = this.snapshot();
    this.shownStatus = new Map(this.jobFigures().views.map((v) => [v.id, v.status]));
    this.emit({ type: "snapshot", snapshot });
  }

  private publishDelta(touch: Touch): void {
    const prev = this.version++;
    const s = this.live;
    const jobs = this.jobFigures();
    const changed = jobs.views.filter((v) => touch.jobs.has(v.id) || this.shownStatus.get(v.id) !== v.status);
    this.shownStatus = new Map(jobs.views.map((v) => [v.id, v.status]));
    this.emit({
      type: "delta",
      delta: {
        prev,
        version: this.version,
        head: this.head!,
        token: this.tokenFigures(),
        commitments: this.commitmentCounts(),
        proofs: s.proofs,
        macs: s.macs,
        epochs: [...touch.epochs].map((e) => s.epochs[e]).filter((e): e is EpochRow => e !== undefined),
        accounts: [...touch.accounts].map((a) => s.accounts[a]!),
        feed: touch.feed,
        series: { supply: touch.supplyPoints, balances: Object.fromEntries(touch.balancePoints) },
        jobs: changed.sort(newestJobFirst),
        jobTotals: jobs.summary,
      },
    });
  }
}
