/**
 * A pool of prover threads (Piscina). Each task: witness generation + Groth16 proof (single-threaded) + local
 * verification, in one worker (prover/worker.js). N workers keep N cores busy.
 *
 *   const pool = new ProverPool({ workers: 2, taskTimeoutMs: 60_000 });
 *   const ok = await pool.prove({ id: "t1", circuit: setup.prover, input });      // rejects with ProveError
 *   for await (const outcome of pool.proveMany(tasks, { signal })) { ... }          // { ok: true | false, ... }
 *   await pool.close();
 *
 * Failures stay with their task and the pool carries on: a task whose witness generation throws (bad input,
 * violated constraint) fails with stage "witness"; a task running longer than `taskTimeoutMs` fails with stage
 * "timeout" and its worker thread is terminated and replaced (Piscina terminates the thread of an aborted running
 * task); a worker that dies mid-task (crash, out of memory) fails its task with stage "worker" and is replaced.
 * The timeout counts from the moment a worker starts the task (the worker reports that over a MessagePort), not
 * from submission, so queueing behind other tasks never times a task out.
 *
 * Loading: the worker is plain ESM JavaScript (see prover/worker.js), so it loads the same under vitest and tsx.
 */
import { EventEmitter } from "node:events";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { MessageChannel, type ResourceLimits, type Worker } from "node:worker_threads";
import { Piscina } from "piscina";
import type {
  CircuitInput,
  ProveFailure,
  ProveOutcome,
  ProveStage,
  ProveSuccess,
  ProveTask,
  SignalValue,
  WorkerNotice,
  WorkerResult,
  WorkerTask,
} from "./types.js";

export type * from "./types.js";

const WORKER_FILE = fileURLToPath(new URL("./worker.js", import.meta.url));

/**
 * workerData for every prover thread. snarkjs' ffjavascript imports the `web-worker` package (1.2.0), which, when
 * imported in any thread other than the main one, assumes it is running inside a thread it created itself: it reads
 * `workerData.{mod,name,type}`, throws "Cannot destructure property 'mod' of 'threads.workerData'" if absent, and
 * otherwise imports `mod` (developit/web-worker#57). Giving it an empty module satisfies it; it then only installs
 * its WorkerGlobalScope shim (global `self`, postMessage), which nothing in the prover uses.
 */
const WEB_WORKER_SHIM = { mod: "data:text/javascript,", name: "demle-prover", type: "module" };

/** How many recent task times backlogMs takes its median over. */
const RECENT_TASKS = 16;

export interface ProverPoolOptions {
  /** Worker threads (default os.availableParallelism()). */
  readonly workers?: number;
  /** Default per-task time limit in ms, counted from the start of the task in a worker (default: none). */
  readonly taskTimeoutMs?: number;
  /** V8 limits per worker, e.g. { maxOldGenerationSizeMb }: a worker exceeding them dies and its task fails. */
  readonly resourceLimits?: ResourceLimits;
}

export interface ProveOptions {
  readonly signal?: AbortSignal;
  /** Overrides the pool's taskTimeoutMs for this task. */
  readonly timeoutMs?: number;
}

export interface ProveManyOptions {
  /** Aborting cancels every task of the batch not finished yet (queued ones are dropped, running ones killed). */
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
  /** Tasks submitted to the pool at a time; the rest wait in the caller's iterable (default 2 × workers). */
  readonly maxInFlight?: number;
  readonly onProgress?: (progress: BatchProgress) => void;
}

export interface PoolProgress {
  /** Submitted, not yet started by a worker. */
  readonly queued: number;
  readonly running: number;
  readonly done: number;
  readonly failed: number;
}

export interface BatchProgress extends PoolProgress {
  /** Tasks taken from the batch's iterable so far (all of them once it is exhausted). */
  readonly submitted: number;
  readonly exhausted: boolean;
}

export type TaskEvent =
  | { readonly type: "queued"; readonly id: string }
  | { readonly type: "started"; readonly id: string; readonly threadId: number }
  | { readonly type: "done"; readonly id: string; readonly outcome: ProveSuccess }
  | { readonly type: "failed"; readonly id: string; readonly outcome: ProveFailure };

export interface ProverPoolEvents {
  task: [TaskEvent];
  progress: [PoolProgress];
  /** A worker failed while idle (Piscina 'error'); the worker is replaced. */
  workerError: [Error];
}

