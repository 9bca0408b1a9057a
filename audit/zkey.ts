/**
 * What an auditor derives from a Groth16 zkey: its phase-2 contribution list (with the contribution hashes snarkjs
 * prints), the verification key and Solidity verifier snarkjs exports from it, that verifier's runtime bytecode, and
 * the verification-key constants found in deployed bytecode.
 *
 * Contribution hashes: snarkjs' `zkey contribute`/`zkey beacon` return, and `zkey verify` prints, for each
 * contribution c the blake2b-512 of deltaAfter ‖ g1_s ‖ g1_sx ‖ g2_spx ‖ transcript (points as big-endian affine
 * coordinates; zkey_utils.hashPubKey). `readZkeyInfo` recomputes them from section 10 of the file without running
 * a verification, so a ceremony transcript can be compared with a zkey in a second.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { keccak256, type JsonFragment } from "ethers";
import * as snarkjs from "snarkjs";
import type { Curve, Groth16VerificationKey } from "snarkjs";
import { VERIFIER_COMPILER_SETTINGS } from "../prover/verifier-contract.js";
import { snarkjsPackageDir, withBn128Curve } from "../prover/snarkjs-runtime.js";
import { displayPath } from "./files.js";

const require = createRequire(import.meta.url);

export interface ZkeyContribution {
  /** 1-based, as `snarkjs zkey verify` numbers them. */
  readonly index: number;
  /** "contribution": secret random entropy; "beacon": derived from a public beacon value (anyone can recompute it). */
  readonly type: "contribution" | "beacon";
  readonly name: string;
  /** blake2b-512 (hex) of the contribution's public key: what `zkey contribute` prints as "Contribution Hash". */
  readonly contributionHash: string;
  readonly beaconHash?: string;
  readonly iterationsExp?: number;
}

export interface ZkeyInfo {
  readonly nVars: number;
  readonly nPublic: number;
  readonly domainSize: number;
  /** snarkjs' "Circuit Hash": blake2b-512 of the initial (pre-contribution) key, fixed by r1cs + ptau. */
  readonly circuitHash: string;
  readonly contributions: readonly ZkeyContribution[];
}

const BN254_Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583n;
const GROTH16_PROTOCOL_ID = 1;

function readLE(buf: Buffer, offset: number, length: number): bigint {
  let value = 0n;
  for (let i = length - 1; i >= 0; i--) value = (value << 8n) | BigInt(buf[offset + i]!);
  return value;
}

