pragma circom 2.2.0;

include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/comparators.circom";

/// @title Float32OnGrid
/// @notice Reads an IEEE-754 binary32 bit pattern c as the exact integer X = c·2^SHIFT, refusing every pattern for
///         which that is not an integer of bounded size. Accepted: ±0, and finite c with c·2^SHIFT ∈ Z and
///         exponent field e ≤ 127 − SHIFT + 2^DB − 1. Refused by the constraints: Inf, NaN, subnormals other than ±0,
///         values off the 2^-SHIFT grid, and magnitudes at or above 2^(2^DB − SHIFT).
///         With c = M·2^(e−150) (M the 24-bit significand) and d = e − (127 − SHIFT): X = M·2^d / 2^23, where
///         M·2^d must be divisible by 2^23 — the division is exact only for on-grid values (see soundness note).
/// @param SHIFT grid exponent; 27 for E4M3 GEMM outputs (the tolerance resolution 2^-9·2^-18)
/// @param DB bits of d; bounds |c| < 2^(2^DB − SHIFT)
/// @input word the bit pattern; range-checked here to 32 bits
/// @output bits[32] the pattern's bits, LSB first
/// @output value X = c·2^SHIFT (signed, |X| < 2^(2^DB))
/// Soundness note: value is computed as ±(M·2^d)·2^-23 in the field. For an off-grid pattern that is a huge field
/// element; callers must range-check value (e.g. through a bounded comparison) so that only genuine integers pass.
template Float32OnGrid(SHIFT, DB) {
    assert(SHIFT >= 0 && SHIFT <= 126);
    assert(DB >= 1 && DB <= 7);
    assert(127 - SHIFT + (1 << DB) - 1 <= 254);
    signal input word;
    signal output bits[32];
    signal output value;

    bits <== Num2Bits(32)(word);
    var mantissa = 0;
    for (var i = 0; i < 23; i++) {
        mantissa += bits[i] * (1 << i);
    }
    var exponent = 0;
    for (var i = 0; i < 8; i++) {
        exponent += bits[23 + i] * (1 << i);
    }

    // e = 0 encodes ±0 and subnormals; only ±0 is accepted (subnormals are far below any grid used here).
    signal isZeroExponent <== IsZero()(exponent);
    isZeroExponent * mantissa === 0;

    // d = e − e_lo must fit in DB bits for nonzero values; e_lo = 127 − SHIFT is the smallest exponent at which an
    // on-grid value exists (M ≤ 2^24 − 1 has at most 23 trailing zero bits).
    signal shift <== (1 - isZeroExponent) * (exponent - (127 - SHIFT));
    signal shiftBits[DB] <== Num2Bits(DB)(shift);
    signal pow2[DB];
    pow2[0] <== 1 + shiftBits[0];
    for (var i = 1; i < DB; i++) {
        pow2[i] <== pow2[i - 1] * (1 + ((1 << (1 << i)) - 1) * shiftBits[i]);
    }

    signal significand <== (1 - isZeroExponent) * (1 << 23) + mantissa;
    signal scaled <== significand * pow2[DB - 1];
    // Field division by 2^23: exact for on-grid values only (callers range-check value).
    value <== (1 - 2 * bits[31]) * scaled / (1 << 23);
}
