pragma circom 2.2.0;

include "circomlib/circuits/comparators.circom";

/// @title RangeCheck
/// @notice Constrains in ∈ [0, 2^N) (as an integer), by a boolean decomposition whose bits are not exported.
/// @param N bit width; must leave the field's wrap-around unreachable for the caller's use (N ≤ 252 asserted)
/// @input in the value to check
template RangeCheck(N) {
    assert(N >= 1 && N <= 252);
    signal input in;
    signal bits[N];
    var sum = 0;
    for (var i = 0; i < N; i++) {
        bits[i] <-- (in >> i) & 1;
        bits[i] * (bits[i] - 1) === 0;
        sum += bits[i] * (1 << i);
    }
    sum === in;
}

/// @title CanonicalBits
/// @notice The canonical 254-bit decomposition of a field element (the one whose integer value is < p). A plain
///         254-bit decomposition also admits in + p whenever in + p < 2^254, i.e. for about a third of all elements.
/// @input in any field element
/// @output bits[254] LSB first
template CanonicalBits() {
    signal input in;
    signal output bits[254];

    // p = P_HIGH·2^127 + P_LOW (BN254 scalar field)
    // (Written out: p itself is 0 as a circom value.)
    var P_HIGH = 0x60c89ce5c263405370a08b6d0302b0ba;
    var P_LOW = 0x2833e84879b9709143e1f593f0000001;
    var low = 0;
    var high = 0;
    for (var i = 0; i < 254; i++) {
        bits[i] <-- (in >> i) & 1;
        bits[i] * (bits[i] - 1) === 0;
        if (i < 127) {
            low += bits[i] * (1 << i);
        } else {
            high += bits[i] * (1 << (i - 127));
        }
    }
    low + high * (1 << 127) === in;

    // value < p  ⟺  high < P_HIGH, or high = P_HIGH and low < P_LOW.
    component highAtMost = RangeCheck(127);
    highAtMost.in <== P_HIGH - high;
    signal highIsMax <== IsZero()(P_HIGH - high);
    component lowBelow = RangeCheck(127);
    lowBelow.in <== highIsMax * (P_LOW - 1 - low);
}
