pragma circom 2.2.0;

include "circomlib/circuits/bitify.circom";
include "./fp8.circom";
include "./merkle.circom";
include "./input_commitment.circom";

/// @title CommittedE4M3Codes
/// @notice N E4M3FN codes that are one leaf of a requester's commitment (docs/jobs.md "Commitments"): every code is
///         decoded with Fp8E4M3Decode (range-checked to a byte, the NaN codes 0x7F and 0xFF rejected), the codes in
///         order are hashed with PackedBytesHash(N), and that leaf with `siblings` at `index` must give `root`.
/// @param N number of codes, 1 ≤ N ≤ 31·256 (one byte leaf)
/// @param DEPTH depth of the tree (≥ 1)
/// @input codes[N] the codes, in the leaf's byte order
/// @input index the leaf index; decomposed here to DEPTH bits, so index < 2^DEPTH is enforced. Caller must enforce
///        that it is the leaf the codes have to come from.
/// @input siblings[DEPTH] Merkle siblings of the leaf, leaf level first
/// @input root the committed root the leaf must open to
/// @output value[N], magnitude[N] the decoded codes n = ±|n| (units of 2^-9, |n| ≤ 229376)
template CommittedE4M3Codes(N, DEPTH) {
    assert(N >= 1 && N <= 31 * 256);
    assert(DEPTH >= 1);
    signal input codes[N];
    signal input index;
    signal input siblings[DEPTH];
    signal input root;
    signal output value[N];
    signal output magnitude[N];

    component decode[N];
    component leaf = PackedBytesHash(N);
    for (var i = 0; i < N; i++) {
        // Num2Bits(8) inside: the bytes hashed are < 256, as PackedBytesHash requires.
        decode[i] = Fp8E4M3Decode();
        decode[i].code <== codes[i];
        for (var bit = 0; bit < 8; bit++) {
            _ <== decode[i].bits[bit];
        }
        value[i] <== decode[i].value;
        magnitude[i] <== decode[i].magnitude;
        leaf.bytes[i] <== codes[i];
    }
    component indexBits = Num2Bits(DEPTH);
    indexBits.in <== index;
    component path = MerkleRootFromPath(DEPTH);
    path.leaf <== leaf.out;
    path.siblings <== siblings;
    path.indexBits <== indexBits.out;
    path.root === root;
}
