// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IDemleToken} from "./IDemleToken.sol";
import {IGroth16Verifier5} from "./IGroth16Verifier5.sol";

/// @title IDemleMining
/// @author DEMLE
/// @notice Proof-of-useful-work mining of DEMLE: a miner reads a work seed, computes a seed-mode FP8 workload off-chain
/// (one work per layer of the deployment's workload: GEMM, conv2d, batch normalisation, attention — each layer is one
/// op with its own tile circuit and verifier), commits the Poseidon Merkle root of each layer's float32 outputs with a
/// bond, and after a delay proves the output tiles chosen by a challenge that did not exist at commit time; the
/// challenged tiles are spread over every layer. Verified work mints DEMLE (per multiply-accumulate, with
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

    /// @notice One layer of the workload: an op's seed-mode tile circuit, fixed at deployment.
    /// @dev Every tile circuit (circuits/*_seed.circom) has the public inputs [outputRoot, seed, challenge, miner,
    /// shape]. The grid fields repeat the circuit's parameters; the contract cannot read them from the verifier, so a
    /// mismatch makes every proof of the layer fail (the circuit would check a different statement).
    /// @param verifier The Groth16 verifier of the layer's circuit.
    /// @param macsPerTile Work units of one output tile, the reward basis: multiply-accumulates for GEMM (TM·TN·K),
    /// conv2d (pixels·channels·K) and attention (both products); one per output for batch normalisation.
    /// @param tilesPerProof NT: tiles one proof checks.
    /// @param maxRowBlocksLog2 MAX_DR: the largest work has 2^MAX_DR row blocks (the Merkle tree reserves them).
    /// @param maxColBlocksLog2 MAX_DC: the largest work has 2^MAX_DC column blocks.
    struct Layer {
        IGroth16Verifier5 verifier;
        uint64 macsPerTile;
        uint32 tilesPerProof;
        uint8 maxRowBlocksLog2;
        uint8 maxColBlocksLog2;
    }

    /// @notice Every protocol parameter, fixed at deployment.
    /// @param proofsPerCommitment P: proofs per commitment; proof j checks layer j mod L (L layers, P ≥ L) with its own
    /// challenge, so k = Σ NT tiles are checked, every layer at least once.
    /// @param epochLength Blocks per epoch; epoch = block.number / epochLength. Work seeds change every epoch.
    /// @param challengeDelay D, in blocks: the challenge of a commitment made in block b is derived from
    /// blockhash(b + D), so it exists only from block b + D + 1 on.
    /// @param proofWindow W, in blocks: proofs are accepted in blocks b + D + 1 … b + D + W; from b + D + W + 1 the
    /// commitment can be slashed. D + W ≤ 250 keeps blockhash(b + D) readable (the EVM keeps 256 block hashes).
    /// @param bondPerTile Native-coin (wei) bond per output tile of the committed work; the bond of a commitment is
    /// bondPerTile·Σ 2^(dr+dc) over its layers. Returned on a valid proof, forfeited otherwise.
    /// @param slashBountyBps Share of a forfeited bond (basis points) paid to whoever calls {slash}. The rest stays in
    /// this contract forever (no function can move it): it is burned, and counted in {burnedBonds}.
    /// @param initialRewardPerMac DEMLE (smallest unit) minted per verified MAC in epochs before the first halving.
    /// @param halvingEpochs The reward per MAC halves every halvingEpochs epochs.
    /// @param cap Hard cap of the DEMLE supply (smallest unit); the token is deployed with it.
    // Params only lives in memory and calldata (the contract keeps each field in an immutable), so storage packing
    // does not apply; the fields are in documentation order.
    // solhint-disable-next-line gas-struct-packing
    struct Params {
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

    /// @notice A miner's commitment to the outputs of one seed-mode workload (a work per layer).
    /// @param miner The committing account; the only one that may prove, and the `miner` public input.
    /// @param epoch The epoch whose seed the work used.
    /// @param status Committed, Proven or Slashed.
    /// @param nonce The miner's nonce in `epoch` that the seed was derived with.
    /// @param commitBlock The block of the commitment; the challenge comes from blockhash(commitBlock + D).
    /// @param bond The bond paid (wei).
    /// @param seed The work seed, {seedFor}(miner, epoch, nonce); every layer's work derives its inputs from it.
    /// @param outputRoots Per layer, the Poseidon Merkle root of that layer's outputs (field elements).
    /// @param shapes Per layer, the work shape dr + 256·dc: the layer's work has 2^dr × 2^dc tiles.
    struct Commitment {
        address miner;
        uint64 epoch;
        Status status;
        uint64 nonce;
        uint64 commitBlock;
        uint128 bond;
        uint256 seed;
        uint256[] outputRoots;
        uint16[] shapes;
    }

    // Events index ids, accounts and epochs (what a dashboard filters by), not amounts.
    /* solhint-disable gas-indexed-events */

    /// @notice The seed of `epoch` was fixed.
    /// @param epoch The epoch.
    /// @param seed Its seed: keccak256(blockhash(openingBlock − 1), epoch, this contract, chain id).
    event EpochOpened(uint64 indexed epoch, uint256 seed);

    /// @notice A miner committed to the outputs of a workload.
    /// @param id The commitment id.
    /// @param miner The miner.
    /// @param epoch The epoch whose seed the work used.
    /// @param nonce The miner's nonce in that epoch.
    /// @param seed The work seed.
    /// @param outputRoots The committed output root of each layer.
    /// @param shapes Each layer's work shape, dr + 256·dc.
    /// @param macs Work units of the commitment (the reward basis): Σ macsPerTile·2^(dr+dc) over the layers.
    /// @param bond The bond paid (wei).
    event Committed(
        uint256 indexed id,
        address indexed miner,
        uint64 indexed epoch,
        uint64 nonce,
        uint256 seed,
        uint256[] outputRoots,
        uint16[] shapes,
        uint256 macs,
        uint256 bond
    );

    /// @notice Every proof of a commitment verified: it is Proven.
    /// @param id The commitment id.
    /// @param miner The miner.
    /// @param tilesChecked Output tiles the proofs checked: Σ over proofs of their layer's NT.
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

    /// @notice The constructor was given no layers, or more than {MAX_LAYERS}.
    /// @param count The number of layers given.
    error InvalidLayerCount(uint256 count);

    /// @notice A layer's verifier address has no code.
    /// @param layer The layer index.
    /// @param verifier The address given.
    error InvalidVerifier(uint256 layer, address verifier);

    /// @notice A layer's grid is impossible: macsPerTile or NT is 0, MAX_DR or MAX_DC is 0, or MAX_DR + MAX_DC > 64.
    /// @param layer The layer index.
    error InvalidLayer(uint256 layer);

    /// @notice proofsPerCommitment is 0, above {MAX_PROOFS_PER_COMMITMENT}, or below the number of layers (every layer
    /// must be challenged).
    /// @param proofsPerCommitment The value given.
    error InvalidProofsPerCommitment(uint256 proofsPerCommitment);

    /// @notice epochLength or halvingEpochs is 0.
    error InvalidEpochs();

    /// @notice challengeDelay or proofWindow is 0, or their sum is above {MAX_CHALLENGE_SPAN}.
    /// @param challengeDelay D.
    /// @param proofWindow W.
    error InvalidChallengeWindow(uint256 challengeDelay, uint256 proofWindow);

    /// @notice bondPerTile is 0, or the bond of the largest workload does not fit in 128 bits.
    error InvalidBond();

    /// @notice slashBountyBps is above 10,000.
    /// @param slashBountyBps The value given.
    error InvalidSlashBounty(uint256 slashBountyBps);

    /// @notice initialRewardPerMac is 0, or the reward of the largest workload overflows.
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

    /// @notice A commitment must give one output root and one shape per layer.
    /// @param given The length of the array given.
    /// @param required The number of layers.
    error WrongLayerCount(uint256 given, uint256 required);

    /// @notice A layer's work shape exceeds its circuit's grid (dr > MAX_DR or dc > MAX_DC).
    /// @param layer The layer index.
    /// @param shape The shape given, dr + 256·dc.
    error ShapeTooLarge(uint256 layer, uint256 shape);

    /// @notice An output root is not a field element (not below the BN254 scalar field modulus).
    /// @param layer The layer index.
    /// @param outputRoot The value given.
    error OutputRootOutOfField(uint256 layer, uint256 outputRoot);

    /// @notice msg.value is not the bond of the workload.
    /// @param paid msg.value.
    /// @param required {bondFor}(shapes).
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

    /// @notice Commits to the outputs of the workload with seed {seedFor}(msg.sender, epoch, nonce): for each layer,
    /// its work of shape 2^dr × 2^dc tiles, paying {bondFor}(shapes). Opens the current epoch if needed.
    /// @dev Reverts with StaleEpoch unless epoch is the current or the previous one, EpochNotOpen if its seed was never
    /// fixed, WrongNonce unless nonce is {nextNonce}(msg.sender, epoch) (which then increments), WrongLayerCount,
    /// ShapeTooLarge, OutputRootOutOfField, BondMismatch, or CapReached when the supply is at the cap. Emits
    /// {Committed}.
    /// @param epoch The epoch whose seed the work used.
    /// @param nonce The miner's next nonce in that epoch.
    /// @param outputRoots Per layer, the Poseidon Merkle root of its outputs (docs/circuits.md, "Output commitment").
    /// @param shapes Per layer, dr + 256·dc with dr ≤ MAX_DR and dc ≤ MAX_DC of the layer.
    /// @return id The commitment id.
    function commit(
        uint64 epoch,
        uint64 nonce,
        uint256[] calldata outputRoots,
        uint16[] calldata shapes
    ) external payable returns (uint256 id);

    /// @notice Proves a commitment with P Groth16 proofs, mints its reward (up to the cap) and returns its bond.
    /// @dev Proof j is checked by the verifier of layer ℓ = j mod L against the public inputs [outputRoots[ℓ], seed,
    /// {proofChallenge}(id, j), uint160(miner), shapes[ℓ]]. Only the miner may call (NotMiner), in blocks commitBlock + D + 1 … commitBlock + D + W (TooEarly,
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

    /// @notice The number of layers of the workload.
    /// @return L.
    function layerCount() external view returns (uint256);

    /// @notice A layer of the workload, as given to the constructor.
    /// @param index The layer index, below {layerCount}.
    /// @return The layer.
    function layer(uint256 index) external view returns (Layer memory);

    /// @notice Every protocol parameter, as given to the constructor.
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

    /// @notice The challenge of a commitment: keccak256(abi.encode(blockhash(commitBlock + D), id, miner,
    /// outputRoots)) mod p. Reverts with ChallengeNotReady before block commitBlock + D + 1 and ChallengeExpired once the block hash
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

    /// @notice DEMLE minted per verified work unit (MAC) for work of `epoch`: initialRewardPerMac >> (epoch /
    /// halvingEpochs).
    /// @param epoch The work's epoch.
    /// @return The reward per MAC (smallest unit).
    function rewardPerMac(uint64 epoch) external view returns (uint256);

    /// @notice The bond of a workload with these layer shapes: bondPerTile · Σ 2^(dr+dc). Reverts with
    /// WrongLayerCount or ShapeTooLarge.
    /// @param shapes Per layer, dr + 256·dc.
    /// @return The bond (wei).
    function bondFor(uint16[] calldata shapes) external view returns (uint256);

    /// @notice Work units (MACs) of a workload with these layer shapes: Σ macsPerTile · 2^(dr+dc). Reverts with
    /// WrongLayerCount or ShapeTooLarge.
    /// @param shapes Per layer, dr + 256·dc.
    /// @return The number of work units.
    function macsFor(uint16[] calldata shapes) external view returns (uint256);

    /// @notice Total wei of forfeited bonds locked in this contract for good (slashed bonds minus bounties paid).
    /// @return The amount (wei).
    function burnedBonds() external view returns (uint256);
}
