/**
 * The data server's view of the chain: which output root a miner committed for a job, and the job's layout, so an
 * upload can be checked against it (data/server.ts `CommittedOutputs`).
 */
import { circuitOfKind } from "../miner/job-circuits.js";
import type { JobMarket } from "../miner/job-market.js";
import { jobOp } from "../miner/job-ops.js";
import type { CommittedOutputs } from "./server.js";

export function committedOutputsOnChain(market: JobMarket): CommittedOutputs {
  return {
    async lookup(jobId, miner) {
      if (jobId >= (await market.jobCount())) return undefined;
      const assignment = await market.assignmentOf(jobId, miner);
      // A slashed miner's outputs are worth nothing to the requester.
      if (!assignment || assignment.status === "slashed") return undefined;
      const job = await market.job(jobId);
      const circuit = circuitOfKind(await market.jobKind(job.kind));
      if (!circuit) return undefined;
      const op = jobOp(circuit);
      const layout = op.layout(job.shape);
      return {
        outputRoot: assignment.outputRoot,
        outputWords: layout.outputWords,
        description: layout.description,
        root: async (words) => (await op.commit(layout, words)).root,
      };
    },
  };
}
