/** Choosing, naming and recognising the phase-1 (powers of tau) file of a ceremony. */
import path from "node:path";
import {
  COMMITTED_POT13_BLAKE2B,
  COMMITTED_POT13_FILE,
  HERMEZ_PTAU,
  SHARED_POT16_BLAKE2B,
  SHARED_POT16_FILE,
  checkPtauFile,
  ensureDevPtauInfo,
  inspectPtau,
} from "../ptau/ptau.js";
import type { LogFn } from "../prover/snarkjs-runtime.js";
import { recordedPath } from "./files.js";
import type { PtauPin } from "./manifest.js";

/** What a ptau with this blake2b-512 is, when it is one this repo knows. */
export function describePtau(blake2b512: string): string | undefined {
  if (blake2b512 === COMMITTED_POT13_BLAKE2B) {
    return "the development ptau committed in ptau/dev/, single contributor: insecure";
  }
  if (blake2b512 === SHARED_POT16_BLAKE2B) {
    return `the development ptau ../shared/ptau/${SHARED_POT16_FILE}, single contributor: insecure`;
  }
  for (const entry of Object.values(HERMEZ_PTAU)) {
    if (entry.blake2b512 === blake2b512) return `the published Hermez ${entry.file}`;
  }
  return undefined;
}

/**
 * The ptau a ceremony starts from: `explicit` when given (any prepared ptau of a large enough power, e.g. a Hermez
 * file), else the committed power-13 development file when it is large enough (so a fresh clone can check it), else
 * the development ptau of the needed power (ptau/ptau.ts: the shared power-16 file when present).
 */
export async function selectPtau(needed: number, explicit: string | undefined, log: LogFn): Promise<PtauPin> {
  let file: string;
  if (explicit !== undefined) file = path.resolve(explicit);
  else if (needed <= 13) file = COMMITTED_POT13_FILE;
  else file = (await ensureDevPtauInfo(needed, { log })).path;
  const info = await inspectPtau(file);
  if (info.power < needed) {
    throw new Error(`ptau ${recordedPath(file)} has power ${info.power}; the circuit needs ${needed}`);
  }
  const { blake2b512 } = await checkPtauFile(file, { preparedPhase2: true });
  if (file === COMMITTED_POT13_FILE && blake2b512 !== COMMITTED_POT13_BLAKE2B) {
    throw new Error(`ptau ${recordedPath(file)} does not have its pinned blake2b-512 (ptau/ptau.ts)`);
  }
  return {
    name: path.basename(file),
    file: recordedPath(file),
    power: info.power,
    blake2b512,
    note: describePtau(blake2b512) ?? "not a ptau this repo knows: check its origin and hash yourself",
  };
}
