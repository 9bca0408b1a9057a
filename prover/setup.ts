/**
 * Groth16 phase 2 (circuit-specific setup) for a compiled circuit, for development.
 *
 * `setupCircuit(compiled)` picks the smallest ptau power that fits the circuit, gets that development ptau
 * (ptau/ptau.ts), and writes into build/setup/<name>/:
 *   <name>_dev_insecure.zkey           proving key: newZKey → one contribution (random entropy, discarded) →
 *                                      public beacon (DEV_ZKEY_BEACON) → checked with zKey.verifyFromR1cs
 *   <name>_dev_insecure.vkey.json      verification key
 *   <name>_dev_insecure_verifier.sol   Solidity verifier from snarkjs' own groth16 template
 *   setup-stamp.json                   cache key (r1cs hash, ptau hash, snarkjs version, options) and metadata
 * It rebuilds only when the stamp's key differs. "insecure": the only secret contribution came from this machine
 * (phase 2) on top of a single-contributor ptau (phase 1); anyone who kept those secrets could forge proofs.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import path from "node:path";
import * as snarkjs from "snarkjs";
import type { Groth16VerificationKey } from "snarkjs";
import { REPO_ROOT, type CompiledCircuit } from "../circuits/compile.js";
import { blake2bFile, ensureDevPtauInfo, inspectPtau, MAX_DEV_POWER, verifyPublicPtau } from "../ptau/ptau.js";
import { withFileLock, writeFileAtomic } from "../common/files.js";
import {
  progressLogger,
  snarkjsPackageDir,
  snarkjsVersion,
  stderrLog,
  withBn128Curve,
  type LogFn,
} from "./snarkjs-runtime.js";

export const SETUP_BUILD_DIR = path.join(REPO_ROOT, "build", "setup");

/**
 * Public beacon applied to the zkey after the random contribution: sha256 of the text below, 2^10 iterations. It
 * is fixed and public, so it adds no security; it only finalises the zkey the way a ceremony does. A production
 * ceremony would use a beacon that nobody can know in advance (e.g. a future block hash announced beforehand).
 */
export const DEV_ZKEY_BEACON_TEXT = "DEMLE development phase-2 beacon: public, fixed, not a secure ceremony";
export const DEV_ZKEY_BEACON = {
  hash: createHash("sha256").update(DEV_ZKEY_BEACON_TEXT).digest("hex"),
  iterationsExp: 10,
} as const;

export interface R1csHeader {
  readonly nWires: number;
  readonly nPubOutputs: number;
  readonly nPubInputs: number;
  readonly nPrvInputs: number;
  readonly nLabels: number;
  readonly nConstraints: number;
}

/** Reads the header section of an .r1cs file (without loading its constraints). */
export async function readR1csHeader(file: string): Promise<R1csHeader> {
  const fh = await open(file, "r");
  try {
    const size = (await fh.stat()).size;
    const read = async (offset: number, length: number): Promise<Buffer> => {
      if (offset + length > size) throw new Error(`r1cs ${file}: truncated at byte ${size}`);
      const buf = Buffer.alloc(length);
      await fh.read(buf, 0, length, offset);
      return buf;
    };
    const head = await read(0, 12);
    if (head.toString("latin1", 0, 4) !== "r1cs") throw new Error(`r1cs ${file}: not an r1cs file`);
    const nSections = head.readUInt32LE(8);
    let pos = 12;
    for (let i = 0; i < nSections; i++) {
      const sh = await read(pos, 12);
      const type = sh.readUInt32LE(0);
      const sectionSize = Number(sh.readBigUInt64LE(4));
      if (type === 1) {
        const n8 = (await read(pos + 12, 4)).readUInt32LE(0);
        const h = await read(pos + 16 + n8, 28);
        return {
          nWires: h.readUInt32LE(0),
          nPubOutputs: h.readUInt32LE(4),
          nPubInputs: h.readUInt32LE(8),
          nPrvInputs: h.readUInt32LE(12),
          nLabels: Number(h.readBigUInt64LE(16)),
          nConstraints: h.readUInt32LE(24),
        };
      }
      pos += 12 + sectionSize;
    }
    throw new Error(`r1cs ${file}: no header section`);
  } finally {
    await fh.close();
  }
}

