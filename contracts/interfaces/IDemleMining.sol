// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IDemleToken} from "./IDemleToken.sol";
import {IGroth16Verifier5} from "./IGroth16Verifier5.sol";

/// @title IDemleMining
/// @author DEMLE
/// @notice Proof-of-useful-work mining of DEMLE: a miner reads a work seed, computes a seed-mode FP8 GEMM off-chain,
/// commits the Poseidon Merkle root of its float32 outputs with a bond, and after a delay proves the output tiles
/// chosen by a challenge that did not exist at commit time. Verified work mints DEMLE (per multiply-accumulate, with
/// halvings, up to the token's cap) and returns the bond; unproven work forfeits it. See docs/protocol.md.
/// @dev The work, the commitment and the proof statement are specified in docs/circuits.md; the TypeScript reference
/// is common/work.ts. Block numbers are used for every deadline.
interface IDemleMining {
    /// @notice Life cycle of a commitment: None (no such id) → Committed → Proven or Slashed.
    enum Status {
        None,
        Committed,
        Proven,
        Slashed
    }

    /// @notice Every parameter of the protocol, fixed at deployment.
    /// @dev Tiling fields describe the circuit whose verifier is given to the constructor: `Fp8GemmSeedProof(NT, TM, TN,
    /// K, MAX_DR, MAX_DC)` in circuits/gemm_seed.circom; the contract cannot read them from the verifier, so a mismatch
    /// makes every proof fail (the circuit would check a different statement). Other fields are protocol choices.
    /// @param tileRows TM: rows of an output tile.
    /// @param tileCols TN: columns of an output tile.
    /// @param depth K: the inner dimension of the GEMM; a tile is TM·TN·K multiply-accumulates (MACs).
    /// @param maxRowBlocksLog2 MAX_DR: the largest work has 2^MAX_DR row blocks (the Merkle tree reserves them).
    /// @param maxColBlocksLog2 MAX_DC: the largest work has 2^MAX_DC column blocks.
    /// @param tilesPerProof NT: tiles one proof checks.
    /// @param proofsPerCommitment P: proofs per commitment; each has its own challenge, so k = NT·P tiles are checked.
    /// @param epochLength Blocks per epoch; epoch = block.number / epochLength. Work seeds change every epoch.
    /// @param challengeDelay D, in blocks: the challenge of a commitment made in block b is derived from
    /// blockhash(b + D), so it exists only from block b + D + 1 on.
    /// @param proofWindow W, in blocks: proofs are accepted in blocks b + D + 1 … b + D + W; from b + D + W + 1 the
    /// commitment can be slashed. D + W ≤ 250 keeps blockhash(b + D) readable (the EVM keeps 256 block hashes).
    /// @param bondPerTile Native-coin (wei) bond per output tile of the committed work; the bond of a work with
    /// 2^(dr+dc) tiles is bondPerTile·2^(dr+dc). Returned on a valid proof, forfeited otherwise.
    /// @param slashBountyBps Share of a forfeited bond (basis points) paid to whoever calls {slash}. The rest stays in
    /// this contract forever (no function can move it): it is burned, and counted in {burnedBonds}.
    /// @param initialRewardPerMac DEMLE (smallest unit) minted per verified MAC in epochs before the first halving.
    /// @param halvingEpochs The reward per MAC halves every halvingEpochs epochs.
    /// @param cap Hard cap of the DEMLE supply (smallest unit); the token is deployed with it.
    // Params only lives in memory and calldata (the contract keeps each field in an immutable), so storage packing
    // does not apply; the fields are in documentation order.
    // solhint-disable-next-line gas-struct-packing
    struct Params {
        uint32 tileRows;
        uint32 tileCols;
        uint32 depth;
        uint8 maxRowBlocksLog2;
        uint8 maxColBlocksLog2;
        uint32 tilesPerProof;
        uint32 proofsPerCommitment;
        uint64 epochLength;
        uint64 challengeDelay;
        uint64 proofWindow;
        uint256 bondPerTile;
        uint16 slashBountyBps;
        uint256 initialRewardPerMac;
        uint64 halvingEpochs;
        uint256 cap;
    }

