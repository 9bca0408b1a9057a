/**
 * Hardhat in-process network helpers of the contract tests (test/mining.test.ts, test/job-market.test.ts): block
 * control, EVM snapshots, receipts and the events in them.
 */
import type hre from "hardhat";
import { toQuantity, type ContractTransactionReceipt, type ContractTransactionResponse, type Interface } from "ethers";
import { expect } from "vitest";

export type Connection = Awaited<ReturnType<typeof hre.network.create>>;
export type Tx = Promise<ContractTransactionResponse>;

export interface ChainControls {
  request(method: string, params?: unknown[]): Promise<unknown>;
  /** Mines `blocks` empty blocks (none for 0). */
  mine(blocks: bigint): Promise<void>;
  latestBlock(): Promise<bigint>;
  /** Mines so that the next transaction lands in block `block` (which must be ahead of the latest). */
  nextTxInBlock(block: bigint): Promise<void>;
  /** Takes an EVM snapshot to return to with {@link revertToSnapshot}. */
  takeSnapshot(): Promise<void>;
  /** Reverts to the last snapshot (which must succeed) and takes it again, for the next revert. */
  revertToSnapshot(): Promise<void>;
}

/** Controls of the network of `connection()`, a connection the test opens later (in its beforeAll). */
export function chainControls(connection: () => Connection): ChainControls {
  let snapshot: unknown;
  const request = (method: string, params: unknown[] = []) => connection().provider.request({ method, params });
  const mine = async (blocks: bigint) => {
    if (blocks > 0n) await request("hardhat_mine", [toQuantity(blocks)]);
  };
  const latestBlock = async () => BigInt(await connection().ethers.provider.getBlockNumber());
  const takeSnapshot = async () => {
    snapshot = await request("evm_snapshot");
  };
  return {
    request,
    mine,
    latestBlock,
    async nextTxInBlock(block: bigint) {
      const latest = await latestBlock();
      expect(block).toBeGreaterThan(latest);
      await mine(block - latest - 1n);
    },
    takeSnapshot,
    async revertToSnapshot() {
      expect(await request("evm_revert", [snapshot])).toBe(true);
      await takeSnapshot();
    },
  };
}

/** The receipt of a transaction, once mined. */
export async function wait(tx: Tx): Promise<ContractTransactionReceipt> {
  const receipt = await (await tx).wait();
  if (receipt === null) throw new Error("no receipt");
  return receipt;
}

/** The events of `contract` (at `address`) in a receipt, as [name, args] (array arguments as plain arrays). */
export function eventsOf(
  receipt: ContractTransactionReceipt,
  contract: { interface: Interface },
  address: string,
): [string, unknown[]][] {
  return receipt.logs
    .filter((log) => log.address === address)
    .map((log) => {
      const parsed = contract.interface.parseLog(log);
      if (parsed === null) throw new Error(`unparsed log from ${address}`);
      return [parsed.name, parsed.args.toArray(true)] as [string, unknown[]];
    });
}
