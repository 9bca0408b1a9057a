/** Groth16 proofs in the layout the snarkjs-generated Solidity verifier takes. */
import type { Groth16Proof } from "snarkjs";

/**
 * [a0, a1, b00, b01, b10, b11, c0, c1] as decimal strings, in snarkjs exportSolidityCallData's order: the verifier
 * expects each G2 coordinate of B as (imaginary, real), so the pairs of pi_b are swapped.
 */
export function proofToCalldata(proof: Groth16Proof): string[] {
  const { pi_a: a, pi_b: b, pi_c: c } = proof;
  const words = [a[0], a[1], b[0]?.[1], b[0]?.[0], b[1]?.[1], b[1]?.[0], c[0], c[1]];
  if (words.some((word) => typeof word !== "string" || !/^\d+$/.test(word))) {
    throw new Error("malformed Groth16 proof: expected decimal strings in pi_a[0..1], pi_b[0..1][0..1], pi_c[0..1]");
  }
  return words as string[];
}
