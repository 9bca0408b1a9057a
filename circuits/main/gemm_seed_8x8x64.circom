pragma circom 2.2.0;

// Production tile circuit: one challenged 8×8 tile of an FP8 GEMM with K = 64, on a grid of up to 2^10 × 2^10 tiles
// (A up to 8192×64, B up to 64×8192).
include "../gemm_seed.circom";

component main {public [outputRoot, seed, challenge, miner, shape]} = Fp8GemmSeedProof(1, 8, 8, 64, 10, 10);
