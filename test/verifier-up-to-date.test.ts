// CI check: every committed zkey (pinned by a manifest in circuits/manifests/) regenerates exactly the verification
// key, Solidity verifier source and verifier runtime bytecode its manifest pins. Fails when a zkey, the snarkjs
// template or the compiler settings changed without re-running `demle ceremony finalize` (or `demle manifest`).
import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { listManifests } from "../audit/audit.js";
import { resolveRecorded, sha256File } from "../audit/files.js";
import { compileVerifierRuntime, exportVerifier, vkeySha256 } from "../audit/zkey.js";
import { MINING_CIRCUITS, MINING_WORKLOADS, miningCircuit } from "../miner/circuits.js";
import { JOB_CIRCUITS, WORKLOAD_JOB_CIRCUITS } from "../miner/job-circuits.js";

const manifests = listManifests();

describe("committed verifiers are up to date with their zkeys", () => {
  it("has a manifest for each mining and job circuit, and every circuit of the demo deployment pins a committed zkey", () => {
    const mining = manifests.filter((m) => m.manifest.miningCircuit !== null);
    expect(mining.map((m) => m.manifest.miningCircuit).sort()).toEqual(Object.keys(MINING_CIRCUITS).sort());
    for (const { manifest } of mining) {
      expect(manifest.circuit).toBe(miningCircuit(manifest.miningCircuit!).name);
    }
    const jobs = manifests.filter((m) => m.manifest.miningCircuit === null).map((m) => m.manifest.circuit);
    expect(jobs.sort()).toEqual(
      Object.values(JOB_CIRCUITS)
        .map((c) => c.name)
        .sort(),
    );
    const demo = [
      ...MINING_WORKLOADS.demo.map(({ circuit }) => circuit.name),
      ...WORKLOAD_JOB_CIRCUITS.demo!.map((name) => JOB_CIRCUITS[name].name),
    ];
    for (const name of demo) {
      const manifest = manifests.find((m) => m.manifest.circuit === name)!.manifest;
      expect(manifest.phase2?.zkey.file, name).toMatch(/^ceremony\/[a-z0-9-]+\/final\.zkey$/);
    }
  });

  for (const { manifest } of manifests.filter((m) => m.manifest.phase2 !== null)) {
    const phase2 = manifest.phase2!;
    it(`${manifest.circuit}: zkey → verification key → verifier source → runtime bytecode match the manifest`, async () => {
      const zkey = resolveRecorded(phase2.zkey.file);
      expect(existsSync(zkey), `${phase2.zkey.file} is committed`).toBe(true);
      expect(await sha256File(zkey)).toBe(phase2.zkey.sha256);

      const exported = await exportVerifier(zkey);
      expect(exported.vkeySha256).toBe(phase2.verificationKey.sha256);
      expect(exported.sourceSha256).toBe(phase2.verifier.sourceSha256);
      const compiled = compileVerifierRuntime(exported.source, phase2.verifier.sourceUnit);
      expect(compiled.solcVersion).toBe(phase2.verifier.solc);
      expect(compiled.runtimeKeccak256).toBe(phase2.verifier.runtimeKeccak256);
      expect(compiled.runtimeKeccak256NoMetadata).toBe(phase2.verifier.runtimeKeccak256NoMetadata);

      // The verification key committed beside the zkey is the exported one.
      const committedVkey = resolveRecorded(phase2.transcript).replace(/transcript\.json$/, "verification_key.json");
      expect(vkeySha256(JSON.parse(readFileSync(committedVkey, "utf8")))).toBe(phase2.verificationKey.sha256);
    });
  }
});
