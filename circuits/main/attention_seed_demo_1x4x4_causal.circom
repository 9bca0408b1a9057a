pragma circom 2.2.0;

// Demo attention circuit: one challenged tile of 1 query row × one head, head dimension 4, 4 keys per head, causal
// mask, on a grid of up to 2^2 query blocks (4 queries = the 4 keys' positions) × 2^2 heads. Small enough for the
// committed power-13 dev ptau; the production circuit is attention_seed_4x16x16.circom.
include "../attention_seed.circom";

component main {public [outputRoot, seed, challenge, miner, shape]} = Fp8AttentionSeedProof(1, 1, 4, 4, 1, 2, 2);
