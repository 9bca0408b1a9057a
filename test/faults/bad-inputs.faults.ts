/**
 * Issue #8, the bad-input catalogue: every malformed input gets one clear error and a nonzero exit, and nothing is
 * written half-way. CLI cases run the real `demle` as a child process (against a Hardhat JSON-RPC node served in this
 * process) and check that stderr ends in a single `demle: …` line with no stack trace; library cases call the
 * function that has no CLI surface and check its error is one line. Each case snapshots the files it could write
 * (names + sha256) before and after. The table (case → message) goes to build/faults/bad-inputs.json and stdout.
 * Cheap (no proof, no circuit setup, no deployment): fits CI's short run.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import hre from "hardhat";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { instantiateCircuit, REPO_ROOT, type CompiledCircuit } from "../../circuits/compile.js";
import {
  challengedTile,
  commitOutputs,
  defineWork,
  FIELD_MODULUS,
  generateInputs,
  tileWords,
  treeDepth,
  type GemmWork,
} from "../../common/work.js";
import { MINING_CIRCUITS, MINING_WORKLOADS } from "../../miner/circuits.js";
import { buildFp8GemmModel, Fp8GemmRunner } from "../../miner/gemm.js";
import { createSession } from "../../miner/onnx/session.js";
import { ProverPool } from "../../prover/pool.js";
import { setupCircuit } from "../../prover/setup.js";
import { checkPtauFile, COMMITTED_POT13_BLAKE2B, COMMITTED_POT13_FILE, ensureDevPtau } from "../../ptau/ptau.js";

/** Hardhat's first publicly known development key (never holds real funds). */
const DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const NO_CODE = "0x000000000000000000000000000000000000dEaD";
const KEYSTORE_PASSWORD = "correct horse battery";
const OUT_FILE = path.join(REPO_ROOT, "build", "faults", "bad-inputs.json");
/** "demo, gemm-demo, production" as a regex source: the workloads `--workload` accepts. */
const WORKLOAD_CHOICES = Object.keys(MINING_WORKLOADS)
  .map((name) => name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
  .join(", ");

interface Row {
  readonly case: string;
  readonly surface: string;
  readonly message: string;
}
const table: Row[] = [];

let tmp: string;
let url: string;
let server: Awaited<ReturnType<typeof hre.network.createServer>> | undefined;
let keystore: string;
const quiet = () => {};

/** Every file under `dir` (recursively) → sha256; empty when `dir` does not exist. */
function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  if (!existsSync(dir)) return files;
  const walk = (sub: string) => {
    for (const entry of readdirSync(path.join(dir, sub))) {
      const rel = path.join(sub, entry);
      if (statSync(path.join(dir, rel)).isDirectory()) walk(rel);
      else
        files[rel] = createHash("sha256")
          .update(readFileSync(path.join(dir, rel)))
          .digest("hex");
    }
  };
  walk("");
  return files;
}

interface Run {
  readonly code: number | null;
  readonly stderr: string;
}

