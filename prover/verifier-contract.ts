/**
 * Compiles a snarkjs-generated Groth16 verifier (build/setup/<name>/<name>_dev_insecure_verifier.sol, see setup.ts)
 * with solc-js, for deployment with ethers' `ContractFactory`:
 *
 *   const { abi, bytecode } = compileVerifier(setup.verifierPath);
 *   const verifier = await new ContractFactory(abi, bytecode, signer).deploy();
 *
 * Hardhat compiles only contracts/, and the generated verifier belongs to a build, not to the sources. The settings
 * are hardhat.config.ts's (solc 0.8.30 from the `solc` package, optimizer 200 runs, EVM cancun), so gas measured
 * with this bytecode is what a Hardhat-compiled copy would use.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import type { JsonFragment } from "ethers";

const require = createRequire(import.meta.url);

/** Same as `settings` in hardhat.config.ts (test/mining.test.ts checks that they agree). */
export const VERIFIER_COMPILER_SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: "cancun",
} as const;

export interface CompiledVerifier {
  /** The contract's name in the file (snarkjs names it Groth16Verifier unless setup renamed it). */
  readonly contractName: string;
  readonly abi: JsonFragment[];
  /** Creation bytecode, 0x-prefixed. */
  readonly bytecode: string;
  /** Full solc version string, e.g. 0.8.30+commit.73712a01.Emscripten.clang. */
  readonly solcVersion: string;
}

interface SolcOutput {
  errors?: { severity: "error" | "warning" | "info"; formattedMessage: string }[];
  contracts?: Record<string, Record<string, { abi: JsonFragment[]; evm: { bytecode: { object: string } } }>>;
}

interface Solc {
  version(): string;
  compile(input: string): string;
}

/**
 * Compiles the single contract in `solPath` (a self-contained file: snarkjs verifiers import nothing). Throws with
 * solc's messages on a compile error, or if the file holds no contract or several.
 */
export function compileVerifier(solPath: string): CompiledVerifier {
  const solc = require("solc") as Solc;
  const source = path.basename(solPath);
  const input = {
    language: "Solidity",
    sources: { [source]: { content: readFileSync(solPath, "utf8") } },
    settings: { ...VERIFIER_COMPILER_SETTINGS, outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } } },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input))) as SolcOutput;
  const errors = (output.errors ?? []).filter((e) => e.severity === "error");
  if (errors.length > 0) {
    throw new Error(`solc failed on ${solPath}:\n${errors.map((e) => e.formattedMessage).join("\n")}`);
  }
  const contracts = Object.entries(output.contracts?.[source] ?? {});
  if (contracts.length !== 1) {
    throw new Error(
      `${solPath}: expected exactly one contract, found ${contracts.length}: ${contracts.map(([name]) => name).join(", ")}`,
    );
  }
  const [contractName, contract] = contracts[0]!;
  return {
    contractName,
    abi: contract.abi,
    bytecode: `0x${contract.evm.bytecode.object}`,
    solcVersion: solc.version(),
  };
}
