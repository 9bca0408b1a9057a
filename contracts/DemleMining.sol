// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {DemleToken} from "./DemleToken.sol";
import {IDemleMining} from "./interfaces/IDemleMining.sol";
import {IDemleToken} from "./interfaces/IDemleToken.sol";
import {IGroth16Verifier5} from "./interfaces/IGroth16Verifier5.sol";

// Bounds are written the way the protocol states them (`block.number <= commitBlock + D`); the optimizer makes both
// forms of a comparison cost the same.
/* solhint-disable gas-strict-inequalities */

/// @title DemleMining
/// @author DEMLE
/// @notice Mints DEMLE for FP8 GEMM work whose challenged output tiles were proven with Groth16. Flow: {openEpoch} →
/// the miner reads {seedFor} → computes off-chain → {commit} (output root + bond) → after D blocks the challenge
/// exists → {prove} within W blocks (reward + bond back) or anyone may {slash} (bounty + the rest burned).
/// @dev Deploys its own {DemleToken} with itself as the only minter. Every parameter is in {Params} and immutable.
/// Security argument and parameter choices: docs/protocol.md. The proof statement: docs/circuits.md.
///
/// Why the challenge cannot be known at commit time: it hashes blockhash(commitBlock + D) with D ≥ 1, a block that
/// does not exist when the commitment is included. Why grinding by abandoning commitments does not pay: the seed is
/// bound to (miner, epoch, nonce) and a nonce is used once, so an abandoned commitment cannot be re-committed for a
/// fresh challenge — each retry needs new work — and each abandoned commitment forfeits its bond. Caveat: the
/// proposer of block commitBlock + D can choose among many hashes for it (on proof-of-stake Ethereum a block's content
/// is the proposer's choice), so a miner that proposes or bribes that block can select a challenge; see
/// docs/protocol.md for the bound and mitigations.
contract DemleMining is IDemleMining, ReentrancyGuard {
    /// @notice The BN254 scalar field modulus: every public input of the proof must be below it.
    uint256 public constant FIELD_MODULUS =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;

    /// @notice Upper bound of D + W, so that blockhash(commitBlock + D) is readable until the window ends (the EVM
    /// serves the 256 most recent block hashes; 6 blocks of margin).
    uint256 public constant MAX_CHALLENGE_SPAN = 250;

    /// @notice Upper bound of proofsPerCommitment, so that {prove} fits a block (≈ 0.25 M gas per proof).
    uint256 public constant MAX_PROOFS_PER_COMMITMENT = 32;

    uint256 private constant _BPS = 10_000;
    uint256 private constant _MAX_DEPTH = 1 << 18;
    uint256 private constant _MAX_TILE_WORDS = 112;
    uint256 private constant _MAX_TREE_DEPTH = 64;

    /// @inheritdoc IDemleMining
    IDemleToken public immutable override token;
    /// @inheritdoc IDemleMining
    IGroth16Verifier5 public immutable override verifier;

    uint32 private immutable _tileRows;
    uint32 private immutable _tileCols;
    uint32 private immutable _depth;
    uint8 private immutable _maxRowBlocksLog2;
    uint8 private immutable _maxColBlocksLog2;
    uint32 private immutable _tilesPerProof;
    uint32 private immutable _proofsPerCommitment;
    uint64 private immutable _epochLength;
    uint64 private immutable _challengeDelay;
    uint64 private immutable _proofWindow;
    uint256 private immutable _bondPerTile;
    uint16 private immutable _slashBountyBps;
    uint256 private immutable _initialRewardPerMac;
    uint64 private immutable _halvingEpochs;
    uint256 private immutable _cap;
    uint256 private immutable _macsPerTile;

    /// @inheritdoc IDemleMining
    mapping(uint64 epoch => uint256 seed) public override epochSeed;
    /// @inheritdoc IDemleMining
    mapping(address miner => mapping(uint64 epoch => uint64 nonce)) public override nextNonce;
    /// @inheritdoc IDemleMining
    uint256 public override commitmentCount;
    /// @inheritdoc IDemleMining
    uint256 public override burnedBonds;

    /// @notice What is stored per commitment: three slots. The seed and the bond are derived on read (the seed from
    /// the epoch seed, the miner and the nonce; the bond from the shape), which saves a fourth and a fifth slot.
    /// @param miner The miner.
    /// @param commitBlock The block of the commitment.
    /// @param rowBlocksLog2 dr.
    /// @param colBlocksLog2 dc.
    /// @param status The status.
    /// @param outputRoot The committed root.
    /// @param epoch The work's epoch.
    /// @param nonce The miner's nonce in that epoch.
    struct StoredCommitment {
        address miner;
        uint64 commitBlock;
        uint8 rowBlocksLog2;
        uint8 colBlocksLog2;
        Status status;
        uint256 outputRoot;
        uint64 epoch;
        uint64 nonce;
    }

    mapping(uint256 id => StoredCommitment commitment) private _commitments;

    /// @notice Validates the parameters and deploys the DEMLE token with this contract as its minter.
    /// @param verifier_ The Groth16 verifier generated for Fp8GemmSeedProof(NT, TM, TN, K, MAX_DR, MAX_DC) with the
    /// tiling in `p`.
    /// @param p Every protocol parameter (see {IDemleMining.Params}).
    constructor(IGroth16Verifier5 verifier_, Params memory p) {
        if (address(verifier_).code.length == 0) revert InvalidVerifier(address(verifier_));
        if (
            p.tileRows == 0 ||
            p.tileCols == 0 ||
            p.depth == 0 ||
            p.tilesPerProof == 0 ||
            uint256(p.tileRows) * p.tileCols > _MAX_TILE_WORDS ||
            p.depth > _MAX_DEPTH ||
            uint256(p.maxRowBlocksLog2) + p.maxColBlocksLog2 > _MAX_TREE_DEPTH
        ) revert InvalidTiling();
        if (p.proofsPerCommitment == 0 || p.proofsPerCommitment > MAX_PROOFS_PER_COMMITMENT) {
            revert InvalidProofsPerCommitment(p.proofsPerCommitment);
        }
        if (p.epochLength == 0 || p.halvingEpochs == 0) revert InvalidEpochs();
        if (
            p.challengeDelay == 0 ||
            p.proofWindow == 0 ||
            uint256(p.challengeDelay) + p.proofWindow > MAX_CHALLENGE_SPAN
        ) revert InvalidChallengeWindow(p.challengeDelay, p.proofWindow);
        uint256 maxTilesLog2 = uint256(p.maxRowBlocksLog2) + p.maxColBlocksLog2;
        if (p.bondPerTile == 0 || p.bondPerTile > type(uint128).max >> maxTilesLog2) revert InvalidBond();
        if (p.slashBountyBps > _BPS) revert InvalidSlashBounty(p.slashBountyBps);
        uint256 macsPerTile = uint256(p.tileRows) * p.tileCols * p.depth;
        // macsPerTile < 2^25 and maxTilesLog2 ≤ 64, so the largest work's MAC count cannot overflow.
        if (p.initialRewardPerMac == 0 || p.initialRewardPerMac > type(uint256).max / (macsPerTile << maxTilesLog2)) {
            revert InvalidReward();
        }
        if (p.cap == 0) revert InvalidCap();

        verifier = verifier_;
        _tileRows = p.tileRows;
        _tileCols = p.tileCols;
        _depth = p.depth;
        _maxRowBlocksLog2 = p.maxRowBlocksLog2;
        _maxColBlocksLog2 = p.maxColBlocksLog2;
        _tilesPerProof = p.tilesPerProof;
        _proofsPerCommitment = p.proofsPerCommitment;
        _epochLength = p.epochLength;
        _challengeDelay = p.challengeDelay;
        _proofWindow = p.proofWindow;
        _bondPerTile = p.bondPerTile;
        _slashBountyBps = p.slashBountyBps;
        _initialRewardPerMac = p.initialRewardPerMac;
        _halvingEpochs = p.halvingEpochs;
        _cap = p.cap;
        _macsPerTile = macsPerTile;
        token = new DemleToken(p.cap, address(this));
    }

    /// @inheritdoc IDemleMining
    function openEpoch() external override returns (uint64 epoch, uint256 seed) {
        epoch = currentEpoch();
        seed = _openEpoch(epoch);
    }

    /// @inheritdoc IDemleMining
    function commit(
        uint64 epoch,
        uint64 nonce,
        uint256 outputRoot,
        uint8 rowBlocksLog2,
        uint8 colBlocksLog2
    ) external payable override returns (uint256 id) {
        uint256 epochSeed_ = _useNonce(epoch, nonce);
        if (outputRoot >= FIELD_MODULUS) revert OutputRootOutOfField(outputRoot);
        uint256 bond = bondFor(rowBlocksLog2, colBlocksLog2); // reverts with ShapeTooLarge
        if (msg.value != bond) revert BondMismatch(msg.value, bond);
        if (token.totalSupply() >= _cap) revert CapReached();

        id = commitmentCount;
        ++commitmentCount;
        _commitments[id] = StoredCommitment({
            miner: msg.sender,
            commitBlock: uint64(block.number),
            rowBlocksLog2: rowBlocksLog2,
            colBlocksLog2: colBlocksLog2,
            status: Status.Committed,
            outputRoot: outputRoot,
            epoch: epoch,
            nonce: nonce
        });
        emit Committed(
            id,
            msg.sender,
            epoch,
            nonce,
            outputRoot,
            _seed(epochSeed_, msg.sender, nonce),
            rowBlocksLog2,
            colBlocksLog2,
            macsFor(rowBlocksLog2, colBlocksLog2),
            bond
        );
    }

    /// @inheritdoc IDemleMining
    function prove(uint256 id, uint256[8][] calldata proofs) external override nonReentrant {
        StoredCommitment storage c = _commitments[id];
        Status status = c.status;
        if (status == Status.None) revert UnknownCommitment(id);
        address miner = c.miner;
        // The miner is a public input: a front-runner's copy of these proofs would not verify for its own address.
        if (msg.sender != miner) revert NotMiner(id, msg.sender);
        if (status != Status.Committed) revert AlreadySettled(id, status);
        uint256 challengeBlock = uint256(c.commitBlock) + _challengeDelay;
        if (block.number <= challengeBlock) revert TooEarly(id, challengeBlock + 1);
        if (block.number > challengeBlock + _proofWindow) revert TooLate(id, challengeBlock + _proofWindow);
        if (proofs.length != _proofsPerCommitment) revert WrongProofCount(proofs.length, _proofsPerCommitment);
        _verifyProofs(c, _challenge(challengeBlock, id, miner, c.outputRoot), proofs);

        // Effects, then interactions (the token is this contract's own; the bond goes back last).
        c.status = Status.Proven;
        uint256 macs = macsFor(c.rowBlocksLog2, c.colBlocksLog2);
        uint256 reward = macs * rewardPerMac(c.epoch);
        uint256 room = _cap - token.totalSupply();
        uint256 amount = reward < room ? reward : room;
        uint256 bond = bondFor(c.rowBlocksLog2, c.colBlocksLog2);
        emit ProofAccepted(id, miner, uint256(_tilesPerProof) * _proofsPerCommitment, macs);
        emit RewardMinted(id, miner, amount);
        emit BondReturned(id, miner, bond);
        if (amount != 0) token.mint(miner, amount);
        Address.sendValue(payable(miner), bond);
    }

    /// @inheritdoc IDemleMining
    function slash(uint256 id) external override nonReentrant returns (uint256 bounty) {
        StoredCommitment storage c = _commitments[id];
        Status status = c.status;
        if (status == Status.None) revert UnknownCommitment(id);
        if (status != Status.Committed) revert AlreadySettled(id, status);
        uint256 deadline = uint256(c.commitBlock) + _challengeDelay + _proofWindow;
        if (block.number <= deadline) revert WindowOpen(id, deadline + 1);

        c.status = Status.Slashed;
        uint256 bond = bondFor(c.rowBlocksLog2, c.colBlocksLog2);
        bounty = (bond * _slashBountyBps) / _BPS;
        uint256 burned = bond - bounty;
        burnedBonds += burned;
        emit Slashed(id, c.miner, msg.sender, bounty, burned);
        if (bounty != 0) Address.sendValue(payable(msg.sender), bounty);
    }

    /// @inheritdoc IDemleMining
    function params() external view override returns (Params memory) {
        return
            Params({
                tileRows: _tileRows,
                tileCols: _tileCols,
                depth: _depth,
                maxRowBlocksLog2: _maxRowBlocksLog2,
                maxColBlocksLog2: _maxColBlocksLog2,
                tilesPerProof: _tilesPerProof,
                proofsPerCommitment: _proofsPerCommitment,
                epochLength: _epochLength,
                challengeDelay: _challengeDelay,
                proofWindow: _proofWindow,
                bondPerTile: _bondPerTile,
                slashBountyBps: _slashBountyBps,
                initialRewardPerMac: _initialRewardPerMac,
                halvingEpochs: _halvingEpochs,
                cap: _cap
            });
    }

    /// @inheritdoc IDemleMining
    function seedFor(address miner, uint64 epoch, uint64 nonce) external view override returns (uint256) {
        uint256 epochSeed_ = epochSeed[epoch];
        if (epochSeed_ == 0) revert EpochNotOpen(epoch);
        return _seed(epochSeed_, miner, nonce);
    }

    /// @inheritdoc IDemleMining
    function challengeOf(uint256 id) public view override returns (uint256) {
        StoredCommitment storage c = _commitments[id];
        if (c.status == Status.None) revert UnknownCommitment(id);
        uint256 challengeBlock = uint256(c.commitBlock) + _challengeDelay;
        if (block.number <= challengeBlock) revert ChallengeNotReady(id, challengeBlock + 1);
        return _challenge(challengeBlock, id, c.miner, c.outputRoot);
    }

    /// @inheritdoc IDemleMining
    function proofChallenge(uint256 id, uint256 j) external view override returns (uint256) {
        if (j >= _proofsPerCommitment) revert ProofIndexOutOfRange(j, _proofsPerCommitment);
        return _proofChallenge(challengeOf(id), j);
    }

    /// @inheritdoc IDemleMining
    function commitments(uint256 id) external view override returns (Commitment memory commitment) {
        StoredCommitment storage c = _commitments[id];
        if (c.status == Status.None) return commitment;
        commitment = Commitment({
            miner: c.miner,
            epoch: c.epoch,
            rowBlocksLog2: c.rowBlocksLog2,
            colBlocksLog2: c.colBlocksLog2,
            status: c.status,
            nonce: c.nonce,
            commitBlock: c.commitBlock,
            bond: uint128(bondFor(c.rowBlocksLog2, c.colBlocksLog2)), // < 2^128, checked in the constructor
            outputRoot: c.outputRoot,
            seed: _seed(epochSeed[c.epoch], c.miner, c.nonce)
        });
    }

    /// @inheritdoc IDemleMining
    function currentEpoch() public view override returns (uint64) {
        return uint64(block.number / _epochLength);
    }

    /// @inheritdoc IDemleMining
    function rewardPerMac(uint64 epoch) public view override returns (uint256) {
        // A shift by 256 or more gives 0: the reward runs out after 256 halvings at the latest.
        return _initialRewardPerMac >> (epoch / _halvingEpochs);
    }

    /// @inheritdoc IDemleMining
    function bondFor(uint8 rowBlocksLog2, uint8 colBlocksLog2) public view override returns (uint256) {
        return _bondPerTile << _tilesLog2(rowBlocksLog2, colBlocksLog2);
    }

    /// @inheritdoc IDemleMining
    function macsFor(uint8 rowBlocksLog2, uint8 colBlocksLog2) public view override returns (uint256) {
        return _macsPerTile << _tilesLog2(rowBlocksLog2, colBlocksLog2);
    }

    /// @notice Fixes `epoch`'s seed if it is not fixed yet (it must be the current epoch).
    /// @param epoch The current epoch.
    /// @return seed The epoch's seed.
    function _openEpoch(uint64 epoch) private returns (uint256 seed) {
        seed = epochSeed[epoch];
        if (seed == 0) {
            // block.number ≥ 1 in any transaction, and a zero hash is out of reach.
            seed = uint256(keccak256(abi.encode(blockhash(block.number - 1), epoch, address(this), block.chainid)));
            epochSeed[epoch] = seed;
            emit EpochOpened(epoch, seed);
        }
    }

    /// @notice Opens the current epoch if needed, checks that `epoch` may be committed to and that `nonce` is the
    /// sender's next nonce in it, and spends the nonce.
    /// @param epoch The work's epoch: the current or the previous one.
    /// @param nonce The nonce given.
    /// @return epochSeed_ The seed of `epoch`.
    function _useNonce(uint64 epoch, uint64 nonce) private returns (uint256 epochSeed_) {
        uint64 current = currentEpoch();
        _openEpoch(current);
        if (epoch > current || current - epoch > 1) revert StaleEpoch(epoch, current);
        epochSeed_ = epochSeed[epoch];
        if (epochSeed_ == 0) revert EpochNotOpen(epoch);
        uint64 expected = nextNonce[msg.sender][epoch];
        if (nonce != expected) revert WrongNonce(nonce, expected);
        nextNonce[msg.sender][epoch] = expected + 1;
    }

    /// @notice dr + dc, after checking the shape against the circuit's grid.
    /// @param rowBlocksLog2 dr.
    /// @param colBlocksLog2 dc.
    /// @return log2 of the number of tiles.
    function _tilesLog2(uint8 rowBlocksLog2, uint8 colBlocksLog2) private view returns (uint256) {
        if (rowBlocksLog2 > _maxRowBlocksLog2 || colBlocksLog2 > _maxColBlocksLog2) {
            revert ShapeTooLarge(rowBlocksLog2, colBlocksLog2);
        }
        return uint256(rowBlocksLog2) + colBlocksLog2;
    }

    /// @notice Verifies every proof of commitment `c` against its public inputs; reverts with InvalidProof(j) at the
    /// first that fails.
    /// @param c The commitment.
    /// @param challenge Its challenge ({challengeOf}).
    /// @param proofs The proofs, in {prove}'s layout.
    function _verifyProofs(StoredCommitment storage c, uint256 challenge, uint256[8][] calldata proofs) private view {
        uint256[5] memory inputs = [
            c.outputRoot,
            _seed(epochSeed[c.epoch], c.miner, c.nonce),
            0,
            uint256(uint160(c.miner)),
            uint256(c.rowBlocksLog2) + 256 * uint256(c.colBlocksLog2)
        ];
        for (uint256 j = 0; j < proofs.length; ++j) {
            uint256[8] calldata w = proofs[j];
            inputs[2] = _proofChallenge(challenge, j);
            if (!verifier.verifyProof([w[0], w[1]], [[w[2], w[3]], [w[4], w[5]]], [w[6], w[7]], inputs)) {
                revert InvalidProof(j);
            }
        }
    }

    /// @notice The work seed of (miner, nonce) under an epoch seed.
    /// @param epochSeed_ The epoch's seed.
    /// @param miner The miner.
    /// @param nonce The nonce.
    /// @return The seed, reduced mod p.
    function _seed(uint256 epochSeed_, address miner, uint64 nonce) private pure returns (uint256) {
        return uint256(keccak256(abi.encode(epochSeed_, miner, nonce))) % FIELD_MODULUS;
    }

    /// @notice The challenge of a commitment, from the hash of its challenge block.
    /// @param challengeBlock commitBlock + D, below block.number.
    /// @param id The commitment id.
    /// @param miner The miner.
    /// @param outputRoot The committed root.
    /// @return The challenge, reduced mod p.
    function _challenge(
        uint256 challengeBlock,
        uint256 id,
        address miner,
        uint256 outputRoot
    ) private view returns (uint256) {
        bytes32 hash = blockhash(challengeBlock);
        if (hash == bytes32(0)) revert ChallengeExpired(id);
        return uint256(keccak256(abi.encode(hash, id, miner, outputRoot))) % FIELD_MODULUS;
    }

    /// @notice The challenge public input of proof j.
    /// @param challenge The commitment's challenge.
    /// @param j The proof index.
    /// @return The per-proof challenge, reduced mod p.
    function _proofChallenge(uint256 challenge, uint256 j) private pure returns (uint256) {
        return uint256(keccak256(abi.encode(challenge, j))) % FIELD_MODULUS;
    }
}
