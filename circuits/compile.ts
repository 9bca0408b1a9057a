/**
 * Compiles a circom circuit with the pinned circom2 (WASM) compiler into build/circuits/<name>/.
 *
 * A circuit is either a committed main file (circuits/main/<name>.circom) or a generated one (`instantiate`) that
 * includes a template with fixed parameters. Compilation is skipped when the hash of every circom source, the main
 * file, the compiler version and the flags equals the one recorded by the previous build.
 */
import { createHash } from "node:crypto";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const CIRCUITS_DIR = path.join(REPO_ROOT, "circuits");
export const CIRCUIT_BUILD_DIR = path.join(REPO_ROOT, "build", "circuits");
const CIRCOM_CLI = require.resolve("circom2/cli.js");
const CIRCOM_PACKAGE_VERSION: string = (require("circom2/package.json") as { version: string }).version;
/** Flags every build uses; part of the cache key and of the audit manifest. */
export const CIRCOM_FLAGS = ["--r1cs", "--wasm", "--sym", "--O2", "--inspect", "-l", "node_modules"] as const;

export interface CompiledCircuit {
  readonly name: string;
  readonly dir: string;
  readonly r1csPath: string;
  readonly wasmPath: string;
  readonly symPath: string;
  /** sha256 over the inputs of the build (sources, compiler, flags). */
  readonly sourceHash: string;
  /** Compiler output (constraint counts, --inspect warnings); from the cached build when nothing changed. */
  readonly log: string;
  readonly cached: boolean;
}

/**
 * The repo's circom files `mainFile` includes, directly or not (itself first). Includes that resolve into
 * node_modules (circomlib) are covered by hashing circomlib's package.json instead.
 */
function includedSources(mainFile: string): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const match of readFileSync(file, "utf8").matchAll(/^\s*include\s+"([^"]+)"\s*;/gm)) {
      const local = path.resolve(path.dirname(file), match[1]!);
      if (existsSync(local)) visit(local);
      else if (!existsSync(path.join(REPO_ROOT, "node_modules", match[1]!))) {
        throw new Error(`${path.relative(REPO_ROOT, file)} includes "${match[1]}", which exists nowhere`);
      }
    }
  };
  visit(mainFile);
  return [...seen];
}

function hashBuildInputs(mainFile: string): string {
  const hash = createHash("sha256");
  hash.update(`circom2@${CIRCOM_PACKAGE_VERSION}\n${CIRCOM_FLAGS.join(" ")}\n`);
  const circomlib = path.join(REPO_ROOT, "node_modules", "circomlib", "package.json");
  hash.update(readFileSync(circomlib));
  for (const file of includedSources(mainFile)) {
    hash.update(path.relative(REPO_ROOT, file));
    hash.update(readFileSync(file));
  }
  return hash.digest("hex");
}

function runCircom(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    // circom2 (WASM/WASI) only sees files below its working directory, so every path is relative to the repo root.
    const child = spawn(process.execPath, [CIRCOM_CLI, ...args], { cwd: REPO_ROOT });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      // eslint-disable-next-line no-control-regex
      const plain = output.replace(/\x1b\[[0-9;]*m/g, "");
      if (code === 0 && !/error\[/i.test(plain)) resolve(plain);
      else reject(new Error(`circom ${args.join(" ")} failed (exit ${code}):\n${plain}`));
    });
  });
}

/** Compiles `mainFile` (absolute, or relative to the repo root) as circuit `name`. */
export async function compileCircuit(name: string, mainFile: string): Promise<CompiledCircuit> {
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new Error(`circuit name must match [A-Za-z0-9_-]+, got "${name}"`);
  const main = path.resolve(REPO_ROOT, mainFile);
  if (!existsSync(main)) throw new Error(`circuit main file not found: ${path.relative(REPO_ROOT, main)}`);
  const dir = path.join(CIRCUIT_BUILD_DIR, name);
  const base = path.basename(main, ".circom");
  const result = {
    name,
    dir,
    r1csPath: path.join(dir, `${base}.r1cs`),
    wasmPath: path.join(dir, `${base}_js`, `${base}.wasm`),
    symPath: path.join(dir, `${base}.sym`),
  };
  const sourceHash = hashBuildInputs(main);
  const stampPath = path.join(dir, "build-stamp.json");
  if (existsSync(stampPath) && existsSync(result.r1csPath) && existsSync(result.wasmPath)) {
    const stamp = JSON.parse(readFileSync(stampPath, "utf8")) as { sourceHash: string; log: string };
    if (stamp.sourceHash === sourceHash) return { ...result, sourceHash, log: stamp.log, cached: true };
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const log = await runCircom([path.relative(REPO_ROOT, main), ...CIRCOM_FLAGS, "-o", path.relative(REPO_ROOT, dir)]);
  // circom's witness_calculator.js is CommonJS; the repo's package.json says "type": "module".
  writeFileSync(path.join(dir, "package.json"), '{ "type": "commonjs" }\n');
  writeFileSync(stampPath, JSON.stringify({ sourceHash, log }, null, 2));
  return { ...result, sourceHash, log, cached: false };
}

/**
 * Writes a main file that instantiates `template` from `include` (a path relative to circuits/) with `params`, and
 * compiles it. `publicInputs` lists the main component's public input signals.
 */
export async function instantiateCircuit(
  name: string,
  include: string,
  template: string,
  params: readonly (number | bigint)[],
  publicInputs: readonly string[] = [],
): Promise<CompiledCircuit> {
  const dir = path.join(REPO_ROOT, "build", "generated-mains");
  mkdirSync(dir, { recursive: true });
  const mainFile = path.join(dir, `${name}.circom`);
  const includePath = path.relative(dir, path.join(CIRCUITS_DIR, include)).split(path.sep).join("/");
  const pub = publicInputs.length > 0 ? ` {public [${publicInputs.join(", ")}]}` : "";
  const text = `pragma circom 2.2.0;\ninclude "${includePath}";\ncomponent main${pub} = ${template}(${params.join(", ")});\n`;
  if (!existsSync(mainFile) || readFileSync(mainFile, "utf8") !== text) writeFileSync(mainFile, text);
  return compileCircuit(name, mainFile);
}

/** Parses circom's "non-linear constraints: N" and "linear constraints: N" lines. */
export function constraintCounts(log: string): { nonLinear: number; linear: number } {
  const nonLinear = /non-linear constraints:\s*(\d+)/.exec(log);
  const linear = /(?<!non-)linear constraints:\s*(\d+)/.exec(log);
  if (!nonLinear || !linear) throw new Error(`no constraint counts in circom output:\n${log}`);
  return { nonLinear: Number(nonLinear[1]), linear: Number(linear[1]) };
}

/** circom --inspect warnings in a compiler log. */
export function inspectWarnings(log: string): string[] {
  return log.split("\n").filter((line) => /^warning/i.test(line.trim()));
}

async function main(): Promise<void> {
  const [name] = process.argv.slice(2);
  if (!name) {
    console.error("usage: npm run circuit:compile -- <name>   (compiles circuits/main/<name>.circom)");
    process.exit(2);
  }
  const compiled = await compileCircuit(name, path.join(CIRCUITS_DIR, "main", `${name}.circom`));
  console.log(compiled.log.trim());
  console.log(`${compiled.cached ? "up to date" : "compiled"}: ${path.relative(REPO_ROOT, compiled.dir)}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  });
}
