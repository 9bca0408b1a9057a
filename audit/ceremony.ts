/**
 * A Groth16 phase-2 ceremony around snarkjs (`zkey new`, `zkey contribute`, `zkey verify`, `zkey beacon`), kept in
 * one directory with a transcript:
 *
 *   transcript.json          circuit, r1cs and ptau hashes, and one entry per step: the initial key, each
 *                            contribution (name, contribution hash as snarkjs prints it, sha256 of the zkey it
 *                            produced) and the final beacon
 *   0000.zkey, 0001.zkey, …  the key after each step (only the latest is needed: a zkey carries the public keys of
 *                            all its contributions, and `zkey verify` checks the whole chain from r1cs + ptau)
 *   final.zkey               after `finalize`: the key with the beacon applied; what gets committed and audited
 *   verification_key.json    after `finalize`
 *
 * init      newZKey from the r1cs the sources compile to and the ptau (see ptau-pin.ts)
 * contribute one contribution: secret entropy from crypto.randomBytes (plus DEMLE_CEREMONY_ENTROPY if set), which
 *           snarkjs mixes with its own random bytes and forgets; appends the contribution hash
 * verify    zkey verify of the latest key against r1cs + ptau, and the transcript against the key's contributions
 * finalize  refuses unless at least one contribution was made; applies a public beacon, verifies, exports the
 *           verification key and verifier, and writes the circuit's audit manifest
 *
 * The key is secure if at least one contributor's entropy was destroyed; the beacon adds nothing secret.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import * as snarkjs from "snarkjs";
import { compileCircuit, REPO_ROOT } from "../circuits/compile.js";
import { withFileLock } from "../common/files.js";
import { blake2bFile } from "../ptau/ptau.js";
import { readR1csHeader, requiredPtauPower } from "../prover/setup.js";
import { VERIFIER_COMPILER_SETTINGS } from "../prover/verifier-contract.js";
import { errorMessage, progressLogger, snarkjsVersion, withBn128Curve, type LogFn } from "../prover/snarkjs-runtime.js";
import { ensureVerifierArtifacts, verifierSourceUnit } from "./committed.js";
import { readJson, recordedPath, resolveRecorded, sha256File, writeJsonFile } from "./files.js";
import {
  MANIFEST_FORMAT,
  pinnedCompiler,
  r1csPin,
  writeManifest,
  type CircuitManifest,
  type CompilerPin,
  type PtauPin,
  type R1csPin,
} from "./manifest.js";
import { selectPtau } from "./ptau-pin.js";
import { short, type CheckResult } from "./report.js";
import { compileVerifierRuntime, readZkeyInfo, type ZkeyContribution } from "./zkey.js";

export const TRANSCRIPT_FORMAT = "demle-ceremony-transcript/1";
export const TRANSCRIPT_FILE = "transcript.json";
export const FINAL_ZKEY = "final.zkey";
export const VKEY_FILE = "verification_key.json";
/** snarkjs keeps at most 64 characters of a contribution name. */
export const MAX_NAME_LENGTH = 64;

export interface TranscriptEntry {
  /** 0 for the initial key, then 1, 2, … as `snarkjs zkey verify` numbers contributions. */
  readonly index: number;
  readonly type: "init" | "contribution" | "beacon";
  readonly name?: string;
  /** blake2b-512 of the contribution's public key, as snarkjs prints "Contribution Hash". */
  readonly contributionHash?: string;
  readonly beaconHash?: string;
  readonly iterationsExp?: number;
  /** The zkey this step produced (a file name in the ceremony directory) and its sha256. */
  readonly file: string;
  readonly zkeySha256: string;
  readonly at: string;
}

export interface CeremonyTranscript {
  readonly format: typeof TRANSCRIPT_FORMAT;
  readonly circuit: string;
  readonly miningCircuit: string | null;
  readonly mainFile: string;
  readonly compiler: CompilerPin;
  readonly r1cs: R1csPin;
  readonly ptau: PtauPin;
  readonly snarkjs: string;
  /** snarkjs' circuit hash of the initial key. */
  readonly circuitHash: string;
  readonly entries: readonly TranscriptEntry[];
  readonly final: null | {
    readonly zkeySha256: string;
    readonly vkeySha256: string;
    readonly verifierSourceSha256: string;
    readonly at: string;
  };
}

