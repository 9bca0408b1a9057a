pragma circom 2.2.0;

include "./lib/batchnorm.circom";
include "./lib/tile_commitment.circom";
include "./lib/committed_codes.circom";

// Input-root ("job") mode FP8 batch normalisation (inference; docs/ops/batchnorm.md "Job mode", docs/jobs.md): the
// seed-mode batch norm (circuits/batchnorm_seed.circom) with x and the per-channel parameters committed by the
// requester (common/job-commitment.ts batchNormInputTree / batchNormWeightTree) instead of generated from a seed. Same
// tiling, same output words and output tree, same numerics contract (Fp8BatchNormContractCheck).

/// @title Fp8BatchNormJobTile
/// @notice One challenged tile of a job-mode batch norm: rows rowBlock·TM … rowBlock·TM + TM − 1 × channels
///         colBlock·TN … colBlock·TN + TN − 1. The TM×TN x codes (row-major) are leaf colBlock + 2^MAX_DC·rowBlock of
///         the input tree; the 4·TN parameter codes of column block colBlock (parameter-major: mean, var, γ, β, each
///         the TN channels in order; the seed stream's order) are leaf colBlock of the weight tree. Every code is
///         decoded with NaN rejected (CommittedE4M3Codes); var is read as the magnitude of its code (as in seed mode
///         and the miner's ONNX graph); every word of y is checked against the contract with
///         Fp8BatchNormContractCheck(TM, TN).
/// @param TM, TN tile rows and channels (TM·TN ≤ 112 words per output leaf)
/// @param MAX_DR, MAX_DC input tree depth MAX_DR + MAX_DC (as the output tree), weight tree depth MAX_DC
/// @input inputRoot the root of the x tiles (the job's posted input root)
/// @input weightRoot the root of the parameter blocks (the job's posted weight root)
/// @input rowBlock, colBlock the tile's block coordinates. Caller must enforce they are the challenged ones with
///        rowBlock < 2^MAX_DR and colBlock < 2^MAX_DC (ChallengedTiles does), so colBlock + 2^MAX_DC·rowBlock is the
///        tile's index; the decompositions here enforce index < 2^(MAX_DR+MAX_DC) and colBlock < 2^MAX_DC again.
/// @input x[TM][TN] the tile's x codes, row-major
/// @input params[4][TN] the column block's parameter codes: params[0] mean, [1] var, [2] γ, [3] β
/// @input y[TM][TN] the tile's committed float32 words, row-major; each is range-checked here to 32 bits
/// @input inputSiblings[MAX_DR + MAX_DC] Merkle siblings of the x tile's leaf
/// @input weightSiblings[MAX_DC] Merkle siblings of the parameter block's leaf
template Fp8BatchNormJobTile(TM, TN, MAX_DR, MAX_DC) {
    assert(TM >= 1 && TN >= 1 && TM * TN <= 112);
    assert(MAX_DR >= 1 && MAX_DC >= 1 && MAX_DR + MAX_DC <= 64);
    signal input inputRoot;
    signal input weightRoot;
    signal input rowBlock;
    signal input colBlock;
    signal input x[TM][TN];
    signal input params[4][TN];
    signal input y[TM][TN];
    signal input inputSiblings[MAX_DR + MAX_DC];
    signal input weightSiblings[MAX_DC];

    component xCodes = CommittedE4M3Codes(TM * TN, MAX_DR + MAX_DC);
    for (var i = 0; i < TM; i++) {
        for (var j = 0; j < TN; j++) {
            xCodes.codes[i * TN + j] <== x[i][j];
        }
    }
    xCodes.index <== colBlock + (1 << MAX_DC) * rowBlock;
    xCodes.siblings <== inputSiblings;
    xCodes.root <== inputRoot;

    component paramCodes = CommittedE4M3Codes(4 * TN, MAX_DC);
    for (var p = 0; p < 4; p++) {
        for (var j = 0; j < TN; j++) {
            paramCodes.codes[p * TN + j] <== params[p][j];
        }
    }
    paramCodes.index <== colBlock;
    paramCodes.siblings <== weightSiblings;
    paramCodes.root <== weightRoot;

    component check = Fp8BatchNormContractCheck(TM, TN);
    for (var i = 0; i < TM; i++) {
        for (var j = 0; j < TN; j++) {
            check.xValue[i][j] <== xCodes.value[i * TN + j];
            check.xMagnitude[i][j] <== xCodes.magnitude[i * TN + j];
        }
    }
    for (var j = 0; j < TN; j++) {
        check.meanValue[j] <== paramCodes.value[j];
        check.meanMagnitude[j] <== paramCodes.magnitude[j];
        // var is the magnitude of its code: the sign is ignored, so var ≥ 0 always.
        check.varMagnitude[j] <== paramCodes.magnitude[TN + j];
        _ <== paramCodes.value[TN + j];
        check.gammaValue[j] <== paramCodes.value[2 * TN + j];
        check.gammaMagnitude[j] <== paramCodes.magnitude[2 * TN + j];
        check.betaValue[j] <== paramCodes.value[3 * TN + j];
        check.betaMagnitude[j] <== paramCodes.magnitude[3 * TN + j];
    }
    check.yWord <== y;
    for (var i = 0; i < TM; i++) {
        for (var j = 0; j < TN; j++) {
            for (var bit = 0; bit < 32; bit++) {
                _ <== check.yBits[i][j][bit];
            }
        }
    }
}