    /// @notice A miner's commitment to the outputs of one seed-mode work.
    /// @param miner The committing account; the only one that may prove, and the `miner` public input.
    /// @param epoch The epoch whose seed the work used.
    /// @param rowBlocksLog2 dr: the work has 2^dr row blocks (M = TM·2^dr).
    /// @param colBlocksLog2 dc: the work has 2^dc column blocks (N = TN·2^dc).
    /// @param status Committed, Proven or Slashed.
    /// @param nonce The miner's nonce in `epoch` that the seed was derived with.
    /// @param commitBlock The block of the commitment; the challenge comes from blockhash(commitBlock + D).
    /// @param bond The bond paid (wei).
    /// @param outputRoot The Poseidon Merkle root of the work's outputs (a field element).
    /// @param seed The work seed, {seedFor}(miner, epoch, nonce).
    struct Commitment {
        address miner;
        uint64 epoch;
        uint8 rowBlocksLog2;
        uint8 colBlocksLog2;
        Status status;
        uint64 nonce;
        uint64 commitBlock;
        uint128 bond;
        uint256 outputRoot;
        uint256 seed;
    }

    // Events index ids, accounts and epochs (what a dashboard filters by), not amounts.
    /* solhint-disable gas-indexed-events */

    /// @notice The seed of `epoch` was fixed.
    /// @param epoch The epoch.
    /// @param seed Its seed: keccak256(blockhash(openingBlock − 1), epoch, this contract, chain id).
    event EpochOpened(uint64 indexed epoch, uint256 seed);

    /// @notice A miner committed to the outputs of a work.
    /// @param id The commitment id.
    /// @param miner The miner.
    /// @param epoch The epoch whose seed the work used.
    /// @param nonce The miner's nonce in that epoch.
    /// @param outputRoot The committed output root.
    /// @param seed The work seed.
    /// @param rowBlocksLog2 dr.
    /// @param colBlocksLog2 dc.
    /// @param macs MACs of the work (the reward basis): TM·TN·K·2^(dr+dc).
    /// @param bond The bond paid (wei).
    event Committed(
        uint256 indexed id,
        address indexed miner,
        uint64 indexed epoch,
        uint64 nonce,
        uint256 outputRoot,
        uint256 seed,
        uint8 rowBlocksLog2,
        uint8 colBlocksLog2,
        uint256 macs,
        uint256 bond
    );

    /// @notice Every proof of a commitment verified: it is Proven.
    /// @param id The commitment id.
    /// @param miner The miner.
    /// @param tilesChecked Output tiles the proofs checked: k = NT·P.
    /// @param macs MACs of the work.
    event ProofAccepted(uint256 indexed id, address indexed miner, uint256 tilesChecked, uint256 macs);

    /// @notice DEMLE minted for a proven commitment (less than its reward, or 0, if the cap was reached).
    /// @param id The commitment id.
    /// @param miner The receiver.
    /// @param amount The amount minted (smallest unit).
    event RewardMinted(uint256 indexed id, address indexed miner, uint256 amount);

    /// @notice The bond of a proven commitment was paid back.
    /// @param id The commitment id.
    /// @param miner The receiver.
    /// @param bond The amount returned (wei).
    event BondReturned(uint256 indexed id, address indexed miner, uint256 bond);

    /// @notice A commitment that was not proven in its window was slashed.
    /// @param id The commitment id.
    /// @param miner The miner whose bond was forfeited.
    /// @param caller The account that called {slash} and received the bounty.
    /// @param bounty The part of the bond paid to `caller` (wei).
    /// @param burned The part of the bond locked in this contract forever (wei).
    event Slashed(uint256 indexed id, address indexed miner, address indexed caller, uint256 bounty, uint256 burned);