export interface CeremonyCircuit {
  /** Build name (build/circuits/<name>). */
  readonly name: string;
  /** Main file, relative to the repo root or absolute (below the repo root: circom only sees files there). */
  readonly mainFile: string;
  readonly miningCircuit?: string | null;
}

export class CeremonyError extends Error {
  override readonly name = "CeremonyError";
}

const noLog: LogFn = () => {};

function transcriptPath(dir: string): string {
  return path.join(dir, TRANSCRIPT_FILE);
}

export function loadTranscript(dir: string): CeremonyTranscript {
  const file = transcriptPath(dir);
  if (!existsSync(file)) throw new CeremonyError(`no ceremony in ${recordedPath(dir)}: ${TRANSCRIPT_FILE} not found`);
  const transcript = readJson<CeremonyTranscript>(file, "ceremony transcript");
  if (transcript.format !== TRANSCRIPT_FORMAT) {
    throw new CeremonyError(
      `${recordedPath(file)}: format "${String(transcript.format)}", expected "${TRANSCRIPT_FORMAT}"`,
    );
  }
  return transcript;
}

/** The zkey of the ceremony's latest step. */
export function latestZkey(dir: string, transcript: CeremonyTranscript): { path: string; entry: TranscriptEntry } {
  const entry = transcript.entries[transcript.entries.length - 1];
  if (!entry) throw new CeremonyError(`${recordedPath(transcriptPath(dir))} has no entries`);
  return { path: path.join(dir, entry.file), entry };
}

function zkeyFileName(index: number): string {
  return `${String(index).padStart(4, "0")}.zkey`;
}

