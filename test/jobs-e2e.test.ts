// Useful-work jobs end to end on an in-process chain: a requester publishes a small CNN layer (a 3×3 convolution of two
// 4-channel 8×8 images to 8 channels) on a data server and posts it with redundancy 3; two honest miners and one whose
// ONNX Runtime outputs are wrong take the slots, deliver their outputs and prove with the real conv2d job circuit. The
// requester's downloads are checked against the committed roots, against its own ONNX Runtime run of the layer in
// float32, and against the exact reference; the wrong miner is flagged and slashed and its fee share refunded. Linear
// jobs (a 1×1 conv) go through the same path: a miner restarted after committing one, and one whose input does not
// match its on-chain root.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import hre from "hardhat";
import { Contract, NonceManager, type Signer } from "ethers";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { batchNormJobInputs, inputTree } from "../common/job-commitment.js";
import { checkBatchNorm } from "../common/ops/batchnorm.js";
import { exampleJob, serializeJobModel } from "../common/job-files.js";
import { encodeShape } from "../common/work.js";
import { float32Bits, float32FromBits } from "../common/numerics.js";
import { defineConvWork, exactConv } from "../common/ops/conv.js";
import { decodeE4m3fnMatrix } from "../miner/gemm.js";
import { attr, buildModel, DataType } from "../miner/onnx/graph.js";
import { committedOutputsOnChain } from "../data/committed-outputs.js";
import { putOutputs } from "../data/client.js";
import { startDataServer, type DataServer } from "../data/server.js";
import { loadArtifact } from "../miner/artifacts.js";
import { MINING_WORKLOADS, prepareWorkload, type PreparedCircuit } from "../miner/circuits.js";
import { deployDemle, miningParams, type Deployment, type MiningParams } from "../miner/deploy.js";
import { setIntervalMining } from "../miner/hardhat.js";
import { JOB_CIRCUITS, prepareJobCircuit } from "../miner/job-circuits.js";
import { JobMarket } from "../miner/job-market.js";
import { jobOp } from "../miner/job-ops.js";
import { JobWorker } from "../miner/job-worker.js";
import { Miner } from "../miner/miner.js";
import { ProverPool } from "../prover/pool.js";
import { elementProof, jobResults, postJob, verifyElementProof } from "../requester/requester.js";

type Connection = Awaited<ReturnType<typeof hre.network.create>>;

const WORKLOAD = MINING_WORKLOADS["gemm-demo"];
const LINEAR = JOB_CIRCUITS["gemm-job-demo"];
const CONV = JOB_CIRCUITS["conv-job-demo"];
const BATCHNORM = JOB_CIRCUITS["batchnorm-job-demo"];
const IMAGES = { images: 2, height: CONV.tiling.inHeight, width: CONV.tiling.inWidth, outChannels: 8 };
const FEE = 3n * 10n ** 16n;

