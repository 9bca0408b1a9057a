pragma circom 2.2.0;

include "./merkle.circom";
include "./challenge.circom";

/// @title ChallengedTiles
/// @notice The commitment side of every op's seed-mode tile proof: decodes the work shape, derives NT challenged tiles
///         from the public challenge (tile u reads window u mod ⌊224/(MAX_DR+MAX_DC)⌋ of Poseidon(challenge, v), as
///         common/work.ts challengedTile) and checks that each tile's words, packed 7 per field element and hashed, are
///         the leaf at the tile's index (colBlock + 2^MAX_DC·rowBlock) of the committed output tree.
/// @param NT challenged tiles
/// @param WORDS words per tile leaf (1 ≤ WORDS ≤ 112)
/// @param MAX_DR, MAX_DC largest grid: the output tree has depth MAX_DR + MAX_DC
/// @input outputRoot the committed output root (public in callers)
/// @input challenge the challenge (public in callers)
/// @input shape dr + 256·dc (public in callers)
/// @input words[NT][WORDS] each tile's committed words. Caller must enforce that every word is < 2^32 (packing is
///        injective only then), e.g. by decoding it with Float32OnGrid.
/// @input siblings[NT][MAX_DR + MAX_DC] Merkle siblings of each tile's leaf
/// @output rowBlock[NT], colBlock[NT] each challenged tile's block coordinates, within the work's 2^dr × 2^dc grid
template ChallengedTiles(NT, WORDS, MAX_DR, MAX_DC) {
    assert(NT >= 1);
    assert(WORDS >= 1 && WORDS <= 112);
    assert(MAX_DR + MAX_DC <= 64);
    var DEPTH = MAX_DR + MAX_DC;
    signal input outputRoot;
    signal input challenge;
    signal input shape;
    signal input words[NT][WORDS];
    signal input siblings[NT][DEPTH];
    signal output rowBlock[NT];
    signal output colBlock[NT];

    component grid = WorkShape(MAX_DR, MAX_DC);
    grid.shape <== shape;

    var WINDOW = challengeWindowBits(MAX_DR, MAX_DC);
    var PER_HASH = challengeTilesPerHash(MAX_DR, MAX_DC);
    var HASHES = (NT + PER_HASH - 1) \ PER_HASH;
    component challengeBits = ChallengeBits(HASHES);
    challengeBits.challenge <== challenge;
    // Window bits no tile reads are still range-checked inside ChallengeBits.
    for (var v = 0; v < HASHES; v++) {
        for (var bit = 0; bit < 254; bit++) {
            var u = v * PER_HASH + bit \ WINDOW;
            if (bit >= PER_HASH * WINDOW || u >= NT) {
                _ <== challengeBits.bits[v][bit];
            }
        }
    }

    component tile[NT];
    component leaf[NT];
    component path[NT];
    for (var u = 0; u < NT; u++) {
        tile[u] = ChallengedTile(MAX_DR, MAX_DC);
        for (var bit = 0; bit < WINDOW; bit++) {
            tile[u].window[bit] <== challengeBits.bits[u \ PER_HASH][(u % PER_HASH) * WINDOW + bit];
        }
        tile[u].rowMask <== grid.rowMask;
        tile[u].colMask <== grid.colMask;
        rowBlock[u] <== tile[u].rowBlock;
        colBlock[u] <== tile[u].colBlock;

        leaf[u] = PackedWordsHash(WORDS);
        leaf[u].words <== words[u];
        path[u] = MerkleRootFromPath(DEPTH);
        path[u].leaf <== leaf[u].out;
        path[u].siblings <== siblings[u];
        path[u].indexBits <== tile[u].indexBits;
        path[u].root === outputRoot;
    }
}
