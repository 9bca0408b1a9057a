pragma circom 2.2.0;

include "circomlib/circuits/bitify.circom";
include "./fp8.circom";
include "./gemm.circom";
include "./seed_stream.circom";

// Geometry of seed-mode FP8 conv2d work (docs/ops/conv.md, common/ops/conv.ts). Output row oh of a convolution with
// stride S, padding P and dilation D reads, through kernel row dh, input row h = oh·S − P + dh·D; rows outside
// [0, H) are zero padding. For a fixed dh the valid output rows are the interval [convFirstValidRow, convLastValidRow].

/// Smallest oh ≥ 0 with oh·S − P + dh·D ≥ 0 (the first output row whose kernel row dh reads inside the image).
function convFirstValidRow(dh, S, P, D) {
    var oh = 0;
    while (oh * S - P + dh * D < 0) {
        oh++;
    }
    return oh;
}

/// Largest oh < HO with oh·S − P + dh·D ≤ H − 1, or −1 when there is none.
function convLastValidRow(dh, S, P, D, H, HO) {
    var oh = HO - 1;
    while (oh >= 0 && oh * S - P + dh * D > H - 1) {
        oh--;
    }
    return oh;
}

/// Output size of a convolution along one axis: ⌊(IN + 2·P − D·(KS − 1) − 1) / S⌋ + 1 (ONNX Conv, symmetric pads).
function convOutputSize(IN, KS, S, P, D) {
    return (IN + 2 * P - D * (KS - 1) - 1) \ S + 1;
}

/// @title ConvOutputRow
/// @notice The input rows one output row of a seed-mode conv2d reads. Row block r of the work is output row
///         oh = r mod 2^LOG_HO of image n = ⌊r / 2^LOG_HO⌋. For each kernel row dh < KH it gives the validity flag
///         [0 ≤ h < H] of input row h = oh·S − P + dh·D and the seed-stream block (n·H + h)·G + group that holds
///         row h of image n for the tile's channel group (for padding rows the block is that same formula evaluated
///         at the out-of-range h: deterministic, and its bytes are multiplied by the zero flag).
/// @param KH kernel height; S, P, D stride, padding and dilation; H input height
/// @param LOG_HO log2 of the output height (asserted to be the ONNX output height of H)
/// @param G channel groups (the stream block's factor)
/// @param MAX_DR row-block bits of the work grid (rowBlock < 2^MAX_DR)
/// @input rowBlock the challenged row block. Caller must enforce rowBlock < 2^MAX_DR (ChallengedTiles does); the bit
///        decomposition here enforces it again.
/// @input group the channel group of the tile's output channels (0 when G = 1). Caller must constrain it.
/// @output valid[KH] 1 when input row h(dh) is inside the image, else 0
/// @output block[KH] the seed-stream block of input row h(dh)
template ConvOutputRow(KH, S, P, D, H, LOG_HO, G, MAX_DR) {
    assert(KH >= 1 && S >= 1 && P >= 0 && D >= 1 && H >= 1 && G >= 1);
    assert(LOG_HO >= 0 && LOG_HO <= MAX_DR && MAX_DR <= 64);
    var HO = 1 << LOG_HO;
    assert(convOutputSize(H, KH, S, P, D) == HO);
    signal input rowBlock;
    signal input group;
    signal output valid[KH];
    signal output block[KH];

    signal bits[MAX_DR] <== Num2Bits(MAX_DR)(rowBlock);
    var oh = 0;
    for (var i = 0; i < LOG_HO; i++) {
        oh += bits[i] * (1 << i);
    }
    var image = 0;
    for (var i = LOG_HO; i < MAX_DR; i++) {
        image += bits[i] * (1 << (i - LOG_HO));
    }

    // [a < b] for a, b < 2^LOG_HO is the top bit of the (LOG_HO + 1)-bit number a + 2^LOG_HO − b, negated.
    component below[KH];
    component above[KH];
    for (var dh = 0; dh < KH; dh++) {
        var first = convFirstValidRow(dh, S, P, D);
        var last = convLastValidRow(dh, S, P, D, H, HO);
        // Every kernel row meets the image for some output row (otherwise the flags below could sum to −1).
        assert(first <= last);
        var padded = 0;
        if (first > 0) {
            // oh < first
            below[dh] = Num2Bits(LOG_HO + 1);
            below[dh].in <== oh + HO - first;
            for (var i = 0; i < LOG_HO; i++) {
                _ <== below[dh].out[i];
            }
            padded += 1 - below[dh].out[LOG_HO];
        }
        if (last < HO - 1) {
            // last < oh
            above[dh] = Num2Bits(LOG_HO + 1);
            above[dh].in <== last + HO - oh;
            for (var i = 0; i < LOG_HO; i++) {
                _ <== above[dh].out[i];
            }
            padded += 1 - above[dh].out[LOG_HO];
        }
        valid[dh] <== 1 - padded;
        block[dh] <== (image * H + oh * S - P + dh * D) * G + group;
    }
}

