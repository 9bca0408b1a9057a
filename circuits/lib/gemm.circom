pragma circom 2.2.0;

include "circomlib/circuits/bitify.circom";
include "./fp8.circom";
include "./float32.circom";
include "./range.circom";

// The FP8 GEMM numerics contract (docs/numerics.md), for E4M3FN inputs and float32 outputs:
//   c is finite, c·2^27 ∈ Z, and |c − S·2^-18| ≤ 2^-9·T·2^-18, with S = Σ_k a·b and T = Σ_k |a·b| over the
//   exact scaled integers of the inputs (units 2^-9 each, so products are in units 2^-18).
// In integers, with X = c·2^27: |X − 512·S| ≤ T.

function bitLength(x) {
    var n = 0;
    while (x > 0) {
        n++;
        x = x \ 2;
    }
    return n;
}

/// @title Fp8GemmContractCheck
/// @notice Enforces the numerics contract for a TM×TN output tile of an FP8 GEMM with inner dimension K, given the
///         decoded E4M3 inputs. Costs 2 multiplications per MAC (signed product for S, magnitude product for T) plus
///         a float32 decode and two range checks per output.
/// @param TM output rows, TN output columns, K inner dimension (the whole K of the dot products)
/// @input aValue[TM][K], aMagnitude[TM][K] A's signed values and magnitudes (units 2^-9). Caller must enforce that
///        they come from a constrained decoding (|a| ≤ 229376, aValue = ±aMagnitude), e.g. Fp8E4M3FromBits.
/// @input bValue[K][TN], bMagnitude[K][TN] the same for B
/// @input cWord[TM][TN] the committed float32 bit patterns; range-checked here
/// @output cBits[TM][TN][32] the outputs' bit decompositions, for callers that hash the words
template Fp8GemmContractCheck(TM, TN, K) {
    assert(TM >= 1 && TN >= 1 && K >= 1);
    // |c| < 2^37 (Float32OnGrid(27, 6)) must admit every correct output: K·448²·(1 + 2^-9) < 2^37.
    assert(K <= 1 << 18);
    signal input aValue[TM][K];
    signal input aMagnitude[TM][K];
    signal input bValue[K][TN];
    signal input bMagnitude[K][TN];
    signal input cWord[TM][TN];
    signal output cBits[TM][TN][32];

    // 0 ≤ X − (512·S − T) ≤ 2·T ≤ 2·K·229376², so this many bits hold every honest difference; far below the
    // field size, so a passing range check proves the differences are genuine small integers.
    var RANGE_BITS = bitLength(2 * K * 229376 * 229376);

    signal signedProduct[TM][TN][K];
    signal magnitudeProduct[TM][TN][K];
    component outputWord[TM][TN];
    component lowerGap[TM][TN];
    component upperGap[TM][TN];
    for (var i = 0; i < TM; i++) {
        for (var j = 0; j < TN; j++) {
            var exact = 0;
            var absolute = 0;
            for (var k = 0; k < K; k++) {
                signedProduct[i][j][k] <== aValue[i][k] * bValue[k][j];
                magnitudeProduct[i][j][k] <== aMagnitude[i][k] * bMagnitude[k][j];
                exact += signedProduct[i][j][k];
                absolute += magnitudeProduct[i][j][k];
            }
            outputWord[i][j] = Float32OnGrid(27, 6);
            outputWord[i][j].word <== cWord[i][j];
            cBits[i][j] <== outputWord[i][j].bits;
            // X − 512·S + T ≥ 0 and 512·S + T − X ≥ 0, each as a RANGE_BITS-bit integer.
            lowerGap[i][j] = RangeCheck(RANGE_BITS);
            lowerGap[i][j].in <== outputWord[i][j].value - 512 * exact + absolute;
            upperGap[i][j] = RangeCheck(RANGE_BITS);
            upperGap[i][j].in <== 512 * exact + absolute - outputWord[i][j].value;
        }
    }
}

/// @title Fp8GemmTile
/// @notice A TM×TN output tile of C = A·B with A, B given as E4M3FN bytes, checked against the numerics contract.
///         Used for bytes bound by other means (tests with real H100 tiles; the input-root mode of useful jobs).
/// @param TM, TN, K as in Fp8GemmContractCheck
/// @input a[TM][K] A's rows as E4M3FN codes; NaN codes are rejected
/// @input b[K][TN] B's columns as E4M3FN codes; NaN codes are rejected
/// @input c[TM][TN] the committed float32 bit patterns
template Fp8GemmTile(TM, TN, K) {
    signal input a[TM][K];
    signal input b[K][TN];
    signal input c[TM][TN];

    component check = Fp8GemmContractCheck(TM, TN, K);
    component aDecode[TM][K];
    component bDecode[K][TN];
    for (var i = 0; i < TM; i++) {
        for (var k = 0; k < K; k++) {
            aDecode[i][k] = Fp8E4M3Decode();
            aDecode[i][k].code <== a[i][k];
            check.aValue[i][k] <== aDecode[i][k].value;
            check.aMagnitude[i][k] <== aDecode[i][k].magnitude;
        }
    }
    for (var k = 0; k < K; k++) {
        for (var j = 0; j < TN; j++) {
            bDecode[k][j] = Fp8E4M3Decode();
            bDecode[k][j].code <== b[k][j];
            check.bValue[k][j] <== bDecode[k][j].value;
            check.bMagnitude[k][j] <== bDecode[k][j].magnitude;
        }
    }
    check.cWord <== c;
    for (var i = 0; i < TM; i++) {
        for (var j = 0; j < TN; j++) {
            for (var bit = 0; bit < 32; bit++) {
                _ <== check.cBits[i][j][bit];
            }
        }
    }
    for (var i = 0; i < TM; i++) {
        for (var k = 0; k < K; k++) {
            for (var bit = 0; bit < 8; bit++) {
                _ <== aDecode[i][k].bits[bit];
            }
        }
    }
    for (var k = 0; k < K; k++) {
        for (var j = 0; j < TN; j++) {
            for (var bit = 0; bit < 8; bit++) {
                _ <== bDecode[k][j].bits[bit];
            }
        }
    }
}
