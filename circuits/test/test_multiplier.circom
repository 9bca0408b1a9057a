pragma circom 2.2.0;

include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/comparators.circom";

// Test-only circuit for the prover infrastructure (not part of DEMLE's statement).
// Proves knowledge of a non-trivial factorisation c = a * b with 1 < a, b < 2^n, where c is public, and outputs
// (a + b)^(2^rounds), so the circuit has a few hundred constraints. Inputs that violate a constraint (a == 1,
// a * b != c, a >= 2^n) make witness generation fail, which the prover tests rely on.
template TestMultiplier(n, rounds) {
    signal input a;
    signal input b;
    signal input c;
    signal output out;

    // Range checks: a, b < 2^n, so a * b cannot wrap around the field.
    component aBits = Num2Bits(n);
    aBits.in <== a;
    _ <== aBits.out;
    component bBits = Num2Bits(n);
    bBits.in <== b;
    _ <== bBits.out;

    // a != 1 and b != 1 (a, b != 0 follows from a * b == c != 0 below).
    component aIsOne = IsEqual();
    aIsOne.in <== [a, 1];
    aIsOne.out === 0;
    component bIsOne = IsEqual();
    bIsOne.in <== [b, 1];
    bIsOne.out === 0;
    component cIsZero = IsZero();
    cIsZero.in <== c;
    cIsZero.out === 0;

    a * b === c;

    signal acc[rounds + 1];
    acc[0] <== a + b;
    for (var i = 0; i < rounds; i++) {
        acc[i + 1] <== acc[i] * acc[i];
    }
    out <== acc[rounds];
}
