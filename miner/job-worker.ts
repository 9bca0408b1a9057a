/**
 * The miner's side of useful-work jobs (docs/jobs.md): find an open job of a kind this miner can prove, fetch its
 * model and input from the requester's data server and check them against the on-chain roots, compute the outputs
 * with ONNX Runtime, commit their root (taking a slot), deliver the outputs, prove the challenged tiles with the job
 * circuit and collect the fee and the block reward.
 *
 * Crash safety follows the seed-work miner: each step's result is in `jobs-state.json` (atomic writes) with the
 * model, input and outputs beside it, and before re-sending a transaction the chain is asked whether the last one
 * landed.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Contract, formatEther, formatUnits, type Signer, type TransactionReceipt } from "ethers";
import { writeFileAtomic } from "../common/files.js";
import {
  assertFiniteCodes,
  MAX_MODEL_BYTES,
  outputsFromBytes,
  outputsToBytes,
  parseJobModel,
  sha256Hex,
} from "../common/job-files.js";
import { blobUrl, fetchBlob, originOf, putOutputs } from "../data/client.js";
import { proofToCalldata } from "../prover/calldata.js";
import type { ProverPool } from "../prover/pool.js";
import type { ProverCircuit } from "../prover/setup.js";
import type { GemmExecutionProvider } from "./gemm.js";
import { circuitOfKind, type JobCircuit } from "./job-circuits.js";
import { JobMarket, type OnChainJob } from "./job-market.js";
import { jobOp } from "./job-ops.js";
import { retryUntilReachable } from "./retry.js";
import { contractSender, sendTransaction, waitForPendingTransactions, type TxResponse } from "./transactions.js";

export type UsefulJobStage =
  "computed" | "commit-sent" | "committed" | "proofs-ready" | "prove-sent" | "settled" | "lost" | "skipped";

/** One job this miner took part in (or refused), as persisted. Big numbers are decimal strings. */
export interface UsefulJobRecord {
  jobId: string;
  stage: UsefulJobStage;
  outputRoot?: string;
  bond?: string;
  commitTx?: string;
  assignmentId?: string;
  commitBlock?: number;
  proofs?: string[][];
  proveTx?: string;
  /** Gas of the proveJob transaction (when this process sent it). */
  proveGas?: string;
  /** The outputs reached the requester's data server. */
  delivered?: boolean;
  fee?: string;
  reward?: string;
  note?: string;
  timings: { fetchMs?: number; computeMs?: number; proveMs?: number };
}

interface JobWorkerState {
  readonly version: 1;
  readonly chainId: string;
  readonly contract: string;
  readonly miner: string;
  jobs: UsefulJobRecord[];
}

export interface JobWorkerStats {
  jobsSettled: number;
  jobsLost: number;
  jobsSkipped: number;
  feesEarned: bigint;
  rewardEarned: bigint;
}

export interface JobWorkerOptions {
  readonly contract: string;
  /** The miner's key (share the seed-work miner's NonceManager). */
  readonly signer: Signer;
  /** Job circuits this miner can prove, with their proving artifacts. */
  readonly circuits: readonly { readonly circuit: JobCircuit; readonly prover: ProverCircuit }[];
  readonly pool: ProverPool;
  readonly stateDir: string;
  readonly executionProvider?: GemmExecutionProvider;
  /** Computes a job's outputs; default ONNX Runtime (`honest`). Tests plug a wrong one in here. */
  readonly computeOutputs?: (jobId: bigint, honest: () => Promise<Uint32Array>) => Promise<Uint32Array>;
  readonly pollMs?: number;
  readonly receiptTimeoutMs?: number;
  readonly log?: (message: string) => void;
}

/** A job is taken only if its deadline leaves this many blocks beyond the last possible proof block. */
const DEADLINE_MARGIN_BLOCKS = 2;

/** Jobs of a state directory that are still in progress (a miner must finish them, or lose their bonds). */
export function unfinishedJobs(stateDir: string): string[] {
  const file = path.join(stateDir, "jobs-state.json");
  if (!existsSync(file)) return [];
  const state = JSON.parse(readFileSync(file, "utf8")) as JobWorkerState;
  return state.jobs.filter((r) => !FINISHED.includes(r.stage)).map((r) => r.jobId);
}

