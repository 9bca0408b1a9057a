/** Hardhat's runtime for the CLI: it resolves hardhat.config.ts from the working directory, so load it from the repo. */
import { REPO_ROOT } from "../circuits/compile.js";

type HardhatRuntime = (typeof import("hardhat"))["default"];
let runtime: Promise<HardhatRuntime> | undefined;

function loadHardhat(): Promise<HardhatRuntime> {
  runtime ??= (async () => {
    const cwd = process.cwd();
    process.chdir(REPO_ROOT);
    try {
      return (await import("hardhat")).default;
    } finally {
      process.chdir(cwd);
    }
  })();
  return runtime;
}

/** Runs `fn` with the Hardhat runtime, in the repo root (Hardhat's tasks resolve paths from it). */
export async function withHardhat<T>(fn: (hre: HardhatRuntime) => Promise<T>): Promise<T> {
  const hre = await loadHardhat();
  const cwd = process.cwd();
  process.chdir(REPO_ROOT);
  try {
    return await fn(hre);
  } finally {
    process.chdir(cwd);
  }
}

/**
 * Makes an EDR network mine a block every `intervalMs` besides every transaction at once. (Set by RPC: Hardhat's
 * config validation refuses intervals below one second.)
 */
export async function setIntervalMining(
  provider: { request(args: { method: string; params?: unknown[] }): Promise<unknown> },
  intervalMs: number,
): Promise<void> {
  await provider.request({ method: "evm_setIntervalMining", params: [intervalMs] });
}