/** Thrown by `prove()`; `outcome` is the failure proveMany would have yielded. */
export class ProveError extends Error {
  readonly id: string;
  readonly stage: ProveStage;
  constructor(readonly outcome: ProveFailure) {
    super(outcome.error);
    this.name = "ProveError";
    this.id = outcome.id;
    this.stage = outcome.stage;
  }
}

type AbortReason = "timeout" | "aborted" | "closed";

interface Running {
  abort(reason: AbortReason): void;
}

export class ProverPool extends EventEmitter<ProverPoolEvents> {
  readonly workers: number;
  readonly taskTimeoutMs: number | undefined;
  readonly #piscina: Piscina<WorkerTask, WorkerResult>;
  readonly #active = new Set<Running>();
  #closed = false;
  #counts = { queued: 0, running: 0, done: 0, failed: 0 };
  #reserved = 0;
  /**
   * Tasks go to Piscina only when a worker is free, in arrival order: Piscina reorders waiting tasks that carry an
   * AbortSignal (piscinajs/piscina#1031), and a miner's deadline depends on first come, first served.
   */
  #idleWorkers: number;
  readonly #waitingForWorker: (() => void)[] = [];
  /** Worker times of the last successful tasks (for backlogMs). */
  readonly #recentTaskMs: number[] = [];

