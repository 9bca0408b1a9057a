/**
 * Circuit test harness: witness calculation with the compiled wasm, an independent R1CS reader and constraint
 * checker, and witness editing by signal name. Soundness tests edit an honest witness and require that the
 * constraints themselves reject it (a witness generator that throws proves nothing about the constraints).
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { compileCircuit, type CompiledCircuit } from "../../circuits/compile.js";

const require = createRequire(import.meta.url);

export const FIELD = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;

/** x reduced into [0, p): the field element a witness wire holds for the integer x. */
export function fieldMod(x: bigint): bigint {
  return ((x % FIELD) + FIELD) % FIELD;
}

/** The field inverse of x (extended Euclid); 0 for 0, as circom's `<-- 1 / x` and IsZero's `inv` compute it. */
export function fieldInverse(x: bigint): bigint {
  let [a, b, u, v] = [fieldMod(x), FIELD, 1n, 0n];
  while (b !== 0n) {
    const q = a / b;
    [a, b, u, v] = [b, a - q * b, v, u - q * v];
  }
  return fieldMod(u);
}

interface WitnessCalculator {
  calculateWitness(input: Record<string, unknown>, sanityCheck: boolean): Promise<bigint[]>;
}
type LinearCombination = [wire: number, coefficient: bigint][];
type Constraint = [a: LinearCombination, b: LinearCombination, c: LinearCombination];

export interface R1cs {
  readonly wires: number;
  readonly publicOutputs: number;
  readonly publicInputs: number;
  readonly privateInputs: number;
  readonly constraints: Constraint[];
}

/** Parses an .r1cs file (iden3 binary format, version 1): header and constraints sections. */
export function readR1cs(file: string): R1cs {
  const data = readFileSync(file);
  if (data.toString("latin1", 0, 4) !== "r1cs") throw new Error(`${file} is not an r1cs file`);
  const sections = new Map<number, { start: number; size: number }>();
  let offset = 12;
  const sectionCount = data.readUInt32LE(8);
  for (let s = 0; s < sectionCount; s++) {
    const type = data.readUInt32LE(offset);
    const size = Number(data.readBigUInt64LE(offset + 4));
    sections.set(type, { start: offset + 12, size });
    offset += 12 + size;
  }
  const header = sections.get(1);
  const body = sections.get(2);
  if (!header || !body) throw new Error(`${file} lacks a header or constraints section`);
  let at = header.start;
  const fieldSize = data.readUInt32LE(at);
  const readField = (pos: number): bigint => {
    let value = 0n;
    for (let i = fieldSize - 1; i >= 0; i--) value = (value << 8n) | BigInt(data[pos + i]!);
    return value;
  };
  const prime = readField(at + 4);
  if (prime !== FIELD) throw new Error(`${file} is over another field`);
  at += 4 + fieldSize;
  const wires = data.readUInt32LE(at);
  const publicOutputs = data.readUInt32LE(at + 4);
  const publicInputs = data.readUInt32LE(at + 8);
  const privateInputs = data.readUInt32LE(at + 12);
  const count = data.readUInt32LE(at + 24);
  const constraints: Constraint[] = [];
  at = body.start;
  const readCombination = (): LinearCombination => {
    const terms = data.readUInt32LE(at);
    at += 4;
    const combination: LinearCombination = [];
    for (let t = 0; t < terms; t++) {
      combination.push([data.readUInt32LE(at), readField(at + 4)]);
      at += 4 + fieldSize;
    }
    return combination;
  };
  for (let i = 0; i < count; i++) constraints.push([readCombination(), readCombination(), readCombination()]);
  return { wires, publicOutputs, publicInputs, privateInputs, constraints };
}

function evaluate(combination: LinearCombination, witness: readonly bigint[]): bigint {
  let sum = 0n;
  for (const [wire, coefficient] of combination) sum += coefficient * witness[wire]!;
  return sum % FIELD;
}

export class CircuitHarness {
  private constructor(
    readonly compiled: CompiledCircuit,
    readonly r1cs: R1cs,
    private readonly calculator: WitnessCalculator,
    private readonly wireOf: Map<string, number>,
  ) {}

