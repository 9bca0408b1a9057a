/**
 * Client of the data server (data/server.ts, docs/jobs.md "Data server"), used by the miner and the CLI: store and
 * fetch content-addressed blobs, deliver, list and fetch a job's outputs. Only local servers are spoken to
 * (`http://127.0.0.1:PORT` or `http://localhost:PORT`). Every download is bounded while it streams and every request
 * has a timeout; every failure is one-line Error naming the URL and what went wrong.
 */
import { sha256Hex } from "../common/job-files.js";

/** Default timeout of a blob transfer or a listing. */
export const DEFAULT_TIMEOUT_MS = 30_000;
/** Default timeout of an outputs delivery: the server recomputes the outputs' Merkle root before it answers. */
export const DEFAULT_OUTPUTS_TIMEOUT_MS = 600_000;

const SHA256 = /^[0-9a-f]{64}$/;
const MINER = /^0x[0-9a-fA-F]{40}$/;

export interface RequestOptions {
  readonly timeoutMs?: number;
}

/**
 * The origin (`http://host:port`) of a data server URL. Only http URLs of 127.0.0.1 or localhost with an explicit port
 * are accepted.
 */
export function originOf(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`data server URL ${JSON.stringify(url)} is not a URL`);
  }
  if (parsed.protocol !== "http:") {
    throw new Error(`data server URL ${url} must use http: (got ${parsed.protocol}); only local servers are supported`);
  }
  if (parsed.hostname !== "127.0.0.1" && parsed.hostname !== "localhost") {
    throw new Error(`data server URL ${url} must be on 127.0.0.1 or localhost, not ${parsed.hostname}`);
  }
  if (parsed.port === "") throw new Error(`data server URL ${url} must name its port (http://127.0.0.1:PORT)`);
  if (parsed.username !== "" || parsed.password !== "")
    throw new Error(`data server URL ${url} must not hold credentials`);
  return `http://${parsed.hostname}:${parsed.port}`;
}

function checkSha256(sha256: string): void {
  if (!SHA256.test(sha256)) throw new Error(`sha256 must be 64 lowercase hex digits, got ${JSON.stringify(sha256)}`);
}

function checkJobId(jobId: bigint): void {
  if (jobId < 0n || jobId >= 1n << 256n) throw new Error(`job id must be a uint256, got ${jobId}`);
}

function checkMiner(miner: string): string {
  if (!MINER.test(miner)) throw new Error(`miner must be a 0x address of 40 hex digits, got ${JSON.stringify(miner)}`);
  return miner.toLowerCase();
}

/** The URL of blob `sha256` on the data server at `origin`. */
export function blobUrl(origin: string, sha256: string): string {
  checkSha256(sha256);
  return `${originOf(origin)}/blobs/${sha256}`;
}

function outputsUrl(origin: string, jobId: bigint, miner?: string): string {
  checkJobId(jobId);
  return `${originOf(origin)}/outputs/${jobId}${miner === undefined ? "" : `/${checkMiner(miner)}`}`;
}

const oneLine = (text: string) => text.replace(/\s*\n\s*/g, " ").trim();

/** Why a fetch failed, in a few words: timed out, ECONNREFUSED, … */
function failure(error: unknown, timeoutMs: number): string {
  const name = (error as { name?: string }).name;
  if (name === "TimeoutError") return `timed out after ${timeoutMs} ms`;
  if (name === "AbortError") return "aborted";
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const detail = cause?.code ?? cause?.message ?? (error as Error).message;
  return cause?.code === "ECONNREFUSED" ? `connection refused (${detail})` : oneLine(String(detail));
}

/** The bytes as a fetch body (typed arrays over a SharedArrayBuffer are copied). */
function asBodyInit(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const buffer = bytes.buffer;
  return buffer instanceof ArrayBuffer
    ? new Uint8Array(buffer, bytes.byteOffset, bytes.byteLength)
    : new Uint8Array(bytes);
}

/** Attempts of a request whose connection broke before any answer (a reused keep-alive socket the server closed). */
const CONNECTION_ATTEMPTS = 3;

/** Whether a failed fetch broke on the connection itself (not a timeout, an abort or a refused connection). */
function brokenConnection(error: unknown): boolean {
  const name = (error as { name?: string }).name;
  const code = (error as { cause?: { code?: string } }).cause?.code;
  return name !== "TimeoutError" && name !== "AbortError" && code !== "ECONNREFUSED";
}

/**
 * `fetch` with a timeout; a network failure becomes "<METHOD> <url>: <reason>". Every request here is idempotent (GETs,
 * and PUTs of content-addressed or committed bytes), so one whose connection broke is sent again.
 */
async function request(method: string, url: string, timeoutMs: number, body?: Uint8Array): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetch(url, {
        method,
        signal: AbortSignal.timeout(timeoutMs),
        ...(body !== undefined
          ? {
              body: asBodyInit(body),
              headers: { "content-type": "application/octet-stream" },
            }
          : {}),
      });
    } catch (error) {
      if (attempt < CONNECTION_ATTEMPTS && brokenConnection(error)) continue;
      throw new Error(`${method} ${url}: ${failure(error, timeoutMs)}`);
    }
  }
}