/** `npx tsx cli/demle.ts …args` from the repo root, with only the key variables of `env` set. */
function demle(args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const name of ["DEMLE_PRIVATE_KEY", "DEMLE_KEYSTORE_PASSWORD"]) if (!(name in env)) delete childEnv[name];
  return new Promise((resolve, reject) => {
    const child = spawn("npx", ["tsx", "cli/demle.ts", ...args], {
      cwd: REPO_ROOT,
      env: childEnv,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

/**
 * Runs a CLI case in a fresh directory `dir` (where its outputs would go) and checks: nonzero exit, stderr's last
 * line is `demle: <message>` matching `expected`, no stack trace, and `dir` unchanged.
 */
async function cliCase(
  name: string,
  expected: RegExp,
  build: (dir: string) => { args: string[]; env?: Record<string, string> },
): Promise<void> {
  const dir = mkdtempSync(path.join(tmp, "case-"));
  const { args, env } = build(dir);
  const before = snapshot(dir);
  const { code, stderr } = await demle(args, env);
  const lines = stderr.trimEnd().split("\n");
  const last = lines.at(-1) ?? "";
  expect(code, stderr).not.toBe(0);
  expect(code, stderr).not.toBeNull();
  expect(last, stderr).toMatch(/^demle: /);
  expect(stderr, "stack trace on stderr").not.toMatch(/^\s+at /m);
  expect(last.slice("demle: ".length)).toMatch(expected);
  expect(snapshot(dir), "files written half-way").toEqual(before);
  const shown = args.map((a) => (a.startsWith(tmp) ? path.basename(a) : a === url ? "URL" : a));
  table.push({
    case: name,
    surface: `demle ${shown.join(" ")}`,
    message: last.replaceAll(tmp, "$TMP").replaceAll(url, "URL"),
  });
}

/** A library case: `fn` must reject with a one-line message matching `expected`. */
async function libraryCase(name: string, surface: string, expected: RegExp, fn: () => unknown): Promise<void> {
  let error: unknown;
  try {
    await fn();
  } catch (caught) {
    error = caught;
  }
  expect(error, `${name}: no error`).toBeInstanceOf(Error);
  const message = (error as Error).message;
  expect(message).toMatch(expected);
  expect(message, "one line").not.toMatch(/\n/);
  table.push({ case: name, surface, message: message.replaceAll(tmp, "$TMP") });
}

beforeAll(async () => {
  tmp = mkdtempSync(path.join(tmpdir(), "demle-bad-inputs-"));
  server = await hre.network.createServer({}, "127.0.0.1", 0);
  const { address, port } = await server.listen();
  url = `http://${address}:${port}`;
  keystore = path.join(tmp, "keystore.json");
  const created = await demle(["account", "--keystore", keystore], { DEMLE_KEYSTORE_PASSWORD: KEYSTORE_PASSWORD });
  if (created.code !== 0) throw new Error(`demle account failed: ${created.stderr}`);
}, 120_000);

afterAll(async () => {
  await server?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  if (table.length === 0) return;
  mkdirSync(path.dirname(OUT_FILE), { recursive: true });
  writeFileSync(OUT_FILE, `${JSON.stringify(table, null, 2)}\n`);
  const cell = (text: string) => text.replaceAll("|", "\\|");
  console.log(
    [
      "| case | surface | message |",
      "| --- | --- | --- |",
      ...table.map((row) => `| ${cell(row.case)} | \`${cell(row.surface)}\` | ${cell(row.message)} |`),
    ].join("\n"),
  );
});

describe("CLI: bad input → one `demle: ` line, nonzero exit, nothing written", () => {
  it("malformed --config JSON", () =>
    cliCase("malformed --config JSON", /config file .*bad\.json is not valid JSON/, (dir) => {
      writeFileSync(path.join(dir, "bad.json"), '{"rpc": ');
      const config = path.join(dir, "bad.json");
      return {
        args: ["mine", "--rpc", url, "--contract", NO_CODE, "--state-dir", path.join(dir, "state"), "--config", config],
      };
    }));

  it("config value of the wrong type", () =>
    cliCase("config value of the wrong type", /"chainId" must be an integer in \[1, /, (dir) => {
      writeFileSync(path.join(dir, "types.json"), '{"chainId": "one"}');
      return {
        args: [
          "deploy",
          "--rpc",
          url,
          "--out",
          path.join(dir, "deployment.json"),
          "--config",
          path.join(dir, "types.json"),
        ],
        env: { DEMLE_PRIVATE_KEY: DEV_KEY },
      };
    }));

  it("config that is not an object", () =>
    cliCase("config that is not a JSON object", /must hold a JSON object/, (dir) => {
      writeFileSync(path.join(dir, "array.json"), "[1, 2]");
      return { args: ["status", "--rpc", url, "--contract", NO_CODE, "--config", path.join(dir, "array.json")] };
    }));

  it("unknown workload (flag)", () =>
    cliCase(
      "unknown workload (--workload)",
      new RegExp(`'foo' is invalid\\. Allowed choices are ${WORKLOAD_CHOICES}\\.$`),
      (dir) => ({
        args: ["deploy", "--rpc", url, "--workload", "foo", "--out", path.join(dir, "deployment.json")],
        env: { DEMLE_PRIVATE_KEY: DEV_KEY },
      }),
    ));

  it("unknown workload (config)", () =>
    cliCase(
      "unknown workload (config)",
      new RegExp(`"workload" must be one of ${WORKLOAD_CHOICES}, got "foo"$`),
      (dir) => {
        writeFileSync(path.join(dir, "workload.json"), '{"workload": "foo"}');
        return {
          args: [
            "deploy",
            "--rpc",
            url,
            "--out",
            path.join(dir, "deployment.json"),
            "--config",
            path.join(dir, "workload.json"),
          ],
          env: { DEMLE_PRIVATE_KEY: DEV_KEY },
        };
      },
    ));

  it("an old config file's unknown key", () =>
    cliCase(
      'unknown config key (an old config\'s "circuit")',
      /unknown option\(s\) "circuit" for `demle deploy`$/,
      (dir) => {
        writeFileSync(path.join(dir, "old.json"), '{"circuit": "production"}');
        return {
          args: [
            "deploy",
            "--rpc",
            url,
            "--out",
            path.join(dir, "deployment.json"),
            "--config",
            path.join(dir, "old.json"),
          ],
          env: { DEMLE_PRIVATE_KEY: DEV_KEY },
        };
      },
    ));

  it("the removed --circuit flag", () =>
    cliCase("removed flag --circuit (now --workload)", /^unknown option '--circuit'/, (dir) => ({
      args: ["deploy", "--rpc", url, "--circuit", "demo", "--out", path.join(dir, "deployment.json")],
      env: { DEMLE_PRIVATE_KEY: DEV_KEY },
    })));

  it("wrong keystore password", async () => {
    const before = snapshot(tmp);
    await cliCase("wrong keystore password", /^wrong password for keystore /, (dir) => ({
      args: ["deploy", "--rpc", url, "--keystore", keystore, "--out", path.join(dir, "deployment.json")],
      env: { DEMLE_KEYSTORE_PASSWORD: "not the password" },
    }));
    const after = snapshot(tmp);
    expect(after[path.basename(keystore)]).toBe(before[path.basename(keystore)]);
  });

  it("missing keystore", () =>
    cliCase("missing keystore", /^keystore .*missing\.json not found$/, (dir) => ({
      args: ["deploy", "--rpc", url, "--keystore", path.join(dir, "missing.json"), "--out", path.join(dir, "d.json")],
      env: { DEMLE_KEYSTORE_PASSWORD: KEYSTORE_PASSWORD },
    })));

  it("malformed keystore file", () =>
    cliCase("malformed keystore file", /^keystore .*junk\.json is unreadable: /, (dir) => {
      writeFileSync(path.join(dir, "junk.json"), '{"version": 3}');
      return {
        args: ["deploy", "--rpc", url, "--keystore", path.join(dir, "junk.json"), "--out", path.join(dir, "d.json")],
        env: { DEMLE_KEYSTORE_PASSWORD: KEYSTORE_PASSWORD },
      };
    }));

  it("keystore password too short (account)", () =>
    cliCase("new keystore password too short", /at least 8 characters/, (dir) => ({
      args: ["account", "--keystore", path.join(dir, "new.json")],
      env: { DEMLE_KEYSTORE_PASSWORD: "short" },
    })));

  it("existing keystore is not overwritten (account)", () =>
    cliCase("account over an existing keystore", /exists; refusing to overwrite a keystore/, (dir) => {
      copyFileSync(keystore, path.join(dir, "existing.json"));
      return {
        args: ["account", "--keystore", path.join(dir, "existing.json")],
        env: { DEMLE_KEYSTORE_PASSWORD: KEYSTORE_PASSWORD },
      };
    }));

  it("invalid DEMLE_PRIVATE_KEY", () =>
    cliCase("invalid DEMLE_PRIVATE_KEY", /DEMLE_PRIVATE_KEY is not a valid private key/, (dir) => ({
      args: ["deploy", "--rpc", url, "--out", path.join(dir, "deployment.json")],
      env: { DEMLE_PRIVATE_KEY: "0x1234" },
    })));

  it("both key sources", () =>
    cliCase("both DEMLE_PRIVATE_KEY and --keystore", /both DEMLE_PRIVATE_KEY and --keystore are set/, (dir) => ({
      args: ["deploy", "--rpc", url, "--keystore", keystore, "--out", path.join(dir, "deployment.json")],
      env: { DEMLE_PRIVATE_KEY: DEV_KEY, DEMLE_KEYSTORE_PASSWORD: KEYSTORE_PASSWORD },
    })));

  it("no key at all", () =>
    cliCase("no key", /no key: set DEMLE_PRIVATE_KEY or pass --keystore FILE/, (dir) => ({
      args: ["deploy", "--rpc", url, "--out", path.join(dir, "deployment.json")],
    })));

  it("--chain-id mismatch", () =>
    cliCase("--chain-id mismatch", /chain id mismatch: .* is chain 31337, the config expects 1$/, (dir) => ({
      args: ["deploy", "--rpc", url, "--chain-id", "1", "--out", path.join(dir, "deployment.json")],
      env: { DEMLE_PRIVATE_KEY: DEV_KEY },
    })));

  it("--contract with no code", () =>
    cliCase("--contract with no code", /^no contract at 0x000000000000000000000000000000000000dEaD$/, () => ({
      args: ["status", "--rpc", url, "--contract", NO_CODE],
    })));

  it("malformed --deployment file", () =>
    cliCase("malformed --deployment file", /deployment file .*deployment\.json is not valid JSON/, (dir) => {
      writeFileSync(path.join(dir, "deployment.json"), "{");
      return {
        args: [
          "mine",
          "--rpc",
          url,
          "--deployment",
          path.join(dir, "deployment.json"),
          "--state-dir",
          path.join(dir, "state"),
        ],
        env: { DEMLE_PRIVATE_KEY: DEV_KEY },
      };
    }));

  it("unreachable RPC", () =>
    cliCase("unreachable RPC", /^cannot reach the JSON-RPC node at http:\/\/127\.0\.0\.1:1: /, (dir) => ({
      args: ["deploy", "--rpc", "http://127.0.0.1:1", "--out", path.join(dir, "deployment.json")],
      env: { DEMLE_PRIVATE_KEY: DEV_KEY },
    })));

  it("invalid --shapes", () =>
    cliCase("invalid --shapes", /'3,3;3x3' is invalid\. expected "dr,dc" per layer, separated by ";"/, (dir) => ({
      args: [
        "mine",
        "--rpc",
        url,
        "--contract",
        NO_CODE,
        "--shapes",
        "3,3;3x3",
        "--state-dir",
        path.join(dir, "state"),
      ],
      env: { DEMLE_PRIVATE_KEY: DEV_KEY },
    })));

  it("--shapes of the wrong number of layers", () =>
    cliCase(
      "--shapes count is not the workload's layer count",
      new RegExp(`^--shapes gives 1 shape\\(s\\); workload demo has ${MINING_WORKLOADS.demo.length} layers$`),
      (dir) => ({
        args: [
          "mine",
          "--rpc",
          url,
          "--contract",
          NO_CODE,
          "--workload",
          "demo",
          "--shapes",
          "3,3",
          "--state-dir",
          path.join(dir, "state"),
        ],
        env: { DEMLE_PRIVATE_KEY: DEV_KEY },
      }),
    ));

  // Commander's suggestion ("(Did you mean --shapes?)") is folded into the one `demle: ` line.
  it("the removed --shape flag", () =>
    cliCase("removed flag --shape (now --shapes)", /^unknown option '--shape' \(Did you mean --shapes\?\)$/, (dir) => ({
      args: ["mine", "--rpc", url, "--contract", NO_CODE, "--shape", "3,3", "--state-dir", path.join(dir, "state")],
      env: { DEMLE_PRIVATE_KEY: DEV_KEY },
    })));

  it("invalid --workers", () =>
    cliCase("invalid --workers", /'0' is invalid\. expected an integer in \[1, /, (dir) => ({
      args: ["mine", "--rpc", url, "--contract", NO_CODE, "--workers", "0", "--state-dir", path.join(dir, "state")],
      env: { DEMLE_PRIVATE_KEY: DEV_KEY },
    })));
});

describe("library: bad input → one-line error", () => {
  const demo = MINING_CIRCUITS.demo.tiling;
  const work: GemmWork = defineWork(demo, { rowBlocksLog2: 1, colBlocksLog2: 1 });

  it("FP8 GEMM inputs: NaN codes and wrong lengths", async () => {
    const runner = await Fp8GemmRunner.create({ m: 2, n: 2, k: 16 });
    try {
      const a = new Uint8Array(32);
      const b = new Uint8Array(32);
      const surface = "Fp8GemmRunner.run (miner/gemm.ts)";
      await libraryCase(
        "FP8 code NaN (0x7f) in A",
        surface,
        /^A\[5\] \(row 0, column 5\) is E4M3FN code 0x7f = NaN/,
        () =>
          runner.run(
            a.map((x, i) => (i === 5 ? 0x7f : x)),
            b,
          ),
      );
      await libraryCase(
        "FP8 code NaN (0xff) in B",
        surface,
        /^B\[31\] \(row 15, column 1\) is E4M3FN code 0xff = NaN/,
        () =>
          runner.run(
            a,
            b.map((x, i) => (i === 31 ? 0xff : x)),
          ),
      );
      await libraryCase("FP8 input of wrong length", surface, /^A has 31 codes, expected 2×16 = 32$/, () =>
        runner.run(a.subarray(1), b),
      );
      await libraryCase("FP8 input not a Uint8Array", surface, /^B must be a Uint8Array of E4M3FN codes$/, () =>
        runner.run(a, new Float32Array(32) as unknown as Uint8Array),
      );
    } finally {
      await runner.release();
    }
  });

  it("work shape out of range or NaN", async () => {
    const surface = "defineWork (common/work.ts)";
    await libraryCase(
      "work shape above the circuit's grid",
      surface,
      /^rowBlocksLog2 must be an integer in \[0, 3\], got 4$/,
      () => defineWork(demo, { rowBlocksLog2: 4, colBlocksLog2: 0 }),
    );
    await libraryCase("work shape NaN", surface, /^colBlocksLog2 must be an integer in \[0, 3\], got NaN$/, () =>
      defineWork(demo, { rowBlocksLog2: 0, colBlocksLog2: Number.NaN }),
    );
    await libraryCase(
      "work seed outside the field",
      "generateInputs (common/work.ts)",
      /^seed must be a field element/,
      () => generateInputs(FIELD_MODULUS, work),
    );
  });

  it("tile index out of range", async () => {
    const c = new Uint32Array(work.m * work.n);
    await libraryCase(
      "tile row block out of range",
      "tileWords (common/work.ts)",
      /^tile \(2, 0\) is outside the work's 2×2 tiles$/,
      () => tileWords(c, work, 2, 0),
    );
    await libraryCase(
      "tile column block negative",
      "tileWords (common/work.ts)",
      /^tile \(0, -1\) is outside the work's 2×2 tiles$/,
      () => tileWords(c, work, 0, -1),
    );
    await libraryCase(
      "challenged tile number negative",
      "challengedTile (common/work.ts)",
      /^challenged tile number must be an integer >= 0, got -1$/,
      () => challengedTile(1n, -1, work),
    );
    await libraryCase(
      "challenge outside the field",
      "challengedTile (common/work.ts)",
      /^challenge must be a field element/,
      () => challengedTile(-1n, 0, work),
    );
    const tree = await commitOutputs(c, work);
    const leaves = 2 ** treeDepth(demo);
    await libraryCase(
      "Merkle leaf index out of range",
      "OutputTree.siblings (common/work.ts)",
      /^leaf index 64 outside a tree of depth 6$/,
      () => tree.siblings(leaves),
    );
  });

  describe("corrupted ptau, r1cs, wasm and zkey copies", () => {
    let compiled: CompiledCircuit;

    beforeAll(async () => {
      // circuits/test/test_multiplier.circom (196 constraints): cached by source hash, shared with the prover tests.
      compiled = await instantiateCircuit(
        "test_multiplier",
        "test/test_multiplier.circom",
        "TestMultiplier",
        [64, 64],
        ["c"],
      );
    }, 120_000);

    it("ptau: flipped byte, truncated, bad magic (checkPtauFile, ensureDevPtau)", async () => {
      const dir = mkdtempSync(path.join(tmp, "ptau-"));
      const size = statSync(COMMITTED_POT13_FILE).size;
      const flipped = path.join(dir, "pot13_dev_insecure.ptau");
      const bytes = readFileSync(COMMITTED_POT13_FILE);
      bytes[Math.floor(size / 2)]! ^= 0x01;
      writeFileSync(flipped, bytes);
      writeFileSync(`${flipped}.json`, JSON.stringify({ power: 13, blake2b512: COMMITTED_POT13_BLAKE2B }));
      const surface = "checkPtauFile (ptau/ptau.ts)";
      await libraryCase("ptau with one flipped byte", surface, /blake2b-512 mismatch: .*the file is corrupt/, () =>
        checkPtauFile(flipped, { blake2b512: COMMITTED_POT13_BLAKE2B, power: 13 }),
      );
      const truncated = path.join(dir, "truncated.ptau");
      copyFileSync(COMMITTED_POT13_FILE, truncated);
      truncateSync(truncated, size - 1000);
      await libraryCase(
        "truncated ptau",
        surface,
        /truncated\.ptau: section \d+ declares \d+ bytes but the file ends 1000 bytes early$/,
        () => checkPtauFile(truncated),
      );
      const junk = path.join(dir, "junk.ptau");
      writeFileSync(junk, "not a powers of tau file");
      await libraryCase("ptau with bad magic", surface, /junk\.ptau: not a ptau file \(bad magic\)$/, () =>
        checkPtauFile(junk),
      );

      const before = snapshot(dir);
      await libraryCase(
        "cached dev ptau corrupted",
        "ensureDevPtau (ptau/ptau.ts)",
        /blake2b-512 mismatch: .*; delete .*pot13_dev_insecure\.ptau and its \.json to rebuild it$/,
        () => ensureDevPtau(13, { dir, sharedDir: path.join(dir, "no-shared"), log: quiet }),
      );
      expect(snapshot(dir), "ensureDevPtau wrote or removed files").toEqual(before);
    });

    it("setupCircuit: corrupted r1cs and ptau copies write no setup", async () => {
      const dir = mkdtempSync(path.join(tmp, "setup-"));
      const outDir = path.join(dir, "out");
      const r1cs = path.join(dir, "corrupt.r1cs");
      writeFileSync(r1cs, readFileSync(compiled.r1csPath).subarray(0, 30));
      await libraryCase(
        "truncated r1cs",
        "setupCircuit (prover/setup.ts)",
        /^r1cs .*corrupt\.r1cs: truncated at byte 30$/,
        () =>
          setupCircuit({ name: "corrupt_r1cs", r1csPath: r1cs, wasmPath: compiled.wasmPath }, { outDir, log: quiet }),
      );
      const ptau = path.join(dir, "truncated.ptau");
      copyFileSync(COMMITTED_POT13_FILE, ptau);
      truncateSync(ptau, 5000);
      await libraryCase(
        "truncated ptau given to setup",
        "setupCircuit (prover/setup.ts)",
        /truncated\.ptau: .*(file ends|bytes early)/,
        () => setupCircuit(compiled, { ptauPath: ptau, outDir, log: quiet }),
      );
      expect(existsSync(outDir), "setup output written half-way").toBe(false);
    });

    it("prover pool: corrupted wasm and zkey copies fail their task with a clear error", async () => {
      const dir = mkdtempSync(path.join(tmp, "prove-"));
      // A throwaway development setup of the multiplier (about 2 s; needs the power-8 dev ptau, built once).
      const setup = await setupCircuit(compiled, { outDir: path.join(dir, "setup"), verify: false, log: quiet });
      const wasm = path.join(dir, "corrupt.wasm");
      const wasmBytes = readFileSync(compiled.wasmPath);
      wasmBytes.fill(0xab, 8, 64); // keeps the magic and version, mangles the first section
      writeFileSync(wasm, wasmBytes);
      const truncated = path.join(dir, "truncated.zkey");
      copyFileSync(setup.zkeyPath, truncated);
      truncateSync(truncated, Math.floor(statSync(setup.zkeyPath).size * 0.75));
      const junk = path.join(dir, "junk.zkey");
      writeFileSync(junk, "not a proving key");
      const input = { a: 3n, b: "5", c: 15n };
      const surface = "ProverPool.run (prover/pool.ts)";
      const pool = new ProverPool({ workers: 1, taskTimeoutMs: 60_000 });
      try {
        for (const [name, id, circuit, stage, expected] of [
          [
            "corrupted circuit wasm",
            "bad-wasm",
            { wasmPath: wasm },
            "witness",
            /^task bad-wasm: witness generation failed .*WebAssembly/,
          ],
          [
            "truncated zkey",
            "truncated-zkey",
            { zkeyPath: truncated },
            "prove",
            /^task truncated-zkey: groth16\.prove failed \(zkey .*truncated\.zkey is truncated: its sections run past its \d+ bytes\)/,
          ],
          [
            "zkey of junk bytes",
            "junk-zkey",
            { zkeyPath: junk },
            "prove",
            /^task junk-zkey: groth16\.prove failed: .*junk\.zkey: Invalid File format$/,
          ],
        ] as const) {
          const outcome = await pool.run({ id, circuit: { ...setup.prover, ...circuit }, input });
          expect(outcome.ok, name).toBe(false);
          expect(outcome.ok ? undefined : outcome.stage, name).toBe(stage);
          await libraryCase(name, surface, expected, () => {
            if (!outcome.ok) throw new Error(outcome.error);
          });
        }
        // The same pool still proves a sound task afterwards.
        expect((await pool.run({ id: "sound", circuit: setup.prover, input })).ok).toBe(true);
      } finally {
        await pool.close();
      }
    });
  });

  it("malformed ONNX models", async () => {
    const surface = "createSession (miner/onnx/session.ts)";
    await libraryCase("ONNX model of random bytes", surface, /protobuf parsing failed|Failed to load model/i, () =>
      createSession(new Uint8Array(256).map((_, i) => (i * 131 + 7) & 0xff)),
    );
    const model = buildFp8GemmModel({ m: 2, n: 2, k: 16 });
    await libraryCase("truncated ONNX model", surface, /protobuf parsing failed|Failed to load model/i, () =>
      createSession(model.subarray(0, Math.floor(model.length / 2))),
    );
  });
});
