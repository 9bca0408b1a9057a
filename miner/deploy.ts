/** Deploys a DEMLE instance: the circuit's generated Groth16 verifier and DemleMining (which deploys DemleToken). */
import { ContractFactory, parseEther, type Signer } from "ethers";
import { compileVerifier } from "../prover/verifier-contract.js";
import { loadArtifact } from "./artifacts.js";
import type { PreparedCircuit } from "./circuits.js";

/** DemleMining's constructor Params (see contracts/interfaces/IDemleMining.sol for each field's meaning). */
export interface MiningParams {
  tileRows: number;
  tileCols: number;
  depth: number;
  maxRowBlocksLog2: number;
  maxColBlocksLog2: number;
  tilesPerProof: number;
  proofsPerCommitment: number;
  epochLength: number;
  challengeDelay: number;
  proofWindow: number;
  bondPerTile: bigint;
  slashBountyBps: number;
  initialRewardPerMac: bigint;
  halvingEpochs: number;
  cap: bigint;
}

/** Protocol choices of a local or demo deployment; the tiling fields come from the circuit. */
export const DEFAULT_PROTOCOL = {
  proofsPerCommitment: 4,
  epochLength: 20,
  challengeDelay: 2,
  proofWindow: 200,
  bondPerTile: parseEther("0.0001"),
  slashBountyBps: 1_000,
  initialRewardPerMac: 10n ** 14n,
  halvingEpochs: 100_000,
  cap: 21_000_000n * 10n ** 18n,
} as const;

export type ProtocolChoices = {
  -readonly [K in keyof typeof DEFAULT_PROTOCOL]: (typeof DEFAULT_PROTOCOL)[K] extends bigint ? bigint : number;
};

export function miningParams(prepared: PreparedCircuit, protocol: Partial<ProtocolChoices> = {}): MiningParams {
  const { tiling, tilesPerProof } = prepared.circuit;
  return {
    tileRows: tiling.tileRows,
    tileCols: tiling.tileCols,
    depth: tiling.depth,
    maxRowBlocksLog2: tiling.maxRowBlocksLog2,
    maxColBlocksLog2: tiling.maxColBlocksLog2,
    tilesPerProof,
    ...DEFAULT_PROTOCOL,
    ...protocol,
  };
}

export interface Deployment {
  readonly chainId: string;
  readonly circuit: string;
  readonly verifier: string;
  readonly mining: string;
  readonly token: string;
  readonly deployBlock: number;
  readonly params: Record<keyof MiningParams, string>;
  readonly gas: { readonly verifier: string; readonly mining: string };
}

export async function deployDemle(
  signer: Signer,
  prepared: PreparedCircuit,
  params: MiningParams,
): Promise<Deployment> {
  const provider = signer.provider;
  if (!provider) throw new Error("the deployer signer has no provider");
  const verifierArtifact = compileVerifier(prepared.setup.verifierPath);
  const verifier = await new ContractFactory(verifierArtifact.abi, verifierArtifact.bytecode, signer).deploy();
  const verifierReceipt = await verifier.deploymentTransaction()!.wait();
  const mining = await loadArtifact("DemleMining.sol", "DemleMining");
  const contract = await new ContractFactory(mining.abi, mining.bytecode, signer).deploy(
    await verifier.getAddress(),
    params,
  );
  const miningReceipt = await contract.deploymentTransaction()!.wait();
  const token = (await contract.getFunction("token")()) as string;
  return {
    chainId: (await provider.getNetwork()).chainId.toString(),
    circuit: prepared.circuit.name,
    verifier: await verifier.getAddress(),
    mining: await contract.getAddress(),
    token,
    deployBlock: miningReceipt!.blockNumber,
    params: Object.fromEntries(
      Object.entries(params).map(([key, value]) => [key, String(value)]),
    ) as Deployment["params"],
    gas: { verifier: verifierReceipt!.gasUsed.toString(), mining: miningReceipt!.gasUsed.toString() },
  };
}
