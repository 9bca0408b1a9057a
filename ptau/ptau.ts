/**
 * Powers-of-tau files (phase 1 of the Groth16 setup) for BN254.
 *
 * Development: `ensureDevPtau(power)` returns build/ptau/pot<power>_dev_insecure.ptau, derived (copied, or truncated
 * to fewer powers) from the first pinned source that is large enough: the committed ptau/dev/pot13_dev_insecure.ptau,
 * then the read-only shared cache ../shared/ptau/pot16_dev.ptau (checked against a pinned blake2b-512 hash and its
 * .b2 file). Without a usable source the file is built with snarkjs: new → one contribution (random entropy,
 * discarded) → public beacon → prepare phase 2. A json record beside the file keeps its hash; every later
 * call re-checks the file's structure and hash against it. Such a file has a single contributor whose secret was
 * only held in memory: good for development, NOT for production (hence "insecure" in the name).
 *
 * Production: the Hermez ceremony files `powersOfTau28_hez_final_NN.ptau`, accepted only if their blake2b-512
 * equals the published one (`verifyPublicPtau`).
 *
 * CLI: `npm run ptau -- ensure <power>` | `verify <file> <power>` | `inspect <file>` | `hash <file>`.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { chmod, copyFile, open, stat } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as snarkjs from "snarkjs";
import { REPO_ROOT } from "../circuits/compile.js";
import {
  errorMessage,
  progressLogger,
  snarkjsVersion,
  stderrLog,
  withBn128Curve,
  type LogFn,
} from "../prover/snarkjs-runtime.js";
import { withFileLock, writeFileAtomic } from "../common/files.js";

export const DEV_PTAU_DIR = path.join(REPO_ROOT, "build", "ptau");
/** Read-only shared cache of the power-16 development ptau (building it takes ~25 min on 2 cores). */
export const SHARED_PTAU_DIR = path.resolve(REPO_ROOT, "..", "shared", "ptau");
export const SHARED_POT16_FILE = "pot16_dev.ptau";
/** blake2b-512 of ../shared/ptau/pot16_dev.ptau (also in pot16_dev.ptau.b2; both must agree with this pin). */
export const SHARED_POT16_BLAKE2B =
  "d43279c00f3c35adc2f7dbad014cf2750d393d65e2ef93e302f43dda3f07436878df31172ae94a14113241247a565edd3246e193ee20df1f9d6097511561955c";
/**
 * Committed power-13 dev ptau: `snarkjs powersoftau truncate` of the shared pot16 (same ceremony, 9 MB), so a fresh
 * clone can set up circuits of up to 8,192 constraints (the demo's) in seconds without ../shared.
 */
export const COMMITTED_POT13_FILE = path.join(REPO_ROOT, "ptau", "dev", "pot13_dev_insecure.ptau");
export const COMMITTED_POT13_BLAKE2B =
  "669ff57e95afc94b8720c9185d2e7bec63322a07dec35473a4328d6b2fbc01c64c4554d685c6aaa8a98c76f9b8196d239cd3a3762ba16dac2e8afa6217c9049b";
/** Largest power for which a development ptau exists (the shared cache); larger circuits need a Hermez file. */
export const MAX_DEV_POWER = 16;
/**
 * Public beacon applied after the random contribution of a dev ptau: the same fixed value as the shared pot16
 * (bytes 0x01..0x1f, 2^10 iterations). It is not secret and adds no security; it only finalises the file the
 * way a real ceremony does.
 */
export const DEV_PTAU_BEACON = {
  hash: "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
  iterationsExp: 10,
};

/** Where the Hermez files are published (file names in HERMEZ_PTAU). */
export const HERMEZ_PTAU_BASE_URL = "https://storage.googleapis.com/zkevm/ptau/";

/**
 * Published blake2b-512 hashes of the Hermez (Polygon zkEVM) phase-1 files, as listed in the snarkjs 0.7.6 README
 * ("7. Prepare phase 2"), cross-checked against an independent copy of that table (ftsrg/zkWF,
 * pkg/powersoftau/table.go).
 */
