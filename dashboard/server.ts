/**
 * The dashboard's web server (node:http, 127.0.0.1 only): the page and its scripts (uPlot served from node_modules,
 * never a CDN), `/events` (Server-Sent Events: a snapshot on connect, then deltas and connection status), `/state`
 * (the snapshot as JSON), `/metrics` (Prometheus, prom-client) and `/healthz`.
 *
 * `startDashboard` wires an {@link Indexer} over a JSON-RPC URL, an EIP-1193 provider (the in-process Hardhat
 * network) or an ethers provider to this server.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import {
  BrowserProvider,
  FetchRequest,
  JsonRpcProvider,
  Network,
  type Eip1193Provider,
  type InterfaceAbi,
  type Provider,
} from "ethers";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import {
  Indexer,
  JOB_STATUSES,
  toTokens,
  type DashboardSource,
  type DashboardUpdate,
  type IndexerObserver,
  type IndexerOptions,
  type Snapshot,
} from "./indexer.js";

interface Asset {
  readonly type: string;
  readonly body: Buffer;
  readonly gzip: Buffer;
  readonly etag: string;
}

const require = createRequire(import.meta.url);

function loadAsset(file: string, type: string): Asset {
  const body = readFileSync(file);
  return {
    type,
    body,
    gzip: gzipSync(body, { level: 9 }),
    etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`,
  };
}

function pageFile(name: string): string {
  return fileURLToPath(new URL(`./page/${name}`, import.meta.url));
}

/** The page's files: everything it loads comes from this server. */
export function pageAssets(): Map<string, Asset> {
  return new Map([
    ["/", loadAsset(pageFile("index.html"), "text/html; charset=utf-8")],
    ["/app.js", loadAsset(pageFile("app.js"), "text/javascript; charset=utf-8")],
    ["/style.css", loadAsset(pageFile("style.css"), "text/css; charset=utf-8")],
    ["/vendor/uplot.js", loadAsset(require.resolve("uplot/dist/uPlot.iife.min.js"), "text/javascript; charset=utf-8")],
    ["/vendor/uplot.css", loadAsset(require.resolve("uplot/dist/uPlot.min.css"), "text/css; charset=utf-8")],
  ]);
}

const SECURITY_HEADERS = {
  // Nothing but this origin: no CDN, no third-party request of any kind.
  "Content-Security-Policy":
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
} as const;

/** Host names the server answers to (a DNS-rebinding guard: it listens on the loopback interface only). */
const LOCAL_HOSTS = /^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/i;

export interface DashboardServerOptions {
  /** TCP port; 0 picks a free one. Default 0. */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** When the port is taken, take a free one instead of failing. */
  readonly fallbackPort?: boolean;
  /** Served at /metrics; default: a registry with the process's default metrics. */
  readonly registry?: Registry;
  /** Milliseconds between SSE keep-alive comments (default 15,000). */
  readonly heartbeatMs?: number;
}

export interface DashboardServer {
  readonly url: string;
  readonly port: number;
  /** Open SSE connections. */
  clients(): number;
  close(): Promise<void>;
}

