pragma circom 2.2.0;

// Demo conv2d job circuit: one challenged tile = one output row (8 pixels) × 2 output channels of an FP8 3×3
// convolution (stride 1, padding 1) of committed 8×8 images with 4 input channels (K = 36, 576 MACs per tile), on a
// grid of up to 2^4 output rows (2 images) × 2^2 column blocks (8 output channels). Needs a power-14 ptau; the
// production conv job circuit is conv_job_c8_k3_h8w8_tn8.circom.
include "../conv_job.circom";

component main {public [outputRoot, inputRoot, weightRoot, challenge, miner, shape]} = Fp8ConvJobProof(1, 4, 3, 3, 8, 8, 3, 2, 4, 2);
