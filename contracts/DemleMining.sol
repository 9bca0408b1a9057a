// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {DemleJobMarket} from "./DemleJobMarket.sol";
import {DemleToken} from "./DemleToken.sol";
import {IDemleMining} from "./interfaces/IDemleMining.sol";
import {IDemleToken} from "./interfaces/IDemleToken.sol";

// Bounds are written the way the protocol states them (`block.number <= commitBlock + D`); the optimizer makes both
// forms of a comparison cost the same.
/* solhint-disable gas-strict-inequalities */

/// @title DemleMining
/// @author DEMLE
/// @notice Mints DEMLE for FP8 workloads (a work per layer: GEMM, conv2d, batch normalisation, attention) whose
/// challenged output tiles were proven with Groth16. Flow: {openEpoch} → the miner reads {seedFor} → computes
/// off-chain → {commit} (an output root per layer + bond) → after D blocks the challenge exists → {prove} within W
/// blocks (reward + bond back) or anyone may {slash} (bounty + the rest burned).
/// Jobs ({DemleJobMarket}, docs/jobs.md): requesters post FP8 inference jobs with an escrowed fee; miners commit,
/// are challenged and prove with the job kind's verifier like seed work, and are paid the fee share on top of the
/// reward.
/// @dev Deploys its own {DemleToken} with itself as the only minter. The layers, the job kinds and every parameter are
/// fixed at deployment. Seed work and jobs share D, W, bondPerTile, slashBountyBps, the reward schedule, the cap,
/// {burnedBonds} and the reentrancy guard.
/// Security argument and parameter choices: docs/protocol.md. The proof statement: docs/circuits.md.
///
/// Why the challenge cannot be known at commit time: it hashes blockhash(commitBlock + D) with D ≥ 1, a block that
/// does not exist when the commitment is included. Why grinding by abandoning commitments does not pay: the seed is
/// bound to (miner, epoch, nonce) and a nonce is used once, so an abandoned commitment cannot be re-committed for a
/// fresh challenge — each retry needs new work — and each abandoned commitment forfeits its bond. Caveat: the
/// proposer of block commitBlock + D can choose among many hashes for it (on proof-of-stake Ethereum a block's content
/// is the proposer's choice), so a miner that proposes or bribes that block can select a challenge; see
/// docs/protocol.md for the bound and mitigations.
contract DemleMining is IDemleMining, DemleJobMarket {
    /// @notice The BN254 scalar field modulus: every public input of the proof must be below it.
    uint256 public constant FIELD_MODULUS =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;

    /// @notice Upper bound of D + W, so that blockhash(commitBlock + D) is readable until the window ends (the EVM
    /// serves the 256 most recent block hashes; 6 blocks of margin).
    uint256 public constant MAX_CHALLENGE_SPAN = 250;

    /// @notice Upper bound of proofsPerCommitment, so that {prove} fits a block (≈ 0.25 M gas per proof).
    uint256 public constant MAX_PROOFS_PER_COMMITMENT = 32;

    /// @notice Upper bound of the number of layers (a commitment stores one root per layer).
    uint256 public constant MAX_LAYERS = 8;

    uint256 private constant _BPS = 10_000;
    uint256 private constant _MAX_TREE_DEPTH = 64;

    /// @inheritdoc IDemleMining
    IDemleToken public immutable override token;

    uint32 private immutable _proofsPerCommitment;
    uint64 private immutable _epochLength;
    uint64 private immutable _challengeDelay;
    uint64 private immutable _proofWindow;
    uint256 private immutable _bondPerTile;
    uint16 private immutable _slashBountyBps;
    uint256 private immutable _initialRewardPerMac;
    uint64 private immutable _halvingEpochs;
    uint256 private immutable _cap;

    Layer[] private _layers;

    /// @inheritdoc IDemleMining
    mapping(uint64 epoch => uint256 seed) public override epochSeed;
    /// @inheritdoc IDemleMining
    mapping(address miner => mapping(uint64 epoch => uint64 nonce)) public override nextNonce;
    /// @inheritdoc IDemleMining
    uint256 public override commitmentCount;
    /// @inheritdoc IDemleMining
    uint256 public override burnedBonds;

    /// @notice What is stored per commitment besides its roots: two slots. The seed and the bond are derived on read
    /// (the seed from the epoch seed, the miner and the nonce; the bond from the shapes).
    /// @param miner The miner.
    /// @param commitBlock The block of the commitment.
    /// @param status The status.
    /// @param epoch The work's epoch.
    /// @param nonce The miner's nonce in that epoch.
    /// @param shapes Each layer's shape (dr + 256·dc), 16 bits per layer, layer 0 in the low bits.
    struct StoredCommitment {
        address miner;
        uint64 commitBlock;
        Status status;
        uint64 epoch;
        uint64 nonce;
        uint128 shapes;
    }

    mapping(uint256 id => StoredCommitment commitment) private _commitments;
    mapping(uint256 id => uint256[] roots) private _outputRoots;

    /// @notice Validates the job kinds, the layers and the parameters and deploys the DEMLE token with this contract as
    /// its minter.
    /// @dev The job kinds are validated first (by {DemleJobMarket}'s constructor), then the parameters and layers.
    /// @param layers The workload: each layer's verifier (generated for its op's seed-mode tile circuit) and grid.
    /// @param p Every protocol parameter (see {IDemleMining.Params}); jobs use the same D, W, bond, bounty and reward.
    /// @param jobKinds The job kinds (see {IDemleJobMarket.JobKind}): at most 8, possibly none.
    constructor(Layer[] memory layers, Params memory p, JobKind[] memory jobKinds) DemleJobMarket(jobKinds, p) {
        if (layers.length == 0 || layers.length > MAX_LAYERS) revert InvalidLayerCount(layers.length);
        if (
            p.proofsPerCommitment < layers.length ||
            p.proofsPerCommitment == 0 ||
            p.proofsPerCommitment > MAX_PROOFS_PER_COMMITMENT
        ) {
            revert InvalidProofsPerCommitment(p.proofsPerCommitment);
        }
        if (p.epochLength == 0 || p.halvingEpochs == 0) revert InvalidEpochs();
        if (
            p.challengeDelay == 0 ||
            p.proofWindow == 0 ||
            uint256(p.challengeDelay) + p.proofWindow > MAX_CHALLENGE_SPAN
        ) revert InvalidChallengeWindow(p.challengeDelay, p.proofWindow);
        if (p.slashBountyBps > _BPS) revert InvalidSlashBounty(p.slashBountyBps);
        if (p.bondPerTile == 0) revert InvalidBond();
        if (p.initialRewardPerMac == 0) revert InvalidReward();
        if (p.cap == 0) revert InvalidCap();
        for (uint256 i = 0; i < layers.length; ++i) {
            _pushLayer(i, layers[i], p);
        }

        _proofsPerCommitment = p.proofsPerCommitment;
        _epochLength = p.epochLength;
        _challengeDelay = p.challengeDelay;
        _proofWindow = p.proofWindow;
        _bondPerTile = p.bondPerTile;
        _slashBountyBps = p.slashBountyBps;
        _initialRewardPerMac = p.initialRewardPerMac;
        _halvingEpochs = p.halvingEpochs;
        _cap = p.cap;
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
        uint256[] calldata outputRoots,
        uint16[] calldata shapes
    ) external payable override returns (uint256 id) {
        _useNonce(epoch, nonce);
        uint256 bond = _checkRootsAndBond(outputRoots, shapes);
        uint128 packedShapes = 0;
        for (uint256 i = 0; i < shapes.length; ++i) {
            packedShapes |= uint128(uint256(shapes[i]) << (16 * i));
        }
        id = commitmentCount;
        ++commitmentCount;
        _commitments[id] = StoredCommitment({
            miner: msg.sender,
            commitBlock: uint64(block.number),
            status: Status.Committed,
            epoch: epoch,
            nonce: nonce,
            shapes: packedShapes
        });
        _outputRoots[id] = outputRoots;
        _emitCommitted(id, epoch, nonce, outputRoots, shapes, bond);
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
        uint256[] memory roots = _outputRoots[id];
        uint16[] memory shapes = _unpackShapes(c.shapes, roots.length);
        uint256 tilesChecked = _verifyProofs(c, roots, shapes, _challenge(challengeBlock, id, miner, roots), proofs);

        // Effects, then interactions (the token is this contract's own; the bond goes back last).
        c.status = Status.Proven;
        uint256 macs = _macsFor(shapes);
        uint256 amount = _cappedReward(macs * rewardPerMac(c.epoch));
        uint256 bond = _bondFor(shapes);
        emit ProofAccepted(id, miner, tilesChecked, macs);
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
        uint256 bond = _bondFor(_unpackShapes(c.shapes, _layers.length));
        bounty = (bond * _slashBountyBps) / _BPS;
        uint256 burned = bond - bounty;
        burnedBonds += burned;
        emit Slashed(id, c.miner, msg.sender, bounty, burned);
        if (bounty != 0) Address.sendValue(payable(msg.sender), bounty);
    }

    /// @inheritdoc IDemleMining
    function layerCount() external view override returns (uint256) {
        return _layers.length;
    }

    /// @inheritdoc IDemleMining
    function layer(uint256 index) external view override returns (Layer memory) {
        return _layers[index];
    }

    /// @inheritdoc IDemleMining
    function params() external view override returns (Params memory) {
        return
            Params({
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
        return _challenge(challengeBlock, id, c.miner, _outputRoots[id]);
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
        uint16[] memory shapes = _unpackShapes(c.shapes, _layers.length);
        commitment = Commitment({
            miner: c.miner,
            epoch: c.epoch,
            status: c.status,
            nonce: c.nonce,
            commitBlock: c.commitBlock,
            bond: uint128(_bondFor(shapes)), // < 2^128, checked in the constructor
            seed: _seed(epochSeed[c.epoch], c.miner, c.nonce),
            outputRoots: _outputRoots[id],
            shapes: shapes
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
    function bondFor(uint16[] calldata shapes) public view override returns (uint256) {
        return _bondFor(shapes);
    }

    /// @inheritdoc IDemleMining
    function macsFor(uint16[] calldata shapes) public view override returns (uint256) {
        return _macsFor(shapes);
    }

    /// @notice Mints a proven job's reward: macs · rewardPerMac(currentEpoch()), capped at cap − totalSupply.
    /// @param miner The receiver.
    /// @param macs The job's work units.
    /// @return minted The amount minted.
    function _mintJobReward(address miner, uint256 macs) internal override returns (uint256 minted) {
        // macs · initialRewardPerMac cannot overflow (checked per job kind in the constructor).
        minted = _cappedReward(macs * rewardPerMac(currentEpoch()));
        if (minted != 0) token.mint(miner, minted);
    }

    /// @notice Adds the burned part of a slashed job bond to {burnedBonds}.
    /// @param amount The burned wei.
    function _burnJobBond(uint256 amount) internal override {
        burnedBonds += amount;
    }

    /// @notice What may still be minted of `reward`: min(reward, cap − totalSupply).
    /// @param reward The full reward.
    /// @return The amount to mint.
    function _cappedReward(uint256 reward) private view returns (uint256) {
        uint256 room = _cap - token.totalSupply();
        return reward < room ? reward : room;
    }

    /// @notice Validates layer `i` against the parameters and appends it (constructor only).
    /// @param i The layer index.
    /// @param given The layer.
    /// @param p The parameters.
    function _pushLayer(uint256 i, Layer memory given, Params memory p) private {
        if (address(given.verifier).code.length == 0) revert InvalidVerifier(i, address(given.verifier));
        uint256 maxTilesLog2 = uint256(given.maxRowBlocksLog2) + given.maxColBlocksLog2;
        if (
            given.macsPerTile == 0 ||
            given.tilesPerProof == 0 ||
            given.maxRowBlocksLog2 == 0 ||
            given.maxColBlocksLog2 == 0 ||
            maxTilesLog2 > _MAX_TREE_DEPTH
        ) revert InvalidLayer(i);
        // With at most 8 layers, keeping each layer's largest bond below 2^125 keeps every sum below 2^128.
        if (p.bondPerTile > type(uint128).max >> (maxTilesLog2 + 3)) revert InvalidBond();
        // macsPerTile < 2^64 and maxTilesLog2 ≤ 64: the largest workload's work count cannot overflow either.
        if (p.initialRewardPerMac > type(uint256).max / ((uint256(given.macsPerTile) << maxTilesLog2) * MAX_LAYERS)) {
            revert InvalidReward();
        }
        _layers.push(given);
    }

    /// @notice bondPerTile · Σ 2^(dr+dc) over the layers.
    /// @param shapes Per layer, dr + 256·dc.
    /// @return bond The bond (wei).
    function _bondFor(uint16[] memory shapes) private view returns (uint256 bond) {
        _checkLayerCount(shapes.length);
        for (uint256 i = 0; i < shapes.length; ++i) {
            bond += _bondPerTile << _tilesLog2(i, shapes[i]);
        }
    }

    /// @notice Σ macsPerTile · 2^(dr+dc) over the layers.
    /// @param shapes Per layer, dr + 256·dc.
    /// @return macs The work units.
    function _macsFor(uint16[] memory shapes) private view returns (uint256 macs) {
        _checkLayerCount(shapes.length);
        for (uint256 i = 0; i < shapes.length; ++i) {
            macs += uint256(_layers[i].macsPerTile) << _tilesLog2(i, shapes[i]);
        }
    }

    /// @notice Reverts with WrongLayerCount unless `given` is the number of layers.
    /// @param given The length of an array meant to hold one entry per layer.
    function _checkLayerCount(uint256 given) private view {
        if (given != _layers.length) revert WrongLayerCount(given, _layers.length);
    }

    /// @notice Checks a commitment's roots, shapes, bond and the cap.
    /// @param outputRoots Per layer, the output root.
    /// @param shapes Per layer, dr + 256·dc.
    /// @return bond The bond, which msg.value equals.
    function _checkRootsAndBond(
        uint256[] calldata outputRoots,
        uint16[] calldata shapes
    ) private view returns (uint256 bond) {
        _checkLayerCount(outputRoots.length);
        for (uint256 i = 0; i < outputRoots.length; ++i) {
            if (outputRoots[i] >= FIELD_MODULUS) revert OutputRootOutOfField(i, outputRoots[i]);
        }
        bond = _bondFor(shapes); // reverts with WrongLayerCount or ShapeTooLarge
        if (msg.value != bond) revert BondMismatch(msg.value, bond);
        if (token.totalSupply() >= _cap) revert CapReached();
    }

    /// @notice Emits {Committed} (its own frame keeps {commit} within the stack limit).
    /// @param id The commitment id.
    /// @param epoch The work's epoch.
    /// @param nonce The nonce.
    /// @param outputRoots Per layer, the output root.
    /// @param shapes Per layer, dr + 256·dc.
    /// @param bond The bond paid.
    function _emitCommitted(
        uint256 id,
        uint64 epoch,
        uint64 nonce,
        uint256[] calldata outputRoots,
        uint16[] calldata shapes,
        uint256 bond
    ) private {
        uint256 seed = _seed(epochSeed[epoch], msg.sender, nonce);
        emit Committed(id, msg.sender, epoch, nonce, seed, outputRoots, shapes, _macsFor(shapes), bond);
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
    function _useNonce(uint64 epoch, uint64 nonce) private {
        uint64 current = currentEpoch();
        _openEpoch(current);
        if (epoch > current || current - epoch > 1) revert StaleEpoch(epoch, current);
        if (epochSeed[epoch] == 0) revert EpochNotOpen(epoch);
        uint64 expected = nextNonce[msg.sender][epoch];
        if (nonce != expected) revert WrongNonce(nonce, expected);
        nextNonce[msg.sender][epoch] = expected + 1;
    }

    /// @notice dr + dc of layer `index`'s shape, after checking it against the layer's grid.
    /// @param index The layer.
    /// @param shape dr + 256·dc.
    /// @return log2 of the number of tiles.
    function _tilesLog2(uint256 index, uint16 shape) private view returns (uint256) {
        Layer storage grid = _layers[index];
        uint256 rowBlocksLog2 = shape & 0xff;
        uint256 colBlocksLog2 = shape >> 8;
        if (rowBlocksLog2 > grid.maxRowBlocksLog2 || colBlocksLog2 > grid.maxColBlocksLog2) {
            revert ShapeTooLarge(index, shape);
        }
        return rowBlocksLog2 + colBlocksLog2;
    }

    /// @notice The per-layer shapes of a commitment.
    /// @param packed 16 bits per layer, layer 0 in the low bits.
    /// @param count The number of layers.
    /// @return shapes dr + 256·dc per layer.
    function _unpackShapes(uint128 packed, uint256 count) private pure returns (uint16[] memory shapes) {
        shapes = new uint16[](count);
        for (uint256 i = 0; i < count; ++i) {
            shapes[i] = uint16(packed >> (16 * i));
        }
    }

    /// @notice Verifies every proof of commitment `c`: proof j by the verifier of layer j mod L against that layer's
    /// public inputs; reverts with InvalidProof(j) at the first that fails.
    /// @param c The commitment.
    /// @param roots Its output roots.
    /// @param shapes Its shapes.
    /// @param challenge Its challenge ({challengeOf}).
    /// @param proofs The proofs, in {prove}'s layout.
    /// @return tilesChecked Σ NT over the proofs.
    function _verifyProofs(
        StoredCommitment storage c,
        uint256[] memory roots,
        uint16[] memory shapes,
        uint256 challenge,
        uint256[8][] calldata proofs
    ) private view returns (uint256 tilesChecked) {
        uint256[5] memory inputs = [0, _seed(epochSeed[c.epoch], c.miner, c.nonce), 0, uint256(uint160(c.miner)), 0];
        for (uint256 j = 0; j < proofs.length; ++j) {
            uint256 index = j % roots.length;
            Layer storage checked = _layers[index];
            uint256[8] calldata w = proofs[j];
            inputs[0] = roots[index];
            inputs[2] = _proofChallenge(challenge, j);
            inputs[4] = shapes[index];
            if (!checked.verifier.verifyProof([w[0], w[1]], [[w[2], w[3]], [w[4], w[5]]], [w[6], w[7]], inputs)) {
                revert InvalidProof(j);
            }
            tilesChecked += checked.tilesPerProof;
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
    /// @param outputRoots The committed roots.
    /// @return The challenge, reduced mod p.
    function _challenge(
        uint256 challengeBlock,
        uint256 id,
        address miner,
        uint256[] memory outputRoots
    ) private view returns (uint256) {
        bytes32 hash = blockhash(challengeBlock);
        if (hash == bytes32(0)) revert ChallengeExpired(id);
        return uint256(keccak256(abi.encode(hash, id, miner, outputRoots))) % FIELD_MODULUS;
    }

    /// @notice The challenge public input of proof j.
    /// @param challenge The commitment's challenge.
    /// @param j The proof index.
    /// @return The per-proof challenge, reduced mod p.
    function _proofChallenge(uint256 challenge, uint256 j) private pure returns (uint256) {
        return uint256(keccak256(abi.encode(challenge, j))) % FIELD_MODULUS;
    }
}
