/** Retries for JSON-RPC calls: transient transport and server errors are retried with exponential backoff. */
import { setTimeout as sleep } from "node:timers/promises";
import { isError } from "ethers";

export interface RetryOptions {
  /** Attempts in all (default 6). */
  readonly attempts?: number;
  /** First delay; doubles each time, capped at maxDelayMs (defaults 500 ms, 15 s). */
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Called before each retry. */
  readonly onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

/** True for errors worth retrying: the node was unreachable, timed out or failed; never for reverts or bad input. */
export function isTransientRpcError(error: unknown): boolean {
  if (isError(error, "CALL_EXCEPTION") || isError(error, "INVALID_ARGUMENT") || isError(error, "INSUFFICIENT_FUNDS")) {
    return false;
  }
  if (isError(error, "NETWORK_ERROR") || isError(error, "SERVER_ERROR") || isError(error, "TIMEOUT")) return true;
  const code = (error as { code?: unknown } | undefined)?.code;
  if (
    typeof code === "string" &&
    ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "UND_ERR_SOCKET"].includes(code)
  ) {
    return true;
  }
  const message = error instanceof Error ? error.message : String(error);
  return /ECONNREFUSED|ECONNRESET|socket hang up|fetch failed|timeout/i.test(message);
}

export async function withRetry<T>(what: string, fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 6;
  let delay = options.baseDelayMs ?? 500;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (attempt >= attempts || !isTransientRpcError(error)) {
        if (attempt > 1 && error instanceof Error)
          error.message = `${what}: ${error.message} (after ${attempt} attempts)`;
        throw error;
      }
      options.onRetry?.(error, attempt, delay);
      await sleep(delay);
      delay = Math.min(delay * 2, options.maxDelayMs ?? 15_000);
    }
  }
}

/**
 * A JSON-RPC call retried for as long as the node is unreachable (backoff capped at 10 s), each retry reported through
 * `log`: an outage shorter than a proof window costs nothing, and after a longer one the work is found expired.
 */
export function retryUntilReachable<T>(what: string, fn: () => Promise<T>, log: (message: string) => void): Promise<T> {
  return withRetry(what, fn, {
    attempts: Number.POSITIVE_INFINITY,
    maxDelayMs: 10_000,
    onRetry: (error, attempt, delay) =>
      log(`RPC error in ${what} (attempt ${attempt}), retrying in ${delay} ms: ${String(error).slice(0, 160)}`),
  });
}
