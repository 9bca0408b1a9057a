/**
 * Typed reads of DemleMining's job market (contracts/interfaces/IDemleJobMarket.sol), shared by the miner's job
 * worker, the `demle job` commands, the data server's output check and the dashboard.
 */
import type { Contract } from "ethers";
import type { WorkShape } from "../common/work.js";
import type { JobKindParams } from "./job-circuits.js";

export type AssignmentStatus = "committed" | "proven" | "slashed";
const ASSIGNMENT_STATUS: Record<string, AssignmentStatus> = { "1": "committed", "2": "proven", "3": "slashed" };

export interface OnChainJobKind {
  readonly index: number;
  readonly verifier: string;
  readonly macsPerTile: bigint;
  readonly tilesPerProof: number;
  readonly proofsPerJob: number;
  /** The circuit parameters the kind repeats: TM (or Wo), TN, K and the grid. */
  readonly tiling: JobKindParams;
}

export interface OnChainJob {
  readonly id: bigint;
  readonly requester: string;
  readonly kind: number;
  readonly shape: WorkShape;
  readonly redundancy: number;
  readonly committedSlots: number;
  readonly provenSlots: number;
  /** Last block of the job (a block number). */
  readonly deadline: number;
  readonly postBlock: number;
  /** The escrowed fee (wei); each proven slot earns fee / redundancy. */
  readonly fee: bigint;
  /** sha256 of the model file, lowercase hex without 0x. */
  readonly modelHash: string;
  readonly weightRoot: bigint;
  readonly inputRoot: bigint;
  readonly inputUri: string;
  readonly refunded: boolean;
}

export interface OnChainAssignment {
  readonly id: bigint;
  readonly jobId: bigint;
  readonly miner: string;
  readonly outputRoot: bigint;
  readonly commitBlock: number;
  readonly status: AssignmentStatus;
}

export function decodeShape(encoded: number): WorkShape {
  return { rowBlocksLog2: encoded & 0xff, colBlocksLog2: encoded >> 8 };
}

/** Read access to the job market of one DemleMining contract. */
export class JobMarket {
  constructor(readonly contract: Contract) {}

  private call<T>(name: string, ...args: unknown[]): Promise<T> {
    return this.contract.getFunction(name)(...args) as Promise<T>;
  }

  async jobCount(): Promise<bigint> {
    return this.call<bigint>("jobCount");
  }

  async jobKinds(): Promise<OnChainJobKind[]> {
    const count = Number(await this.call<bigint>("jobKindCount"));
    return Promise.all(Array.from({ length: count }, (_, index) => this.jobKind(index)));
  }

  async jobKind(index: number): Promise<OnChainJobKind> {
    const kind = await this.call<Record<string, bigint | string>>("jobKind", index);
    return {
      index,
      verifier: kind.verifier as string,
      macsPerTile: kind.macsPerTile as bigint,
      tilesPerProof: Number(kind.tilesPerProof),
      proofsPerJob: Number(kind.proofsPerJob),
      tiling: {
        tileRows: Number(kind.tileRows),
        tileCols: Number(kind.tileCols),
        depth: Number(kind.depth),
        maxRowBlocksLog2: Number(kind.maxRowBlocksLog2),
        maxColBlocksLog2: Number(kind.maxColBlocksLog2),
      },
    };
  }

  async job(id: bigint): Promise<OnChainJob> {
    const job = await this.call<Record<string, bigint | string | boolean>>("job", id);
    return {
      id,
      requester: job.requester as string,
      kind: Number(job.kind),
      shape: decodeShape(Number(job.shape)),
      redundancy: Number(job.redundancy),
      committedSlots: Number(job.committedSlots),
      provenSlots: Number(job.provenSlots),
      deadline: Number(job.deadline),
      postBlock: Number(job.postBlock),
      fee: job.fee as bigint,
      modelHash: (job.modelHash as string).slice(2).toLowerCase(),
      weightRoot: job.weightRoot as bigint,
      inputRoot: job.inputRoot as bigint,
      inputUri: job.inputUri as string,
      refunded: job.refunded as boolean,
    };
  }

  async assignments(jobId: bigint): Promise<OnChainAssignment[]> {
    const ids = await this.call<bigint[]>("jobAssignments", jobId);
    return Promise.all([...ids].map((id) => this.assignment(id)));
  }

  async assignment(id: bigint): Promise<OnChainAssignment> {
    const record = await this.call<Record<string, bigint | string>>("assignment", id);
    const status = ASSIGNMENT_STATUS[String(record.status)];
    if (!status) throw new Error(`assignment #${id} does not exist`);
    return {
      id,
      jobId: record.jobId as bigint,
      miner: record.miner as string,
      outputRoot: record.outputRoot as bigint,
      commitBlock: Number(record.commitBlock),
      status,
    };
  }

  /** The assignment `miner` holds in job `jobId`, if any. */
  async assignmentOf(jobId: bigint, miner: string): Promise<OnChainAssignment | undefined> {
    return (await this.assignments(jobId)).find((a) => a.miner.toLowerCase() === miner.toLowerCase());
  }
}