async function timed<T>(log: LogFn, what: string, fn: () => Promise<T>): Promise<T> {
  log(`${what}…`);
  const t0 = performance.now();
  const value = await fn();
  log(`${what} done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return value;
}

function lock<T>(dir: string, log: LogFn, fn: () => Promise<T>): Promise<T> {
  return withFileLock(path.join(dir, ".ceremony.lock"), fn, () => log(`waiting for another process using ${dir}`));
}

/** Starts a ceremony in `dir` (which must not hold one): the initial zkey from the circuit's r1cs and the ptau. */
export async function ceremonyInit(options: {
  readonly circuit: CeremonyCircuit;
  readonly dir: string;
  /** A prepared phase-1 file; default: see selectPtau. */
  readonly ptauPath?: string;
  readonly log?: LogFn;
}): Promise<CeremonyTranscript> {
  const log = options.log ?? noLog;
  const dir = path.resolve(options.dir);
  if (existsSync(transcriptPath(dir))) {
    throw new CeremonyError(`${recordedPath(dir)} already holds a ceremony (${TRANSCRIPT_FILE}); use a new directory`);
  }
  if (existsSync(dir) && readdirSync(dir).some((f) => f.endsWith(".zkey"))) {
    throw new CeremonyError(`${recordedPath(dir)} already holds zkey files; use an empty directory`);
  }
  mkdirSync(dir, { recursive: true });
  return lock(dir, log, async () => {
    const compiled = await timed(log, `compiling ${options.circuit.mainFile}`, () =>
      compileCircuit(options.circuit.name, options.circuit.mainFile),
    );
    const r1cs = await r1csPin(compiled.r1csPath);
    const needed = requiredPtauPower(await readR1csHeader(compiled.r1csPath));
    const ptau = await selectPtau(needed, options.ptauPath, log);
    log(`r1cs sha256 ${short(r1cs.sha256)} (${r1cs.constraints} constraints); ptau ${ptau.file} (power ${ptau.power})`);
    const file = zkeyFileName(0);
    const tmp = path.join(dir, `.${file}.${process.pid}.tmp`);
    try {
      const logger = progressLogger(log, () => "zkey new");
      const created = await timed(log, "zkey new (initial key from r1cs + ptau)", () =>
        withBn128Curve(() => snarkjs.zKey.newZKey(compiled.r1csPath, resolveRecorded(ptau.file), tmp, logger)),
      );
      if (created === -1) throw new CeremonyError(`zkey new failed: ${logger.errors.join("; ") || "see log"}`);
      renameSync(tmp, path.join(dir, file));
    } finally {
      rmSync(tmp, { force: true });
    }
    const zkeyPath = path.join(dir, file);
    const info = await readZkeyInfo(zkeyPath);
    const transcript: CeremonyTranscript = {
      format: TRANSCRIPT_FORMAT,
      circuit: options.circuit.name,
      miningCircuit: options.circuit.miningCircuit ?? null,
      mainFile: recordedPath(path.resolve(REPO_ROOT, options.circuit.mainFile)),
      compiler: pinnedCompiler(),
      r1cs,
      ptau,
      snarkjs: snarkjsVersion(),
      circuitHash: info.circuitHash,
      entries: [{ index: 0, type: "init", file, zkeySha256: await sha256File(zkeyPath), at: new Date().toISOString() }],
      final: null,
    };
    await writeJsonFile(transcriptPath(dir), transcript);
    log(`ceremony started in ${recordedPath(dir)}; circuit hash ${short(info.circuitHash)}`);
    return transcript;
  });
}

function checkName(name: string): void {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH || /[\p{Cc}]/u.test(name)) {
    throw new CeremonyError(`a contributor name must be 1..${MAX_NAME_LENGTH} printable characters`);
  }
}

async function checkLatestFile(dir: string, transcript: CeremonyTranscript): Promise<string> {
  const latest = latestZkey(dir, transcript);
  if (!existsSync(latest.path)) throw new CeremonyError(`${recordedPath(latest.path)} not found`);
  const sha = await sha256File(latest.path);
  if (sha !== latest.entry.zkeySha256) {
    throw new CeremonyError(
      `${recordedPath(latest.path)} has sha256 ${short(sha)}, the transcript says ${short(latest.entry.zkeySha256)}: ` +
        "the file was replaced or damaged",
    );
  }
  return latest.path;
}

/** Adds one contribution; returns its transcript entry (whose contributionHash the contributor should publish). */
export async function ceremonyContribute(options: {
  readonly dir: string;
  readonly name: string;
  /** Extra entropy mixed into crypto.randomBytes (default: env DEMLE_CEREMONY_ENTROPY). */
  readonly entropy?: string;
  readonly log?: LogFn;
}): Promise<TranscriptEntry> {
  const log = options.log ?? noLog;
  const dir = path.resolve(options.dir);
  checkName(options.name);
  return lock(dir, log, async () => {
    const transcript = loadTranscript(dir);
    if (transcript.final) throw new CeremonyError(`the ceremony in ${recordedPath(dir)} is finalized`);
    const previous = await checkLatestFile(dir, transcript);
    const index = transcript.entries.length;
    const file = zkeyFileName(index);
    const tmp = path.join(dir, `.${file}.${process.pid}.tmp`);
    const entropy = `${randomBytes(64).toString("hex")}${options.entropy ?? process.env.DEMLE_CEREMONY_ENTROPY ?? ""}`;
    let hash: Uint8Array;
    try {
      const logger = progressLogger(log, () => `contribution #${index}`);
      hash = await timed(log, `contribution #${index} (${options.name})`, () =>
        withBn128Curve(() => snarkjs.zKey.contribute(previous, tmp, options.name, entropy, logger)),
      );
      renameSync(tmp, path.join(dir, file));
    } finally {
      rmSync(tmp, { force: true });
    }
    const entry: TranscriptEntry = {
      index,
      type: "contribution",
      name: options.name,
      contributionHash: Buffer.from(hash).toString("hex"),
      file,
      zkeySha256: await sha256File(path.join(dir, file)),
      at: new Date().toISOString(),
    };
    await writeJsonFile(transcriptPath(dir), { ...transcript, entries: [...transcript.entries, entry] });
    log(`contribution #${index} by ${options.name}: hash ${entry.contributionHash}`);
    return entry;
  });
}

