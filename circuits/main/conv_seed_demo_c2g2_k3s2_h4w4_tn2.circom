pragma circom 2.2.0;

// Demo conv2d circuit: one challenged tile = one output row (2 pixels) × 2 output channels of an FP8 3×3
// convolution with 2 input channels in 2 groups, stride 2, padding 1, dilation 1, on 4×4 images (K = 9), on a grid
// of up to 2^3 output rows (4 images) × 2^3 column blocks (16 output channels). Small enough for the power-13 dev
// ptau; the production circuit is conv_seed_c8_k3_h8w8_tn8.circom.
include "../conv_seed.circom";

component main {public [outputRoot, seed, challenge, miner, shape]} = Fp8ConvSeedProof(1, 2, 2, 3, 3, 2, 1, 1, 4, 4, 2, 1, 2, 3, 3);
