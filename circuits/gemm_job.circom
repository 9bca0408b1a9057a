pragma circom 2.2.0;

include "circomlib/circuits/bitify.circom";
include "./lib/gemm.circom";
include "./lib/merkle.circom";
include "./lib/tile_commitment.circom";
include "./lib/input_commitment.circom";

/// @title Fp8GemmJobProof
/// @notice Proves NT challenged output tiles of an input-root ("job") mode linear layer Y = X·W (E4M3FN inputs,
///         float32 outputs; docs/jobs.md): for each u < NT, the tile (r, c) chosen by (challenge, u) exactly as in
///         seed mode is (1) a leaf of the committed output tree at index c + 2^MAX_DC·r, (2) computed from X's row
///         block r, whose TM·K codes (row-major) are leaf r of the input tree, and W's column block c, whose K·TN
///         codes (the K×TN sub-matrix, row-major) are leaf c of the weight tree, (3) from inputs none of which is a
///         NaN code, and (4) within the GEMM numerics contract of the exact products of those codes.
///         Work shape: X is (TM·2^dr)×K, W is K×(TN·2^dc). Leaves are PackedBytesHash of the codes; the input tree has
///         depth MAX_DR, the weight tree depth MAX_DC, leaves beyond the work 0.
/// @param NT challenged tiles per proof (tile u uses window u mod ⌊224/(MAX_DR+MAX_DC)⌋ of Poseidon(challenge, v))
/// @param TM, TN tile rows and columns (TM·TN ≤ 112 words per output leaf); K the inner dimension (the whole K)
/// @param MAX_DR, MAX_DC largest grid: output tree depth MAX_DR + MAX_DC, input tree MAX_DR, weight tree MAX_DC
/// @input outputRoot (public) the committed output root
/// @input inputRoot (public) the root of X's row blocks, posted with the job
/// @input weightRoot (public) the root of W's column blocks, posted with the job
/// @input challenge (public) randomness fixed after the commitment
/// @input miner (public) the miner's address; bound to the proof so it cannot be replayed by another sender
/// @input shape (public) dr + 256·dc
/// @input a[NT][TM][K] X's row block of each challenged tile (E4M3FN codes; range-checked to bytes, NaN rejected)
/// @input b[NT][K][TN] W's column block of each challenged tile (E4M3FN codes; range-checked to bytes, NaN rejected)
/// @input c[NT][TM][TN] the committed float32 words of each challenged tile
/// @input siblings[NT][MAX_DR + MAX_DC] Merkle siblings of each tile's output leaf, leaf level first
/// @input inputSiblings[NT][MAX_DR] Merkle siblings of each tile's input leaf (index rowBlock)
/// @input weightSiblings[NT][MAX_DC] Merkle siblings of each tile's weight leaf (index colBlock)
/// Callers (the verifier contract) must enforce: public inputs are < the field modulus (the generated verifier
/// does); inputRoot, weightRoot and shape are the job's posted ones (the weight root recomputed from the model whose
/// hash is posted), outputRoot the miner's commitment, challenge fixed after it; miner = msg.sender.
template Fp8GemmJobProof(NT, TM, TN, K, MAX_DR, MAX_DC) {
    assert(NT >= 1);
    assert(TM >= 1 && TN >= 1 && K >= 1);
    assert(TM * TN <= 112);
    assert(MAX_DR >= 1 && MAX_DC >= 1 && MAX_DR + MAX_DC <= 64);
    var DEPTH = MAX_DR + MAX_DC;
    signal input outputRoot;
    signal input inputRoot;
    signal input weightRoot;
    signal input challenge;
    signal input miner;
    signal input shape;
    signal input a[NT][TM][K];
    signal input b[NT][K][TN];
    signal input c[NT][TM][TN];
    signal input siblings[NT][DEPTH];
    signal input inputSiblings[NT][MAX_DR];
    signal input weightSiblings[NT][MAX_DC];

    // miner enters no other constraint; squaring it keeps it bound to the proof.
    signal minerSquared <== miner * miner;

    // The words are range-checked to 32 bits by the contract check (Float32OnGrid in Fp8GemmTile), as
    // ChallengedTiles requires.
    component tiles = ChallengedTiles(NT, TM * TN, MAX_DR, MAX_DC);
    tiles.outputRoot <== outputRoot;
    tiles.challenge <== challenge;
    tiles.shape <== shape;
    tiles.siblings <== siblings;
    for (var u = 0; u < NT; u++) {
        for (var i = 0; i < TM; i++) {
            for (var j = 0; j < TN; j++) {
                tiles.words[u][i * TN + j] <== c[u][i][j];
            }
        }
    }

    component gemm[NT];
    component inputLeaf[NT];
    component weightLeaf[NT];
    component rowBits[NT];
    component colBits[NT];
    component inputPath[NT];
    component weightPath[NT];
    for (var u = 0; u < NT; u++) {
        // Decodes every code with Num2Bits(8) (so the bytes hashed below are < 256, as PackedBytesHash requires),
        // rejects the NaN codes and checks the contract for every output word.
        gemm[u] = Fp8GemmTile(TM, TN, K);
        gemm[u].a <== a[u];
        gemm[u].b <== b[u];
        gemm[u].c <== c[u];

        inputLeaf[u] = PackedBytesHash(TM * K);
        for (var i = 0; i < TM; i++) {
            for (var k = 0; k < K; k++) {
                inputLeaf[u].bytes[i * K + k] <== a[u][i][k];
            }
        }
        // rowBlock < 2^dr ≤ 2^MAX_DR (masked by the shape in ChallengedTiles), so these bits are its binary digits.
        rowBits[u] = Num2Bits(MAX_DR);
        rowBits[u].in <== tiles.rowBlock[u];
        inputPath[u] = MerkleRootFromPath(MAX_DR);
        inputPath[u].leaf <== inputLeaf[u].out;
        inputPath[u].siblings <== inputSiblings[u];
        inputPath[u].indexBits <== rowBits[u].out;
        inputPath[u].root === inputRoot;

        weightLeaf[u] = PackedBytesHash(K * TN);
        for (var k = 0; k < K; k++) {
            for (var j = 0; j < TN; j++) {
                weightLeaf[u].bytes[k * TN + j] <== b[u][k][j];
            }
        }
        colBits[u] = Num2Bits(MAX_DC);
        colBits[u].in <== tiles.colBlock[u];
        weightPath[u] = MerkleRootFromPath(MAX_DC);
        weightPath[u].leaf <== weightLeaf[u].out;
        weightPath[u].siblings <== weightSiblings[u];
        weightPath[u].indexBits <== colBits[u].out;
        weightPath[u].root === weightRoot;
    }
}
