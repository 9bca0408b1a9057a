// The JSON-RPC proxy of the fault tests (rpc-faults.faults.ts): it forwards requests from a miner (in-process, or
// `demle mine` as a child process) to the node, and can go down (refuse connections, as a stopped node does), add
// latency, or drop the next transaction in one of three ways (DropMode).
import http from "node:http";
import type { Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { keccak256 } from "ethers";

/**
 * How the next transaction is dropped: `error` answers it with a JSON-RPC error without passing it on; `swallow`
 * answers with its hash without passing it on (it never reaches the node); `lost-response` passes it on and then cuts
 * the connection, so the node has it and the client never hears back.
 */
export type DropMode = "swallow" | "error" | "lost-response";
type RpcRequest = { id?: unknown; method?: string; params?: unknown[] };

/** A JSON-RPC forwarding proxy with switchable faults. */
export class RpcProxy {
  latencyMs = 0;
  private dropNext: DropMode | undefined;
  private downUntil = 0;
  private readonly sockets = new Set<Socket>();
  private readonly server: http.Server;
  port = 0;
  requests = 0;
  outages: number[] = [];
  dropped: { mode: DropMode; hash: string }[] = [];
  /** Hashes of the raw transactions passed on to the node (a lost-response one included). */
  forwardedTransactions: string[] = [];

  constructor(private readonly upstream: string) {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(this.port, "127.0.0.1", resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  /** Refuses connections for `ms` (closes the listener and every open connection), then listens again. */
  async outage(ms: number): Promise<void> {
    this.downUntil = Date.now() + ms;
    this.outages.push(ms);
    this.server.close();
    for (const socket of this.sockets) socket.destroy();
    await sleep(ms);
    await this.listen();
  }

  dropNextTransaction(mode: DropMode): void {
    this.dropNext = mode;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    this.requests++;
    if (Date.now() < this.downUntil) {
      req.socket.destroy();
      return;
    }
    if (this.latencyMs > 0) await sleep(this.latencyMs * (1 + Math.random()));
    const body = JSON.parse(Buffer.concat(chunks).toString()) as RpcRequest | RpcRequest[];
    const batch = Array.isArray(body) ? body : [body];
    const isTx = (r: RpcRequest) => r.method === "eth_sendRawTransaction" || r.method === "eth_sendTransaction";
    const victim = this.dropNext && this.dropNext !== "lost-response" ? batch.find(isTx) : undefined;
    const mode = this.dropNext;
    let lostResponse = false;
    const local: Record<string, unknown>[] = [];
    if (victim && mode) {
      this.dropNext = undefined;
      const raw = String(victim.params?.[0] ?? "");
      const hash = keccak256(raw);
      this.dropped.push({ mode, hash });
      local.push(
        mode === "swallow"
          ? { jsonrpc: "2.0", id: victim.id, result: hash }
          : { jsonrpc: "2.0", id: victim.id, error: { code: -32000, message: "transaction dropped by the proxy" } },
      );
    } else if (mode === "lost-response" && batch.some(isTx)) {
      this.dropNext = undefined;
      lostResponse = true;
      this.dropped.push({ mode, hash: keccak256(String(batch.find(isTx)!.params?.[0] ?? "")) });
    }
    const forward = batch.filter((r) => r !== victim);
    for (const r of forward) if (isTx(r)) this.forwardedTransactions.push(keccak256(String(r.params?.[0] ?? "")));
    let results: Record<string, unknown>[] = [];
    try {
      if (forward.length > 0) {
        const upstream = await fetch(this.upstream, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(Array.isArray(body) ? forward : forward[0]),
        });
        const parsed = (await upstream.json()) as Record<string, unknown> | Record<string, unknown>[];
        results = Array.isArray(parsed) ? parsed : [parsed];
      }
    } catch {
      req.socket.destroy();
      return;
    }
    if (lostResponse) {
      // The node has the transaction; the client never hears back.
      req.socket.destroy();
      return;
    }
    const all = [...results, ...local];
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(Array.isArray(body) ? all : all[0]));
  }
}
