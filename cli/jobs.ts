/**
 * `demle data serve` and `demle job example|post|status|result|refund`: the requester's commands for useful-work jobs
 * (docs/jobs.md). Registered on the `demle` program by `registerJobCommands(program)`.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { InvalidArgumentError, type Command } from "commander";
import { Contract, formatEther, isError, parseEther, type Provider } from "ethers";
import { exampleJob, outputsToBytes, serializeJobModel, sha256Hex } from "../common/job-files.js";
import { committedOutputsOnChain } from "../data/committed-outputs.js";
import { startDataServer } from "../data/server.js";
import { loadArtifact } from "../miner/artifacts.js";
import { JOB_CIRCUITS, jobCircuit } from "../miner/job-circuits.js";
import { jobOp } from "../miner/job-ops.js";
import { JobMarket } from "../miner/job-market.js";
import { loadWallet } from "../miner/keys.js";
import { describeRevert } from "../miner/transactions.js";
import { elementProof, jobResults, jobStatus, postJob, verifyElementProof } from "../requester/requester.js";
import { connect, integer, readDeployment, withConfig } from "./options.js";

type Log = (line: string) => void;

type ChainFlags = {
  rpc: string;
  contract?: string;
  deployment?: string;
};

function contractAddress(options: ChainFlags): string {
  const address = options.contract ?? (options.deployment ? readDeployment(options.deployment).mining : undefined);
  if (!address) throw new Error("no contract: pass --contract ADDRESS or --deployment FILE");
  return address;
}

async function miningContract(address: string, runner: Provider | import("ethers").Signer): Promise<Contract> {
  return new Contract(address, (await loadArtifact("DemleMining.sol", "DemleMining")).abi, runner);
}

/** Runs a transaction-sending step; a revert becomes one line naming the contract's custom error. */
async function explainingReverts<T>(contract: Contract, what: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    if (isError(error, "CALL_EXCEPTION")) {
      throw new Error(`${what} reverted: ${describeRevert(contract.interface, error)}`, { cause: error });
    }
    throw error;
  }
}

function jobId(value: string): bigint {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError("expected a job id (a non-negative integer)");
  return BigInt(value);
}

function ether(value: string): bigint {
  try {
    const wei = parseEther(value);
    if (wei <= 0n) throw new Error();
    return wei;
  } catch {
    throw new InvalidArgumentError('expected a positive amount of ether, e.g. "0.01"');
  }
}

function readInputFile(file: string, what: string): Uint8Array {
  if (!existsSync(file)) throw new Error(`${what} ${file} not found`);
  return new Uint8Array(readFileSync(file));
}

const withChainOptions = (command: Command) =>
  command
    .requiredOption("--rpc <url>", "JSON-RPC endpoint")
    .option("--contract <address>", "DemleMining address (or --deployment FILE)")
    .option("--deployment <file>", "deployment JSON written by `demle deploy`");