  constructor(options: ProverPoolOptions = {}) {
    super();
    const workers = options.workers ?? os.availableParallelism();
    if (!Number.isInteger(workers) || workers < 1)
      throw new Error(`workers must be a positive integer, got ${workers}`);
    const timeout = options.taskTimeoutMs;
    if (timeout !== undefined && !(timeout > 0)) throw new Error(`taskTimeoutMs must be > 0, got ${timeout}`);
    this.workers = workers;
    this.#idleWorkers = workers;
    this.taskTimeoutMs = timeout;
    this.#piscina = new Piscina<WorkerTask, WorkerResult>({
      filename: WORKER_FILE,
      minThreads: workers,
      maxThreads: workers,
      concurrentTasksPerWorker: 1,
      idleTimeout: Infinity,
      workerData: WEB_WORKER_SHIM,
      ...(options.resourceLimits ? { resourceLimits: options.resourceLimits } : {}),
    });
    // Without a listener an idle worker's failure would be thrown as an unhandled 'error' event.
    this.#piscina.on("error", (error: Error) => this.emit("workerError", error));
  }

  /** Current worker threads (diagnostics; terminating one simulates a crash, which the pool must survive). */
  get threads(): readonly Worker[] {
    return this.#piscina.threads;
  }

  get progress(): PoolProgress {
    return { ...this.#counts };
  }

  /**
   * Holds room for `tasks` proofs that a caller has promised to make later (a miner that commits work owes its proofs
   * a few blocks later); `backlogMs` counts them. Returns the release function (idempotent).
   */
  reserve(tasks: number): () => void {
    if (!Number.isInteger(tasks) || tasks < 0) throw new RangeError(`tasks must be an integer >= 0, got ${tasks}`);
    this.#reserved += tasks;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#reserved -= tasks;
    };
  }

  /** Tasks queued, running or reserved. */
  get pendingTasks(): number {
    return this.#counts.queued + this.#counts.running + this.#reserved;
  }

  /**
   * Estimated ms until the pool has finished everything queued, running and reserved plus `extraTasks` more: tasks ÷
   * workers × the median worker time of the last successful tasks. Undefined before any task has succeeded.
   */
  backlogMs(extraTasks = 0): number | undefined {
    if (this.#recentTaskMs.length === 0) return undefined;
    const sorted = [...this.#recentTaskMs].sort((x, y) => x - y);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    const tasks = this.pendingTasks + extraTasks;
    return Math.ceil(tasks / this.workers) * median;
  }

  /** Proves one task; resolves with the verified proof, rejects with a ProveError naming the stage that failed. */
  async prove(task: ProveTask, options: ProveOptions = {}): Promise<ProveSuccess> {
    const outcome = await this.run(task, options);
    if (!outcome.ok) throw new ProveError(outcome);
    return outcome;
  }

  /** Like prove(), but failures are returned ({ ok: false, stage, error }) instead of thrown. */
  async run(task: ProveTask, options: ProveOptions = {}, onStart?: () => void): Promise<ProveOutcome> {
    const t0 = performance.now();
    const id = typeof task?.id === "string" ? task.id : String((task as { id?: unknown } | undefined)?.id);
    const failure = (stage: ProveStage, error: string, extra: Partial<ProveFailure> = {}): ProveFailure => ({
      ok: false,
      id,
      stage,
      error: `task ${id}: ${error}`,
      ...extra,
    });
    const invalid = validateTask(task);
    if (invalid) return this.#finish(failure("input", invalid), false);
    if (this.#closed) return this.#finish(failure("aborted", "the pool is closed"), false);
    if (options.signal?.aborted) return this.#finish(failure("aborted", "cancelled before it started"), false);

    const timeoutMs = options.timeoutMs ?? this.taskTimeoutMs;
    const controller = new AbortController();
    let reason: AbortReason | undefined;
    let startedOn: number | undefined;
    let timer: NodeJS.Timeout | undefined;
    const running: Running = {
      abort(why) {
        reason ??= why;
        controller.abort(why);
      },
    };
    const onAbort = () => running.abort("aborted");
    options.signal?.addEventListener("abort", onAbort, { once: true });
    this.#active.add(running);

    const { port1, port2 } = new MessageChannel();
    port1.on("message", (notice: WorkerNotice) => {
      if (notice.type !== "started" || startedOn !== undefined) return;
      startedOn = notice.threadId;
      this.#counts.queued--;
      this.#counts.running++;
      this.#event({ type: "started", id, threadId: notice.threadId });
      onStart?.();
      if (timeoutMs !== undefined) timer = setTimeout(() => running.abort("timeout"), timeoutMs);
    });
    this.#counts.queued++;
    this.#event({ type: "queued", id });

    let outcome: ProveOutcome;
    let holdsWorker = false;
    try {
      await this.#takeWorker(controller.signal);
      holdsWorker = true;
      const result = await this.#piscina.run(
        { id, circuit: task.circuit, input: task.input, port: port2 },
        { transferList: [port2], signal: controller.signal },
      );
      outcome = { ...result, timings: { ...result.timings, totalMs: performance.now() - t0 } } as ProveOutcome;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const onThread = startedOn === undefined ? {} : { threadId: startedOn };
      const totalMs = { timings: { totalMs: performance.now() - t0 }, ...onThread };
      if (reason === "timeout") {
        outcome = failure(
          "timeout",
          `timed out after ${timeoutMs} ms; its worker was terminated and replaced`,
          totalMs,
        );
      } else if (reason === "aborted" || reason === "closed") {
        const what = reason === "closed" ? "the pool was closed" : "cancelled";
        outcome = failure(
          "aborted",
          startedOn === undefined ? `${what} before it started` : `${what} while running; its worker was terminated`,
          totalMs,
        );
      } else if (/could not be cloned|DataCloneError/i.test(message)) {
        outcome = failure("input", `cannot be sent to a worker: ${message}`, totalMs);
      } else {
        outcome = failure("worker", `its worker thread died (${message}); the worker was replaced`, totalMs);
      }
    } finally {
      if (holdsWorker) this.#giveBackWorker();
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      this.#active.delete(running);
      port1.close();
    }
    return this.#finish(outcome, true, startedOn !== undefined);
  }

  /**
   * Proves a batch; yields each outcome as soon as it is ready (completion order, not input order). Exactly one
   * outcome per task taken from `tasks`. On abort, unfinished tasks yield { ok: false, stage: "aborted" }; if
   * `tasks` is an array its remaining tasks are reported as aborted too, other iterables are not read further.
   * Breaking out of the loop early cancels the batch's unfinished tasks.
   */
  async *proveMany(
    tasks: Iterable<ProveTask> | AsyncIterable<ProveTask>,
    options: ProveManyOptions = {},
  ): AsyncGenerator<ProveOutcome, void, undefined> {
    const maxInFlight = options.maxInFlight ?? this.workers * 2;
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw new Error(`maxInFlight must be >= 1`);
    const batch = new AbortController();
    const onAbort = () => batch.abort();
    if (options.signal?.aborted) batch.abort();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    const counts = { submitted: 0, exhausted: false, queued: 0, running: 0, done: 0, failed: 0 };
    const report = () => options.onProgress?.({ ...counts });
    const iterator =
      Symbol.asyncIterator in tasks ? tasks[Symbol.asyncIterator]() : (tasks as Iterable<ProveTask>)[Symbol.iterator]();
    const pending = new Map<number, Promise<{ key: number; outcome: ProveOutcome }>>();
    let key = 0;

    const submit = (task: ProveTask) => {
      const k = key++;
      counts.submitted++;
      counts.queued++;
      let started = false;
      const onStart = () => {
        started = true;
        counts.queued--;
        counts.running++;
        report();
      };
      const promise = this.run(task, { signal: batch.signal, timeoutMs: options.timeoutMs }, onStart).then(
        (outcome) => {
          if (started) counts.running--;
          else counts.queued--;
          if (outcome.ok) counts.done++;
          else counts.failed++;
          return { key: k, outcome };
        },
      );
      pending.set(k, promise);
      report();
    };
    const fill = async () => {
      while (!counts.exhausted && pending.size < maxInFlight && !batch.signal.aborted) {
        const next = await iterator.next();
        if (next.done) counts.exhausted = true;
        else submit(next.value);
      }
    };

    try {
      await fill();
      while (pending.size > 0) {
        const { key: k, outcome } = await Promise.race(pending.values());
        pending.delete(k);
        report();
        yield outcome;
        await fill();
      }
      if (batch.signal.aborted && Array.isArray(tasks)) {
        for (const task of tasks.slice(counts.submitted) as ProveTask[]) {
          counts.submitted++;
          counts.failed++;
          const outcome = this.#finish(
            {
              ok: false,
              id: String(task?.id),
              stage: "aborted",
              error: `task ${String(task?.id)}: cancelled before it started`,
            },
            false,
          );
          report();
          yield outcome;
        }
        counts.exhausted = true;
      }
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
      if (pending.size > 0) {
        batch.abort();
        await Promise.allSettled(pending.values());
      }
      if (!counts.exhausted) await iterator.return?.();
    }
  }

  /** Cancels queued and running tasks (they fail with stage "aborted") and terminates the worker threads. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const running of this.#active) running.abort("closed");
    await this.#piscina.destroy();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Resolves when a worker is free for this task, first come first served; rejects if `signal` aborts first. */
  #takeWorker(signal: AbortSignal): Promise<void> {
    if (this.#idleWorkers > 0 && this.#waitingForWorker.length === 0) {
      this.#idleWorkers--;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const index = this.#waitingForWorker.indexOf(wake);
        if (index >= 0) this.#waitingForWorker.splice(index, 1);
        reject(signal.reason as Error);
      };
      const wake = () => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#waitingForWorker.push(wake);
    });
  }

  /** Hands a finished task's worker to the longest-waiting task. */
  #giveBackWorker(): void {
    const next = this.#waitingForWorker.shift();
    if (next) next();
    else this.#idleWorkers++;
  }

  #event(event: TaskEvent): void {
    this.emit("task", event);
    this.emit("progress", this.progress);
  }

  #finish(outcome: ProveOutcome, counted: boolean, started = false): ProveOutcome {
    if (counted) {
      if (started) this.#counts.running--;
      else this.#counts.queued--;
    }
    if (outcome.ok) {
      this.#counts.done++;
      this.#recentTaskMs.push(outcome.timings.workerMs);
      if (this.#recentTaskMs.length > RECENT_TASKS) this.#recentTaskMs.shift();
      this.#event({ type: "done", id: outcome.id, outcome });
    } else {
      this.#counts.failed++;
      this.#event({ type: "failed", id: outcome.id, outcome });
    }
    return outcome;
  }
}

