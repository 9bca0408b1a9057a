// The data server (data/server.ts) and its client (data/client.ts) against real servers on port 0 in temporary
// directories: content-addressed blobs (hash-checked, size-bounded by Content-Length and while streaming, atomic, no
// temporary files left behind), strict names (traversal attempts are 400 and touch nothing), outputs accepted only
// when their Merkle root is the committed one (the expected root is built here from circomlibjs' Poseidon, following
// docs/circuits.md, not from common/work.ts), listings, loopback-only binding, idle timeouts, and the client's bounds
// and one-line errors.
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { buildPoseidon } from "circomlibjs";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { blobUrl, fetchBlob, fetchOutputs, listOutputs, originOf, putBlob, putOutputs } from "../data/client.js";
import { commitOutputs, defineWork } from "../common/work.js";
import { startDataServer, type CommittedOutputs, type DataServer } from "../data/server.js";
import type { GemmTiling, WorkShape } from "../common/work.js";

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** A raw HTTP request (the path is sent exactly as given, unlike fetch, which normalises `..`). */
function raw(
  port: number,
  method: string,
  rawPath: string,
  options: { body?: Uint8Array[]; headers?: http.OutgoingHttpHeaders; chunkDelayMs?: number } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  const headers = { ...options.headers };
  const body = options.body ?? [];
  // Without either header Node sends a GET's or DELETE's body unframed (the server would parse it as a request).
  if (body.length > 0 && headers["Transfer-Encoding"] === undefined && headers["Content-Length"] === undefined) {
    headers["Content-Length"] = body.reduce((sum, chunk) => sum + chunk.length, 0);
  }
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method, path: rawPath, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    // The server may answer (and close) before the whole body is written: a write error then is expected.
    req.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "EPIPE" && error.code !== "ECONNRESET") reject(error);
    });
    void (async () => {
      for (const chunk of body) {
        if (req.destroyed) return;
        req.write(chunk);
        if (options.chunkDelayMs) await sleep(options.chunkDelayMs);
      }
      req.end();
    })();
  });
}

/** Sends `text` on a fresh connection and collects everything the server writes until it closes the connection. */
function rawText(port: number, text: string): Promise<{ answer: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(port, "127.0.0.1", () => socket.write(text));
    let answer = "";
    socket.on("data", (chunk: Buffer) => (answer += chunk.toString("latin1")));
    socket.on("error", reject);
    socket.on("close", () => resolve({ answer, ms: Date.now() - started }));
  });
}

const errorOf = (body: Buffer) => (JSON.parse(body.toString("utf8")) as { error: string }).error;

/** Files in a directory tree (relative paths), dot files included. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort();
}

// A 2×2-tile job on a grid whose tree has room for 2×4 tiles (so empty leaves and the index c + 2^MAX_DC·r matter),
// with non-square 2×3 tiles (so rows and columns cannot be swapped unnoticed): M = 4, N = 6.
const TILING: GemmTiling = { tileRows: 2, tileCols: 3, depth: 4, maxRowBlocksLog2: 1, maxColBlocksLog2: 2 };
const SHAPE: WorkShape = { rowBlocksLog2: 1, colBlocksLog2: 1 };
const M = 4;
const N = 6;
const WORDS = Uint32Array.from(
  { length: M * N },
  (_, i) => (Math.imul(i + 1, 0x9e3779b1) ^ (0x80000000 * (i & 1))) >>> 0,
);

function littleEndian(words: Uint32Array): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(words.length * 4);
  const view = new DataView(bytes.buffer);
  words.forEach((word, i) => view.setUint32(4 * i, word, true));
  return bytes;
}

/** The output root per docs/circuits.md, from circomlibjs' Poseidon and nothing else of this repository. */
async function independentRoot(words: Uint32Array): Promise<bigint> {
  const poseidon = await buildPoseidon();
  const hash = (inputs: bigint[]) => poseidon.F.toObject(poseidon(inputs));
  const depth = TILING.maxRowBlocksLog2 + TILING.maxColBlocksLog2;
  let level: bigint[] = Array<bigint>(2 ** depth).fill(0n);
  for (let r = 0; r < 2; r++) {
    for (let c = 0; c < 2; c++) {
      const tile: number[] = [];
      for (let i = 0; i < TILING.tileRows; i++) {
        for (let j = 0; j < TILING.tileCols; j++)
          tile.push(words[(r * TILING.tileRows + i) * N + c * TILING.tileCols + j]!);
      }
      // 6 words pack into one field element: Σ_j word_j·2^(32j).
      const packed = tile.reduce((sum, word, j) => sum + (BigInt(word) << BigInt(32 * j)), 0n);
      level[c + 2 ** TILING.maxColBlocksLog2 * r] = hash([packed]);
    }
  }
  while (level.length > 1) {
    const above: bigint[] = [];
    for (let i = 0; i < level.length; i += 2) above.push(hash([level[i]!, level[i + 1]!]));
    level = above;
  }
  return level[0]!;
}

