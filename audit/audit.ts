/**
 * `demle audit`: recomputes every hash a circuit's manifest (circuits/manifests/<circuit>.json) pins, and checks a
 * deployment's verifier against it. Checks, in order (each gives one PASS/FAIL line):
 *
 *   compiler      the repo's pinned circom (version, package, circomlib, flags) is the manifest's
 *   r1cs          a fresh compile of the main file (build/circuits/audit_<circuit>/) has the pinned sha256 and counts
 *   ptau          the phase-1 file has the pinned blake2b-512
 *   zkey          the zkey file has the pinned sha256
 *   zkey-verify   snarkjs zkey verify: the zkey derives from the recompiled r1cs and the ptau
 *   contributions the zkey's contribution hashes are the manifest's (and the transcript's), with at least one
 *                 secret contribution besides the beacon
 *   vkey          the verification key exported from the zkey has the pinned sha256
 *   verifier      the Solidity verifier regenerated from the zkey has the pinned source sha256, and compiles (solc-js,
 *                 the pinned settings) to the pinned runtime keccak256
 *   chain-params  (with a deployment) the mining contract exists and, for a mining circuit, some layer has the
 *                 circuit's grid (macsPerTile, tilesPerProof, maxRowBlocksLog2, maxColBlocksLog2); for a job circuit
 *                 (miner/job-circuits.ts, manifest `miningCircuit: null`), some job kind has the circuit's parameters
 *                 (macsPerTile, tilesPerProof, proofsPerJob, tileRows, tileCols, depth, maxRowBlocksLog2,
 *                 maxColBlocksLog2); the checks below run per such layer or job kind
 *   chain-code    keccak256 of the code at `mining.layer(i).verifier` (or `mining.jobKind(i).verifier`) equals the
 *                 pinned runtime hash (compared without solc's metadata trailer, which only hashes file names and
 *                 settings; the line says if it matches too)
 *   chain-vk      every verification-key constant of the zkey (alpha, beta, gamma, delta, IC) is a PUSH operand of
 *                 that code: independent of the compiler, and names the constants that differ
 */
import { existsSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { Contract, keccak256, ZeroAddress, type Provider } from "ethers";
import { CIRCUIT_BUILD_DIR, compileCircuit } from "../circuits/compile.js";
import { loadArtifact } from "../miner/artifacts.js";
import { MINING_CIRCUITS, type MiningCircuit } from "../miner/circuits.js";
import { JOB_CIRCUITS, type JobCircuit } from "../miner/job-circuits.js";
import { JobMarket } from "../miner/job-market.js";
import { miningJobKind } from "../miner/deploy.js";
import { blake2bFile } from "../ptau/ptau.js";
import { errorMessage, stderrLog, type LogFn } from "../prover/snarkjs-runtime.js";
import { zkeyVerify, loadTranscript, compareContributions } from "./ceremony.js";
import { displayPath, resolveRecorded, sha256File } from "./files.js";
import {
  loadManifest,
  MANIFEST_DIR,
  pinnedCompiler,
  r1csPin,
  type CircuitManifest,
  type Phase2Pin,
} from "./manifest.js";
import { describePtau } from "./ptau-pin.js";
import { short, type CheckResult } from "./report.js";
import {
  compileVerifierRuntime,
  exportVerifier,
  missingConstants,
  readZkeyInfo,
  stripMetadata,
  verifierConstants,
  type ExportedVerifier,
} from "./zkey.js";

export const AUDIT_CHECKS = [
  "compiler",
  "r1cs",
  "ptau",
  "zkey",
  "zkey-verify",
  "contributions",
  "vkey",
  "verifier",
  "chain-params",
  "chain-code",
  "chain-vk",
] as const;
export type AuditCheck = (typeof AUDIT_CHECKS)[number];

export interface AuditTarget {
  readonly manifest: CircuitManifest;
  /** Audit another main file, zkey or ptau than the manifest names (to audit a candidate, and for tests). */
  readonly mainFile?: string;
  readonly zkeyPath?: string;
  readonly ptauPath?: string;
}

export interface ChainTarget {
  readonly provider: Provider;
  /** DemleMining address. */
  readonly contract: string;
}

export interface AuditOptions {
  /** Checks to run (default: all; the chain checks need `chain`). */
  readonly checks?: readonly AuditCheck[];
  /** Accept a cached compile of the audit's own build directory when its source hash matches (default: recompile). */
  readonly reuseBuild?: boolean;
  readonly chain?: ChainTarget;
  readonly log?: LogFn;
}

function fmt(n: number): string {
  return n.toLocaleString("en-US");
}

/** What a deployment's DemleMining.Layer repeats of its circuit. */
function gridOf(circuit: MiningCircuit): Record<string, number> {
  return {
    macsPerTile: circuit.macsPerTile,
    tilesPerProof: circuit.tilesPerProof,
    maxRowBlocksLog2: circuit.tiling.maxRowBlocksLog2,
    maxColBlocksLog2: circuit.tiling.maxColBlocksLog2,
  };
}

/** The fields of DemleMining's JobKind besides the verifier, in the struct's order. */
const JOB_KIND_FIELDS = [
  "macsPerTile",
  "tilesPerProof",
  "proofsPerJob",
  "tileRows",
  "tileCols",
  "depth",
  "maxRowBlocksLog2",
  "maxColBlocksLog2",
] as const;

/** What a deployment's DemleMining.JobKind repeats of its job circuit: every field but the verifier. */
function jobParamsOf(kind: { readonly [F in (typeof JOB_KIND_FIELDS)[number]]: number | bigint }): Record<
  string,
  number
> {
  return Object.fromEntries(JOB_KIND_FIELDS.map((field) => [field, Number(kind[field])]));
}

/** The JobKind parameters a deployment of a job circuit has (miner/deploy.ts `miningJobKind`, as `demle deploy`). */
function jobCircuitParams(circuit: JobCircuit): Record<string, number> {
  return jobParamsOf(miningJobKind(circuit, ZeroAddress));
}

/** A deployed verifier: of `mining.layer(index)` or of `mining.jobKind(index)`. */
interface DeployedVerifier {
  readonly role: "layer" | "job kind";
  readonly index: number;
  readonly verifier: string;
  readonly verifierCode: string;
  /** The layer's grid (`gridOf`) or the job kind's parameters (`jobParamsOf`). */
  readonly grid: Record<string, number>;
}

interface Deployment {
  readonly layers: readonly DeployedVerifier[];
  readonly jobKinds: readonly DeployedVerifier[];
}

async function readDeployment(chain: ChainTarget): Promise<Deployment> {
  if ((await chain.provider.getCode(chain.contract)) === "0x") throw new Error(`no contract at ${chain.contract}`);
  const { abi } = await loadArtifact("DemleMining.sol", "DemleMining");
  const mining = new Contract(chain.contract, abi, chain.provider);
  const deployed = async (
    role: DeployedVerifier["role"],
    index: number,
    verifier: string,
    grid: Record<string, number>,
  ) => ({
    role,
    index,
    verifier,
    verifierCode: await chain.provider.getCode(verifier),
    grid,
  });
  const count = Number((await mining.getFunction("layerCount")()) as bigint);
  const layers: DeployedVerifier[] = [];
  for (let index = 0; index < count; index++) {
    const layer = (await mining.getFunction("layer")(index)) as Record<string, bigint | string>;
    const grid = Object.fromEntries(Object.keys(gridOf(MINING_CIRCUITS.demo)).map((key) => [key, Number(layer[key])]));
    layers.push(await deployed("layer", index, String(layer.verifier), grid));
  }
  const jobKinds: DeployedVerifier[] = [];
  for (const kind of await new JobMarket(mining).jobKinds()) {
    jobKinds.push(await deployed("job kind", kind.index, kind.verifier, jobParamsOf({ ...kind, ...kind.tiling })));
  }
  return { layers, jobKinds };
}

/** The mining circuit whose grid a deployed layer repeats. */
export function circuitForGrid(grid: Record<string, number>): MiningCircuit | undefined {
  return Object.values(MINING_CIRCUITS).find((c: MiningCircuit) => JSON.stringify(gridOf(c)) === JSON.stringify(grid));
}

/** The job circuit whose parameters a deployed job kind repeats. */
export function jobCircuitForParams(params: Record<string, number>): JobCircuit | undefined {
  return Object.values(JOB_CIRCUITS).find(
    (c: JobCircuit) => JSON.stringify(jobCircuitParams(c)) === JSON.stringify(params),
  );
}

/** The grids of the mining circuits or the parameters of the job circuits, for messages: "demo {…}, production {…}". */
function knownGrids(role: DeployedVerifier["role"]): string {
  const grids =
    role === "layer"
      ? Object.entries(MINING_CIRCUITS).map(([key, c]: [string, MiningCircuit]) => [key, gridOf(c)] as const)
      : Object.entries(JOB_CIRCUITS).map(([key, c]: [string, JobCircuit]) => [key, jobCircuitParams(c)] as const);
  return `${role === "layer" ? "mining" : "job"} circuits: ${grids.map(([key, g]) => `${key} ${JSON.stringify(g)}`).join(", ")}`;
}

/** The key of a manifest's circuit: its mining-circuit key, else its job-circuit key (JOB_CIRCUITS), else undefined. */
function circuitKey(manifest: CircuitManifest): string | undefined {
  return (
    manifest.miningCircuit ?? Object.entries(JOB_CIRCUITS).find(([, circuit]) => circuit.name === manifest.circuit)?.[0]
  );
}

/** What a deployment repeats of a manifest's circuit: a layer's grid or a job kind's parameters (undefined: neither). */
function deployedAs(manifest: CircuitManifest): { role: DeployedVerifier["role"]; grid: string } | undefined {
  const mining = manifest.miningCircuit
    ? (MINING_CIRCUITS as Record<string, MiningCircuit>)[manifest.miningCircuit]
    : undefined;
  if (mining) return { role: "layer", grid: JSON.stringify(gridOf(mining)) };
  const job =
    manifest.miningCircuit === null ? Object.values(JOB_CIRCUITS).find((c) => c.name === manifest.circuit) : undefined;
  return job ? { role: "job kind", grid: JSON.stringify(jobCircuitParams(job)) } : undefined;
}

/** Runs the checks of one circuit; see the module comment. */
export async function auditCircuit(target: AuditTarget, options: AuditOptions = {}): Promise<CheckResult[]> {
  const { manifest } = target;
  const circuit = manifest.circuit;
  const log = options.log ?? stderrLog(`audit ${circuit}`);
  const want = (check: AuditCheck) =>
    (options.checks ?? AUDIT_CHECKS).includes(check) && (!check.startsWith("chain-") || options.chain !== undefined);
  const results: CheckResult[] = [];
  const add = (check: AuditCheck, ok: boolean, detail: string) => {
    const result = { check, circuit, ok, detail };
    results.push(result);
    return result;
  };
  const attempt = async (check: AuditCheck, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (error) {
      add(
        check,
        false,
        errorMessage(error)
          .replace(/\s*\n\s*/g, " ")
          .slice(0, 500),
      );
    }
  };

  if (want("compiler")) {
    await attempt("compiler", async () => {
      const pinned = pinnedCompiler();
      const diffs = (["circom", "package", "circomlib"] as const)
        .filter((k) => pinned[k] !== manifest.compiler[k])
        .map((k) => `${k} ${pinned[k]} (manifest: ${manifest.compiler[k]})`);
      if (pinned.flags.join(" ") !== manifest.compiler.flags.join(" ")) {
        diffs.push(`flags ${pinned.flags.join(" ")} (manifest: ${manifest.compiler.flags.join(" ")})`);
      }
      add(
        "compiler",
        diffs.length === 0,
        diffs.length === 0
          ? `${pinned.circom} (${pinned.package}, circomlib ${pinned.circomlib}), flags ${pinned.flags.join(" ")} match manifest`
          : `the repo pins ${diffs.join("; ")}`,
      );
    });
  }

  // r1cs: a fresh compile of the sources (needed by zkey-verify as well).
  let r1csPath: string | undefined;
  const mainFile = target.mainFile ?? resolveRecorded(manifest.mainFile);
  if (want("r1cs") || want("zkey-verify")) {
    await attempt("r1cs", async () => {
      const name = `audit_${circuit}${target.mainFile ? "_alt" : ""}`;
      if (!options.reuseBuild) rmSync(path.join(CIRCUIT_BUILD_DIR, name, "build-stamp.json"), { force: true });
      const t0 = performance.now();
      log(`compiling ${displayPath(mainFile)} with the pinned circom…`);
      const compiled = await compileCircuit(name, mainFile);
      log(`compiled in ${((performance.now() - t0) / 1000).toFixed(1)} s${compiled.cached ? " (cached)" : ""}`);
      r1csPath = compiled.r1csPath;
      if (!want("r1cs")) return;
      const pin = await r1csPin(compiled.r1csPath);
      const ok = pin.sha256 === manifest.r1cs.sha256 && pin.constraints === manifest.r1cs.constraints;
      add(
        "r1cs",
        ok,
        ok
          ? `sha256 ${short(pin.sha256)} of the r1cs compiled from ${displayPath(mainFile)} matches manifest ` +
              `(${fmt(pin.constraints)} constraints)`
          : `${displayPath(mainFile)} compiles to r1cs sha256 ${short(pin.sha256)} with ${fmt(pin.constraints)} ` +
              `constraints; manifest pins ${short(manifest.r1cs.sha256)} with ${fmt(manifest.r1cs.constraints)}`,
      );
    });
  }

  const ptauPath = target.ptauPath ?? resolveRecorded(manifest.ptau.file);
  if (want("ptau")) {
    await attempt("ptau", async () => {
      if (!existsSync(ptauPath)) {
        add(
          "ptau",
          false,
          `${displayPath(ptauPath)} not found (manifest: ${manifest.ptau.name}, blake2b-512 ${short(manifest.ptau.blake2b512)}; ` +
            `a development ptau comes from \`npm run ptau -- ensure ${manifest.ptau.power}\`)`,
        );
        return;
      }
      const b2 = await blake2bFile(ptauPath);
      const known = describePtau(b2);
      add(
        "ptau",
        b2 === manifest.ptau.blake2b512,
        b2 === manifest.ptau.blake2b512
          ? `blake2b-512 ${short(b2)} of ${displayPath(ptauPath)} matches manifest${known ? ` (${known})` : ""}`
          : `${displayPath(ptauPath)} has blake2b-512 ${short(b2)}${known ? ` (${known})` : ""}; manifest pins ` +
              `${short(manifest.ptau.blake2b512)} (${manifest.ptau.name})`,
      );
    });
  }

  const phase2 = manifest.phase2;
  const zkeyPath = target.zkeyPath ?? (phase2 ? resolveRecorded(phase2.zkey.file) : undefined);
  let exported: ExportedVerifier | undefined;
  const zkeyMissing = !phase2
    ? "the manifest pins no zkey: no phase-2 ceremony has been finalized for this circuit (demle ceremony …)"
    : !zkeyPath || !existsSync(zkeyPath)
      ? `${displayPath(zkeyPath ?? phase2.zkey.file)} not found (manifest pins sha256 ${short(phase2.zkey.sha256)})`
      : undefined;
  if (zkeyMissing !== undefined || !phase2 || !zkeyPath) {
    for (const check of (["zkey", "zkey-verify", "contributions", "vkey", "verifier"] as const).filter(want)) {
      add(check, false, check === "zkey" ? (zkeyMissing ?? "") : "no zkey to check (see the zkey line)");
    }
  } else {
    exported = await zkeyChecks(phase2, zkeyPath);
  }

  /** zkey, zkey-verify, contributions, vkey, verifier; returns what snarkjs exports from the zkey. */
  async function zkeyChecks(phase2: Phase2Pin, zkeyPath: string): Promise<ExportedVerifier | undefined> {
    if (want("zkey")) {
      await attempt("zkey", async () => {
        const sha = await sha256File(zkeyPath);
        add(
          "zkey",
          sha === phase2.zkey.sha256,
          sha === phase2.zkey.sha256
            ? `sha256 ${short(sha)} of ${displayPath(zkeyPath)} matches manifest`
            : `${displayPath(zkeyPath)} has sha256 ${short(sha)}; manifest pins ${short(phase2.zkey.sha256)} ` +
                "(a zkey from another ceremony or a modified file)",
        );
      });
    }

    if (want("zkey-verify")) {
      await attempt("zkey-verify", async () => {
        if (!r1csPath) return void add("zkey-verify", false, "no r1cs to verify against (see the r1cs line)");
        if (!existsSync(ptauPath)) return void add("zkey-verify", false, `ptau ${displayPath(ptauPath)} not found`);
        const t0 = performance.now();
        log("snarkjs zkey verify (recomputes the initial key from r1cs + ptau)…");
        const verified = await zkeyVerify(r1csPath, ptauPath, zkeyPath, log);
        log(`zkey verify done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
        add(
          "zkey-verify",
          verified.ok,
          verified.ok
            ? `snarkjs zkey verify: ${displayPath(zkeyPath)} derives from the recompiled r1cs and ${displayPath(ptauPath)}`
            : `snarkjs zkey verify rejects ${displayPath(zkeyPath)} for the recompiled r1cs and ${displayPath(ptauPath)}: ${verified.why}`,
        );
      });
    }

    if (want("contributions")) {
      await attempt("contributions", async () => {
        const info = await readZkeyInfo(zkeyPath);
        const secret = info.contributions.filter((c) => c.type === "contribution");
        const pinned = phase2.contributions;
        let problem: string | undefined;
        if (info.circuitHash !== phase2.circuitHash) {
          problem = `circuit hash ${short(info.circuitHash)} differs from the manifest's ${short(phase2.circuitHash)}`;
        } else if (JSON.stringify(info.contributions) !== JSON.stringify(pinned)) {
          problem = `the zkey's contribution list (${info.contributions.length}) differs from the manifest's (${pinned.length})`;
        } else if (secret.length === 0) {
          problem = "the zkey has no secret contribution (only a public beacon): anyone can forge proofs";
        } else {
          const transcriptFile = resolveRecorded(phase2.transcript);
          if (existsSync(transcriptFile)) {
            problem = compareContributions(loadTranscript(path.dirname(transcriptFile)).entries, info.contributions);
            if (problem) problem = `transcript ${displayPath(transcriptFile)}: ${problem}`;
          }
        }
        add(
          "contributions",
          problem === undefined,
          problem ??
            `${secret.length} contributions + ${info.contributions.length - secret.length} beacon match manifest and transcript ` +
              `(${secret.map((c) => `${c.name} ${c.contributionHash.slice(0, 8)}`).join(", ")})`,
        );
      });
    }

    let exported: ExportedVerifier | undefined;
    if (want("vkey") || want("verifier") || want("chain-vk")) {
      try {
        exported = await exportVerifier(zkeyPath);
      } catch (error) {
        for (const check of (["vkey", "verifier"] as const).filter(want)) {
          add(check, false, `snarkjs cannot export from ${displayPath(zkeyPath)}: ${errorMessage(error)}`);
        }
      }
    }
    if (exported && want("vkey")) {
      const ok = exported.vkeySha256 === phase2.verificationKey.sha256;
      add(
        "vkey",
        ok,
        ok
          ? `sha256 ${short(exported.vkeySha256)} of the verification key exported from the zkey matches manifest`
          : `the verification key exported from the zkey has sha256 ${short(exported.vkeySha256)}; manifest pins ` +
              short(phase2.verificationKey.sha256),
      );
    }
    if (exported && want("verifier")) {
      const exp = exported;
      await attempt("verifier", async () => {
        const pin = phase2.verifier;
        const compiled = compileVerifierRuntime(exp.source, pin.sourceUnit);
        const problems: string[] = [];
        if (exp.sourceSha256 !== pin.sourceSha256) {
          problems.push(`source sha256 ${short(exp.sourceSha256)} (manifest ${short(pin.sourceSha256)})`);
        }
        if (compiled.runtimeKeccak256 !== pin.runtimeKeccak256) {
          problems.push(
            `runtime keccak256 ${short(compiled.runtimeKeccak256)} (manifest ${short(pin.runtimeKeccak256)})`,
          );
        }
        add(
          "verifier",
          problems.length === 0,
          problems.length === 0
            ? `regenerated ${pin.sourceUnit}: source sha256 ${short(exp.sourceSha256)} and runtime keccak256 ` +
                `${short(compiled.runtimeKeccak256)} (${compiled.solcVersion.split("+")[0]}) match manifest`
            : `the verifier regenerated from the zkey differs: ${problems.join("; ")}`,
        );
      });
    }

    return exported;
  }

  if (options.chain && (want("chain-params") || want("chain-code") || want("chain-vk"))) {
    const chain = options.chain;
    const deployed = await chainParams(manifest, chain, want("chain-params") ? add : undefined);
    if (!deployed) {
      for (const check of (["chain-code", "chain-vk"] as const).filter(want)) {
        add(check, false, "no deployed layer or job kind to check (see the chain-params line)");
      }
      return results;
    }
    for (const slot of deployed) {
      const where = `${slot.role} ${slot.index}'s verifier ${slot.verifier}`;
      if (slot.verifierCode === "0x") {
        for (const check of (["chain-code", "chain-vk"] as const).filter(want)) {
          add(check, false, `no code at ${where}`);
        }
        continue;
      }
      if (want("chain-code") && !phase2) add("chain-code", false, "the manifest pins no verifier (no phase 2)");
      else if (want("chain-code") && phase2) {
        const pin = phase2.verifier;
        const stripped = keccak256(stripMetadata(slot.verifierCode));
        const full = keccak256(slot.verifierCode);
        const ok = stripped === pin.runtimeKeccak256NoMetadata;
        add(
          "chain-code",
          ok,
          ok
            ? `code of ${where} has keccak256 ${short(stripped)} without metadata, as pinned` +
                (full === pin.runtimeKeccak256
                  ? " (full code hash matches too)"
                  : " (its metadata trailer differs: compiled from another file name or with other metadata settings)")
            : `code of ${where} has keccak256 ${short(stripped)} without metadata; manifest pins ` +
                `${short(pin.runtimeKeccak256NoMetadata)} (${pin.sourceUnit} compiled with solc ${pin.solc.split("+")[0]})`,
        );
      }
      if (want("chain-vk")) {
        if (!exported) add("chain-vk", false, "no verification key to compare (see the zkey line)");
        else {
          const missing = missingConstants(exported.vkey, slot.verifierCode);
          const total = verifierConstants(exported.vkey).length;
          add(
            "chain-vk",
            missing.length === 0,
            missing.length === 0
              ? `all ${total} verification-key constants of the zkey appear in ${where}'s code`
              : `${where} has another verification key: ${missing.length} of ${total} constants ` +
                  `of the zkey are not in its code (${missing.join(", ")})`,
          );
        }
      }
    }
  }
  return results;
}

/**
 * The deployed layers (mining circuit, matched by grid) or job kinds (job circuit, matched by parameters) that use the
 * manifest's circuit, after the chain-params check.
 */
async function chainParams(
  manifest: CircuitManifest,
  chain: ChainTarget,
  add: ((check: AuditCheck, ok: boolean, detail: string) => CheckResult) | undefined,
): Promise<DeployedVerifier[] | undefined> {
  let deployment: Deployment;
  try {
    deployment = await readDeployment(chain);
  } catch (error) {
    add?.("chain-params", false, `cannot read the deployment at ${chain.contract}: ${errorMessage(error)}`);
    return undefined;
  }
  const expected = deployedAs(manifest);
  if (!expected) {
    add?.(
      "chain-params",
      false,
      `${manifest.circuit} is neither a mining circuit (manifest miningCircuit ${JSON.stringify(manifest.miningCircuit)}) ` +
        "nor a job circuit; cannot compare the deployment's layers or job kinds",
    );
    return undefined;
  }
  const [slots, what] =
    expected.role === "layer"
      ? ([deployment.layers, "circuit's grid"] as const)
      : ([deployment.jobKinds, "job circuit's parameters"] as const);
  const matching = slots.filter((slot) => JSON.stringify(slot.grid) === expected.grid);
  add?.(
    "chain-params",
    matching.length > 0,
    matching.length > 0
      ? `DemleMining ${chain.contract} uses the ${what} ${expected.grid} in ${expected.role}(s) ` +
          matching.map((l) => `${l.index} (verifier ${l.verifier})`).join(", ")
      : `no ${expected.role} of DemleMining ${chain.contract} has the ${what} ${expected.grid}; ` +
          (slots.length === 0
            ? `it has no ${expected.role}s`
            : `its ${expected.role}s have ${slots.map((l) => JSON.stringify(l.grid)).join(", ")}`),
  );
  return matching.length > 0 ? matching : undefined;
}

/** Every committed manifest (circuits/manifests/*.json). */
export function listManifests(dir = MANIFEST_DIR): { file: string; manifest: CircuitManifest }[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => ({ file: path.join(dir, f), manifest: loadManifest(path.join(dir, f)) }));
}

