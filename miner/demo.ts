/**
 * `npm run demo`: a local chain in-process, a deployment, a requester posting a useful-work job on its data server, and
 * two miners doing real FP8 work with real proofs — the job first, then seed work for a few epochs; prints the
 * requester's verified results, balances and per-commitment figures.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Contract, formatEther, formatUnits, NonceManager, type Signer } from "ethers";
import { ProverPool } from "../prover/pool.js";
import { loadArtifact } from "./artifacts.js";
import { MINING_WORKLOADS, prepareWorkload } from "./circuits.js";
import { deployDemle, miningParams } from "./deploy.js";
import { Miner, type MinerEvent } from "./miner.js";
import { setIntervalMining, withHardhat } from "./hardhat.js";
import { startDashboard, type Dashboard } from "../dashboard/server.js";
import { exampleJob, serializeJobModel } from "../common/job-files.js";
import { committedOutputsOnChain } from "../data/committed-outputs.js";
import { startDataServer, type DataServer } from "../data/server.js";
import { JOB_CIRCUITS, prepareJobCircuit, WORKLOAD_JOB_CIRCUITS } from "./job-circuits.js";
import { JobMarket } from "./job-market.js";
import { JobWorker } from "./job-worker.js";
import { jobResults, postJob } from "../requester/requester.js";

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
  const jobCircuits = WORKLOAD_JOB_CIRCUITS.demo!.map((name) => JOB_CIRCUITS[name]);
  log(`preparing the job circuits ${jobCircuits.map((c) => c.name).join(", ")}`);
  const preparedJobs: Awaited<ReturnType<typeof prepareJobCircuit>>[] = [];
  for (const circuit of jobCircuits) preparedJobs.push(await prepareJobCircuit(circuit, (line) => log(`  ${line}`)));
  const cnn = JOB_CIRCUITS["conv-job-demo"];
  await withHardhat(async (hre) => {
    const connection = await hre.network.create();
    await setIntervalMining(connection.provider, options.blockTimeMs);
    const stateRoot = mkdtempSync(path.join(os.tmpdir(), "demle-demo-"));
    const pool = new ProverPool({ workers: Math.min(2, os.availableParallelism()), taskTimeoutMs: 300_000 });
    let dashboard: Dashboard | undefined;
    let dataServer: DataServer | undefined;
    try {
      const [deployer, ...accounts] = await connection.ethers.getSigners();
      const params = miningParams();
      const deployment = await deployDemle(deployer!, "demo", prepared, params, preparedJobs);
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

      // A requester publishes a small CNN layer on its data server and posts it as a job for two miners.
      const mining = new Contract(deployment.mining, abi, connection.ethers.provider);
      dataServer = await startDataServer({
        dir: path.join(stateRoot, "data"),
        port: 0,
        committedOutputs: committedOutputsOnChain(new JobMarket(mining)),
      });
      const requester = accounts[5]! as unknown as Signer;
      const { model, input } = exampleJob({
        jobKind: "conv-job-demo",
        op: "conv2d",
        images: 2,
        height: cnn.tiling.inHeight,
        width: cnn.tiling.inWidth,
        inChannels: cnn.tiling.inChannels,
        outChannels: 8,
        kernelSize: cnn.tiling.kernelHeight,
        seed: 1,
      });
      const fee = 2n * 10n ** 16n;
      const posted = await postJob({
        signer: requester,
        contract: mining.connect(new NonceManager(requester)) as Contract,
        dataOrigin: dataServer.url,
        modelBytes: serializeJobModel(model),
        input,
        redundancy: 2,
        deadlineBlocks: 600,
        fee,
      });
      log(
        `requester ${await requester.getAddress()} posted job #${posted.jobId}: a 3×3 conv of two ` +
          `${cnn.tiling.inChannels}×${cnn.tiling.inHeight}×${cnn.tiling.inWidth} images to 8 channels, input ${posted.inputUri}, fee ${formatEther(fee)} ETH for 2 miners`,
      );

      const layers = workload.map((layer, i) => ({ ...layer, prover: prepared[i]!.setup.prover }));
      const miners = await Promise.all(
        accounts.slice(0, 2).map(async (account, index) => {
          const name = `miner${index + 1}`;
          const signer = new NonceManager(account as unknown as Signer);
          const jobs = new JobWorker({
            contract: deployment.mining,
            signer,
            circuits: preparedJobs.map(({ circuit, setup }) => ({ circuit, prover: setup.prover })),
            pool,
            stateDir: path.join(stateRoot, name),
            pollMs: Math.max(100, options.blockTimeMs / 2),
            log: (message) => log(`[${name}] ${message}`),
          });
          await jobs.init(abi as never);
          const miner = new Miner({
            contract: deployment.mining,
            signer,
            jobs,
            layers,
            pool,
            stateDir: path.join(stateRoot, name),
            pollMs: Math.max(100, options.blockTimeMs / 2),
            onEvent: (event: MinerEvent) => {
              if (event.type === "log") log(`[${name}] ${event.message}`);
            },
          });
          await miner.init(abi as never);
          return { name, miner, jobs, address: await account.getAddress() };
        }),
      );
      log(`the job comes first, then seed work: ${options.epochs} seed commitment(s) per miner`);
      await Promise.all(miners.map(({ miner }) => miner.run(options.epochs + 1)));
      log("");
      const results = await jobResults(mining, posted.jobId, { verify: true });
      log(
        `job #${posted.jobId}: the requester downloaded and verified ${results.layout.outputWords} outputs (${results.layout.description})`,
      );
      for (const result of results.results) {
        const name = miners.find((m) => m.address === result.miner)?.name ?? result.miner;
        const paid = miners.find((m) => m.address === result.miner)?.jobs.stats.feesEarned ?? 0n;
        log(
          `  ${name}: ${result.status}, ${result.problem ?? "outputs match the committed root"}, ` +
            `${result.contract?.violations ?? "?"} output(s) outside the numerics contract, fee ${formatEther(paid)} ETH` +
            `${result.flags.length > 0 ? ` — FLAGGED: ${result.flags.join("; ")}` : ""}`,
        );
      }
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
      await dataServer?.close();
      await pool.close();
      await connection.close();
      rmSync(stateRoot, { recursive: true, force: true });
    }
  });
}
