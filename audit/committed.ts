/**
 * The committed phase-2 result of a circuit as a `CircuitSetup`, so provers and deployments use the zkey the audit
 * manifest pins instead of a local development setup.
 *
 * `committedSetup` returns undefined (and the caller falls back to prover/setup.ts' development setup) unless the
 * circuit has a manifest with a finalized phase 2 whose zkey file exists, has the pinned sha256, and was made for
 * the r1cs the sources compile to now. The verification key and the Solidity verifier are generated from that zkey
 * into build/ceremony/<circuit>/ (cached by the zkey's hash); the verifier file is named as the manifest's
 * `sourceUnit`, so a deployment compiled from it has exactly the runtime bytecode the manifest pins.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Groth16VerificationKey } from "snarkjs";
import { REPO_ROOT, type CompiledCircuit } from "../circuits/compile.js";
import { withFileLock, writeFileAtomic } from "../common/files.js";
import { blake2bFile } from "../ptau/ptau.js";
import { readR1csHeader, type CircuitSetup } from "../prover/setup.js";
import { snarkjsVersion, stderrLog, type LogFn } from "../prover/snarkjs-runtime.js";
import { displayPath, resolveRecorded, sha256File } from "./files.js";
import { findManifest, MANIFEST_DIR } from "./manifest.js";
import { exportVerifier } from "./zkey.js";

export const CEREMONY_BUILD_DIR = path.join(REPO_ROOT, "build", "ceremony");

/** The file name a circuit's generated verifier is written and compiled under. */
export function verifierSourceUnit(circuit: string): string {
  return `${circuit}_verifier.sol`;
}

export interface VerifierArtifacts {
  readonly dir: string;
  readonly vkeyPath: string;
  readonly verifierPath: string;
  readonly vkey: Groth16VerificationKey;
  readonly vkeySha256: string;
  readonly sourceSha256: string;
  readonly cached: boolean;
}

interface ArtifactStamp {
  readonly zkeySha256: string;
  readonly snarkjs: string;
  readonly vkeySha256: string;
  readonly sourceSha256: string;
}

/**
 * The verification key and Solidity verifier of a zkey, in build/ceremony/<circuit>/ (or `dir`), regenerated when
 * the zkey's hash or the snarkjs version changed.
 */
export async function ensureVerifierArtifacts(
  circuit: string,
  zkeyPath: string,
  zkeySha256: string,
  dir = path.join(CEREMONY_BUILD_DIR, circuit),
): Promise<VerifierArtifacts> {
  const vkeyPath = path.join(dir, `${circuit}.vkey.json`);
  const verifierPath = path.join(dir, verifierSourceUnit(circuit));
  const stampPath = path.join(dir, "stamp.json");
  const key = { zkeySha256, snarkjs: snarkjsVersion() };
  const current = (): VerifierArtifacts | undefined => {
    if (![vkeyPath, verifierPath, stampPath].every((f) => existsSync(f))) return undefined;
    try {
      const stamp = JSON.parse(readFileSync(stampPath, "utf8")) as ArtifactStamp;
      if (stamp.zkeySha256 !== key.zkeySha256 || stamp.snarkjs !== key.snarkjs) return undefined;
      const vkey = JSON.parse(readFileSync(vkeyPath, "utf8")) as Groth16VerificationKey;
      return { dir, vkeyPath, verifierPath, vkey, ...stamp, cached: true };
    } catch {
      return undefined;
    }
  };
  const fresh = current();
  if (fresh) return fresh;
  mkdirSync(dir, { recursive: true });
  return withFileLock(path.join(dir, ".lock"), async () => {
    const again = current();
    if (again) return again;
    const exported = await exportVerifier(zkeyPath);
    writeFileAtomic(vkeyPath, `${JSON.stringify(exported.vkey, null, 2)}\n`);
    writeFileAtomic(verifierPath, exported.source);
    const stamp: ArtifactStamp = { ...key, vkeySha256: exported.vkeySha256, sourceSha256: exported.sourceSha256 };
    writeFileAtomic(stampPath, `${JSON.stringify(stamp, null, 2)}\n`);
    return { dir, vkeyPath, verifierPath, vkey: exported.vkey, ...stamp, cached: false };
  });
}

/** See the module comment. `log` defaults to stderr (only fallbacks are reported there). */
export async function committedSetup(
  compiled: Pick<CompiledCircuit, "name" | "r1csPath" | "wasmPath">,
  log?: LogFn,
  manifestDir = MANIFEST_DIR,
): Promise<CircuitSetup | undefined> {
  const manifest = findManifest(compiled.name, manifestDir);
  const phase2 = manifest?.phase2;
  if (!manifest || !phase2) return undefined;
  const warn = log ?? stderrLog(`setup ${compiled.name}`);
  const zkeyPath = resolveRecorded(phase2.zkey.file);
  const fallback = (why: string) => {
    warn(`not using the committed zkey ${displayPath(zkeyPath)}: ${why}; using the development setup`);
    return undefined;
  };
  if (!existsSync(zkeyPath)) return fallback("file not found");
  const r1csSha256 = await sha256File(compiled.r1csPath);
  if (r1csSha256 !== manifest.r1cs.sha256) {
    return fallback("it was made for another r1cs (the circuit sources changed since the ceremony)");
  }
  const zkeySha256 = await sha256File(zkeyPath);
  if (zkeySha256 !== phase2.zkey.sha256) return fallback("its sha256 differs from the manifest's");
  const artifacts = await ensureVerifierArtifacts(compiled.name, zkeyPath, zkeySha256);
  if (artifacts.sourceSha256 !== phase2.verifier.sourceSha256) {
    warn(
      `the verifier generated from ${displayPath(zkeyPath)} differs from the manifest's (snarkjs template changed?); ` +
        "`demle audit` will report it",
    );
  }
  log?.(`using the committed zkey ${displayPath(zkeyPath)} (${phase2.contributions.length} contributions)`);
  const ptauPath = resolveRecorded(manifest.ptau.file);
  return {
    name: compiled.name,
    dir: artifacts.dir,
    zkeyPath,
    vkeyPath: artifacts.vkeyPath,
    verifierPath: artifacts.verifierPath,
    vkey: artifacts.vkey,
    prover: { wasmPath: compiled.wasmPath, zkeyPath, vkey: artifacts.vkey },
    r1cs: await readR1csHeader(compiled.r1csPath),
    power: manifest.ptau.power,
    ptauPath,
    ptauBlake2b512: manifest.ptau.blake2b512,
    r1csBlake2b512: await blake2bFile(compiled.r1csPath),
    cached: artifacts.cached,
    stepsMs: {},
  };
}