/** Reads the header and the MPC section (10) of a groth16 zkey and recomputes each contribution's hash. */
export async function readZkeyInfo(zkeyPath: string): Promise<ZkeyInfo> {
  const data = readFileSync(zkeyPath);
  const fail = (why: string) => new Error(`zkey ${displayPath(zkeyPath)}: ${why}`);
  if (data.length < 12 || data.toString("latin1", 0, 4) !== "zkey") throw fail("not a zkey file (bad magic)");
  const sections = new Map<number, { start: number; size: number }>();
  let pos = 12;
  const nSections = data.readUInt32LE(8);
  for (let i = 0; i < nSections; i++) {
    if (pos + 12 > data.length) throw fail("truncated section table");
    const type = data.readUInt32LE(pos);
    const size = Number(data.readBigUInt64LE(pos + 4));
    if (pos + 12 + size > data.length) throw fail(`section ${type} runs past the end of the file`);
    if (sections.has(type)) throw fail(`section ${type} appears twice`);
    sections.set(type, { start: pos + 12, size });
    pos += 12 + size;
  }
  const protocol = sections.get(1);
  const header = sections.get(2);
  const mpc = sections.get(10);
  if (!protocol || !header || !mpc) throw fail("missing header or MPC section");
  if (data.readUInt32LE(protocol.start) !== GROTH16_PROTOCOL_ID) throw fail("not a groth16 zkey");
  let at = header.start;
  const n8q = data.readUInt32LE(at);
  if (n8q !== 32 || readLE(data, at + 4, n8q) !== BN254_Q) throw fail("not over BN254");
  at += 4 + n8q;
  const n8r = data.readUInt32LE(at);
  at += 4 + n8r;
  const nVars = data.readUInt32LE(at);
  const nPublic = data.readUInt32LE(at + 4);
  const domainSize = data.readUInt32LE(at + 8);

  return withBn128Curve(async () => {
    const curve: Curve = await snarkjs.curves.getCurveFromName("bn128");
    const g1Size = curve.G1.F.n8 * 2;
    const g2Size = curve.G2.F.n8 * 2;
    const uncompressed = (group: Curve["G1"], size: number, offset: number): Uint8Array => {
      const out = new Uint8Array(size);
      group.toRprUncompressed(out, 0, group.fromRprLEM(data, offset));
      return out;
    };
    let p = mpc.start;
    const end = mpc.start + mpc.size;
    const circuitHash = data.subarray(p, p + 64).toString("hex");
    p += 64;
    const n = data.readUInt32LE(p);
    p += 4;
    const contributions: ZkeyContribution[] = [];
    for (let i = 0; i < n; i++) {
      if (p + 3 * g1Size + g2Size + 64 + 8 > end) throw fail(`MPC section truncated in contribution ${i + 1}`);
      const hash = createHash("blake2b512");
      hash.update(uncompressed(curve.G1, g1Size, p)); // deltaAfter
      hash.update(uncompressed(curve.G1, g1Size, p + g1Size)); // delta.g1_s
      hash.update(uncompressed(curve.G1, g1Size, p + 2 * g1Size)); // delta.g1_sx
      hash.update(uncompressed(curve.G2, g2Size, p + 3 * g1Size)); // delta.g2_spx
      p += 3 * g1Size + g2Size;
      hash.update(data.subarray(p, p + 64)); // transcript
      p += 64;
      const type = data.readUInt32LE(p);
      const paramLength = data.readUInt32LE(p + 4);
      p += 8;
      const paramsEnd = p + paramLength;
      if (paramsEnd > end) throw fail(`MPC section truncated in contribution ${i + 1}`);
      let name = "";
      let beaconHash: string | undefined;
      let iterationsExp: number | undefined;
      while (p < paramsEnd) {
        const key = data[p]!;
        if (key === 1) {
          const len = data[p + 1]!;
          name = data.subarray(p + 2, p + 2 + len).toString("utf8");
          p += 2 + len;
        } else if (key === 2) {
          iterationsExp = data[p + 1]!;
          p += 2;
        } else if (key === 3) {
          const len = data[p + 1]!;
          beaconHash = data.subarray(p + 2, p + 2 + len).toString("hex");
          p += 2 + len;
        } else {
          throw fail(`unknown parameter ${key} in contribution ${i + 1}`);
        }
      }
      if (p !== paramsEnd) throw fail(`malformed parameters in contribution ${i + 1}`);
      contributions.push({
        index: i + 1,
        type: type === 1 ? "beacon" : "contribution",
        name,
        contributionHash: hash.digest("hex"),
        ...(type === 1 ? { beaconHash: beaconHash ?? "", iterationsExp: iterationsExp ?? 0 } : {}),
      });
    }
    return { nVars, nPublic, domainSize, circuitHash, contributions };
  });
}

/** The hash the manifest pins for a verification key: sha256 of its compact JSON (snarkjs' key order). */
export function vkeySha256(vkey: Groth16VerificationKey): string {
  return createHash("sha256").update(JSON.stringify(vkey)).digest("hex");
}

/** snarkjs' own groth16 Solidity template: what `snarkjs zkey export solidityverifier` uses. */
export const GROTH16_TEMPLATE_FILE = "templates/verifier_groth16.sol.ejs";

export interface ExportedVerifier {
  readonly vkey: Groth16VerificationKey;
  readonly vkeySha256: string;
  /** The Solidity source, byte for byte what `snarkjs zkey export solidityverifier` writes. */
  readonly source: string;
  readonly sourceSha256: string;
}

/** Exports the verification key and the Solidity verifier from a zkey, as the snarkjs CLI does. */
export async function exportVerifier(zkeyPath: string): Promise<ExportedVerifier> {
  return withBn128Curve(async () => {
    const vkey = await snarkjs.zKey.exportVerificationKey(zkeyPath);
    const template = readFileSync(`${snarkjsPackageDir()}/${GROTH16_TEMPLATE_FILE}`, "utf8");
    const source = await snarkjs.zKey.exportSolidityVerifier(zkeyPath, { groth16: template });
    return {
      vkey,
      vkeySha256: vkeySha256(vkey),
      source,
      sourceSha256: createHash("sha256").update(source).digest("hex"),
    };
  });
}

export interface CompiledRuntime {
  readonly contractName: string;
  readonly abi: JsonFragment[];
  /** Creation bytecode (0x…), what deployment sends. */
  readonly bytecode: string;
  /** Runtime bytecode (0x…), what `eth_getCode` returns after deployment (the verifier has no immutables). */
  readonly runtime: string;
  readonly runtimeKeccak256: string;
  /** keccak256 of the runtime code without solc's trailing CBOR metadata (which hashes the source file's name). */
  readonly runtimeKeccak256NoMetadata: string;
  readonly solcVersion: string;
}

