// `demle audit` and `demle ceremony` (issue #7). The audit passes against a fresh deployment of the demo circuit and
// the demo job circuit as its job kind (committed ceremony zkeys, verifiers generated from them), and fails, naming the
// check, when the r1cs differs (a circuit source edited), the zkey comes from another ceremony, the ptau is swapped,
// the deployed verifier of a layer or a job kind has another verification key, or a job kind matches no job circuit. A ceremony of a tiny circuit with 3 contributions and a beacon verifies; a tampered zkey
// does not; finalize refuses a ceremony without a contribution.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import hre from "hardhat";
import { Command } from "commander";
import { JsonRpcProvider, type Signer } from "ethers";
import * as snarkjs from "snarkjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AUDIT_CHECKS, auditCircuit, manifestFor, runAudit } from "../audit/audit.js";
import {
  CeremonyError,
  ceremonyFinalize,
  ceremonyInit,
  ceremonyVerify,
  loadTranscript,
  type CeremonyTranscript,
} from "../audit/ceremony.js";
import { verifierSourceUnit } from "../audit/committed.js";
import { resolveRecorded } from "../audit/files.js";
import { loadManifest, type CircuitManifest } from "../audit/manifest.js";
import type { CheckResult } from "../audit/report.js";
import { exportVerifier, readZkeyInfo } from "../audit/zkey.js";
import { registerAuditCommands } from "../cli/audit.js";
import { CIRCUIT_BUILD_DIR, instantiateCircuit, REPO_ROOT } from "../circuits/compile.js";
import { MINING_CIRCUITS, prepareCircuit, type PreparedCircuit } from "../miner/circuits.js";
import { deployDemle, miningParams, type Deployment } from "../miner/deploy.js";
import { JOB_CIRCUITS, prepareJobCircuit } from "../miner/job-circuits.js";
import { withBn128Curve } from "../prover/snarkjs-runtime.js";

const quiet = () => {};
const tmp = mkdtempSync(path.join(os.tmpdir(), "demle-audit-"));

/** Runs `demle <args>` (the audit and ceremony commands) in-process; returns stdout lines and the exit code. */
async function demle(...args: string[]): Promise<{ out: string[]; exitCode: number }> {
  const out: string[] = [];
  const program = new Command().exitOverride();
  registerAuditCommands(program, { out: (line) => out.push(line), err: quiet });
  const saved = process.exitCode;
  process.exitCode = undefined;
  try {
    await program.parseAsync(["node", "demle", ...args]);
    return { out, exitCode: Number(process.exitCode ?? 0) };
  } finally {
    process.exitCode = saved;
  }
}

function byCheck(results: readonly CheckResult[]): Record<string, CheckResult> {
  return Object.fromEntries(results.map((r) => [r.check, r]));
}

/** A zkey that verifies against the same r1cs and ptau but comes from another ceremony (one more contribution). */
async function zkeyOfAnotherCeremony(zkey: string, out: string): Promise<string> {
  await withBn128Curve(() => snarkjs.zKey.contribute(zkey, out, "another ceremony", "other entropy"));
  return out;
}