export const HERMEZ_PTAU: Readonly<Record<number, { readonly file: string; readonly blake2b512: string }>> = {
  8: {
    file: "powersOfTau28_hez_final_08.ptau",
    blake2b512:
      "d6a8fb3a04feb600096c3b791f936a578c4e664d262e4aa24beed1b7a9a96aa5eb72864d628db247e9293384b74b36ffb52ca8d148d6e1b8b51e279fdf57b583",
  },
  9: {
    file: "powersOfTau28_hez_final_09.ptau",
    blake2b512:
      "94f108a80e81b5d932d8e8c9e8fd7f46cf32457e31462deeeef37af1b71c2c1b3c71fb0d9b59c654ec266b042735f50311f9fd1d4cadce47ab234ad163157cb5",
  },
  10: {
    file: "powersOfTau28_hez_final_10.ptau",
    blake2b512:
      "6cfeb8cda92453099d20120bdd0e8a5c4e7706c2da9a8f09ccc157ed2464d921fd0437fb70db42104769efd7d6f3c1f964bcf448c455eab6f6c7d863e88a5849",
  },
  11: {
    file: "powersOfTau28_hez_final_11.ptau",
    blake2b512:
      "47c282116b892e5ac92ca238578006e31a47e7c7e70f0baa8b687f0a5203e28ea07bbbec765a98dcd654bad618475d4661bfaec3bd9ad2ed12e7abc251d94d33",
  },
  12: {
    file: "powersOfTau28_hez_final_12.ptau",
    blake2b512:
      "ded2694169b7b08e898f736d5de95af87c3f1a64594013351b1a796dbee393bd825f88f9468c84505ddd11eb0b1465ac9b43b9064aa8ec97f2b73e04758b8a4a",
  },
  13: {
    file: "powersOfTau28_hez_final_13.ptau",
    blake2b512:
      "58efc8bf2834d04768a3d7ffcd8e1e23d461561729beaac4e3e7a47829a1c9066d5320241e124a1a8e8aa6c75be0ba66f65bc8239a0542ed38e11276f6fdb4d9",
  },
  14: {
    file: "powersOfTau28_hez_final_14.ptau",
    blake2b512:
      "eeefbcf7c3803b523c94112023c7ff89558f9b8e0cf5d6cdcba3ade60f168af4a181c9c21774b94fbae6c90411995f7d854d02ebd93fb66043dbb06f17a831c1",
  },
  15: {
    file: "powersOfTau28_hez_final_15.ptau",
    blake2b512:
      "982372c867d229c236091f767e703253249a9b432c1710b4f326306bfa2428a17b06240359606cfe4d580b10a5a1f63fbed499527069c18ae17060472969ae6e",
  },
  16: {
    file: "powersOfTau28_hez_final_16.ptau",
    blake2b512:
      "6a6277a2f74e1073601b4f9fed6e1e55226917efb0f0db8a07d98ab01df1ccf43eb0e8c3159432acd4960e2f29fe84a4198501fa54c8dad9e43297453efec125",
  },
  17: {
    file: "powersOfTau28_hez_final_17.ptau",
    blake2b512:
      "6247a3433948b35fbfae414fa5a9355bfb45f56efa7ab4929e669264a0258976741dfbe3288bfb49828e5df02c2e633df38d2245e30162ae7e3bcca5b8b49345",
  },
  18: {
    file: "powersOfTau28_hez_final_18.ptau",
    blake2b512:
      "7e6a9c2e5f05179ddfc923f38f917c9e6831d16922a902b0b4758b8e79c2ab8a81bb5f29952e16ee6c5067ed044d7857b5de120a90704c1d3b637fd94b95b13e",
  },
  19: {
    file: "powersOfTau28_hez_final_19.ptau",
    blake2b512:
      "bca9d8b04242f175189872c42ceaa21e2951e0f0f272a0cc54fc37193ff6648600eaf1c555c70cdedfaf9fb74927de7aa1d33dc1e2a7f1a50619484989da0887",
  },
  20: {
    file: "powersOfTau28_hez_final_20.ptau",
    blake2b512:
      "89a66eb5590a1c94e3f1ee0e72acf49b1669e050bb5f93c73b066b564dca4e0c7556a52b323178269d64af325d8fdddb33da3a27c34409b821de82aa2bf1a27b",
  },
  21: {
    file: "powersOfTau28_hez_final_21.ptau",
    blake2b512:
      "9aef0573cef4ded9c4a75f148709056bf989f80dad96876aadeb6f1c6d062391f07a394a9e756d16f7eb233198d5b69407cca44594c763ab4a5b67ae73254678",
  },
  22: {
    file: "powersOfTau28_hez_final_22.ptau",
    blake2b512:
      "0d64f63dba1a6f11139df765cb690da69d9b2f469a1ddd0de5e4aa628abb28f787f04c6a5fb84a235ec5ea7f41d0548746653ecab0559add658a83502d1cb21b",
  },
  23: {
    file: "powersOfTau28_hez_final_23.ptau",
    blake2b512:
      "3063a0bd81d68711197c8820a92466d51aeac93e915f5136d74f63c394ee6d88c5e8016231ea6580bec02e25d491f319d92e77f5c7f46a9caa8f3b53c0ea544f",
  },
  24: {
    file: "powersOfTau28_hez_final_24.ptau",
    blake2b512:
      "fa404d140d5819d39984833ca5ec3632cd4995f81e82db402371a4de7c2eae8687c62bc632a95b0c6aadba3fb02680a94e09174b7233ccd26d78baca2647c733",
  },
  25: {
    file: "powersOfTau28_hez_final_25.ptau",
    blake2b512:
      "0377d860cdb09a8a31ea1b0b8c04335614c8206357181573bf294c25d5ca7dff72387224fbd868897e6769f7805b3dab02854aec6d69d7492883b5e4e5f35eeb",
  },
  26: {
    file: "powersOfTau28_hez_final_26.ptau",
    blake2b512:
      "418dee4a74b9592198bd8fd02ad1aea76f9cf3085f206dfd7d594c9e264ae919611b1459a1cc920c2f143417744ba9edd7b8d51e44be9452344a225ff7eead19",
  },
  27: {
    file: "powersOfTau28_hez_final_27.ptau",
    blake2b512:
      "10ffd99837c512ef99752436a54b9810d1ac8878d368fb4b806267bdd664b4abf276c9cd3c4b9039a1fa4315a0c326c0e8e9e8fe0eb588ffd4f9021bf7eae1a1",
  },
  28: {
    file: "powersOfTau28_hez_final.ptau",
    blake2b512:
      "55c77ce8562366c91e7cda394cf7b7c15a06c12d8c905e8b36ba9cf5e13eb37d1a429c589e8eaba4c591bc4b88a0e2828745a53e170eac300236f5c1a326f41a",
  },
};

