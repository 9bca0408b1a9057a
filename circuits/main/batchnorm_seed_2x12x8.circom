pragma circom 2.2.0;

// Production FP8 batch-norm tile proof: 2 challenged tiles of 12 rows × 8 channels (192 outputs) per proof, on a grid
// of up to 2^10 × 2^10 tiles (12,288 rows × 8,192 channels). Fits the power-16 ptau; see docs/ops/batchnorm.md.
include "../batchnorm_seed.circom";

component main {public [outputRoot, seed, challenge, miner, shape]} = Fp8BatchNormSeedProof(2, 12, 8, 10, 10);
