/** Options shared by the `demle` commands: integer flags, the `--config` file, deployment files, the RPC connection. */
import { existsSync, readFileSync } from "node:fs";
import { InvalidArgumentError, type Command, type Option } from "commander";
import { JsonRpcProvider } from "ethers";
import type { Deployment } from "../miner/deploy.js";

export function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected an integer in [${min}, ${max}]`);
    return n;
  };
}

/** A config file's value for `option`, checked (and parsed) as the flag's argument would be. */
function configValue(file: string, key: string, option: Option, value: unknown): unknown {
  const bad = (expected: string) =>
    new Error(`config file ${file}: "${key}" must be ${expected}, got ${JSON.stringify(value)}`);
  if (option.isBoolean()) {
    if (typeof value !== "boolean") throw bad("true or false");
    return value;
  }
  if (option.argChoices) {
    if (typeof value !== "string" || !option.argChoices.includes(value))
      throw bad(`one of ${option.argChoices.join(", ")}`);
    return value;
  }
  if (option.parseArg) {
    if (typeof value !== "string" && typeof value !== "number") throw bad("a string or a number");
    try {
      return option.parseArg(String(value), undefined);
    } catch (error) {
      throw bad((error as Error).message.replace(/^expected /, ""));
    }
  }
  if (typeof value !== "string") throw bad("a string");
  return value;
}

/**
 * Flags win over the config file's values of the same (camelCase) name; config values are checked
 * as the flags' own arguments would be.
 */
export function withConfig<T extends Record<string, unknown>>(command: Command, flags: T): T {
  const file = (command.optsWithGlobals() as { config?: string }).config;
  if (!file) return flags;
  if (!existsSync(file)) throw new Error(`config file ${file} not found`);
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new Error(`config file ${file} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new Error(`config file ${file} must hold a JSON object`);
  }
  const known = new Set(command.options.map((option) => option.attributeName()));
  const unknown = Object.keys(config).filter((key) => !known.has(key));
  if (unknown.length > 0) {
    throw new Error(
      `config file ${file}: unknown option(s) ${unknown.map((key) => `"${key}"`).join(", ")} for \`demle ${command.name()}\``,
    );
  }
  const merged: Record<string, unknown> = { ...(config as Record<string, unknown>) };
  for (const option of command.options) {
    const key = option.attributeName();
    if (merged[key] !== undefined) merged[key] = configValue(file, key, option, merged[key]);
  }
  for (const [key, value] of Object.entries(flags)) {
    if (command.getOptionValueSource(key) === "cli" || merged[key] === undefined) merged[key] = value;
  }
  return merged as T;
}

export function readDeployment(file: string): Deployment {
  if (!existsSync(file)) throw new Error(`deployment file ${file} not found`);
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Deployment;
  } catch (error) {
    throw new Error(`deployment file ${file} is not valid JSON: ${(error as Error).message}`);
  }
}

export async function connect(rpc: string, expectedChainId?: number): Promise<JsonRpcProvider> {
  // ethers polls for receipts every 4 s by default; a miner's deadlines are counted in blocks that can be faster.
  const provider = new JsonRpcProvider(rpc, undefined, { staticNetwork: false, pollingInterval: 500 });
  let chainId: bigint;
  try {
    chainId = (await provider.getNetwork()).chainId;
  } catch (error) {
    provider.destroy();
    throw new Error(`cannot reach the JSON-RPC node at ${rpc}: ${(error as Error).message.split("\n")[0]}`);
  }
  if (expectedChainId !== undefined && chainId !== BigInt(expectedChainId)) {
    provider.destroy();
    throw new Error(`chain id mismatch: ${rpc} is chain ${chainId}, the config expects ${expectedChainId}`);
  }
  return provider;
}
