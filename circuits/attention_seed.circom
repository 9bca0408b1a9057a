pragma circom 2.2.0;

include "circomlib/circuits/comparators.circom";
include "./lib/fp8.circom";
include "./lib/gemm.circom";
include "./lib/range.circom";
include "./lib/seed_stream.circom";
include "./lib/softmax.circom";
include "./lib/tile_commitment.circom";

/// @title Fp8AttentionSeedProof
/// @notice Proves NT challenged tiles of a seed-mode FP8 multi-head attention O = softmax(Q·Kᵀ/√D)·V (docs/ops/attention.md).
///         Tile (r, c) is TQ query rows r·TQ… of head c; its committed words are O'·(row-major TQ×D float32) with
///         O' = 2^8·O = DQ(P, scale 1)·V, P the E4M3FN codes of softmax/2^-8. Per tile the circuit generates Q (stream 7,
///         block = tile index), K and V of head c (streams 8 and 9, block c) from the seed and checks:
///         (1) the score witnesses s̃ (units 2^-18 of Q·Kᵀ) are within the float32 dot-product bound of the exact
///             scores S: 2^ES·|s̃ − S| ≤ T = Σ|q·k|, ES = 24 − log2 D (γ_(D−1) < D·2^-24 for any summation order);
///         (2) the P codes are a bounded-error quantisation of softmax(s̃·2^-18/√D) over the visible keys
///             (Fp8SoftmaxRowCheck);
///         (3) the words satisfy the FP8 GEMM contract for DQ(P, 1)·V (Fp8GemmContractCheck, K = L);
///         and that the words are the committed leaf of the tile (ChallengedTiles).
///         Causal mask (CAUSAL = 1): key j is visible to query row r·TQ + i iff j ≤ r·TQ + i.
/// @param NT challenged tiles per proof
/// @param TQ query rows per tile; D head dimension (a power of 4, so 1/√D = 2^-kk is exact); L keys per head
/// @param CAUSAL 0 or 1; with 1, L = TQ·2^MAX_DR (the queries of a full work are the keys' positions)
/// @param MAX_DR, MAX_DC largest grid: 2^MAX_DR query blocks, 2^MAX_DC heads
/// @input outputRoot, seed, challenge, miner, shape (public) as in Fp8GemmSeedProof (shape = dr + 256·dc)
/// @input o[NT][TQ][D] the committed float32 words of each challenged tile (O' = 2^8·O)
/// @input siblings[NT][MAX_DR + MAX_DC] Merkle siblings of each tile's leaf
/// @input score[NT][TQ][L] the miner's scores s̃ = fl(Q·Kᵀ)·2^18 (integers; masked positions are checked too)
/// @input rowMax[NT][TQ] the maximum visible score of each row (witness)
/// @input pCode[NT][TQ][L] the E4M3FN codes of P (private)
/// Callers (the verifier contract) must enforce: public inputs are < the field modulus; seed, challenge and shape are
/// the ones the protocol fixed for this commitment; miner = msg.sender.
template Fp8AttentionSeedProof(NT, TQ, D, L, CAUSAL, MAX_DR, MAX_DC) {
    assert(NT >= 1);
    assert(TQ >= 1 && L >= 1 && L <= 32);
    assert(TQ * D <= 112);
    assert(CAUSAL == 0 || CAUSAL == 1);
    assert(CAUSAL == 0 || TQ * (1 << MAX_DR) == L);
    // D = 4^kk, 1 ≤ D ≤ 64: 1/√D = 2^-kk.
    var kk = 0;
    while ((1 << (2 * kk)) < D) {
        kk++;
    }
    assert((1 << (2 * kk)) == D && kk <= 3);
    var F = 18 + kk;
    var ES = 24 - 2 * kk;
    var WORDS = TQ * D;
    var MAX_DOT = D * 229376 * 229376;
    // 0 ≤ 2^ES·(s̃ − S) + T ≤ 2T ≤ 2·MAX_DOT.
    var SCORE_BITS = softmaxBitLength(2 * MAX_DOT);
    // Passing scores have |s̃| ≤ 2·MAX_DOT, so visible m − s̃ < 4·MAX_DOT once m is within ln(2L) of the maximum.
    var XB = softmaxBitLength(4 * MAX_DOT);
    var BLOCKS = 1 << MAX_DR;

    signal input outputRoot;
    signal input seed;
    signal input challenge;
    signal input miner;
    signal input shape;
    signal input o[NT][TQ][D];
    signal input siblings[NT][MAX_DR + MAX_DC];
    signal input score[NT][TQ][L];
    signal input rowMax[NT][TQ];
    signal input pCode[NT][TQ][L];

    // miner enters no other constraint; squaring it keeps it bound to the proof.
    signal minerSquared <== miner * miner;

    component tiles = ChallengedTiles(NT, WORDS, MAX_DR, MAX_DC);
    tiles.outputRoot <== outputRoot;
    tiles.challenge <== challenge;
    tiles.shape <== shape;
    tiles.siblings <== siblings;
    for (var u = 0; u < NT; u++) {
        for (var i = 0; i < TQ; i++) {
            for (var d = 0; d < D; d++) {
                tiles.words[u][i * D + d] <== o[u][i][d];
            }
        }
    }

    component qStream[NT];
    component kStream[NT];
    component vStream[NT];
    component qDecode[NT][TQ][D];
    component kDecode[NT][L][D];
    component vDecode[NT][L][D];
    signal signedProduct[NT][TQ][L][D];
    signal magnitudeProduct[NT][TQ][L][D];
    component scoreLower[NT][TQ][L];
    component scoreUpper[NT][TQ][L];
    component isBlock[NT][BLOCKS];
    signal visible[NT][TQ][L];
    component row[NT][TQ];
    component outputCheck[NT];
    for (var u = 0; u < NT; u++) {
        qStream[u] = SeedStreamBits(TQ * D, 7);
        qStream[u].seed <== seed;
        qStream[u].block <== tiles.colBlock[u] + (1 << MAX_DC) * tiles.rowBlock[u];
        kStream[u] = SeedStreamBits(L * D, 8);
        kStream[u].seed <== seed;
        kStream[u].block <== tiles.colBlock[u];
        vStream[u] = SeedStreamBits(L * D, 9);
        vStream[u].seed <== seed;
        vStream[u].block <== tiles.colBlock[u];
        for (var i = 0; i < TQ; i++) {
            for (var d = 0; d < D; d++) {
                qDecode[u][i][d] = Fp8E4M3FromBits(1);
                qDecode[u][i][d].bits <== qStream[u].bits[i * D + d];
            }
        }
        for (var j = 0; j < L; j++) {
            for (var d = 0; d < D; d++) {
                kDecode[u][j][d] = Fp8E4M3FromBits(1);
                kDecode[u][j][d].bits <== kStream[u].bits[j * D + d];
                vDecode[u][j][d] = Fp8E4M3FromBits(1);
                vDecode[u][j][d].bits <== vStream[u].bits[j * D + d];
            }
        }

        // (1) scores: exact S and T, and the float32 bound on the witnesses.
        for (var i = 0; i < TQ; i++) {
            for (var j = 0; j < L; j++) {
                var exact = 0;
                var absolute = 0;
                for (var d = 0; d < D; d++) {
                    signedProduct[u][i][j][d] <== qDecode[u][i][d].value * kDecode[u][j][d].value;
                    magnitudeProduct[u][i][j][d] <== qDecode[u][i][d].magnitude * kDecode[u][j][d].magnitude;
                    exact += signedProduct[u][i][j][d];
                    absolute += magnitudeProduct[u][i][j][d];
                }
                scoreLower[u][i][j] = RangeCheck(SCORE_BITS);
                scoreLower[u][i][j].in <== (1 << ES) * (score[u][i][j] - exact) + absolute;
                scoreUpper[u][i][j] = RangeCheck(SCORE_BITS);
                scoreUpper[u][i][j].in <== absolute - (1 << ES) * (score[u][i][j] - exact);
            }
        }

        // Visibility: all keys, or (causal) keys j ≤ r·TQ + i, from the one-hot row block.
        if (CAUSAL == 1) {
            for (var b = 0; b < BLOCKS; b++) {
                isBlock[u][b] = IsEqual();
                isBlock[u][b].in <== [tiles.rowBlock[u], b];
            }
        }
        for (var i = 0; i < TQ; i++) {
            for (var j = 0; j < L; j++) {
                if (CAUSAL == 1) {
                    var seen = 0;
                    for (var b = 0; b < BLOCKS; b++) {
                        if (j <= b * TQ + i) {
                            seen += isBlock[u][b].out;
                        }
                    }
                    visible[u][i][j] <== seen;
                } else {
                    visible[u][i][j] <== 1;
                }
            }
        }

        // (2) softmax and the quantisation of P; (3) O' = DQ(P, 1)·V under the GEMM contract.
        outputCheck[u] = Fp8GemmContractCheck(TQ, D, L);
        for (var i = 0; i < TQ; i++) {
            row[u][i] = Fp8SoftmaxRowCheck(L, F, XB, CAUSAL);
            row[u][i].score <== score[u][i];
            row[u][i].visible <== visible[u][i];
            row[u][i].rowMax <== rowMax[u][i];
            row[u][i].pCode <== pCode[u][i];
            for (var j = 0; j < L; j++) {
                outputCheck[u].aValue[i][j] <== row[u][i].pMagnitude[j];
                outputCheck[u].aMagnitude[i][j] <== row[u][i].pMagnitude[j];
            }
        }
        for (var j = 0; j < L; j++) {
            for (var d = 0; d < D; d++) {
                outputCheck[u].bValue[j][d] <== vDecode[u][j][d].value;
                outputCheck[u].bMagnitude[j][d] <== vDecode[u][j][d].magnitude;
            }
        }
        outputCheck[u].cWord <== o[u];
        for (var i = 0; i < TQ; i++) {
            for (var d = 0; d < D; d++) {
                for (var bit = 0; bit < 32; bit++) {
                    _ <== outputCheck[u].cBits[i][d][bit];
                }
            }
        }
    }
}
