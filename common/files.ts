/**
 * File helpers: atomic writes (build artifacts, miner state) and a cross-process lock.
 *
 * A cross-process lock file, so two processes (a test run and a CLI, or two engineers' scripts) never build the same
 * ptau or setup artifacts at the same time. The lock holds the owner's pid; a lock whose owner is gone is taken over.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

function ownerAlive(lockPath: string): boolean {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(lockPath, "utf8"), 10);
  } catch {
    return true; // vanished or unreadable right now: look again on the next poll
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Runs `fn` while holding `lockPath`. Waits (polling) while another live process holds it, calling `onWait` once.
 * Locks are per process: a second call from the same process while the first is running waits as well.
 */
export async function withFileLock<T>(lockPath: string, fn: () => Promise<T>, onWait?: () => void): Promise<T> {
  mkdirSync(path.dirname(lockPath), { recursive: true });
  let waited = false;
  for (;;) {
    try {
      const fd = openSync(lockPath, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      if (!ownerAlive(lockPath)) {
        rmSync(lockPath, { force: true });
        continue;
      }
      if (!waited) onWait?.();
      waited = true;
      await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lockPath, { force: true });
  }
}

/**
 * Writes a file via a temporary sibling, fsync and a rename (then fsyncs the directory), so readers — and a process
 * restarted after a crash or power loss — see either the old or the new content, never a half-written file.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, "w");
  try {
    writeSync(fd, typeof data === "string" ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  const dir = openSync(path.dirname(file), "r");
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
