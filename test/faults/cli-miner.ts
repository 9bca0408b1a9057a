// `demle mine` as a child process, for the fault tests that drive the real CLI (miner-crash.faults.ts, the CLI outage
// of rpc-faults.faults.ts): start it, collect its JSON lines, read its state file.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Job } from "../../miner/miner.js";

export type StateFile = { jobs: Job[] };

/** The miner's state file, parsed; `parseError` when it does not parse; neither when it does not exist yet. */
export function readState(file: string): { state?: StateFile; parseError?: string } {
  if (!existsSync(file)) return {};
  try {
    return { state: JSON.parse(readFileSync(file, "utf8")) as StateFile };
  } catch (error) {
    return { parseError: String(error) };
  }
}

export interface CliMiner {
  readonly child: ChildProcess;
  /** Its stdout lines (JSON, `--json`); a last `{"type":"stderr"}` line holds the end of stderr after a failure. */
  readonly lines: string[];
  /** Resolves with the exit code (-1 when killed by a signal). */
  readonly exit: Promise<number>;
  /** Whether it has exited. */
  exited(): boolean;
}

/**
 * Starts `demle mine --json --commitments N --workers W --status-interval 3600` on a deployment file, with the key in
 * DEMLE_PRIVATE_KEY, as a miner would run it.
 */
export function startCliMiner(options: {
  rpc: string;
  deploymentFile: string;
  stateDir: string;
  key: string;
  commitments?: number;
  workers?: number;
}): CliMiner {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      path.join("cli", "demle.ts"),
      "mine",
      "--rpc",
      options.rpc,
      "--deployment",
      options.deploymentFile,
      "--state-dir",
      options.stateDir,
      "--commitments",
      String(options.commitments ?? 1),
      "--workers",
      String(options.workers ?? 1),
      "--status-interval",
      "3600",
      "--json",
    ],
    { env: { ...process.env, DEMLE_PRIVATE_KEY: options.key }, stdio: ["ignore", "pipe", "pipe"] },
  );
  const lines: string[] = [];
  let buffer = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split("\n");
    buffer = parts.pop()!;
    lines.push(...parts.filter((line) => line.length > 0));
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  let done = false;
  const exit = new Promise<number>((resolve) =>
    child.once("exit", (code, sig) => {
      done = true;
      if (code !== 0 && sig !== "SIGKILL") lines.push(JSON.stringify({ type: "stderr", message: stderr }));
      resolve(code ?? -1);
    }),
  );
  return { child, lines, exit, exited: () => done };
}

/** The `message` of each `{"type":"log"}` line. */
export function logMessages(lines: readonly string[]): string[] {
  const out: string[] = [];
  for (const line of lines) {
    try {
      const parsed = JSON.parse(line) as { type?: string; message?: unknown };
      if (parsed.type === "log" && typeof parsed.message === "string") out.push(parsed.message);
    } catch {
      // not JSON (a stray line of a library): skip
    }
  }
  return out;
}
