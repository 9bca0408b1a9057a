pragma circom 2.2.0;

include "circomlib/circuits/poseidon.circom";
include "./range.circom";

/// @title WorkShape
/// @notice Decodes the public work shape: the work has 2^dr row blocks and 2^dc column blocks of tiles, encoded as
///         shape = dr + 256·dc, with dr ≤ MAX_DR and dc ≤ MAX_DC.
/// @param MAX_DR, MAX_DC the circuit's largest supported grid (tree depth MAX_DR + MAX_DC)
/// @input shape the encoded shape
/// @output rowMask[MAX_DR] rowMask[i] = [i < dr]; colMask[MAX_DC] colMask[i] = [i < dc]
template WorkShape(MAX_DR, MAX_DC) {
    assert(MAX_DR >= 1 && MAX_DC >= 1 && MAX_DR < 256 && MAX_DC < 256);
    signal input shape;
    signal output rowMask[MAX_DR];
    signal output colMask[MAX_DC];

    // shape = dr + 256·dc with dr, dc < 256 has one decomposition, so the masks are determined by shape.
    var dr = shape % 256;
    var dc = shape \ 256;
    var rows = 0;
    var cols = 0;
    for (var i = 0; i < MAX_DR; i++) {
        rowMask[i] <-- i < dr ? 1 : 0;
        rowMask[i] * (rowMask[i] - 1) === 0;
        if (i > 0) {
            rowMask[i] * (1 - rowMask[i - 1]) === 0;
        }
        rows += rowMask[i];
    }
    for (var i = 0; i < MAX_DC; i++) {
        colMask[i] <-- i < dc ? 1 : 0;
        colMask[i] * (colMask[i] - 1) === 0;
        if (i > 0) {
            colMask[i] * (1 - colMask[i - 1]) === 0;
        }
        cols += colMask[i];
    }
    shape === rows + 256 * cols;
}

// Bits of one challenge hash are shared by several tiles: tile u reads window u mod TILES_PER_HASH of
// h_v = Poseidon(challenge, v), v = u \ TILES_PER_HASH. Windows stay below bit 224, where the canonical value of a
// uniform field element has bits that are uniform to within 2^-29.
function challengeWindowBits(MAX_DR, MAX_DC) {
    return MAX_DR + MAX_DC;
}

function challengeTilesPerHash(MAX_DR, MAX_DC) {
    return 224 \ (MAX_DR + MAX_DC);
}

/// @title ChallengeBits
/// @notice The canonical bits of h_v = Poseidon(challenge, v) for v < HASHES.
/// @param HASHES number of hashes
/// @input challenge the public challenge
/// @output bits[HASHES][254] LSB first
template ChallengeBits(HASHES) {
    assert(HASHES >= 1);
    signal input challenge;
    signal output bits[HASHES][254];
    for (var v = 0; v < HASHES; v++) {
        // Canonical decomposition: with a plain one the prover could choose between two tiles for a third of all h.
        bits[v] <== CanonicalBits()(Poseidon(2)([challenge, v]));
    }
}

/// @title ChallengedTile
/// @notice A challenged tile from one window of challenge bits: row block = the low dr bits of the window, column
///         block = the dc bits at window offset MAX_DR.
/// @param MAX_DR, MAX_DC as in WorkShape
/// @input window[MAX_DR + MAX_DC] challenge bits (from ChallengeBits). Caller must enforce that they are boolean.
/// @input rowMask[MAX_DR], colMask[MAX_DC] from WorkShape
/// @output rowBlock, colBlock the tile's block coordinates
/// @output indexBits[MAX_DC + MAX_DR] the Merkle leaf index colBlock + 2^MAX_DC·rowBlock, LSB first
template ChallengedTile(MAX_DR, MAX_DC) {
    signal input window[MAX_DR + MAX_DC];
    signal input rowMask[MAX_DR];
    signal input colMask[MAX_DC];
    signal output rowBlock;
    signal output colBlock;
    signal output indexBits[MAX_DC + MAX_DR];

    var row = 0;
    var col = 0;
    for (var i = 0; i < MAX_DR; i++) {
        indexBits[MAX_DC + i] <== window[i] * rowMask[i];
        row += indexBits[MAX_DC + i] * (1 << i);
    }
    for (var i = 0; i < MAX_DC; i++) {
        indexBits[i] <== window[MAX_DR + i] * colMask[i];
        col += indexBits[i] * (1 << i);
    }
    rowBlock <== row;
    colBlock <== col;
}
