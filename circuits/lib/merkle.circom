pragma circom 2.2.0;

include "circomlib/circuits/poseidon.circom";

// The output commitment (common/work.ts): leaf(tile) = Poseidon(P_0, …, P_{n-1}) where P_i packs the tile's
// float32 words 7i … 7i+6 (row-major) as Σ word_{7i+j}·2^(32j); the tree is binary Poseidon(2) of fixed depth with
// tile index = row block · 2^DC + column block, and leaves of tiles outside the work are 0.

/// @title PackedWordsHash
/// @notice Poseidon hash of NWORDS 32-bit words packed 7 to a field element.
/// @param NWORDS number of words, 1 ≤ NWORDS ≤ 112 (at most 16 packed elements)
/// @input words[NWORDS] the words. Caller must enforce each is < 2^32 (otherwise packing is not injective).
/// @output out the hash
template PackedWordsHash(NWORDS) {
    var ELEMENTS = (NWORDS + 6) \ 7;
    assert(NWORDS >= 1 && ELEMENTS <= 16);
    signal input words[NWORDS];
    signal output out;

    component hash = Poseidon(ELEMENTS);
    for (var e = 0; e < ELEMENTS; e++) {
        var packed = 0;
        for (var j = 0; j < 7 && 7 * e + j < NWORDS; j++) {
            packed += words[7 * e + j] * (1 << (32 * j));
        }
        hash.inputs[e] <== packed;
    }
    out <== hash.out;
}

/// @title MerkleRootFromPath
/// @notice Root of a binary Poseidon Merkle tree from a leaf, its siblings and its index bits.
/// @param DEPTH tree depth (≥ 1)
/// @input leaf the leaf hash
/// @input siblings[DEPTH] sibling hashes, leaf level first
/// @input indexBits[DEPTH] leaf index bits, LSB first (bit = 1: the node is a right child). Caller must enforce that
///        they are boolean.
/// @output root the computed root
template MerkleRootFromPath(DEPTH) {
    assert(DEPTH >= 1);
    signal input leaf;
    signal input siblings[DEPTH];
    signal input indexBits[DEPTH];
    signal output root;

    signal node[DEPTH + 1];
    signal left[DEPTH];
    component hash[DEPTH];
    node[0] <== leaf;
    for (var level = 0; level < DEPTH; level++) {
        left[level] <== node[level] + indexBits[level] * (siblings[level] - node[level]);
        hash[level] = Poseidon(2);
        hash[level].inputs[0] <== left[level];
        hash[level].inputs[1] <== node[level] + siblings[level] - left[level];
        node[level + 1] <== hash[level].out;
    }
    root <== node[DEPTH];
}
