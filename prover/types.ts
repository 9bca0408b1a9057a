/**
 * Types shared by the prover pool (prover/pool.ts) and its worker (prover/worker.js, which uses them via JSDoc).
 * Everything that crosses the thread boundary must survive structured cloning: plain data only.
 */
import type { MessagePort } from "node:worker_threads";
import type { Groth16Proof, Groth16VerificationKey, NumericString } from "snarkjs";

export type { Groth16Proof, Groth16VerificationKey, NumericString };

/** A circuit input signal value: decimal string, number, bigint, or (nested) arrays of them. */
export type SignalValue = string | number | bigint | readonly SignalValue[];
export type CircuitInput = Readonly<Record<string, SignalValue>>;

export interface ProveTask {
  /** Caller's identifier; echoed in the result (e.g. "tile-3-7"). */
  readonly id: string;
  readonly circuit: {
    /** circom witness generator (build/circuits/<name>/<main>_js/<main>.wasm). */
    readonly wasmPath: string;
    /** Proving key from setupCircuit. */
    readonly zkeyPath: string;
    /** Verification key; every proof is verified in the worker before it is returned. */
    readonly vkey: Groth16VerificationKey;
  };
  readonly input: CircuitInput;
}

/** Where a task failed. */
export type ProveStage =
  | "input" // rejected before it reached a worker (not a plain object of signal values)
  | "witness" // witness generation threw: unknown/missing/extra signal, bad value, or a constraint/assert failed
  | "prove" // groth16.prove threw: zkey unreadable or not matching the witness
  | "verify" // the proof did not verify against the given vkey
  | "timeout" // ran longer than taskTimeoutMs; its worker was terminated and replaced
  | "aborted" // cancelled through the caller's AbortSignal, or the pool was closed
  | "worker"; // the worker thread died (crash, out of memory, terminated) while running it; it was replaced

export interface ProveTimings {
  readonly witnessMs: number;
  readonly proveMs: number;
  readonly verifyMs: number;
  /** Wall time inside the worker. */
  readonly workerMs: number;
  /** From pool.prove() to the result (includes waiting in the queue). */
  readonly totalMs: number;
}

/**
 * Memory measured in the worker right after the proof. Worker threads share one process: `rssBytes` and
 * `maxRssBytes` are for the whole process (all workers and the main thread), the rest is this worker's V8 isolate.
 * WebAssembly memories (witness calculator, curve) count as external/array-buffer memory, not as heap.
 */
export interface WorkerMemory {
  /** process.memoryUsage().rss: process-wide. */
  readonly rssBytes: number;
  /** process.resourceUsage().maxRSS * 1024: process-wide peak. */
  readonly maxRssBytes: number;
  /** This isolate's V8 heap (process.memoryUsage().heapUsed/heapTotal are per isolate in a worker). */
  readonly heapUsedBytes: number;
  readonly heapTotalBytes: number;
  readonly externalBytes: number;
  readonly arrayBuffersBytes: number;
  /** v8.getHeapStatistics() of this isolate. */
  readonly v8: {
    readonly usedHeapSize: number;
    readonly totalHeapSize: number;
    readonly heapSizeLimit: number;
    readonly mallocedMemory: number;
    readonly peakMallocedMemory: number;
    readonly externalMemory: number;
  };
}

export interface ProveSuccess {
  readonly ok: true;
  readonly id: string;
  readonly proof: Groth16Proof;
  readonly publicSignals: NumericString[];
  readonly timings: ProveTimings;
  readonly memory: WorkerMemory;
  /** worker_threads threadId of the worker that produced it. */
  readonly threadId: number;
}

export interface ProveFailure {
  readonly ok: false;
  readonly id: string;
  readonly stage: ProveStage;
  /** Human-readable, names the task and the stage. */
  readonly error: string;
  readonly timings?: Partial<ProveTimings>;
  readonly threadId?: number;
}

export type ProveOutcome = ProveSuccess | ProveFailure;

/** The message the pool sends to a worker (ProveTask plus a port for "started" notices). */
export interface WorkerTask extends ProveTask {
  readonly port: MessagePort;
}

/** What the worker returns; the pool adds totalMs. */
export type WorkerResult =
  | (Omit<ProveSuccess, "timings"> & { readonly timings: Omit<ProveTimings, "totalMs"> })
  | (Omit<ProveFailure, "timings"> & { readonly timings: Partial<Omit<ProveTimings, "totalMs">> });

/** Posted by the worker on the task's port. */
export interface WorkerNotice {
  readonly type: "started";
  readonly threadId: number;
}
