/**
 * `demle audit`, `demle manifest` and `demle ceremony init|contribute|verify|finalize` (see audit/audit.ts,
 * audit/ceremony.ts and docs/audit.md). Results go to stdout (one line per check, or JSON with --json), progress to
 * stderr; any failed check sets a nonzero exit code.
 */
import path from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import { compileCircuit, REPO_ROOT } from "../circuits/compile.js";
import { AUDIT_CHECKS, runAudit, type AuditCheck } from "../audit/audit.js";
import {
  ceremonyContribute,
  ceremonyFinalize,
  ceremonyInit,
  ceremonyVerify,
  loadTranscript,
} from "../audit/ceremony.js";
import { displayPath } from "../audit/files.js";
import {
  findManifest,
  MANIFEST_FORMAT,
  manifestPath,
  pinnedCompiler,
  r1csPin,
  writeManifest,
  type CircuitManifest,
} from "../audit/manifest.js";
import { selectPtau } from "../audit/ptau-pin.js";
import { connect } from "./options.js";
import { allPassed, formatCheck, short, type CheckResult } from "../audit/report.js";
import { MINING_CIRCUITS, miningCircuit } from "../miner/circuits.js";
import { JOB_CIRCUITS, jobCircuit } from "../miner/job-circuits.js";
import { readR1csHeader, requiredPtauPower } from "../prover/setup.js";

export interface AuditIo {
  /** Results (stdout). */
  out(line: string): void;
  /** Progress (stderr). */
  err(line: string): void;
}

const defaultIo: AuditIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

function parseChecks(value: string): AuditCheck[] {
  const checks = value.split(",").map((c) => c.trim());
  const unknown = checks.filter((c) => !(AUDIT_CHECKS as readonly string[]).includes(c));
  if (unknown.length > 0) {
    throw new InvalidArgumentError(`unknown check ${unknown.join(", ")}; checks: ${AUDIT_CHECKS.join(", ")}`);
  }
  return checks as AuditCheck[];
}

function parseIterations(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 10 || n > 63) throw new InvalidArgumentError("expected an integer in [10, 63]");
  return n;
}

function circuitChoice(): Option {
  return new Option("--circuit <name>", "mining circuit or job circuit").choices([
    ...Object.keys(MINING_CIRCUITS),
    ...Object.keys(JOB_CIRCUITS),
  ]);
}

/** A mining circuit ("demo") or job circuit ("gemm-job-demo") by key, with its manifest's `miningCircuit`. */
function circuitByKey(key: string): { name: string; mainFile: string; miningCircuit: string | null } {
  const job = Object.hasOwn(JOB_CIRCUITS, key);
  const { name, mainFile } = job ? jobCircuit(key) : miningCircuit(key);
  return { name, mainFile, miningCircuit: job ? null : key };
}

function report(io: AuditIo, results: readonly CheckResult[], json: boolean | undefined): void {
  if (json) io.out(JSON.stringify(results, null, 2));
  else for (const result of results) io.out(formatCheck(result));
  if (!allPassed(results)) process.exitCode = 1;
}