describe("useful-work jobs: a requester, a data server and three miners on an in-process chain", () => {
  let prepared: PreparedCircuit[];
  let preparedJobs: Awaited<ReturnType<typeof prepareJobCircuit>>[];
  let connection: Connection;
  let deployment: Deployment;
  let params: MiningParams;
  let pool: ProverPool;
  let signers: Signer[];
  let abi: never;
  let mining: Contract;
  let dataServer: DataServer;
  const root = mkdtempSync(path.join(os.tmpdir(), "demle-jobs-"));

  beforeAll(async () => {
    prepared = await prepareWorkload(WORKLOAD, () => {});
    preparedJobs = [];
    for (const circuit of [LINEAR, CONV, BATCHNORM]) preparedJobs.push(await prepareJobCircuit(circuit, () => {}));
    await hre.tasks.getTask("build").run({ quiet: true });
    connection = await hre.network.create();
    await setIntervalMining(connection.provider, 200);
    signers = (await connection.ethers.getSigners()) as unknown as Signer[];
    params = miningParams({ proofsPerCommitment: 1, epochLength: 100, challengeDelay: 2, proofWindow: 200 });
    deployment = await deployDemle(signers[0]!, "gemm-demo", prepared, params, preparedJobs);
    abi = (await loadArtifact("DemleMining.sol", "DemleMining")).abi as never;
    mining = new Contract(deployment.mining, abi, connection.ethers.provider);
    dataServer = await startDataServer({
      dir: path.join(root, "data"),
      port: 0,
      committedOutputs: committedOutputsOnChain(new JobMarket(mining)),
    });
    pool = new ProverPool({ workers: 2, taskTimeoutMs: 300_000 });
  }, 900_000);

  afterAll(async () => {
    await pool?.close();
    await dataServer?.close();
    await connection?.close();
    rmSync(root, { recursive: true, force: true });
  });

  function worker(index: number, computeOutputs?: (honest: () => Promise<Uint32Array>) => Promise<Uint32Array>) {
    return new JobWorker({
      contract: deployment.mining,
      signer: new NonceManager(signers[index]!),
      circuits: preparedJobs.map(({ circuit, setup }) => ({ circuit, prover: setup.prover })),
      pool,
      stateDir: path.join(root, `miner${index}`),
      pollMs: 100,
      ...(computeOutputs ? { computeOutputs: (_id: bigint, honest) => computeOutputs(honest) } : {}),
    });
  }

  const cnn = exampleJob({
    jobKind: "conv-job-demo",
    op: "conv2d",
    inChannels: CONV.tiling.inChannels,
    kernelSize: CONV.tiling.kernelHeight,
    seed: 7,
    ...IMAGES,
  });
  const linear = exampleJob({
    jobKind: "gemm-job-demo",
    op: "linear",
    images: 1,
    height: 8,
    width: 8,
    inChannels: LINEAR.tiling.depth,
    outChannels: 8,
    kernelSize: 1,
    seed: 8,
  });

  /** The example linear job, one slot, posted by the requester (account 9). */
  function postLinearJob() {
    const requester = signers[9]!;
    return postJob({
      signer: requester,
      contract: new Contract(deployment.mining, abi, new NonceManager(requester)),
      dataOrigin: dataServer.url,
      modelBytes: serializeJobModel(linear.model),
      input: linear.input,
      redundancy: 1,
      deadlineBlocks: 400,
      fee: FEE,
    });
  }

  it("a posted CNN job (3×3 conv) is computed by three miners; honest results match a local ORT run; the bad miner is flagged, slashed and refunded", async () => {
    const requester = signers[9]!;
    const requesterContract = new Contract(deployment.mining, abi, new NonceManager(requester));
    const posted = await postJob({
      signer: requester,
      contract: requesterContract,
      dataOrigin: dataServer.url,
      modelBytes: serializeJobModel(cnn.model),
      input: cnn.input,
      redundancy: 3,
      deadlineBlocks: 400,
      fee: FEE,
    });
    // Two images of 8 output rows: 16 row blocks; 8 channels in blocks of TN = 2: 4 column blocks.
    expect(posted.shape).toEqual({ rowBlocksLog2: 4, colBlocksLog2: 2 });

    const honest = [worker(1), worker(2)];
    // Scales every output by 1.01: far outside the contract, so any challenged tile fails.
    const wrong = worker(3, async (compute) =>
      Uint32Array.from(await compute(), (bits) => float32Bits(Math.fround(float32FromBits(bits) * 1.01))),
    );
    for (const w of [...honest, wrong]) await w.init(abi);
    const worked = await Promise.all([...honest, wrong].map((w) => w.workOnce()));
    expect(worked).toEqual([true, true, true]);
    for (const w of honest) expect(w.records().map((r) => r.stage)).toEqual(["settled"]);
    expect(wrong.records()[0]!.stage, wrong.records()[0]!.note).toBe("lost");

    const market = new JobMarket(mining);
    const job = await market.job(posted.jobId);
    expect([job.committedSlots, job.provenSlots]).toEqual([3, 2]);

    // The requester's results: every delivered output matches its committed root; --verify checks every element.
    const { results } = await jobResults(mining, posted.jobId, { verify: true });
    const honestAddresses = await Promise.all([1, 2].map((i) => signers[i]!.getAddress()));
    const byMiner = new Map(results.map((r) => [r.miner, r]));
    for (const address of honestAddresses) {
      const result = byMiner.get(address)!;
      expect(result.status).toBe("proven");
      expect(result.flags).toEqual([]);
      expect(result.contract!.violations).toBe(0);
    }
    const bad = byMiner.get(await signers[3]!.getAddress())!;
    expect(bad.flags.some((flag) => flag.includes("outside the numerics contract"))).toBe(true);
    expect(bad.flags.some((flag) => flag.includes("disagree"))).toBe(true);

    // The requester's own ONNX Runtime run of the layer in float32 (the FP8 values decoded, no FP8 graph): both honest
    // miners' outputs are within the numerics contract's distance of it (each is within 2^-9·T of the exact S, so the
    // two are within 2·2^-9·T), and it is within 2^-9·T of S itself.
    const { height, width, outChannels } = IMAGES;
    const cin = CONV.tiling.inChannels;
    const local = await runConvLocally(cnn.input, cnn.model.weights, IMAGES.images, cin, outChannels, height, width, 3);
    const layout = jobOp(CONV).layout(posted.shape);
    const { dot, absDot } = exactConv(
      { x: cnn.input, weights: cnn.model.weights },
      defineConvWork(CONV.tiling, posted.shape),
    );
    for (const address of honestAddresses) {
      const outputs = byMiner.get(address)!.outputs!;
      expect(outputs).toHaveLength(layout.outputWords);
      for (let i = 0; i < layout.outputWords; i++) {
        const unit = 2 ** -18;
        const exact = Number(dot[i]!) * unit;
        const allowed = (2 * Number(absDot[i]!) * unit) / 512;
        expect(Math.abs(float32FromBits(outputs[i]!) - local[i]!)).toBeLessThanOrEqual(allowed);
        expect(Math.abs(local[i]! - exact)).toBeLessThanOrEqual(allowed / 2);
      }
      // Any single element checks against the committed root with just its tile's Merkle proof.
      const root = byMiner.get(address)!.outputRoot;
      const proof = await elementProof(layout, outputs, 777);
      expect(await verifyElementProof(layout, proof, root)).toBe(true);
      expect(await verifyElementProof(layout, { ...proof, bits: proof.bits ^ 1 }, root)).toBe(false);
      expect(await verifyElementProof(layout, { ...proof, index: 778 }, root)).toBe(false);
    }

    // An upload that does not match the committed root is refused, and the stored outputs are unchanged.
    const tampered = Uint32Array.from(byMiner.get(honestAddresses[0]!)!.outputs!);
    tampered[100] = tampered[100]! ^ 1;
    const bytes = new Uint8Array(tampered.buffer);
    await expect(putOutputs(dataServer.url, posted.jobId, honestAddresses[0]!, bytes)).rejects.toThrow(/409|root/);
    const again = await jobResults(mining, posted.jobId, { verify: false });
    expect(again.results.find((r) => r.miner === honestAddresses[0])!.outputs).toEqual(
      byMiner.get(honestAddresses[0]!)!.outputs,
    );

    // Fees: each proven slot was paid a third of the fee; after the deadline the bad slot's share goes back.
    const feePaid = await mining.queryFilter(mining.filters.JobFeePaid!(posted.jobId));
    expect(feePaid.map((e) => (e as unknown as { args: unknown[] }).args[2])).toEqual([FEE / 3n, FEE / 3n]);
    await hardhatMineTo(connection, job.deadline + 1);
    const badAssignment = (await market.assignmentOf(posted.jobId, await signers[3]!.getAddress()))!;
    expect(badAssignment.status).toBe("committed");
    await (await mining.connect(signers[8]!).getFunction("slashJob")(badAssignment.id)).wait();
    expect((await market.assignment(badAssignment.id)).status).toBe("slashed");
    const before = await connection.ethers.provider.getBalance(await requester.getAddress());
    const refund = (await (await mining.connect(signers[8]!).getFunction("refundJob")(posted.jobId)).wait()) as {
      status: number;
    };
    expect(refund.status).toBe(1);
    expect((await connection.ethers.provider.getBalance(await requester.getAddress())) - before).toBe(FEE / 3n);
  }, 600_000);

  it("a miner killed after committing a job resumes it after a restart: no second commitment, proven once", async () => {
    const posted = await postLinearJob();
    const abort = new AbortController();
    const first = new JobWorker({
      contract: deployment.mining,
      signer: new NonceManager(signers[5]!),
      circuits: preparedJobs.map(({ circuit, setup }) => ({ circuit, prover: setup.prover })),
      pool,
      stateDir: path.join(root, "miner5"),
      pollMs: 100,
      log: (message) => {
        if (message.includes("committed as assignment")) abort.abort();
      },
    });
    await first.init(abi);
    await expect(first.workOnce(abort.signal)).rejects.toThrow();
    expect(first.records().map((r) => r.stage)).toEqual(["committed"]);

    const computations: bigint[] = [];
    const restarted = worker(5, (honest) => {
      computations.push(posted.jobId);
      return honest();
    });
    await restarted.init(abi);
    expect(await restarted.workOnce()).toBe(true);
    expect(restarted.records().map((r) => [r.jobId, r.stage])).toEqual([[String(posted.jobId), "settled"]]);
    expect(computations).toEqual([]);
    const commits = await mining.queryFilter(mining.filters.JobCommitted!(null, posted.jobId));
    expect(commits).toHaveLength(1);
    expect((await new JobMarket(mining).job(posted.jobId)).provenSlots).toBe(1);
  }, 300_000);

  it("outputs that could not be delivered (the data server was down) are delivered once it is back", async () => {
    const dir = path.join(root, "data-outage");
    let server = await startDataServer({
      dir,
      port: 0,
      committedOutputs: committedOutputsOnChain(new JobMarket(mining)),
    });
    const port = server.port;
    const requester = signers[9]!;
    const posted = await postJob({
      signer: requester,
      contract: new Contract(deployment.mining, abi, new NonceManager(requester)),
      dataOrigin: server.url,
      modelBytes: serializeJobModel(linear.model),
      input: linear.input,
      redundancy: 1,
      deadlineBlocks: 400,
      fee: FEE,
    });
    const logs: string[] = [];
    const w = new JobWorker({
      contract: deployment.mining,
      signer: new NonceManager(signers[7]!),
      circuits: preparedJobs.map(({ circuit, setup }) => ({ circuit, prover: setup.prover })),
      pool,
      stateDir: path.join(root, "miner7"),
      pollMs: 100,
      log: (message) => {
        logs.push(message);
        // The inputs are fetched; the server goes down before the outputs can be delivered.
        if (message.includes("computed")) void server.close();
      },
    });
    await w.init(abi);
    expect(await w.workOnce()).toBe(true);
    const [record] = w.records();
    expect(record!.stage).toBe("settled");
    expect(record!.delivered).toBeUndefined();
    expect(logs.some((line) => line.includes("could not deliver the outputs yet"))).toBe(true);

    server = await startDataServer({ dir, port, committedOutputs: committedOutputsOnChain(new JobMarket(mining)) });
    try {
      expect(await w.workOnce()).toBe(false);
      expect(w.records()[0]!.delivered).toBe(true);
      const { results } = await jobResults(mining, posted.jobId, { verify: true });
      expect(results.map((r) => [r.status, r.flags, r.contract?.violations])).toEqual([["proven", [], 0]]);
    } finally {
      await server.close();
    }
  }, 300_000);

  it("a job whose served input does not match its on-chain root is skipped before any bond is paid", async () => {
    const requester = signers[9]!;
    const honestPost = await postLinearJob();
    const market = new JobMarket(mining);
    const served = await market.job(honestPost.jobId);
    // The same files, posted with an input root that commits to other data.
    const other = Uint8Array.from(linear.input, (code, i) => (i === 0 ? (code === 0 ? 1 : 0) : code));
    const wrongRoot = (await inputTree(other, LINEAR.tiling, served.shape)).root;
    const tx = await mining.connect(new NonceManager(requester)).getFunction("postJob")(
      served.kind,
      `0x${served.modelHash}`,
      served.weightRoot,
      wrongRoot,
      served.inputUri,
      encodeShape(served.shape),
      1,
      (await connection.ethers.provider.getBlockNumber()) + 400,
      { value: FEE },
    );
    await tx.wait();
    const badJob = (await market.jobCount()) - 1n;
    const w = worker(6);
    await w.init(abi);
    // The honest job is taken; the bad one is recorded as skipped with the reason, and nothing is committed to it.
    expect(await w.workOnce()).toBe(true);
    expect(await w.workOnce()).toBe(false);
    const records = new Map(w.records().map((r) => [r.jobId, r]));
    expect(records.get(String(honestPost.jobId))!.stage).toBe("settled");
    expect(records.get(String(badJob))!.stage).toBe("skipped");
    expect(records.get(String(badJob))!.note).toMatch(/input's root is not the job's inputRoot/);
    expect(await market.assignments(badJob)).toEqual([]);
  }, 300_000);

  it("a batch-norm job (the layer after a conv) is proven and its outputs pass the exact BN contract", async () => {
    const requester = signers[9]!;
    const bn = exampleJob({
      jobKind: "batchnorm-job-demo",
      op: "batchnorm",
      images: 1,
      height: BATCHNORM.tiling.tileRows,
      width: 8,
      inChannels: 8,
      outChannels: 8,
      kernelSize: 1,
      seed: 9,
    });
    const posted = await postJob({
      signer: requester,
      contract: new Contract(deployment.mining, abi, new NonceManager(requester)),
      dataOrigin: dataServer.url,
      modelBytes: serializeJobModel(bn.model),
      input: bn.input,
      redundancy: 1,
      deadlineBlocks: 400,
      fee: FEE,
    });
    const w = worker(10);
    await w.init(abi);
    expect(await w.workOnce()).toBe(true);
    // (The open job whose input does not match its root, from the test above, is skipped on the way.)
    expect(w.records().find((r) => r.jobId === String(posted.jobId))?.stage).toBe("settled");
    const { results, layout } = await jobResults(mining, posted.jobId, { verify: true });
    expect(layout.outputWords).toBe(BATCHNORM.tiling.tileRows * 8 * 8);
    expect(results.map((r) => [r.status, r.flags, r.contract?.violations])).toEqual([["proven", [], 0]]);
    // The outputs are the BN reference's within its tolerance: checked independently of the job code.
    const inputs = batchNormJobInputs(bn.input, bn.model.weights, BATCHNORM.tiling, posted.shape);
    expect(checkBatchNorm(inputs, results[0]!.outputs!).failures).toEqual([]);
  }, 300_000);

  it("a miner with a job worker falls back to seed work when no job is open", async () => {
    const jobs = worker(4);
    await jobs.init(abi);
    const miner = new Miner({
      contract: deployment.mining,
      signer: new NonceManager(signers[4]!),
      layers: WORKLOAD.map((layer, i) => ({ ...layer, prover: prepared[i]!.setup.prover })),
      pool,
      stateDir: path.join(root, "miner4-seed"),
      pollMs: 100,
      jobs,
    });
    await miner.init(abi);
    await miner.run(1);
    expect(miner.jobs().map((j) => j.stage)).toEqual(["settled"]);
    // The only open job is the one whose input does not match its root: skipped, and seed work done instead.
    expect(jobs.records().map((r) => r.stage)).toEqual(["skipped"]);
    await miner.release();
  }, 300_000);
});