function sseFrame(event: string, data: unknown, id?: number): string {
  return `${id !== undefined ? `id: ${id}\n` : ""}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

function frameOf(update: DashboardUpdate): string {
  switch (update.type) {
    case "snapshot":
      return sseFrame("snapshot", update.snapshot, update.snapshot.version);
    case "delta":
      return sseFrame("delta", update.delta, update.delta.version);
    case "status":
      return sseFrame("status", update.status);
  }
}

async function listen(server: http.Server, port: number, host: string, fallback: boolean): Promise<number> {
  const attempt = (p: number) =>
    new Promise<number>((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      server.once("error", onError);
      server.listen(p, host, () => {
        server.off("error", onError);
        resolve((server.address() as AddressInfo).port);
      });
    });
  try {
    return await attempt(port);
  } catch (error) {
    if (fallback && (error as NodeJS.ErrnoException).code === "EADDRINUSE") return attempt(0);
    throw error;
  }
}

/** Serves `source` (the indexer, or a synthetic source in tests). */
export async function createDashboardServer(
  source: DashboardSource,
  options: DashboardServerOptions = {},
): Promise<DashboardServer> {
  const assets = pageAssets();
  const clients = new Set<http.ServerResponse>();
  let registry = options.registry;
  if (!registry) {
    registry = new Registry();
    collectDefaultMetrics({ register: registry });
  }
  const metrics = registry;

  const send = (res: http.ServerResponse, frame: string) => {
    // A client that stopped reading is dropped; its EventSource reconnects and starts from a snapshot.
    if (res.writableLength > 8 * 1024 * 1024) res.destroy();
    else res.write(frame);
  };
  const unsubscribe = source.subscribe((update) => {
    if (clients.size === 0) return;
    const frame = frameOf(update);
    for (const res of clients) send(res, frame);
  });
  const heartbeat = setInterval(() => {
    for (const res of clients) send(res, ": keep-alive\n\n");
  }, options.heartbeatMs ?? 15_000);
  heartbeat.unref();

  const json = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { ...SECURITY_HEADERS, "Content-Type": "application/json", "Cache-Control": "no-store" });
    res.end(JSON.stringify(body));
  };

  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", "http://localhost");
      if (!LOCAL_HOSTS.test(req.headers.host ?? "")) {
        res.writeHead(421, { "Content-Type": "text/plain" }).end("misdirected request\n");
        return;
      }
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.writeHead(405, { Allow: "GET, HEAD", "Content-Type": "text/plain" }).end("method not allowed\n");
        return;
      }
      const asset = assets.get(url.pathname === "/index.html" ? "/" : url.pathname);
      if (asset) {
        const headers: http.OutgoingHttpHeaders = {
          ...SECURITY_HEADERS,
          "Content-Type": asset.type,
          "Cache-Control": "no-cache",
          ETag: asset.etag,
          Vary: "Accept-Encoding",
        };
        if (req.headers["if-none-match"] === asset.etag) {
          res.writeHead(304, headers).end();
          return;
        }
        const gzip = /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
        const body = gzip ? asset.gzip : asset.body;
        res.writeHead(200, {
          ...headers,
          "Content-Length": body.length,
          ...(gzip ? { "Content-Encoding": "gzip" } : {}),
        });
        res.end(req.method === "HEAD" ? undefined : body);
        return;
      }
      switch (url.pathname) {
        case "/events": {
          res.writeHead(200, {
            ...SECURITY_HEADERS,
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-store",
            Connection: "keep-alive",
            "X-Accel-Buffering": "no",
          });
          res.flushHeaders();
          const snapshot = source.snapshot();
          res.write(`retry: 1000\n\n${sseFrame("snapshot", snapshot, snapshot.version)}`);
          clients.add(res);
          res.on("close", () => clients.delete(res));
          return;
        }
        case "/state":
          return json(res, 200, source.snapshot());
        case "/healthz": {
          const snapshot = source.snapshot();
          const ok = snapshot.status.connected;
          return json(res, ok ? 200 : 503, {
            status: ok ? "ok" : "disconnected",
            ...(snapshot.status.error ? { error: snapshot.status.error } : {}),
            head: snapshot.head?.block ?? null,
            clients: clients.size,
          });
        }
        case "/metrics": {
          const text = await metrics.metrics();
          res.writeHead(200, { "Content-Type": metrics.contentType, "Cache-Control": "no-store" });
          res.end(text);
          return;
        }
        default:
          res.writeHead(404, { ...SECURITY_HEADERS, "Content-Type": "text/plain" }).end("not found\n");
      }
    })().catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "Content-Type": "text/plain" });
      res.end(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    });
  });
  const host = options.host ?? "127.0.0.1";
  const port = await listen(server, options.port ?? 0, host, options.fallbackPort ?? false);
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}/`,
    port,
    clients: () => clients.size,
    close: async () => {
      unsubscribe();
      clearInterval(heartbeat);
      for (const res of clients) res.end();
      clients.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** Prometheus metrics of the dashboard: indexing health and the token's figures. */
function dashboardMetrics(
  registry: Registry,
  snapshot: () => Snapshot,
  clients: () => number,
  indexed: () => number | undefined,
): IndexerObserver {
  const rpcErrors = new Counter({
    name: "demle_dashboard_rpc_errors_total",
    help: "Polls of the chain that failed (RPC unreachable or erroring)",
    registers: [registry],
  });
  const polls = new Histogram({
    name: "demle_dashboard_poll_seconds",
    help: "Duration of one poll of the chain (getBlock + getLogs + block timestamps)",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const events = new Counter({
    name: "demle_dashboard_events_total",
    help: "Contract events indexed, by event name",
    labelNames: ["event"],
    registers: [registry],
  });
  const reorgs = new Counter({
    name: "demle_dashboard_reorgs_total",
    help: "Re-scans that found different events in recent blocks",
    registers: [registry],
  });
  const gauge = (name: string, help: string, read: (g: Gauge) => void, labelNames: string[] = []) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        read(this);
      },
    });
  gauge("demle_dashboard_rpc_up", "1 while the last poll of the chain succeeded", (g) =>
    g.set(snapshot().status.connected ? 1 : 0),
  );
  gauge("demle_dashboard_head_block", "Latest block seen", (g) => g.set(snapshot().head?.block ?? 0));
  gauge("demle_dashboard_indexed_block", "Last block whose events are applied", (g) => g.set(indexed() ?? 0));
  gauge("demle_dashboard_sse_clients", "Pages connected to /events", (g) => g.set(clients()));
  gauge("demle_token_supply_tokens", "DEMLE total supply (whole tokens)", (g) =>
    g.set(toTokens(BigInt(snapshot().token.supply))),
  );
  gauge("demle_token_cap_tokens", "DEMLE cap (whole tokens)", (g) => g.set(toTokens(BigInt(snapshot().token.cap))));
  gauge(
    "demle_commitments",
    "Commitments by status",
    (g) => {
      g.reset();
      const c = snapshot().commitments;
      for (const status of ["pending", "proven", "expired", "slashed"] as const) g.set({ status }, c[status]);
    },
    ["status"],
  );
  gauge(
    "demle_verified_macs",
    "FP8 multiply-accumulates verified by accepted proofs, by operation",
    (g) => {
      g.reset();
      for (const [op, macs] of Object.entries(snapshot().macs)) g.set({ op }, Number(macs));
    },
    ["op"],
  );
  // Job market. Figures derived from the chain's events: gauges (a reorg can lower them), named as totals.
  const jobs = () => snapshot().jobTotals;
  gauge("demle_jobs_posted_total", "Jobs posted (JobPosted)", (g) => g.set(jobs().posted));
  gauge("demle_jobs_open", "Jobs accepting commitments at the head block (a slot free, deadline far enough)", (g) =>
    g.set(jobs().byStatus.open),
  );
  gauge(
    "demle_jobs",
    "Jobs by status at the head block (open, full, closed, expired, done, refunded)",
    (g) => {
      g.reset();
      const byStatus = jobs().byStatus;
      for (const status of JOB_STATUSES) g.set({ status }, byStatus[status]);
    },
    ["status"],
  );
  gauge(
    "demle_job_slots",
    "Job slots: committed (taken, whatever became of them), proven, slashed",
    (g) => {
      g.reset();
      const slots = jobs().slots;
      for (const status of ["committed", "proven", "slashed"] as const) g.set({ status }, slots[status]);
    },
    ["status"],
  );
  gauge("demle_job_fees_posted_wei_total", "Job fees escrowed by requesters, ever (wei)", (g) =>
    g.set(Number(jobs().feesPosted)),
  );
  gauge("demle_job_fees_escrowed_wei", "Job fees still held: posted − paid − refunded (wei)", (g) =>
    g.set(Number(jobs().feesEscrowed)),
  );
  gauge("demle_job_fees_paid_wei_total", "Job fee shares paid to miners (wei)", (g) => g.set(Number(jobs().feesPaid)));
  gauge("demle_job_fees_refunded_wei_total", "Job fee shares refunded to requesters (wei)", (g) =>
    g.set(Number(jobs().feesRefunded)),
  );
  gauge("demle_job_rewards_tokens_total", "DEMLE minted for proven job slots (whole tokens)", (g) =>
    g.set(toTokens(BigInt(jobs().rewards))),
  );
  gauge(
    "demle_account_job_fees_wei",
    "Job fee shares paid to each miner (wei)",
    (g) => {
      g.reset();
      for (const row of snapshot().accounts) {
        if (row.jobFees !== "0") g.set({ account: row.address }, Number(row.jobFees));
      }
    },
    ["account"],
  );
  gauge(
    "demle_account_balance_tokens",
    "DEMLE balance of each holder (whole tokens)",
    (g) => {
      g.reset();
      for (const row of snapshot().accounts) g.set({ account: row.address }, toTokens(BigInt(row.balance)));
    },
    ["account"],
  );
  return {
    poll: (seconds, ok) => {
      polls.observe(seconds);
      if (!ok) rpcErrors.inc();
    },
    events: (event, count) => events.inc({ event }, count),
    reorg: () => reorgs.inc(),
  };
}

type ProviderInput = string | Provider | Eip1193Provider;

/** The chain's id by a bare JSON-RPC call (ethers' JsonRpcProvider would otherwise retry network detection forever). */
async function chainIdOf(url: string, timeoutMs: number): Promise<bigint> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(`cannot reach ${url}: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
  }
  if (!response.ok) throw new Error(`${url} answered HTTP ${response.status}`);
  const body = (await response.json()) as { result?: string; error?: { message?: string } };
  if (typeof body.result !== "string") throw new Error(`eth_chainId failed: ${body.error?.message ?? "no result"}`);
  return BigInt(body.result);
}

/**
 * A provider that fails fast while the node is unreachable (so the page can say "disconnected") and works again as
 * soon as it answers: the chain id is read with a bare request, then fixed (`staticNetwork`), and every request has a
 * timeout. The indexer calls the factory again until it succeeds.
 */
function lazyRpcProvider(url: string, timeoutMs: number): { provider: () => Promise<Provider>; destroy(): void } {
  let inner: JsonRpcProvider | undefined;
  return {
    provider: async () => {
      const chainId = await chainIdOf(url, timeoutMs);
      const request = new FetchRequest(url);
      request.timeout = timeoutMs;
      inner = new JsonRpcProvider(request, Network.from(chainId), {
        staticNetwork: true,
        batchMaxCount: 1,
        cacheTimeout: -1,
      });
      return inner;
    },
    destroy: () => inner?.destroy(),
  };
}

function providerOf(
  input: ProviderInput,
  timeoutMs: number,
): { provider: IndexerOptions["provider"]; destroy(): void } {
  if (typeof input === "string") return lazyRpcProvider(input, timeoutMs);
  if (typeof (input as Provider).getBlock === "function") return { provider: input as Provider, destroy: () => {} };
  const browser = new BrowserProvider(input as Eip1193Provider, undefined, { cacheTimeout: -1 });
  return { provider: browser, destroy: () => browser.destroy() };
}

export interface DashboardOptions {
  /** JSON-RPC URL, an EIP-1193 provider (e.g. Hardhat's in-process network) or an ethers provider. */
  readonly provider?: Provider | Eip1193Provider;
  readonly rpc?: string;
  /** DemleMining's address. */
  readonly contract: string;
  /** The deployment block (scanning starts there); default 0. */
  readonly fromBlock?: number;
  /** Default 0 (a free port). */
  readonly port?: number;
  readonly host?: string;
  readonly fallbackPort?: boolean;
  /** JSON file for the cursor and derived state; none: nothing persists. */
  readonly stateFile?: string;
  readonly pollMs?: number;
  readonly reorgDepth?: number;
  readonly maxBlockRange?: number;
  /** Timeout of one JSON-RPC request (URL mode), default 4,000 ms. */
  readonly rpcTimeoutMs?: number;
  /** ABIs (default: the compiled artifacts). */
  readonly abis?: { readonly mining: InterfaceAbi; readonly token: InterfaceAbi };
  readonly log?: (line: string) => void;
}

export interface Dashboard {
  readonly url: string;
  readonly port: number;
  readonly indexer: Indexer;
  readonly registry: Registry;
  close(): Promise<void>;
}

/** Starts the indexer and the web server; returns the page's URL. */
export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const input = options.provider ?? options.rpc;
  if (!input) throw new Error("startDashboard needs a provider or an rpc URL");
  let abis = options.abis;
  if (!abis) {
    const { loadArtifact } = await import("../miner/artifacts.js");
    const [mining, token] = await Promise.all([
      loadArtifact("DemleMining.sol", "DemleMining"),
      loadArtifact("DemleToken.sol", "DemleToken"),
    ]);
    abis = { mining: mining.abi, token: token.abi };
  }
  const { provider, destroy } = providerOf(input, options.rpcTimeoutMs ?? 4000);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  let server: DashboardServer | undefined;
  const observer = dashboardMetrics(
    registry,
    () => indexer.snapshot(),
    () => server?.clients() ?? 0,
    () => indexer.indexedBlock,
  );
  const indexer = new Indexer({
    provider,
    mining: options.contract,
    abis,
    ...(options.fromBlock !== undefined ? { fromBlock: options.fromBlock } : {}),
    ...(options.stateFile !== undefined ? { stateFile: options.stateFile } : {}),
    ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}),
    ...(options.reorgDepth !== undefined ? { reorgDepth: options.reorgDepth } : {}),
    ...(options.maxBlockRange !== undefined ? { maxBlockRange: options.maxBlockRange } : {}),
    ...(options.log ? { log: options.log } : {}),
    observer,
  });
  try {
    server = await createDashboardServer(indexer, {
      registry,
      ...(options.port !== undefined ? { port: options.port } : {}),
      ...(options.host !== undefined ? { host: options.host } : {}),
      ...(options.fallbackPort !== undefined ? { fallbackPort: options.fallbackPort } : {}),
    });
  } catch (error) {
    destroy();
    throw error;
  }
  indexer.start();
  const listening = server;
  return {
    url: listening.url,
    port: listening.port,
    indexer,
    registry,
    close: async () => {
      await listening.close();
      await indexer.stop();
      destroy();
    },
  };
}
