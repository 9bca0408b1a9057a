/**
 * Process-level helpers around snarkjs: the shared bn128 curve's lifetime, a progress logger, the package location.
 *
 * snarkjs (through ffjavascript) builds one multi-threaded curve per process on first use and keeps it in
 * `globalThis.curve_bn128`; its worker threads keep the process alive until `curve.terminate()` is called. Setup and
 * ptau code runs inside `withBn128Curve`, which terminates the curve after the outermost call returns if that call
 * created it (a curve somebody else created and still uses is left alone).
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import type { Curve, SnarkjsLogger } from "snarkjs";

interface CurveGlobal {
  curve_bn128?: Curve | null;
}

let depth = 0;
let existedBefore = false;

function globalCurve(): Curve | null | undefined {
  return (globalThis as CurveGlobal).curve_bn128;
}

export async function withBn128Curve<T>(fn: () => Promise<T>): Promise<T> {
  if (depth === 0) existedBefore = globalCurve() != null;
  depth++;
  try {
    return await fn();
  } finally {
    depth--;
    if (depth === 0 && !existedBefore) await terminateBn128Curve();
  }
}

/** Terminates the shared curve's worker threads, if any. Safe to call when there is none. */
export async function terminateBn128Curve(): Promise<void> {
  const curve = globalCurve();
  if (curve) {
    await curve.terminate(); // also resets globalThis.curve_bn128, so the next snarkjs call builds a fresh curve
    (globalThis as CurveGlobal).curve_bn128 = null;
  }
}

export type LogFn = (line: string) => void;

export const stderrLog =
  (prefix: string): LogFn =>
  (line) =>
    process.stderr.write(`[${prefix}] ${line}\n`);

export interface CollectingLogger extends SnarkjsLogger {
  /** Messages snarkjs logged at error level; several snarkjs functions log the reason and then return false/-1. */
  readonly errors: string[];
}

/**
 * A snarkjs logger that forwards info/warn/error lines and at most one debug (fine-grained progress) line every
 * `debugEveryMs`, prefixed with the current step.
 */
export function progressLogger(log: LogFn, step: () => string, debugEveryMs = 5_000): CollectingLogger {
  const errors: string[] = [];
  let lastDebug = 0;
  // snarkjs prints hashes as 4 indented lines of 8-hex-digit words; keep one line, the first 16 hex digits.
  const compact = (message: string) =>
    message.replace(
      /:?\s*\n\s*((?:[0-9a-f]{8}\s*)+)$/,
      (_m, hex: string) => `: ${hex.replace(/\s+/g, "").slice(0, 16)}…`,
    );
  const debug = (message: string) => {
    const now = Date.now();
    if (now - lastDebug >= debugEveryMs) {
      lastDebug = now;
      log(`${step()}: ${compact(message)}`);
    }
  };
  return {
    errors,
    log: debug,
    debug,
    info(message) {
      log(`${step()}: ${compact(message.trim())}`);
    },
    warn(message) {
      log(`${step()}: warning: ${message}`);
    },
    error(message) {
      errors.push(message);
      log(`${step()}: error: ${message}`);
    },
  };
}

const require = createRequire(import.meta.url);

/** Root directory of the installed snarkjs package (its `exports` map hides package.json, so walk up from main). */
export function snarkjsPackageDir(): string {
  let dir = path.dirname(require.resolve("snarkjs"));
  for (;;) {
    const pkg = path.join(dir, "package.json");
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "snarkjs") return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("cannot locate the snarkjs package directory");
    dir = parent;
  }
}

export function snarkjsVersion(): string {
  const pkg = JSON.parse(readFileSync(path.join(snarkjsPackageDir(), "package.json"), "utf8")) as { version: string };
  return pkg.version;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