    /* solhint-enable gas-indexed-events */

    /// @notice The constructor was given a verifier address without code.
    /// @param verifier The address given.
    error InvalidVerifier(address verifier);

    /// @notice The tiling is impossible for Fp8GemmSeedProof: a zero dimension or NT, TM·TN > 112 (a leaf packs at
    /// most 112 words), K > 2^18, or MAX_DR + MAX_DC > 64.
    error InvalidTiling();

    /// @notice proofsPerCommitment is 0 or above {MAX_PROOFS_PER_COMMITMENT}.
    /// @param proofsPerCommitment The value given.
    error InvalidProofsPerCommitment(uint256 proofsPerCommitment);

    /// @notice epochLength or halvingEpochs is 0.
    error InvalidEpochs();

    /// @notice challengeDelay or proofWindow is 0, or their sum is above {MAX_CHALLENGE_SPAN}.
    /// @param challengeDelay D.
    /// @param proofWindow W.
    error InvalidChallengeWindow(uint256 challengeDelay, uint256 proofWindow);

    /// @notice bondPerTile is 0, or the bond of the largest work does not fit in 128 bits.
    error InvalidBond();

    /// @notice slashBountyBps is above 10,000.
    /// @param slashBountyBps The value given.
    error InvalidSlashBounty(uint256 slashBountyBps);

    /// @notice initialRewardPerMac is 0, or the reward of the largest work overflows.
    error InvalidReward();

    /// @notice cap is 0.
    error InvalidCap();

    /// @notice The epoch's seed has not been fixed yet (call {openEpoch} during the epoch).
    /// @param epoch The epoch.
    error EpochNotOpen(uint64 epoch);

    /// @notice Work may be committed only in its epoch or the next one.
    /// @param epoch The work's epoch.
    /// @param current The current epoch.
    error StaleEpoch(uint64 epoch, uint64 current);

    /// @notice The nonce is not the miner's next nonce in that epoch.
    /// @param nonce The nonce given.
    /// @param expected The miner's next nonce.
    error WrongNonce(uint64 nonce, uint64 expected);

    /// @notice The work shape exceeds the circuit's grid.
    /// @param rowBlocksLog2 dr given.
    /// @param colBlocksLog2 dc given.
    error ShapeTooLarge(uint256 rowBlocksLog2, uint256 colBlocksLog2);

    /// @notice The output root is not a field element (not below the BN254 scalar field modulus).
    /// @param outputRoot The value given.
    error OutputRootOutOfField(uint256 outputRoot);

    /// @notice msg.value is not the bond of the work.
    /// @param paid msg.value.
    /// @param required {bondFor}(dr, dc).
    error BondMismatch(uint256 paid, uint256 required);

    /// @notice The token supply has reached its cap: nothing is left to mine.
    error CapReached();

    /// @notice No commitment has this id.
    /// @param id The id.
    error UnknownCommitment(uint256 id);

    /// @notice The commitment was already proven or slashed.
    /// @param id The id.
    /// @param status Its status.
    error AlreadySettled(uint256 id, Status status);

    /// @notice Only the commitment's miner may prove it.
    /// @param id The id.
    /// @param caller msg.sender.
    error NotMiner(uint256 id, address caller);

    /// @notice The challenge does not exist yet.
    /// @param id The id.
    /// @param readyBlock The first block in which it exists (commitBlock + D + 1).
    error ChallengeNotReady(uint256 id, uint256 readyBlock);

    /// @notice blockhash(commitBlock + D) is no longer readable (more than 256 blocks ago).
    /// @param id The id.
    error ChallengeExpired(uint256 id);

    /// @notice A proof index is not below proofsPerCommitment.
    /// @param index The index given.
    /// @param proofsPerCommitment P.
    error ProofIndexOutOfRange(uint256 index, uint256 proofsPerCommitment);

