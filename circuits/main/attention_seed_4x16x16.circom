pragma circom 2.2.0;

// Production attention circuit: one challenged tile of 4 query rows × one head, head dimension 16, 16 keys per head,
// no causal mask, on a grid of up to 2^2 query blocks (16 queries) × 2^10 heads. Fits the power-16 ptau.
include "../attention_seed.circom";

component main {public [outputRoot, seed, challenge, miner, shape]} = Fp8AttentionSeedProof(1, 4, 16, 16, 0, 2, 10);