/// @title ConvColumnGroup
/// @notice The channel group of a column block, matching ONNX Conv's `group` attribute: with Cout = TN·2^dc output
///         channels in G = 2^LOG_G groups of Cout/G = TN·2^(dc − LOG_G) channels, column block c lies in group
///         ⌊c / 2^(dc − LOG_G)⌋, i.e. the top LOG_G of c's dc bits. Enforces dc ≥ LOG_G (each group is a whole
///         number of column blocks).
/// @param LOG_G log2 of the number of groups (≥ 1; with one group the group is 0 and this template is not needed)
/// @param MAX_DC column-block bits of the work grid
/// @input colBlock the challenged column block. Caller must enforce colBlock < 2^dc (ChallengedTiles does).
/// @input colMask[MAX_DC] colMask[i] = [i < dc], from WorkShape. Caller must constrain it.
/// @output group the column block's group, < G
template ConvColumnGroup(LOG_G, MAX_DC) {
    assert(LOG_G >= 1 && LOG_G <= MAX_DC && MAX_DC <= 64);
    signal input colBlock;
    signal input colMask[MAX_DC];
    signal output group;

    // dc ≥ LOG_G: the first LOG_G mask bits are set.
    for (var i = 0; i < LOG_G; i++) {
        colMask[i] === 1;
    }
    signal bits[MAX_DC] <== Num2Bits(MAX_DC)(colBlock);
    // isTop[i] = [dc = i] for 0 ≤ i ≤ MAX_DC, from the monotone mask (colMask[−1] = 1, colMask[MAX_DC] = 0).
    var isTop[MAX_DC + 1];
    for (var i = 0; i <= MAX_DC; i++) {
        isTop[i] = (i == 0 ? 1 : colMask[i - 1]) - (i == MAX_DC ? 0 : colMask[i]);
    }
    // Bit j of the group is c's bit dc − LOG_G + j. With t = dc − LOG_G ∈ [0, MAX_DC − LOG_G] that is bit t + j,
    // selected by isTop[t + LOG_G].
    signal selected[LOG_G][MAX_DC - LOG_G + 1];
    var sum = 0;
    for (var j = 0; j < LOG_G; j++) {
        for (var t = 0; t <= MAX_DC - LOG_G; t++) {
            selected[j][t] <== bits[t + j] * isTop[t + LOG_G];
            sum += selected[j][t] * (1 << j);
        }
    }
    group <== sum;
}

