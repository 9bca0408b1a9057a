/**
 * The committed audit manifest of a circuit: circuits/manifests/<circuit>.json. It pins everything an auditor
 * recomputes (docs/audit.md says how to reproduce each hash with standard tools):
 *
 *   compiler   circom version, circom2 package, circomlib version and the flags of circuits/compile.ts
 *   r1cs       sha256 of the .r1cs circom writes, and the header counts (constraints, wires, signals)
 *   ptau       name, file, power and blake2b-512 of the phase-1 file
 *   phase2     (null until a ceremony is finalized) the final zkey's sha256 and file, its contribution list, the
 *              verification key's sha256 and the generated verifier's source sha256 and runtime bytecode keccak256
 *
 * `demle ceremony finalize` writes the whole manifest; `demle manifest` (re)writes the source-derived part.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { CIRCOM_FLAGS, REPO_ROOT } from "../circuits/compile.js";
import { readR1csHeader } from "../prover/setup.js";
import { VERIFIER_COMPILER_SETTINGS } from "../prover/verifier-contract.js";
import { readJson, sha256File, writeJsonFile } from "./files.js";
import type { ZkeyContribution } from "./zkey.js";

const require = createRequire(import.meta.url);

export const MANIFEST_FORMAT = "demle-circuit-manifest/1";
export const MANIFEST_DIR = path.join(REPO_ROOT, "circuits", "manifests");

export interface CompilerPin {
  /** What `circom --version` of the pinned compiler prints, e.g. "circom compiler 2.2.3". */
  readonly circom: string;
  /** The npm package that ships it as WebAssembly, e.g. "circom2@0.2.23". */
  readonly package: string;
  readonly circomlib: string;
  readonly flags: readonly string[];
}

export interface R1csPin {
  readonly sha256: string;
  readonly constraints: number;
  readonly wires: number;
  readonly publicInputs: number;
  readonly publicOutputs: number;
  readonly privateInputs: number;
  readonly labels: number;
}

export interface PtauPin {
  readonly name: string;
  /** Repo-relative path of the file (or where `npm run ptau -- ensure <power>` puts it). */
  readonly file: string;
  readonly power: number;
  readonly blake2b512: string;
  readonly note: string;
}

export interface VerifierPin {
  /** snarkjs version and template that generated the source. */
  readonly generator: string;
  readonly contractName: string;
  /** The file name solc compiles it under (it enters the metadata trailer of the bytecode). */
  readonly sourceUnit: string;
  readonly sourceSha256: string;
  readonly solc: string;
  readonly settings: typeof VERIFIER_COMPILER_SETTINGS;
  /** keccak256 of the runtime bytecode, 0x-prefixed: what `eth_getCode` of a deployment hashes to. */
  readonly runtimeKeccak256: string;
  /** keccak256 of the runtime bytecode without its CBOR metadata trailer. */
  readonly runtimeKeccak256NoMetadata: string;
}

export interface Phase2Pin {
  readonly snarkjs: string;
  /** Repo-relative path of the final zkey and of the ceremony transcript. */
  readonly zkey: { readonly file: string; readonly sha256: string; readonly sizeBytes: number };
  readonly transcript: string;
  /** snarkjs' circuit hash (blake2b-512 of the initial zkey; fixed by r1cs + ptau). */
  readonly circuitHash: string;
  readonly contributions: readonly ZkeyContribution[];
  readonly verificationKey: { readonly sha256: string; readonly nPublic: number };
  readonly verifier: VerifierPin;
}

export interface CircuitManifest {
  readonly format: typeof MANIFEST_FORMAT;
  /** Build name (build/circuits/<circuit>). */
  readonly circuit: string;
  /** Key in miner/circuits.ts' MINING_CIRCUITS ("demo", "production"), or null for other circuits. */
  readonly miningCircuit: string | null;
  /** Repo-relative main file. */
  readonly mainFile: string;
  readonly compiler: CompilerPin;
  readonly r1cs: R1csPin;
  readonly ptau: PtauPin;
  readonly phase2: Phase2Pin | null;
}

export function manifestPath(circuit: string, dir = MANIFEST_DIR): string {
  return path.join(dir, `${circuit}.json`);
}

export function loadManifest(file: string): CircuitManifest {
  const manifest = readJson<CircuitManifest>(file, "manifest");
  if (manifest.format !== MANIFEST_FORMAT) {
    throw new Error(`manifest ${file}: format "${String(manifest.format)}", expected "${MANIFEST_FORMAT}"`);
  }
  return manifest;
}

/** The manifest of a circuit, or undefined when none is committed. */
export function findManifest(circuit: string, dir = MANIFEST_DIR): CircuitManifest | undefined {
  const file = manifestPath(circuit, dir);
  return existsSync(file) ? loadManifest(file) : undefined;
}

export async function writeManifest(file: string, manifest: CircuitManifest): Promise<void> {
  await writeJsonFile(file, manifest);
}

let circomVersion: string | undefined;

/** The pinned compiler as compile.ts runs it (the version comes from the compiler itself). */
export function pinnedCompiler(): CompilerPin {
  if (circomVersion === undefined) {
    const run = spawnSync(process.execPath, [require.resolve("circom2/cli.js"), "--version"], {
      cwd: REPO_ROOT,
      encoding: "utf8",
    });
    const line = `${run.stdout}\n${run.stderr}`.split("\n").find((l) => /^circom compiler /.test(l.trim()));
    if (run.status !== 0 || !line) throw new Error(`cannot run circom --version: ${run.stderr || run.stdout}`);
    circomVersion = line.trim();
  }
  const version = (name: string) => (require(`${name}/package.json`) as { version: string }).version;
  return {
    circom: circomVersion,
    package: `circom2@${version("circom2")}`,
    circomlib: version("circomlib"),
    flags: [...CIRCOM_FLAGS],
  };
}

/** The r1cs part of a manifest, from an .r1cs file. */
export async function r1csPin(r1csPath: string): Promise<R1csPin> {
  const header = await readR1csHeader(r1csPath);
  return {
    sha256: await sha256File(r1csPath),
    constraints: header.nConstraints,
    wires: header.nWires,
    publicInputs: header.nPubInputs,
    publicOutputs: header.nPubOutputs,
    privateInputs: header.nPrvInputs,
    labels: header.nLabels,
  };
}