/** Compares the zkey's contribution list with the transcript's entries after the initial key. */
export function compareContributions(
  entries: readonly TranscriptEntry[],
  contributions: readonly ZkeyContribution[],
): string | undefined {
  const expected = entries.filter((e) => e.type !== "init");
  if (expected.length !== contributions.length) {
    return `the zkey has ${contributions.length} contributions, the transcript ${expected.length}`;
  }
  for (const [i, c] of contributions.entries()) {
    const e = expected[i]!;
    const mismatch =
      e.type !== c.type ||
      (e.name ?? "") !== c.name ||
      e.contributionHash !== c.contributionHash ||
      (c.type === "beacon" && (e.beaconHash !== c.beaconHash || e.iterationsExp !== c.iterationsExp));
    if (mismatch) {
      return (
        `contribution #${c.index}: the zkey has ${c.type} "${c.name}" ${short(c.contributionHash)}, ` +
        `the transcript ${e.type} "${e.name ?? ""}" ${short(e.contributionHash ?? "")}`
      );
    }
  }
  return undefined;
}

function describeSteps(entries: readonly TranscriptEntry[]): string {
  const n = entries.filter((e) => e.type === "contribution").length;
  const beacon = entries.some((e) => e.type === "beacon");
  return `${n} contribution${n === 1 ? "" : "s"}${beacon ? " and the beacon" : ""}`;
}

/** snarkjs zkey verify (r1cs + ptau → the key's whole contribution chain); false with the reason on failure. */
export async function zkeyVerify(
  r1csPath: string,
  ptauPath: string,
  zkeyPath: string,
  log: LogFn,
): Promise<{ ok: boolean; why: string }> {
  const messages: string[] = [];
  const logger = progressLogger(
    (line) => log(line),
    () => "zkey verify",
  );
  const collecting = {
    ...logger,
    error(message: string) {
      messages.push(message);
      logger.error(message);
    },
  };
  // A few snarkjs failures are only printed with console.log ("INVALID(i): …").
  const consoleLog = console.log;
  console.log = (...args: unknown[]) => {
    messages.push(args.map(String).join(" "));
  };
  try {
    const ok = await withBn128Curve(() => snarkjs.zKey.verifyFromR1cs(r1csPath, ptauPath, zkeyPath, collecting));
    return { ok, why: ok ? "" : messages.join("; ") || "snarkjs zkey verify returned false" };
  } catch (error) {
    return { ok: false, why: `snarkjs zkey verify threw: ${errorMessage(error)}` };
  } finally {
    console.log = consoleLog;
  }
}

/**
 * Checks a ceremony: ptau and r1cs hashes against the transcript, the latest zkey's sha256, snarkjs zkey verify,
 * and the transcript's contribution hashes against the key's. One result per check, like the audit.
 */
