/**
 * The requester's side of useful-work jobs (docs/jobs.md): post a job (publish the model and input on a data server,
 * escrow the fee), follow it, and fetch and verify its results — every miner's outputs against the root it committed
 * and, with `verify`, every element against the numerics contract computed exactly from the model and the input.
 */
import { Contract, type Signer } from "ethers";
import {
  assertFiniteCodes,
  MAX_MODEL_BYTES,
  outputsFromBytes,
  parseJobModel,
  type JobModel,
} from "../common/job-files.js";
import { float32FromBits } from "../common/numerics.js";
import { encodeShape, poseidonHash, tileIndex, tileLeaf, type WorkShape } from "../common/work.js";
import { blobUrl, fetchBlob, fetchOutputs, listOutputs, originOf, putBlob } from "../data/client.js";
import { circuitOfKind, jobCircuit, type JobCircuit } from "../miner/job-circuits.js";
import { JobMarket, type OnChainAssignment, type OnChainJob, type OnChainJobKind } from "../miner/job-market.js";
import { jobOp, type ContractCheck, type JobLayout } from "../miner/job-ops.js";

/** The on-chain job kind of the model's job circuit, and that circuit. */
export async function kindForModel(
  market: JobMarket,
  model: JobModel,
): Promise<{ kind: OnChainJobKind; circuit: JobCircuit }> {
  const circuit = jobCircuit(model.jobKind);
  const kinds = await market.jobKinds();
  const kind = kinds.find((k) => circuitOfKind(k)?.name === circuit.name);
  if (!kind) {
    throw new Error(
      `the deployment has no job kind for circuit ${circuit.name} (model jobKind "${model.jobKind}"); it has ` +
        `${kinds.length} job kind(s)`,
    );
  }
  return { kind, circuit };
}

/** The job circuit of an on-chain kind, or an error naming the kind. */
export function circuitForKind(kind: OnChainJobKind): JobCircuit {
  const circuit = circuitOfKind(kind);
  if (!circuit) throw new Error(`job kind ${kind.index} matches no job circuit this tool knows`);
  return circuit;
}

export interface PostJobOptions {
  readonly signer: Signer;
  readonly contract: Contract;
  /** The data server's origin, e.g. http://127.0.0.1:8600. */
  readonly dataOrigin: string;
  readonly modelBytes: Uint8Array;
  readonly input: Uint8Array;
  readonly redundancy: number;
  /** The job must be finished this many blocks after the current block. */
  readonly deadlineBlocks: number;
  /** Escrowed fee (wei), divisible by the redundancy. */
  readonly fee: bigint;
  readonly log?: (line: string) => void;
}

export interface PostedJob {
  readonly jobId: bigint;
  readonly kind: number;
  readonly shape: WorkShape;
  readonly modelHash: string;
  readonly inputUri: string;
  readonly inputRoot: bigint;
  readonly weightRoot: bigint;
  readonly deadline: number;
  readonly transaction: string;
}

/** Publishes the model and the input on the data server, then posts the job with its escrowed fee. */
export async function postJob(options: PostJobOptions): Promise<PostedJob> {
  const log = options.log ?? (() => {});
  const market = new JobMarket(options.contract);
  const model = parseJobModel(options.modelBytes, "file");
  const { kind, circuit } = await kindForModel(market, model);
  const op = jobOp(circuit);
  const shape = op.shapeFor(model, options.input.length);
  const layout = op.layout(shape);
  assertFiniteCodes(options.input, "the input", model.inChannels);
  const [inputs, weights] = await Promise.all([
    op.inputTree(layout, options.input),
    op.weightTree(layout, model.weights),
  ]);
  const params = await options.contract.getFunction("params")();
  // The contract wants the deadline ≥ D + W + 1 blocks after the posting block; one more covers inclusion.
  const minimumBlocks = Number(params.challengeDelay) + Number(params.proofWindow) + 2;
  if (options.deadlineBlocks < minimumBlocks) {
    throw new Error(
      `a deadline ${options.deadlineBlocks} blocks away is too soon: this deployment needs at least ${minimumBlocks} ` +
        `(challenge delay + proof window + 2), and more to leave miners time to compute and commit`,
    );
  }
  const origin = originOf(options.dataOrigin);
  const modelBlob = await putBlob(origin, options.modelBytes);
  const inputBlob = await putBlob(origin, options.input);
  log(`published model ${modelBlob.url} and input ${inputBlob.url}`);
  const provider = options.signer.provider!;
  const deadline = (await provider.getBlockNumber()) + options.deadlineBlocks;
  const tx = (await options.contract.getFunction("postJob")(
    kind.index,
    `0x${modelBlob.sha256}`,
    weights.root,
    inputs.root,
    inputBlob.url,
    encodeShape(shape),
    options.redundancy,
    deadline,
    { value: options.fee },
  )) as { hash: string; wait(): Promise<{ logs: readonly unknown[] } | null> };
  const receipt = await tx.wait();
  const posted = receipt?.logs
    .map((entry) => options.contract.interface.parseLog(entry as never))
    .find((parsed) => parsed?.name === "JobPosted");
  if (!posted) throw new Error(`postJob transaction ${tx.hash} has no JobPosted event`);
  return {
    jobId: posted.args.jobId as bigint,
    kind: kind.index,
    shape,
    modelHash: modelBlob.sha256,
    inputUri: inputBlob.url,
    inputRoot: inputs.root,
    weightRoot: weights.root,
    deadline,
    transaction: tx.hash,
  };
}

