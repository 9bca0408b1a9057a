/**
 * The data server's view of the chain: which output root a miner committed for a job, and the job's layout, so an
 * upload can be checked against it (data/server.ts `CommittedOutputs`).
 */
import type { JobMarket } from "../miner/job-market.js";
import type { CommittedOutputs } from "./server.js";

export function committedOutputsOnChain(market: JobMarket): CommittedOutputs {
  return {
    async lookup(jobId, miner) {
      if (jobId >= (await market.jobCount())) return undefined;
      const assignment = await market.assignmentOf(jobId, miner);
      // A slashed miner's outputs are worth nothing to the requester.
      if (!assignment || assignment.status === "slashed") return undefined;
      const job = await market.job(jobId);
      const kind = await market.jobKind(job.kind);
      return { outputRoot: assignment.outputRoot, tiling: kind.tiling, shape: job.shape };
    },
  };
}