function validSignal(value: unknown, depth: number): boolean {
  if (typeof value === "bigint") return true;
  if (typeof value === "number") return Number.isSafeInteger(value);
  if (typeof value === "string") return /^-?(0x[0-9a-fA-F]+|\d+)$/.test(value.trim());
  if (Array.isArray(value)) return depth < 8 && value.every((v) => validSignal(v, depth + 1));
  return false;
}

/** Cheap structural check before a task is sent to a worker; returns a description of the problem. */
export function validateTask(task: ProveTask): string | undefined {
  if (task === null || typeof task !== "object") return "task is not an object";
  if (typeof task.id !== "string" || task.id === "") return "task.id must be a non-empty string";
  const c = task.circuit as Partial<ProveTask["circuit"]> | undefined;
  if (!c || typeof c.wasmPath !== "string" || typeof c.zkeyPath !== "string" || typeof c.vkey !== "object") {
    return "task.circuit must have wasmPath, zkeyPath and vkey";
  }
  const input = task.input as unknown;
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    return "malformed input: must be an object mapping signal names to values";
  }
  for (const [name, value] of Object.entries(input as CircuitInput)) {
    if (!validSignal(value as SignalValue, 0)) {
      return `malformed input: signal "${name}" must be an integer (number, bigint, decimal/hex string) or an array of them`;
    }
  }
  return undefined;
}
