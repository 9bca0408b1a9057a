/** Deploys a DEMLE instance: the workload's generated Groth16 verifiers and DemleMining (which deploys DemleToken). */
import { ContractFactory, parseEther, type Signer } from "ethers";
import { compileVerifier } from "../prover/verifier-contract.js";
import { loadArtifact } from "./artifacts.js";
import type { MiningCircuit, PreparedCircuit } from "./circuits.js";
import { jobKindParams, type JobCircuit } from "./job-circuits.js";

/** DemleMining's constructor Params (see contracts/interfaces/IDemleMining.sol for each field's meaning). */
export interface MiningParams {
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

/** Protocol choices of a local or demo deployment. */
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
} as const satisfies MiningParams;

export function miningParams(protocol: Partial<MiningParams> = {}): MiningParams {
  return { ...DEFAULT_PROTOCOL, ...protocol };
}

/** DemleMining's constructor Layer of a prepared circuit, with its deployed verifier. */
export interface MiningLayer {
  verifier: string;
  macsPerTile: number;
  tilesPerProof: number;
  maxRowBlocksLog2: number;
  maxColBlocksLog2: number;
}

export function miningLayer(circuit: MiningCircuit, verifier: string): MiningLayer {
  return {
    verifier,
    macsPerTile: circuit.macsPerTile,
    tilesPerProof: circuit.tilesPerProof,
    maxRowBlocksLog2: circuit.tiling.maxRowBlocksLog2,
    maxColBlocksLog2: circuit.tiling.maxColBlocksLog2,
  };
}

/**
 * DemleMining's constructor JobKind (contracts/interfaces/IDemleJobMarket.sol): a job circuit's deployed verifier (six
 * public inputs) and its parameters.
 */
export interface MiningJobKind {
  /** The job circuit's build name (not passed to the contract). */
  circuit: string;
  verifier: string;
  macsPerTile: number;
  tilesPerProof: number;
  proofsPerJob: number;
  tileRows: number;
  tileCols: number;
  depth: number;
  maxRowBlocksLog2: number;
  maxColBlocksLog2: number;
}

export function miningJobKind(circuit: JobCircuit, verifier: string): MiningJobKind {
  return {
    circuit: circuit.name,
    verifier,
    macsPerTile: circuit.macsPerTile,
    tilesPerProof: circuit.tilesPerProof,
    proofsPerJob: circuit.proofsPerJob,
    ...jobKindParams(circuit),
  };
}

export interface DeployedLayer {
  readonly circuit: string;
  readonly op: string;
  readonly verifier: string;
  readonly macsPerTile: number;
  readonly tilesPerProof: number;
  readonly maxRowBlocksLog2: number;
  readonly maxColBlocksLog2: number;
}

export interface Deployment {
  readonly chainId: string;
  /** MINING_WORKLOADS key the layers were taken from. */
  readonly workload: string;
  readonly layers: readonly DeployedLayer[];
  /** The job kinds given to the constructor (job kind i is index i). */
  readonly jobKinds: readonly MiningJobKind[];
  readonly mining: string;
  readonly token: string;
  readonly deployBlock: number;
  readonly params: Record<keyof MiningParams, string>;
  readonly gas: { readonly verifiers: readonly string[]; readonly mining: string };
}

/**
 * Deploys a DEMLE instance: one Groth16 verifier per distinct circuit of the workload, then DemleMining (which deploys
 * DemleToken) with the workload's layers and one job kind per given job circuit (none by default), whose verifiers
 * it deploys too.
 */
export async function deployDemle(
  signer: Signer,
  workload: string,
  prepared: readonly PreparedCircuit[],
  params: MiningParams,
  jobCircuits: readonly { readonly circuit: JobCircuit; readonly setup: { readonly verifierPath: string } }[] = [],
): Promise<Deployment> {
  const provider = signer.provider;
  if (!provider) throw new Error("the deployer signer has no provider");
  const verifiers = new Map<string, { address: string; gas: bigint }>();
  for (const { circuit, setup } of [...prepared, ...jobCircuits]) {
    if (verifiers.has(circuit.name)) continue;
    const artifact = compileVerifier(setup.verifierPath);
    const verifier = await new ContractFactory(artifact.abi, artifact.bytecode, signer).deploy();
    const receipt = await verifier.deploymentTransaction()!.wait();
    verifiers.set(circuit.name, { address: await verifier.getAddress(), gas: receipt!.gasUsed });
  }
  const layers = prepared.map(({ circuit }) => miningLayer(circuit, verifiers.get(circuit.name)!.address));
  const mining = await loadArtifact("DemleMining.sol", "DemleMining");
  const jobKinds = jobCircuits.map(({ circuit }) => miningJobKind(circuit, verifiers.get(circuit.name)!.address));
  const contract = await new ContractFactory(mining.abi, mining.bytecode, signer).deploy(layers, params, jobKinds);
  const miningReceipt = await contract.deploymentTransaction()!.wait();
  const token = (await contract.getFunction("token")()) as string;
  return {
    chainId: (await provider.getNetwork()).chainId.toString(),
    workload,
    layers: prepared.map(({ circuit }, i) => ({ circuit: circuit.name, op: circuit.op, ...layers[i]! })),
    jobKinds,
    mining: await contract.getAddress(),
    token,
    deployBlock: miningReceipt!.blockNumber,
    params: Object.fromEntries(
      Object.entries(params).map(([key, value]) => [key, String(value)]),
    ) as Deployment["params"],
    gas: { verifiers: [...verifiers.values()].map((v) => v.gas.toString()), mining: miningReceipt!.gasUsed.toString() },
  };
}
