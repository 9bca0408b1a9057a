pragma circom 2.2.0;

include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/comparators.circom";
include "./fp8.circom";
include "./range.circom";

// Softmax checks for FP8 attention (docs/ops/attention.md). Scores are integers x in units 2^-F; exponentials are
// fixed point with EXP_BITS = 31 fraction bits: e ≈ 2^31·exp(−x·2^-F) for x ≥ 0.
//
// Method (range reduction to base 2 + a rational approximation, both checked as integer identities):
//   x·2^G = k·LN2 + r, with LN2 = round(ln 2·2^(F+G)), 0 ≤ k ≤ 31, 0 ≤ r < 2^(F+G) (so r·2^-(F+G) ∈ [0, 1));
//   exp(−x·2^-F) ≈ 2^-k · N(ρ)/M(ρ), ρ = r·2^-(F+G), with the [3/3] Padé approximant of exp(−ρ):
//   N(ρ) = 120 − 60ρ + 12ρ² − ρ³, M(ρ) = 120 + 60ρ + 12ρ² + ρ³ (relative error ≤ 2^-20.29 for ρ < ln 2, the honest
//   range, and ≤ 2^-16.56 for ρ < 1, the range the constraints allow);
//   e is then pinned to floor(2^(31−k)·N/M) − {0, 1, 2} by one range check of 2^(31−k)·N − e·M.
// Arguments at or beyond XMAX (≈ 32·ln 2, where 2^31·exp(−x) < 1/2) are clamped to XMAX, whose e is 0.

/// ln 2 · 2^60, rounded down (ln 2 = 0.693147180559945309417…).
function ln2Times2To60() {
    return 799144290325165978;
}

/// round(ln 2 · 2^B) for B ≤ 60.
function ln2Rounded(B) {
    assert(B >= 1 && B <= 60);
    return (ln2Times2To60() + (1 << (59 - B))) \ (1 << (60 - B));
}

/// Fraction bits of the fixed-point exponentials.
function expFractionBits() {
    return 31;
}

/// Extra bits of the range reduction: x is scaled by 2^G before k·ln 2 is subtracted, so that k·(rounding of ln 2)
/// stays ≤ 31·2^-(F+G+1).
function expReductionBits() {
    return 8;
}

/// The clamp point of ExpNegFixed(F, ·): the largest x whose reduction has k ≤ 31.
function expClamp(F) {
    var G = expReductionBits();
    return (32 * ln2Rounded(F + G) - 1) \ (1 << G);
}

function softmaxBitLength(x) {
    var n = 0;
    while (x > 0) {
        n++;
        x = x \ 2;
    }
    return n;
}

/// @title ExpNegFixed
/// @notice e ≈ 2^31·exp(−x·2^-F) for an integer x ≥ 0 (units 2^-F): e is within 2 units (2^-31) below the floor of
///         2^31·2^-k·N(ρ)/M(ρ) (see the file header), so |e − 2^31·exp(−x·2^-F)| ≤ 2^31·exp(−x·2^-F)·2^-16.5 + 3.
///         For x ≥ expClamp(F) the result is 0 (the true value is below 2^-32). A negative x (as an integer) or one of
///         2^XB or more (after the clamp point) has no satisfying witness.
/// @param F fraction bits of x (1 ≤ F ≤ 40)
/// @param XB bits of the largest x the caller can produce (the clamp check x − XMAX ∈ [0, 2^XB))
/// @input x the argument, in units 2^-F. Caller must enforce nothing else: x's range follows from the constraints.
/// @output e the fixed-point exponential, 0 ≤ e ≤ 2^31
template ExpNegFixed(F, XB) {
    assert(F >= 1 && F <= 40);
    assert(XB >= 1 && XB <= 200);
    var G = expReductionBits();
    var R = F + G;
    var LN2 = ln2Rounded(R);
    var XMAX = expClamp(F);
    var ONE3 = 1 << (3 * R);
    var ONE2 = 1 << (2 * R);
    var ONE1 = 1 << R;
    // M(ρ)·2^(3R) < 193·2^(3R): the remainder window below.
    var W = softmaxBitLength(193 * ONE3);
    signal input x;
    signal output e;

    // Clamp: big = 1 only for x ≥ XMAX (checked), then the reduced argument is XMAX.
    signal big <-- x >= XMAX ? 1 : 0;
    big * (big - 1) === 0;
    signal bigX <== big * x;
    component clampGap = RangeCheck(XB);
    clampGap.in <== bigX - big * XMAX;
    signal clamped <== x - bigX + big * XMAX;

    // Range reduction: clamped·2^G = k·LN2 + r, k ∈ [0, 31], r ∈ [0, 2^R).
    signal k <-- (clamped * (1 << G)) \ LN2;
    signal kBits[5] <== Num2Bits(5)(k);
    signal r <== clamped * (1 << G) - k * LN2;
    component rRange = RangeCheck(R);
    rRange.in <== r;

    // 2^(31 − k) = Π over the complemented bits of k.
    signal pow2[5];
    pow2[0] <== 1 + (1 - kBits[0]);
    for (var i = 1; i < 5; i++) {
        pow2[i] <== pow2[i - 1] * (1 + ((1 << (1 << i)) - 1) * (1 - kBits[i]));
    }

    signal r2 <== r * r;
    signal r3 <== r2 * r;
    // N and M scaled by 2^(3R): exact integers.
    var numerator = 120 * ONE3 - 60 * ONE2 * r + 12 * ONE1 * r2 - r3;
    var denominator = 120 * ONE3 + 60 * ONE2 * r + 12 * ONE1 * r2 + r3;
    signal scaledNumerator <== pow2[4] * numerator;
    e <-- scaledNumerator \ denominator;
    component eRange = RangeCheck(32);
    eRange.in <== e;
    signal eTimesDenominator <== e * denominator;
    // 0 ≤ 2^(31−k)·N − e·M < 2^W, with 2^W < 2.14·M: e ∈ {floor − 2, floor − 1, floor}.
    component remainder = RangeCheck(W);
    remainder.in <== scaledNumerator - eTimesDenominator;
}