export interface JobStatus {
  readonly job: OnChainJob;
  readonly kind: OnChainJobKind;
  readonly assignments: readonly (OnChainAssignment & { readonly delivered: boolean })[];
  readonly block: number;
}

export async function jobStatus(contract: Contract, jobId: bigint): Promise<JobStatus> {
  const market = new JobMarket(contract);
  if (jobId >= (await market.jobCount())) throw new Error(`job #${jobId} does not exist`);
  const job = await market.job(jobId);
  const [kind, assignments, block] = await Promise.all([
    market.jobKind(job.kind),
    market.assignments(jobId),
    contract.runner!.provider!.getBlockNumber(),
  ]);
  let delivered: string[] = [];
  try {
    delivered = await listOutputs(originOf(job.inputUri), jobId);
  } catch {
    // The data server may be gone; status still reports the chain.
  }
  return {
    job,
    kind,
    block,
    assignments: assignments.map((a) => ({ ...a, delivered: delivered.includes(a.miner.toLowerCase()) })),
  };
}

/** One miner's result, as checked by {@link jobResults}. */
export interface MinerResult {
  readonly miner: string;
  readonly status: OnChainAssignment["status"];
  readonly outputRoot: bigint;
  /** The outputs, when delivered and equal to the committed root. */
  readonly outputs?: Uint32Array;
  /** Why the outputs are not usable (not delivered, root mismatch). */
  readonly problem?: string;
  /** With `verify`: outputs outside the numerics contract and the largest error/bound ratio (≤ 1 when correct). */
  readonly contract?: ContractCheck;
  /** Why this miner is flagged (a contract violation, no usable outputs, or disagreeing with the others). */
  readonly flags: readonly string[];
}

export interface JobResults {
  readonly job: OnChainJob;
  readonly layout: JobLayout;
  readonly results: readonly MinerResult[];
}

/**
 * Downloads every committed miner's outputs from the job's data server and checks them against the miner's committed
 * root. With `verify`, also fetches the model and the input (checked against the job's hashes and roots) and checks
 * every output element against the exact reference. With redundancy > 1, miners whose outputs differ from the
 * others' beyond what the numerics contract allows two correct results to differ are flagged.
 */
export async function jobResults(
  contract: Contract,
  jobId: bigint,
  options: { verify: boolean; maxBytes?: number },
): Promise<JobResults> {
  const { job, kind, assignments } = await jobStatus(contract, jobId);
  const op = jobOp(circuitForKind(kind));
  const layout = op.layout(job.shape);
  const origin = originOf(job.inputUri);
  const results: (MinerResult & { flags: string[] })[] = [];
  for (const assignment of assignments) {
    const base = { miner: assignment.miner, status: assignment.status, outputRoot: assignment.outputRoot, flags: [] };
    let bytes: Uint8Array;
    try {
      bytes = await fetchOutputs(origin, jobId, assignment.miner, options.maxBytes ?? layout.outputWords * 4);
    } catch (error) {
      results.push({ ...base, problem: `outputs not available: ${(error as Error).message}`, flags: ["no outputs"] });
      continue;
    }
    const outputs = outputsFromBytes(bytes, layout.outputWords, `outputs of ${assignment.miner}`);
    const root = (await op.commit(layout, outputs)).root;
    if (root !== assignment.outputRoot) {
      results.push({ ...base, problem: "outputs do not match the committed root", flags: ["root mismatch"] });
      continue;
    }
    results.push({ ...base, outputs });
  }
  if (options.verify) {
    const { model, input } = await fetchJobFiles(job, kind);
    for (const result of results) {
      if (!result.outputs) continue;
      const contract = op.check(layout, input, model.weights, result.outputs);
      Object.assign(result, { contract });
      if (contract.violations > 0) result.flags.push(`${contract.violations} output(s) outside the numerics contract`);
    }
  }
  flagDisagreements(results, layout.outputWords);
  return { job, layout, results };
}

