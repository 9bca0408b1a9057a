pragma circom 2.2.0;

// Production job circuit: one challenged 8×8 tile of a linear layer Y = X·W with K = 64, on a grid of up to
// 2^10 × 2^10 tiles (X up to 8192×64, W up to 64×8192).
include "../gemm_job.circom";

component main {public [outputRoot, inputRoot, weightRoot, challenge, miner, shape]} = Fp8GemmJobProof(1, 8, 8, 64, 10, 10);