export async function ceremonyVerify(options: {
  readonly dir: string;
  readonly log?: LogFn;
  /** Verify this zkey (with `entries` as the transcript's) instead of the latest; used by finalize. */
  readonly candidate?: { readonly zkeyPath: string; readonly entries: readonly TranscriptEntry[] };
}): Promise<CheckResult[]> {
  const log = options.log ?? noLog;
  const dir = path.resolve(options.dir);
  const transcript = loadTranscript(dir);
  const circuit = transcript.circuit;
  const results: CheckResult[] = [];
  const add = (check: string, ok: boolean, detail: string) => results.push({ check, circuit, ok, detail });

  const ptauPath = resolveRecorded(transcript.ptau.file);
  let ptauOk = false;
  if (!existsSync(ptauPath)) add("ceremony-ptau", false, `${transcript.ptau.file} not found`);
  else {
    const b2 = await blake2bFile(ptauPath);
    ptauOk = b2 === transcript.ptau.blake2b512;
    add(
      "ceremony-ptau",
      ptauOk,
      ptauOk
        ? `blake2b-512 ${short(b2)} of ${transcript.ptau.file} matches the transcript`
        : `blake2b-512 of ${transcript.ptau.file} is ${short(b2)}, the transcript says ${short(transcript.ptau.blake2b512)}`,
    );
  }

  const compiled = await compileCircuit(transcript.circuit, resolveRecorded(transcript.mainFile));
  const r1csSha = await sha256File(compiled.r1csPath);
  add(
    "ceremony-r1cs",
    r1csSha === transcript.r1cs.sha256,
    r1csSha === transcript.r1cs.sha256
      ? `sha256 ${short(r1csSha)} of ${transcript.mainFile}'s r1cs matches the transcript`
      : `${transcript.mainFile} compiles to r1cs sha256 ${short(r1csSha)}, the transcript says ${short(transcript.r1cs.sha256)}`,
  );

  const entries = options.candidate?.entries ?? transcript.entries;
  const zkeyPath = options.candidate?.zkeyPath ?? latestZkey(dir, transcript).path;
  const last = entries[entries.length - 1]!;
  if (!existsSync(zkeyPath)) {
    add("ceremony-zkey", false, `${recordedPath(zkeyPath)} not found`);
    return results;
  }
  if (!options.candidate) {
    const sha = await sha256File(zkeyPath);
    add(
      "ceremony-zkey",
      sha === last.zkeySha256,
      sha === last.zkeySha256
        ? `sha256 ${short(sha)} of ${path.basename(zkeyPath)} matches transcript entry #${last.index}`
        : `${path.basename(zkeyPath)} has sha256 ${short(sha)}, transcript entry #${last.index} says ${short(last.zkeySha256)}`,
    );
  }

  const verified = await timed(log, `zkey verify ${path.basename(zkeyPath)} against r1cs + ptau`, () =>
    zkeyVerify(compiled.r1csPath, ptauPath, zkeyPath, log),
  );
  add(
    "zkey-verify",
    verified.ok,
    verified.ok
      ? `snarkjs zkey verify: ${path.basename(zkeyPath)} derives from the r1cs and ptau through ${describeSteps(entries)}`
      : `snarkjs zkey verify rejects ${path.basename(zkeyPath)}: ${verified.why}`,
  );

  try {
    const info = await readZkeyInfo(zkeyPath);
    const mismatch =
      info.circuitHash !== transcript.circuitHash
        ? `circuit hash ${short(info.circuitHash)} differs from the transcript's ${short(transcript.circuitHash)}`
        : compareContributions(entries, info.contributions);
    add(
      "ceremony-transcript",
      mismatch === undefined,
      mismatch ?? `the zkey's ${info.contributions.length} contribution hashes match the transcript's`,
    );
  } catch (error) {
    add("ceremony-transcript", false, errorMessage(error));
  }
  return results;
}

export interface FinalizeResult {
  readonly transcript: CeremonyTranscript;
  readonly manifest: CircuitManifest;
  readonly zkeyPath: string;
  readonly verifierPath: string;
  readonly manifestPath: string | null;
}

/**
 * Applies the beacon, verifies the result, exports the verification key and verifier, and writes the manifest
 * (to `manifestPath`; null: do not write one). Refuses a ceremony without a contribution or already finalized.
 */
