/**
 * The chain of the dashboard tests (test/dashboard-indexer.test.ts, test/dashboard-jobs.test.ts): DemleMining on
 * Hardhat's in-process network with test verifiers, read through an EIP-1193 provider as `npm run demo` reads it.
 */
import hre from "hardhat";
import { BrowserProvider, Contract, ContractFactory, parseEther, type InterfaceAbi, type Signer } from "ethers";
import { loadArtifact } from "../../miner/artifacts.js";

export type Connection = Awaited<ReturnType<typeof hre.network.create>>;

/** One GEMM-demo-like layer (its grid matches MINING_CIRCUITS.demo, so the indexer names its op "gemm"). */
export const DASHBOARD_LAYER = { macsPerTile: 64, tilesPerProof: 1, maxRowBlocksLog2: 3, maxColBlocksLog2: 3 };

/** DemleMining's parameters in the dashboard tests: short epochs and windows, no halving within a test. */
export const DASHBOARD_PARAMS = {
  proofsPerCommitment: 2,
  epochLength: 10,
  challengeDelay: 2,
  proofWindow: 5,
  bondPerTile: parseEther("0.001"),
  slashBountyBps: 1_000,
  initialRewardPerMac: 10n ** 14n,
  halvingEpochs: 1000, // rewardPerMac is initialRewardPerMac throughout
  cap: 21_000_000n * 10n ** 18n,
};

export interface Deployable {
  readonly abi: InterfaceAbi;
  readonly bytecode: string;
}

export interface DashboardChain {
  readonly connection: Connection;
  /** The connection's EIP-1193 provider without a response cache (polls here come milliseconds apart). */
  readonly provider: BrowserProvider;
  readonly signers: Signer[];
  readonly abis: { mining: InterfaceAbi; token: InterfaceAbi };
  /** DemleMining (and its token) through `provider`, read-only: connect a signer to send. */
  readonly mining: Contract;
  readonly token: Contract;
  readonly deployBlock: number;
  /** The job kinds' verifier, when one was deployed. */
  readonly jobVerifier?: string;
}

/**
 * Builds the contracts, opens a new in-process network and deploys, from signer 0, the seed layer's verifier, the
 * job kinds' verifier (when given) and DemleMining with one layer, `params` and `kinds` (each with that verifier).
 */
export async function deployDashboardChain(deployment: {
  layerVerifier: Deployable;
  layer: object;
  params: object;
  jobVerifier?: Deployable;
  kinds?: readonly object[];
}): Promise<DashboardChain> {
  await hre.tasks.getTask("build").run({ quiet: true });
  const connection = await hre.network.create();
  // No response cache: polls here come milliseconds apart (ethers caches identical requests for 250 ms).
  const provider = new BrowserProvider(connection.provider as never, undefined, { cacheTimeout: -1 });
  const signers = (await connection.ethers.getSigners()) as unknown as Signer[];
  const [miningArtifact, tokenArtifact] = await Promise.all([
    loadArtifact("DemleMining.sol", "DemleMining"),
    loadArtifact("DemleToken.sol", "DemleToken"),
  ]);
  const deploy = async (artifact: Deployable) => {
    const contract = await new ContractFactory(artifact.abi, artifact.bytecode, signers[0]!).deploy();
    await contract.waitForDeployment();
    return contract.getAddress();
  };
  const layerVerifier = await deploy(deployment.layerVerifier);
  const jobVerifier = deployment.jobVerifier && (await deploy(deployment.jobVerifier));
  const deployed = await new ContractFactory(miningArtifact.abi, miningArtifact.bytecode, signers[0]!).deploy(
    [{ verifier: layerVerifier, ...deployment.layer }],
    deployment.params,
    (deployment.kinds ?? []).map((kind) => ({ verifier: jobVerifier, ...kind })),
  );
  const deployBlock = (await deployed.deploymentTransaction()!.wait())!.blockNumber;
  const mining = new Contract(await deployed.getAddress(), miningArtifact.abi, provider);
  return {
    connection,
    provider,
    signers,
    abis: { mining: miningArtifact.abi, token: tokenArtifact.abi },
    mining,
    token: new Contract(await mining.getFunction("token")(), tokenArtifact.abi, provider),
    deployBlock,
    jobVerifier,
  };
}