/// @title Fp8BatchNormJobProof
/// @notice Proves NT challenged output tiles of a job-mode FP8 batch normalisation (inference)
///         y = (x − mean)·γ/√(var + ε) + β per channel (E4M3FN x and parameters, ε = 2^-5, float32 outputs;
///         docs/ops/batchnorm.md "Job mode"): for each u < NT, the tile (r, c) chosen by (challenge, u) exactly as in
///         seed mode is (1) a leaf of the committed output tree at index c + 2^MAX_DC·r (the seed batch norm's tile
///         words: TM rows × TN channels, row-major), (2) computed from x's tile (r, c), leaf c + 2^MAX_DC·r of the
///         input tree, and column block c's parameters, leaf c of the weight tree, (3) from codes none of which is a
///         NaN code, and (4) within the batch-norm numerics contract of those codes (Fp8BatchNormJobTile).
///         Work shape: x is (TM·2^dr) rows × (TN·2^dc) channels.
/// @param NT challenged tiles per proof (tile u uses window u mod ⌊224/(MAX_DR+MAX_DC)⌋ of Poseidon(challenge, v))
/// @param TM, TN tile rows and channels (TM·TN ≤ 112 words per output leaf)
/// @param MAX_DR, MAX_DC largest grid: output and input tree depth MAX_DR + MAX_DC, weight tree MAX_DC
/// @input outputRoot (public) the committed output root
/// @input inputRoot (public) the root of x's tiles, posted with the job
/// @input weightRoot (public) the root of the parameters' column blocks, posted with the job
/// @input challenge (public) randomness fixed after the commitment
/// @input miner (public) the miner's address; bound to the proof so it cannot be replayed by another sender
/// @input shape (public) dr + 256·dc
/// @input x[NT][TM][TN] x's tile of each challenged tile (codes, row-major)
/// @input params[NT][4][TN] the parameter codes of each challenged tile's column block (mean, var, γ, β)
/// @input y[NT][TM][TN] the committed float32 words of each challenged tile
/// @input siblings[NT][MAX_DR + MAX_DC] Merkle siblings of each tile's output leaf, leaf level first
/// @input inputSiblings[NT][MAX_DR + MAX_DC] Merkle siblings of each tile's input leaf (same index)
/// @input weightSiblings[NT][MAX_DC] Merkle siblings of each tile's weight leaf (index colBlock)
/// Callers (the verifier contract) must enforce: public inputs are < the field modulus (the generated verifier
/// does); inputRoot, weightRoot and shape are the job's posted ones (the weight root recomputed from the model whose
/// hash is posted), outputRoot the miner's commitment, challenge fixed after it; miner = msg.sender.
template Fp8BatchNormJobProof(NT, TM, TN, MAX_DR, MAX_DC) {
    assert(NT >= 1);
    assert(TM >= 1 && TN >= 1 && TM * TN <= 112);
    assert(MAX_DR >= 1 && MAX_DC >= 1 && MAX_DR + MAX_DC <= 64);
    var DEPTH = MAX_DR + MAX_DC;
    signal input outputRoot;
    signal input inputRoot;
    signal input weightRoot;
    signal input challenge;
    signal input miner;
    signal input shape;
    signal input x[NT][TM][TN];
    signal input params[NT][4][TN];
    signal input y[NT][TM][TN];
    signal input siblings[NT][DEPTH];
    signal input inputSiblings[NT][DEPTH];
    signal input weightSiblings[NT][MAX_DC];

    // miner enters no other constraint; squaring it keeps it bound to the proof.
    signal minerSquared <== miner * miner;

    // The words are range-checked to 32 bits by the contract check (Float32OnGrid in Fp8BatchNormContractCheck), as
    // ChallengedTiles requires.
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

    component tile[NT];
    for (var u = 0; u < NT; u++) {
        tile[u] = Fp8BatchNormJobTile(TM, TN, MAX_DR, MAX_DC);
        tile[u].inputRoot <== inputRoot;
        tile[u].weightRoot <== weightRoot;
        tile[u].rowBlock <== tiles.rowBlock[u];
        tile[u].colBlock <== tiles.colBlock[u];
        tile[u].x <== x[u];
        tile[u].params <== params[u];
        tile[u].y <== y[u];
        tile[u].inputSiblings <== inputSiblings[u];
        tile[u].weightSiblings <== weightSiblings[u];
    }
}
