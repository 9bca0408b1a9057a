pragma circom 2.2.0;

include "circomlib/circuits/poseidon.circom";

// The byte leaf of the input-root ("job") mode commitments (docs/jobs.md, common/job-commitment.ts): bytes packed 31
// per field element, little-endian; n ≤ 16 elements are hashed with one Poseidon(n); more are hashed in runs of 16
// (the last run holding the rest, Poseidon of its length), and the leaf is Poseidon of the run hashes (≤ 16 runs).

function packedBytesElements(NBYTES) {
    return (NBYTES + 30) \ 31;
}

/// @title PackedBytesHash
/// @notice Poseidon hash of NBYTES bytes packed 31 to a field element (e_i = Σ_j byte[31i + j]·256^j, the last element
///         holding the remainder): Poseidon(e_0…e_{n−1}) for n ≤ 16 elements, else Poseidon(h_0…h_{R−1}) with
///         h_r = Poseidon(e_{16r}…e_{min(16r+15, n−1)}) and R = ⌈n/16⌉ ≤ 16 runs.
/// @param NBYTES number of bytes, 1 ≤ NBYTES ≤ 31·256 (at most 16 runs of 16 elements)
/// @input bytes[NBYTES] the bytes. Caller must enforce each is < 256 (otherwise packing is not injective), e.g. by
///        decoding it with Fp8E4M3Decode (Num2Bits(8)).
/// @output out the hash
template PackedBytesHash(NBYTES) {
    var ELEMENTS = packedBytesElements(NBYTES);
    var RUNS = (ELEMENTS + 15) \ 16;
    assert(NBYTES >= 1 && RUNS <= 16);
    signal input bytes[NBYTES];
    signal output out;

    var packed[ELEMENTS];
    for (var e = 0; e < ELEMENTS; e++) {
        packed[e] = 0;
        for (var j = 0; j < 31 && 31 * e + j < NBYTES; j++) {
            packed[e] += bytes[31 * e + j] * (1 << (8 * j));
        }
    }

    if (ELEMENTS <= 16) {
        component hash = Poseidon(ELEMENTS);
        for (var e = 0; e < ELEMENTS; e++) {
            hash.inputs[e] <== packed[e];
        }
        out <== hash.out;
    } else {
        component run[RUNS];
        component top = Poseidon(RUNS);
        for (var r = 0; r < RUNS; r++) {
            var length = ELEMENTS - 16 * r < 16 ? ELEMENTS - 16 * r : 16;
            run[r] = Poseidon(length);
            for (var e = 0; e < length; e++) {
                run[r].inputs[e] <== packed[16 * r + e];
            }
            top.inputs[r] <== run[r].out;
        }
        out <== top.out;
    }
}