export type PtauErrorCode =
  "missing" | "truncated" | "corrupt" | "hash-mismatch" | "power-mismatch" | "not-prepared" | "unknown-power";

/** Every problem with a ptau file is reported as a PtauError naming the file and what is wrong with it. */
export class PtauError extends Error {
  constructor(
    readonly code: PtauErrorCode,
    readonly file: string,
    detail: string,
  ) {
    super(`ptau ${displayPath(file)}: ${detail}`);
    this.name = "PtauError";
  }
}

/** Repo-relative for files in or beside the repo (build/…, ../shared/…), absolute elsewhere (temp dirs). */
function displayPath(file: string): string {
  const rel = path.relative(REPO_ROOT, file);
  return rel.startsWith(`..${path.sep}..`) ? file : rel;
}

/** blake2b-512 (hex) of a file, streamed (Hermez files reach gigabytes). Same digest as `b2sum` / snarkjs' table. */
export async function blake2bFile(file: string): Promise<string> {
  const hash = createHash("blake2b512");
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 22 })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

// BN254 base field modulus q: the ptau header names the curve by it.
const BN254_Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583n;

export interface PtauSection {
  readonly type: number;
  readonly offset: number;
  readonly size: number;
}

export interface PtauInfo {
  readonly file: string;
  readonly sizeBytes: number;
  /** Powers available in this file (2^power constraints). */
  readonly power: number;
  /** Power of the ceremony the file was cut from (28 for Hermez files, = power for dev files). */
  readonly ceremonyPower: number;
  readonly sections: readonly PtauSection[];
  /** Has the Lagrange sections (12–15) written by `prepare phase2`, which Groth16 setup needs. */
  readonly preparedPhase2: boolean;
}