/** Throws "<METHOD> <url>: HTTP <status>: <server's error>" unless the status is one of `ok`. */
async function expectStatus(method: string, url: string, response: Response, ok: readonly number[]): Promise<void> {
  if (ok.includes(response.status)) return;
  let reason = response.statusText;
  try {
    const text = (await response.text()).slice(0, 2000);
    try {
      const body = JSON.parse(text) as { error?: unknown };
      reason = typeof body.error === "string" ? body.error : text;
    } catch {
      reason = text || reason;
    }
  } catch {
    // the body could not be read: keep the status text
  }
  throw new Error(`${method} ${url}: HTTP ${response.status}${reason ? `: ${oneLine(reason)}` : ""}`);
}

/** Reads a response body of at most `maxBytes` bytes, cancelling the download as soon as it is larger. */
async function readBounded(url: string, response: Response, maxBytes: number, timeoutMs: number): Promise<Uint8Array> {
  const declared = response.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) {
    await response.body?.cancel().catch(() => {});
    throw new Error(`GET ${url}: too large: ${declared} bytes, the limit is ${maxBytes}`);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (response.body) {
    const reader = response.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        total += value.byteLength;
        if (total > maxBytes) {
          await reader.cancel().catch(() => {});
          throw new Error(`GET ${url}: too large: more than ${maxBytes} bytes`);
        }
        chunks.push(value);
      }
    } catch (error) {
      if ((error as Error).message.startsWith(`GET ${url}: `)) throw error;
      throw new Error(`GET ${url}: body not received: ${failure(error, timeoutMs)}`);
    } finally {
      reader.releaseLock();
    }
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** Stores `bytes` on the data server at `origin`; returns its sha256 and URL. */
export async function putBlob(
  origin: string,
  bytes: Uint8Array,
  options: RequestOptions = {},
): Promise<{ sha256: string; url: string }> {
  const sha256 = sha256Hex(bytes);
  const url = blobUrl(origin, sha256);
  const response = await request("PUT", url, options.timeoutMs ?? DEFAULT_TIMEOUT_MS, bytes);
  await expectStatus("PUT", url, response, [200, 201]);
  await response.body?.cancel().catch(() => {});
  return { sha256, url };
}

/**
 * Downloads `url` (a local data server's URL) with at most `maxBytes` bytes; when `sha256` is given the bytes must
 * hash to it.
 */
export async function fetchBlob(
  url: string,
  options: { sha256?: string; maxBytes: number; timeoutMs?: number },
): Promise<Uint8Array> {
  originOf(url);
  if (options.sha256 !== undefined) checkSha256(options.sha256);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const response = await request("GET", url, timeoutMs);
  await expectStatus("GET", url, response, [200]);
  const bytes = await readBounded(url, response, options.maxBytes, timeoutMs);
  if (options.sha256 !== undefined) {
    const actual = sha256Hex(bytes);
    if (actual !== options.sha256) {
      throw new Error(
        `GET ${url}: hash mismatch: the ${bytes.length} bytes have sha256 ${actual}, expected ${options.sha256}`,
      );
    }
  }
  return bytes;
}

/** Delivers a miner's outputs (M×N float32 little-endian) for a job; throws with the server's reason on refusal. */
export async function putOutputs(
  origin: string,
  jobId: bigint,
  miner: string,
  bytes: Uint8Array,
  options: RequestOptions = {},
): Promise<void> {
  const url = outputsUrl(origin, jobId, miner);
  const response = await request("PUT", url, options.timeoutMs ?? DEFAULT_OUTPUTS_TIMEOUT_MS, bytes);
  await expectStatus("PUT", url, response, [200, 201]);
  await response.body?.cancel().catch(() => {});
}

/** The (lowercase) miners whose outputs for `jobId` the server holds. */
export async function listOutputs(origin: string, jobId: bigint, options: RequestOptions = {}): Promise<string[]> {
  const url = outputsUrl(origin, jobId);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const response = await request("GET", url, timeoutMs);
  await expectStatus("GET", url, response, [200]);
  const text = new TextDecoder().decode(await readBounded(url, response, 16 * 1024 * 1024, timeoutMs));
  let miners: unknown;
  try {
    miners = (JSON.parse(text) as { miners?: unknown }).miners;
  } catch {
    throw new Error(`GET ${url}: the answer is not JSON`);
  }
  if (!Array.isArray(miners) || !miners.every((miner) => typeof miner === "string" && MINER.test(miner))) {
    throw new Error(`GET ${url}: the answer has no "miners" list of addresses`);
  }
  return miners as string[];
}

/** A miner's stored outputs for `jobId`, at most `maxBytes` bytes. */
export async function fetchOutputs(
  origin: string,
  jobId: bigint,
  miner: string,
  maxBytes: number,
  options: RequestOptions = {},
): Promise<Uint8Array> {
  return fetchBlob(outputsUrl(origin, jobId, miner), { maxBytes, ...options });
}
