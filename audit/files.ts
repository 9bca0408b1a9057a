/**
 * Small helpers of the audit and ceremony code: file hashes, repo-relative paths for files that get committed, and
 * JSON written the way the repo's prettier check expects.
 */
import { createHash } from "node:crypto";
import { createReadStream, readFileSync } from "node:fs";
import path from "node:path";
import { REPO_ROOT } from "../circuits/compile.js";
import { writeFileAtomic } from "../common/files.js";

/** sha256 (hex) of a file, streamed. Same digest as `sha256sum`. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 22 })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

export function sha256Text(text: string | Uint8Array): string {
  return createHash("sha256").update(text).digest("hex");
}

/**
 * A path as recorded in committed files: relative to the repo root with "/" separators when the file is inside the
 * repo, absolute otherwise (temporary ceremonies of the tests). Committed files never hold absolute paths.
 */
export function recordedPath(file: string): string {
  const rel = path.relative(REPO_ROOT, path.resolve(file));
  if (rel === "" || rel.startsWith("..") || path.isAbsolute(rel)) return path.resolve(file);
  return rel.split(path.sep).join("/");
}

/** Inverse of recordedPath: repo-relative paths are resolved against the repo root. */
export function resolveRecorded(file: string): string {
  return path.isAbsolute(file) ? file : path.join(REPO_ROOT, ...file.split("/"));
}

/** A path for messages: repo-relative inside the repo, absolute elsewhere. */
export function displayPath(file: string): string {
  return recordedPath(file);
}

export function readJson<T>(file: string, what: string): T {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new Error(`cannot read ${what} ${displayPath(file)}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new Error(`${what} ${displayPath(file)} is not valid JSON: ${(error as Error).message}`);
  }
}

/**
 * JSON text formatted by the repo's prettier configuration (so committed manifests and transcripts pass
 * `npm run format`); plain 2-space JSON when prettier is not installed (a production install without devDependencies).
 */
export async function formatJson(value: unknown, file: string): Promise<string> {
  const text = `${JSON.stringify(value, null, 2)}\n`;
  try {
    const prettier = await import("prettier");
    const config = (await prettier.resolveConfig(file)) ?? {};
    return await prettier.format(text, { ...config, filepath: file });
  } catch {
    return text;
  }
}

export async function writeJsonFile(file: string, value: unknown): Promise<void> {
  writeFileAtomic(file, await formatJson(value, file));
}