export async function ceremonyFinalize(options: {
  readonly dir: string;
  /** Public beacon value, hex (e.g. a block hash announced in advance). */
  readonly beacon: string;
  /** 2^iterationsExp hash iterations of the beacon (snarkjs: 10..63). */
  readonly iterationsExp: number;
  readonly manifestPath: string | null;
  readonly log?: LogFn;
}): Promise<FinalizeResult> {
  const log = options.log ?? noLog;
  const dir = path.resolve(options.dir);
  const beacon = options.beacon.replace(/^0x/i, "").toLowerCase();
  if (!/^([0-9a-f]{2}){1,255}$/.test(beacon)) {
    throw new CeremonyError("the beacon must be 1..255 bytes of hex (e.g. a block hash)");
  }
  if (!Number.isInteger(options.iterationsExp) || options.iterationsExp < 10 || options.iterationsExp > 63) {
    throw new CeremonyError("--iterations must be an integer in 10..63 (2^n hash iterations of the beacon)");
  }
  return lock(dir, log, async () => {
    const transcript = loadTranscript(dir);
    if (transcript.final) throw new CeremonyError(`the ceremony in ${recordedPath(dir)} is already finalized`);
    const contributions = transcript.entries.filter((e) => e.type === "contribution");
    if (contributions.length === 0) {
      throw new CeremonyError(
        "refusing to finalize: the ceremony has no contribution beyond the initial key, and a beacon alone is " +
          "public (anyone could recompute the toxic waste); run `demle ceremony contribute` first",
      );
    }
    const previous = await checkLatestFile(dir, transcript);
    const finalPath = path.join(dir, FINAL_ZKEY);
    const tmp = path.join(dir, `.${FINAL_ZKEY}.${process.pid}.tmp`);
    try {
      const logger = progressLogger(log, () => "beacon");
      const hash = await timed(log, `beacon (2^${options.iterationsExp} iterations)`, () =>
        withBn128Curve(() => snarkjs.zKey.beacon(previous, tmp, "final beacon", beacon, options.iterationsExp, logger)),
      );
      if (hash === false) throw new CeremonyError(`zkey beacon failed: ${logger.errors.join("; ") || "see log"}`);
      const entry: TranscriptEntry = {
        index: transcript.entries.length,
        type: "beacon",
        name: "final beacon",
        contributionHash: Buffer.from(hash).toString("hex"),
        beaconHash: beacon,
        iterationsExp: options.iterationsExp,
        file: FINAL_ZKEY,
        zkeySha256: await sha256File(tmp),
        at: new Date().toISOString(),
      };
      const entries = [...transcript.entries, entry];
      const checks = await ceremonyVerify({ dir, log, candidate: { zkeyPath: tmp, entries } });
      const failed = checks.filter((c) => !c.ok);
      if (failed.length > 0) {
        throw new CeremonyError(
          `the beaconed key does not verify: ${failed.map((c) => `${c.check}: ${c.detail}`).join("; ")}`,
        );
      }
      renameSync(tmp, finalPath);

      const artifacts = await ensureVerifierArtifacts(transcript.circuit, finalPath, entry.zkeySha256);
      await writeJsonFile(path.join(dir, VKEY_FILE), artifacts.vkey);
      const sourceUnit = verifierSourceUnit(transcript.circuit);
      const runtime = compileVerifierRuntime(readFileSync(artifacts.verifierPath, "utf8"), sourceUnit);
      const info = await readZkeyInfo(finalPath);
      const final = {
        zkeySha256: entry.zkeySha256,
        vkeySha256: artifacts.vkeySha256,
        verifierSourceSha256: artifacts.sourceSha256,
        at: entry.at,
      };
      const finalTranscript: CeremonyTranscript = { ...transcript, entries, final };
      await writeJsonFile(transcriptPath(dir), finalTranscript);
      const manifest: CircuitManifest = {
        format: MANIFEST_FORMAT,
        circuit: transcript.circuit,
        miningCircuit: transcript.miningCircuit,
        mainFile: transcript.mainFile,
        compiler: transcript.compiler,
        r1cs: transcript.r1cs,
        ptau: transcript.ptau,
        phase2: {
          snarkjs: transcript.snarkjs,
          zkey: { file: recordedPath(finalPath), sha256: entry.zkeySha256, sizeBytes: statSync(finalPath).size },
          transcript: recordedPath(transcriptPath(dir)),
          circuitHash: info.circuitHash,
          contributions: info.contributions,
          verificationKey: { sha256: artifacts.vkeySha256, nPublic: artifacts.vkey.nPublic },
          verifier: {
            generator: `snarkjs@${transcript.snarkjs} templates/verifier_groth16.sol.ejs`,
            contractName: runtime.contractName,
            sourceUnit,
            sourceSha256: artifacts.sourceSha256,
            solc: runtime.solcVersion,
            settings: VERIFIER_COMPILER_SETTINGS,
            runtimeKeccak256: runtime.runtimeKeccak256,
            runtimeKeccak256NoMetadata: runtime.runtimeKeccak256NoMetadata,
          },
        },
      };
      if (options.manifestPath !== null) {
        mkdirSync(path.dirname(options.manifestPath), { recursive: true });
        await writeManifest(options.manifestPath, manifest);
        log(`wrote ${recordedPath(options.manifestPath)}`);
      }
      log(
        `finalized: ${recordedPath(finalPath)} (sha256 ${short(entry.zkeySha256)}), ${contributions.length} ` +
          `contributions + beacon; verifier ${recordedPath(artifacts.verifierPath)}`,
      );
      return {
        transcript: finalTranscript,
        manifest,
        zkeyPath: finalPath,
        verifierPath: artifacts.verifierPath,
        manifestPath: options.manifestPath,
      };
    } finally {
      rmSync(tmp, { force: true });
    }
  });
}
