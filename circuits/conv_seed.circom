pragma circom 2.2.0;

include "./lib/challenge.circom";
include "./lib/tile_commitment.circom";
include "./lib/conv.circom";

/// @title Fp8ConvSeedProof
/// @notice Proves NT challenged output tiles of a seed-mode FP8 conv2d Y = Conv(X, Wt) (NCHW, E4M3FN inputs, float32
///         outputs, ONNX Conv semantics with symmetric padding P, stride S, dilation D and G groups): for each
///         u < NT, the tile chosen by (challenge, u) is (1) a leaf of the committed output tree at its index, and
///         (2) within the GEMM numerics contract (Fp8GemmContractCheck) of the exact im2col products of its inputs,
///         which are generated in-circuit from the seed (docs/ops/conv.md).
///         Work shape: N = 2^(dr − LOG_HO) images, Cout = TN·2^dc output channels. Tile (r, c) is output row
///         oh = r mod HO of image n = ⌊r / HO⌋, all WO pixels × output channels c·TN … c·TN + TN − 1; its words are
///         y[ow][j] (pixel-major). Column block c belongs to group ⌊c / 2^(dc − log2 G)⌋ (ONNX: channel co is in
///         group ⌊co / (Cout/G)⌋).
///         Inputs: channels g·CG … g·CG + CG − 1 of input row h of image n = stream(seed, 3, (n·H + h)·G + g), CG·W
///         bytes, layout [ci][w]. Weights of column block c as an im2col K×TN matrix, K = CG·KH·KW, row index
///         k = (ci·KH + dh)·KW + dw = stream(seed, 4, c), row-major. NaN codes (0x7F, 0xFF) stand for ±0.
///         Padding rows and columns are zeros.
/// @param NT challenged tiles per proof
/// @param CIN input channels; G groups (a power of two dividing CIN); CG = CIN / G channels per group
/// @param KH, KW kernel height and width; S stride; P padding (all sides); D dilation
/// @param H, W input height and width; WO output width (asserted = the ONNX output width)
/// @param LOG_HO log2 of the output height (asserted: the ONNX output height is 2^LOG_HO)
/// @param TN output channels per tile (WO·TN ≤ 112 words per leaf)
/// @param MAX_DR, MAX_DC largest grid: the output tree has depth MAX_DR + MAX_DC
/// @input outputRoot (public) the committed output root
/// @input seed (public) the work seed; the contract derives it from the miner and its commitment
/// @input challenge (public) randomness fixed after the commitment
/// @input miner (public) the miner's address; bound to the proof so it cannot be replayed by another sender
/// @input shape (public) dr + 256·dc; constrained here to dr ≥ LOG_HO (whole images) and dc ≥ log2 G
/// @input y[NT][WO][TN] the committed float32 words of each challenged tile
/// @input siblings[NT][MAX_DR + MAX_DC] Merkle siblings of each challenged tile's leaf
/// Callers (the verifier contract) must enforce: public inputs are < the field modulus (the generated verifier
/// does); seed, challenge and shape are the ones the protocol fixed for this commitment; miner = msg.sender.
template Fp8ConvSeedProof(NT, CIN, G, KH, KW, S, P, D, H, W, WO, LOG_HO, TN, MAX_DR, MAX_DC) {
    assert(NT >= 1);
    assert(CIN >= 1 && G >= 1 && CIN % G == 0);
    var LOG_G = 0;
    while ((1 << LOG_G) < G) {
        LOG_G++;
    }
    assert((1 << LOG_G) == G);
    assert(KH >= 1 && KW >= 1 && S >= 1 && P >= 0 && D >= 1 && H >= 1 && W >= 1);
    assert(WO >= 1 && convOutputSize(W, KW, S, P, D) == WO);
    assert(LOG_HO >= 0 && LOG_HO <= MAX_DR && LOG_G <= MAX_DC);
    assert(TN >= 1 && WO * TN <= 112);
    var DEPTH = MAX_DR + MAX_DC;
    signal input outputRoot;
    signal input seed;
    signal input challenge;
    signal input miner;
    signal input shape;
    signal input y[NT][WO][TN];
    signal input siblings[NT][DEPTH];

    // miner enters no other constraint; squaring it keeps it bound to the proof.
    signal minerSquared <== miner * miner;

    component tiles = ChallengedTiles(NT, WO * TN, MAX_DR, MAX_DC);
    tiles.outputRoot <== outputRoot;
    tiles.challenge <== challenge;
    tiles.shape <== shape;
    tiles.siblings <== siblings;
    for (var u = 0; u < NT; u++) {
        for (var ow = 0; ow < WO; ow++) {
            for (var j = 0; j < TN; j++) {
                tiles.words[u][ow * TN + j] <== y[u][ow][j];
            }
        }
    }

    // The work's own shape limits: whole images (dr ≥ LOG_HO) and whole groups of column blocks (dc ≥ LOG_G).
    component grid = WorkShape(MAX_DR, MAX_DC);
    grid.shape <== shape;
    if (LOG_HO > 0) {
        grid.rowMask[LOG_HO - 1] === 1;
    }
    for (var i = 0; i < MAX_DR; i++) {
        _ <== grid.rowMask[i];
    }
    if (LOG_G == 0) {
        for (var i = 0; i < MAX_DC; i++) {
            _ <== grid.colMask[i];
        }
    }

    component columnGroup[NT];
    component tile[NT];
    for (var u = 0; u < NT; u++) {
        tile[u] = Fp8ConvSeedTile(CIN, G, KH, KW, S, P, D, H, W, WO, LOG_HO, TN, MAX_DR);
        tile[u].seed <== seed;
        tile[u].rowBlock <== tiles.rowBlock[u];
        tile[u].colBlock <== tiles.colBlock[u];
        if (LOG_G > 0) {
            columnGroup[u] = ConvColumnGroup(LOG_G, MAX_DC);
            columnGroup[u].colBlock <== tiles.colBlock[u];
            columnGroup[u].colMask <== grid.colMask;
            tile[u].group <== columnGroup[u].group;
        } else {
            tile[u].group <== 0;
        }
        // The tile check range-checks every word to 32 bits, as ChallengedTiles requires for packing.
        tile[u].y <== y[u];
    }
}