/**
 * Reads the binary layout of a ptau file (magic, version, section table, header) and checks that every section the
 * format fixes in size has that size and that the sections exactly fill the file. Catches truncated and mangled
 * files in milliseconds without hashing; it does not check the points themselves (the hash, or `snarkjs powersoftau
 * verify`, does).
 */
export async function inspectPtau(file: string): Promise<PtauInfo> {
  if (!existsSync(file)) throw new PtauError("missing", file, "file not found");
  const fh = await open(file, "r");
  try {
    const sizeBytes = (await fh.stat()).size;
    const read = async (offset: number, length: number): Promise<Buffer> => {
      if (offset + length > sizeBytes) {
        throw new PtauError(
          "truncated",
          file,
          `file ends at byte ${sizeBytes} but the format needs bytes up to ${offset + length}`,
        );
      }
      const buf = Buffer.alloc(length);
      await fh.read(buf, 0, length, offset);
      return buf;
    };
    const head = await read(0, 12);
    if (head.toString("latin1", 0, 4) !== "ptau") throw new PtauError("corrupt", file, "not a ptau file (bad magic)");
    const version = head.readUInt32LE(4);
    const nSections = head.readUInt32LE(8);
    if (version !== 1) throw new PtauError("corrupt", file, `unsupported ptau version ${version}`);
    if (nSections < 1 || nSections > 64) throw new PtauError("corrupt", file, `implausible section count ${nSections}`);
    const sections: PtauSection[] = [];
    let pos = 12;
    for (let i = 0; i < nSections; i++) {
      const sh = await read(pos, 12);
      const type = sh.readUInt32LE(0);
      const size = Number(sh.readBigUInt64LE(4));
      sections.push({ type, offset: pos + 12, size });
      pos += 12 + size;
      if (pos > sizeBytes) {
        throw new PtauError(
          "truncated",
          file,
          `section ${type} declares ${size} bytes but the file ends ${pos - sizeBytes} bytes early`,
        );
      }
    }
    if (pos !== sizeBytes) {
      throw new PtauError("corrupt", file, `${sizeBytes - pos} unexpected bytes after the last section`);
    }
    const header = sections.find((s) => s.type === 1);
    if (!header) throw new PtauError("corrupt", file, "no header section");
    const hb = await read(header.offset, header.size);
    const n8 = hb.readUInt32LE(0);
    if (n8 !== 32 || header.size !== 4 + n8 + 8) throw new PtauError("corrupt", file, `unexpected header (n8=${n8})`);
    let q = 0n;
    for (let i = n8 - 1; i >= 0; i--) q = (q << 8n) | BigInt(hb[4 + i]!);
    if (q !== BN254_Q) throw new PtauError("corrupt", file, "header curve is not BN254 (bn128)");
    const power = hb.readUInt32LE(4 + n8);
    const ceremonyPower = hb.readUInt32LE(8 + n8);
    if (power < 1 || power > 28 || ceremonyPower < power) {
      throw new PtauError("corrupt", file, `implausible power ${power} (ceremony power ${ceremonyPower})`);
    }
    const g1 = 2 * n8;
    const g2 = 4 * n8;
    const n = 2 ** power;
    // Allowed sizes of the fixed-size sections (bytes).
    const expected: Record<number, number[]> = {
      2: [(2 * n - 1) * g1], // tauG1
      3: [n * g2], // tauG2
      4: [n * g1], // alphaTauG1
      5: [n * g1], // betaTauG1
      6: [g2], // betaG2
      // Lagrange bases of every power 0..power written by prepare phase 2; snarkjs >= 0.4 also adds power+1 to the
      // tauG1 one (4n-1 points), older files may not have it.
      12: [(4 * n - 1) * g1, (2 * n - 1) * g1],
      13: [(2 * n - 1) * g2],
      14: [(2 * n - 1) * g1],
      15: [(2 * n - 1) * g1],
    };
    for (const [type, sizes] of Object.entries(expected)) {
      const section = sections.find((s) => s.type === Number(type));
      if (section && !sizes.includes(section.size)) {
        throw new PtauError(
          "corrupt",
          file,
          `section ${type} has ${section.size} bytes, power ${power} needs ${sizes.join(" or ")}`,
        );
      }
      if (!section && Number(type) < 12) throw new PtauError("corrupt", file, `section ${type} is missing`);
    }
    const preparedPhase2 = [12, 13, 14, 15].every((t) => sections.some((s) => s.type === t));
    return { file, sizeBytes, power, ceremonyPower, sections, preparedPhase2 };
  } finally {
    await fh.close();
  }
}