/// @title Fp8ConvSeedTile
/// @notice The numerics side of one seed-mode conv2d tile: output row oh = rowBlock mod 2^LOG_HO of image
///         n = ⌊rowBlock / 2^LOG_HO⌋, output channels colBlock·TN … colBlock·TN + TN − 1 of channel group `group`.
///         Generates the tile's KH input rows (channels of `group`, stream(seed, 3, (n·H + h)·G + group), layout
///         [ci][w], zeroed where h is padding) and its weight block (stream(seed, 4, colBlock), im2col K×TN row-major,
///         k = (ci·KH + dh)·KW + dw), decodes them (NaN codes → ±0), wires the im2col patch matrix A[ow][k] =
///         X[ci][h(dh)][ow·S − P + dw·D] (horizontal padding: constant 0) and checks every word of y against the GEMM
///         numerics contract with Fp8GemmContractCheck(WO, TN, K).
/// @param CIN input channels; G groups (power of two dividing CIN); KH, KW kernel; S, P, D stride, padding, dilation
/// @param H, W input size; WO output width (asserted = the ONNX one); LOG_HO log2 of the output height (asserted)
/// @param TN output channels per tile; MAX_DR row-block bits of the grid
/// @input seed the work seed
/// @input rowBlock the tile's row block. Caller must enforce it is the challenged one (< 2^MAX_DR is enforced here).
/// @input colBlock the tile's column block. Caller must enforce it is the challenged one.
/// @input group the channel group of colBlock's output channels, < G. Caller must enforce it (ConvColumnGroup).
/// @input y[WO][TN] the tile's committed float32 words, pixel-major; each is range-checked here to 32 bits
template Fp8ConvSeedTile(CIN, G, KH, KW, S, P, D, H, W, WO, LOG_HO, TN, MAX_DR) {
    assert(CIN >= 1 && G >= 1 && CIN % G == 0);
    assert(KH >= 1 && KW >= 1 && S >= 1 && P >= 0 && D >= 1 && H >= 1 && W >= 1);
    assert(WO >= 1 && convOutputSize(W, KW, S, P, D) == WO);
    assert(TN >= 1 && WO * TN <= 112);
    var CG = CIN \ G;
    var K = CG * KH * KW;
    var HO = 1 << LOG_HO;
    signal input seed;
    signal input rowBlock;
    signal input colBlock;
    signal input group;
    signal input y[WO][TN];

    component row = ConvOutputRow(KH, S, P, D, H, LOG_HO, G, MAX_DR);
    row.rowBlock <== rowBlock;
    row.group <== group;

    // The KH input rows the tile reads, zeroed where they are padding.
    component xStream[KH];
    component xDecode[KH][CG][W];
    signal xValue[KH][CG][W];
    signal xMagnitude[KH][CG][W];
    for (var dh = 0; dh < KH; dh++) {
        var alwaysValid = convFirstValidRow(dh, S, P, D) == 0 && convLastValidRow(dh, S, P, D, H, HO) == HO - 1;
        if (alwaysValid) {
            _ <== row.valid[dh];
        }
        xStream[dh] = SeedStreamBits(CG * W, 3);
        xStream[dh].seed <== seed;
        xStream[dh].block <== row.block[dh];
        for (var ci = 0; ci < CG; ci++) {
            for (var w = 0; w < W; w++) {
                xDecode[dh][ci][w] = Fp8E4M3FromBits(1);
                xDecode[dh][ci][w].bits <== xStream[dh].bits[ci * W + w];
                if (alwaysValid) {
                    xValue[dh][ci][w] <== xDecode[dh][ci][w].value;
                    xMagnitude[dh][ci][w] <== xDecode[dh][ci][w].magnitude;
                } else {
                    xValue[dh][ci][w] <== xDecode[dh][ci][w].value * row.valid[dh];
                    xMagnitude[dh][ci][w] <== xDecode[dh][ci][w].magnitude * row.valid[dh];
                }
            }
        }
    }

    component check = Fp8GemmContractCheck(WO, TN, K);
    // im2col: A[ow][k] = X[ci][h(dh)][ow·S − P + dw·D], k = (ci·KH + dh)·KW + dw; horizontal padding is 0.
    for (var ow = 0; ow < WO; ow++) {
        for (var ci = 0; ci < CG; ci++) {
            for (var dh = 0; dh < KH; dh++) {
                for (var dw = 0; dw < KW; dw++) {
                    var k = (ci * KH + dh) * KW + dw;
                    var w = ow * S - P + dw * D;
                    if (w >= 0 && w < W) {
                        check.aValue[ow][k] <== xValue[dh][ci][w];
                        check.aMagnitude[ow][k] <== xMagnitude[dh][ci][w];
                    } else {
                        check.aValue[ow][k] <== 0;
                        check.aMagnitude[ow][k] <== 0;
                    }
                }
            }
        }
    }
    component wStream = SeedStreamBits(K * TN, 4);
    wStream.seed <== seed;
    wStream.block <== colBlock;
    component wDecode[K][TN];
    for (var k = 0; k < K; k++) {
        for (var j = 0; j < TN; j++) {
            wDecode[k][j] = Fp8E4M3FromBits(1);
            wDecode[k][j].bits <== wStream.bits[k * TN + j];
            check.bValue[k][j] <== wDecode[k][j].value;
            check.bMagnitude[k][j] <== wDecode[k][j].magnitude;
        }
    }
    check.cWord <== y;
    for (var ow = 0; ow < WO; ow++) {
        for (var j = 0; j < TN; j++) {
            for (var bit = 0; bit < 32; bit++) {
                _ <== check.cBits[ow][j][bit];
            }
        }
    }
}