  static async load(compiled: CompiledCircuit): Promise<CircuitHarness> {
    const builder = require(path.join(path.dirname(compiled.wasmPath), "witness_calculator.js")) as (
      code: Buffer,
    ) => Promise<WitnessCalculator>;
    const calculator = await builder(readFileSync(compiled.wasmPath));
    const wireOf = new Map<string, number>();
    for (const line of readFileSync(compiled.symPath, "utf8").split("\n")) {
      if (!line) continue;
      const [, wire, , name] = line.split(",");
      if (Number(wire) >= 0) wireOf.set(name!, Number(wire));
    }
    return new CircuitHarness(compiled, readR1cs(compiled.r1csPath), calculator, wireOf);
  }

  get constraintCount(): number {
    return this.r1cs.constraints.length;
  }

  /** Runs the witness generator (which also asserts the constraints it can evaluate). */
  async witness(input: Record<string, unknown>): Promise<bigint[]> {
    return this.calculator.calculateWitness(input, true);
  }

  /** Index of the first constraint the witness violates, or -1 when all hold. */
  firstViolated(witness: readonly bigint[]): number {
    if (witness.length !== this.r1cs.wires)
      throw new Error(`witness has ${witness.length} wires, r1cs ${this.r1cs.wires}`);
    if (witness[0] !== 1n) return -2;
    const { constraints } = this.r1cs;
    for (let i = 0; i < constraints.length; i++) {
      const [a, b, c] = constraints[i]!;
      if ((evaluate(a, witness) * evaluate(b, witness) - evaluate(c, witness)) % FIELD !== 0n) return i;
    }
    return -1;
  }

  /** Indices of every constraint the witness violates (empty when all hold). */
  violations(witness: readonly bigint[]): number[] {
    return this.r1cs.constraints.flatMap(([a, b, c], index) =>
      (evaluate(a, witness) * evaluate(b, witness) - evaluate(c, witness)) % FIELD === 0n ? [] : [index],
    );
  }

  /** The wires constraint `index` reads. */
  constraintWires(index: number): Set<number> {
    const [a, b, c] = this.r1cs.constraints[index]!;
    return new Set([...a, ...b, ...c].map(([wire]) => wire));
  }

  /** The witness wire of a signal (full name, e.g. "main.c[0][1][2]"); throws if it was optimised away. */
  wire(signal: string): number {
    const wire = this.wireOf.get(signal);
    if (wire === undefined) throw new Error(`signal ${signal} has no witness wire (unknown or eliminated by --O2)`);
    return wire;
  }

  hasWire(signal: string): boolean {
    return this.wireOf.has(signal);
  }

  /** Signal names (with a wire) matching a pattern. */
  signals(pattern: RegExp): string[] {
    return [...this.wireOf.keys()].filter((name) => pattern.test(name));
  }

  /** A copy of `witness` with the given signals set to new values (mod p). */
  edit(witness: readonly bigint[], changes: Record<string, bigint>): bigint[] {
    const edited = [...witness];
    for (const [signal, value] of Object.entries(changes)) edited[this.wire(signal)] = fieldMod(value);
    return edited;
  }

  /**
   * {@link edit} with those of `changes` whose signals kept a witness wire: re-derivations set every signal a template
   * declares, and --O2 eliminates some of them.
   */
  editWired(witness: readonly bigint[], changes: ReadonlyMap<string, bigint>): bigint[] {
    return this.edit(witness, Object.fromEntries([...changes].filter(([signal]) => this.hasWire(signal))));
  }

  value(witness: readonly bigint[], signal: string): bigint {
    return witness[this.wire(signal)]!;
  }

  /**
   * The wires of sub-component `prefix` of this circuit, taken from the witness of a standalone instance of the same
   * template (whose signals are "main.…"), for the signals both circuits keep.
   */
  transplant(prefix: string, standalone: CircuitHarness, standaloneWitness: readonly bigint[]): Map<string, bigint> {
    const set = new Map<string, bigint>();
    for (const signal of standalone.signals(/^main\./)) {
      const target = `${prefix}${signal.slice("main".length)}`;
      if (this.hasWire(target)) set.set(target, standalone.value(standaloneWitness, signal));
    }
    return set;
  }
}

/** Compiles (or loads from the build cache) the main circuit circuits/main/<name>.circom and loads its harness. */
export async function loadMainCircuit(name: string): Promise<CircuitHarness> {
  return CircuitHarness.load(await compileCircuit(name, path.join("circuits", "main", `${name}.circom`)));
}
