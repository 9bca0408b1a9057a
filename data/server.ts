/**
 * The content-addressed data server of useful-work jobs (docs/jobs.md, "Data server"): node:http on 127.0.0.1 only.
 *
 * - `PUT /blobs/<sha256>` stores a blob (inputs, models) whose body must hash to its name; `GET`/`HEAD` serve it.
 * - `PUT /outputs/<jobId>/<miner>` stores a miner's outputs (M×N float32 little-endian, row-major) only if their
 *   output Merkle root (the job op's output tree, as `CommittedOutputs` computes it) is the root that miner committed for that job, as told by
 *   {@link CommittedOutputs}; `GET /outputs/<jobId>` lists the miners whose outputs are stored, `GET
 *   /outputs/<jobId>/<miner>` serves them.
 *
 * Every name is checked against a strict pattern before the file system is touched (no path traversal), every body
 * is bounded (`maxBytes`, checked on Content-Length and again while streaming), files are written to a temporary
 * sibling, fsynced and renamed, and idle connections are closed after `idleTimeoutMs`. Errors are JSON
 * `{"error": "…"}`; one log line per request.
 *
 * Layout under `dir`: `blobs/<sha256>`, `outputs/<jobId>/<miner lowercase>`; temporary files start with a dot.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import path from "node:path";
import { pipeline } from "node:stream/promises";
/** What a miner committed on chain for a job: its output root, and how the job's outputs make a root. */
export interface CommittedOutput {
  readonly outputRoot: bigint;
  /** Float32 words of the job's output file. */
  readonly outputWords: number;
  /** e.g. "64×8": named in size errors. */
  readonly description: string;
  /** The output Merkle root of a whole output file's words (the op's tile layout). */
  root(words: Uint32Array): Promise<bigint>;
}

export interface CommittedOutputs {
  /** `miner` is a lowercase 0x address. Undefined when that miner holds no commitment for that job. */
  lookup(jobId: bigint, miner: string): Promise<CommittedOutput | undefined>;
}

export interface DataServerOptions {
  /** Storage directory (created if missing). */
  readonly dir: string;
  /** TCP port on 127.0.0.1; 0 (the default) picks a free one. */
  readonly port?: number;
  /** Largest accepted body, in bytes. Default 64 MiB. */
  readonly maxBytes?: number;
  /** Where committed output roots come from; without it `PUT /outputs/…` answers 503. */
  readonly committedOutputs?: CommittedOutputs;
  /** A connection with no traffic for this long is closed (408 when a request is pending). Default 30,000 ms. */
  readonly idleTimeoutMs?: number;
  /** One line per request: method, path, status, body bytes, milliseconds. */
  readonly log?: (line: string) => void;
}

export interface DataServer {
  /** `http://127.0.0.1:PORT` (no trailing slash). */
  readonly url: string;
  readonly port: number;
  /** The bound address (always 127.0.0.1). */
  address(): AddressInfo;
  close(): Promise<void>;
}

export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

/** Name patterns: the only strings ever joined to a path. */
const SHA256 = /^[0-9a-f]{64}$/;
const JOB_ID = /^(0|[1-9][0-9]{0,77})$/;
const MINER = /^0x[0-9a-fA-F]{40}$/;
const STORED_MINER = /^0x[0-9a-f]{40}$/;
const UINT256_MAX = (1n << 256n) - 1n;

/** Host names the server answers to (a DNS-rebinding guard: it listens on the loopback interface only). */
const LOCAL_HOSTS = /^(127\.0\.0\.1|localhost)(:\d+)?$/i;

const SECURITY_HEADERS = { "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store" } as const;

/** An answer that ends a request with an error status. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: http.OutgoingHttpHeaders = {},
  ) {
    super(message);
  }
}

/** Headers set one by one (so the request log can read Content-Length back), then sent. */
function writeHead(res: http.ServerResponse, status: number, headers: http.OutgoingHttpHeaders): void {
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) res.setHeader(name, value);
  res.writeHead(status);
}

/** Ends the body reading of a request (the idle timeout uses it to answer 408 to a stalled upload). */
const bodyReaders = new WeakMap<http.IncomingMessage, (error: Error) => void>();

/** The request ended before its body did (client gone or timed out): nothing can be answered. */
class Aborted extends Error {}

type Route =
  | { kind: "blob"; sha256: string }
  | { kind: "job"; jobId: bigint; jobName: string }
  | { kind: "outputs"; jobId: bigint; jobName: string; miner: string };

function parseJobId(name: string): bigint {
  if (!JOB_ID.test(name) || BigInt(name) > UINT256_MAX) {
    throw new HttpError(
      400,
      `malformed job id ${JSON.stringify(name)}: expected a decimal uint256 without leading zeros`,
    );
  }
  return BigInt(name);
}

