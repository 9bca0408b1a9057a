pragma circom 2.2.0;

include "./lib/fp8.circom";
include "./lib/batchnorm.circom";
include "./lib/seed_stream.circom";
include "./lib/tile_commitment.circom";

/// @title Fp8BatchNormSeedProof
/// @notice Proves NT challenged output tiles of a seed-mode FP8 batch normalisation (inference)
///         y = (x − mean)·γ/√(var + ε) + β per channel (E4M3FN x and parameters, ε = 2^-5, float32 outputs): for each
///         u < NT, the tile chosen by (challenge, u) is (1) a leaf of the committed output tree at its index, and
///         (2) within the numerics contract (circuits/lib/batchnorm.circom, docs/ops/batchnorm.md) of the exact affine
///         map, with 1/√(var + ε) verified as a bounded-error fixed-point witness, not trusted.
///         Work shape: x is (TM·2^dr) rows × (TN·2^dc) channels; tile (r, c) covers rows r·TM… and channels c·TN….
///         x tile (r, c) is stream(seed, 5, c + 2^MAX_DC·r) row-major (TM×TN); the parameters of column block c are
///         stream(seed, 6, c): TN means, TN variances (their magnitudes are used), TN γ, TN β. NaN codes in the
///         streams (0x7F, 0xFF) stand for ±0.
/// @param NT challenged tiles per proof
/// @param TM, TN tile rows and channels (TM·TN ≤ 112 words per leaf)
/// @param MAX_DR, MAX_DC largest grid: the output tree has depth MAX_DR + MAX_DC
/// @input outputRoot (public) the committed output root
/// @input seed (public) the work seed
/// @input challenge (public) randomness fixed after the commitment
/// @input miner (public) the miner's address; bound to the proof so it cannot be replayed by another sender
/// @input shape (public) dr + 256·dc
/// @input y[NT][TM][TN] the committed float32 words of each challenged tile
/// @input siblings[NT][MAX_DR + MAX_DC] Merkle siblings of each challenged tile's leaf
/// Callers (the verifier contract) must enforce: public inputs are < the field modulus (the generated verifier
/// does); seed, challenge and shape are the ones the protocol fixed for this commitment; miner = msg.sender.
template Fp8BatchNormSeedProof(NT, TM, TN, MAX_DR, MAX_DC) {
    assert(NT >= 1);
    assert(TM >= 1 && TN >= 1);
    assert(TM * TN <= 112);
    assert(MAX_DR + MAX_DC <= 64);
    var DEPTH = MAX_DR + MAX_DC;
    signal input outputRoot;
    signal input seed;
    signal input challenge;
    signal input miner;
    signal input shape;
    signal input y[NT][TM][TN];
    signal input siblings[NT][DEPTH];

    // miner enters no other constraint; squaring it keeps it bound to the proof.
    signal minerSquared <== miner * miner;

    // The words are range-checked to 32 bits by the contract check (Float32OnGrid), as ChallengedTiles requires.
    component tiles = ChallengedTiles(NT, TM * TN, MAX_DR, MAX_DC);
    tiles.outputRoot <== outputRoot;
    tiles.challenge <== challenge;
    tiles.shape <== shape;
    tiles.siblings <== siblings;
    for (var u = 0; u < NT; u++) {
        for (var i = 0; i < TM; i++) {
            for (var j = 0; j < TN; j++) {
                tiles.words[u][i * TN + j] <== y[u][i][j];
            }
        }
    }

    component xStream[NT];
    component paramStream[NT];
    component xDecode[NT][TM][TN];
    component paramDecode[NT][4][TN];
    component check[NT];
    for (var u = 0; u < NT; u++) {
        check[u] = Fp8BatchNormContractCheck(TM, TN);

        xStream[u] = SeedStreamBits(TM * TN, 5);
        xStream[u].seed <== seed;
        xStream[u].block <== tiles.colBlock[u] + (1 << MAX_DC) * tiles.rowBlock[u];
        for (var i = 0; i < TM; i++) {
            for (var j = 0; j < TN; j++) {
                xDecode[u][i][j] = Fp8E4M3FromBits(1);
                xDecode[u][i][j].bits <== xStream[u].bits[i * TN + j];
                check[u].xValue[i][j] <== xDecode[u][i][j].value;
                check[u].xMagnitude[i][j] <== xDecode[u][i][j].magnitude;
            }
        }

        // Parameter p of channel j is byte p·TN + j: p = 0 mean, 1 var, 2 γ, 3 β.
        paramStream[u] = SeedStreamBits(4 * TN, 6);
        paramStream[u].seed <== seed;
        paramStream[u].block <== tiles.colBlock[u];
        for (var p = 0; p < 4; p++) {
            for (var j = 0; j < TN; j++) {
                paramDecode[u][p][j] = Fp8E4M3FromBits(1);
                paramDecode[u][p][j].bits <== paramStream[u].bits[p * TN + j];
            }
        }
        for (var j = 0; j < TN; j++) {
            check[u].meanValue[j] <== paramDecode[u][0][j].value;
            check[u].meanMagnitude[j] <== paramDecode[u][0][j].magnitude;
            // var is the magnitude of its code: the sign is ignored, so var ≥ 0 always.
            check[u].varMagnitude[j] <== paramDecode[u][1][j].magnitude;
            _ <== paramDecode[u][1][j].value;
            check[u].gammaValue[j] <== paramDecode[u][2][j].value;
            check[u].gammaMagnitude[j] <== paramDecode[u][2][j].magnitude;
            check[u].betaValue[j] <== paramDecode[u][3][j].value;
            check[u].betaMagnitude[j] <== paramDecode[u][3][j].magnitude;
        }

        check[u].yWord <== y[u];
        for (var i = 0; i < TM; i++) {
            for (var j = 0; j < TN; j++) {
                for (var bit = 0; bit < 32; bit++) {
                    _ <== check[u].yBits[i][j][bit];
                }
            }
        }
    }
}
