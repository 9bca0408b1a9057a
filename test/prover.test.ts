/**
 * Proving infrastructure: dev ptau, phase-2 setup, prover pool. Uses the test-only circuit
 * circuits/test/test_multiplier.circom (196 constraints, public input c), which fits a power-8 ptau.
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as snarkjs from "snarkjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { instantiateCircuit, type CompiledCircuit } from "../circuits/compile.js";
import {
  checkPtauFile,
  DEV_PTAU_DIR,
  ensureDevPtau,
  ensureDevPtauInfo,
  HERMEZ_PTAU,
  inspectPtau,
  PtauError,
  SHARED_POT16_BLAKE2B,
  SHARED_PTAU_DIR,
  verifyPublicPtau,
} from "../ptau/ptau.js";
import { ProveError, ProverPool, type ProveOutcome, type ProveTask, type TaskEvent } from "../prover/pool.js";
import { requiredPtauPower, setupCircuit, type CircuitSetup } from "../prover/setup.js";
import { terminateBn128Curve } from "../prover/snarkjs-runtime.js";

let compiled: CompiledCircuit;
let setup: CircuitSetup;
let pool: ProverPool;
let tmp: string;
const timings: Record<string, number> = {};

function task(id: string, a: number | bigint, b: number | bigint, c = BigInt(a) * BigInt(b)): ProveTask {
  return { id, circuit: setup.prover, input: { a: BigInt(a), b: String(b), c } };
}

async function collect(outcomes: AsyncIterable<ProveOutcome>): Promise<Map<string, ProveOutcome>> {
  const byId = new Map<string, ProveOutcome>();
  for await (const outcome of outcomes) byId.set(outcome.id, outcome);
  return byId;
}

beforeAll(async () => {
  tmp = mkdtempSync(path.join(tmpdir(), "demle-prover-test-"));
  let t = performance.now();
  compiled = await instantiateCircuit(
    "test_multiplier",
    "test/test_multiplier.circom",
    "TestMultiplier",
    [64, 64],
    ["c"],
  );
  timings.compileMs = performance.now() - t;
  t = performance.now();
  setup = await setupCircuit(compiled); // builds build/ptau/pot8_dev_insecure.ptau (~5 s) on first run
  timings.setupMs = performance.now() - t;
  pool = new ProverPool({ workers: 2 });
}, 300_000);

afterAll(async () => {
  await pool?.close();
  await terminateBn128Curve(); // the main-thread groth16.verify calls below built snarkjs' shared curve
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  console.log(
    "prover test timings (ms):",
    JSON.stringify(timings, (_k, v: unknown) => (typeof v === "number" ? Math.round(v) : v)),
  );
});

describe("setup", () => {
  it("picks the smallest ptau power that fits and writes zkey, vkey and Solidity verifier", () => {
    expect(setup.r1cs.nConstraints).toBe(196);
    expect(requiredPtauPower(setup.r1cs)).toBe(8); // 196 + 2 public signals < 2^8
    expect(setup.power).toBe(8);
    expect(path.basename(setup.ptauPath)).toBe("pot8_dev_insecure.ptau");
    for (const file of [setup.zkeyPath, setup.vkeyPath, setup.verifierPath]) {
      expect(existsSync(file)).toBe(true);
      expect(path.basename(file)).toContain("insecure");
    }
    expect(setup.vkey.protocol).toBe("groth16");
    expect(setup.vkey.nPublic).toBe(2); // output `out`, public input `c`
  });

  it("writes a Solidity verifier holding the verification key's constants", () => {
    const sol = readFileSync(setup.verifierPath, "utf8");
    expect(sol).toMatch(/contract Groth16Verifier/);
    const { vk_alpha_1, vk_beta_2, vk_delta_2, IC } = setup.vkey;
    for (const constant of [vk_alpha_1[0], vk_alpha_1[1], vk_beta_2[0]![1], vk_delta_2[1]![0], IC[2]![1]]) {
      expect(sol).toContain(constant);
    }
  });

  it("does not rebuild a cached setup", async () => {
    const mtime = statSync(setup.zkeyPath).mtimeMs;
    const again = await setupCircuit(compiled);
    expect(again.cached).toBe(true);
    expect(statSync(again.zkeyPath).mtimeMs).toBe(mtime);
    expect(again.vkey).toEqual(setup.vkey);
  });

  it("rejects a ptau power that does not fit, and circuits above 2^16 without a public ptau", async () => {
    await expect(setupCircuit(compiled, { power: 7, log: () => {} })).rejects.toThrow(/needs 8\.\.16/);
    // An r1cs header claiming 100,000 constraints: the power check runs before any ptau work.
    const header = Buffer.alloc(12 + 12 + 4 + 32 + 28);
    header.write("r1cs", 0, "latin1");
    header.writeUInt32LE(1, 4);
    header.writeUInt32LE(1, 8);
    header.writeUInt32LE(1, 12); // section type 1 (header)
    header.writeBigUInt64LE(BigInt(4 + 32 + 28), 16);
    header.writeUInt32LE(32, 24);
    header.writeUInt32LE(1, 24 + 4 + 32 + 8); // nPubIn
    header.writeUInt32LE(100_000, 24 + 4 + 32 + 24); // nConstraints
    const big = path.join(tmp, "big.r1cs");
    writeFileSync(big, header);
    await expect(setupCircuit({ name: "big", r1csPath: big, wasmPath: "" }, { log: () => {} })).rejects.toThrow(
      /power 17 .*largest development ptau \(2\^16\).*powersOfTau28_hez_final_17/,
    );
  });
});

describe("prover pool", () => {
  it("proves a batch; every proof verifies and reports timings and memory", async () => {
    const progress: number[] = [];
    const t = performance.now();
    const results = await collect(
      pool.proveMany([task("p1", 3, 5), task("p2", 7, 11), task("p3", 2, 2n ** 63n), task("p4", 65_521, 65_537)], {
        onProgress: (p) => progress.push(p.done),
      }),
    );
    timings.pool4ProofsMs = performance.now() - t;
    expect([...results.keys()].sort()).toEqual(["p1", "p2", "p3", "p4"]);
    for (const outcome of results.values()) {
      expect(outcome.ok, outcome.ok ? "" : outcome.error).toBe(true);
      if (!outcome.ok) continue;
      expect(await snarkjs.groth16.verify(setup.vkey, outcome.publicSignals, outcome.proof)).toBe(true);
      expect(outcome.timings.proveMs).toBeGreaterThan(0);
      expect(outcome.timings.witnessMs).toBeGreaterThan(0);
      expect(outcome.memory.heapUsedBytes).toBeGreaterThan(0);
      expect(outcome.memory.rssBytes).toBeGreaterThan(outcome.memory.heapUsedBytes);
      expect(outcome.memory.v8.heapSizeLimit).toBeGreaterThan(0);
    }
    const p1 = results.get("p1");
    expect(p1?.ok && p1.publicSignals[1]).toBe("15"); // [out, c]
    expect(progress.at(-1)).toBe(4);
    const one = results.get("p4");
    if (one?.ok) timings.proveMsInWorker = one.timings.proveMs;
  });

  it("a proof made by one pool.prove call verifies", async () => {
    const t = performance.now();
    const result = await pool.prove(task("single", 13, 17));
    timings.singleProveTotalMs = performance.now() - t;
    expect(result.publicSignals[1]).toBe("221");
    expect(await snarkjs.groth16.verify(setup.vkey, result.publicSignals, result.proof)).toBe(true);
  });

  it("fails malformed inputs per task while the other tasks succeed", async () => {
    const results = await collect(
      pool.proveMany([
        task("good1", 3, 5),
        { id: "not-a-number", circuit: setup.prover, input: { a: "three", b: 5, c: 15 } },
        { id: "missing-signal", circuit: setup.prover, input: { a: 3, c: 15 } },
        { id: "unknown-signal", circuit: setup.prover, input: { a: 3, b: 5, c: 15, d: 1 } },
        task("good2", 5, 7),
      ]),
    );
    expect(results.get("good1")?.ok).toBe(true);
    expect(results.get("good2")?.ok).toBe(true);
    expect(results.get("not-a-number")).toMatchObject({ ok: false, stage: "input" });
    expect(results.get("not-a-number")).toMatchObject({ error: expect.stringMatching(/signal "a"/) });
    // JavaScript numbers above 2^53 have lost precision already: rejected, pass a bigint or a decimal string.
    const unsafe = await pool.run({ id: "unsafe-number", circuit: setup.prover, input: { a: 2 ** 60, b: 3, c: 1 } });
    expect(unsafe).toMatchObject({ ok: false, stage: "input" });
    expect(results.get("missing-signal")).toMatchObject({ ok: false, stage: "witness" });
    expect(results.get("missing-signal")).toMatchObject({
      error: expect.stringMatching(/Not all inputs have been set/),
    });
    expect(results.get("unknown-signal")).toMatchObject({ ok: false, stage: "witness" });
  });

  it("fails a task whose witness violates a constraint", async () => {
    const failures = [task("a-is-one", 1, 15), task("wrong-product", 3, 5, 16n), task("too-wide", 2n ** 64n + 1n, 3)];
    const results = await collect(pool.proveMany([...failures, task("ok", 3, 5)]));
    for (const { id } of failures) {
      expect(results.get(id)).toMatchObject({ ok: false, stage: "witness" });
      expect(results.get(id)).toMatchObject({ error: expect.stringMatching(/^task .*Assert Failed/) });
    }
    expect(results.get("ok")?.ok).toBe(true);
    await expect(pool.prove(task("throws", 1, 15))).rejects.toBeInstanceOf(ProveError);
  });

  it("times a task out, replaces its worker, and keeps working", async () => {
    const outcome = await pool.run(task("slow", 3, 5), { timeoutMs: 1 });
    expect(outcome).toMatchObject({ ok: false, stage: "timeout" });
    expect(outcome.ok || outcome.error).toMatch(/timed out after 1 ms/);
    expect((await pool.prove(task("after-timeout", 3, 5))).ok).toBe(true);
    expect(pool.threads.length).toBe(2);
  });

  it("replaces a worker that dies mid-task", async () => {
    const killOnStart = (event: TaskEvent) => {
      if (event.type === "started" && event.id === "crash") {
        void pool.threads.find((thread) => thread.threadId === event.threadId)?.terminate();
      }
    };
    pool.on("task", killOnStart);
    // The kill races the ~100 ms proof; on a starved machine the proof may win, so allow a few attempts.
    let outcome = await pool.run(task("crash", 3, 5));
    for (let attempt = 1; attempt < 3 && outcome.ok; attempt++) outcome = await pool.run(task("crash", 3, 5));
    pool.off("task", killOnStart);
    expect(outcome).toMatchObject({ ok: false, stage: "worker" });
    expect(outcome.ok || outcome.error).toMatch(/worker thread died/);
    const after = await collect(pool.proveMany([task("after-crash-1", 3, 5), task("after-crash-2", 5, 7)]));
    expect([...after.values()].every((o) => o.ok)).toBe(true);
  });

  it("cancels queued tasks on abort, and the pool keeps working", async () => {
    const controller = new AbortController();
    const tasks = Array.from({ length: 8 }, (_, i) => task(`batch-${i}`, 3 + i, 5));
    const outcomes: ProveOutcome[] = [];
    for await (const outcome of pool.proveMany(tasks, { signal: controller.signal, maxInFlight: 4 })) {
      outcomes.push(outcome);
      controller.abort(); // after the first result
    }
    expect(outcomes).toHaveLength(8); // one outcome per task, including those never submitted
    expect(outcomes[0]?.ok).toBe(true);
    const aborted = outcomes.filter((o) => !o.ok && o.stage === "aborted");
    expect(aborted.length).toBeGreaterThanOrEqual(6);
    expect(aborted.some((o) => !o.ok && /cancelled before it started/.test(o.error))).toBe(true);

    const preAborted = AbortSignal.abort();
    await expect(pool.prove(task("pre-aborted", 3, 5), { signal: preAborted })).rejects.toMatchObject({
      stage: "aborted",
    });
    expect((await pool.prove(task("after-abort", 3, 5))).ok).toBe(true);
    expect(pool.progress).toMatchObject({ queued: 0, running: 0 });
  });

  it("starts tasks in the order they were submitted, also when they carry abort signals", async () => {
    const single = new ProverPool({ workers: 1 });
    try {
      const started: string[] = [];
      single.on("task", (event) => {
        if (event.type === "started") started.push(event.id);
      });
      const ids = ["fifo-0", "fifo-1", "fifo-2", "fifo-3", "fifo-4"];
      const signal = new AbortController().signal;
      const outcomes = await Promise.all(ids.map((id, i) => single.run(task(id, 3 + i, 5), { signal })));
      expect(outcomes.every((o) => o.ok)).toBe(true);
      expect(started).toEqual(ids);
    } finally {
      await single.close();
    }
  });

  it("estimates its backlog from reservations and measured task times (admission control)", async () => {
    const fresh = new ProverPool({ workers: 2 });
    try {
      expect(fresh.backlogMs(4)).toBeUndefined();
      const held = fresh.reserve(2);
      expect(fresh.pendingTasks).toBe(2);
      held();
      expect(fresh.pendingTasks).toBe(0);
      const done = await fresh.prove(task("measured", 3, 5));
      const perTask = done.timings.workerMs;
      expect(fresh.backlogMs(4)).toBe(2 * perTask);
      const release = fresh.reserve(3);
      expect(fresh.backlogMs(4)).toBe(4 * perTask);
      release();
      release();
      expect(fresh.backlogMs(1)).toBe(perTask);
      expect(() => fresh.reserve(-1)).toThrow(RangeError);
    } finally {
      await fresh.close();
    }
  });

  it("closes cleanly and fails tasks submitted afterwards", async () => {
    const small = new ProverPool({ workers: 1 });
    expect((await small.prove(task("before-close", 3, 5))).ok).toBe(true);
    await small.close();
    expect(await small.run(task("after-close", 3, 5))).toMatchObject({ ok: false, stage: "aborted" });
  });
});

describe("ptau", () => {
  it("detects a corrupted or truncated copy of a dev ptau", async () => {
    const dev = await ensureDevPtauInfo(8);
    expect(dev.cached).toBe(true);
    const dir = path.join(tmp, "ptau");
    const copy = path.join(dir, "pot8_dev_insecure.ptau");
    mkdirSync(dir, { recursive: true });
    // A flipped byte inside a point: the structure is intact, the hash is not.
    copyFileSync(dev.path, copy);
    copyFileSync(`${dev.path}.json`, `${copy}.json`);
    const bytes = readFileSync(copy);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    writeFileSync(copy, bytes);
    await expect(checkPtauFile(copy, { blake2b512: dev.blake2b512 })).rejects.toMatchObject({
      code: "hash-mismatch",
    });
    // ensureDevPtau re-checks a cached file against its record and says what to do.
    await expect(ensureDevPtau(8, { dir, log: () => {} })).rejects.toThrow(/blake2b-512 mismatch.*delete/);

    // A truncated file is reported as such without hashing.
    truncateSync(copy, bytes.length - 1000);
    await expect(inspectPtau(copy)).rejects.toMatchObject({ code: "truncated" });
    await expect(inspectPtau(copy)).rejects.toBeInstanceOf(PtauError);
  }, 60_000);

  it("verifyPublicPtau accepts only the published Hermez files", async () => {
    const devPath = path.join(DEV_PTAU_DIR, "pot8_dev_insecure.ptau");
    await expect(verifyPublicPtau(devPath, 8)).rejects.toThrow(/is not powersOfTau28_hez_final_08\.ptau/);
    await expect(verifyPublicPtau(devPath, 8)).rejects.toMatchObject({ code: "hash-mismatch" });
    await expect(verifyPublicPtau(devPath, 7)).rejects.toMatchObject({ code: "unknown-power" });
    await expect(verifyPublicPtau(path.join(tmp, "absent.ptau"), 10)).rejects.toMatchObject({ code: "missing" });
    for (const power of [10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 28]) {
      expect(HERMEZ_PTAU[power]?.blake2b512).toMatch(/^[0-9a-f]{128}$/);
    }
    expect(HERMEZ_PTAU[28]?.file).toBe("powersOfTau28_hez_final.ptau");
  });

  it.skipIf(!existsSync(path.join(SHARED_PTAU_DIR, "pot16_dev.ptau")))(
    "uses the shared pot16 cache, whose pinned hash matches its .b2 file",
    async () => {
      const b2 = readFileSync(path.join(SHARED_PTAU_DIR, "pot16_dev.ptau.b2"), "utf8").split(/\s+/)[0];
      expect(b2).toBe(SHARED_POT16_BLAKE2B);
      const t = performance.now();
      const dev = await ensureDevPtauInfo(16, { log: () => {} });
      timings.pot16EnsureMs = performance.now() - t;
      expect(dev.blake2b512).toBe(SHARED_POT16_BLAKE2B);
      expect(dev.record.source).toBe("shared-cache");
    },
    60_000,
  );
});
