/**
 * `npm run demo`: a local chain in-process, a deployment, and two miners doing real FP8 work with real proofs for a
 * few epochs; prints balances and per-commitment figures.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { formatEther, formatUnits, NonceManager, type Signer } from "ethers";
import { ProverPool } from "../prover/pool.js";
import { loadArtifact } from "./artifacts.js";
import { MINING_WORKLOADS, prepareWorkload } from "./circuits.js";
import { deployDemle, miningParams } from "./deploy.js";
import { Miner, type MinerEvent } from "./miner.js";
import { setIntervalMining, withHardhat } from "./hardhat.js";
import { startDashboard, type Dashboard } from "../dashboard/server.js";

export interface DemoOptions {
  /** Commitments each miner settles (one per epoch). */
  readonly epochs: number;
  /** Keep mining after the report until interrupted. */
  readonly keepGoing: boolean;
  /** Milliseconds between blocks on the demo chain. */
  readonly blockTimeMs: number;
  readonly log: (line: string) => void;
}

export async function runDemo(options: DemoOptions): Promise<void> {
  const { log } = options;
  const started = performance.now();
  const workload = MINING_WORKLOADS.demo;
  log(
    `preparing the demo workload's circuits ${workload.map((l) => l.circuit.name).join(", ")} (compile + setup; ` +
      `cached after the first run)`,
  );
  const prepared = await prepareWorkload(workload, (line) => log(`  ${line}`));
  await withHardhat(async (hre) => {
    const connection = await hre.network.create();
    await setIntervalMining(connection.provider, options.blockTimeMs);
    const stateRoot = mkdtempSync(path.join(os.tmpdir(), "demle-demo-"));
    const pool = new ProverPool({ workers: Math.min(2, os.availableParallelism()), taskTimeoutMs: 300_000 });
    let dashboard: Dashboard | undefined;
    try {
      const [deployer, ...accounts] = await connection.ethers.getSigners();
      const params = miningParams();
      const deployment = await deployDemle(deployer!, "demo", prepared, params);
      log(
        `deployed on the in-process chain ${deployment.chainId}: DemleMining ${deployment.mining}, DemleToken ` +
          `${deployment.token}; layers ${deployment.layers.map((l) => `${l.op} (verifier ${l.verifier})`).join(", ")}; ` +
          `${params.proofsPerCommitment} proofs per commitment spread over the layers, ${params.epochLength}-block ` +
          `epochs, ${options.blockTimeMs} ms blocks`,
      );

      const where = { contract: deployment.mining, fromBlock: deployment.deployBlock, port: 8090, fallbackPort: true };
      dashboard = await startDashboard({ provider: connection.provider, ...where, pollMs: 500 });
      log(`live dashboard: ${dashboard.url}`);
      const abi = (await loadArtifact("DemleMining.sol", "DemleMining")).abi;
      const layers = workload.map((layer, i) => ({ ...layer, prover: prepared[i]!.setup.prover }));
      const miners = await Promise.all(
        accounts.slice(0, 2).map(async (account, index) => {
          const name = `miner${index + 1}`;
          const miner = new Miner({
            contract: deployment.mining,
            signer: new NonceManager(account as unknown as Signer),
            layers,
            pool,
            stateDir: path.join(stateRoot, name),
            pollMs: Math.max(100, options.blockTimeMs / 2),
            onEvent: (event: MinerEvent) => {
              if (event.type === "log") log(`[${name}] ${event.message}`);
            },
          });
          await miner.init(abi as never);
          return { name, miner, address: await account.getAddress() };
        }),
      );
      log(`first reward expected within a few epochs; mining ${options.epochs} epoch(s) per miner`);
      await Promise.all(miners.map(({ miner }) => miner.run(options.epochs)));
      log("");
      log("commitment  miner   epoch  compute ms  commit ms  wait ms  prove ms  submit ms  reward DEMLE");
      for (const { name, miner } of miners) {
        for (const job of miner.jobs()) {
          const t = job.timings;
          log(
            `#${job.id?.padEnd(10) ?? "-".padEnd(10)} ${name}  ${String(job.epoch).padStart(5)}  ${String(t.computeMs ?? "-").padStart(10)}  ` +
              `${String(t.commitMs ?? "-").padStart(9)}  ${String(t.waitMs ?? "-").padStart(7)}  ${String(t.proveMs ?? "-").padStart(8)}  ` +
              `${String(t.submitMs ?? "-").padStart(9)}  ${formatUnits(job.reward ?? "0", 18)}`,
          );
        }
      }
      log("");
      for (const { name, miner, address } of miners) {
        const balance = await miner.tokenBalance();
        const eth = await connection.ethers.provider.getBalance(address);
        log(`${name} ${address}: ${formatUnits(balance, 18)} DEMLE, ${formatEther(eth)} ETH`);
      }
      log(`demo finished in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      if (options.keepGoing) {
        log("mining on (--keep-going); stop with Ctrl-C");
        await Promise.all(miners.map(({ miner }) => miner.run()));
      }
      await Promise.all(miners.map(({ miner }) => miner.release()));
    } finally {
      await dashboard?.close();
      await pool.close();
      await connection.close();
      rmSync(stateRoot, { recursive: true, force: true });
    }
  });
}