    /// @notice Proofs were submitted before the challenge existed.
    /// @param id The id.
    /// @param firstBlock The first block in which {prove} is accepted.
    error TooEarly(uint256 id, uint256 firstBlock);

    /// @notice The proof window has closed.
    /// @param id The id.
    /// @param lastBlock The last block in which {prove} was accepted.
    error TooLate(uint256 id, uint256 lastBlock);

    /// @notice The number of proofs is not proofsPerCommitment.
    /// @param given proofs.length.
    /// @param required P.
    error WrongProofCount(uint256 given, uint256 required);

    /// @notice Proof `index` did not verify against the commitment's public inputs.
    /// @param index The index of the failing proof.
    error InvalidProof(uint256 index);

    /// @notice The proof window is still open: the commitment cannot be slashed yet.
    /// @param id The id.
    /// @param slashableBlock The first block in which it can be slashed (commitBlock + D + W + 1).
    error WindowOpen(uint256 id, uint256 slashableBlock);

    /// @notice Fixes the current epoch's seed if it is not fixed yet. Anyone may call it; later calls in the same
    /// epoch change nothing.
    /// @dev seed = keccak256(abi.encode(blockhash(block.number − 1), epoch, address(this), block.chainid)). Emits
    /// {EpochOpened} on the first call of an epoch.
    /// @return epoch The current epoch.
    /// @return seed Its seed.
    function openEpoch() external returns (uint64 epoch, uint256 seed);

    /// @notice Commits to the outputs of the work with seed {seedFor}(msg.sender, epoch, nonce) and shape
    /// 2^dr × 2^dc tiles, paying {bondFor}(dr, dc). Opens the current epoch if needed.
    /// @dev Reverts with StaleEpoch unless epoch is the current or the previous one, EpochNotOpen if its seed was never
    /// fixed, WrongNonce unless nonce is {nextNonce}(msg.sender, epoch) (which then increments), ShapeTooLarge,
    /// OutputRootOutOfField, BondMismatch, or CapReached when the supply is at the cap. Emits {Committed}.
    /// @param epoch The epoch whose seed the work used.
    /// @param nonce The miner's next nonce in that epoch.
    /// @param outputRoot The Poseidon Merkle root of the outputs (docs/circuits.md, "Output commitment").
    /// @param rowBlocksLog2 dr ≤ maxRowBlocksLog2.
    /// @param colBlocksLog2 dc ≤ maxColBlocksLog2.
    /// @return id The commitment id.
    function commit(
        uint64 epoch,
        uint64 nonce,
        uint256 outputRoot,
        uint8 rowBlocksLog2,
        uint8 colBlocksLog2
    ) external payable returns (uint256 id);

    /// @notice Proves a commitment with P Groth16 proofs, mints its reward (up to the cap) and returns its bond.
    /// @dev Proof j must verify for the public inputs [outputRoot, seed, {proofChallenge}(id, j), uint160(miner),
    /// dr + 256·dc]. Only the miner may call (NotMiner), in blocks commitBlock + D + 1 … commitBlock + D + W (TooEarly,
    /// TooLate), once (AlreadySettled). Emits {ProofAccepted}, {RewardMinted} and {BondReturned}.
    /// @param id The commitment id.
    /// @param proofs P proofs, each as [a0, a1, b00, b01, b10, b11, c0, c1] in the order of snarkjs'
    /// `groth16.exportSolidityCallData` (B's coordinate pairs imaginary part first; see {IGroth16Verifier5}).
    function prove(uint256 id, uint256[8][] calldata proofs) external;

    /// @notice Forfeits the bond of a commitment that was not proven in its window, paying the caller a bounty.
    /// @dev Anyone may call it from block commitBlock + D + W + 1 on (WindowOpen before). Emits {Slashed}.
    /// @param id The commitment id.
    /// @return bounty The amount paid to the caller (wei).
    function slash(uint256 id) external returns (uint256 bounty);

