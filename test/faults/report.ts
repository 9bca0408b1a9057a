/**
 * After `npm run test:faults`: collects the figures the fault tests wrote to build/faults/*.json into one table,
 * prints it, and writes it into docs/reliability.md between its figure markers. With `--print` (the short CI run,
 * `npm run test:faults:short`) it only prints: the short run's figures are not the ones the doc quotes.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { REPO_ROOT } from "../../circuits/compile.js";

const FAULTS_DIR = path.join(REPO_ROOT, "build", "faults");
const DOC = path.join(REPO_ROOT, "docs", "reliability.md");
const START = "<!-- figures:start -->";
const END = "<!-- figures:end -->";

type Json = Record<string, unknown>;

function read(name: string): Json | undefined {
  const file = path.join(FAULTS_DIR, `${name}.json`);
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Json) : undefined;
}

const count = (value: unknown): string => (Array.isArray(value) ? String(value.length) : String(value ?? "—"));

/** "commit 1, prove 1, reverted 0": the DemleMining transactions a miner got mined (openEpoch left out). */
const transactions = (byFunction: Json, reverted: unknown): string =>
  ["commit", "prove"].map((name) => `${name} ${count(byFunction[name] ?? 0)}`).join(", ") +
  `, reverted ${count(reverted)}`;

