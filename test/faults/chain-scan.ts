// What a miner actually sent, read back from the chain: the fault tests check that no transaction was sent twice.
import type { Interface, JsonRpcProvider } from "ethers";

export interface MinedTransactions {
  /** Mined transactions of the address, by the DemleMining function they call ("other" for anything else). */
  byFunction: Record<string, number>;
  /** How many of them reverted. */
  reverted: number;
}

/** The transactions `address` got mined in blocks `from`…latest, decoded with `iface`. */
export async function minedTransactions(
  provider: JsonRpcProvider,
  iface: Interface,
  address: string,
  from: number,
): Promise<MinedTransactions> {
  const byFunction: Record<string, number> = {};
  let reverted = 0;
  const latest = await provider.getBlockNumber();
  for (let number = from; number <= latest; number++) {
    const block = await provider.getBlock(number, true);
    for (const tx of block?.prefetchedTransactions ?? []) {
      if (tx.from.toLowerCase() !== address.toLowerCase()) continue;
      const name = iface.parseTransaction({ data: tx.data, value: tx.value })?.name ?? "other";
      byFunction[name] = (byFunction[name] ?? 0) + 1;
      if ((await provider.getTransactionReceipt(tx.hash))?.status !== 1) reverted++;
    }
  }
  return { byFunction, reverted };
}
