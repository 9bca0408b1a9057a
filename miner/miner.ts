/**
 * The DEMLE miner: per commitment it reads its seed from the contract, computes every layer of the deployment's FP8
 * workload (GEMM, conv2d, …) with ONNX Runtime, commits each layer's Poseidon output root with a bond, waits for the
 * challenge, proves the challenged tiles (proof j on layer j mod L) with the prover pool and submits the proofs.
 *
 * Crash safety: every step's result is written to the state file (atomically, fsynced) before the next step starts,
 * and the outputs of computed work are kept on disk. A restarted miner resumes each unfinished commitment where it
 * stopped: it never recomputes finished work, and it asks the chain (nonce counter, commitment status, pending
 * transactions) before any transaction it may already have sent, so nothing is submitted twice.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Contract, formatEther, formatUnits, isError, type Signer, type TransactionReceipt } from "ethers";
import { writeFileAtomic } from "../common/files.js";
import { encodeShape, type OutputTree, type WorkShape } from "../common/work.js";
import { proofToCalldata } from "../prover/calldata.js";
import type { ProverPool } from "../prover/pool.js";
import type { ProverCircuit } from "../prover/setup.js";
import type { WorkloadLayer } from "./circuits.js";
import type { GemmExecutionProvider } from "./gemm.js";
import { opBackend, type OpBackend } from "./ops/backend.js";
import { retryUntilReachable } from "./retry.js";
import { contractSender, sendTransaction, waitForPendingTransactions, type TxResponse } from "./transactions.js";

/** Contract status codes (IDemleMining.Status). */
const STATUS = { Proven: 2n, Slashed: 3n } as const;

export type JobStage = "computed" | "commit-sent" | "committed" | "proofs-ready" | "prove-sent" | "settled" | "lost";

/** One commitment's progress, as persisted. Big numbers are decimal strings. */
export interface Job {
  epoch: number;
  nonce: number;
  seed: string;
  /** Per layer, the work's shape. */
  shapes: WorkShape[];
  stage: JobStage;
  /** Per layer, the committed output root. */
  outputRoots: string[];
  /** Per layer, its outputs (float32 bit patterns, little-endian), relative to the state directory. */
  outputsFiles: string[];
  bond: string;
  macs: string;
  commitTx?: string;
  id?: string;
  commitBlock?: number;
  proofs?: string[][];
  proveTx?: string;
  reward?: string;
  note?: string;
  timings: { computeMs?: number; commitMs?: number; waitMs?: number; proveMs?: number; submitMs?: number };
}

/** Version 2: jobs of multi-layer workloads (version 1 files, of single-GEMM deployments, are refused). */
const STATE_VERSION = 2;

interface MinerState {
  readonly version: typeof STATE_VERSION;
  readonly chainId: string;
  readonly contract: string;
  readonly miner: string;
  jobs: Job[];
}

export interface MinerStats {
  epoch: number;
  macsPerSecond: number;
  proofsOk: number;
  proofsFailed: number;
  commitmentsSettled: number;
  commitmentsLost: number;
  /** Epochs skipped because the prover could not have proved another commitment within the proof window. */
  commitmentsDeferred: number;
  earned: bigint;
  bondAtRisk: bigint;
}

export type MinerEvent =
  | { type: "log"; message: string }
  | { type: "job"; job: Readonly<Job> }
  | { type: "status"; stats: Readonly<MinerStats> };

