pragma circom 2.2.0;

// Demo circuit: one challenged 2×2 tile of an FP8 GEMM with K = 16 on a grid of up to 2^3 × 2^3 tiles (A up to
// 16×16, B up to 16×16). Small enough for the committed power-13 dev ptau, so a fresh clone's demo needs no download
// and no 25-minute ptau build; the production circuit is gemm_seed_8x8x64.circom.
include "../gemm_seed.circom";

component main {public [outputRoot, seed, challenge, miner, shape]} = Fp8GemmSeedProof(1, 2, 2, 16, 3, 3);
