pragma circom 2.2.0;

include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/comparators.circom";
include "circomlib/circuits/gates.circom";
include "circomlib/circuits/multiplexer.circom";
include "circomlib/circuits/mux1.circom";
include "../lib/float32.circom";

// Benchmark baseline only (bench/prover.ts), used by no proof: the FP8 GEMM tile check of Fp8GemmTile
// (circuits/lib/gemm.circom) written the straightforward way with circomlib building blocks, to measure what the
// optimised templates save. Same contract (docs/numerics.md): with S = Σ_k a·b and T = Σ_k |a·b| in units 2^-18 and
// X = c·2^27, every output must satisfy |X − 512·S| ≤ T; NaN input codes are rejected.

/// @title NaiveFp8E4M3Decode
/// @notice E4M3FN byte → signed integer n (value n·2^-9), decoded per code field: 2^(e−1) from a 16-entry table
///         (circomlib Multiplexer), the subnormal case selected with Mux1, the sign applied with Mux1.
/// @input code the FP8 byte; range-checked to [0, 255] by Num2Bits(8)
/// @output value n = ±|n|, |n| ≤ 229376
/// @output sign the sign bit
template NaiveFp8E4M3Decode() {
    signal input code;
    signal output value;
    signal output sign;

    signal bits[8] <== Num2Bits(8)(code);
    var mantissa = bits[0] + 2 * bits[1] + 4 * bits[2];
    var exponent = bits[3] + 2 * bits[4] + 4 * bits[5] + 8 * bits[6];

    // 2^(e−1) for e ≥ 1 (entry 0 is unused: the subnormal branch replaces it).
    component scale = Multiplexer(1, 16);
    for (var e = 0; e < 16; e++) {
        scale.inp[e][0] <== e == 0 ? 1 : 1 << (e - 1);
    }
    scale.sel <== exponent;
    signal normal <== (8 + mantissa) * scale.out[0];
    signal isSubnormal <== IsZero()(exponent);
    signal magnitude <== Mux1()([normal, mantissa], isSubnormal);

    // S.1111.111 is NaN.
    signal isNan <== IsEqual()([8 * exponent + mantissa, 127]);
    isNan === 0;

    sign <== bits[7];
    value <== Mux1()([magnitude, -magnitude], sign);
}

/// @title NaiveFp8GemmTile
/// @notice Same inputs and same accepted set as Fp8GemmTile(TM, TN, K): a TM×TN output tile of C = A·B, A and B as
///         E4M3FN codes, C as float32 bit patterns. Per MAC: the signed product, the product's sign (XOR of the input
///         signs) and |a·b| selected by that sign (3 constraints). Per output: Float32OnGrid (the same float32 read
///         as the optimised check) and two circomlib GreaterEqThan(252) comparisons instead of tight range checks.
///         GreaterEqThan(252)([v, 0]) holds exactly when v's canonical value is < 2^252 (a 253-bit decomposition of
///         2^252 − 1 − v; no alias since p > 2^253), so the two checks force v = X − 512S + T ∈ [0, 2T]: a genuine
///         small integer, as in the optimised check.
/// @param TM, TN, K tile rows, columns, inner dimension
/// @input a[TM][K] A's rows as E4M3FN codes
/// @input b[K][TN] B's columns as E4M3FN codes
/// @input c[TM][TN] the committed float32 bit patterns
template NaiveFp8GemmTile(TM, TN, K) {
    assert(TM >= 1 && TN >= 1 && K >= 1 && K <= 1 << 18);
    signal input a[TM][K];
    signal input b[K][TN];
    signal input c[TM][TN];

    component aDecode[TM][K];
    component bDecode[K][TN];
    for (var i = 0; i < TM; i++) {
        for (var k = 0; k < K; k++) {
            aDecode[i][k] = NaiveFp8E4M3Decode();
            aDecode[i][k].code <== a[i][k];
        }
    }
    for (var k = 0; k < K; k++) {
        for (var j = 0; j < TN; j++) {
            bDecode[k][j] = NaiveFp8E4M3Decode();
            bDecode[k][j].code <== b[k][j];
        }
    }

    signal product[TM][TN][K];
    signal productSign[TM][TN][K];
    signal absProduct[TM][TN][K];
    component outputWord[TM][TN];
    component lower[TM][TN];
    component upper[TM][TN];
    for (var i = 0; i < TM; i++) {
        for (var j = 0; j < TN; j++) {
            var exact = 0;
            var absolute = 0;
            for (var k = 0; k < K; k++) {
                product[i][j][k] <== aDecode[i][k].value * bDecode[k][j].value;
                productSign[i][j][k] <== XOR()(aDecode[i][k].sign, bDecode[k][j].sign);
                absProduct[i][j][k] <== Mux1()([product[i][j][k], -product[i][j][k]], productSign[i][j][k]);
                exact += product[i][j][k];
                absolute += absProduct[i][j][k];
            }
            outputWord[i][j] = Float32OnGrid(27, 6);
            outputWord[i][j].word <== c[i][j];
            for (var bit = 0; bit < 32; bit++) {
                _ <== outputWord[i][j].bits[bit];
            }
            lower[i][j] = GreaterEqThan(252);
            lower[i][j].in <== [outputWord[i][j].value - 512 * exact + absolute, 0];
            lower[i][j].out === 1;
            upper[i][j] = GreaterEqThan(252);
            upper[i][j].in <== [512 * exact + absolute - outputWord[i][j].value, 0];
            upper[i][j].out === 1;
        }
    }
}