export interface CheckedPtau {
  readonly info: PtauInfo;
  readonly blake2b512: string;
}

/**
 * Checks a ptau file's structure, optionally its power and that phase 2 is prepared, and its blake2b-512 against
 * `expect.blake2b512` if given. Throws PtauError on any mismatch.
 */
export async function checkPtauFile(
  file: string,
  expect: { blake2b512?: string; power?: number; preparedPhase2?: boolean } = {},
): Promise<CheckedPtau> {
  const info = await inspectPtau(file);
  if (expect.power !== undefined && info.power !== expect.power) {
    throw new PtauError("power-mismatch", file, `has power ${info.power}, expected ${expect.power}`);
  }
  if (expect.preparedPhase2 && !info.preparedPhase2) {
    throw new PtauError("not-prepared", file, "phase 2 is not prepared (run snarkjs powersoftau prepare phase2)");
  }
  const blake2b512 = await blake2bFile(file);
  if (expect.blake2b512 !== undefined && blake2b512 !== expect.blake2b512.toLowerCase()) {
    throw new PtauError(
      "hash-mismatch",
      file,
      `blake2b-512 mismatch: expected ${expect.blake2b512.slice(0, 16)}…, got ${blake2b512.slice(0, 16)}… ` +
        "(the file is corrupt or not the expected one)",
    );
  }
  return { info, blake2b512 };
}

/**
 * Accepts a production phase-1 file only if its blake2b-512 equals the published hash of
 * `powersOfTau28_hez_final_<power>.ptau` (power 28: `powersOfTau28_hez_final.ptau`). Returns the checked info.
 */
export async function verifyPublicPtau(file: string, power: number): Promise<CheckedPtau> {
  const published = HERMEZ_PTAU[power];
  if (!published) {
    throw new PtauError("unknown-power", file, `no published Hermez ptau hash for power ${power} (have 8..28)`);
  }
  try {
    return await checkPtauFile(file, { blake2b512: published.blake2b512, power, preparedPhase2: true });
  } catch (error) {
    if (error instanceof PtauError && error.code === "hash-mismatch") {
      throw new PtauError(
        "hash-mismatch",
        file,
        `is not ${published.file}: ${error.message.replace(/^ptau [^:]*: /, "")}`,
      );
    }
    throw error;
  }
}

