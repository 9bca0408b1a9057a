/**
 * Prometheus metrics of miners (prom-client): MAC/s, proofs ok/failed, proof latency, commitments, tokens earned,
 * bond at risk, RPC errors. Values are read from each miner's `stats` at scrape time; proof latency and RPC errors
 * come from the miner's events (pass {@link MinerMetrics.add}'s handler to the Miner's `onEvent`).
 *
 * `demle mine --metrics-port N` serves them on http://127.0.0.1:N/metrics.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { MinerEvent, MinerStats } from "./miner.js";

const UNIT = 10n ** 18n;
const toUnits = (amount: bigint): number => Number(amount / UNIT) + Number(amount % UNIT) / Number(UNIT);

/** The miner's retry wrapper reports "RPC error in <call> (attempt n)…" through its log events. */
const RPC_ERROR = /^RPC error in (\S+)/;

export interface MetricsEndpoint {
  readonly url: string;
  close(): Promise<void>;
}

export class MinerMetrics {
  readonly registry: Registry;
  private readonly miners = new Map<string, () => Readonly<MinerStats>>();
  private readonly proofSeconds: Histogram;
  private readonly rpcErrors: Counter;

  constructor(options: { registry?: Registry; defaultMetrics?: boolean } = {}) {
    this.registry = options.registry ?? new Registry();
    if (options.defaultMetrics ?? !options.registry) collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    const miners = this.miners;
    const fromStats = (name: string, help: string, read: (stats: Readonly<MinerStats>) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ["miner"],
        registers,
        collect() {
          for (const [miner, stats] of miners) this.set({ miner }, read(stats()));
        },
      });
    fromStats("demle_miner_macs_per_second", "FP8 MACs per second of the last GEMM", (s) => s.macsPerSecond);
    fromStats("demle_miner_epoch", "Epoch of the miner's latest work", (s) => s.epoch);
    fromStats("demle_miner_earned_tokens", "DEMLE minted to this miner in this run (whole tokens)", (s) =>
      toUnits(s.earned),
    );
    fromStats("demle_miner_bond_at_risk_eth", "Bonds of unsettled commitments (ETH)", (s) => toUnits(s.bondAtRisk));
    new Counter({
      name: "demle_miner_proofs_total",
      help: "Groth16 proofs made, by result (ok or failed)",
      labelNames: ["miner", "result"],
      registers,
      collect() {
        this.reset();
        for (const [miner, stats] of miners) {
          const s = stats();
          this.inc({ miner, result: "ok" }, s.proofsOk);
          this.inc({ miner, result: "failed" }, s.proofsFailed);
        }
      },
    });
    new Counter({
      name: "demle_miner_commitments_total",
      help: "Commitments in this run, by outcome (proven, lost, or deferred: an epoch skipped for lack of prover capacity)",
      labelNames: ["miner", "outcome"],
      registers,
      collect() {
        this.reset();
        for (const [miner, stats] of miners) {
          const s = stats();
          this.inc({ miner, outcome: "proven" }, s.commitmentsSettled);
          this.inc({ miner, outcome: "lost" }, s.commitmentsLost);
          this.inc({ miner, outcome: "deferred" }, s.commitmentsDeferred);
        }
      },
    });
    this.proofSeconds = new Histogram({
      name: "demle_miner_proof_seconds",
      help: "Time to make all the proofs of one commitment (challenge known → proofs ready)",
      labelNames: ["miner"],
      buckets: [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600],
      registers,
    });
    this.rpcErrors = new Counter({
      name: "demle_miner_rpc_errors_total",
      help: "Failed JSON-RPC calls (each retried), by call",
      labelNames: ["miner", "call"],
      registers,
    });
  }

  /**
   * Tracks a miner under `label` (its address). `stats` is read at scrape time, so it may refer to a Miner created
   * after this call. Returns the handler to call with each of the miner's events.
   */
  add(label: string, stats: () => Readonly<MinerStats>): (event: MinerEvent) => void {
    this.miners.set(label, stats);
    const observed = new Set<string>();
    return (event) => {
      if (event.type === "job") {
        const job = event.job;
        const key = `${job.epoch}/${job.nonce}`;
        if (job.timings.proveMs !== undefined && !observed.has(key)) {
          observed.add(key);
          this.proofSeconds.observe({ miner: label }, job.timings.proveMs / 1000);
        }
      } else if (event.type === "log") {
        const match = RPC_ERROR.exec(event.message);
        if (match) this.rpcErrors.inc({ miner: label, call: match[1]! });
      }
    };
  }

  /** Serves /metrics on 127.0.0.1:`port` (0: a free port). */
  async serve(port: number, host = "127.0.0.1"): Promise<MetricsEndpoint> {
    const server = http.createServer((req, res) => {
      if (req.url !== "/metrics" || (req.method !== "GET" && req.method !== "HEAD")) {
        res.writeHead(404, { "Content-Type": "text/plain" }).end("not found; try /metrics\n");
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { "Content-Type": this.registry.contentType }).end(text),
        (error: unknown) => res.writeHead(500, { "Content-Type": "text/plain" }).end(`${String(error)}\n`),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const address = server.address() as AddressInfo;
    return {
      url: `http://${host}:${address.port}/metrics`,
      close: () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    };
  }
}