export function registerJobCommands(program: Command, log: Log = (line) => process.stderr.write(`${line}\n`)): void {
  const data = program.command("data").description("content-addressed data for useful-work jobs");
  data
    .command("serve")
    .description(
      "serve job inputs and receive outputs on 127.0.0.1 (blobs by sha256; outputs checked against on-chain roots)",
    )
    .requiredOption("--dir <dir>", "where blobs and outputs are stored")
    .option("--port <port>", "TCP port on 127.0.0.1 (0: any free port)", integer(0, 65_535), 8600)
    .option("--max-bytes <n>", "largest body accepted", integer(1), 64 * 1024 * 1024)
    .option("--rpc <url>", "JSON-RPC endpoint: needed to accept outputs (checked against committed roots)")
    .option("--contract <address>", "DemleMining address (or --deployment FILE)")
    .option("--deployment <file>", "deployment JSON written by `demle deploy`")
    .action(
      async (
        flags: { dir: string; port: number; maxBytes: number; rpc?: string; contract?: string; deployment?: string },
        command: Command,
      ) => {
        const options = withConfig(command, flags);
        const provider = options.rpc ? await connect(options.rpc) : undefined;
        const committedOutputs = provider
          ? committedOutputsOnChain(
              new JobMarket(await miningContract(contractAddress({ ...options, rpc: options.rpc! }), provider)),
            )
          : undefined;
        if (!provider)
          log("no --rpc: outputs cannot be checked against committed roots, so output uploads are refused");
        const server = await startDataServer({
          dir: path.resolve(options.dir),
          port: options.port,
          maxBytes: options.maxBytes,
          ...(committedOutputs ? { committedOutputs } : {}),
          log,
        });
        log(`data server on ${server.url} (files in ${path.resolve(options.dir)}); Ctrl-C stops it`);
        process.stdout.write(`${server.url}\n`);
        await new Promise<void>((resolve) => {
          process.once("SIGINT", resolve);
          process.once("SIGTERM", resolve);
        });
        await server.close();
        provider?.destroy();
      },
    );

  const job = program.command("job").description("post useful-work jobs and collect their verified results");

  job
    .command("example")
    .description(
      "write an example CNN layer job: model.json and input.bin (conv2d kinds: k×k conv of NCHW images; linear " +
        "kinds: a 1×1 conv of an NHWC image; batchnorm kinds: batch norm of an NHWC image)",
    )
    .requiredOption("--out-dir <dir>", "directory to write model.json and input.bin into")
    .option("--job-kind <name>", `job circuit (${Object.keys(JOB_CIRCUITS).join(", ")})`, "conv-job-demo")
    .option("--images <n>", "images (conv2d kinds; their size is the circuit's)", integer(1, 1 << 16), 1)
    .option("--height <n>", "image height (linear and batchnorm kinds)", integer(1, 4096), 8)
    .option("--width <n>", "image width (linear and batchnorm kinds)", integer(1, 4096), 8)
    .option("--out-channels <n>", "output channels (batchnorm: the channels)", integer(1, 1 << 16), 8)
    .option("--seed <n>", "PRNG seed of the example data", integer(0, 2 ** 32 - 1), 1)
    .action(
      (
        flags: {
          outDir: string;
          jobKind: string;
          images: number;
          height: number;
          width: number;
          outChannels: number;
          seed: number;
        },
        command: Command,
      ) => {
        const options = withConfig(command, flags);
        const circuit = jobCircuit(options.jobKind);
        const image = { height: options.height, width: options.width, images: 1, kernelSize: 1 };
        const { model, input } =
          circuit.op === "conv2d"
            ? exampleJob({
                jobKind: options.jobKind,
                op: "conv2d",
                images: options.images,
                height: circuit.tiling.inHeight,
                width: circuit.tiling.inWidth,
                inChannels: circuit.tiling.inChannels,
                outChannels: options.outChannels,
                kernelSize: circuit.tiling.kernelHeight,
                seed: options.seed,
              })
            : circuit.op === "linear"
              ? exampleJob({
                  ...image,
                  jobKind: options.jobKind,
                  op: "linear",
                  inChannels: circuit.tiling.depth,
                  outChannels: options.outChannels,
                  seed: options.seed,
                })
              : exampleJob({
                  ...image,
                  // Rows must be TM·2^dr: by default a TM-high, 8-wide image.
                  ...(command.getOptionValueSource("height") === "cli" ? {} : { height: circuit.tiling.tileRows }),
                  jobKind: options.jobKind,
                  op: "batchnorm",
                  inChannels: options.outChannels,
                  outChannels: options.outChannels,
                  seed: options.seed,
                });
        const op = jobOp(circuit);
        const layout = op.layout(op.shapeFor(model, input.length));
        mkdirSync(options.outDir, { recursive: true });
        const modelFile = path.join(options.outDir, "model.json");
        const inputFile = path.join(options.outDir, "input.bin");
        const modelBytes = serializeJobModel(model);
        writeFileSync(modelFile, modelBytes);
        writeFileSync(inputFile, input);
        log(
          `wrote ${modelFile} (${model.op}, sha256 ${sha256Hex(modelBytes).slice(0, 16)}…) and ${inputFile} ` +
            `(${input.length} bytes): ${layout.description}, ${layout.outputWords} outputs`,
        );
      },
    );

  withChainOptions(job.command("post"))
    .description("publish a model and an input on a data server and post the job with an escrowed fee")
    .requiredOption("--data <url>", "data server origin, e.g. http://127.0.0.1:8600 (`demle data serve`)")
    .requiredOption("--model <file>", "model file (demle-job-model/1 JSON)")
    .requiredOption("--input <file>", "input file: M×K E4M3FN codes, row-major")
    .requiredOption("--fee <eth>", "fee escrowed for the job, split between the redundancy slots", ether)
    .option("--redundancy <r>", "independent miners that compute the job", integer(1, 8), 1)
    .option("--deadline-blocks <n>", "blocks from now until the job closes", integer(1), 600)
    .option("--keystore <file>", "encrypted JSON keystore (password: DEMLE_KEYSTORE_PASSWORD); or DEMLE_PRIVATE_KEY")
    .action(async (flags: Record<string, unknown>, command: Command) => {
      const options = withConfig(command, flags) as unknown as ChainFlags & {
        data: string;
        model: string;
        input: string;
        fee: bigint;
        redundancy: number;
        deadlineBlocks: number;
        keystore?: string;
      };
      if (options.fee % BigInt(options.redundancy) !== 0n) {
        throw new Error(`--fee ${formatEther(options.fee)} is not divisible into ${options.redundancy} equal shares`);
      }
      const modelBytes = readInputFile(options.model, "model");
      const input = readInputFile(options.input, "input");
      const provider = await connect(options.rpc);
      try {
        const wallet = (await loadWallet(options.keystore)).connect(provider);
        const contract = await miningContract(contractAddress(options), wallet);
        const posted = await explainingReverts(contract, "postJob", () =>
          postJob({
            signer: wallet,
            contract,
            dataOrigin: options.data,
            modelBytes,
            input,
            redundancy: options.redundancy,
            deadlineBlocks: options.deadlineBlocks,
            fee: options.fee,
            log,
          }),
        );
        log(
          `posted job #${posted.jobId} (kind ${posted.kind}, ${posted.shape.rowBlocksLog2},${posted.shape.colBlocksLog2} ` +
            `blocks log2, redundancy ${options.redundancy}, fee ${formatEther(options.fee)} ETH, deadline block ` +
            `${posted.deadline}) in ${posted.transaction}`,
        );
        process.stdout.write(`${posted.jobId}\n`);
      } finally {
        provider.destroy();
      }
    });

  withChainOptions(job.command("status"))
    .description("a job's state: slots, miners, proofs, delivered outputs, fee")
    .argument("<job-id>", "job id", jobId)
    .option("--json", "JSON output")
    .action(async (id: bigint, flags: ChainFlags & { json?: boolean }, command: Command) => {
      const options = withConfig(command, flags);
      const provider = await connect(options.rpc);
      try {
        const status = await jobStatus(await miningContract(contractAddress(options), provider), id);
        const { job: posted, assignments } = status;
        const state = posted.refunded
          ? "refunded"
          : status.block > posted.deadline
            ? "expired"
            : posted.provenSlots === posted.redundancy
              ? "done"
              : "open";
        if (options.json) {
          process.stdout.write(
            `${JSON.stringify({ state, ...status }, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v))}\n`,
          );
          return;
        }
        const lines = [
          `job #${id}: ${state} (block ${status.block}, deadline ${posted.deadline})`,
          `requester ${posted.requester}, fee ${formatEther(posted.fee)} ETH for ${posted.redundancy} slot(s)`,
          `kind ${posted.kind}: ${status.kind.tiling.tileRows << posted.shape.rowBlocksLog2}×` +
            `${status.kind.tiling.tileCols << posted.shape.colBlocksLog2} outputs, K = ${status.kind.tiling.depth}`,
          `input ${posted.inputUri}`,
          `slots: ${posted.committedSlots} committed, ${posted.provenSlots} proven`,
          ...assignments.map(
            (a) =>
              `  #${a.id} ${a.miner} ${a.status.padEnd(9)} root ${a.outputRoot.toString(16).slice(0, 16)}… ` +
              `outputs ${a.delivered ? "delivered" : "not delivered"}`,
          ),
        ];
        process.stdout.write(`${lines.join("\n")}\n`);
      } finally {
        provider.destroy();
      }
    });

  withChainOptions(job.command("result"))
    .description(
      "download every miner's outputs, check them against the committed roots (and, with --verify, every element " +
        "against the numerics contract); exits 1 if any miner is flagged",
    )
    .argument("<job-id>", "job id", jobId)
    .option("--out <dir>", "write each miner's outputs to <dir>/job-<id>-<miner>.bin (float32 LE, row-major)")
    .option("--verify", "recompute the exact reference from the model and input and check every output")
    .option(
      "--element <index>",
      "print output element <index> (of the output file: linear row·N + col, conv2d NCHW) with its tile's Merkle " +
        "proof, checked against the root",
      integer(0),
    )
    .option("--json", "JSON output")
    .action(
      async (
        id: bigint,
        flags: ChainFlags & { out?: string; verify?: boolean; element?: number; json?: boolean },
        command: Command,
      ) => {
        const options = withConfig(command, flags);
        const provider = await connect(options.rpc);
        try {
          const contract = await miningContract(contractAddress(options), provider);
          const { job: posted, layout, results } = await jobResults(contract, id, { verify: options.verify ?? false });
          const lines: string[] = [];
          const report = [];
          for (const result of results) {
            let file: string | undefined;
            if (result.outputs && options.out) {
              mkdirSync(options.out, { recursive: true });
              file = path.join(options.out, `job-${id}-${result.miner.toLowerCase()}.bin`);
              writeFileSync(file, outputsToBytes(result.outputs));
            }
            let proven: Awaited<ReturnType<typeof elementProof>> | undefined;
            let proofOk: boolean | undefined;
            if (result.outputs && options.element !== undefined) {
              proven = await elementProof(layout, result.outputs, options.element);
              proofOk = await verifyElementProof(layout, proven, result.outputRoot);
            }
            report.push({ ...result, outputs: undefined, file, element: proven && { ...proven, ok: proofOk } });
            lines.push(
              `${result.miner} ${result.status.padEnd(9)} ` +
                (result.problem ?? `outputs match the committed root${file ? ` → ${file}` : ""}`) +
                (result.contract
                  ? `; contract: ${result.contract.violations} violation(s) in ${layout.outputWords} outputs, worst ` +
                    `error/bound ${result.contract.worstErrorToBound.toExponential(2)} (≤ 1 passes)`
                  : "") +
                (proven
                  ? `; element ${proven.index} = ${proven.value} (0x${proven.bits.toString(16).padStart(8, "0")}), ` +
                    `Merkle proof of tile ${proven.tile}: ${proofOk ? "valid" : "INVALID"}`
                  : "") +
                (result.flags.length > 0 ? ` — FLAGGED: ${result.flags.join("; ")}` : ""),
            );
          }
          if (options.json) {
            process.stdout.write(
              `${JSON.stringify(
                { job: posted, layout: { ...layout, circuit: layout.circuit.name }, results: report },
                (_, v: unknown) =>
                  typeof v === "bigint" ? v.toString() : v instanceof Uint32Array ? Array.from(v) : v,
              )}\n`,
            );
          } else {
            process.stdout.write(
              `job #${id}: ${layout.description}, ${layout.outputWords} outputs, ${results.length} miner(s)\n${lines.join("\n")}\n`,
            );
          }
          if (results.length === 0) throw new Error(`job #${id} has no committed miners yet`);
          if (results.some((r) => r.flags.length > 0)) process.exitCode = 1;
        } finally {
          provider.destroy();
        }
      },
    );

  withChainOptions(job.command("refund"))
    .description("after the deadline, return the fee shares of slots that were not proven to the requester")
    .argument("<job-id>", "job id", jobId)
    .option("--keystore <file>", "encrypted JSON keystore (password: DEMLE_KEYSTORE_PASSWORD); or DEMLE_PRIVATE_KEY")
    .action(async (id: bigint, flags: ChainFlags & { keystore?: string }, command: Command) => {
      const options = withConfig(command, flags);
      const provider = await connect(options.rpc);
      try {
        const wallet = (await loadWallet(options.keystore)).connect(provider);
        const contract = await miningContract(contractAddress(options), wallet);
        const tx = await explainingReverts(contract, "refundJob", async () => {
          const sent = (await contract.getFunction("refundJob")(id)) as { hash: string; wait(): Promise<unknown> };
          await sent.wait();
          return sent;
        });
        const posted = await new JobMarket(contract).job(id);
        log(`job #${id} refunded to ${posted.requester} in ${tx.hash}`);
      } finally {
        provider.destroy();
      }
    });
}
