/** Sending a transaction and waiting for its receipt, the way every DEMLE process that writes to the chain does. */
import { setTimeout as sleep } from "node:timers/promises";
import { isError, NonceManager, type Interface, type Signer, type TransactionReceipt } from "ethers";

export interface TxResponse {
  hash: string;
  wait(confirms?: number, timeout?: number): Promise<TransactionReceipt | null>;
}

export interface TransactionSender {
  readonly signer: Signer;
  /** The contract's interface, to decode custom errors. */
  readonly contractInterface: Interface;
  /** Runs a JSON-RPC call with the caller's retry policy. */
  rpc<T>(what: string, fn: () => Promise<T>): Promise<T>;
  /** How long to wait for a receipt before giving up (default 60 s): the caller then asks the chain and resends. */
  readonly receiptTimeoutMs?: number;
}

/** The sender of a process that writes to one contract with `options.signer`, retrying RPC calls with `rpc`. */
export function contractSender(
  options: { readonly signer: Signer; readonly receiptTimeoutMs?: number | undefined },
  contractInterface: Interface,
  rpc: TransactionSender["rpc"],
): TransactionSender {
  return {
    signer: options.signer,
    contractInterface,
    rpc,
    ...(options.receiptTimeoutMs === undefined ? {} : { receiptTimeoutMs: options.receiptTimeoutMs }),
  };
}

/**
 * Sends a transaction and waits for its receipt. `onSent` records the hash before waiting; a revert throws with the
 * decoded custom error.
 */
export async function sendTransaction(
  sender: TransactionSender,
  what: string,
  sendTx: () => Promise<TxResponse>,
  onSent?: (hash: string) => void,
): Promise<TransactionReceipt> {
  const { signer } = sender;
  let tx: TxResponse;
  try {
    tx = await sender.rpc(what, sendTx);
  } catch (error) {
    // The nonce manager counted this transaction; forget that, or every later one waits behind a nonce gap.
    if (signer instanceof NonceManager) signer.reset();
    const reverted = isError(error, "CALL_EXCEPTION");
    throw new Error(`${what} ${reverted ? "reverted" : "failed"}: ${describeRevert(sender.contractInterface, error)}`, {
      cause: error,
    });
  }
  onSent?.(tx.hash);
  const timeout = sender.receiptTimeoutMs ?? 60_000;
  const noReceipt = new Error(`${what} transaction ${tx.hash} was not mined within ${timeout} ms`);
  // Transport errors while waiting are retried; the wait running out is not (the caller asks the chain).
  const receipt = await sender.rpc(`${what} receipt`, () =>
    tx.wait(1, timeout).catch((error: unknown) => {
      if (!isError(error, "TIMEOUT")) throw error;
      if (signer instanceof NonceManager) signer.reset();
      throw noReceipt;
    }),
  );
  if (!receipt || receipt.status !== 1) throw new Error(`${what} transaction ${tx.hash} failed`);
  return receipt;
}

/** A failed call's custom error as `Name(arg, …)` when the contract's interface knows it, else the first line. */
export function describeRevert(contractInterface: Interface, error: unknown): string {
  const data = (error as { data?: string }).data;
  if (typeof data === "string" && data.length >= 10) {
    const parsed = contractInterface.parseError(data);
    if (parsed) return `${parsed.name}(${parsed.args.map(String).join(", ")})`;
  }
  return error instanceof Error ? error.message.split("\n")[0]! : String(error);
}

/**
 * Waits until every transaction `address` sent has been mined, so the chain's state is final before it is read to
 * decide whether to send again (a restarted process may have a transaction of its last run still pending).
 */
export async function waitForPendingTransactions(
  sender: Pick<TransactionSender, "signer" | "rpc">,
  address: string,
  pollMs: number,
  log: (message: string) => void,
): Promise<void> {
  const provider = sender.signer.provider!;
  for (let logged = false; ;) {
    const [pending, latest] = await sender.rpc("getTransactionCount", () =>
      Promise.all([provider.getTransactionCount(address, "pending"), provider.getTransactionCount(address, "latest")]),
    );
    if (pending <= latest) return;
    if (!logged) log(`waiting for ${pending - latest} pending transaction(s) of ${address} to be mined`);
    logged = true;
    await sleep(pollMs);
  }
}