export interface DevPtauRecord {
  readonly file: string;
  readonly power: number;
  readonly curve: "bn128";
  readonly blake2b512: string;
  readonly source: "built" | "shared-cache" | "committed" | "truncated";
  readonly insecure: true;
  readonly note: string;
  readonly snarkjs: string;
  readonly createdAt: string;
  readonly beacon?: typeof DEV_PTAU_BEACON;
  readonly stepsMs?: Record<string, number>;
}

export interface DevPtau {
  readonly path: string;
  readonly power: number;
  readonly blake2b512: string;
  readonly record: DevPtauRecord;
  /** false when this call built or copied the file. */
  readonly cached: boolean;
}

export interface DevPtauOptions {
  /** Output directory (default build/ptau). */
  readonly dir?: string;
  /** Directory of the shared read-only cache (default ../shared/ptau). */
  readonly sharedDir?: string;
  /** Progress lines (default: stderr). */
  readonly log?: LogFn;
}

export function devPtauPath(power: number, dir = DEV_PTAU_DIR): string {
  return path.join(dir, `pot${power}_dev_insecure.ptau`);
}

/** Path of the development ptau of `power`, building or copying it first if needed. See the module comment. */
export async function ensureDevPtau(power: number, options: DevPtauOptions = {}): Promise<string> {
  return (await ensureDevPtauInfo(power, options)).path;
}

export async function ensureDevPtauInfo(power: number, options: DevPtauOptions = {}): Promise<DevPtau> {
  if (!Number.isInteger(power) || power < 1 || power > MAX_DEV_POWER) {
    throw new Error(
      `dev ptau power must be an integer in 1..${MAX_DEV_POWER}, got ${power} ` +
        "(larger circuits need a Hermez powersOfTau28_hez_final_NN.ptau, see verifyPublicPtau)",
    );
  }
  const dir = options.dir ?? DEV_PTAU_DIR;
  const log = options.log ?? stderrLog("ptau");
  const file = devPtauPath(power, dir);
  const recordPath = `${file}.json`;
  return withFileLock(
    `${file}.lock`,
    async () => {
      if (existsSync(file) && existsSync(recordPath)) {
        let record: DevPtauRecord;
        try {
          record = JSON.parse(readFileSync(recordPath, "utf8")) as DevPtauRecord;
        } catch (error) {
          throw new PtauError(
            "corrupt",
            file,
            `unreadable record ${displayPath(recordPath)} (${errorMessage(error)}); delete both files to rebuild`,
          );
        }
        const { blake2b512 } = await checkPtauFile(file, {
          blake2b512: record.blake2b512,
          power,
          preparedPhase2: true,
        }).catch((error: unknown) => {
          throw error instanceof PtauError
            ? new PtauError(
                error.code,
                file,
                `${error.message.replace(/^ptau [^:]*: /, "")}; delete ${displayPath(file)} and its .json to rebuild it`,
              )
            : error;
        });
        return { path: file, power, blake2b512, record, cached: true };
      }
      if (existsSync(file)) log(`${displayPath(file)} has no hash record (${path.basename(recordPath)}): replacing it`);
      mkdirSync(dir, { recursive: true });
      const tmpDir = path.join(dir, `.tmp-pot${power}-${process.pid}-${randomBytes(4).toString("hex")}`);
      mkdirSync(tmpDir, { recursive: true });
      try {
        let record: DevPtauRecord | undefined;
        record = await deriveFromPinnedSource(
          power,
          path.join(tmpDir, "final.ptau"),
          options.sharedDir ?? SHARED_PTAU_DIR,
          log,
        );
        if (!record)
          log(
            `no pinned source for power ${power}: building it${power >= 15 ? " (about 25 min at power 16 on 2 cores)" : ""}`,
          );
        record ??= await buildDevPtau(power, tmpDir, log);
        renameSync(path.join(tmpDir, "final.ptau"), file);
        writeFileAtomic(recordPath, `${JSON.stringify({ ...record, file: path.basename(file) }, null, 2)}\n`);
        return { path: file, power, blake2b512: record.blake2b512, record, cached: false };
      } finally {
        rmSync(tmpDir, { recursive: true, force: true });
      }
    },
    () => log(`waiting for another process building ${displayPath(file)}`),
  );
}