interface SolcOutput {
  errors?: { severity: string; formattedMessage: string }[];
  contracts?: Record<
    string,
    Record<string, { abi: JsonFragment[]; evm: { bytecode: { object: string }; deployedBytecode: { object: string } } }>
  >;
}

/**
 * Compiles a verifier source with solc-js and the settings of prover/verifier-contract.ts (= hardhat.config.ts).
 * `sourceUnit` is the file name solc sees: it enters the metadata hash at the end of the bytecode, so the same
 * source under another name gives the same code with a different metadata trailer.
 */
export function compileVerifierRuntime(source: string, sourceUnit: string): CompiledRuntime {
  const solc = require("solc") as { version(): string; compile(input: string): string };
  const input = {
    language: "Solidity",
    sources: { [sourceUnit]: { content: source } },
    settings: {
      ...VERIFIER_COMPILER_SETTINGS,
      outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input))) as SolcOutput;
  const errors = (output.errors ?? []).filter((e) => e.severity === "error");
  if (errors.length > 0)
    throw new Error(`solc failed on ${sourceUnit}: ${errors.map((e) => e.formattedMessage).join("; ")}`);
  const contracts = Object.entries(output.contracts?.[sourceUnit] ?? {});
  if (contracts.length !== 1) throw new Error(`${sourceUnit}: expected one contract, found ${contracts.length}`);
  const [contractName, contract] = contracts[0]!;
  const runtime = `0x${contract.evm.deployedBytecode.object}`;
  return {
    contractName,
    abi: contract.abi,
    bytecode: `0x${contract.evm.bytecode.object}`,
    runtime,
    runtimeKeccak256: keccak256(runtime),
    runtimeKeccak256NoMetadata: keccak256(stripMetadata(runtime)),
    solcVersion: solc.version(),
  };
}

function hexBytes(code: string): Buffer {
  return Buffer.from(code.startsWith("0x") ? code.slice(2) : code, "hex");
}

/**
 * Runtime code without solc's CBOR metadata trailer (its length is the last two bytes). Code without a plausible
 * trailer is returned unchanged.
 */
export function stripMetadata(code: string): string {
  const bytes = hexBytes(code);
  if (bytes.length < 2) return `0x${bytes.toString("hex")}`;
  const length = bytes.readUInt16BE(bytes.length - 2);
  const start = bytes.length - 2 - length;
  // A CBOR map of 1..3 entries (0xa1..0xa3) is what solc writes (ipfs/bzzr, solc, experimental).
  if (length === 0 || start < 0 || bytes[start]! < 0xa1 || bytes[start]! > 0xa3) return `0x${bytes.toString("hex")}`;
  return `0x${bytes.subarray(0, start).toString("hex")}`;
}

/** Every value pushed by a PUSH1…PUSH32 instruction of the code (metadata trailer excluded). */
export function pushedConstants(code: string): Set<bigint> {
  const bytes = hexBytes(stripMetadata(code));
  const values = new Set<bigint>();
  for (let i = 0; i < bytes.length; i++) {
    const op = bytes[i]!;
    if (op >= 0x60 && op <= 0x7f) {
      const n = op - 0x5f;
      values.add(BigInt(`0x${bytes.subarray(i + 1, i + 1 + n).toString("hex") || "0"}`));
      i += n;
    }
  }
  return values;
}

/** The constants the snarkjs groth16 template embeds, by their names in the Solidity source. */
export function verifierConstants(vkey: Groth16VerificationKey): { name: string; value: bigint }[] {
  const g2 = (label: string, point: string[][]) => [
    { name: `${label}x1`, value: BigInt(point[0]![1]!) },
    { name: `${label}x2`, value: BigInt(point[0]![0]!) },
    { name: `${label}y1`, value: BigInt(point[1]![1]!) },
    { name: `${label}y2`, value: BigInt(point[1]![0]!) },
  ];
  return [
    { name: "alphax", value: BigInt(vkey.vk_alpha_1[0]!) },
    { name: "alphay", value: BigInt(vkey.vk_alpha_1[1]!) },
    ...g2("beta", vkey.vk_beta_2),
    ...g2("gamma", vkey.vk_gamma_2),
    ...g2("delta", vkey.vk_delta_2),
    ...vkey.IC.flatMap((point, i) => [
      { name: `IC${i}x`, value: BigInt(point[0]!) },
      { name: `IC${i}y`, value: BigInt(point[1]!) },
    ]),
  ];
}

/** The verification-key constants of `vkey` that do not occur as PUSH operands in `code`. */
export function missingConstants(vkey: Groth16VerificationKey, code: string): string[] {
  const pushed = pushedConstants(code);
  return verifierConstants(vkey)
    .filter((c) => !pushed.has(c.value))
    .map((c) => c.name);
}
