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

/// @title ChallengedTile
/// @notice The U-th challenged tile: h = Poseidon(challenge, U); row block = the low dr bits of h, column block = the
///         dc bits of h starting at bit MAX_DR (bits of h's canonical value, LSB first).
/// @param U which challenged tile of the proof (0-based)
/// @param MAX_DR, MAX_DC as in WorkShape
/// @input challenge the public challenge
/// @input rowMask[MAX_DR], colMask[MAX_DC] from WorkShape
/// @output rowBlock, colBlock the tile's block coordinates
/// @output indexBits[MAX_DC + MAX_DR] the Merkle leaf index colBlock + 2^MAX_DC·rowBlock, LSB first
template ChallengedTile(U, MAX_DR, MAX_DC) {
    signal input challenge;
    signal input rowMask[MAX_DR];
    signal input colMask[MAX_DC];
    signal output rowBlock;
    signal output colBlock;
    signal output indexBits[MAX_DC + MAX_DR];

    signal h <== Poseidon(2)([challenge, U]);
    // Canonical decomposition: with a plain one the prover could choose between two tiles for a third of all h.
    signal hBits[254] <== CanonicalBits()(h);
    var row = 0;
    var col = 0;
    for (var i = 0; i < MAX_DR; i++) {
        indexBits[MAX_DC + i] <== hBits[i] * rowMask[i];
        row += indexBits[MAX_DC + i] * (1 << i);
    }
    for (var i = 0; i < MAX_DC; i++) {
        indexBits[i] <== hBits[MAX_DR + i] * colMask[i];
        col += indexBits[i] * (1 << i);
    }
    for (var i = MAX_DR + MAX_DC; i < 254; i++) {
        _ <== hBits[i];
    }
    rowBlock <== row;
    colBlock <== col;
}