export interface MinerOptions {
  /** The DemleMining contract's address. */
  readonly contract: string;
  /** The miner's key; wrap it in ethers' NonceManager so all its transactions share one nonce queue. */
  readonly signer: Signer;
  /** The deployment's workload, in layer order, each with its circuit's proving artifacts and the shape to commit. */
  readonly layers: readonly (WorkloadLayer & { readonly prover: ProverCircuit })[];
  readonly pool: ProverPool;
  readonly stateDir: string;
  readonly executionProvider?: GemmExecutionProvider;
  /**
   * Computes layer `layer`'s outputs for `seed`; default: the op's ONNX Runtime backend with `executionProvider`
   * (`honest`). Another backend (or, in tests, a deliberately wrong one) can be plugged in here.
   */
  readonly computeOutputs?: (layer: number, seed: bigint, honest: () => Promise<Uint32Array>) => Promise<Uint32Array>;
  /** Milliseconds between polls of the chain (default 500). */
  readonly pollMs?: number;
  /** How long to wait for a sent transaction's receipt before asking the chain and resending (default 60 s). */
  readonly receiptTimeoutMs?: number;
  readonly onEvent?: (event: MinerEvent) => void;
  /**
   * Useful-work jobs (miner/job-worker.ts): asked once per admitted epoch before seed work; when it worked on a job,
   * that epoch's seed work is skipped. Seed work is the fallback when no job is open.
   */
  readonly jobs?: { workOnce(signal?: AbortSignal): Promise<boolean> };
}

interface MiningContract {
  getAddress(): Promise<string>;
  currentEpoch(): Promise<bigint>;
  epochSeed(epoch: number): Promise<bigint>;
  nextNonce(miner: string, epoch: number): Promise<bigint>;
  seedFor(miner: string, epoch: number, nonce: number): Promise<bigint>;
  bondFor(shapes: bigint[]): Promise<bigint>;
  macsFor(shapes: bigint[]): Promise<bigint>;
  layerCount(): Promise<bigint>;
  layer(index: number): Promise<{
    macsPerTile: bigint;
    tilesPerProof: bigint;
    maxRowBlocksLog2: bigint;
    maxColBlocksLog2: bigint;
  }>;
  proofChallenge(id: bigint, j: number): Promise<bigint>;
  commitments(id: bigint): Promise<{ status: bigint; miner: string; commitBlock: bigint }>;
  params(): Promise<{ challengeDelay: bigint; proofWindow: bigint; proofsPerCommitment: bigint; epochLength: bigint }>;
  token(): Promise<string>;
  openEpoch(): Promise<TxResponse>;
  commit: {
    (
      epoch: number,
      nonce: number,
      roots: bigint[],
      shapes: bigint[],
      overrides: { value: bigint; gasLimit?: bigint },
    ): Promise<TxResponse>;
    estimateGas(
      epoch: number,
      nonce: number,
      roots: bigint[],
      shapes: bigint[],
      overrides: { value: bigint },
    ): Promise<bigint>;
  };
  prove(id: bigint, proofs: string[][]): Promise<TxResponse>;
  filters: { Committed(id?: null, miner?: string, epoch?: number): unknown };
  queryFilter(filter: unknown, from?: number): Promise<{ args: Record<string, unknown> & unknown[] }[]>;
  interface: Contract["interface"];
}

export class Miner {
  private state!: MinerState;
  private readonly statePath: string;
  private readonly backends: OpBackend[];
  private contract!: MiningContract;
  private address!: string;
  private params!: { challengeDelay: number; proofWindow: number; proofsPerCommitment: number; epochLength: number };
  private readonly blockClock = new BlockClock();
  /** Room held in the prover pool for the proofs of the job in flight, from admission until they are submitted. */
  private releaseReservation?: () => void;
  readonly stats: MinerStats = {
    epoch: 0,
    macsPerSecond: 0,
    proofsOk: 0,
    proofsFailed: 0,
    commitmentsSettled: 0,
    commitmentsLost: 0,
    commitmentsDeferred: 0,
    earned: 0n,
    bondAtRisk: 0n,
  };

  constructor(private readonly options: MinerOptions) {
    this.statePath = path.join(options.stateDir, "miner-state.json");
    if (options.layers.length === 0) throw new Error("the workload has no layers");
    this.backends = options.layers.map((layer) =>
      opBackend(layer, {
        ...(options.executionProvider ? { executionProvider: options.executionProvider } : {}),
        log: (message) => this.log(message),
      }),
    );
  }

  private log(message: string): void {
    this.options.onEvent?.({ type: "log", message });
  }

