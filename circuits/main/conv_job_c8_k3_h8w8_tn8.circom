pragma circom 2.2.0;

// Production conv2d job circuit: one challenged tile = one output row (8 pixels) × 8 output channels of an FP8 3×3
// convolution (stride 1, padding 1) of committed 8×8 images with 8 input channels (K = 72, 4,608 MACs per tile), on
// a grid of up to 2^10 output rows (128 images) × 2^6 column blocks (512 output channels).
include "../conv_job.circom";

component main {public [outputRoot, inputRoot, weightRoot, challenge, miner, shape]} = Fp8ConvJobProof(1, 8, 3, 3, 8, 8, 3, 8, 10, 6);