/** A freshly made power-8 ptau: a valid phase-1 file with another tau than the committed one. */
async function freshPtau(out: string): Promise<string> {
  await withBn128Curve(async () => {
    const curve = await snarkjs.curves.getCurveFromName("bn128");
    await snarkjs.powersOfTau.newAccumulator(curve, 8, `${out}.0`);
    await snarkjs.powersOfTau.contribute(`${out}.0`, `${out}.1`, "swap", "swap entropy");
    await snarkjs.powersOfTau.preparePhase2(`${out}.1`, out);
  });
  return out;
}

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("demle audit on the demo circuit and the demo job circuit", () => {
  let manifest: CircuitManifest;
  let jobManifest: CircuitManifest;
  let prepared: PreparedCircuit;
  let job: Awaited<ReturnType<typeof prepareJobCircuit>>;
  let server: Awaited<ReturnType<typeof hre.network.createServer>>;
  let provider: JsonRpcProvider;
  let url: string;
  let signer: Signer;
  let deployment: Deployment;
  let otherZkey: Promise<string> | undefined;
  const anotherCeremony = () =>
    (otherZkey ??= zkeyOfAnotherCeremony(resolveRecorded(manifest.phase2!.zkey.file), path.join(tmp, "other.zkey")));

  /** Deploys the gemm-demo workload with the given job kinds (default: the demo job circuit's). */
  const deploy = (jobKinds: Parameters<typeof deployDemle>[4] = [job], layers = [prepared]) =>
    deployDemle(signer, "gemm-demo", layers, miningParams({ proofsPerCommitment: 1 }), jobKinds);
  /** `demle audit --rpc --contract <mining> --checks chain-params,chain-code,chain-vk [args]`. */
  const chainAudit = (mining: string, ...args: string[]) =>
    demle("audit", "--rpc", url, "--contract", mining, "--checks", "chain-params,chain-code,chain-vk", ...args);

  beforeAll(async () => {
    manifest = manifestFor("demo");
    jobManifest = manifestFor("gemm-job-demo");
    prepared = await prepareCircuit(MINING_CIRCUITS.demo, quiet);
    job = await prepareJobCircuit(JOB_CIRCUITS["gemm-job-demo"], quiet);
    server = await hre.network.createServer({}, "127.0.0.1", 0);
    const { address, port } = await server.listen();
    url = `http://${address}:${port}`;
    provider = new JsonRpcProvider(url);
    signer = await provider.getSigner(0);
    deployment = await deploy();
  }, 600_000);

  afterAll(async () => {
    provider?.destroy();
    await server?.close();
  });

  it("deploys the verifiers generated from the committed ceremony zkeys", () => {
    expect(path.relative(REPO_ROOT, prepared.setup.zkeyPath)).toBe(path.join("ceremony", "demo", "final.zkey"));
    expect(path.basename(prepared.setup.verifierPath)).toBe(manifest.phase2!.verifier.sourceUnit);
    expect(jobManifest).toMatchObject({ circuit: job.circuit.name, miningCircuit: null });
    expect(path.relative(REPO_ROOT, job.setup.zkeyPath)).toBe(path.join("ceremony", "gemm-job-demo", "final.zkey"));
    expect(path.basename(job.setup.verifierPath)).toBe(jobManifest.phase2!.verifier.sourceUnit);
  });

  it("passes every check of the layer's and the job kind's circuits against a fresh deployment (--json)", async () => {
    const { out, exitCode } = await demle("audit", "--rpc", url, "--contract", deployment.mining, "--json");
    const results = JSON.parse(out.join("\n")) as CheckResult[];
    expect(results.filter((r) => !r.ok)).toEqual([]);
    for (const { circuit } of [manifest, jobManifest]) {
      const own = results.filter((r) => r.circuit === circuit);
      expect(own.map((r) => r.check)).toEqual([...AUDIT_CHECKS]);
      expect(byCheck(own)["chain-code"]!.detail).toMatch(/full code hash matches too/);
    }
    expect(results).toHaveLength(2 * AUDIT_CHECKS.length);
    const job = byCheck(results.filter((r) => r.circuit === jobManifest.circuit));
    expect(job["chain-params"]!.detail).toMatch(
      /job circuit's parameters \{.*"proofsPerJob":4.*\} in job kind\(s\) 0 /,
    );
    expect(job["chain-code"]!.detail).toMatch(/^code of job kind 0's verifier 0x[0-9a-fA-F]{40} /);
    expect(exitCode).toBe(0);
  }, 600_000);

  it("fails the r1cs check when a circuit source differs", async () => {
    // The demo main file with another template parameter (K = 8 instead of 16), under build/ (circom only sees
    // files below the repo root).
    const dir = path.join(REPO_ROOT, "build", "audit-test");
    mkdirSync(dir, { recursive: true });
    const edited = path.join(dir, "gemm_seed_demo_2x2x16.circom");
    writeFileSync(
      edited,
      readFileSync(resolveRecorded(manifest.mainFile), "utf8")
        .replace('include "../gemm_seed.circom";', 'include "../../circuits/gemm_seed.circom";')
        .replace("Fp8GemmSeedProof(1, 2, 2, 16, 3, 3)", "Fp8GemmSeedProof(1, 2, 2, 8, 3, 3)"),
    );
    try {
      const [r1cs] = await auditCircuit({ manifest, mainFile: edited }, { checks: ["r1cs"], log: quiet });
      expect(r1cs).toMatchObject({ check: "r1cs", ok: false });
      expect(r1cs!.detail).toMatch(/compiles to r1cs sha256 .* manifest pins/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(path.join(CIRCUIT_BUILD_DIR, `audit_${manifest.circuit}_alt`), { recursive: true, force: true });
    }
  }, 180_000);

  it("fails the zkey checks for a zkey from another ceremony (which still verifies against r1cs + ptau)", async () => {
    const results = byCheck(
      await auditCircuit(
        { manifest, zkeyPath: await anotherCeremony() },
        { checks: ["zkey", "contributions", "vkey", "verifier"], log: quiet },
      ),
    );
    expect(results.zkey).toMatchObject({ ok: false });
    expect(results.zkey!.detail).toMatch(/another ceremony/);
    expect(results.contributions).toMatchObject({ ok: false });
    expect(results.vkey).toMatchObject({ ok: false });
    expect(results.verifier).toMatchObject({ ok: false });
  }, 120_000);

  it("fails the ptau check for a swapped ptau", async () => {
    const ptau = await freshPtau(path.join(tmp, "swapped_demo.ptau"));
    const [result] = await auditCircuit({ manifest, ptauPath: ptau }, { checks: ["ptau"], log: quiet });
    expect(result).toMatchObject({ check: "ptau", ok: false });
    expect(result!.detail).toMatch(/has blake2b-512 .* manifest pins/);
  }, 120_000);

  it("fails the chain checks when the deployed verifier has another verification key", async () => {
    const exported = await exportVerifier(await anotherCeremony());
    const file = path.join(tmp, verifierSourceUnit(manifest.circuit)); // same file name: only the vk differs
    writeFileSync(file, exported.source);
    const other = { ...prepared, setup: { ...prepared.setup, verifierPath: file } };
    const bad = await deploy([], [other]);

    const { out, exitCode } = await chainAudit(bad.mining);
    expect(exitCode).toBe(1);
    expect(out[0]).toMatch(/^PASS chain-params gemm_seed_demo_2x2x16: /);
    expect(out[1]).toMatch(
      /^FAIL chain-code gemm_seed_demo_2x2x16: code of layer 0's verifier 0x[0-9a-fA-F]{40} has keccak256/,
    );
    // Phase 2 changes only delta: the audit names the four constants that differ.
    expect(out[2]).toMatch(/^FAIL chain-vk .*4 of \d+ constants .*\(deltax1, deltax2, deltay1, deltay2\)$/);

    // The job circuit, asked for by name, has no job kind to check in a deployment without job kinds.
    const { out: jobOut } = await chainAudit(bad.mining, "--circuit", "gemm-job-demo");
    expect(jobOut[0]).toMatch(/^FAIL chain-params gemm_job_demo_2x4x16: no job kind of .* it has no job kinds$/);

    // The honest deployment still passes the same checks, for its layer and its job kind.
    const honest = await runAudit({
      chain: { provider, contract: deployment.mining },
      checks: ["chain-params", "chain-code", "chain-vk"],
      log: quiet,
    });
    expect(honest.map((r) => [r.circuit, r.ok])).toEqual([
      ...Array.from({ length: 3 }, () => [manifest.circuit, true]),
      ...Array.from({ length: 3 }, () => [jobManifest.circuit, true]),
    ]);
  }, 120_000);

  it("fails the chain checks of a job kind whose verifier is the GEMM seed circuit's (demle audit --circuit gemm-job-demo)", async () => {
    const bad = await deploy([{ circuit: job.circuit, setup: prepared.setup }]);
    const { out, exitCode } = await chainAudit(bad.mining, "--circuit", "gemm-job-demo");
    expect(exitCode).toBe(1);
    expect(out).toHaveLength(3);
    expect(out[0]).toMatch(
      /^PASS chain-params gemm_job_demo_2x4x16: .* in job kind\(s\) 0 \(verifier 0x[0-9a-fA-F]{40}\)$/,
    );
    expect(out[1]).toMatch(
      /^FAIL chain-code gemm_job_demo_2x4x16: code of job kind 0's verifier 0x[0-9a-fA-F]{40} has keccak256 .* manifest pins/,
    );
    // Another circuit, same ptau: alpha, beta and gamma agree; delta and the IC points (one more public input) do not.
    expect(out[2]).toMatch(
      /^FAIL chain-vk gemm_job_demo_2x4x16: job kind 0's verifier .* has another verification key: \d+ of \d+ constants .*deltax1.*IC/,
    );
  }, 120_000);

  it("fails chain-params for a job kind whose parameters are no job circuit's, and still audits the layer", async () => {
    const altered = await deploy([{ circuit: { ...job.circuit, proofsPerJob: 3 }, setup: job.setup }]);
    const results = await runAudit({
      chain: { provider, contract: altered.mining },
      checks: ["chain-params", "chain-code", "chain-vk"],
      log: quiet,
    });
    expect(results[0]).toMatchObject({ check: "chain-params", circuit: "?", ok: false });
    expect(results[0]!.detail).toMatch(
      /^job kind 0's parameters \{.*"proofsPerJob":3.*\} \(verifier 0x[0-9a-fA-F]{40}\) match no known circuit \(job circuits: gemm-job-demo \{.*"proofsPerJob":4.*\}, gemm-job \{/,
    );
    expect(results.slice(1).map((r) => [r.check, r.circuit, r.ok])).toEqual(
      ["chain-params", "chain-code", "chain-vk"].map((check) => [check, manifest.circuit, true]),
    );

    // Asked for by name, the job circuit finds no job kind with its parameters and names the deployed ones.
    const { out, exitCode } = await chainAudit(altered.mining, "--circuit", "gemm-job-demo");
    expect(exitCode).toBe(1);
    expect(out[0]).toMatch(
      /^FAIL chain-params gemm_job_demo_2x4x16: no job kind of DemleMining .* has the job circuit's parameters \{.*"proofsPerJob":4.*\}; its job kinds have \{.*"proofsPerJob":3/,
    );
    expect(out.slice(1)).toEqual(
      ["chain-code", "chain-vk"].map(
        (check) =>
          `FAIL ${check} gemm_job_demo_2x4x16: no deployed layer or job kind to check (see the chain-params line)`,
      ),
    );
  }, 120_000);
});

describe("demle ceremony on a tiny circuit", () => {
  const dir = path.join(tmp, "ceremony");
  const manifestFile = path.join(tmp, "manifest.json");
  // circuits/test/test_multiplier.circom (196 constraints), instantiated under build/generated-mains/.
  const circuit = {
    name: "audit_test_multiplier",
    mainFile: path.join(REPO_ROOT, "build", "generated-mains", "audit_test_multiplier.circom"),
  };

  beforeAll(async () => {
    await instantiateCircuit(circuit.name, "test/test_multiplier.circom", "TestMultiplier", [64, 64], ["c"]);
    await ceremonyInit({ circuit, dir, log: quiet });
  }, 300_000);

  it("verifies after 3 contributions and a beacon, with the transcript listing each contribution hash", async () => {
    process.env.DEMLE_CEREMONY_ENTROPY = "keyboard mashing";
    try {
      for (const name of ["Alice", "Bob", "Carol"]) {
        const { out, exitCode } = await demle("ceremony", "contribute", "--dir", dir, "--name", name);
        expect(exitCode).toBe(0);
        expect(out[0]).toMatch(new RegExp(`^contribution #\\d by ${name}: [0-9a-f]{128}$`));
      }
    } finally {
      delete process.env.DEMLE_CEREMONY_ENTROPY;
    }
    const beacon = "0x" + "5a".repeat(32);
    const finalized = await demle("ceremony", "finalize", "--dir", dir, "--beacon", beacon, "--manifest", manifestFile);
    expect(finalized.exitCode).toBe(0);

    const verified = await demle("ceremony", "verify", "--dir", dir, "--json");
    const checks = JSON.parse(verified.out.join("\n")) as CheckResult[];
    expect(checks.filter((c) => !c.ok)).toEqual([]);
    expect(checks.map((c) => c.check)).toEqual([
      "ceremony-ptau",
      "ceremony-r1cs",
      "ceremony-zkey",
      "zkey-verify",
      "ceremony-transcript",
    ]);
    expect(verified.exitCode).toBe(0);

    const transcript = loadTranscript(dir);
    expect(transcript.entries.map((e) => [e.type, e.name ?? null])).toEqual([
      ["init", null],
      ["contribution", "Alice"],
      ["contribution", "Bob"],
      ["contribution", "Carol"],
      ["beacon", "final beacon"],
    ]);
    const info = await readZkeyInfo(path.join(dir, "final.zkey"));
    expect(info.contributions.map((c) => c.contributionHash)).toEqual(
      transcript.entries.slice(1).map((e) => e.contributionHash),
    );
    expect(info.contributions[3]).toMatchObject({ type: "beacon", beaconHash: "5a".repeat(32), iterationsExp: 10 });

    // The manifest finalize wrote audits clean (everything but the chain).
    const results = await auditCircuit({ manifest: loadManifest(manifestFile) }, { log: quiet });
    expect(results.filter((r) => !r.ok)).toEqual([]);
  }, 300_000);

  it("does not verify a tampered zkey", async () => {
    const copy = path.join(tmp, "tampered");
    cpSync(dir, copy, { recursive: true });
    const zkey = path.join(copy, "final.zkey");
    const data = readFileSync(zkey);
    // Flip a byte inside the first point of the L section (section 8).
    let pos = 12;
    for (let i = 0; i < data.readUInt32LE(8); i++) {
      const type = data.readUInt32LE(pos);
      if (type === 8) break;
      pos += 12 + Number(data.readBigUInt64LE(pos + 4));
    }
    data.writeUInt8(data.readUInt8(pos + 12 + 5) ^ 0x01, pos + 12 + 5);
    writeFileSync(zkey, data);

    const checks = byCheck(await ceremonyVerify({ dir: copy, log: quiet }));
    expect(checks["zkey-verify"]).toMatchObject({ ok: false });
    expect(checks["zkey-verify"]!.detail).toMatch(/snarkjs zkey verify rejects final\.zkey/);
    expect(checks["ceremony-zkey"]).toMatchObject({ ok: false });

    // A transcript that misreports a contribution hash does not verify either.
    const untouched = path.join(tmp, "lying-transcript");
    cpSync(dir, untouched, { recursive: true });
    const t = JSON.parse(readFileSync(path.join(untouched, "transcript.json"), "utf8")) as CeremonyTranscript;
    writeFileSync(
      path.join(untouched, "transcript.json"),
      JSON.stringify({
        ...t,
        entries: t.entries.map((e) => (e.index === 2 ? { ...e, contributionHash: "00".repeat(64) } : e)),
      }),
    );
    const lying = byCheck(await ceremonyVerify({ dir: untouched, log: quiet }));
    expect(lying["ceremony-transcript"]).toMatchObject({ ok: false });
    expect(lying["ceremony-transcript"]!.detail).toMatch(/contribution #2/);
  }, 120_000);

  it("fails the audit's ptau and zkey-verify checks when the ptau is swapped", async () => {
    const ptau = await freshPtau(path.join(tmp, "swapped_tiny.ptau"));
    const results = byCheck(
      await auditCircuit(
        { manifest: loadManifest(manifestFile), ptauPath: ptau },
        { checks: ["ptau", "zkey-verify"], reuseBuild: true, log: quiet },
      ),
    );
    expect(results.ptau).toMatchObject({ ok: false });
    expect(results["zkey-verify"]).toMatchObject({ ok: false });
  }, 120_000);

  it("refuses to finalize a ceremony with no contribution beyond the beacon", async () => {
    const empty = path.join(tmp, "empty");
    await ceremonyInit({ circuit, dir: empty, log: quiet });
    await expect(
      ceremonyFinalize({ dir: empty, beacon: "5a".repeat(32), iterationsExp: 10, manifestPath: null }),
    ).rejects.toThrow(CeremonyError);
    await expect(
      ceremonyFinalize({ dir: empty, beacon: "5a".repeat(32), iterationsExp: 10, manifestPath: null }),
    ).rejects.toThrow(/no contribution beyond the initial key/);
    // Nothing was written.
    expect(loadTranscript(empty).final).toBeNull();
    expect(existsSync(path.join(empty, "final.zkey"))).toBe(false);
  }, 120_000);
});
