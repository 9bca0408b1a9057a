/** What every benchmark records about where its numbers came from. */
import { execFileSync } from "node:child_process";
import path from "node:path";
import { REPO_ROOT } from "../circuits/compile.js";

/** A path relative to the repo if it is inside it, else absolute. */
export function displayPath(file: string): string {
  const rel = path.relative(REPO_ROOT, file);
  return rel.startsWith("..") || path.isAbsolute(rel) ? file : rel;
}

/** HEAD's commit, marked when the working tree has changes; null outside a git checkout. */
export function gitCommit(): string | null {
  try {
    const head = execFileSync("git", ["rev-parse", "HEAD"], { cwd: REPO_ROOT, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain"], { cwd: REPO_ROOT, encoding: "utf8" }).trim() !== "";
    return `${head}${dirty ? " (working tree modified)" : ""}`;
  } catch {
    return null;
  }
}