    /// @notice The token this contract mints.
    /// @return The DEMLE token, deployed by this contract's constructor.
    function token() external view returns (IDemleToken);

    /// @notice The Groth16 verifier of the tile circuit.
    /// @return The verifier.
    function verifier() external view returns (IGroth16Verifier5);

    /// @notice Every parameter, as given to the constructor.
    /// @return The parameters.
    function params() external view returns (Params memory);

    /// @notice The current epoch: block.number / epochLength.
    /// @return The epoch.
    function currentEpoch() external view returns (uint64);

    /// @notice The seed of an epoch, or 0 if it was never opened.
    /// @param epoch The epoch.
    /// @return The seed.
    function epochSeed(uint64 epoch) external view returns (uint256);

    /// @notice The nonce the miner's next commitment in `epoch` must use.
    /// @param miner The miner.
    /// @param epoch The epoch.
    /// @return The nonce.
    function nextNonce(address miner, uint64 epoch) external view returns (uint64);

    /// @notice The work seed of (miner, epoch, nonce): keccak256(abi.encode(epochSeed, miner, nonce)) mod p. A miner
    /// reads it before computing. Reverts with EpochNotOpen if the epoch's seed is not fixed.
    /// @param miner The miner that will commit.
    /// @param epoch The epoch.
    /// @param nonce The miner's nonce in that epoch.
    /// @return The seed, a field element.
    function seedFor(address miner, uint64 epoch, uint64 nonce) external view returns (uint256);

    /// @notice The challenge of a commitment: keccak256(abi.encode(blockhash(commitBlock + D), id, miner, outputRoot))
    /// mod p. Reverts with ChallengeNotReady before block commitBlock + D + 1 and ChallengeExpired once the block hash
    /// is no longer readable.
    /// @param id The commitment id.
    /// @return The challenge, a field element.
    function challengeOf(uint256 id) external view returns (uint256);

    /// @notice The `challenge` public input of proof j: keccak256(abi.encode({challengeOf}(id), j)) mod p.
    /// @param id The commitment id.
    /// @param j The proof index, below proofsPerCommitment.
    /// @return The challenge of proof j, a field element.
    function proofChallenge(uint256 id, uint256 j) external view returns (uint256);

    /// @notice A commitment (all fields 0 and status None for an unknown id).
    /// @param id The commitment id.
    /// @return The commitment.
    function commitments(uint256 id) external view returns (Commitment memory);

    /// @notice The number of commitments made; ids are 0 … commitmentCount − 1.
    /// @return The count.
    function commitmentCount() external view returns (uint256);

    /// @notice DEMLE minted per verified MAC for work of `epoch`: initialRewardPerMac >> (epoch / halvingEpochs).
    /// @param epoch The work's epoch.
    /// @return The reward per MAC (smallest unit).
    function rewardPerMac(uint64 epoch) external view returns (uint256);

    /// @notice The bond of a work of 2^dr × 2^dc tiles: bondPerTile · 2^(dr+dc). Reverts with ShapeTooLarge.
    /// @param rowBlocksLog2 dr.
    /// @param colBlocksLog2 dc.
    /// @return The bond (wei).
    function bondFor(uint8 rowBlocksLog2, uint8 colBlocksLog2) external view returns (uint256);

    /// @notice MACs of a work of 2^dr × 2^dc tiles: TM·TN·K · 2^(dr+dc). Reverts with ShapeTooLarge.
    /// @param rowBlocksLog2 dr.
    /// @param colBlocksLog2 dc.
    /// @return The number of multiply-accumulates.
    function macsFor(uint8 rowBlocksLog2, uint8 colBlocksLog2) external view returns (uint256);

    /// @notice Total wei of forfeited bonds locked in this contract for good (slashed bonds minus bounties paid).
    /// @return The amount (wei).
    function burnedBonds() external view returns (uint256);
}