/** Adds the audit, manifest and ceremony commands to `program`. */
export function registerAuditCommands(program: Command, io: AuditIo = defaultIo): void {
  const progress = (prefix: string) => (line: string) => io.err(`[${prefix}] ${line}`);

  program
    .command("audit")
    .description(
      "recompute every hash a circuit's manifest (circuits/manifests/) pins — r1cs from source, ptau, zkey " +
        "(snarkjs zkey verify), verification key, verifier — and check a deployment's verifier against it",
    )
    .option(
      "--circuit <names...>",
      "circuits to audit: mining circuits (demo, production, …), job circuits (gemm-job-demo, gemm-job) or build " +
        "names (default: the deployment's layers and job kinds with --contract, else all manifests)",
    )
    .option("--rpc <url>", "JSON-RPC endpoint of a deployment to check (with --contract)")
    .option(
      "--contract <address>",
      "DemleMining address: checks the code and vk constants of its layers' and job kinds' verifiers",
    )
    .option("--chain-id <id>", "refuse unless the node reports this chain id", (v) => Number.parseInt(v, 10))
    .option("--checks <list>", `comma-separated subset of: ${AUDIT_CHECKS.join(", ")}`, parseChecks)
    .option("--zkey <file>", "audit this zkey instead of the manifest's")
    .option("--ptau <file>", "audit this ptau instead of the manifest's")
    .option("--reuse-build", "accept the audit's cached compile when the source hash matches (default: recompile)")
    .option("--json", "print a JSON array of {check, circuit, ok, detail}")
    .action(
      async (flags: {
        circuit?: string[];
        rpc?: string;
        contract?: string;
        chainId?: number;
        checks?: AuditCheck[];
        zkey?: string;
        ptau?: string;
        reuseBuild?: boolean;
        json?: boolean;
      }) => {
        if ((flags.rpc === undefined) !== (flags.contract === undefined)) {
          throw new Error("--rpc and --contract go together");
        }
        if (!flags.contract && flags.checks?.some((c) => c.startsWith("chain-"))) {
          throw new Error("the chain-* checks need --rpc and --contract");
        }
        const provider = flags.rpc ? await connect(flags.rpc, flags.chainId) : undefined;
        try {
          const results = await runAudit({
            ...(flags.circuit ? { circuits: flags.circuit } : {}),
            ...(provider && flags.contract ? { chain: { provider, contract: flags.contract } } : {}),
            ...(flags.checks ? { checks: flags.checks } : {}),
            ...(flags.zkey ? { zkeyPath: flags.zkey } : {}),
            ...(flags.ptau ? { ptauPath: flags.ptau } : {}),
            reuseBuild: flags.reuseBuild ?? false,
            log: progress("audit"),
          });
          report(io, results, flags.json);
        } finally {
          provider?.destroy();
        }
      },
    );

  program
    .command("manifest")
    .description(
      "write circuits/manifests/<circuit>.json's source part (compiler, r1cs, ptau) from a compile; the phase-2 " +
        "part is kept only while the r1cs and ptau are unchanged (`demle ceremony finalize` writes it)",
    )
    .addOption(circuitChoice().makeOptionMandatory())
    .option("--ptau <file>", "phase-1 file (default: the manifest's, else the development ptau of the needed power)")
    .action(async (flags: { circuit: string; ptau?: string }) => {
      const circuit = circuitByKey(flags.circuit);
      const log = progress("manifest");
      const compiled = await compileCircuit(circuit.name, path.join(REPO_ROOT, circuit.mainFile));
      const r1cs = await r1csPin(compiled.r1csPath);
      const previous = findManifest(circuit.name);
      const ptau =
        previous && !flags.ptau
          ? previous.ptau
          : await selectPtau(requiredPtauPower(await readR1csHeader(compiled.r1csPath)), flags.ptau, log);
      const keep =
        previous?.phase2 && previous.r1cs.sha256 === r1cs.sha256 && previous.ptau.blake2b512 === ptau.blake2b512;
      if (previous?.phase2 && !keep) log("the r1cs or ptau changed: the pinned zkey no longer applies (phase2: null)");
      const manifest: CircuitManifest = {
        format: MANIFEST_FORMAT,
        circuit: circuit.name,
        miningCircuit: circuit.miningCircuit,
        mainFile: circuit.mainFile,
        compiler: pinnedCompiler(),
        r1cs,
        ptau,
        phase2: keep ? previous.phase2 : null,
      };
      const file = manifestPath(circuit.name);
      await writeManifest(file, manifest);
      io.out(`wrote ${displayPath(file)} (r1cs sha256 ${short(r1cs.sha256)}, ${r1cs.constraints} constraints)`);
    });

  const ceremony = program
    .command("ceremony")
    .description("a multi-party Groth16 phase-2 ceremony (snarkjs zkey contribute/verify/beacon) with a transcript");

  ceremony
    .command("init")
    .description("start a ceremony in a new directory: the initial zkey from the circuit's r1cs and a ptau")
    .addOption(circuitChoice().makeOptionMandatory())
    .requiredOption("--dir <dir>", "ceremony directory, e.g. ceremony/demo")
    .option("--ptau <file>", "prepared phase-1 file, e.g. a Hermez powersOfTau28_hez_final_NN.ptau (default: dev)")
    .action(async (flags: { circuit: string; dir: string; ptau?: string }) => {
      const transcript = await ceremonyInit({
        circuit: circuitByKey(flags.circuit),
        dir: flags.dir,
        ...(flags.ptau ? { ptauPath: flags.ptau } : {}),
        log: progress("ceremony init"),
      });
      io.out(
        `initialized ${flags.dir}: ${transcript.circuit}, r1cs ${short(transcript.r1cs.sha256)}, ptau ` +
          `${transcript.ptau.name} ${short(transcript.ptau.blake2b512)}`,
      );
    });

  ceremony
    .command("contribute")
    .description(
      "add a contribution (entropy: crypto random bytes, plus DEMLE_CEREMONY_ENTROPY if set); prints its hash",
    )
    .requiredOption("--dir <dir>", "ceremony directory")
    .requiredOption("--name <name>", "contributor name (public, recorded in the zkey and the transcript)")
    .action(async (flags: { dir: string; name: string }) => {
      const entry = await ceremonyContribute({
        dir: flags.dir,
        name: flags.name,
        log: progress("ceremony contribute"),
      });
      io.out(`contribution #${entry.index} by ${entry.name}: ${entry.contributionHash}`);
    });

  ceremony
    .command("verify")
    .description("snarkjs zkey verify of the latest key against r1cs + ptau, and the transcript against the key")
    .requiredOption("--dir <dir>", "ceremony directory")
    .option("--json", "print a JSON array of {check, circuit, ok, detail}")
    .action(async (flags: { dir: string; json?: boolean }) => {
      report(io, await ceremonyVerify({ dir: flags.dir, log: progress("ceremony verify") }), flags.json);
    });

  ceremony
    .command("finalize")
    .description(
      "apply a public beacon, verify, export the verification key and verifier, write the circuit's manifest; " +
        "refuses a ceremony without a contribution",
    )
    .requiredOption("--dir <dir>", "ceremony directory")
    .requiredOption("--beacon <hex>", "public beacon value, announced before it existed (e.g. a future block hash)")
    .option("--iterations <n>", "2^n hash iterations of the beacon (10..63)", parseIterations, 10)
    .option("--manifest <file>", "manifest to write (default: circuits/manifests/<circuit>.json)")
    .option("--no-manifest", "do not write a manifest")
    .action(async (flags: { dir: string; beacon: string; iterations: number; manifest?: string | false }) => {
      const transcript = loadTranscript(path.resolve(flags.dir));
      const target =
        flags.manifest === false
          ? null
          : typeof flags.manifest === "string"
            ? path.resolve(flags.manifest)
            : manifestPath(transcript.circuit);
      const result = await ceremonyFinalize({
        dir: flags.dir,
        beacon: flags.beacon,
        iterationsExp: flags.iterations,
        manifestPath: target,
        log: progress("ceremony finalize"),
      });
      io.out(
        `finalized ${displayPath(result.zkeyPath)} (sha256 ${result.transcript.final?.zkeySha256}); verifier ` +
          `${displayPath(result.verifierPath)}${target ? `; manifest ${displayPath(target)}` : ""}`,
      );
    });
}