  /**
   * A JSON-RPC call retried for as long as the node is unreachable (backoff capped at 10 s): an outage shorter than
   * the proof window costs nothing, and after a longer one the job is found expired and reported as lost.
   */
  private rpc<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return retryUntilReachable(what, fn, (message) => this.log(message));
  }

  /** Connects, checks the chain against the state file, loads or creates the state. */
  async init(abi: Contract["interface"]["fragments"]): Promise<void> {
    const { signer } = this.options;
    this.contract = new Contract(this.options.contract, abi, signer) as unknown as MiningContract;
    this.address = await signer.getAddress();
    const provider = signer.provider;
    if (!provider) throw new Error("the signer has no provider");
    const chainId = (await this.rpc("getNetwork", () => provider.getNetwork())).chainId.toString();
    if ((await this.rpc("getCode", () => provider.getCode(this.options.contract))) === "0x") {
      throw new Error(`no contract at ${this.options.contract} on chain ${chainId}`);
    }
    await this.checkLayers(chainId);
    const p = await this.rpc("params", () => this.contract.params());
    this.params = {
      challengeDelay: Number(p.challengeDelay),
      proofWindow: Number(p.proofWindow),
      proofsPerCommitment: Number(p.proofsPerCommitment),
      epochLength: Number(p.epochLength),
    };
    mkdirSync(this.options.stateDir, { recursive: true });
    if (existsSync(this.statePath)) {
      const saved = JSON.parse(readFileSync(this.statePath, "utf8")) as MinerState;
      if (saved.version !== STATE_VERSION) {
        throw new Error(
          `state file ${this.statePath} has version ${String(saved.version)}, this miner writes ${STATE_VERSION}; ` +
            `use another --state-dir`,
        );
      }
      const mismatch =
        saved.chainId !== chainId
          ? "chain id"
          : saved.contract.toLowerCase() !== this.options.contract.toLowerCase()
            ? "contract"
            : saved.miner !== this.address
              ? "miner address"
              : undefined;
      if (mismatch) {
        throw new Error(`state file ${this.statePath} belongs to another ${mismatch}; use another --state-dir`);
      }
      this.state = saved;
      const open = saved.jobs.filter((job) => job.stage !== "settled" && job.stage !== "lost");
      if (open.length > 0) this.log(`resuming ${open.length} unfinished commitment(s) from ${this.statePath}`);
    } else {
      this.state = { version: STATE_VERSION, chainId, contract: this.options.contract, miner: this.address, jobs: [] };
      this.save();
    }
  }

  /** Refuses a deployment whose layers are not this miner's workload (every proof would fail). */
  private async checkLayers(chainId: string): Promise<void> {
    const count = Number(await this.rpc("layerCount", () => this.contract.layerCount()));
    const mine = this.options.layers;
    if (count !== mine.length) {
      throw new Error(
        `the contract at ${this.options.contract} on chain ${chainId} has ${count} layer(s); this miner's workload ` +
          `has ${mine.length} (${mine.map((l) => l.circuit.name).join(", ")})`,
      );
    }
    for (let i = 0; i < count; i++) {
      const onChain = await this.rpc("layer", () => this.contract.layer(i));
      const { circuit } = mine[i]!;
      const { maxRowBlocksLog2, maxColBlocksLog2 } = circuit.tiling;
      const expected = [circuit.macsPerTile, circuit.tilesPerProof, maxRowBlocksLog2, maxColBlocksLog2];
      const actual = [
        onChain.macsPerTile,
        onChain.tilesPerProof,
        onChain.maxRowBlocksLog2,
        onChain.maxColBlocksLog2,
      ].map(Number);
      if (expected.some((value, k) => value !== actual[k])) {
        throw new Error(
          `layer ${i} of the contract (macsPerTile, tilesPerProof, maxDr, maxDc = ${actual.join(", ")}) is not ` +
            `circuit ${circuit.name} (${expected.join(", ")}); mine with the deployment's workload`,
        );
      }
    }
  }

  private save(): void {
    writeFileAtomic(this.statePath, `${JSON.stringify(this.state, null, 2)}\n`);
  }

  private update(job: Job, changes: Partial<Job>): void {
    Object.assign(job, changes);
    this.save();
    this.options.onEvent?.({ type: "job", job });
    this.refreshBondAtRisk();
  }

  private refreshBondAtRisk(): void {
    this.stats.bondAtRisk = this.state.jobs
      .filter((job) => job.stage !== "settled" && job.stage !== "lost" && job.stage !== "computed")
      .reduce((sum, job) => sum + BigInt(job.bond), 0n);
  }

  /**
   * Mines until `commitments` commitments have finished in this run — proven, or lost (then it says why) — or forever
   * when undefined. A useful job worked on counts as one.
   */
  async run(commitments?: number, signal?: AbortSignal): Promise<void> {
    await this.waitForPendingTransactions();
    let finishedThisRun = 0;
    for (const job of this.state.jobs.filter((j) => j.stage !== "settled" && j.stage !== "lost")) {
      signal?.throwIfAborted();
      await this.advance(job, signal);
      finishedThisRun++;
    }
    let lastEpoch = -1;
    while (commitments === undefined || finishedThisRun < commitments) {
      signal?.throwIfAborted();
      const epoch = Number(await this.rpc("currentEpoch", () => this.contract.currentEpoch()));
      if (epoch === lastEpoch) {
        await sleep(this.options.pollMs ?? 500, undefined, { signal });
        continue;
      }
      lastEpoch = epoch;
      // A useful job, when one is open, takes this epoch's place; both are admitted alike.
      if (!(await this.admit())) continue;
      try {
        if (!(await this.options.jobs?.workOnce(signal))) {
          const job = await this.computeWork();
          await this.advance(job, signal);
        }
      } finally {
        this.releaseReservation?.();
      }
      finishedThisRun++;
    }
  }

  /**
   * Admission control: commit only work the prover can prove in time. The pool's backlog (queued, running and
   * reserved proofs, including other miners sharing it) plus this commitment's proofs must fit in half the proof
   * window at the block rate this miner has observed; otherwise it skips this epoch and says so. Before the pool has
   * timed a proof or the miner has seen blocks pass, it admits only when the pool is idle (that commitment calibrates
   * the estimate).
   */
  private async admit(): Promise<boolean> {
    const proofs = this.params.proofsPerCommitment;
    const provider = this.options.signer.provider!;
    this.blockClock.observe(await this.rpc("getBlockNumber", () => provider.getBlockNumber()));
    const { pool } = this.options;
    const backlogMs = pool.backlogMs(proofs);
    const msPerBlock = this.blockClock.msPerBlock();
    if ((backlogMs === undefined || msPerBlock === undefined) && pool.pendingTasks > 0) {
      this.stats.commitmentsDeferred++;
      this.log(
        `skipping this epoch: the prover has ${pool.pendingTasks} proof(s) pending and ` +
          `${backlogMs === undefined ? "no proof time" : "no block rate"} measured yet`,
      );
      return false;
    }
    const budgetMs = msPerBlock === undefined ? undefined : this.params.proofWindow * msPerBlock * ADMISSION_SHARE;
    if (backlogMs !== undefined && budgetMs !== undefined && backlogMs > budgetMs) {
      this.stats.commitmentsDeferred++;
      this.log(
        `skipping this epoch: the prover needs ≈ ${(backlogMs / 1000).toFixed(1)} s for its backlog and this ` +
          `commitment's ${proofs} proofs, more than half the proof window (≈ ${((2 * budgetMs) / 1000).toFixed(1)} s ` +
          `= ${this.params.proofWindow} blocks × ${Math.round(msPerBlock!)} ms)`,
      );
      return false;
    }
    this.releaseReservation = pool.reserve(proofs);
    return true;
  }

  /** Waits until every transaction this key sent has been mined, so on-chain state is final before we read it. */
  private waitForPendingTransactions(): Promise<void> {
    return waitForPendingTransactions(
      { signer: this.options.signer, rpc: (what, fn) => this.rpc(what, fn) },
      this.address,
      this.options.pollMs ?? 500,
      (message) => this.log(message),
    );
  }

  /** The current epoch, opened (its seed fixed) by us if nobody has yet; retried if a block boundary intervenes. */
  private async openCurrentEpoch(): Promise<number> {
    for (;;) {
      const epoch = Number(await this.rpc("currentEpoch", () => this.contract.currentEpoch()));
      if ((await this.rpc("epochSeed", () => this.contract.epochSeed(epoch))) !== 0n) return epoch;
      this.log(`opening epoch ${epoch}`);
      await this.send("openEpoch", () => this.contract.openEpoch());
    }
  }

  private async computeWork(): Promise<Job> {
    const epoch = await this.openCurrentEpoch();
    this.stats.epoch = epoch;
    const nonce = Number(await this.rpc("nextNonce", () => this.contract.nextNonce(this.address, epoch)));
    const existing = this.state.jobs.find((job) => job.epoch === epoch && job.nonce === nonce);
    if (existing) return existing;
    const seed = await this.rpc("seedFor", () => this.contract.seedFor(this.address, epoch, nonce));
    const shapes = this.options.layers.map((layer) => layer.shape);
    const encoded = shapes.map(encodeShape);
    const [bond, macs] = await this.rpc("bondFor", () =>
      Promise.all([this.contract.bondFor(encoded), this.contract.macsFor(encoded)]),
    );
    const started = performance.now();
    const outputRoots: string[] = [];
    const outputsFiles: string[] = [];
    for (const [i, backend] of this.backends.entries()) {
      const honest = () => backend.compute(seed);
      const outputs = await (this.options.computeOutputs?.(i, seed, honest) ?? honest());
      if (outputs.length !== backend.outputWords) {
        throw new Error(
          `layer ${i} (${backend.description}) computed ${outputs.length} words, not ${backend.outputWords}`,
        );
      }
      outputRoots.push((await backend.commit(outputs)).root.toString());
      const outputsFile = `outputs-e${epoch}-n${nonce}-l${i}.bin`;
      writeFileAtomic(
        path.join(this.options.stateDir, outputsFile),
        new Uint8Array(outputs.buffer, outputs.byteOffset, outputs.byteLength),
      );
      outputsFiles.push(outputsFile);
    }
    const computeMs = performance.now() - started;
    this.stats.macsPerSecond = Number(macs) / (computeMs / 1000);
    const job: Job = {
      epoch,
      nonce,
      seed: seed.toString(),
      shapes,
      stage: "computed",
      outputRoots,
      outputsFiles,
      bond: bond.toString(),
      macs: macs.toString(),
      timings: { computeMs: Math.round(computeMs) },
    };
    this.state.jobs.push(job);
    this.update(job, {});
    this.log(
      `epoch ${epoch} nonce ${nonce}: computed ${this.backends.map((b) => b.description).join(" + ")} in ` +
        `${job.timings.computeMs} ms`,
    );
    return job;
  }

  /** A layer's outputs from the state directory, checked against the committed root. */
  private async loadOutputs(job: Job, layer: number): Promise<{ outputs: Uint32Array; tree: OutputTree }> {
    const file = job.outputsFiles[layer]!;
    const bytes = readFileSync(path.join(this.options.stateDir, file));
    const backend = this.backends[layer]!;
    if (bytes.length !== 4 * backend.outputWords) throw new Error(`${file} has the wrong size`);
    const outputs = new Uint32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    const tree = await backend.commit(outputs);
    if (tree.root.toString() !== job.outputRoots[layer]) throw new Error(`${file} does not match its committed root`);
    return { outputs, tree };
  }

  /** Drives a job to its end: settled (proven) or lost. */
  private async advance(job: Job, signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      switch (job.stage) {
        case "computed":
        case "commit-sent":
          await this.commit(job);
          break;
        case "committed":
          await this.makeProofs(job, signal);
          break;
        case "proofs-ready":
        case "prove-sent":
          await this.submitProofs(job);
          break;
        case "settled":
        case "lost":
          return;
      }
    }
  }

  private async findCommitment(job: Job): Promise<{ id: bigint; commitBlock: number } | undefined> {
    const events = await this.rpc("queryFilter", () =>
      this.contract.queryFilter(this.contract.filters.Committed(null, this.address, job.epoch)),
    );
    const event = events.find((e) => Number(e.args[3]) === job.nonce);
    if (!event) return undefined;
    const id = event.args[0] as bigint;
    const record = await this.rpc("commitments", () => this.contract.commitments(id));
    return { id, commitBlock: Number(record.commitBlock) };
  }

  private async commit(job: Job, resends = 0): Promise<void> {
    const onChainNonce = Number(await this.rpc("nextNonce", () => this.contract.nextNonce(this.address, job.epoch)));
    if (onChainNonce > job.nonce) {
      // Sent before a crash (or by another process of this key): take the commitment the chain has.
      const found = await this.findCommitment(job);
      if (!found) throw new Error(`nonce ${job.nonce} of epoch ${job.epoch} is used but no Committed event was found`);
      this.update(job, { stage: "committed", id: found.id.toString(), commitBlock: found.commitBlock });
      return;
    }
    // The contract takes work of the current or the previous epoch only; a later commit reverts and costs no bond.
    const stale = (now: number) => {
      this.stats.commitmentsLost++;
      this.update(job, {
        stage: "lost",
        note: `epoch ${job.epoch} ended (now ${now}) before the commit; no bond paid`,
      });
      this.log(`epoch ${job.epoch} nonce ${job.nonce}: ${job.note}`);
    };
    const epochNow = Number(await this.rpc("currentEpoch", () => this.contract.currentEpoch()));
    if (epochNow > job.epoch + 1) return stale(epochNow);
    const started = performance.now();
    let receipt: TransactionReceipt;
    try {
      receipt = await this.send(
        "commit",
        async () => {
          const args = [job.epoch, job.nonce, job.outputRoots.map(BigInt), job.shapes.map(encodeShape)] as const;
          const estimate = await this.contract.commit.estimateGas(...args, { value: BigInt(job.bond) });
          // commit() also opens the current epoch; when an epoch starts between estimate and inclusion that costs
          // ≈ 25k more than estimated.
          return this.contract.commit(...args, { value: BigInt(job.bond), gasLimit: estimate + 60_000n });
        },
        (hash) => this.update(job, { stage: "commit-sent", commitTx: hash }),
      );
    } catch (error) {
      if (String(error).includes("StaleEpoch")) {
        return stale(Number(await this.rpc("currentEpoch", () => this.contract.currentEpoch())));
      }
      // A commit whose response was lost may still have landed (a resend then fails with WrongNonce): ask the chain.
      await this.waitForPendingTransactions();
      const used = Number(await this.rpc("nextNonce", () => this.contract.nextNonce(this.address, job.epoch)));
      if (used <= job.nonce) {
        const cause = (error as Error).cause;
        const final = ["CALL_EXCEPTION", "INSUFFICIENT_FUNDS", "INVALID_ARGUMENT"].some((code) =>
          isError(cause, code as "CALL_EXCEPTION"),
        );
        if (final || resends >= 5) throw error;
        // Not a revert and not on chain: the node or something in between dropped it; send it again.
        this.log(
          `commit of epoch ${job.epoch} nonce ${job.nonce} was not accepted (${String(error).slice(0, 120)}); resending`,
        );
        await sleep(this.options.pollMs ?? 500);
        return this.commit(job, resends + 1);
      }
      this.log(`commit of epoch ${job.epoch} nonce ${job.nonce} failed (${String(error).slice(0, 120)}) but landed`);
      return this.commit(job);
    }
    const log = receipt.logs
      .map((entry) => this.contract.interface.parseLog(entry))
      .find((parsed) => parsed?.name === "Committed");
    if (!log) throw new Error(`commit transaction ${receipt.hash} has no Committed event`);
    this.update(job, {
      stage: "committed",
      id: (log.args[0] as bigint).toString(),
      commitBlock: receipt.blockNumber,
      timings: { ...job.timings, commitMs: Math.round(performance.now() - started) },
    });
    this.log(
      `epoch ${job.epoch} nonce ${job.nonce}: committed as #${job.id} in block ${job.commitBlock}, bond ${formatEther(job.bond)}`,
    );
  }

  private deadline(job: Job): { challengeBlock: number; lastBlock: number } {
    const challengeBlock = job.commitBlock! + this.params.challengeDelay + 1;
    return { challengeBlock, lastBlock: job.commitBlock! + this.params.challengeDelay + this.params.proofWindow };
  }

  private async waitForBlock(target: number, signal?: AbortSignal): Promise<number> {
    const provider = this.options.signer.provider!;
    for (;;) {
      const block = await this.rpc("getBlockNumber", () => provider.getBlockNumber());
      this.blockClock.observe(block);
      if (block >= target) return block;
      await sleep(this.options.pollMs ?? 500, undefined, { signal });
    }
  }

  private markLost(job: Job, why: string): void {
    this.stats.commitmentsLost++;
    this.update(job, { stage: "lost", note: why });
    this.log(`commitment #${job.id}: ${why}; its bond of ${formatEther(job.bond)} is forfeited`);
  }

  private async makeProofs(job: Job, signal?: AbortSignal): Promise<void> {
    const layers = await Promise.all(job.outputsFiles.map((_, layer) => this.loadOutputs(job, layer)));
    const { challengeBlock, lastBlock } = this.deadline(job);
    const waitStarted = performance.now();
    const block = await this.waitForBlock(challengeBlock, signal);
    if (block > lastBlock)
      return this.markLost(job, `proof window ended at block ${lastBlock} before proving (now ${block})`);
    const id = BigInt(job.id!);
    const proveStarted = performance.now();
    const proofs: string[][] = [];
    const tasks = [];
    for (let j = 0; j < this.params.proofsPerCommitment; j++) {
      // Proof j checks layer j mod L (DemleMining._verifyProofs).
      const layer = j % layers.length;
      const challenge = await this.rpc("proofChallenge", () => this.contract.proofChallenge(id, j));
      const input = await this.backends[layer]!.proofInput({
        ...layers[layer]!,
        seed: BigInt(job.seed),
        challenge,
        miner: BigInt(this.address),
      });
      tasks.push({ id: `${job.id}/${j}`, circuit: this.options.layers[layer]!.prover, input });
    }
    // From here the proofs are in the pool's own queue, which the backlog estimate counts.
    this.releaseReservation?.();
    for await (const outcome of this.options.pool.proveMany(tasks, signal ? { signal } : {})) {
      if (!outcome.ok) {
        this.stats.proofsFailed++;
        return this.markLost(job, `proof ${outcome.id} failed at ${outcome.stage}: ${outcome.error}`);
      }
      this.stats.proofsOk++;
      proofs[Number(outcome.id.split("/")[1])] = proofToCalldata(outcome.proof);
    }
    this.update(job, {
      stage: "proofs-ready",
      proofs,
      timings: {
        ...job.timings,
        waitMs: Math.round(proveStarted - waitStarted),
        proveMs: Math.round(performance.now() - proveStarted),
      },
    });
  }

  private async submitProofs(job: Job, resends = 0): Promise<void> {
    const id = BigInt(job.id!);
    const record = await this.rpc("commitments", () => this.contract.commitments(id));
    if (record.status === STATUS.Proven) {
      // Submitted before a crash: read the reward from the chain.
      return this.settle(job, await this.rewardOf(id));
    }
    if (record.status === STATUS.Slashed) return this.markLost(job, "slashed before the proofs were accepted");
    const provider = this.options.signer.provider!;
    const block = await this.rpc("getBlockNumber", () => provider.getBlockNumber());
    if (block + 1 > this.deadline(job).lastBlock)
      return this.markLost(job, `proof window ended at block ${this.deadline(job).lastBlock}`);
    const started = performance.now();
    let receipt: TransactionReceipt;
    try {
      receipt = await this.send(
        "prove",
        () => this.contract.prove(id, job.proofs!),
        (hash) => this.update(job, { stage: "prove-sent", proveTx: hash }),
      );
    } catch (error) {
      // A prove whose response was lost may still have landed (a resend then fails with AlreadySettled).
      await this.waitForPendingTransactions();
      const after = await this.rpc("commitments", () => this.contract.commitments(id));
      if (after.status === STATUS.Proven) return this.settle(job, await this.rewardOf(id));
      if (isError((error as Error).cause, "CALL_EXCEPTION") || resends >= 5) throw error;
      this.log(`prove of #${job.id} was not accepted (${String(error).slice(0, 120)}); resending`);
      await sleep(this.options.pollMs ?? 500);
      return this.submitProofs(job, resends + 1);
    }
    job.timings.submitMs = Math.round(performance.now() - started);
    const minted = receipt.logs
      .map((entry) => this.contract.interface.parseLog(entry))
      .find((parsed) => parsed?.name === "RewardMinted");
    this.settle(job, minted ? (minted.args[2] as bigint) : 0n);
  }

  private async rewardOf(id: bigint): Promise<bigint> {
    const filter = (
      this.contract as unknown as { filters: { RewardMinted(id: bigint): unknown } }
    ).filters.RewardMinted(id);
    const events = await this.rpc("queryFilter", () => this.contract.queryFilter(filter));
    return events.length > 0 ? (events[0]!.args[2] as bigint) : 0n;
  }

  private settle(job: Job, reward: bigint): void {
    this.stats.commitmentsSettled++;
    this.stats.earned += reward;
    this.update(job, { stage: "settled", reward: reward.toString() });
    this.log(
      `commitment #${job.id} proven: +${formatUnits(reward, 18)} DEMLE, bond ${formatEther(job.bond)} returned ` +
        `(compute ${job.timings.computeMs} ms, commit ${job.timings.commitMs ?? "?"} ms, wait ${job.timings.waitMs ?? "?"} ms, ` +
        `prove ${job.timings.proveMs ?? "?"} ms, submit ${job.timings.submitMs ?? "?"} ms)`,
    );
  }

  private send(
    what: string,
    sendTx: () => Promise<TxResponse>,
    onSent?: (hash: string) => void,
  ): Promise<TransactionReceipt> {
    const sender = contractSender(this.options, this.contract.interface, (name, fn) => this.rpc(name, fn));
    return sendTransaction(sender, what, sendTx, onSent);
  }

  /** Balance of the DEMLE token for this miner. */
  async tokenBalance(): Promise<bigint> {
    const token = new Contract(
      await this.contract.token(),
      ["function balanceOf(address) view returns (uint256)"],
      this.options.signer,
    );
    return (await token.getFunction("balanceOf")(this.address)) as bigint;
  }

  jobs(): readonly Readonly<Job>[] {
    return this.state.jobs;
  }

  async release(): Promise<void> {
    await Promise.all(this.backends.map((backend) => backend.release()));
  }
}

/** Admitted work must fit in this share of the proof window (the rest absorbs estimate error and slow blocks). */
const ADMISSION_SHARE = 0.5;
/** Block observations older than this are dropped, so the rate follows changes of the chain's pace. */
const BLOCK_CLOCK_SPAN_MS = 120_000;

/**
 * Wall-clock milliseconds per block, from the block numbers this process has seen (block timestamps have a 1 s
 * resolution, too coarse for fast local chains).
 */
class BlockClock {
  private readonly samples: { block: number; ms: number }[] = [];

  observe(block: number): void {
    const now = performance.now();
    const last = this.samples.at(-1);
    if (last && block <= last.block) return;
    this.samples.push({ block, ms: now });
    while (this.samples.length > 2 && now - this.samples[0]!.ms > BLOCK_CLOCK_SPAN_MS) this.samples.shift();
  }

  /** Undefined until at least 3 blocks have been seen to pass. */
  msPerBlock(): number | undefined {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (!first || !last || last.block - first.block < 3) return undefined;
    return (last.ms - first.ms) / (last.block - first.block);
  }
}
