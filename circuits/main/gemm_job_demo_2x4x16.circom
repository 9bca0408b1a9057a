pragma circom 2.2.0;

// Demo job circuit: one challenged 2×4 tile of a linear layer Y = X·W with K = 16, on a grid of up to 2^5 × 2^2 tiles
// (X up to 64×16, W up to 16×16). Small enough for the committed power-13 dev ptau; the production job circuit is
// gemm_job_8x8x64.circom.
include "../gemm_job.circom";

component main {public [outputRoot, inputRoot, weightRoot, challenge, miner, shape]} = Fp8GemmJobProof(1, 2, 4, 16, 5, 2);
