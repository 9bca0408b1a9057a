pragma circom 2.2.0;

include "circomlib/circuits/bitify.circom";
include "./lib/conv.circom";
include "./lib/gemm.circom";
include "./lib/merkle.circom";
include "./lib/challenge.circom";
include "./lib/tile_commitment.circom";
include "./lib/input_commitment.circom";

// Input-root ("job") mode FP8 conv2d (docs/ops/conv.md "Job mode", docs/jobs.md): the seed-mode conv2d with its inputs
// and weights committed by the requester (common/job-commitment.ts convInputTree / convWeightTree) instead of generated
// from a seed. Restricted to one group, stride 1, dilation 1 and "same" padding P = (KH − 1)/2 of an odd square
// kernel, so the output has the input's size: HO = H = 2^LOG_HO, WO = W, and output row block r = n·H + oh reads input
// rows n·H + h, which are exactly the input tree's leaf indices.

/// @title Fp8ConvJobTile
/// @notice One challenged tile of a job-mode conv2d: output row oh = rowBlock mod H of image n = ⌊rowBlock / H⌋, all
///         W pixels × output channels colBlock·TN … colBlock·TN + TN − 1. For each kernel row dh < KH the input row
///         h = oh − P + dh is, when 0 ≤ h < H, leaf n·H + h of the input tree (PackedBytesHash of its CIN·W codes,
///         layout [ci][w]); when h is padding the Merkle check is switched off (index 0, root unchecked) and the row's
///         decoded values are multiplied by 0. The weight block (im2col K×TN, row-major, k = (ci·KH + dh)·KW + dw) is
///         leaf colBlock of the weight tree. Every code is decoded with Fp8E4M3Decode (range-checked to a byte, NaN
///         codes rejected, padding rows included); the im2col patch matrix A[ow][k] = X[ci][h(dh)][ow − P + dw]
///         (horizontal padding: constant 0) and the weight block are checked against every word of y with
///         Fp8GemmContractCheck(W, TN, K).
/// @param CIN input channels; KH, KW kernel height and width (asserted equal and odd); P = (KH − 1)/2
/// @param H, W input height and width (= output height and width); LOG_HO log2 H (asserted H = 2^LOG_HO)
/// @param TN output channels per tile (W·TN ≤ 112 words per output leaf); K = CIN·KH·KW
/// @param MAX_DR, MAX_DC input tree depth (row-block bits of the grid) and weight tree depth
/// @input inputRoot the root of the input rows (the job's posted input root)
/// @input weightRoot the root of the weight blocks (the job's posted weight root)
/// @input rowBlock the tile's row block. Caller must enforce it is the challenged one (< 2^MAX_DR is enforced here).
/// @input colBlock the tile's column block. Caller must enforce it is the challenged one, < 2^MAX_DC
///        (ChallengedTiles does; the bit decomposition here enforces < 2^MAX_DC again).
/// @input x[KH][CIN][W] the codes of input row h(dh) of image n, layout [ci][w] (any non-NaN codes for padding rows)
/// @input w[K][TN] the weight block's codes, row-major
/// @input y[W][TN] the tile's committed float32 words, pixel-major; each is range-checked here to 32 bits
/// @input inputSiblings[KH][MAX_DR] Merkle siblings of input row h(dh)'s leaf (ignored for padding rows)
/// @input weightSiblings[MAX_DC] Merkle siblings of the weight block's leaf (index colBlock)
template Fp8ConvJobTile(CIN, KH, KW, H, W, LOG_HO, TN, MAX_DR, MAX_DC) {
    assert(CIN >= 1 && W >= 1);
    assert(KH == KW && KH % 2 == 1);
    assert(H == 1 << LOG_HO);
    assert(TN >= 1 && W * TN <= 112);
    assert(MAX_DR >= 1 && MAX_DC >= 1 && MAX_DR + MAX_DC <= 64);
    var P = (KH - 1) \ 2;
    var K = CIN * KH * KW;
    signal input inputRoot;
    signal input weightRoot;
    signal input rowBlock;
    signal input colBlock;
    signal input x[KH][CIN][W];
    signal input w[K][TN];
    signal input y[W][TN];
    signal input inputSiblings[KH][MAX_DR];
    signal input weightSiblings[MAX_DC];

    // With one group, stride 1 and dilation 1 the stream block of ConvOutputRow is n·H + h: the input leaf index.
    // It asserts that every kernel row meets the image for some output row (H > P).
    component row = ConvOutputRow(KH, 1, P, 1, H, LOG_HO, 1, MAX_DR);
    row.rowBlock <== rowBlock;
    row.group <== 0;

    component xDecode[KH][CIN][W];
    component inputLeaf[KH];
    component inputBits[KH];
    component inputPath[KH];
    signal inputIndex[KH];
    signal xValue[KH][CIN][W];
    signal xMagnitude[KH][CIN][W];
    for (var dh = 0; dh < KH; dh++) {
        var alwaysValid = convFirstValidRow(dh, 1, P, 1) == 0 && convLastValidRow(dh, 1, P, 1, H, H) == H - 1;
        inputLeaf[dh] = PackedBytesHash(CIN * W);
        for (var ci = 0; ci < CIN; ci++) {
            for (var iw = 0; iw < W; iw++) {
                // Num2Bits(8) inside: the bytes hashed are < 256, as PackedBytesHash requires.
                xDecode[dh][ci][iw] = Fp8E4M3Decode();
                xDecode[dh][ci][iw].code <== x[dh][ci][iw];
                for (var bit = 0; bit < 8; bit++) {
                    _ <== xDecode[dh][ci][iw].bits[bit];
                }
                inputLeaf[dh].bytes[ci * W + iw] <== x[dh][ci][iw];
                if (alwaysValid) {
                    xValue[dh][ci][iw] <== xDecode[dh][ci][iw].value;
                    xMagnitude[dh][ci][iw] <== xDecode[dh][ci][iw].magnitude;
                } else {
                    xValue[dh][ci][iw] <== xDecode[dh][ci][iw].value * row.valid[dh];
                    xMagnitude[dh][ci][iw] <== xDecode[dh][ci][iw].magnitude * row.valid[dh];
                }
            }
        }
        // A valid row's index n·H + h < (n + 1)·H ≤ 2^MAX_DR fits the bits; a padding row's block (which may be
        // negative) is replaced by 0 so the decomposition cannot fail, and its root is not compared.
        if (alwaysValid) {
            _ <== row.valid[dh];
            inputIndex[dh] <== row.block[dh];
        } else {
            inputIndex[dh] <== row.block[dh] * row.valid[dh];
        }
        inputBits[dh] = Num2Bits(MAX_DR);
        inputBits[dh].in <== inputIndex[dh];
        inputPath[dh] = MerkleRootFromPath(MAX_DR);
        inputPath[dh].leaf <== inputLeaf[dh].out;
        inputPath[dh].siblings <== inputSiblings[dh];
        inputPath[dh].indexBits <== inputBits[dh].out;
        if (alwaysValid) {
            inputPath[dh].root === inputRoot;
        } else {
            (inputPath[dh].root - inputRoot) * row.valid[dh] === 0;
        }
    }

    component check = Fp8GemmContractCheck(W, TN, K);
    // im2col: A[ow][k] = X[ci][h(dh)][ow − P + dw], k = (ci·KH + dh)·KW + dw; horizontal padding is 0.
    for (var ow = 0; ow < W; ow++) {
        for (var ci = 0; ci < CIN; ci++) {
            for (var dh = 0; dh < KH; dh++) {
                for (var dw = 0; dw < KW; dw++) {
                    var k = (ci * KH + dh) * KW + dw;
                    var iw = ow - P + dw;
                    if (iw >= 0 && iw < W) {
                        check.aValue[ow][k] <== xValue[dh][ci][iw];
                        check.aMagnitude[ow][k] <== xMagnitude[dh][ci][iw];
                    } else {
                        check.aValue[ow][k] <== 0;
                        check.aMagnitude[ow][k] <== 0;
                    }
                }
            }
        }
    }

    component wDecode[K][TN];
    component weightLeaf = PackedBytesHash(K * TN);
    for (var k = 0; k < K; k++) {
        for (var j = 0; j < TN; j++) {
            wDecode[k][j] = Fp8E4M3Decode();
            wDecode[k][j].code <== w[k][j];
            for (var bit = 0; bit < 8; bit++) {
                _ <== wDecode[k][j].bits[bit];
            }
            weightLeaf.bytes[k * TN + j] <== w[k][j];
            check.bValue[k][j] <== wDecode[k][j].value;
            check.bMagnitude[k][j] <== wDecode[k][j].magnitude;
        }
    }
    component colBits = Num2Bits(MAX_DC);
    colBits.in <== colBlock;
    component weightPath = MerkleRootFromPath(MAX_DC);
    weightPath.leaf <== weightLeaf.out;
    weightPath.siblings <== weightSiblings;
    weightPath.indexBits <== colBits.out;
    weightPath.root === weightRoot;

    check.cWord <== y;
    for (var ow = 0; ow < W; ow++) {
        for (var j = 0; j < TN; j++) {
            for (var bit = 0; bit < 32; bit++) {
                _ <== check.cBits[ow][j][bit];
            }
        }
    }
}

