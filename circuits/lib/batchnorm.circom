pragma circom 2.2.0;

include "./float32.circom";
include "./range.circom";

// The FP8 batch-normalisation (inference) numerics contract (docs/ops/batchnorm.md), for E4M3FN x, mean, var, γ, β
// (scaled integers X, M, V, G, B in units of 2^-9) and float32 outputs y:
//   Q = 2·(|V| + 16)                       var + ε = |V|·2^-9 + 2^-5 = Q·2^-10, so 1/√(var + ε) = 2^5/√Q
//   R = ⌊2^F/√Q⌋                           (F = 40), checked as R²·Q ≤ 2^2F < (R + 1)²·Q
//   N = (X − M)·G·R + B·2^(F+4)            ŷ = N·2^-(F+13): the affine map with 2^5/√Q replaced by R·2^-F·2^5
//   T = (|X| + |M|)·|G|·R + |B|·2^(F+4)    the sum of the magnitudes of the terms, same units
//   y is finite, Y = y·2^(F+13+18) ∈ Z, and |Y − 2^18·N| ≤ T, i.e. |y − ŷ| ≤ 2^-18·T·2^-(F+13).
// Every comparison is an integer range check whose bit width is computed below from the largest honest value.

/// Fraction bits F of the fixed-point inverse square root R = ⌊2^F/√Q⌋.
function batchNormFractionBits() {
    return 40;
}

/// The contract's relative tolerance is 2^-batchNormToleranceShift() of T.
function batchNormToleranceShift() {
    return 18;
}

/// Outputs are read on the grid 2^-batchNormGridShift() (the tolerance's resolution): 13 + F + 18 = 71.
function batchNormGridShift() {
    return 13 + batchNormFractionBits() + batchNormToleranceShift();
}

/// ε = 2^-5, in units of 2^-9.
function batchNormEpsilonUnits() {
    return 16;
}

/// Largest E4M3FN magnitude in units of 2^-9 (448).
function batchNormMaxScaled() {
    return 229376;
}

/// Largest Q = 2·(229376 + 16).
function batchNormMaxQ() {
    return 2 * (batchNormMaxScaled() + batchNormEpsilonUnits());
}

function batchNormBitLength(x) {
    var n = 0;
    while (x > 0) {
        n++;
        x = x \ 2;
    }
    return n;
}

/// ⌊√n⌋ for an integer 0 ≤ n < 2^250 (witness computation and parameter bounds only).
function batchNormFloorSqrt(n) {
    var r = 0;
    for (var bit = (batchNormBitLength(n) + 1) \ 2; bit >= 0; bit--) {
        var candidate = r + (1 << bit);
        if (candidate * candidate <= n) {
            r = candidate;
        }
    }
    return r;
}

/// @title Fp8BatchNormInverseSqrt
/// @notice The fixed-point inverse square root R = ⌊2^F/√Q⌋ of one channel (F = batchNormFractionBits()), as a
///         witness that the constraints pin down: R < 2^F, R²·Q ≤ 2^2F and (R + 1)²·Q ≥ 2^2F + 1. So
///         R·2^-F ≤ 1/√Q < (R + 1)·2^-F: a bounded-error check whose relative error is below 1/R ≤ √Q·2^-F·(1 + 2^-30).
/// @input q Q = 2·(var + ε)·2^9. Caller must enforce that q is an integer in [32, batchNormMaxQ()] (e.g. a linear
///        function of a constrained FP8 magnitude); then every product below is far below the field size.
/// @output r R = ⌊2^F/√Q⌋
template Fp8BatchNormInverseSqrt() {
    var F = batchNormFractionBits();
    var ONE = 1 << (2 * F);
    // For 32 ≤ Q ≤ QMAX both gaps are < (2R + 1)·Q ≤ 2^(F+1)·√Q + Q.
    var GAP_BITS = batchNormBitLength(2 * (1 << F) * (batchNormFloorSqrt(batchNormMaxQ()) + 1) + batchNormMaxQ());
    // r < 2^F and q ≤ QMAX < 2^19 keep (r + 1)²·q below 2^(2F + 21), far from the field size.
    assert(2 * F + 21 < 250);
    assert(GAP_BITS <= 2 * F);
    signal input q;
    signal output r;

    r <-- batchNormFloorSqrt(ONE \ q);
    component rRange = RangeCheck(F);
    rRange.in <== r;
    signal rq <== r * q;
    signal rrq <== rq * r;
    // 2^2F − R²·Q ≥ 0
    component below = RangeCheck(GAP_BITS);
    below.in <== ONE - rrq;
    // (R + 1)²·Q − 2^2F − 1 ≥ 0
    component above = RangeCheck(GAP_BITS);
    above.in <== rrq + 2 * rq + q - ONE - 1;
}

