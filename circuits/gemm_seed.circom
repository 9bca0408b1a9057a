pragma circom 2.2.0;

include "./lib/fp8.circom";
include "./lib/gemm.circom";
include "./lib/seed_stream.circom";
include "./lib/merkle.circom";
include "./lib/challenge.circom";

/// @title Fp8GemmSeedProof
/// @notice Proves NT challenged output tiles of a seed-mode FP8 GEMM C = A·B (E4M3FN inputs, float32 outputs):
///         for each u < NT, the tile chosen by (challenge, u) is (1) a leaf of the committed output tree at its
///         index, and (2) within the numerics contract of the exact products of A's rows and B's columns for that
///         tile, where A and B are generated in-circuit from the seed (docs/protocol-work.md). The prover chooses
///         nothing but the output words and the Merkle siblings, both fixed by its earlier commitment.
///         Work shape: A is (TM·2^dr)×K, B is K×(TN·2^dc); tile (r, c) covers rows r·TM… and columns c·TN….
///         A's row block r is stream(seed, 1, r) row-major (TM×K); B's column block c is stream(seed, 2, c) row-major
///         (K×TN); NaN codes in the stream (0x7F, 0xFF) stand for ±0.
/// @param NT challenged tiles per proof (tile u uses window u mod ⌊224/(MAX_DR+MAX_DC)⌋ of Poseidon(challenge, v))
/// @param TM, TN tile rows and columns; K the inner dimension (whole; K-splitting is described in docs/circuits.md)
/// @param MAX_DR, MAX_DC largest grid: the output tree has depth MAX_DR + MAX_DC
/// @input outputRoot (public) the committed output root
/// @input seed (public) the work seed; the contract derives it from the miner and its commitment
/// @input challenge (public) randomness fixed after the commitment
/// @input miner (public) the miner's address; bound to the proof so it cannot be replayed by another sender
/// @input shape (public) dr + 256·dc
/// @input c[NT][TM][TN] the committed float32 words of each challenged tile
/// @input siblings[NT][MAX_DR + MAX_DC] Merkle siblings of each challenged tile's leaf
/// Callers (the verifier contract) must enforce: public inputs are < the field modulus (the generated verifier
/// does); seed, challenge and shape are the ones the protocol fixed for this commitment; miner = msg.sender.
template Fp8GemmSeedProof(NT, TM, TN, K, MAX_DR, MAX_DC) {
    assert(NT >= 1);
    assert(TM >= 1 && TN >= 1 && K >= 1);
    assert(TM * TN <= 112);
    assert(MAX_DR + MAX_DC <= 64);
    var DEPTH = MAX_DR + MAX_DC;
    signal input outputRoot;
    signal input seed;
    signal input challenge;
    signal input miner;
    signal input shape;
    signal input c[NT][TM][TN];
    signal input siblings[NT][DEPTH];

    // miner enters no other constraint; squaring it keeps it bound to the proof.
    signal minerSquared <== miner * miner;

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
    component aStream[NT];
    component bStream[NT];
    component aDecode[NT][TM][K];
    component bDecode[NT][K][TN];
    component check[NT];
    component leaf[NT];
    component path[NT];
    for (var u = 0; u < NT; u++) {
        tile[u] = ChallengedTile(MAX_DR, MAX_DC);
        for (var bit = 0; bit < WINDOW; bit++) {
            tile[u].window[bit] <== challengeBits.bits[u \ PER_HASH][(u % PER_HASH) * WINDOW + bit];
        }
        tile[u].rowMask <== grid.rowMask;
        tile[u].colMask <== grid.colMask;

        check[u] = Fp8GemmContractCheck(TM, TN, K);
        aStream[u] = SeedStreamBits(TM * K, 1);
        aStream[u].seed <== seed;
        aStream[u].block <== tile[u].rowBlock;
        for (var i = 0; i < TM; i++) {
            for (var k = 0; k < K; k++) {
                aDecode[u][i][k] = Fp8E4M3FromBits(1);
                aDecode[u][i][k].bits <== aStream[u].bits[i * K + k];
                check[u].aValue[i][k] <== aDecode[u][i][k].value;
                check[u].aMagnitude[i][k] <== aDecode[u][i][k].magnitude;
            }
        }
        bStream[u] = SeedStreamBits(K * TN, 2);
        bStream[u].seed <== seed;
        bStream[u].block <== tile[u].colBlock;
        for (var k = 0; k < K; k++) {
            for (var j = 0; j < TN; j++) {
                bDecode[u][k][j] = Fp8E4M3FromBits(1);
                bDecode[u][k][j].bits <== bStream[u].bits[k * TN + j];
                check[u].bValue[k][j] <== bDecode[u][k][j].value;
                check[u].bMagnitude[k][j] <== bDecode[u][k][j].magnitude;
            }
        }
        check[u].cWord <== c[u];
        for (var i = 0; i < TM; i++) {
            for (var j = 0; j < TN; j++) {
                for (var bit = 0; bit < 32; bit++) {
                    _ <== check[u].cBits[i][j][bit];
                }
            }
        }

        // Words are range-checked to 32 bits by the contract check, so packing them is injective.
        leaf[u] = PackedWordsHash(TM * TN);
        for (var i = 0; i < TM; i++) {
            for (var j = 0; j < TN; j++) {
                leaf[u].words[i * TN + j] <== c[u][i][j];
            }
        }
        path[u] = MerkleRootFromPath(DEPTH);
        path[u].leaf <== leaf[u].out;
        path[u].siblings <== siblings[u];
        path[u].indexBits <== tile[u].indexBits;
        path[u].root === outputRoot;
    }
}