function parseMiner(name: string): string {
  if (!MINER.test(name))
    throw new HttpError(400, `malformed miner address ${JSON.stringify(name)}: expected 0x and 40 hex digits`);
  return name.toLowerCase();
}

/** The route of a raw request path (percent-escapes are never decoded: an escaped name is simply malformed). */
function route(pathname: string): Route {
  const parts = pathname.split("/").slice(1);
  const [top, ...rest] = parts;
  if (top === "blobs" && rest.length > 0) {
    const name = rest.join("/");
    if (rest.length !== 1 || !SHA256.test(name)) {
      throw new HttpError(
        400,
        `malformed blob name ${JSON.stringify(name.slice(0, 100))}: expected 64 lowercase hex digits`,
      );
    }
    return { kind: "blob", sha256: name };
  }
  if (top === "outputs" && rest.length > 0) {
    if (rest.length > 2) throw new HttpError(400, "malformed outputs path: expected /outputs/<jobId>[/<miner>]");
    const jobName = rest[0]!;
    const jobId = parseJobId(jobName);
    if (rest.length === 1) return { kind: "job", jobId, jobName };
    return { kind: "outputs", jobId, jobName, miner: parseMiner(rest[1]!) };
  }
  throw new HttpError(404, `no route ${JSON.stringify(pathname.slice(0, 100))}`);
}

function allowMethods(method: string, allowed: readonly string[]): void {
  if (!allowed.includes(method)) {
    throw new HttpError(405, `method ${method} not allowed here (allowed: ${allowed.join(", ")})`, {
      Allow: allowed.join(", "),
    });
  }
}

/** Rejects a declared Content-Length above `limit` before any byte of the body is read. */
function checkDeclaredLength(req: http.IncomingMessage, limit: number, what: string): void {
  const header = req.headers["content-length"];
  if (header !== undefined && Number(header) > limit) {
    throw new HttpError(413, `${what} of ${header} bytes exceeds the limit of ${limit} bytes`);
  }
}

/**
 * Reads the request body chunk by chunk (with backpressure), passing each chunk to `onChunk`. Throws a 413 as soon as
 * more than `limit` bytes arrived (the rest of the body is then discarded unread) and {@link Aborted} when the
 * request ends early.
 */
function readBody(
  req: http.IncomingMessage,
  limit: number,
  onChunk: (chunk: Buffer) => Promise<void> | void,
  tooLarge: (received: number) => HttpError,
): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let received = 0;
    let settled = false;
    const settle = (error?: Error) => {
      if (settled) return;
      settled = true;
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
      bodyReaders.delete(req);
      if (error) reject(error);
      else resolve(received);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) {
        settle(tooLarge(received));
        req.resume(); // discard whatever else comes until the connection closes
        return;
      }
      const pending = onChunk(chunk);
      if (pending) {
        req.pause();
        pending.then(
          () => {
            if (!settled) req.resume();
          },
          (error: unknown) => settle(error as Error),
        );
      }
    };
    const onEnd = () => settle();
    const onError = () => settle(new Aborted("request aborted"));
    const onClose = () => settle(req.complete ? undefined : new Aborted("request aborted"));
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
    bodyReaders.set(req, settle);
  });
}