const DEV_NOTE =
  "Development powers of tau: one contribution from random entropy that was discarded, then a fixed public " +
  "beacon. NOT for production; use a Hermez powersOfTau28_hez_final_NN.ptau checked with verifyPublicPtau.";

/** A pinned development ptau this repo can derive smaller ones from. */
interface PinnedPtauSource {
  readonly file: string;
  readonly power: number;
  readonly blake2b512: string;
  /** A `<hash>  <name>` file that must name the same hash, when the source comes with one. */
  readonly b2File?: string;
  readonly description: string;
}

function pinnedSources(sharedDir: string): PinnedPtauSource[] {
  const shared = path.join(sharedDir, SHARED_POT16_FILE);
  return [
    {
      file: COMMITTED_POT13_FILE,
      power: 13,
      blake2b512: COMMITTED_POT13_BLAKE2B,
      description: "the committed ptau/dev/pot13_dev_insecure.ptau (truncated from the shared pot16 ceremony)",
    },
    {
      file: shared,
      power: 16,
      blake2b512: SHARED_POT16_BLAKE2B,
      b2File: `${shared}.b2`,
      description: `the shared cache ${SHARED_POT16_FILE}`,
    },
  ];
}

/**
 * Writes the power-`power` dev ptau to `dest` from the first pinned source that is large enough and matches its pinned
 * hash: a copy when the powers are equal, else snarkjs `powersoftau truncate` (the same tau, fewer powers; seconds
 * instead of the minutes a build takes). Returns undefined when no source is usable.
 */
async function deriveFromPinnedSource(
  power: number,
  dest: string,
  sharedDir: string,
  log: LogFn,
): Promise<DevPtauRecord | undefined> {
  for (const source of pinnedSources(sharedDir)) {
    if (source.power < power) continue;
    if (!existsSync(source.file)) {
      log(`${source.description} not found`);
      continue;
    }
    if (source.b2File) {
      const b2 = existsSync(source.b2File) ? readFileSync(source.b2File, "utf8").trim().split(/\s+/) : [];
      if (b2[0]?.toLowerCase() !== source.blake2b512) {
        log(`warning: ${displayPath(source.b2File)} is missing or does not name the pinned hash; not using it`);
        continue;
      }
    }
    try {
      // Hash what we read, before deriving anything from it.
      await checkPtauFile(source.file, { blake2b512: source.blake2b512, power: source.power, preparedPhase2: true });
    } catch (error) {
      log(`warning: ${source.description} rejected (${errorMessage(error)})`);
      continue;
    }
    if (source.power === power) {
      log(`copying ${source.description} (${((await stat(source.file)).size / 2 ** 20).toFixed(0)} MiB)`);
      await copyFile(source.file, dest);
    } else {
      log(`truncating ${source.description} to power ${power}`);
      const prefix = path.join(path.dirname(dest), "truncated_");
      // Reading the header builds snarkjs' shared curve, whose worker threads must be terminated afterwards.
      await withBn128Curve(() => snarkjs.powersOfTau.truncate(source.file, prefix, undefined));
      renameSync(`${prefix}${String(power).padStart(2, "0")}.ptau`, dest);
    }
    await chmod(dest, 0o644);
    const { blake2b512 } = await checkPtauFile(dest, { power, preparedPhase2: true });
    return {
      file: "",
      power,
      curve: "bn128",
      blake2b512,
      source: source.power !== power ? "truncated" : source.b2File ? "shared-cache" : "committed",
      insecure: true,
      note: `${DEV_NOTE} Derived from ${source.description} (blake2b-512 ${source.blake2b512.slice(0, 16)}…).`,
      snarkjs: snarkjsVersion(),
      createdAt: new Date().toISOString(),
    };
  }
  return undefined;
}