/**
 * Two outputs of the same element that both meet the contract differ by at most 2·T·2^-9 in real terms; without the
 * reference, a miner is flagged when its outputs and the majority's differ on any element by more than a relative
 * 2^-8 of the larger magnitude plus an absolute 2^-20 (loose, since T is unknown here). With `verify` the contract
 * check above is the sharp test.
 */
function flagDisagreements(results: (MinerResult & { flags: string[] })[], words: number): void {
  const usable = results.filter((r) => r.outputs);
  if (usable.length < 2) return;
  for (const result of usable) {
    let disagreeingWith = 0;
    for (const other of usable) {
      if (other === result) continue;
      let differs = false;
      for (let i = 0; i < words && !differs; i++) {
        const a = float32FromBits(result.outputs![i]!);
        const b = float32FromBits(other.outputs![i]!);
        differs = !(Math.abs(a - b) <= Math.max(Math.abs(a), Math.abs(b)) * 2 ** -8 + 2 ** -20);
      }
      if (differs) disagreeingWith++;
    }
    if (disagreeingWith > (usable.length - 1) / 2) {
      result.flags.push(`outputs disagree with ${disagreeingWith} of ${usable.length - 1} other miner(s)`);
    }
  }
}

/** The job's model and input from its data server, checked against the job's hashes and roots. */
export async function fetchJobFiles(
  job: OnChainJob,
  kind: OnChainJobKind,
): Promise<{ model: JobModel; input: Uint8Array }> {
  const op = jobOp(circuitForKind(kind));
  const layout = op.layout(job.shape);
  const origin = originOf(job.inputUri);
  const modelBytes = await fetchBlob(blobUrl(origin, job.modelHash), {
    sha256: job.modelHash,
    maxBytes: MAX_MODEL_BYTES,
  });
  const model = parseJobModel(modelBytes, blobUrl(origin, job.modelHash));
  const input = await fetchBlob(job.inputUri, { maxBytes: layout.inputBytes });
  op.shapeFor(model, input.length);
  const [inputs, weights] = await Promise.all([op.inputTree(layout, input), op.weightTree(layout, model.weights)]);
  if (inputs.root !== job.inputRoot) throw new Error(`the input at ${job.inputUri} does not match the job's inputRoot`);
  if (weights.root !== job.weightRoot) throw new Error("the model does not match the job's weightRoot");
  return { model, input };
}

/** One output element with the Merkle proof of its tile: the tile's words and the leaf's siblings. */
export interface ElementProof {
  /** The element's index in the output file. */
  readonly index: number;
  readonly value: number;
  readonly bits: number;
  /** The tile's leaf index (colBlock + 2^MAX_DC·rowBlock) and the element's position among its words. */
  readonly tile: number;
  readonly position: number;
  readonly tileWords: Uint32Array;
  readonly siblings: readonly bigint[];
}

export async function elementProof(layout: JobLayout, outputs: Uint32Array, index: number): Promise<ElementProof> {
  if (!Number.isInteger(index) || index < 0 || index >= layout.outputWords) {
    throw new Error(`element ${index} is outside the ${layout.outputWords} outputs`);
  }
  const op = jobOp(layout.circuit);
  const { rowBlock, colBlock, position } = op.tileOf(layout, index);
  const tile = tileIndex(layout.circuit.tiling, rowBlock, colBlock);
  const bits = outputs[index]!;
  return {
    index,
    value: float32FromBits(bits),
    bits,
    tile,
    position,
    tileWords: op.tileWords(layout, outputs, rowBlock, colBlock),
    siblings: (await op.commit(layout, outputs)).siblings(tile),
  };
}

/**
 * Whether the proof's element sits where the layout puts output `index` and its tile hashes up to `root` (needs only
 * the proof and the layout, not the outputs).
 */
export async function verifyElementProof(layout: JobLayout, proof: ElementProof, root: bigint): Promise<boolean> {
  const { rowBlock, colBlock, position } = jobOp(layout.circuit).tileOf(layout, proof.index);
  if (proof.tile !== tileIndex(layout.circuit.tiling, rowBlock, colBlock) || proof.position !== position) return false;
  if (proof.tileWords[position] !== proof.bits) return false;
  let node = await tileLeaf(proof.tileWords);
  for (const [level, sibling] of proof.siblings.entries()) {
    node = (proof.tile >> level) & 1 ? await poseidonHash([sibling, node]) : await poseidonHash([node, sibling]);
  }
  return node === root;
}