function tempName(dir: string, base: string): string {
  return path.join(dir, `.${base}.${randomBytes(8).toString("hex")}.tmp`);
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes `data` to `file` through a uniquely named temporary sibling, fsync and rename (then fsyncs the directory). */
async function writeAtomic(file: string, data: Uint8Array): Promise<void> {
  const tmp = tempName(path.dirname(file), path.basename(file));
  try {
    const handle = await open(tmp, "wx");
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  await fsyncDir(path.dirname(file));
}

async function exists(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
}

/** The float32 words of a little-endian byte string. */
function wordsOf(bytes: Uint8Array): Uint32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const words = new Uint32Array(bytes.byteLength / 4);
  for (let i = 0; i < words.length; i++) words[i] = view.getUint32(4 * i, true);
  return words;
}

const hex = (value: bigint) => `0x${value.toString(16).padStart(64, "0")}`;

/** Starts the data server on 127.0.0.1. */
export async function startDataServer(options: DataServerOptions): Promise<DataServer> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1)
    throw new RangeError(`maxBytes must be a positive integer, got ${maxBytes}`);
  if (!Number.isSafeInteger(idleTimeoutMs) || idleTimeoutMs < 1) {
    throw new RangeError(`idleTimeoutMs must be a positive integer, got ${idleTimeoutMs}`);
  }
  const blobsDir = path.resolve(options.dir, "blobs");
  const outputsDir = path.resolve(options.dir, "outputs");
  await mkdir(blobsDir, { recursive: true });
  await mkdir(outputsDir, { recursive: true });
  const log = options.log ?? (() => {});
  /** The response pending on each connection, so an idle timeout can find the request it stalls. */
  const pending = new Map<Socket, http.ServerResponse>();

  const json = (res: http.ServerResponse, status: number, body: unknown, headers: http.OutgoingHttpHeaders = {}) => {
    const text = JSON.stringify(body);
    writeHead(res, status, {
      ...SECURITY_HEADERS,
      ...headers,
      "Content-Type": "application/json",
      "Content-Length": Buffer.byteLength(text),
    });
    res.end(res.req.method === "HEAD" ? undefined : text);
  };

  /** Serves a stored file (a blob or a miner's outputs): 200 with its bytes, or 404. */
  const serveFile = async (req: http.IncomingMessage, res: http.ServerResponse, file: string, what: string) => {
    let size: number;
    try {
      const info = await stat(file);
      if (!info.isFile()) throw new HttpError(404, `no ${what}`);
      size = info.size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new HttpError(404, `no ${what}`);
      throw error;
    }
    const stream = createReadStream(file);
    // Opened before the headers go out, so a file removed meanwhile is still a clean error.
    await new Promise<void>((resolve, reject) => stream.once("open", () => resolve()).once("error", reject));
    writeHead(res, 200, {
      ...SECURITY_HEADERS,
      "Content-Type": "application/octet-stream",
      "Content-Length": size,
    });
    if (req.method === "HEAD") {
      stream.destroy();
      res.end();
      return;
    }
    await pipeline(stream, res);
  };

  const putBlob = async (req: http.IncomingMessage, res: http.ServerResponse, sha256: string): Promise<number> => {
    checkDeclaredLength(req, maxBytes, "blob");
    const file = path.join(blobsDir, sha256);
    const tmp = tempName(blobsDir, sha256);
    const handle = await open(tmp, "wx");
    const hash = createHash("sha256");
    let received: number;
    try {
      try {
        received = await readBody(
          req,
          maxBytes,
          async (chunk) => {
            hash.update(chunk);
            await handle.write(chunk);
          },
          (bytes) => new HttpError(413, `blob body exceeds the limit of ${maxBytes} bytes (${bytes} bytes received)`),
        );
        await handle.sync();
      } finally {
        await handle.close();
      }
      const actual = hash.digest("hex");
      if (actual !== sha256) throw new HttpError(422, `body sha256 is ${actual}, not the blob name ${sha256}`);
      if (await exists(file)) {
        await rm(tmp, { force: true });
        json(res, 200, { sha256, bytes: received, stored: false });
        return received;
      }
      await rename(tmp, file);
      await fsyncDir(blobsDir);
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
    json(res, 201, { sha256, bytes: received, stored: true });
    return received;
  };

  const putOutputs = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    target: Extract<Route, { kind: "outputs" }>,
  ): Promise<number> => {
    const source = options.committedOutputs;
    if (!source) throw new HttpError(503, "this data server has no chain connection: it cannot check outputs");
    const { jobId, miner } = target;
    const committed = await source.lookup(jobId, miner);
    if (!committed) throw new HttpError(404, `no output commitment of miner ${miner} for job ${jobId}`);
    const expected = committed.outputWords * 4;
    const wrongLength = (length: number | string) =>
      new HttpError(
        422,
        `outputs of job ${jobId} must be ${committed.description} float32 = ${expected} bytes, got ${length}`,
      );
    if (expected > maxBytes) {
      throw new HttpError(413, `outputs of job ${jobId} (${expected} bytes) exceed the limit of ${maxBytes} bytes`);
    }
    const declared = req.headers["content-length"];
    if (declared !== undefined && Number(declared) !== expected) throw wrongLength(declared);
    const body = Buffer.alloc(expected);
    let offset = 0;
    const received = await readBody(
      req,
      expected,
      (chunk) => {
        offset += chunk.copy(body, offset);
      },
      (bytes) => wrongLength(`at least ${bytes}`),
    );
    if (received !== expected) throw wrongLength(received);
    // The client waits while the root is computed (long for large grids): not an idle connection.
    req.socket.setTimeout(0);
    const root = await committed.root(wordsOf(body));
    req.socket.setTimeout(idleTimeoutMs);
    if (root !== committed.outputRoot) {
      throw new HttpError(
        409,
        `outputs of job ${jobId} by ${miner} have Merkle root ${hex(root)}, but the committed output root is ${hex(committed.outputRoot)}`,
      );
    }
    const jobDir = path.join(outputsDir, target.jobName);
    const file = path.join(jobDir, miner);
    // Identical bytes: 200. Different stored bytes (only possible if the commitment changed, e.g. a reorg) are
    // replaced, since these match the commitment as it is now.
    try {
      if (Buffer.from(await readFile(file)).equals(body)) {
        json(res, 200, { jobId: String(jobId), miner, bytes: received, stored: false });
        return received;
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    await mkdir(jobDir, { recursive: true });
    await writeAtomic(file, body);
    json(res, 201, { jobId: String(jobId), miner, bytes: received, stored: true });
    return received;
  };

  const listOutputs = async (res: http.ServerResponse, jobName: string) => {
    let names: string[];
    try {
      names = await readdir(path.join(outputsDir, jobName));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      names = [];
    }
    json(res, 200, { miners: names.filter((name) => STORED_MINER.test(name)).sort() });
  };

  /** Answers one request; returns the body bytes received (PUT) or undefined. */
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<number | undefined> => {
    if (!LOCAL_HOSTS.test(req.headers.host ?? "")) throw new HttpError(421, "misdirected request: unknown Host");
    const method = req.method ?? "GET";
    const pathname = (req.url ?? "/").split("?")[0]!;
    const target = route(pathname);
    switch (target.kind) {
      case "blob":
        allowMethods(method, ["GET", "HEAD", "PUT"]);
        if (method === "PUT") return putBlob(req, res, target.sha256);
        await serveFile(req, res, path.join(blobsDir, target.sha256), `blob ${target.sha256}`);
        return undefined;
      case "job":
        allowMethods(method, ["GET", "HEAD"]);
        await listOutputs(res, target.jobName);
        return undefined;
      case "outputs":
        allowMethods(method, ["GET", "HEAD", "PUT"]);
        if (method === "PUT") return putOutputs(req, res, target);
        await serveFile(
          req,
          res,
          path.join(outputsDir, target.jobName, target.miner),
          `outputs of miner ${target.miner} for job ${target.jobId}`,
        );
        return undefined;
    }
  };

  const server = http.createServer((req, res) => {
    const started = performance.now();
    const socket = req.socket;
    pending.set(socket, res);
    let bytesIn: number | undefined;
    let outcome = "";
    res.on("close", () => {
      if (pending.get(socket) === res) pending.delete(socket);
      const status = res.writableFinished
        ? String(res.statusCode)
        : `${res.headersSent ? res.statusCode : "-"} aborted`;
      const bytes = bytesIn ?? Number(res.getHeader("Content-Length") ?? 0);
      const shown = (req.url ?? "").slice(0, 200);
      log(`${req.method} ${shown} ${status} ${bytes}B ${Math.round(performance.now() - started)}ms${outcome}`);
    });
    handle(req, res)
      .then((received) => {
        bytesIn = received;
      })
      .catch((error: unknown) => {
        if (error instanceof Aborted) {
          res.destroy();
          return;
        }
        const known = error instanceof HttpError;
        const status = known ? error.status : 500;
        const message = (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, " ");
        if (!known) outcome = ` (${message})`;
        if (res.headersSent) {
          res.destroy();
          return;
        }
        // A body left unread (rejected early, or cut at the limit) is not drained: the connection closes.
        const unread = !req.complete;
        json(
          res,
          status,
          { error: message },
          { ...(known ? error.headers : {}), ...(unread ? { Connection: "close" } : {}) },
        );
      });
  });
  // Early rejections before a client that waits for "100 Continue" sends its body.
  server.on("checkContinue", (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (Number(req.headers["content-length"] ?? 0) > maxBytes) {
      server.emit("request", req, res);
      return;
    }
    res.writeContinue();
    server.emit("request", req, res);
  });
  server.setTimeout(idleTimeoutMs, (socket: Socket) => {
    const res = pending.get(socket);
    const stopReading = res && bodyReaders.get(res.req);
    if (stopReading) {
      // A stalled upload: its handler cleans up and answers 408; the connection closes right after.
      stopReading(new HttpError(408, `no traffic for ${idleTimeoutMs} ms: request timed out`));
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    // Waiting for this server (a lookup, a Merkle root) is not idleness; anything else is: an idle keep-alive
    // connection, a client that sends no complete request or does not read its answer.
    if (res && !res.headersSent) return;
    socket.destroy();
  });
  server.headersTimeout = Math.min(60_000, Math.max(idleTimeoutMs, 1000));
  server.requestTimeout = 0; // bounded by the idle timeout and the size limit instead
  server.keepAliveTimeout = Math.min(5000, idleTimeoutMs);

  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    address: () => server.address() as AddressInfo,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