/// @title Fp8SoftmaxRowCheck
/// @notice One softmax row of FP8 attention: the P codes are a bounded-error E4M3FN quantisation (per-tensor scale
///         2^-8) of softmax over the visible scores. With e_j from ExpNegFixed(F, XB) on m − score_j and Z = Σ e_j,
///         each code's value P_j = n_j·2^-17 must satisfy
///             |P_j − e_j/Z| ≤ ulp(P_j)/2 + 2^-16·e_j/Z + 2^-24,
///         checked as |128·n_j·Z − 2^24·e_j| ≤ 64·ulp_j·Z + 256·e_j + Z with ulp_j in units 2^-9 (ulp(P_j) = ulp_j·2^-17).
///         The row maximum m is a witness: every visible score must be ≤ m (otherwise its exponential has no
///         witness) and Z ≥ 2^30 bounds m ≤ max + ln(2L). Masked positions get e_j = 0 and therefore code 0.
/// @param L keys per row (1 ≤ L ≤ 32)
/// @param F fraction bits of the scores (scores are integers in units 2^-F)
/// @param XB bit bound of m − score for visible positions (see ExpNegFixed)
/// @param MASKED 1: visible[] is read; 0: every position is visible and visible[] must be 1 (it is not read)
/// @input score[L] the scores (integers). Caller must bound them (|score| < 2^(XB−2)).
/// @input visible[L] 1 for a visible key, 0 for a masked one. Caller must enforce that they are boolean and that at
///        least one is 1.
/// @input rowMax the witness m
/// @input pCode[L] the E4M3FN codes of P/2^-8; range-checked here to [0, 127] (sign 0)
/// @output pMagnitude[L] n_j, the codes' values in units 2^-9 (P_j = n_j·2^-17)
template Fp8SoftmaxRowCheck(L, F, XB, MASKED) {
    assert(L >= 1 && L <= 32);
    assert(MASKED == 0 || MASKED == 1);
    var EXP_ONE = 1 << expFractionBits();
    // |128·n·Z − 2^24·e| and the tolerance are below this: n ≤ 245760 (the formula value of code 0x7F),
    // ulp ≤ 2^14, Z ≤ L·2^31, e ≤ 2^31.
    var ZMAX = L * EXP_ONE;
    var PB = softmaxBitLength(2 * (128 * 245760 + 64 * 16384 + 1) * ZMAX + 2 * ((1 << 24) + 256) * EXP_ONE);
    signal input score[L];
    signal input visible[L];
    signal input rowMax;
    signal input pCode[L];
    signal output pMagnitude[L];

    component exp[L];
    signal e[L];
    signal maskedArgument[L];
    var z = 0;
    for (var j = 0; j < L; j++) {
        exp[j] = ExpNegFixed(F, XB);
        if (MASKED == 1) {
            maskedArgument[j] <== visible[j] * (rowMax - score[j]);
            exp[j].x <== maskedArgument[j];
            e[j] <== visible[j] * exp[j].e;
        } else {
            visible[j] === 1;
            maskedArgument[j] <== rowMax - score[j];
            exp[j].x <== maskedArgument[j];
            e[j] <== exp[j].e;
        }
        z += e[j];
    }
    signal sum <== z;
    // Z ≥ 1/2: the witness m is at most ln(2L) above the true maximum.
    component sumFloor = RangeCheck(softmaxBitLength(ZMAX));
    sumFloor.in <== sum - EXP_ONE / 2;

    signal codeBits[L][7];
    component magnitude[L];
    signal isSubnormal[L];
    signal nTimesZ[L];
    signal ulpTimesZ[L];
    component lowerGap[L];
    component upperGap[L];
    for (var j = 0; j < L; j++) {
        codeBits[j] <== Num2Bits(7)(pCode[j]);
        magnitude[j] = Fp8MagnitudeFromBits(4, 3);
        magnitude[j].m <== [codeBits[j][0], codeBits[j][1], codeBits[j][2]];
        magnitude[j].e <== [codeBits[j][3], codeBits[j][4], codeBits[j][5], codeBits[j][6]];
        pMagnitude[j] <== magnitude[j].magnitude;
        // ulp = 2^(max(e, 1) − 1) = (2^e + [e = 0]) / 2 in units 2^-9.
        isSubnormal[j] <== IsZero()(magnitude[j].pow2e - 1);
        nTimesZ[j] <== magnitude[j].magnitude * sum;
        ulpTimesZ[j] <== (magnitude[j].pow2e + isSubnormal[j]) * sum;
        var tolerance = 32 * ulpTimesZ[j] + 256 * e[j] + sum;
        lowerGap[j] = RangeCheck(PB);
        lowerGap[j].in <== tolerance - 128 * nTimesZ[j] + (1 << 24) * e[j];
        upperGap[j] = RangeCheck(PB);
        upperGap[j].in <== tolerance + 128 * nTimesZ[j] - (1 << 24) * e[j];
    }
}
