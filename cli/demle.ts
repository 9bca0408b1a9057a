/**
 * `demle`: run a local node, deploy, mine, inspect, and the end-to-end demo. Every error is one line on stderr and a
 * nonzero exit. Options come from flags, then from a JSON config file (`--config`), then from defaults.
 */
import { writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import { Contract, formatEther, formatUnits, JsonRpcProvider, NonceManager } from "ethers";
import { ProverPool } from "../prover/pool.js";
import { loadArtifact } from "../miner/artifacts.js";
import { MINING_WORKLOADS, miningWorkload, prepareWorkload } from "../miner/circuits.js";
import { deployDemle, miningParams } from "../miner/deploy.js";
import { runDemo } from "../miner/demo.js";
import { setIntervalMining, withHardhat } from "../miner/hardhat.js";
import { createKeystore, loadWallet } from "../miner/keys.js";
import { Miner, type MinerStats } from "../miner/miner.js";
import type { GemmExecutionProvider } from "../miner/gemm.js";
import { registerAuditCommands } from "./audit.js";
import { connect, integer, readDeployment, withConfig } from "./options.js";
import { registerDashboardCommand } from "./dashboard.js";
import { registerJobCommands } from "./jobs.js";
import { JOB_CIRCUITS, jobCircuitsFor, prepareJobCircuit, WORKLOAD_JOB_CIRCUITS } from "../miner/job-circuits.js";
import { JobMarket } from "../miner/job-market.js";
import { JobWorker, unfinishedJobs, type JobWorkerStats } from "../miner/job-worker.js";
import { MinerMetrics } from "../miner/metrics.js";

const log = (line: string) => process.stderr.write(`${line}\n`);

/** "dr,dc;dr,dc;…": one work shape per layer of the workload. */
function parseShapes(value: string): { rowBlocksLog2: number; colBlocksLog2: number }[] {
  return value.split(";").map((part) => {
    const match = /^(\d+),(\d+)$/.exec(part.trim());
    if (!match) throw new InvalidArgumentError('expected "dr,dc" per layer, separated by ";", e.g. 3,3;2,1');
    return { rowBlocksLog2: Number(match[1]), colBlocksLog2: Number(match[2]) };
  });
}

const workloadOption = (description: string) =>
  new Option("--workload <name>", description).choices(Object.keys(MINING_WORKLOADS)).default("demo");

function formatStatus(stats: MinerStats, jobs?: JobWorkerStats): string {
  const rate =
    stats.macsPerSecond >= 1e9
      ? `${(stats.macsPerSecond / 1e9).toFixed(2)} GMAC/s`
      : `${(stats.macsPerSecond / 1e6).toFixed(1)} MMAC/s`;
  return (
    `[${new Date().toISOString().slice(0, 19).replace("T", " ")}] epoch ${stats.epoch} | ${rate} | proofs ${stats.proofsOk} ok / ` +
    `${stats.proofsFailed} failed | commitments ${stats.commitmentsSettled} proven, ${stats.commitmentsLost} lost, ${stats.commitmentsDeferred} deferred | earned ` +
    `${formatUnits(stats.earned, 18)} DEMLE | bond at risk ${formatEther(stats.bondAtRisk)} ETH` +
    (jobs
      ? ` | jobs ${jobs.jobsSettled} proven, ${jobs.jobsLost} lost, ${jobs.jobsSkipped} skipped, fees ` +
        `${formatEther(jobs.feesEarned)} ETH + ${formatUnits(jobs.rewardEarned, 18)} DEMLE`
      : "")
  );
}

const program = new Command()
  .name("demle")
  .description("DEMLE: proof-of-useful-work mining of FP8 machine-learning work")
  .option("--config <file>", "JSON config file (keys are the options' camelCase names; flags override it)")
  // Usage errors are one `demle: ` line like every other error (subcommands inherit this).
  // One line per error: commander's hints ("(Did you mean --shapes?)") join the message.
  .configureOutput({
    outputError: (text, write) =>
      write(
        `demle: ${text
          .trim()
          .replace(/^error: /, "")
          .replace(/\s*\n\s*/g, " ")}\n`,
      ),
  });

program
  .command("node")
  .description("run a local Hardhat JSON-RPC node on 127.0.0.1 (in-process; prints the funded dev accounts' addresses)")
  .option("--port <port>", "TCP port", integer(1, 65_535), 8545)
  .option(
    "--block-time <ms>",
    "mine a block every <ms> milliseconds (transactions are also mined at once)",
    integer(50),
    1000,
  )
  .action(async (flags: { port: number; blockTime: number }, command: Command) => {
    const options = withConfig(command, flags);
    await withHardhat(async (hre) => {
      const server = await hre.network.createServer({}, "127.0.0.1", options.port);
      const { address, port } = await server.listen();
      const client = new JsonRpcProvider(`http://${address}:${port}`);
      await setIntervalMining(
        { request: ({ method, params }) => client.send(method, params ?? []) },
        options.blockTime,
      );
      const accounts = (await client.send("eth_accounts", [])) as string[];
      client.destroy();
      log(`funded development accounts: ${accounts.slice(0, 5).join(", ")}${accounts.length > 5 ? ", …" : ""}`);
      log(
        `JSON-RPC node listening on http://${address}:${port} (a block every ${options.blockTime} ms); Ctrl-C stops it`,
      );
      log("its accounts are Hardhat's publicly known development keys: never use them on a real network");
      await server.afterClosed();
    });
  });

program
  .command("deploy")
  .description("deploy the verifier, DemleMining and DemleToken; writes the deployment JSON")
  .requiredOption("--rpc <url>", "JSON-RPC endpoint")
  .option("--chain-id <id>", "refuse to deploy unless the node reports this chain id", integer(1))
  .option(
    "--keystore <file>",
    "encrypted JSON keystore of the deployer (password: DEMLE_KEYSTORE_PASSWORD or a prompt)",
  )
  .addOption(workloadOption("the layers (op circuits) the deployment verifies"))
  .option("--out <file>", "where to write the deployment JSON", "deployment.json")
  .action(
    async (
      flags: { rpc: string; chainId?: number; keystore?: string; workload: string; out: string },
      command: Command,
    ) => {
      const options = withConfig(command, flags);
      const out = path.resolve(options.out);
      const provider = await connect(options.rpc, options.chainId);
      try {
        const wallet = (await loadWallet(options.keystore)).connect(provider);
        const prepared = await prepareWorkload(miningWorkload(options.workload), log);
        const jobCircuits = [];
        for (const name of WORKLOAD_JOB_CIRCUITS[options.workload] ?? []) {
          jobCircuits.push(await prepareJobCircuit(JOB_CIRCUITS[name], log));
        }
        const deployment = await deployDemle(
          new NonceManager(wallet),
          options.workload,
          prepared,
          miningParams(),
          jobCircuits,
        );
        writeFileSync(out, `${JSON.stringify(deployment, null, 2)}\n`);
        log(
          `deployed DemleMining at ${deployment.mining} (token ${deployment.token}; job kinds: ` +
            `${deployment.jobKinds.map((k) => k.circuit).join(", ") || "none"}); wrote ${out}`,
        );
        process.stdout.write(`${deployment.mining}\n`);
      } finally {
        provider.destroy();
      }
    },
  );

program
  .command("mine")
  .description("mine: compute the FP8 workload with ONNX Runtime, commit, prove challenged tiles, collect rewards")
  .requiredOption("--rpc <url>", "JSON-RPC endpoint")
  .option("--contract <address>", "DemleMining address (or --deployment FILE)")
  .option("--deployment <file>", "deployment JSON written by `demle deploy`")
  .option("--chain-id <id>", "refuse to mine unless the node reports this chain id", integer(1))
  .option(
    "--keystore <file>",
    "encrypted JSON keystore (password: DEMLE_KEYSTORE_PASSWORD or a prompt); or set DEMLE_PRIVATE_KEY",
  )
  .addOption(workloadOption("workload of the deployment (default: the deployment file's, else demo)"))
  .option(
    "--shapes <dr,dc;...>",
    "per layer, work of 2^dr × 2^dc output tiles (default: the workload's shapes)",
    parseShapes,
  )
  .addOption(
    new Option("--provider <ep>", "ONNX Runtime execution provider").choices(["cpu", "cuda", "webgpu"]).default("cpu"),
  )
  .option("--workers <n>", "prover worker threads", integer(1), os.availableParallelism())
  .option("--state-dir <dir>", "where the miner keeps its crash-safe state", ".demle-miner")
  .option(
    "--commitments <n>",
    "stop after this many commitments have finished, proven or lost (default: run until interrupted)",
    integer(1),
  )
  .option("--status-interval <s>", "seconds between status lines", integer(1), 10)
  .option("--no-jobs", "never take useful-work jobs (seed work only)")
  .option("--json", "machine-readable JSON lines instead of text")
  .option("--metrics-port <port>", "serve Prometheus metrics on http://127.0.0.1:<port>/metrics", integer(0, 65_535))
  .action(async (flags: Record<string, unknown>, command: Command) => {
    const options = withConfig(command, flags) as {
      rpc: string;
      contract?: string;
      deployment?: string;
      chainId?: number;
      keystore?: string;
      workload: string;
      shapes?: { rowBlocksLog2: number; colBlocksLog2: number }[];
      provider: GemmExecutionProvider;
      workers: number;
      stateDir: string;
      commitments?: number;
      statusInterval: number;
      json?: boolean;
      metricsPort?: number;
      jobs: boolean;
    };
    let contract = options.contract;
    let workloadName = options.workload;
    if (options.deployment) {
      const deployment = readDeployment(options.deployment);
      contract ??= deployment.mining;
      if (command.getOptionValueSource("workload") !== "cli" && deployment.workload) workloadName = deployment.workload;
    }
    if (!contract) throw new Error("no contract: pass --contract ADDRESS or --deployment FILE");
    const workload = miningWorkload(workloadName);
    if (options.shapes && options.shapes.length !== workload.length) {
      throw new Error(
        `--shapes gives ${options.shapes.length} shape(s); workload ${workloadName} has ${workload.length} layers`,
      );
    }
    const emit = (record: Record<string, unknown>, text: string) =>
      options.json
        ? process.stdout.write(
            `${JSON.stringify(record, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v))}\n`,
          )
        : log(text);
    const provider = await connect(options.rpc, options.chainId);
    const wallet = (await loadWallet(options.keystore)).connect(provider);
    const prepared = await prepareWorkload(workload, log);
    const abi = (await loadArtifact("DemleMining.sol", "DemleMining")).abi;
    const signer = new NonceManager(wallet);
    const pool = new ProverPool({ workers: options.workers, taskTimeoutMs: 600_000 });
    let jobs: JobWorker | undefined;
    const inFlight = unfinishedJobs(path.resolve(options.stateDir));
    if (!options.jobs && inFlight.length > 0) {
      throw new Error(
        `--no-jobs, but useful job(s) ${inFlight.map((id) => `#${id}`).join(", ")} in ${options.stateDir} are not ` +
          `finished; run without --no-jobs until they are (their bonds are at stake)`,
      );
    }
    if (options.jobs) {
      const market = new JobMarket(new Contract(contract, abi, provider));
      const circuits = [];
      for (const circuit of jobCircuitsFor(await market.jobKinds())) {
        circuits.push({ circuit, prover: (await prepareJobCircuit(circuit, log)).setup.prover });
      }
      jobs = new JobWorker({
        contract,
        signer,
        circuits,
        pool,
        stateDir: path.resolve(options.stateDir),
        executionProvider: options.provider,
        log: (message) => emit({ type: "log", message }, message),
      });
    }
    const minerMetrics = new MinerMetrics();
    const onMetricsEvent = minerMetrics.add(wallet.address, () => miner.stats);
    const miner = new Miner({
      contract,
      signer,
      ...(jobs ? { jobs } : {}),
      layers: workload.map((layer, i) => ({
        circuit: layer.circuit,
        shape: options.shapes?.[i] ?? layer.shape,
        prover: prepared[i]!.setup.prover,
      })),
      pool,
      stateDir: path.resolve(options.stateDir),
      executionProvider: options.provider,
      onEvent: (event) => {
        onMetricsEvent(event);
        if (event.type === "log") emit({ type: "log", message: event.message }, event.message);
      },
    });
    const status = () =>
      emit(
        { type: "status", ...miner.stats, ...(jobs ? { jobs: jobs.stats } : {}) },
        formatStatus(miner.stats, jobs?.stats),
      );
    const timer = setInterval(status, options.statusInterval * 1000);
    const abort = new AbortController();
    process.once("SIGINT", () => abort.abort());

    const metricsEndpoint =
      options.metricsPort === undefined ? undefined : await minerMetrics.serve(options.metricsPort);
    if (metricsEndpoint) log(`Prometheus metrics on ${metricsEndpoint.url}`);
    try {
      await miner.init(abi as never);
      await jobs?.init(abi as never);
      emit({ type: "start", miner: wallet.address, contract }, `mining as ${wallet.address} on ${contract}`);
      await miner.run(options.commitments, abort.signal).catch((error: unknown) => {
        if (!abort.signal.aborted) throw error;
      });
      status();
    } finally {
      clearInterval(timer);
      await metricsEndpoint?.close();
      await miner.release();
      await pool.close();
      provider.destroy();
    }
  });

program
  .command("status")
  .description("show the deployment's state, and a miner's balance and commitments")
  .requiredOption("--rpc <url>", "JSON-RPC endpoint")
  .requiredOption("--contract <address>", "DemleMining address")
  .option("--miner <address>", "a miner to report on")
  .option("--json", "JSON output")
  .action(async (flags: { rpc: string; contract: string; miner?: string; json?: boolean }, command: Command) => {
    const options = withConfig(command, flags);
    const provider = await connect(options.rpc);
    try {
      if ((await provider.getCode(options.contract)) === "0x") throw new Error(`no contract at ${options.contract}`);
      const mining = new Contract(
        options.contract,
        (await loadArtifact("DemleMining.sol", "DemleMining")).abi,
        provider,
      );
      const token = new Contract(
        (await mining.getFunction("token")()) as string,
        [
          "function totalSupply() view returns (uint256)",
          "function cap() view returns (uint256)",
          "function balanceOf(address) view returns (uint256)",
        ],
        provider,
      );
      const status: Record<string, string> = {
        chainId: (await provider.getNetwork()).chainId.toString(),
        block: String(await provider.getBlockNumber()),
        epoch: String(await mining.getFunction("currentEpoch")()),
        commitments: String(await mining.getFunction("commitmentCount")()),
        totalSupply: formatUnits((await token.getFunction("totalSupply")()) as bigint, 18),
        cap: formatUnits((await token.getFunction("cap")()) as bigint, 18),
        burnedBonds: formatEther((await mining.getFunction("burnedBonds")()) as bigint),
      };
      if (options.miner)
        status.minerBalance = formatUnits((await token.getFunction("balanceOf")(options.miner)) as bigint, 18);
      if (options.json) process.stdout.write(`${JSON.stringify(status)}\n`);
      else for (const [key, value] of Object.entries(status)) process.stdout.write(`${key.padEnd(14)} ${value}\n`);
    } finally {
      provider.destroy();
    }
  });

program
  .command("demo")
  .description("in-process chain + deployment + 2 CPU miners with real proofs for a few epochs; prints balances")
  .option("--epochs <n>", "commitments per miner (one per epoch)", integer(1), 2)
  .option("--block-time <ms>", "block interval of the demo chain", integer(50), 500)
  .option("--keep-going", "keep mining after the report")
  .action(async (flags: { epochs: number; blockTime: number; keepGoing?: boolean }, command: Command) => {
    const options = withConfig(command, flags);
    await runDemo({
      epochs: options.epochs,
      blockTimeMs: options.blockTime,
      keepGoing: options.keepGoing ?? false,
      log,
    });
  });

program
  .command("account")
  .description("create an encrypted keystore with a new random key (password: DEMLE_KEYSTORE_PASSWORD or a prompt)")
  .requiredOption("--keystore <file>", "file to create")
  .action(async (flags: { keystore: string }) => {
    const address = await createKeystore(path.resolve(flags.keystore));
    log(`created ${flags.keystore} for ${address}`);
    process.stdout.write(`${address}\n`);
  });

registerDashboardCommand(program);

registerJobCommands(program);

registerAuditCommands(program);

program.parseAsync().then(
  () => process.exit(process.exitCode ?? 0),
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    log(`demle: ${message.replace(/\s*\n\s*/g, " ").slice(0, 500)}`);
    process.exit(1);
  },
);
