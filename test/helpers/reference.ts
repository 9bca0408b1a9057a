// Expected values computed independently of the circuits and contracts under test.
import { exactTile, roundScaledToFloat32Bits } from "../../common/numerics.js";

/** Exact E4M3 GEMM outputs rounded once to float32: what an ideal accumulator commits. */
export function honestOutputs(a: Uint8Array, b: Uint8Array, m: number, n: number, k: number): Uint32Array {
  const { dot } = exactTile(a, b, m, n, k, "e4m3fn");
  return Uint32Array.from(dot, (s) => roundScaledToFloat32Bits(s, 18));
}
