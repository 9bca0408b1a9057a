// Shared by the contract property tests (contract-properties.faults.ts for seed work, jobs.faults.ts for the job
// market): fast-check's weighted choice, the BN254 field, assignment/commitment statuses, and a transaction harness that
// sends a call the TypeScript model expects to succeed or to revert with a given custom error (and arguments), charges
// the sender's modelled balance with the gas fee, and counts successes and reverts by action and error name.
import { isError, type ContractTransactionReceipt, type ContractTransactionResponse, type Interface } from "ethers";
import fc from "fast-check";
import { expect } from "vitest";
import { revertData } from "../helpers/revert.js";

/** The BN254 scalar field modulus. */
export const P = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;

/** Seed commitments' and job assignments' status, as the contract numbers it. */
export enum Status {
  None = 0,
  Committed = 1,
  Proven = 2,
  Slashed = 3,
}

/** A custom error and, where the model predicts them, its arguments. */
export interface Expected {
  name: string;
  args?: unknown[];
}

/** fast-check's oneof with weights: `weighted([[9, a], [1, b]])` draws a nine times as often as b. */
export const weighted = <T>(arbs: [number, fc.Arbitrary<T>][]) =>
  fc.oneof(...arbs.map(([weight, arbitrary]) => ({ weight, arbitrary })));

/** The revert data of a failed call (ethers' CALL_EXCEPTION or Hardhat's SolidityError); rethrows anything else. */
export function revertDataOf(err: unknown): string {
  if (!isError(err, "CALL_EXCEPTION") && !(err instanceof Error && err.name === "SolidityError")) throw err;
  return revertData(err);
}

/** The name and arguments of a revert, decoded with `iface`. */
export function decodeRevert(iface: Interface, err: unknown): { name: string; args: unknown[] } {
  const parsed = iface.parseError(revertDataOf(err));
  return { name: parsed?.name ?? "unknown", args: [...(parsed?.args ?? [])] };
}

/** Counters the harness keeps: calls by action label (succeeded / reverted) and reverts by error name. */
export interface CallCounters {
  actions: Record<string, { succeeded: number; reverted: number }>;
  reverts: Record<string, number>;
}

export interface CallHarness {
  /** Requires `got` to be `expected` (undefined: no revert expected), arguments included when the model gives them. */
  expectRevert(label: string, got: { name: string; args: unknown[] }, expected: Expected | undefined): void;
  /**
   * Sends a transaction of actor `from` that the model expects to succeed (expected === undefined) or revert with
   * `expected`; returns the receipt of a success, after charging `eth()[from]` with its gas fee.
   */
  send(
    label: string,
    from: number,
    iface: Interface,
    expected: Expected | undefined,
    tx: () => Promise<ContractTransactionResponse>,
  ): Promise<ContractTransactionReceipt | undefined>;
}

/** A harness counting into `counters` and charging gas to the modelled ETH balances `eth()`. */
export function callHarness(counters: CallCounters, eth: () => bigint[]): CallHarness {
  const expectRevert: CallHarness["expectRevert"] = (label, got, expected) => {
    expect(got.name, `${label}: unexpected revert`).toBe(expected?.name ?? "(success)");
    if (expected?.args) expect(got.args, `${label}: ${got.name}'s arguments`).toEqual(expected.args);
    counters.reverts[got.name] = (counters.reverts[got.name] ?? 0) + 1;
  };
  return {
    expectRevert,
    async send(label, from, iface, expected, tx) {
      const counts = (counters.actions[label] ??= { succeeded: 0, reverted: 0 });
      let response: ContractTransactionResponse;
      try {
        response = await tx();
      } catch (err) {
        expectRevert(label, decodeRevert(iface, err), expected);
        counts.reverted++;
        return undefined;
      }
      const receipt = await response.wait();
      expect(receipt?.status).toBe(1);
      expect(expected, `${label}: succeeded, model expected a revert`).toBeUndefined();
      eth()[from]! -= receipt!.fee;
      counts.succeeded++;
      return receipt!;
    },
  };
}
