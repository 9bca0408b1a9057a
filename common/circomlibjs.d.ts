// Minimal types for the parts of circomlibjs this project uses (the package ships none).
declare module "circomlibjs" {
  /** A field element in circomlibjs' internal (Montgomery) representation. */
  type FieldElement = Uint8Array;
  interface PoseidonField {
    toObject(element: FieldElement): bigint;
    e(value: bigint | number | string): FieldElement;
  }
  interface Poseidon {
    (inputs: readonly (bigint | number)[], initState?: bigint | number): FieldElement;
    (inputs: readonly (bigint | number)[], initState: bigint | number, nOut: number): FieldElement[];
    F: PoseidonField;
  }
  export function buildPoseidon(): Promise<Poseidon>;
}
