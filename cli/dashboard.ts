/**
 * `demle dashboard`: the live web dashboard of a deployment (dashboard/server.ts) on 127.0.0.1. Registered on the
 * `demle` program by `registerDashboardCommand(program)`.
 */
import path from "node:path";
import type { Command } from "commander";
import { startDashboard } from "../dashboard/server.js";
import { integer, readDeployment, withConfig } from "./options.js";

type DashboardFlags = {
  rpc: string;
  contract?: string;
  deployment?: string;
  port: number;
  fromBlock?: number;
  stateFile?: string;
  poll: number;
  reorgDepth: number;
};

export function registerDashboardCommand(
  program: Command,
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): void {
  program
    .command("dashboard")
    .description(
      "live web dashboard of a deployment on 127.0.0.1: supply, balances, epochs, proofs, events; Prometheus /metrics",
    )
    .requiredOption("--rpc <url>", "JSON-RPC endpoint")
    .option("--contract <address>", "DemleMining address (or --deployment FILE)")
    .option("--deployment <file>", "deployment JSON written by `demle deploy` (gives the address and start block)")
    .option("--port <port>", "TCP port on 127.0.0.1 (0: any free port)", integer(0, 65_535), 8090)
    .option("--from-block <n>", "first block to scan (default: the deployment's block, else 0)", integer(0))
    .option(
      "--state-file <file>",
      "JSON file keeping the indexer's cursor and state (default .demle-dashboard/<contract>.json)",
    )
    .option("--poll <ms>", "milliseconds between polls of the chain", integer(100), 1000)
    .option("--reorg-depth <blocks>", "blocks scanned again on every poll, to follow reorgs", integer(1, 10_000), 12)
    .action(async (flags: DashboardFlags, command: Command) => {
      const options = withConfig(command, flags);
      let contract = options.contract;
      let fromBlock = options.fromBlock;
      if (options.deployment) {
        const deployment = readDeployment(options.deployment);
        contract ??= deployment.mining;
        fromBlock ??= deployment.deployBlock;
      }
      if (!contract) throw new Error("no contract: pass --contract ADDRESS or --deployment FILE");
      const stateFile = path.resolve(
        options.stateFile ?? path.join(".demle-dashboard", `${contract.toLowerCase()}.json`),
      );
      const dashboard = await startDashboard({
        rpc: options.rpc,
        contract,
        port: options.port,
        stateFile,
        pollMs: options.poll,
        reorgDepth: options.reorgDepth,
        ...(fromBlock !== undefined ? { fromBlock } : {}),
        log,
      });
      log(
        `dashboard on ${dashboard.url} (Prometheus: ${dashboard.url}metrics; state in ${stateFile}); Ctrl-C stops it`,
      );
      process.stdout.write(`${dashboard.url}\n`);
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      await dashboard.close();
    });
}