const MINER_A = "0x00000000000000000000000000000000000000aa";
const MINER_B = "0xBbBbBbBbBbBbBbBbBbBbBbBbBbBbBbBbBbBbBbBb"; // delivered in mixed case, stored lowercase
const MINER_C = "0x00000000000000000000000000000000000000cc";

describe("data server", () => {
  let dir: string;
  let server: DataServer;
  let root: bigint;
  const lines: string[] = [];
  const MAX = 1024;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "demle-data-"));
    root = await independentRoot(WORDS);
    const committed = new Map<string, bigint>([
      [`7/${MINER_A}`, root],
      [`7/${MINER_B.toLowerCase()}`, root],
      [`7/${MINER_C}`, root + 1n], // a commitment that no delivery can match
    ]);
    const committedOutputs: CommittedOutputs = {
      lookup: async (jobId, miner) => {
        const outputRoot = committed.get(`${jobId}/${miner}`);
        if (outputRoot === undefined) return undefined;
        const work = defineWork(TILING, SHAPE);
        return {
          outputRoot,
          outputWords: work.m * work.n,
          description: `${work.m}×${work.n}`,
          root: async (words: Uint32Array) => (await commitOutputs(words, work)).root,
        };
      },
    };
    server = await startDataServer({ dir, maxBytes: MAX, committedOutputs, log: (line) => lines.push(line) });
  });

  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("binds 127.0.0.1 only", async () => {
    expect(server.address()).toMatchObject({ address: "127.0.0.1", family: "IPv4", port: server.port });
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    const external = Object.values(os.networkInterfaces())
      .flat()
      .find((info) => info && info.family === "IPv4" && !info.internal);
    if (external) {
      await expect(fetch(`http://${external.address}:${server.port}/blobs/${"0".repeat(64)}`)).rejects.toThrow();
    }
  });

  it("stores, serves and re-accepts a blob", async () => {
    const bytes = new TextEncoder().encode("the input of job 7\n");
    const name = sha256(bytes);
    const url = `${server.url}/blobs/${name}`;
    expect((await fetch(url)).status).toBe(404);
    const first = await fetch(url, { method: "PUT", body: bytes });
    expect(first.status).toBe(201);
    expect(readFileSync(path.join(dir, "blobs", name))).toEqual(Buffer.from(bytes));
    const again = await fetch(url, { method: "PUT", body: bytes });
    expect(again.status).toBe(200);
    const got = await fetch(url);
    expect(got.status).toBe(200);
    expect(got.headers.get("content-type")).toBe("application/octet-stream");
    expect(got.headers.get("content-length")).toBe(String(bytes.length));
    expect(new Uint8Array(await got.arrayBuffer())).toEqual(bytes);
    const head = await fetch(url, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(bytes.length));
    expect((await head.arrayBuffer()).byteLength).toBe(0);
    expect((await fetch(`${server.url}/blobs/${"0".repeat(64)}`, { method: "HEAD" })).status).toBe(404);
    expect(filesUnder(path.join(dir, "blobs"))).toEqual([name]);
    // One line per request, written when the response closes.
    await vi.waitFor(() => {
      for (const [method, status] of [
        ["PUT", 201],
        ["PUT", 200],
        ["GET", 200],
      ] as const) {
        const line = new RegExp(`^${method} /blobs/${name} ${status} ${bytes.length}B \\d+ms$`);
        expect(lines).toContainEqual(expect.stringMatching(line));
      }
    });
  });

  it("refuses a body whose sha256 is not its name (422, nothing stored)", async () => {
    const bytes = new TextEncoder().encode("not what the name says");
    const name = sha256(new TextEncoder().encode("something else"));
    const res = await fetch(`${server.url}/blobs/${name}`, { method: "PUT", body: bytes });
    expect(res.status).toBe(422);
    expect(((await res.json()) as { error: string }).error).toContain(sha256(bytes));
    expect(existsSync(path.join(dir, "blobs", name))).toBe(false);
    expect(filesUnder(path.join(dir, "blobs")).filter((f) => f.startsWith("."))).toEqual([]);
  });

  it("refuses bodies above the limit by Content-Length and while streaming (413, nothing stored)", async () => {
    const before = filesUnder(path.join(dir, "blobs"));
    const big = new Uint8Array(MAX + 1).fill(7);
    const declared = await raw(server.port, "PUT", `/blobs/${sha256(big)}`, {
      headers: { "Content-Length": big.length },
      body: [big],
    });
    expect(declared.status).toBe(413);
    expect(errorOf(declared.body)).toBe("blob of 1025 bytes exceeds the limit of 1024 bytes");
    // Answered from the headers alone (no body byte is awaited) and the connection is closed.
    const head = `PUT /blobs/${sha256(big)} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000000\r\n`;
    const early = await rawText(server.port, `${head}\r\n`);
    expect(early.answer).toMatch(/^HTTP\/1\.1 413 .*\r\nConnection: close\r\n/s);
    expect(early.answer).toContain('{"error":"blob of 1000000000 bytes exceeds the limit of 1024 bytes"}');
    // A client that asks first (Expect: 100-continue) is refused before it sends, or told to go on.
    const asked = await rawText(server.port, `${head}Expect: 100-continue\r\n\r\n`);
    expect(asked.answer).toMatch(/^HTTP\/1\.1 413 /);
    const small = new TextEncoder().encode("ok");
    const continued = await rawText(
      server.port,
      `PUT /blobs/${sha256(small)} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n` +
        `Connection: close\r\n\r\nok`,
    );
    expect(continued.answer).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 201 /);

    // Chunked, no Content-Length: cut off once more than MAX bytes arrived.
    const chunks = [0, 1, 2, 3].map((i) => new Uint8Array(400).fill(i));
    const all = Buffer.concat(chunks);
    const streamed = await raw(server.port, "PUT", `/blobs/${sha256(all)}`, {
      headers: { "Transfer-Encoding": "chunked" },
      body: chunks,
      chunkDelayMs: 20,
    });
    expect(streamed.status).toBe(413);
    expect(streamed.headers["content-length"]).toBeDefined();
    expect(errorOf(streamed.body)).toMatch(/exceeds the limit of 1024 bytes \(1200 bytes received\)/);
    // Exactly at the limit is accepted, chunked as well.
    const atLimit = [new Uint8Array(MAX - 24).fill(9), new Uint8Array(24).fill(8)];
    const ok = await raw(server.port, "PUT", `/blobs/${sha256(Buffer.concat(atLimit))}`, {
      headers: { "Transfer-Encoding": "chunked" },
      body: atLimit,
    });
    expect(ok.status).toBe(201);
    expect(filesUnder(path.join(dir, "blobs"))).toEqual(
      [...before, sha256(small), sha256(Buffer.concat(atLimit))].sort(),
    );
  });

  it("answers 400 to malformed names and traversal attempts, touching nothing", async () => {
    const before = filesUnder(dir);
    const sha = "a".repeat(64);
    for (const bad of [
      "/blobs/..%2f..%2fetc%2fpasswd",
      "/blobs/../../etc/passwd",
      "/blobs/%2e%2e",
      "/blobs/",
      `/blobs/${sha.toUpperCase()}`,
      `/blobs/${sha}0`,
      `/blobs/${sha}/x`,
      "/blobs/abc",
      "/outputs/01",
      "/outputs/-1",
      "/outputs/..",
      `/outputs/${(1n << 256n).toString()}`,
      "/outputs/7/0x123",
      `/outputs/7/0x${"g".repeat(40)}`,
      "/outputs/7/..%2f..%2fblobs",
      `/outputs/7/${MINER_A}/x`,
    ]) {
      for (const method of ["GET", "PUT"]) {
        const res = await raw(server.port, method, bad, { body: method === "PUT" ? [new Uint8Array(4)] : [] });
        expect(res.status, `${method} ${bad}`).toBe(400);
        expect(errorOf(res.body)).toMatch(/^malformed /);
      }
    }
    expect(filesUnder(dir)).toEqual(before);
  });

  it("answers 404 to unknown routes, 405 to wrong methods, 421 to foreign Host headers", async () => {
    for (const unknown of ["/", "/blobs", "/outputs", "/etc/passwd", "/../blobs"]) {
      const res = await raw(server.port, "GET", unknown);
      expect(res.status, unknown).toBe(404);
      expect(errorOf(res.body)).toMatch(/^no route/);
    }
    const sha = "b".repeat(64);
    for (const [method, target, allow] of [
      ["DELETE", `/blobs/${sha}`, "GET, HEAD, PUT"],
      ["POST", `/blobs/${sha}`, "GET, HEAD, PUT"],
      ["PUT", "/outputs/7", "GET, HEAD"],
      ["DELETE", `/outputs/7/${MINER_A}`, "GET, HEAD, PUT"],
    ] as const) {
      const res = await raw(server.port, method, target, { body: [new Uint8Array(3)] });
      expect(res.status, `${method} ${target}`).toBe(405);
      expect(res.headers.allow).toBe(allow);
      expect(errorOf(res.body)).toMatch(/not allowed/);
    }
    const foreign = await raw(server.port, "GET", `/blobs/${sha}`, { headers: { Host: "evil.example:80" } });
    expect(foreign.status).toBe(421);
  });

  it("stores outputs only when their Merkle root is the committed one", async () => {
    const good = littleEndian(WORDS);
    const flipped = WORDS.slice();
    flipped[17] = flipped[17]! ^ 1;
    const put = (miner: string, body: Uint8Array<ArrayBuffer>, jobId = "7") =>
      fetch(`${server.url}/outputs/${jobId}/${miner}`, { method: "PUT", body });
    const outputsDir = path.join(dir, "outputs");

    expect(await (await fetch(`${server.url}/outputs/7`)).json()).toEqual({ miners: [] });

    const wrong = await put(MINER_A, littleEndian(flipped));
    expect(wrong.status).toBe(409);
    expect(((await wrong.json()) as { error: string }).error).toMatch(
      new RegExp(
        `job 7 by ${MINER_A} have Merkle root 0x[0-9a-f]{64}, but the committed output root is 0x0*${root.toString(16)}$`,
      ),
    );
    const short = await put(MINER_A, good.subarray(0, good.length - 1));
    expect(short.status).toBe(422);
    expect(((await short.json()) as { error: string }).error).toMatch(/must be 4×6 float32 = 96 bytes, got 95/);
    const long = await raw(server.port, "PUT", `/outputs/7/${MINER_A}`, {
      headers: { "Transfer-Encoding": "chunked" },
      body: [good, new Uint8Array(4)],
    });
    expect(long.status).toBe(422);
    expect((await put(MINER_C, good)).status).toBe(409);
    const unknownJob = await put(MINER_A, good, "8");
    expect(unknownJob.status).toBe(404);
    expect(((await unknownJob.json()) as { error: string }).error).toMatch(
      /no output commitment of miner .* for job 8/,
    );
    expect((await put("0x00000000000000000000000000000000000000dd", good)).status).toBe(404);
    expect(filesUnder(outputsDir)).toEqual([]);

    expect((await put(MINER_A, good)).status).toBe(201);
    expect((await put(MINER_A, good)).status).toBe(200);
    expect((await put(MINER_B, good)).status).toBe(201);
    expect(filesUnder(outputsDir)).toEqual([`7/${MINER_A}`, `7/${MINER_B.toLowerCase()}`]);
    expect(await (await fetch(`${server.url}/outputs/7`)).json()).toEqual({
      miners: [MINER_A, MINER_B.toLowerCase()],
    });
    expect(await (await fetch(`${server.url}/outputs/9`)).json()).toEqual({ miners: [] });
    const got = await fetch(`${server.url}/outputs/7/${MINER_B}`);
    expect(got.status).toBe(200);
    expect(got.headers.get("content-length")).toBe("96");
    expect(new Uint8Array(await got.arrayBuffer())).toEqual(good);
    expect((await fetch(`${server.url}/outputs/7/${MINER_C}`)).status).toBe(404);
  });

  it("answers 503 to outputs when no committed outputs are configured", async () => {
    const other = mkdtempSync(path.join(os.tmpdir(), "demle-data-"));
    const bare = await startDataServer({ dir: other });
    try {
      const res = await fetch(`${bare.url}/outputs/7/${MINER_A}`, { method: "PUT", body: littleEndian(WORDS) });
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: string }).error).toMatch(/cannot check outputs/);
      expect(filesUnder(other)).toEqual([]);
    } finally {
      await bare.close();
      rmSync(other, { recursive: true, force: true });
    }
  });

  it("client: puts, fetches, lists and reports failures in one line", async () => {
    const bytes = new TextEncoder().encode("weights of a model");
    const { sha256: name, url } = await putBlob(server.url, bytes);
    expect(name).toBe(sha256(bytes));
    expect(url).toBe(blobUrl(server.url, name));
    expect(await fetchBlob(url, { sha256: name, maxBytes: 1000 })).toEqual(bytes);
    expect(await fetchBlob(url, { maxBytes: bytes.length })).toEqual(bytes);
    await expect(fetchBlob(url, { maxBytes: bytes.length - 1 })).rejects.toThrow(
      `GET ${url}: too large: ${bytes.length} bytes, the limit is ${bytes.length - 1}`,
    );
    const other = "c".repeat(64);
    await expect(fetchBlob(url, { sha256: other, maxBytes: 1000 })).rejects.toThrow(
      `GET ${url}: hash mismatch: the ${bytes.length} bytes have sha256 ${name}, expected ${other}`,
    );
    const missing = blobUrl(server.url, other);
    await expect(fetchBlob(missing, { maxBytes: 1000 })).rejects.toThrow(`GET ${missing}: HTTP 404: no blob ${other}`);
    await expect(putBlob(server.url, new Uint8Array(MAX + 1))).rejects.toThrow(
      /^PUT .*: HTTP 413: blob of 1025 bytes exceeds/,
    );

    const good = littleEndian(WORDS);
    await putOutputs(server.url, 7n, MINER_A, good);
    const flipped = WORDS.slice();
    flipped[0] = flipped[0]! ^ 0x80000000;
    await expect(putOutputs(server.url, 7n, MINER_C, littleEndian(flipped))).rejects.toThrow(
      /^PUT http:\/\/127\.0\.0\.1:\d+\/outputs\/7\/0x0+cc: HTTP 409: outputs of job 7 .* have Merkle root/,
    );
    expect(await listOutputs(server.url, 7n)).toEqual([MINER_A, MINER_B.toLowerCase()]);
    expect(await fetchOutputs(server.url, 7n, MINER_B, 96)).toEqual(good);
    await expect(fetchOutputs(server.url, 7n, MINER_B, 95)).rejects.toThrow(/too large: 96 bytes, the limit is 95/);
    await expect(fetchOutputs(server.url, 7n, MINER_C, 96)).rejects.toThrow(/HTTP 404: no outputs of miner/);

    for (const message of [
      (await fetchBlob(url, { maxBytes: 0 }).catch((error: Error) => error)) as Error,
      (await putOutputs(server.url, 8n, MINER_A, good).catch((error: Error) => error)) as Error,
    ]) {
      expect(message).toBeInstanceOf(Error);
      expect(message.message).not.toContain("\n");
    }
  });

  it("client: refuses non-local URLs and reports refused connections, streamed overflows and timeouts", async () => {
    expect(originOf("http://localhost:8080/blobs/x")).toBe("http://localhost:8080");
    expect(originOf("http://127.0.0.1:9/")).toBe("http://127.0.0.1:9");
    expect(() => originOf("https://127.0.0.1:443/")).toThrow(/must use http:/);
    expect(() => originOf("file:///etc/passwd")).toThrow(/must use http:/);
    expect(() => originOf("http://example.com:80/")).toThrow(/must be on 127\.0\.0\.1 or localhost/);
    expect(() => originOf("http://127.0.0.1/")).toThrow(/must name its port/);
    expect(() => originOf("not a url")).toThrow(/is not a URL/);
    expect(() => blobUrl("http://127.0.0.1:1", "ABC")).toThrow(/64 lowercase hex/);
    await expect(fetchBlob("ftp://127.0.0.1:21/x", { maxBytes: 1 })).rejects.toThrow(/must use http:/);

    // A port nobody listens on.
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const refused = `http://127.0.0.1:${port}/blobs/${"d".repeat(64)}`;
    await expect(fetchBlob(refused, { maxBytes: 10 })).rejects.toThrow(
      `GET ${refused}: connection refused (ECONNREFUSED)`,
    );

    // A server streaming without Content-Length, and one that stalls after its headers.
    const rogue = http.createServer((req, res) => {
      res.writeHead(200, { "Content-Type": "application/octet-stream" });
      if (req.url === "/stall") {
        res.write("x");
        return;
      }
      let sent = 0;
      const timer = setInterval(() => {
        if (res.destroyed || sent > 1_000_000) {
          clearInterval(timer);
          res.end();
          return;
        }
        res.write(Buffer.alloc(4096));
        sent += 4096;
      }, 1);
    });
    await new Promise<void>((resolve) => rogue.listen(0, "127.0.0.1", resolve));
    const rogueOrigin = `http://127.0.0.1:${(rogue.address() as net.AddressInfo).port}`;
    try {
      await expect(fetchBlob(`${rogueOrigin}/stream`, { maxBytes: 10_000 })).rejects.toThrow(
        `GET ${rogueOrigin}/stream: too large: more than 10000 bytes`,
      );
      const started = Date.now();
      await expect(fetchBlob(`${rogueOrigin}/stall`, { maxBytes: 10, timeoutMs: 300 })).rejects.toThrow(
        `GET ${rogueOrigin}/stall: body not received: timed out after 300 ms`,
      );
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      rogue.closeAllConnections();
      await new Promise<void>((resolve) => rogue.close(() => resolve()));
    }
  });
});

describe("data server idle timeout", () => {
  it("closes a stalled upload (408, no temporary file) and a silent connection", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "demle-data-"));
    const server = await startDataServer({ dir, idleTimeoutMs: 300 });
    const talk = (text: string) => rawText(server.port, text);
    try {
      const stalled = await talk(
        `PUT /blobs/${"e".repeat(64)} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n0123456789`,
      );
      expect(stalled.answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(stalled.answer).toContain('{"error":"no traffic for 300 ms: request timed out"}');
      expect(stalled.ms).toBeGreaterThanOrEqual(250);
      expect(stalled.ms).toBeLessThan(5000);
      // The server removes the partial upload once it sees the connection closed.
      await vi.waitFor(() => expect(filesUnder(dir)).toEqual([]));
      const silent = await talk("");
      expect(silent.answer).toBe("");
      expect(silent.ms).toBeLessThan(5000);
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
