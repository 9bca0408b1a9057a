/** Contract ABIs and bytecode from Hardhat's artifacts. */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { InterfaceAbi } from "ethers";
import { REPO_ROOT } from "../circuits/compile.js";
import { withHardhat } from "./hardhat.js";

export interface ContractArtifact {
  readonly contractName: string;
  readonly abi: InterfaceAbi;
  readonly bytecode: string;
}

function artifactPath(sourceName: string, contractName: string): string {
  return path.join(REPO_ROOT, "artifacts", "contracts", sourceName, `${contractName}.json`);
}

let building: Promise<void> | undefined;

/** Runs Hardhat's build task once per process (offline: solc-js from the `solc` package). */
async function buildContracts(): Promise<void> {
  building ??= withHardhat(async (hre) => {
    await hre.tasks.getTask("build").run({ quiet: true });
  });
  return building;
}

/**
 * The artifact of `contractName` in contracts/<sourceName> (e.g. "DemleMining.sol"). Builds first (incremental, so
 * artifacts never lag behind the sources).
 */
export async function loadArtifact(sourceName: string, contractName: string): Promise<ContractArtifact> {
  const file = artifactPath(sourceName, contractName);
  await buildContracts();
  if (!existsSync(file)) throw new Error(`no artifact for ${sourceName}:${contractName} after building the contracts`);
  const artifact = JSON.parse(readFileSync(file, "utf8")) as ContractArtifact;
  return { contractName: artifact.contractName, abi: artifact.abi, bytecode: artifact.bytecode };
}
