pragma circom 2.2.0;

// Demo FP8 batch-norm tile proof: 1 challenged tile of 2 rows × 4 channels, grid up to 2^3 × 2^3 tiles (16 rows ×
// 32 channels). Small enough for the committed power-13 dev ptau; the production circuit is batchnorm_seed_2x12x8.
include "../batchnorm_seed.circom";

component main {public [outputRoot, seed, challenge, miner, shape]} = Fp8BatchNormSeedProof(1, 2, 4, 3, 3);
