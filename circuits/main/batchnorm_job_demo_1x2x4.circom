pragma circom 2.2.0;

// Demo batch-norm job circuit: 1 challenged tile of 2 rows × 4 channels (the seed demo's tiling) of committed x and
// per-channel parameters, on a grid of up to 2^3 × 2^3 tiles (16 rows × 32 channels); the production batch-norm job
// circuit is batchnorm_job_2x12x8.circom. See docs/ops/batchnorm.md "Job mode".
include "../batchnorm_job.circom";

component main {public [outputRoot, inputRoot, weightRoot, challenge, miner, shape]} = Fp8BatchNormJobProof(1, 2, 4, 3, 3);
