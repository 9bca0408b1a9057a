/** One line of an audit or ceremony verification: which check, on which circuit, whether it passed and why. */
export interface CheckResult {
  readonly check: string;
  readonly circuit: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** `PASS r1cs gemm_seed_demo_2x2x16: sha256 7f90… matches manifest` */
export function formatCheck(result: CheckResult): string {
  return `${result.ok ? "PASS" : "FAIL"} ${result.check} ${result.circuit}: ${result.detail}`;
}

export function allPassed(results: readonly CheckResult[]): boolean {
  return results.length > 0 && results.every((r) => r.ok);
}

/** First 16 hex digits of a hash, for messages (manifests and --json keep the full values). */
export function short(hash: string): string {
  const hex = hash.startsWith("0x") ? hash.slice(2) : hash;
  return `${hash.startsWith("0x") ? "0x" : ""}${hex.slice(0, 16)}…`;
}