/** new → contribute → beacon → prepare phase 2, in `tmpDir`; the result is tmpDir/final.ptau. */
async function buildDevPtau(power: number, tmpDir: string, log: LogFn): Promise<DevPtauRecord> {
  let step = "";
  const logger = progressLogger(log, () => `pot${power} ${step}`);
  const stepsMs: Record<string, number> = {};
  const run = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    step = name;
    log(`pot${power} ${name}…`);
    const t0 = performance.now();
    const result = await fn();
    stepsMs[name] = Math.round(performance.now() - t0);
    log(`pot${power} ${name} done in ${(stepsMs[name] / 1000).toFixed(1)} s`);
    return result;
  };
  const f = (n: string) => path.join(tmpDir, n);
  log(`building development ptau, power ${power} (insecure: single contributor)`);
  await withBn128Curve(async () => {
    await run("new", async () => {
      const curve = await snarkjs.curves.getCurveFromName("bn128");
      await snarkjs.powersOfTau.newAccumulator(curve, power, f("0000.ptau"), logger);
    });
    await run("contribute", () =>
      snarkjs.powersOfTau.contribute(
        f("0000.ptau"),
        f("0001.ptau"),
        "DEMLE dev contribution (insecure)",
        randomBytes(64).toString("hex"),
        logger,
      ),
    );
    const beaconed = await run("beacon", () =>
      snarkjs.powersOfTau.beacon(
        f("0001.ptau"),
        f("0002.ptau"),
        "DEMLE dev beacon (public)",
        DEV_PTAU_BEACON.hash,
        DEV_PTAU_BEACON.iterationsExp,
        logger,
      ),
    );
    if (beaconed === false) throw new Error(`ptau beacon failed: ${logger.errors.join("; ")}`);
    await run("prepare phase2", () => snarkjs.powersOfTau.preparePhase2(f("0002.ptau"), f("final.ptau"), logger));
  });
  const { blake2b512 } = await checkPtauFile(f("final.ptau"), { power, preparedPhase2: true });
  log(`pot${power} built; blake2b-512 ${blake2b512.slice(0, 16)}…`);
  return {
    file: "",
    power,
    curve: "bn128",
    blake2b512,
    source: "built",
    insecure: true,
    note: DEV_NOTE,
    snarkjs: snarkjsVersion(),
    createdAt: new Date().toISOString(),
    beacon: DEV_PTAU_BEACON,
    stepsMs,
  };
}

async function main(args: string[]): Promise<void> {
  const [command, a, b] = args;
  // `npm run` starts in the package root; resolve file arguments against the caller's directory.
  const resolve = (file: string) => path.resolve(process.env.INIT_CWD ?? process.cwd(), file);
  const usage =
    "usage: npm run ptau -- ensure <power> | verify <file> <power> | inspect <file> | hash <file>\n" +
    "  ensure  build or copy build/ptau/pot<power>_dev_insecure.ptau (dev only, power <= 16)\n" +
    "  verify  check a Hermez powersOfTau28_hez_final_NN.ptau against its published blake2b-512";
  if (command === "ensure" && a) {
    const t0 = performance.now();
    const dev = await ensureDevPtauInfo(Number(a));
    console.log(
      `${dev.cached ? "up to date" : dev.record.source === "shared-cache" ? "copied" : "built"}: ` +
        `${displayPath(dev.path)} (blake2b-512 ${dev.blake2b512}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
  } else if (command === "verify" && a && b) {
    const { info, blake2b512 } = await verifyPublicPtau(resolve(a), Number(b));
    console.log(`OK: ${a} is ${HERMEZ_PTAU[info.power]?.file} (blake2b-512 ${blake2b512})`);
  } else if (command === "inspect" && a) {
    const info = await inspectPtau(resolve(a));
    console.log(JSON.stringify({ ...info, file: a }, null, 2));
  } else if (command === "hash" && a) {
    console.log(`${await blake2bFile(resolve(a))}  ${a}`);
  } else {
    console.error(usage);
    process.exit(2);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(errorMessage(error));
    process.exit(1);
  });
}
