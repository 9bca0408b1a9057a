pragma circom 2.2.0;

include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/comparators.circom";

// FP8 decoding as exact scaled integers (docs/numerics.md). Every finite E4M3FN value is n·2^-9 with
// |n| ≤ 229376; every finite E5M2 value is n·2^-16 with |n| ≤ 3758096384.
// Magnitude formula shared by both formats, with e the exponent field, m the mantissa field, MB mantissa bits:
//   |n| = (2^MB·[e ≠ 0] + m) · 2^(max(e,1) − 1)  =  (2^MB·(1 − z) + m) · (2^e + z) / 2,   z = [e = 0].

/// @title Fp8MagnitudeFromBits
/// @notice Magnitude |n| of an FP8 code given its exponent and mantissa bits (no sign, no NaN/Inf handling).
/// @param EB exponent bits (4 for E4M3FN, 5 for E5M2)
/// @param MB mantissa bits (3 for E4M3FN, 2 for E5M2)
/// @input e[EB] exponent bits, LSB first. Caller must enforce that they are boolean.
/// @input m[MB] mantissa bits, LSB first. Caller must enforce that they are boolean.
/// @output magnitude |n|, in units of the format's smallest subnormal
/// @output pow2e 2^e (lets callers detect the all-ones exponent without another decomposition)
template Fp8MagnitudeFromBits(EB, MB) {
    assert(EB == 4 || EB == 5);
    assert(MB == 7 - EB);
    signal input e[EB];
    signal input m[MB];
    signal output magnitude;
    signal output pow2e;

    // 2^e = Π (1 + (2^(2^i) − 1)·e_i): one multiplication per exponent bit after the first.
    signal partial[EB];
    partial[0] <== 1 + e[0];
    for (var i = 1; i < EB; i++) {
        partial[i] <== partial[i - 1] * (1 + ((1 << (1 << i)) - 1) * e[i]);
    }
    pow2e <== partial[EB - 1];

    // z = [e = 0] = [2^e = 1]
    component isSubnormal = IsZero();
    isSubnormal.in <== pow2e - 1;
    signal z <== isSubnormal.out;

    var mantissa = 0;
    for (var i = 0; i < MB; i++) {
        mantissa += m[i] * (1 << i);
    }
    // (2^e + z) is even for every e, so the field halving is the integer one.
    magnitude <== ((1 << MB) * (1 - z) + mantissa) * (pow2e + z) / 2;
}

/// @title Fp8E4M3Decode
/// @notice Decodes an E4M3FN byte to the signed integer n with value n·2^-9. Rejects the NaN codes 0x7F and 0xFF.
/// @input code the FP8 byte; range-checked here to [0, 255]
/// @output bits[8] the code's bits, LSB first (bit 7 is the sign)
/// @output magnitude |n| ≤ 229376
/// @output value n = ±magnitude
template Fp8E4M3Decode() {
    signal input code;
    signal output bits[8];
    signal output magnitude;
    signal output value;

    bits <== Num2Bits(8)(code);
    component decoded = Fp8E4M3FromBits(0);
    decoded.bits <== bits;
    magnitude <== decoded.magnitude;
    value <== decoded.value;
}

/// @title Fp8E4M3FromBits
/// @notice E4M3FN decoding from bits, for callers that already hold a constrained bit decomposition.
/// @param NAN_TO_ZERO 0: the NaN codes are rejected by the constraints. 1: they decode to ±0 (used for seed-generated
///        bytes, where the generator's raw bytes may hit a NaN code; the substitution is part of the work spec).
/// @input bits[8] code bits, LSB first. Caller must enforce that they are boolean.
/// @output magnitude |n| ≤ 229376 (0 for a NaN code when NAN_TO_ZERO = 1)
/// @output value n = ±magnitude, in units of 2^-9
template Fp8E4M3FromBits(NAN_TO_ZERO) {
    assert(NAN_TO_ZERO == 0 || NAN_TO_ZERO == 1);
    signal input bits[8];
    signal output magnitude;
    signal output value;

    component raw = Fp8MagnitudeFromBits(4, 3);
    raw.m <== [bits[0], bits[1], bits[2]];
    raw.e <== [bits[3], bits[4], bits[5], bits[6]];
    _ <== raw.pow2e;

    // The NaN codes S.1111.111 are the only ones whose formula magnitude is (8 + 7)·2^14 = 245760
    // (the largest finite magnitude is 14·2^14 = 229376).
    var NAN_MAGNITUDE = 245760;
    if (NAN_TO_ZERO == 0) {
        signal nanInverse <-- 1 / (raw.magnitude - NAN_MAGNITUDE);
        (raw.magnitude - NAN_MAGNITUDE) * nanInverse === 1;
        magnitude <== raw.magnitude;
    } else {
        signal isNan <== IsEqual()([raw.magnitude, NAN_MAGNITUDE]);
        magnitude <== raw.magnitude * (1 - isNan);
    }
    value <== (1 - 2 * bits[7]) * magnitude;
}

/// @title Fp8E5M2Decode
/// @notice Decodes an E5M2 byte to the signed integer n with value n·2^-16. Rejects Inf and NaN (exponent 31).
/// @input code the FP8 byte; range-checked here to [0, 255]
/// @output magnitude |n| ≤ 3758096384
/// @output value n = ±magnitude
template Fp8E5M2Decode() {
    signal input code;
    signal output magnitude;
    signal output value;

    signal bits[8] <== Num2Bits(8)(code);
    component raw = Fp8MagnitudeFromBits(5, 2);
    raw.m <== [bits[0], bits[1]];
    raw.e <== [bits[2], bits[3], bits[4], bits[5], bits[6]];

    // Exponent 31 (Inf and NaN) is exactly 2^e = 2^31.
    signal infNanInverse <-- 1 / (raw.pow2e - (1 << 31));
    (raw.pow2e - (1 << 31)) * infNanInverse === 1;
    magnitude <== raw.magnitude;
    value <== (1 - 2 * bits[7]) * magnitude;
}
