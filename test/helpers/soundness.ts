/**
 * Assertions shared by the circuit tests: witness edits the constraints must reject, the locked size of a main
 * circuit, and the tests of an op's production main.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { constraintCounts, inspectWarnings } from "../../circuits/compile.js";
import { loadMainCircuit, type CircuitHarness } from "./circuit.js";

/** A small and a large edit in both directions: the deltas for a thorough single-signal edit. */
export const SMALL_AND_LARGE_EDITS: readonly bigint[] = [1n, -1n, 1n << 40n];

/** The public inputs of every seed-mode proof main, as edit classes for {@link expectEditsRejected}. */
export const PUBLIC_INPUT_CLASSES: Readonly<Record<string, readonly string[]>> = {
  "public output root": ["main.outputRoot"],
  "public seed": ["main.seed"],
  "public challenge": ["main.challenge"],
  "public miner": ["main.miner"],
  "public shape": ["main.shape"],
};

/**
 * Every edit of every listed signal (its honest value + each delta) must violate a constraint; each class must list
 * at least one signal. `firstSignalDeltas` (default `deltas`) apply to the first signal of each class instead.
 */
export function expectEditsRejected(
  harness: CircuitHarness,
  witness: readonly bigint[],
  classes: Record<string, readonly string[]>,
  options: { deltas?: readonly bigint[]; firstSignalDeltas?: readonly bigint[] } = {},
): void {
  const deltas = options.deltas ?? [1n];
  for (const [cls, signals] of Object.entries(classes)) {
    expect(signals.length, cls).toBeGreaterThan(0);
    signals.forEach((signal, index) => {
      for (const delta of index === 0 ? (options.firstSignalDeltas ?? deltas) : deltas) {
        const edited = harness.edit(witness, { [signal]: harness.value(witness, signal) + delta });
        expect(harness.firstViolated(edited), `${cls}: ${signal} + ${delta}`).toBeGreaterThanOrEqual(0);
      }
    });
  }
}

/** The signals of each class that kept a witness wire (--O2 eliminates some of the ones a template declares). */
export function wiredSignals(
  harness: CircuitHarness,
  classes: Record<string, readonly string[]>,
): Record<string, string[]> {
  return Object.fromEntries(
    Object.entries(classes).map(([cls, signals]) => [cls, signals.filter((signal) => harness.hasWire(signal))]),
  );
}

/**
 * The locked size of a seed-mode main circuit: circom's constraint counts, room in the power-`ptauPower` ptau for its
 * constraints and public signals, the five public inputs and a clean `circom --inspect`.
 */
export function expectMainCircuit(harness: CircuitHarness, locked: { nonLinear: number; ptauPower: number }): void {
  const { log } = harness.compiled;
  expect(constraintCounts(log)).toEqual({ nonLinear: locked.nonLinear, linear: 0 });
  expect(harness.constraintCount + harness.r1cs.publicInputs + 1).toBeLessThanOrEqual(2 ** locked.ptauPower);
  expect(harness.r1cs.publicInputs).toBe(5);
  expect(inspectWarnings(log)).toEqual([]);
}

/**
 * The tests of an op's production main circuits/main/<name>.circom: its locked size (`expectSize`, by default
 * {@link expectMainCircuit}), and an honest proof input (`honest.proofInput`, which may assert on how it was built)
 * satisfies every constraint, or `honest.check` finds honest witnesses accepted (within `honest.timeout` ms, when
 * given).
 */
export function describeProductionMain(
  name: string,
  locked: { nonLinear: number; ptauPower: number },
  honest:
    | { title: string; proofInput: () => Promise<Record<string, unknown>> }
    | { title: string; check: (harness: CircuitHarness) => Promise<void>; timeout?: number },
  expectSize: (
    harness: CircuitHarness,
    locked: { nonLinear: number; ptauPower: number },
  ) => void | Promise<void> = expectMainCircuit,
): void {
  describe(`production main circuits/main/${name}.circom`, () => {
    let harness: CircuitHarness;

    beforeAll(async () => {
      harness = await loadMainCircuit(name);
    }, 900_000);

    it(`fits the power-${locked.ptauPower} ptau with its constraint count locked, and circom --inspect is clean`, async () => {
      await expectSize(harness, locked);
    });

    it(
      honest.title,
      async () => {
        if ("check" in honest) await honest.check(harness);
        else expect(harness.firstViolated(await harness.witness(await honest.proofInput()))).toBe(-1);
      },
      "timeout" in honest ? honest.timeout : undefined,
    );
  });
}
