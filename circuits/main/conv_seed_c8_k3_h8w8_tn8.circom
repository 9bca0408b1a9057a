pragma circom 2.2.0;

// Production conv2d tile circuit: one challenged tile = one output row (8 pixels) × 8 output channels of an FP8
// 3×3 convolution with 8 input channels, stride 1, padding 1, dilation 1, on 8×8 images (K = 72, 4,608 MACs per
// tile), on a grid of up to 2^10 output rows (128 images) × 2^6 column blocks (512 output channels).
include "../conv_seed.circom";

component main {public [outputRoot, seed, challenge, miner, shape]} = Fp8ConvSeedProof(1, 8, 1, 3, 3, 1, 1, 1, 8, 8, 8, 3, 8, 10, 6);