/// @title Fp8BatchNormContractCheck
/// @notice Enforces the batch-normalisation contract (header of this file) for a TM×TN output tile: TM rows of TN
///         channels, channel j with parameters mean[j], var[j], γ[j], β[j]. Per channel: one Fp8BatchNormInverseSqrt
///         and two products; per output: two products, a float32 decode (Float32OnGrid(71, 7)) and two range checks.
/// @param TM rows (samples or pixels) of the tile
/// @param TN channels of the tile
/// @input xValue[TM][TN], xMagnitude[TM][TN] the inputs, units 2^-9. Caller must enforce that they come from a
///        constrained E4M3FN decoding (|x| ≤ 229376, xValue = ±xMagnitude), e.g. Fp8E4M3FromBits.
/// @input meanValue[TN], meanMagnitude[TN], gammaValue[TN], gammaMagnitude[TN], betaValue[TN], betaMagnitude[TN]
///        the channel parameters, with the same caller obligation
/// @input varMagnitude[TN] |var| per channel (units 2^-9); caller must enforce that it is a constrained E4M3FN magnitude
/// @input yWord[TM][TN] the committed float32 bit patterns; range-checked to 32 bits here
/// @output yBits[TM][TN][32] the outputs' bit decompositions
template Fp8BatchNormContractCheck(TM, TN) {
    assert(TM >= 1 && TN >= 1);
    var F = batchNormFractionBits();
    var TOLERANCE = batchNormToleranceShift();
    var SHIFT = batchNormGridShift();
    var BETA_SHIFT = F + 4;
    var MAX_SCALED = batchNormMaxScaled();
    // Largest R (at the smallest Q = 32) and largest T; honest gaps lie in [0, 2·T].
    var R_MAX = batchNormFloorSqrt((1 << (2 * F)) \ 32);
    var T_MAX = 2 * MAX_SCALED * MAX_SCALED * R_MAX + MAX_SCALED * (1 << BETA_SHIFT);
    var RANGE_BITS = batchNormBitLength(2 * T_MAX);
    // Float32OnGrid(SHIFT, 7) bounds |Y| < 2^128 and 2^TOLERANCE·|N| ≤ 2^TOLERANCE·T_MAX, so every gap is an integer
    // of magnitude < 2^130 before reduction: a passing range check proves the inequality over the integers.
    assert(RANGE_BITS + TOLERANCE < 128);
    signal input xValue[TM][TN];
    signal input xMagnitude[TM][TN];
    signal input meanValue[TN];
    signal input meanMagnitude[TN];
    signal input varMagnitude[TN];
    signal input gammaValue[TN];
    signal input gammaMagnitude[TN];
    signal input betaValue[TN];
    signal input betaMagnitude[TN];
    signal input yWord[TM][TN];
    signal output yBits[TM][TN][32];

    component inverseSqrt[TN];
    signal gammaR[TN];
    signal gammaMagnitudeR[TN];
    for (var j = 0; j < TN; j++) {
        inverseSqrt[j] = Fp8BatchNormInverseSqrt();
        inverseSqrt[j].q <== 2 * (varMagnitude[j] + batchNormEpsilonUnits());
        gammaR[j] <== gammaValue[j] * inverseSqrt[j].r;
        gammaMagnitudeR[j] <== gammaMagnitude[j] * inverseSqrt[j].r;
    }

    signal centered[TM][TN];
    signal magnitudes[TM][TN];
    component outputWord[TM][TN];
    component lowerGap[TM][TN];
    component upperGap[TM][TN];
    for (var i = 0; i < TM; i++) {
        for (var j = 0; j < TN; j++) {
            // (X − M)·G·R and (|X| + |M|)·|G|·R
            centered[i][j] <== (xValue[i][j] - meanValue[j]) * gammaR[j];
            magnitudes[i][j] <== (xMagnitude[i][j] + meanMagnitude[j]) * gammaMagnitudeR[j];
            var n = centered[i][j] + betaValue[j] * (1 << BETA_SHIFT);
            var t = magnitudes[i][j] + betaMagnitude[j] * (1 << BETA_SHIFT);
            outputWord[i][j] = Float32OnGrid(SHIFT, 7);
            outputWord[i][j].word <== yWord[i][j];
            yBits[i][j] <== outputWord[i][j].bits;
            // Y − 2^18·N + T ≥ 0 and 2^18·N + T − Y ≥ 0
            lowerGap[i][j] = RangeCheck(RANGE_BITS);
            lowerGap[i][j].in <== outputWord[i][j].value - (1 << TOLERANCE) * n + t;
            upperGap[i][j] = RangeCheck(RANGE_BITS);
            upperGap[i][j].in <== (1 << TOLERANCE) * n + t - outputWord[i][j].value;
        }
    }
}