/** A manifest by mining-circuit key ("demo"), job-circuit key ("gemm-job-demo") or build name ("gemm_seed_demo_2x2x16"). */
export function manifestFor(name: string, dir = MANIFEST_DIR): CircuitManifest {
  const all = listManifests(dir);
  const found = all.find((m) => circuitKey(m.manifest) === name || m.manifest.circuit === name);
  if (!found) {
    const known = all.map((m) => circuitKey(m.manifest) ?? m.manifest.circuit).join(", ") || "none";
    throw new Error(`no manifest for circuit "${name}" in ${displayPath(dir)} (have: ${known})`);
  }
  return found.manifest;
}

export interface RunAuditOptions extends Omit<AuditOptions, "chain"> {
  /** Mining-circuit keys or build names; default: the deployment's circuit with `chain`, else every manifest. */
  readonly circuits?: readonly string[];
  readonly chain?: ChainTarget;
  readonly manifestDir?: string;
  /** Overrides for a single audited circuit. */
  readonly zkeyPath?: string;
  readonly ptauPath?: string;
}

/** The audit of `demle audit`: picks the circuits, runs auditCircuit on each. */
export async function runAudit(options: RunAuditOptions = {}): Promise<CheckResult[]> {
  const dir = options.manifestDir ?? MANIFEST_DIR;
  let manifests: CircuitManifest[];
  // Deployed layers and job kinds of no known circuit (or one without a manifest): reported, the others audited.
  const unknown: CheckResult[] = [];
  if (options.circuits && options.circuits.length > 0) {
    manifests = options.circuits.map((name) => manifestFor(name, dir));
  } else if (options.chain) {
    let deployment: Deployment;
    try {
      deployment = await readDeployment(options.chain);
    } catch (error) {
      return [
        {
          check: "chain-params",
          circuit: "?",
          ok: false,
          detail: `cannot read the deployment at ${options.chain.contract}: ${errorMessage(error)}`,
        },
      ];
    }
    manifests = [];
    for (const slot of [...deployment.layers, ...deployment.jobKinds]) {
      const circuit = slot.role === "layer" ? circuitForGrid(slot.grid) : jobCircuitForParams(slot.grid);
      const manifest = listManifests(dir).find((m) => circuit && m.manifest.circuit === circuit.name)?.manifest;
      if (!manifest) {
        unknown.push({
          check: "chain-params",
          circuit: circuit?.name ?? "?",
          ok: false,
          detail:
            `${slot.role} ${slot.index}'s ${slot.role === "layer" ? "grid" : "parameters"} ${JSON.stringify(slot.grid)} ` +
            `(verifier ${slot.verifier}) ` +
            (circuit
              ? `match ${circuit.name}, which has no manifest`
              : `match no known circuit (${knownGrids(slot.role)})`),
        });
      } else if (!manifests.includes(manifest)) manifests.push(manifest);
    }
  } else {
    manifests = listManifests(dir).map((m) => m.manifest);
    if (manifests.length === 0) throw new Error(`no manifests in ${displayPath(dir)}`);
  }
  if ((options.zkeyPath || options.ptauPath) && manifests.length > 1) {
    throw new Error("--zkey and --ptau audit one circuit: pass --circuit");
  }
  const results: CheckResult[] = [...unknown];
  for (const manifest of manifests) {
    results.push(
      ...(await auditCircuit(
        {
          manifest,
          ...(options.zkeyPath ? { zkeyPath: path.resolve(options.zkeyPath) } : {}),
          ...(options.ptauPath ? { ptauPath: path.resolve(options.ptauPath) } : {}),
        },
        options,
      )),
    );
  }
  return results;
}
