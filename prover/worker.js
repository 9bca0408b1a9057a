// @ts-check
/**
 * Piscina worker of the prover pool (prover/pool.ts): witness generation, Groth16 proof, local verification.
 *
 * Plain ESM JavaScript on purpose: Piscina starts workers as bare Node worker threads, which do not inherit the
 * TypeScript loader of the parent (vitest's transform or tsx's hooks), so a .ts worker would fail to load under one
 * of them. This file needs no build step and loads identically under vitest, `tsx` scripts and compiled code. It is
 * typed with JSDoc against prover/types.ts (check: npx tsc --noEmit --allowJs --checkJs ... prover/worker.js).
 *
 * Every proof runs single-threaded, so a pool of N workers keeps N cores busy. The worker builds one
 * single-threaded bn128 curve at start and installs it as snarkjs' shared curve (`globalThis.curve_bn128`), which
 * every snarkjs call without `singleThread` reuses. Passing `{ singleThread: true }` to groth16.prove would also be
 * single-threaded, but makes snarkjs build a fresh curve (wasm module generation + compilation) on every call:
 * ~160 ms per proof on the dev machine, 2/3 of a small proof. groth16.verify has no such option at all and would
 * otherwise create a multi-threaded curve with os.cpus() extra threads inside each worker.
 *
 * Failures are returned as values ({ ok: false, stage, error }), not thrown: Error objects lose their extra fields
 * when cloned back to the main thread.
 */
import { Buffer } from "node:buffer";
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { performance } from "node:perf_hooks";
import process from "node:process";
import { getHeapStatistics } from "node:v8";
import { threadId } from "node:worker_threads";
import * as snarkjs from "snarkjs";

const curve = await snarkjs.curves.getCurveFromName("bn128", { singleThread: true });
const shared = /** @type {{ curve_bn128?: unknown }} */ (globalThis);

/** (Re)installs the single-threaded curve as the shared one, in case anything reset it. */
function useSingleThreadedCurve() {
  if (shared.curve_bn128 !== curve) shared.curve_bn128 = curve;
}

/**
 * After a failed proof: " (<file> is truncated …)" when the zkey's section table runs past the end of the file
 * (snarkjs then fails with an unrelated TypeError), else "".
 * @param {string} file
 * @returns {string}
 */
function zkeyLayoutProblem(file) {
  let fd;
  try {
    fd = openSync(file, "r");
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(12);
    if (readSync(fd, head, 0, 12, 0) < 12 || head.toString("latin1", 0, 4) !== "zkey") return "";
    let pos = 12;
    for (let i = head.readUInt32LE(8); i > 0 && pos <= size; i--) {
      if (readSync(fd, head, 0, 12, pos) < 12) pos = Infinity;
      else pos += 12 + Number(head.readBigUInt64LE(4));
    }
    return pos > size ? ` (zkey ${file} is truncated: its sections run past its ${size} bytes)` : "";
  } catch {
    return "";
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * @param {unknown} error
 * @returns {string}
 */
function oneLine(error) {
  const text = error instanceof Error ? error.message : String(error);
  return text
    .trim()
    .replace(/^Error:\s*/, "")
    .replace(/\s*\n\s*/g, " | ");
}

/** @returns {import("./types.js").WorkerMemory} */
function memory() {
  const usage = process.memoryUsage();
  const heap = getHeapStatistics();
  return {
    rssBytes: usage.rss,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    heapUsedBytes: usage.heapUsed,
    heapTotalBytes: usage.heapTotal,
    externalBytes: usage.external,
    arrayBuffersBytes: usage.arrayBuffers,
    v8: {
      usedHeapSize: heap.used_heap_size,
      totalHeapSize: heap.total_heap_size,
      heapSizeLimit: heap.heap_size_limit,
      mallocedMemory: heap.malloced_memory,
      peakMallocedMemory: heap.peak_malloced_memory,
      externalMemory: heap.external_memory,
    },
  };
}

/**
 * @param {import("./types.js").WorkerTask} task
 * @returns {Promise<import("./types.js").WorkerResult>}
 */
export default async function proveTask(task) {
  const { id, circuit, input, port } = task;
  /** @type {import("./types.js").WorkerNotice} */
  const notice = { type: "started", threadId };
  port.postMessage(notice);
  port.close();

  useSingleThreadedCurve();
  const start = performance.now();
  /** @type {{ witnessMs?: number, proveMs?: number, verifyMs?: number, workerMs?: number }} */
  const timings = {};
  /**
   * @param {import("./types.js").ProveStage} stage
   * @param {string} what
   * @param {unknown} error
   * @returns {import("./types.js").WorkerResult}
   */
  const fail = (stage, what, error) => ({
    ok: false,
    id,
    stage,
    error: `task ${id}: ${what}: ${oneLine(error)}`,
    timings: { ...timings, workerMs: performance.now() - start },
    threadId,
  });

  /** @type {import("snarkjs").MemFile} */
  const wtns = { type: "mem" };
  let t = performance.now();
  try {
    await snarkjs.wtns.calculate(/** @type {Record<string, unknown>} */ (input), circuit.wasmPath, wtns);
  } catch (error) {
    return fail("witness", "witness generation failed (bad input or a constraint is violated)", error);
  }
  timings.witnessMs = performance.now() - t;

  t = performance.now();
  let result;
  try {
    result = await snarkjs.groth16.prove(circuit.zkeyPath, wtns); // uses the single-threaded shared curve
  } catch (error) {
    return fail("prove", `groth16.prove failed${zkeyLayoutProblem(circuit.zkeyPath)}`, error);
  }
  timings.proveMs = performance.now() - t;

  t = performance.now();
  let valid;
  try {
    valid = await snarkjs.groth16.verify(circuit.vkey, result.publicSignals, result.proof);
  } catch (error) {
    return fail("verify", "groth16.verify failed", error);
  }
  timings.verifyMs = performance.now() - t;
  if (!valid) {
    return fail("verify", "proof rejected", "it does not verify against the given verification key");
  }
  return {
    ok: true,
    id,
    proof: result.proof,
    publicSignals: result.publicSignals,
    timings: {
      witnessMs: timings.witnessMs,
      proveMs: timings.proveMs,
      verifyMs: timings.verifyMs,
      workerMs: performance.now() - start,
    },
    memory: memory(),
    threadId,
  };
}
