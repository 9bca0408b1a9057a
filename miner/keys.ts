/**
 * The miner's key: from an encrypted JSON keystore (ethers/Web3 secret storage) or from the DEMLE_PRIVATE_KEY
 * environment variable — never from a command-line argument, which other users of the machine can read.
 */
import { existsSync, readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { Wallet, type HDNodeWallet } from "ethers";
import { writeFileAtomic } from "../common/files.js";

export const PRIVATE_KEY_ENV = "DEMLE_PRIVATE_KEY";
export const KEYSTORE_PASSWORD_ENV = "DEMLE_KEYSTORE_PASSWORD";

/** Reads a password from the environment, or from the terminal without echo. */
export async function readPassword(prompt: string): Promise<string> {
  const fromEnv = process.env[KEYSTORE_PASSWORD_ENV];
  if (fromEnv !== undefined) return fromEnv;
  if (!process.stdin.isTTY) {
    throw new Error(`no keystore password: set ${KEYSTORE_PASSWORD_ENV} (stdin is not a terminal to ask on)`);
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  const output = rl as unknown as { _writeToOutput: (text: string) => void };
  let prompted = false;
  output._writeToOutput = (text: string) => {
    if (!prompted) process.stderr.write(text); // the prompt itself; typed characters are not echoed
    prompted = true;
  };
  try {
    return await new Promise<string>((resolve) => rl.question(prompt, resolve));
  } finally {
    rl.close();
    process.stderr.write("\n");
  }
}

export async function loadWallet(keystore?: string): Promise<Wallet | HDNodeWallet> {
  const fromEnv = process.env[PRIVATE_KEY_ENV];
  if (fromEnv !== undefined && keystore !== undefined) {
    throw new Error(`both ${PRIVATE_KEY_ENV} and --keystore are set; use one`);
  }
  if (fromEnv !== undefined) {
    try {
      return new Wallet(fromEnv.trim());
    } catch {
      throw new Error(`${PRIVATE_KEY_ENV} is not a valid private key (expected 0x followed by 64 hex digits)`);
    }
  }
  if (keystore === undefined) throw new Error(`no key: set ${PRIVATE_KEY_ENV} or pass --keystore FILE`);
  if (!existsSync(keystore)) throw new Error(`keystore ${keystore} not found`);
  const json = readFileSync(keystore, "utf8");
  const password = await readPassword(`password for ${keystore}: `);
  try {
    return await Wallet.fromEncryptedJson(json, password);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (/incorrect password|invalid password/i.test(message))
      throw new Error(`wrong password for keystore ${keystore}`);
    throw new Error(`keystore ${keystore} is unreadable: ${message}`);
  }
}

/** Creates a new random key and writes it encrypted to `file` (refuses to overwrite). */
export async function createKeystore(file: string): Promise<string> {
  if (existsSync(file)) throw new Error(`${file} exists; refusing to overwrite a keystore`);
  const password = await readPassword(`new password for ${file}: `);
  if (password.length < 8) throw new Error("the keystore password must have at least 8 characters");
  const wallet = Wallet.createRandom();
  writeFileAtomic(file, await wallet.encrypt(password));
  return wallet.address;
}
