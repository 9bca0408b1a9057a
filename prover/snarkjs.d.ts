/**
 * Type declarations for the part of snarkjs 0.7.6 the prover infrastructure uses (snarkjs ships no types).
 *
 * Signatures follow node_modules/snarkjs/src/*.js. Several snarkjs functions report failure by logging through the
 * logger and returning `false` or `-1` instead of throwing; the return types say so, callers must check.
 */
declare module "snarkjs" {
  /** logplease-style logger; snarkjs calls debug for fine-grained progress and error before failing returns. */
  export interface SnarkjsLogger {
    /** Some progress lines call `log` instead of `debug` (powersOfTau.newAccumulator above power 15). */
    log(message: string): void;
    debug(message: string): void;
    info(message: string): void;
    warn(message: string): void;
    error(message: string): void;
  }

  /** An ffjavascript curve object (opaque here); `terminate` stops its worker threads (no-op if single-threaded). */
  export interface Curve {
    readonly name: string;
    /** G1 (points of 2·32 bytes) and G2 (2·64 bytes); points are the curve's internal byte representation. */
    readonly G1: CurveGroup;
    readonly G2: CurveGroup;
    terminate(): Promise<void>;
  }

  /** The part of an ffjavascript group used to read points from zkey files (see audit/zkey.ts). */
  export interface CurveGroup {
    /** The coordinate field; `n8` is its element size in bytes (32 for G1, 64 for G2 over Fq2). */
    readonly F: { readonly n8: number };
    /** Reads a point stored as in zkey/ptau files: little-endian Montgomery coordinates (x, y). */
    fromRprLEM(buffer: Uint8Array, offset: number): Uint8Array;
    /** Writes the affine point as big-endian standard coordinates (x, y): the bytes snarkjs hashes. */
    toRprUncompressed(buffer: Uint8Array, offset: number, point: Uint8Array): void;
  }

  /** snarkjs' in-memory "file" for witnesses and keys: `{ type: "mem" }`, filled in by the writer. */
  export interface MemFile {
    type: "mem";
    data?: Uint8Array;
  }

  export type FileRef = string | MemFile;

  export type NumericString = string;

  export interface Groth16Proof {
    pi_a: NumericString[];
    pi_b: NumericString[][];
    pi_c: NumericString[];
    protocol: "groth16";
    curve: string;
  }

  export interface Groth16VerificationKey {
    protocol: "groth16";
    curve: string;
    nPublic: number;
    vk_alpha_1: NumericString[];
    vk_beta_2: NumericString[][];
    vk_gamma_2: NumericString[][];
    vk_delta_2: NumericString[][];
    vk_alphabeta_12: NumericString[][][];
    IC: NumericString[][];
  }

  export namespace powersOfTau {
    function newAccumulator(curve: Curve, power: number, fileName: string, logger?: SnarkjsLogger): Promise<Uint8Array>;
    function contribute(
      oldPtau: string,
      newPtau: string,
      name: string,
      entropy: string,
      logger?: SnarkjsLogger,
    ): Promise<Uint8Array>;
    function beacon(
      oldPtau: string,
      newPtau: string,
      name: string,
      beaconHashHex: string,
      numIterationsExp: number,
      logger?: SnarkjsLogger,
    ): Promise<Uint8Array | false>;
    function preparePhase2(oldPtau: string, newPtau: string, logger?: SnarkjsLogger): Promise<void>;
    /** Writes `${template}NN.ptau` for every power NN below the file's. */
    function truncate(ptau: string, template: string, logger?: SnarkjsLogger): Promise<boolean>;
    function verify(ptau: string, logger?: SnarkjsLogger): Promise<boolean>;
  }

  export namespace zKey {
    function newZKey(r1cs: string, ptau: string, zkey: string, logger?: SnarkjsLogger): Promise<Uint8Array | -1>;
    function contribute(
      oldZkey: string,
      newZkey: string,
      name: string,
      entropy: string,
      logger?: SnarkjsLogger,
    ): Promise<Uint8Array>;
    function beacon(
      oldZkey: string,
      newZkey: string,
      name: string,
      beaconHashHex: string,
      numIterationsExp: number,
      logger?: SnarkjsLogger,
    ): Promise<Uint8Array | false>;
    function verifyFromR1cs(r1cs: string, ptau: string, zkey: string, logger?: SnarkjsLogger): Promise<boolean>;
    function exportVerificationKey(zkey: FileRef, logger?: SnarkjsLogger): Promise<Groth16VerificationKey>;
    /** `templates` maps protocol name ("groth16", "plonk", "fflonk") to the EJS template text. */
    function exportSolidityVerifier(
      zkey: FileRef,
      templates: Record<string, string>,
      logger?: SnarkjsLogger,
    ): Promise<string>;
  }

  export namespace groth16 {
    function prove(
      zkey: FileRef,
      witness: FileRef,
      logger?: SnarkjsLogger,
      options?: { singleThread?: boolean },
    ): Promise<{ proof: Groth16Proof; publicSignals: NumericString[] }>;
    function fullProve(
      input: Record<string, unknown>,
      wasm: FileRef,
      zkey: FileRef,
      logger?: SnarkjsLogger,
      wtnsCalcOptions?: Record<string, unknown>,
      proverOptions?: { singleThread?: boolean },
    ): Promise<{ proof: Groth16Proof; publicSignals: NumericString[] }>;
    function verify(
      vkey: Groth16VerificationKey,
      publicSignals: readonly (NumericString | bigint)[],
      proof: Groth16Proof,
      logger?: SnarkjsLogger,
    ): Promise<boolean>;
  }

  export namespace wtns {
    function calculate(
      input: Record<string, unknown>,
      wasm: FileRef,
      wtns: FileRef,
      options?: Record<string, unknown>,
    ): Promise<void>;
  }

  export namespace curves {
    function getCurveFromName(name: string, options?: { singleThread?: boolean }): Promise<Curve>;
  }
}