function rows(): string[][] {
  const out: string[][] = [];
  const properties = read("contract-properties");
  if (properties) {
    out.push([
      "contracts: random commit/prove/slash/transfer/mint sequences, invariants after every step",
      `${count(properties.sequences)} sequences × ${count(properties.stepsPerSequence)} steps = ${count(properties.steps)} steps, ` +
        `${count(properties.invariantChecks)} invariant checks, ${count(properties.acceptedProofSubmissions)} accepted proofs; violations: 0`,
    ]);
  }
  const inputs = read("public-inputs");
  if (inputs) {
    out.push([
      "contracts: every public input and proof word of a valid proof tampered (+1, +p, p−1, +q)",
      `${count(inputs.tamperedCases)} cases, accepted on chain: ${count(inputs.acceptedOnChain)}`,
    ]);
  }
  const campaign = read("circuit-campaign");
  for (const circuit of (campaign?.circuits as Json[] | undefined) ?? []) {
    const explained = Object.entries((circuit.explainedAccepted as Record<string, number> | undefined) ?? {});
    const unexplained = Number(circuit.accepted) - explained.reduce((sum, [, n]) => sum + n, 0);
    const op = circuit.op === undefined ? "" : ` (${count(circuit.op)})`;
    out.push([
      `circuit ${count(circuit.circuit)}${op}: random single-wire edits of honest witnesses`,
      `${count(circuit.edits)} edits over ${Object.keys((circuit.classes as Json | undefined) ?? {}).length} classes; ` +
        `rejected ${count(circuit.rejected)}, accepted ${count(circuit.accepted)} ` +
        `(${explained.map(([rule, n]) => `${n} × ${rule}`).join(", ") || "none"}; unexplained ${unexplained})`,
    ]);
  }
  const crash = read("miner-crash");
  if (crash) {
    const sendReceipt = Object.entries((crash.sendReceiptKills as Record<string, Json> | undefined) ?? {})
      .map(
        ([stage, n]) =>
          `${stage} ${Number(n.pending) + Number(n.mined)} (tx pending ${count(n.pending)}, mined ${count(n.mined)})`,
      )
      .join(", ");
    const blocks = crash.blockMs === undefined ? "" : ` (a block every ${count(crash.blockMs)} ms)`;
    out.push([
      `miner: kill -9 at random moments and between send and receipt, restart${blocks}`,
      `${count(crash.runs)} runs, ${count(crash.ok)} recovered; ${count(crash.commitments)} commitments, ${count(crash.proven)} proven; ` +
        `kills by stage ${JSON.stringify(crash.byStageAtKill ?? {})}` +
        (sendReceipt ? `; between send and receipt: ${sendReceipt}` : "") +
        (crash.transactions ? `; mined ${transactions(crash.transactions as Json, crash.revertedTransactions)}` : ""),
    ]);
  }
  const rpc = read("rpc-faults");
  for (const scenario of (rpc?.scenarios as Json[] | undefined) ?? []) {
    const detail = scenario.note ?? scenario.error;
    const mined = scenario.transactions as Json | undefined;
    out.push([
      `RPC: ${count(scenario.scenario)}`,
      `${count(scenario.outcome)}${detail ? ` (${String(detail).slice(0, 120)})` : ""}` +
        (Number(scenario.retries) > 0 ? `; ${count(scenario.retries)} RPC retries` : "") +
        (scenario.recoveredAfterRestart === undefined ? "" : `; after a restart: ${count(scenario.restartStage)}`) +
        (mined ? `; mined ${transactions(mined.byFunction as Json, mined.reverted)}` : ""),
    ]);
  }
  const load = read("load");
  if (load) {
    out.push([
      `load: ${count(load.miners)} miners × ${count(load.epochsPerMiner)} epochs, ${count(load.workers)} prover workers`,
      `${count(load.acceptedCommitments)}/${count(load.commitments)} commitments accepted, ${count(load.proofs)} proofs, ` +
        `${count(load.proofsPerMinute)} proofs/min, failed transactions ${count(load.failedTransactions)}`,
    ]);
  }
  const jobs = read("jobs");
  const jobProperties = jobs?.properties as Json | undefined;
  if (jobProperties) {
    out.push([
      "jobs: random postJob/commitJob/proveJob/slashJob/refundJob/seed-work sequences, invariants after every step",
      `${count(jobProperties.sequences)} sequences × ${count(jobProperties.stepsPerSequence)} steps = ${count(jobProperties.steps)} steps, ` +
        `${count(jobProperties.invariantChecks)} invariant checks; ${count(jobProperties.jobsPosted)} jobs, ` +
        `${count(jobProperties.slotsTaken)} slots taken (${count(jobProperties.fullJobs)} jobs filled), ` +
        `${count(jobProperties.slotsProven)} proven, ${count(jobProperties.slotsSlashed)} slashed, ` +
        `${count(jobProperties.refunds)} refunds, ${Object.keys((jobProperties.reverts as Json | undefined) ?? {}).length} ` +
        `distinct custom errors predicted; violations: 0`,
    ]);
  }
  const hostile = jobs?.hostile as Json | undefined;
  for (const c of (hostile?.cases as Json[] | undefined) ?? []) {
    const served = (c.bytesServed as number[] | undefined) ?? [];
    out.push([
      `jobs: hostile data server: ${count(c.case)}`,
      `${count(c.outcome)}${
        c.note
          ? ` (${String(c.note)
              .replace(/http:\/\/127\.0\.0\.1:\d+\/blobs\/[0-9a-f]{64}/g, "URL")
              .replace(/ have sha256 [0-9a-f]{64}, expected [0-9a-f]{64}/, " have another sha256")
              .slice(0, 110)})`
          : ""
      }; ` +
        (c.transactionsOnRefusal === undefined ? "" : `transactions sent ${count(c.transactionsOnRefusal)}; `) +
        `the server wrote ${served.length ? served.join(", ") : "0"} bytes (the miner's limit ${count(c.limit)})` +
        (c.afterHeal ? `; after the server recovered: ${count(c.afterHeal)}` : ""),
    ]);
  }
  if (hostile) {
    out.push([
      `jobs: the ${((hostile.cases as unknown[] | undefined) ?? []).length} hostile data servers at once: the miner process's memory`,
      `peak ArrayBuffer growth ${count(hostile.peakArrayBuffersGrowthMiB)} MiB (the 16 MiB model limit and its copy), ` +
        `peak RSS growth ${count(hostile.peakRssGrowthMiB)} MiB (the prover threads of the recoveries included); ` +
        `${count(hostile.seconds)} s (two 30 s client timeouts)`,
    ]);
  }
  const kills = jobs?.kills as Json | undefined;
  if (kills) {
    out.push([
      `jobs: job worker killed at a stage of a linear job, restarted on the state left on disk (a block every ${count(kills.blockMs)} ms)`,
      `${count(kills.runs)} runs, ${count(kills.settled)} settled; kills by stage ${JSON.stringify(kills.byStageAtKill ?? {})}; ` +
        `commitments ${count(kills.commitments)}, accepted proofs ${count(kills.proofsAccepted)}, fee payments ` +
        `${count(kills.feePayments)}; mined ${transactions({ commit: (kills.mined as Json)?.commitJob ?? 0, prove: (kills.mined as Json)?.proveJob ?? 0 }, kills.reverted)}; ` +
        `outputs recomputed after a kill ${count(kills.recomputed)}`,
    ]);
  }
  const bad = read("bad-inputs");
  const cases = (bad?.cases as unknown[] | undefined) ?? (Array.isArray(bad) ? bad : undefined);
  if (cases)
    out.push([
      "bad inputs: one clear error line, nonzero exit, nothing half-written",
      `${cases.length} cases, all passed`,
    ]);
  return out;
}

const table = [
  "| fault | figures |",
  "| --- | --- |",
  ...rows().map(([what, figures]) => `| ${what} | ${figures} |`),
  "",
  `Produced by \`npm run test:faults\` on ${new Date().toISOString().slice(0, 10)}.`,
].join("\n");
process.stdout.write(`${table}\n`);
if (!process.argv.includes("--print") && existsSync(DOC)) {
  const doc = readFileSync(DOC, "utf8");
  const start = doc.indexOf(START);
  const end = doc.indexOf(END);
  if (start >= 0 && end > start) {
    writeFileSync(DOC, `${doc.slice(0, start + START.length)}\n${table}\n${doc.slice(end)}`);
    process.stdout.write(`updated ${path.relative(REPO_ROOT, DOC)}\n`);
  }
}