async function hardhatMineTo(connection: Connection, block: number): Promise<void> {
  const now = await connection.ethers.provider.getBlockNumber();
  if (block > now)
    await connection.provider.request({ method: "hardhat_mine", params: [`0x${(block - now).toString(16)}`] });
}

/** The layer on ONNX Runtime's Conv in float32 (FP8 values decoded; NCHW, "same" padding), independent of the miner. */
async function runConvLocally(
  input: Uint8Array,
  weights: Uint8Array,
  images: number,
  inChannels: number,
  outChannels: number,
  height: number,
  width: number,
  kernel: number,
): Promise<Float32Array> {
  const x = decodeE4m3fnMatrix(input, "input", width);
  const w = decodeE4m3fnMatrix(weights, "weights", kernel);
  const pad = (kernel - 1) / 2;
  const model = buildModel({
    inputs: [
      { name: "X", type: DataType.FLOAT, shape: [images, inChannels, height, width] },
      { name: "W", type: DataType.FLOAT, shape: [outChannels, inChannels, kernel, kernel] },
    ],
    outputs: [{ name: "Y", type: DataType.FLOAT, shape: [images, outChannels, height, width] }],
    nodes: [
      {
        opType: "Conv",
        inputs: ["X", "W"],
        outputs: ["Y"],
        attributes: { kernel_shape: attr.ints([kernel, kernel]), pads: attr.ints([pad, pad, pad, pad]) },
      },
    ],
  });
  const session = await ort.InferenceSession.create(model);
  try {
    const { Y } = await session.run({
      X: new ort.Tensor("float32", x, [images, inChannels, height, width]),
      W: new ort.Tensor("float32", w, [outChannels, inChannels, kernel, kernel]),
    });
    return Y!.data as Float32Array;
  } finally {
    await session.release();
  }
}
