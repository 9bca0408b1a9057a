pragma circom 2.2.0;

// Production batch-norm job circuit: 1 challenged tile of 12 rows × 8 channels (the seed production tile) of committed
// x and per-channel parameters, on a grid of up to 2^10 × 2^10 tiles (12,288 rows × 8,192 channels); fits the
// power-16 ptau. Two tiles per proof (the seed circuit's NT) would need 72,927 constraints, beyond the largest
// development ptau (2^16); like the other job kinds, a job assignment takes 4 proofs of one tile instead. See
// docs/ops/batchnorm.md "Job mode".
include "../batchnorm_job.circom";

component main {public [outputRoot, inputRoot, weightRoot, challenge, miner, shape]} = Fp8BatchNormJobProof(1, 12, 8, 10, 10);
