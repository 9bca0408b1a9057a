pragma circom 2.2.0;

include "../lib/float32.circom";
include "../lib/range.circom";

// Test-only circuit (not part of DEMLE's statement). Float32OnGrid(27, 6) computes `value` as a field division, which
// is a genuine integer only for on-grid patterns; its callers range-check `value`. This wrapper does what such a
// caller does — |value| < 2^40, checked as value + 2^40 ∈ [0, 2^42) — so tests can show that off-grid patterns are
// rejected by the constraints of decoder plus caller.
template Float32OnGridBounded() {
    signal input word;
    signal output value;

    component decode = Float32OnGrid(27, 6);
    decode.word <== word;
    for (var i = 0; i < 32; i++) {
        _ <== decode.bits[i];
    }
    value <== decode.value;
    component bounded = RangeCheck(42);
    bounded.in <== value + (1 << 40);
}
