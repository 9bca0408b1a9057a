pragma circom 2.2.0;

include "circomlib/circuits/poseidon.circom";
include "./range.circom";

// The seed-to-bytes rule of seed-mode work (docs/protocol-work.md, common/work.ts):
//   stream(seed, domain, block) = bytes of E_0 ‖ E_1 ‖ …, where E_{17p+q} = PoseidonEx16(seed, domain, block, p, 0…0)[q]
//   (one permutation of width 17, all 17 state words squeezed) and "bytes of E" are the 31 low bytes of E's canonical
//   value, least significant first.

/// @title SeedStreamBits
/// @notice The first NBYTES bytes of stream(seed, DOMAIN, block), as bits.
/// @param NBYTES bytes wanted
/// @param DOMAIN stream domain (1: rows of A, 2: columns of B)
/// @input seed the work seed (public in callers)
/// @input block block index (row block of A or column block of B). Caller must constrain it.
/// @output bits[NBYTES][8] the bytes' bits, LSB first
/// Cost: 612 constraints per 17 elements plus a canonical 254-bit decomposition (~511) per 31 bytes. The canonical
/// (strict) decomposition matters: a plain 254-bit one would let a prover pick the alias E + p for a third of all E.
template SeedStreamBits(NBYTES, DOMAIN) {
    assert(NBYTES >= 1);
    var ELEMENTS = (NBYTES + 30) \ 31;
    var PERMUTATIONS = (ELEMENTS + 16) \ 17;
    signal input seed;
    signal input block;
    signal output bits[NBYTES][8];

    component permutation[PERMUTATIONS];
    component decompose[ELEMENTS];
    for (var p = 0; p < PERMUTATIONS; p++) {
        permutation[p] = PoseidonEx(16, 17);
        permutation[p].initialState <== 0;
        permutation[p].inputs[0] <== seed;
        permutation[p].inputs[1] <== DOMAIN;
        permutation[p].inputs[2] <== block;
        permutation[p].inputs[3] <== p;
        for (var i = 4; i < 16; i++) {
            permutation[p].inputs[i] <== 0;
        }
    }
    for (var e = 0; e < ELEMENTS; e++) {
        decompose[e] = CanonicalBits();
        decompose[e].in <== permutation[e \ 17].out[e % 17];
        for (var bit = 0; bit < 254; bit++) {
            var byteIndex = e * 31 + bit \ 8;
            if (bit < 248 && byteIndex < NBYTES) {
                bits[byteIndex][bit % 8] <== decompose[e].bits[bit];
            } else {
                _ <== decompose[e].bits[bit];
            }
        }
    }
    // Squeezed words past the last element used are not needed.
    for (var e = ELEMENTS; e < PERMUTATIONS * 17; e++) {
        _ <== permutation[e \ 17].out[e % 17];
    }
}