/**
 * Smallest ptau power whose domain holds the circuit. Same rule as snarkjs' zKey.newZKey: the constraints plus one
 * per public signal (public inputs and outputs) must be < 2^power.
 */
export function requiredPtauPower(r1cs: R1csHeader): number {
  return (r1cs.nConstraints + r1cs.nPubInputs + r1cs.nPubOutputs).toString(2).length;
}

export interface SetupOptions {
  /** ptau power to use (default: the smallest that fits). Must fit the circuit and be <= 16 for dev ptaus. */
  readonly power?: number;
  /**
   * A production phase-1 file (Hermez powersOfTau28_hez_final_NN.ptau) to use instead of a dev ptau, e.g. for
   * circuits above 2^16. It is accepted only if its blake2b-512 matches the published hash for its power.
   */
  readonly ptauPath?: string;
  /** Run zKey.verifyFromR1cs on the result (default true; about as slow as newZKey). */
  readonly verify?: boolean;
  /** Renames `contract Groth16Verifier` in the Solidity file (default: keep snarkjs' name). */
  readonly contractName?: string;
  /** Output root (default build/setup); the circuit's files go to <outDir>/<name>/. */
  readonly outDir?: string;
  /** Progress lines (default: stderr). */
  readonly log?: LogFn;
}

/** What a prover needs for one circuit: the pool's `ProveTask.circuit`. */
export interface ProverCircuit {
  readonly wasmPath: string;
  readonly zkeyPath: string;
  readonly vkey: Groth16VerificationKey;
}

export interface CircuitSetup {
  readonly name: string;
  readonly dir: string;
  readonly zkeyPath: string;
  readonly vkeyPath: string;
  readonly verifierPath: string;
  readonly vkey: Groth16VerificationKey;
  readonly prover: ProverCircuit;
  readonly r1cs: R1csHeader;
  readonly power: number;
  readonly ptauPath: string;
  readonly ptauBlake2b512: string;
  readonly r1csBlake2b512: string;
  /** true when the artifacts on disk were up to date and nothing was rebuilt. */
  readonly cached: boolean;
  /** Step durations of the build that produced the artifacts (ms). */
  readonly stepsMs: Readonly<Record<string, number>>;
}

interface SetupStamp {
  readonly key: Record<string, unknown>;
  readonly power: number;
  readonly ptauFile: string;
  readonly ptauBlake2b512: string;
  readonly r1csBlake2b512: string;
  readonly r1cs: R1csHeader;
  readonly insecure: true;
  readonly beacon: typeof DEV_ZKEY_BEACON & { text: string };
  readonly createdAt: string;
  readonly stepsMs: Record<string, number>;
}

const GROTH16_TEMPLATE = () =>
  readFileSync(path.join(snarkjsPackageDir(), "templates", "verifier_groth16.sol.ejs"), "utf8");

function rel(file: string): string {
  return path.relative(REPO_ROOT, file);
}