/// @title Fp8ConvJobProof
/// @notice Proves NT challenged output tiles of a job-mode FP8 conv2d Y = Conv(X, Wt) (NCHW, E4M3FN inputs, float32
///         outputs, ONNX Conv with one group, stride 1, dilation 1, padding P = (KH − 1)/2; docs/ops/conv.md
///         "Job mode"): for each u < NT, the tile (r, c) chosen by (challenge, u) exactly as in seed mode is (1) a leaf
///         of the committed output tree at index c + 2^MAX_DC·r (the seed conv's tile words: output row
///         oh = r mod H of image n = ⌊r / H⌋, W pixels × TN channels, pixel-major), (2) computed from the input rows
///         it reads, each leaf n·H + h of the input tree, and weight block c, leaf c of the weight tree, (3) from
///         inputs none of which is a NaN code, and (4) within the GEMM numerics contract of the exact im2col products
///         of those codes (Fp8ConvJobTile).
///         Work shape: N = 2^(dr − LOG_HO) images [N, CIN, H, W], Cout = TN·2^dc output channels.
/// @param NT challenged tiles per proof
/// @param CIN, KH, KW, H, W, LOG_HO, TN as Fp8ConvJobTile (KH = KW odd, H = 2^LOG_HO, W·TN ≤ 112)
/// @param MAX_DR, MAX_DC largest grid: output tree depth MAX_DR + MAX_DC, input tree MAX_DR, weight tree MAX_DC
/// @input outputRoot (public) the committed output root
/// @input inputRoot (public) the root of X's rows, posted with the job
/// @input weightRoot (public) the root of the weights' im2col column blocks, posted with the job
/// @input challenge (public) randomness fixed after the commitment
/// @input miner (public) the miner's address; bound to the proof so it cannot be replayed by another sender
/// @input shape (public) dr + 256·dc; constrained here to dr ≥ LOG_HO (whole images)
/// @input x[NT][KH][CIN][W] the KH input rows each challenged tile reads (codes, layout [ci][w])
/// @input w[NT][K][TN] the weight block of each challenged tile (codes, im2col K×TN row-major)
/// @input y[NT][W][TN] the committed float32 words of each challenged tile
/// @input siblings[NT][MAX_DR + MAX_DC] Merkle siblings of each tile's output leaf, leaf level first
/// @input inputSiblings[NT][KH][MAX_DR] Merkle siblings of each input row's leaf (any values for padding rows)
/// @input weightSiblings[NT][MAX_DC] Merkle siblings of each tile's weight leaf (index colBlock)
/// Callers (the verifier contract) must enforce: public inputs are < the field modulus (the generated verifier
/// does); inputRoot, weightRoot and shape are the job's posted ones (the weight root recomputed from the model whose
/// hash is posted), outputRoot the miner's commitment, challenge fixed after it; miner = msg.sender.
template Fp8ConvJobProof(NT, CIN, KH, KW, H, W, LOG_HO, TN, MAX_DR, MAX_DC) {
    assert(NT >= 1);
    assert(LOG_HO >= 0 && LOG_HO <= MAX_DR);
    assert(MAX_DR >= 1 && MAX_DC >= 1 && MAX_DR + MAX_DC <= 64);
    var K = CIN * KH * KW;
    var DEPTH = MAX_DR + MAX_DC;
    signal input outputRoot;
    signal input inputRoot;
    signal input weightRoot;
    signal input challenge;
    signal input miner;
    signal input shape;
    signal input x[NT][KH][CIN][W];
    signal input w[NT][K][TN];
    signal input y[NT][W][TN];
    signal input siblings[NT][DEPTH];
    signal input inputSiblings[NT][KH][MAX_DR];
    signal input weightSiblings[NT][MAX_DC];

    // miner enters no other constraint; squaring it keeps it bound to the proof.
    signal minerSquared <== miner * miner;

    // The words are range-checked to 32 bits by the contract check in Fp8ConvJobTile, as ChallengedTiles requires.
    component tiles = ChallengedTiles(NT, W * TN, MAX_DR, MAX_DC);
    tiles.outputRoot <== outputRoot;
    tiles.challenge <== challenge;
    tiles.shape <== shape;
    tiles.siblings <== siblings;
    for (var u = 0; u < NT; u++) {
        for (var ow = 0; ow < W; ow++) {
            for (var j = 0; j < TN; j++) {
                tiles.words[u][ow * TN + j] <== y[u][ow][j];
            }
        }
    }

    // Whole images: dr ≥ LOG_HO (as the seed conv).
    component grid = WorkShape(MAX_DR, MAX_DC);
    grid.shape <== shape;
    if (LOG_HO > 0) {
        grid.rowMask[LOG_HO - 1] === 1;
    }
    for (var i = 0; i < MAX_DR; i++) {
        _ <== grid.rowMask[i];
    }
    for (var i = 0; i < MAX_DC; i++) {
        _ <== grid.colMask[i];
    }

    component tile[NT];
    for (var u = 0; u < NT; u++) {
        tile[u] = Fp8ConvJobTile(CIN, KH, KW, H, W, LOG_HO, TN, MAX_DR, MAX_DC);
        tile[u].inputRoot <== inputRoot;
        tile[u].weightRoot <== weightRoot;
        tile[u].rowBlock <== tiles.rowBlock[u];
        tile[u].colBlock <== tiles.colBlock[u];
        tile[u].x <== x[u];
        tile[u].w <== w[u];
        tile[u].y <== y[u];
        tile[u].inputSiblings <== inputSiblings[u];
        tile[u].weightSiblings <== weightSiblings[u];
    }
}