const FINISHED: readonly UsefulJobStage[] = ["settled", "lost", "skipped"];

export class JobWorker {
  private state!: JobWorkerState;
  private readonly statePath: string;
  private contract!: Contract;
  private market!: JobMarket;
  private address!: string;
  private params!: { challengeDelay: number; proofWindow: number };
  /** Jobs that can never be taken any more (full, past their last commit block, or of a kind this miner cannot prove). */
  private readonly closedJobs = new Set<bigint>();
  /** On-chain kind index → the circuit that proves it. */
  private readonly kinds = new Map<number, { circuit: JobCircuit; prover: ProverCircuit }>();
  readonly stats: JobWorkerStats = { jobsSettled: 0, jobsLost: 0, jobsSkipped: 0, feesEarned: 0n, rewardEarned: 0n };

  constructor(private readonly options: JobWorkerOptions) {
    this.statePath = path.join(options.stateDir, "jobs-state.json");
  }

  private log(message: string): void {
    this.options.log?.(message);
  }

  private rpc<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return retryUntilReachable(what, fn, (message) => this.log(message));
  }

  private send(what: string, sendTx: () => Promise<TxResponse>, onSent?: (hash: string) => void) {
    const sender = contractSender(this.options, this.contract.interface, (name, fn) => this.rpc(name, fn));
    return sendTransaction(sender, what, sendTx, onSent);
  }

  /** Connects, maps the deployment's job kinds to this miner's circuits, loads or creates the state. */
  async init(abi: Contract["interface"]["fragments"]): Promise<void> {
    const { signer } = this.options;
    const provider = signer.provider;
    if (!provider) throw new Error("the signer has no provider");
    this.contract = new Contract(this.options.contract, abi, signer);
    this.market = new JobMarket(this.contract);
    this.address = await signer.getAddress();
    const chainId = (await this.rpc("getNetwork", () => provider.getNetwork())).chainId.toString();
    const params = await this.rpc("params", () => this.contract.getFunction("params")());
    this.params = { challengeDelay: Number(params.challengeDelay), proofWindow: Number(params.proofWindow) };
    for (const kind of await this.rpc("jobKinds", () => this.market.jobKinds())) {
      const circuit = circuitOfKind(kind);
      const match = circuit && this.options.circuits.find((c) => c.circuit.name === circuit.name);
      if (match) this.kinds.set(kind.index, match);
    }
    this.log(
      this.kinds.size > 0
        ? `useful jobs: this miner proves job kind(s) ${[...this.kinds].map(([i, c]) => `${i} (${c.circuit.name})`).join(", ")}`
        : "useful jobs: the deployment has no job kind this miner can prove; seed work only",
    );
    mkdirSync(this.options.stateDir, { recursive: true });
    if (existsSync(this.statePath)) {
      const saved = JSON.parse(readFileSync(this.statePath, "utf8")) as JobWorkerState;
      if (
        saved.version !== 1 ||
        saved.chainId !== chainId ||
        saved.contract.toLowerCase() !== this.options.contract.toLowerCase() ||
        saved.miner !== this.address
      ) {
        throw new Error(`job state file ${this.statePath} belongs to another chain, contract or miner`);
      }
      this.state = saved;
    } else {
      this.state = { version: 1, chainId, contract: this.options.contract, miner: this.address, jobs: [] };
      this.save();
    }
  }

  records(): readonly Readonly<UsefulJobRecord>[] {
    return this.state.jobs;
  }

  private save(): void {
    writeFileAtomic(this.statePath, `${JSON.stringify(this.state, null, 2)}\n`);
  }

  private update(record: UsefulJobRecord, changes: Partial<UsefulJobRecord>): void {
    Object.assign(record, changes);
    this.save();
  }

  private file(jobId: string, what: "model.json" | "input.bin" | "outputs.bin"): string {
    return path.join(this.options.stateDir, `job-${jobId}-${what}`);
  }

  /**
   * Finishes unfinished jobs, then takes the oldest open job this miner can prove and works it to the end. A job whose
   * files are missing or do not match its on-chain roots is recorded as skipped (no bond is paid) and the next one is
   * tried. Returns false when there was no job to work on (the caller mines seed work instead).
   */
  async workOnce(signal?: AbortSignal): Promise<boolean> {
    if (this.kinds.size === 0) return false;
    const unfinished = this.state.jobs.filter((r) => !FINISHED.includes(r.stage));
    for (const record of unfinished) await this.advance(record, signal);
    await this.deliverPending();
    const unreachable = new Set<string>();
    for (;;) {
      signal?.throwIfAborted();
      const job = await this.findOpenJob(unreachable);
      if (!job) return unfinished.length > 0;
      const record: UsefulJobRecord = { jobId: job.id.toString(), stage: "computed", timings: {} };
      try {
        await this.fetchAndCompute(job, record);
      } catch (error) {
        if (error instanceof DataUnreachable) {
          // The requester's server may come back: try this job again next time.
          unreachable.add(record.jobId);
          this.log(`job #${job.id}: ${error.message}; will try again later`);
          continue;
        }
        this.stats.jobsSkipped++;
        this.state.jobs.push({ ...record, stage: "skipped", note: (error as Error).message });
        this.save();
        this.log(`job #${job.id}: skipped: ${(error as Error).message}`);
        continue;
      }
      this.state.jobs.push(record);
      this.save();
      await this.advance(record, signal);
      return true;
    }
  }

  private async findOpenJob(exclude: ReadonlySet<string>): Promise<OnChainJob | undefined> {
    const provider = this.options.signer.provider!;
    const count = await this.rpc("jobCount", () => this.market.jobCount());
    const block = await this.rpc("getBlockNumber", () => provider.getBlockNumber());
    const known = new Set([...this.state.jobs.map((r) => r.jobId), ...exclude]);
    for (let id = 0n; id < count; id++) {
      if (known.has(id.toString()) || this.closedJobs.has(id)) continue;
      const job = await this.rpc("job", () => this.market.job(id));
      // Slots never reopen and deadlines never move: a job found full, too late or of another kind stays so.
      if (
        !this.kinds.has(job.kind) ||
        job.committedSlots >= job.redundancy ||
        block + 1 + this.params.challengeDelay + this.params.proofWindow + DEADLINE_MARGIN_BLOCKS > job.deadline
      ) {
        this.closedJobs.add(id);
        continue;
      }
      if (await this.rpc("assignmentOf", () => this.market.assignmentOf(id, this.address))) continue;
      return job;
    }
    return undefined;
  }

  /** Fetches and checks the job's files, computes and stores the outputs; throws (nothing on chain) on bad data. */
  private async fetchAndCompute(job: OnChainJob, record: UsefulJobRecord): Promise<void> {
    const { circuit } = this.kinds.get(job.kind)!;
    const op = jobOp(circuit);
    const expected = op.layout(job.shape);
    const started = performance.now();
    const origin = originOf(job.inputUri);
    const modelBytes = await fetchOrUnreachable(() =>
      fetchBlob(blobUrl(origin, job.modelHash), { sha256: job.modelHash, maxBytes: MAX_MODEL_BYTES }),
    );
    const model = parseJobModel(modelBytes, `of job #${job.id}`);
    const input = await fetchOrUnreachable(() => fetchBlob(job.inputUri, { maxBytes: expected.inputBytes }));
    const shape = op.shapeFor(model, input.length);
    if (shape.rowBlocksLog2 !== job.shape.rowBlocksLog2 || shape.colBlocksLog2 !== job.shape.colBlocksLog2) {
      throw new Error(
        `the model and input make a job of shape (${shape.rowBlocksLog2}, ${shape.colBlocksLog2}), not the posted ` +
          `(${job.shape.rowBlocksLog2}, ${job.shape.colBlocksLog2})`,
      );
    }
    assertFiniteCodes(input, `the input of job #${job.id}`, model.inChannels);
    const [weights, inputs] = await Promise.all([
      op.weightTree(expected, model.weights),
      op.inputTree(expected, input),
    ]);
    if (weights.root !== job.weightRoot) throw new Error("the model's weight root is not the job's weightRoot");
    if (inputs.root !== job.inputRoot) throw new Error("the input's root is not the job's inputRoot");
    const fetchMs = performance.now() - started;
    writeFileAtomic(this.file(record.jobId, "model.json"), modelBytes);
    writeFileAtomic(this.file(record.jobId, "input.bin"), input);

    const computeStarted = performance.now();
    const honest = () => op.compute(expected, input, model.weights, this.options.executionProvider);
    const outputs = await (this.options.computeOutputs?.(job.id, honest) ?? honest());
    if (outputs.length !== expected.outputWords) {
      throw new Error(`computed ${outputs.length} output words, not ${expected.outputWords}`);
    }
    const tree = await op.commit(expected, outputs);
    writeFileAtomic(this.file(record.jobId, "outputs.bin"), outputsToBytes(outputs));
    const bond = await this.rpc("jobBond", () => this.contract.getFunction("jobBond")(job.id) as Promise<bigint>);
    Object.assign(record, {
      outputRoot: tree.root.toString(),
      bond: bond.toString(),
      timings: { fetchMs: Math.round(fetchMs), computeMs: Math.round(performance.now() - computeStarted) },
    });
    this.log(
      `job #${job.id}: fetched and checked the ${model.op} model and the input (${record.timings.fetchMs} ms), ` +
        `computed ${expected.description} (${record.timings.computeMs} ms)`,
    );
  }

  /** The job's stored files, checked against what was committed. */
  private async load(record: UsefulJobRecord, job: OnChainJob) {
    const { circuit } = this.kinds.get(job.kind)!;
    const op = jobOp(circuit);
    const layout = op.layout(job.shape);
    const model = parseJobModel(readFileSync(this.file(record.jobId, "model.json")), `of job #${record.jobId}`);
    const x = new Uint8Array(readFileSync(this.file(record.jobId, "input.bin")));
    const y = outputsFromBytes(
      readFileSync(this.file(record.jobId, "outputs.bin")),
      layout.outputWords,
      `outputs of job #${record.jobId}`,
    );
    const outputTree = await op.commit(layout, y);
    if (outputTree.root.toString() !== record.outputRoot)
      throw new Error(`job #${record.jobId}: outputs changed on disk`);
    return { circuit, op, layout, model, x, y, outputTree };
  }

  private async advance(record: UsefulJobRecord, signal?: AbortSignal): Promise<void> {
    const job = await this.rpc("job", () => this.market.job(BigInt(record.jobId)));
    for (;;) {
      signal?.throwIfAborted();
      switch (record.stage) {
        case "computed":
        case "commit-sent":
          await this.commit(record, job);
          break;
        case "committed":
          if (!record.delivered) await this.deliver(record, job);
          await this.prove(record, job, signal);
          break;
        case "proofs-ready":
        case "prove-sent":
          await this.submit(record, job);
          break;
        default:
          if (record.stage === "settled" && !record.delivered) await this.deliver(record, job);
          return;
      }
    }
  }

  /** Outputs of proven jobs that have not reached their data server yet (it was down): tried again until delivered. */
  private async deliverPending(): Promise<void> {
    for (const record of this.state.jobs.filter((r) => r.stage === "settled" && !r.delivered)) {
      await this.deliver(record, await this.rpc("job", () => this.market.job(BigInt(record.jobId))));
    }
  }

  private lose(record: UsefulJobRecord, why: string, stage: "lost" | "skipped" = "lost"): void {
    if (stage === "lost") this.stats.jobsLost++;
    else this.stats.jobsSkipped++;
    this.update(record, { stage, note: why });
    this.log(`job #${record.jobId}: ${why}`);
  }

  /** Waits until this key's transactions are mined: what the chain says afterwards includes them. */
  private settled(): Promise<void> {
    return waitForPendingTransactions(
      { signer: this.options.signer, rpc: (what, fn) => this.rpc(what, fn) },
      this.address,
      this.options.pollMs ?? 500,
      (message) => this.log(message),
    );
  }

  private async commit(record: UsefulJobRecord, job: OnChainJob): Promise<void> {
    // A commitJob sent before a restart may still be pending: only a mined one shows in assignmentOf.
    if (record.stage === "commit-sent") await this.settled();
    const held = await this.rpc("assignmentOf", () => this.market.assignmentOf(job.id, this.address));
    if (held) {
      this.update(record, { stage: "committed", assignmentId: held.id.toString(), commitBlock: held.commitBlock });
      return;
    }
    let receipt: TransactionReceipt;
    try {
      receipt = await this.send(
        "commitJob",
        () =>
          this.contract.getFunction("commitJob")(job.id, BigInt(record.outputRoot!), {
            value: BigInt(record.bond!),
          }) as Promise<TxResponse>,
        (hash) => this.update(record, { stage: "commit-sent", commitTx: hash }),
      );
    } catch (error) {
      await this.settled();
      const landed = await this.rpc("assignmentOf", () => this.market.assignmentOf(job.id, this.address));
      if (landed) return this.commit(record, job);
      // Full, closed or otherwise refused: no bond was taken.
      return this.lose(record, `not committed: ${(error as Error).message}`, "skipped");
    }
    const event = receipt.logs
      .map((entry) => this.contract.interface.parseLog(entry))
      .find((parsed) => parsed?.name === "JobCommitted");
    if (!event) throw new Error(`commitJob transaction ${receipt.hash} has no JobCommitted event`);
    this.update(record, {
      stage: "committed",
      assignmentId: (event.args.assignmentId as bigint).toString(),
      commitBlock: receipt.blockNumber,
    });
    this.log(
      `job #${job.id}: committed as assignment #${record.assignmentId} in block ${record.commitBlock}, ` +
        `bond ${formatEther(record.bond!)}`,
    );
  }

  /** Uploads the outputs to the requester's data server; a failure is reported and retried after settling. */
  private async deliver(record: UsefulJobRecord, job: OnChainJob): Promise<void> {
    try {
      const bytes = new Uint8Array(readFileSync(this.file(record.jobId, "outputs.bin")));
      await putOutputs(originOf(job.inputUri), job.id, this.address, bytes);
      this.update(record, { delivered: true });
      this.log(`job #${job.id}: delivered ${bytes.length} bytes of outputs (sha256 ${sha256Hex(bytes).slice(0, 12)}…)`);
    } catch (error) {
      this.log(`job #${job.id}: could not deliver the outputs yet: ${(error as Error).message}`);
    }
  }

  private lastProofBlock(record: UsefulJobRecord): number {
    return record.commitBlock! + this.params.challengeDelay + this.params.proofWindow;
  }

  private async prove(record: UsefulJobRecord, job: OnChainJob, signal?: AbortSignal): Promise<void> {
    const { circuit, op, layout, model, x, y, outputTree } = await this.load(record, job);
    const provider = this.options.signer.provider!;
    const challengeBlock = record.commitBlock! + this.params.challengeDelay + 1;
    let block = await this.rpc("getBlockNumber", () => provider.getBlockNumber());
    while (block < challengeBlock) {
      await sleep(this.options.pollMs ?? 500, undefined, { signal });
      block = await this.rpc("getBlockNumber", () => provider.getBlockNumber());
    }
    if (block > this.lastProofBlock(record)) {
      return this.lose(record, `proof window ended at block ${this.lastProofBlock(record)} (now ${block})`);
    }
    const started = performance.now();
    const [inputs, weightsTree] = await Promise.all([op.inputTree(layout, x), op.weightTree(layout, model.weights)]);
    const assignmentId = BigInt(record.assignmentId!);
    const tasks = [];
    for (let j = 0; j < circuit.proofsPerJob; j++) {
      const challenge = await this.rpc(
        "jobProofChallenge",
        () => this.contract.getFunction("jobProofChallenge")(assignmentId, j) as Promise<bigint>,
      );
      const input = await op.proofInput(layout, {
        x,
        weights: model.weights,
        y,
        outputTree,
        inputs,
        weightsTree,
        challenge,
        miner: this.address,
      });
      tasks.push({ id: `job${record.jobId}/${j}`, circuit: this.kinds.get(job.kind)!.prover, input });
    }
    const proofs: string[][] = [];
    for await (const outcome of this.options.pool.proveMany(tasks, signal ? { signal } : {})) {
      if (!outcome.ok) return this.lose(record, `proof ${outcome.id} failed at ${outcome.stage}: ${outcome.error}`);
      proofs[Number(outcome.id.split("/")[1])] = proofToCalldata(outcome.proof);
    }
    this.update(record, {
      stage: "proofs-ready",
      proofs,
      timings: { ...record.timings, proveMs: Math.round(performance.now() - started) },
    });
  }

  private async submit(record: UsefulJobRecord, job: OnChainJob): Promise<void> {
    const assignmentId = BigInt(record.assignmentId!);
    if (record.stage === "prove-sent") await this.settled();
    const status = (await this.rpc("assignment", () => this.market.assignment(assignmentId))).status;
    if (status === "proven") return this.settle(record, await this.paidFor(assignmentId, job));
    if (status === "slashed") return this.lose(record, "slashed before the proofs were accepted");
    const provider = this.options.signer.provider!;
    const block = await this.rpc("getBlockNumber", () => provider.getBlockNumber());
    if (block + 1 > this.lastProofBlock(record)) {
      return this.lose(record, `proof window ended at block ${this.lastProofBlock(record)}`);
    }
    try {
      const receipt = await this.send(
        "proveJob",
        () => this.contract.getFunction("proveJob")(assignmentId, record.proofs) as Promise<TxResponse>,
        (hash) => this.update(record, { stage: "prove-sent", proveTx: hash }),
      );
      record.proveGas = receipt.gasUsed.toString();
    } catch (error) {
      await this.settled();
      const after = await this.rpc("assignment", () => this.market.assignment(assignmentId));
      if (after.status !== "proven") return this.lose(record, `proveJob failed: ${(error as Error).message}`);
    }
    this.settle(record, await this.paidFor(assignmentId, job));
  }

  /** The fee and reward the chain paid for an assignment (from its events). */
  private async paidFor(assignmentId: bigint, job: OnChainJob): Promise<{ fee: bigint; reward: bigint }> {
    const events = await this.rpc("queryFilter", () =>
      this.contract.queryFilter(this.contract.filters.JobRewardMinted!(assignmentId), job.postBlock),
    );
    const reward = events.length > 0 ? ((events[0] as unknown as { args: unknown[] }).args[2] as bigint) : 0n;
    return { fee: job.fee / BigInt(job.redundancy), reward };
  }

  private settle(record: UsefulJobRecord, paid: { fee: bigint; reward: bigint }): void {
    this.stats.jobsSettled++;
    this.stats.feesEarned += paid.fee;
    this.stats.rewardEarned += paid.reward;
    this.update(record, { stage: "settled", fee: paid.fee.toString(), reward: paid.reward.toString() });
    this.log(
      `job #${record.jobId}: proven — fee ${formatEther(paid.fee)}, reward ${formatUnits(paid.reward, 18)} DEMLE, ` +
        `bond returned (fetch ${record.timings.fetchMs ?? "?"} ms, compute ${record.timings.computeMs ?? "?"} ms, ` +
        `prove ${record.timings.proveMs ?? "?"} ms, proveJob gas ${record.proveGas ?? "?"})`,
    );
  }
}

/** The requester's data server could not be reached or failed (as opposed to serving wrong or missing data). */
class DataUnreachable extends Error {}

/**
 * A fetch whose failure says something about the job's data (4xx: missing or refused, a hash mismatch, too large)
 * is rethrown as is; any other failure (refused or broken connections, timeouts, 5xx) is the server's, so the job is
 * tried again later.
 */
async function fetchOrUnreachable(fetch: () => Promise<Uint8Array>): Promise<Uint8Array> {
  try {
    return await fetch();
  } catch (error) {
    const message = (error as Error).message;
    // data/client.ts messages are "<METHOD> <url>: <what>"; only <what> is the client's, the rest the server's text.
    if (/^[A-Z]+ \S+: (HTTP 4\d\d|hash mismatch|too large)/.test(message)) throw error;
    throw new DataUnreachable(message);
  }
}