/** Phase-2 setup of `compiled`; see the module comment. */
export async function setupCircuit(
  compiled: Pick<CompiledCircuit, "name" | "r1csPath" | "wasmPath">,
  options: SetupOptions = {},
): Promise<CircuitSetup> {
  const { name } = compiled;
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new Error(`circuit name must match [A-Za-z0-9_-]+, got "${name}"`);
  if (options.contractName !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(options.contractName)) {
    throw new Error(`contractName must be a Solidity identifier, got "${options.contractName}"`);
  }
  const log = options.log ?? stderrLog(`setup ${name}`);
  if (!existsSync(compiled.r1csPath)) throw new Error(`setup ${name}: r1cs not found: ${rel(compiled.r1csPath)}`);

  const r1cs = await readR1csHeader(compiled.r1csPath);
  const needed = requiredPtauPower(r1cs);
  const signals = r1cs.nConstraints + r1cs.nPubInputs + r1cs.nPubOutputs;
  const sizeText = `${r1cs.nConstraints} constraints + ${r1cs.nPubInputs + r1cs.nPubOutputs} public signals = ${signals}`;

  let ptauPath: string;
  let ptauBlake2b512: string;
  let power: number;
  if (options.ptauPath !== undefined) {
    const checked = await verifyPublicPtau(options.ptauPath, (await inspectPtau(options.ptauPath)).power);
    if (checked.info.power < needed) {
      throw new Error(
        `setup ${name}: ${sizeText} needs a ptau of power >= ${needed}; ${options.ptauPath} has ${checked.info.power}`,
      );
    }
    ptauPath = options.ptauPath;
    ptauBlake2b512 = checked.blake2b512;
    power = checked.info.power;
  } else {
    power = options.power ?? needed;
    if (needed > MAX_DEV_POWER) {
      throw new Error(
        `setup ${name}: ${sizeText} needs a ptau of power ${needed} (2^${needed}), above the largest development ` +
          `ptau (2^${MAX_DEV_POWER}). Pass ptauPath: a Hermez powersOfTau28_hez_final_${String(needed).padStart(2, "0")}.ptau ` +
          "or larger, or shrink the circuit.",
      );
    }
    if (!Number.isInteger(power) || power < needed || power > MAX_DEV_POWER) {
      throw new Error(`setup ${name}: power ${power} does not fit: ${sizeText} needs ${needed}..${MAX_DEV_POWER}`);
    }
    const dev = await ensureDevPtauInfo(power, { log });
    ptauPath = dev.path;
    ptauBlake2b512 = dev.blake2b512;
  }

  const dir = path.join(options.outDir ?? SETUP_BUILD_DIR, name);
  const base = `${name}_dev_insecure`;
  const zkeyPath = path.join(dir, `${base}.zkey`);
  const vkeyPath = path.join(dir, `${base}.vkey.json`);
  const verifierPath = path.join(dir, `${base}_verifier.sol`);
  const stampPath = path.join(dir, "setup-stamp.json");
  const r1csBlake2b512 = await blake2bFile(compiled.r1csPath);
  const verify = options.verify ?? true;
  const key = {
    r1csBlake2b512,
    ptauBlake2b512,
    snarkjs: snarkjsVersion(),
    beacon: DEV_ZKEY_BEACON.hash,
    contractName: options.contractName ?? null,
  };

  const result = (stamp: SetupStamp, cached: boolean): CircuitSetup => {
    const vkey = JSON.parse(readFileSync(vkeyPath, "utf8")) as Groth16VerificationKey;
    return {
      name,
      dir,
      zkeyPath,
      vkeyPath,
      verifierPath,
      vkey,
      prover: { wasmPath: compiled.wasmPath, zkeyPath, vkey },
      r1cs,
      power: stamp.power,
      ptauPath,
      ptauBlake2b512,
      r1csBlake2b512,
      cached,
      stepsMs: stamp.stepsMs,
    };
  };
  const upToDate = (): SetupStamp | undefined => {
    if (![stampPath, zkeyPath, vkeyPath, verifierPath].every((f) => existsSync(f))) return undefined;
    try {
      const stamp = JSON.parse(readFileSync(stampPath, "utf8")) as SetupStamp;
      return JSON.stringify(stamp.key) === JSON.stringify(key) ? stamp : undefined;
    } catch {
      return undefined; // unreadable stamp: rebuild
    }
  };

  const fresh = upToDate();
  if (fresh) return result(fresh, true);

  return withFileLock(
    path.join(options.outDir ?? SETUP_BUILD_DIR, `${name}.lock`),
    async () => {
      const again = upToDate(); // another process may have built it while we waited
      if (again) return result(again, true);
      log(`phase 2 for ${name}: ${sizeText}, ptau power ${power} (${rel(ptauPath)})`);
      mkdirSync(dir, { recursive: true });
      rmSync(stampPath, { force: true });
      const tmp = path.join(dir, `.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
      mkdirSync(tmp);
      try {
        const stepsMs = await buildZkey(compiled.r1csPath, ptauPath, tmp, verify, options.contractName, log);
        renameSync(path.join(tmp, "final.zkey"), zkeyPath);
        renameSync(path.join(tmp, "vkey.json"), vkeyPath);
        renameSync(path.join(tmp, "verifier.sol"), verifierPath);
        const stamp: SetupStamp = {
          key,
          power,
          ptauFile: rel(ptauPath),
          ptauBlake2b512,
          r1csBlake2b512,
          r1cs,
          insecure: true,
          beacon: { ...DEV_ZKEY_BEACON, text: DEV_ZKEY_BEACON_TEXT },
          createdAt: new Date().toISOString(),
          stepsMs,
        };
        writeFileAtomic(stampPath, `${JSON.stringify(stamp, null, 2)}\n`);
        log(
          `wrote ${rel(dir)}/ (${Object.entries(stepsMs)
            .map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`)
            .join(", ")})`,
        );
        return result(stamp, false);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    },
    () => log(`waiting for another process setting up ${name}`),
  );
}

async function buildZkey(
  r1csPath: string,
  ptauPath: string,
  tmp: string,
  verify: boolean,
  contractName: string | undefined,
  log: LogFn,
): Promise<Record<string, number>> {
  let step = "";
  const logger = progressLogger(log, () => step);
  const stepsMs: Record<string, number> = {};
  const f = (n: string) => path.join(tmp, n);
  const run = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    step = name;
    log(`${name}…`);
    const t0 = performance.now();
    const value = await fn();
    stepsMs[name] = Math.round(performance.now() - t0);
    return value;
  };
  const failed = (what: string) => new Error(`${what} failed: ${logger.errors.join("; ") || "see log above"}`);

  await withBn128Curve(async () => {
    const created = await run("newZKey", () => snarkjs.zKey.newZKey(r1csPath, ptauPath, f("0000.zkey"), logger));
    if (created === -1) throw failed("zKey.newZKey");
    await run("contribute", () =>
      snarkjs.zKey.contribute(
        f("0000.zkey"),
        f("0001.zkey"),
        "DEMLE dev contribution (insecure)",
        randomBytes(64).toString("hex"),
        logger,
      ),
    );
    const beaconed = await run("beacon", () =>
      snarkjs.zKey.beacon(
        f("0001.zkey"),
        f("final.zkey"),
        "DEMLE dev beacon (public)",
        DEV_ZKEY_BEACON.hash,
        DEV_ZKEY_BEACON.iterationsExp,
        logger,
      ),
    );
    if (beaconed === false) throw failed("zKey.beacon");
    rmSync(f("0000.zkey"));
    rmSync(f("0001.zkey"));
    if (verify) {
      const ok = await run("verify", () => snarkjs.zKey.verifyFromR1cs(r1csPath, ptauPath, f("final.zkey"), logger));
      if (!ok) throw failed("zKey.verifyFromR1cs");
    }
    await run("export", async () => {
      const vkey = await snarkjs.zKey.exportVerificationKey(f("final.zkey"));
      writeFileSync(f("vkey.json"), `${JSON.stringify(vkey, null, 2)}\n`);
      let sol = await snarkjs.zKey.exportSolidityVerifier(f("final.zkey"), { groth16: GROTH16_TEMPLATE() });
      if (contractName) sol = sol.replace(/\bcontract Groth16Verifier\b/, `contract ${contractName}`);
      writeFileSync(f("verifier.sol"), sol);
    });
  });
  return stepsMs;
}
