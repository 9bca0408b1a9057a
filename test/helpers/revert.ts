// Custom-error assertions for contract calls, independent of chai matchers.
import { isError, type Interface } from "ethers";
import { expect } from "vitest";

/** The revert data carried by an ethers error, wherever the provider put it. */
export function revertData(err: unknown): string {
  if (isError(err, "CALL_EXCEPTION") && err.data) return err.data;
  const nested = (err as { data?: unknown; error?: { data?: unknown } } | null) ?? {};
  for (const candidate of [nested.data, nested.error?.data]) {
    if (typeof candidate === "string" && candidate.startsWith("0x")) return candidate;
  }
  throw new Error(`no revert data in error: ${String(err)}`, { cause: err });
}

/** Awaits `action`, requires it to revert with custom error `name(args)` as decoded by `iface`. */
export async function expectCustomError(
  action: Promise<unknown>,
  iface: Interface,
  name: string,
  args: readonly unknown[] = [],
): Promise<void> {
  let caught: unknown;
  try {
    await action;
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected a revert with ${name}`).toBeDefined();
  const decoded = iface.parseError(revertData(caught));
  expect(decoded?.name).toBe(name);
  expect([...(decoded?.args ?? [])]).toEqual([...args]);
}
