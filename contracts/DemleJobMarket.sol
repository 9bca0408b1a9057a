// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IDemleJobMarket} from "./interfaces/IDemleJobMarket.sol";
import {IDemleMining} from "./interfaces/IDemleMining.sol";
import {IGroth16Verifier6} from "./interfaces/IGroth16Verifier6.sol";

// Bounds are written the way the protocol states them (`block.number + D + W <= deadline`).
/* solhint-disable gas-strict-inequalities */

/// @title DemleJobMarket
/// @author DEMLE
/// @notice The job market of DEMLE (see {IDemleJobMarket} and docs/jobs.md, "Contract"): requesters post FP8
/// inference jobs with an escrowed native-coin fee, miners commit output roots with a bond, are challenged by the hash
/// of block commitBlock + D and prove the challenged tiles with the job kind's Groth16 verifier within W blocks.
/// @dev Abstract: DemleMining inherits it and supplies, through the constructor, the protocol parameters it shares with
/// seed work (D, W, bondPerTile, slashBountyBps, initialRewardPerMac — validated by DemleMining's constructor), and,
/// through two hooks, the reward mint ({_mintJobReward}) and the burned-bond counter ({_burnJobBond}). The reentrancy
/// guard is shared with seed work: no {proveJob}, {slashJob}, {refundJob}, `prove` or `slash` runs inside another.
///
/// Native-coin accounting: this contract holds, for jobs, exactly the bonds of Committed assignments plus, per job not
/// yet refunded, fee − provenSlots · fee / r; burned bond parts stay forever (counted in burnedBonds).
///
/// Challenge: keccak256(abi.encode(blockhash(commitBlock + D), "demle-job", assignmentId, miner, outputRoot)) mod p,
/// a block that does not exist when the commitment is included (D ≥ 1). The domain tag keeps it distinct from seed
/// challenges. Grinding: a miner that abandons an assignment loses its bond and its slot (one slot per miner per job,
/// never reopened); see docs/protocol.md for the block-proposer caveat, which applies unchanged.
abstract contract DemleJobMarket is IDemleJobMarket, ReentrancyGuard {
    /// @notice Upper bound of the number of job kinds.
    uint256 public constant MAX_JOB_KINDS = 8;
    /// @notice Upper bound of a job's redundancy (slots per job).
    uint256 public constant MAX_REDUNDANCY = 8;
    /// @notice Upper bound of a job kind's proofsPerJob (as MAX_PROOFS_PER_COMMITMENT for seed work: {proveJob} must
    /// fit a block, ≈ 0.25 M gas per proof).
    uint256 public constant MAX_PROOFS_PER_JOB = 32;
    /// @notice Upper bound of the length of a job's inputUri, in bytes (it is stored on chain).
    uint256 public constant MAX_INPUT_URI_BYTES = 512;

    /// @dev The BN254 scalar field modulus (DemleMining.FIELD_MODULUS).
    uint256 private constant _P = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
    uint256 private constant _BPS = 10_000;
    uint256 private constant _MAX_TREE_DEPTH = 64;

    uint256 private immutable _delay;
    uint256 private immutable _window;
    uint256 private immutable _bondPerTileWei;
    uint256 private immutable _bountyBps;

    /// @notice A job in storage (6 slots + the URI's bytes): the fields of {IDemleJobMarket.Job}, packed.
    /// @param requester The requester.
    /// @param kind The job kind.
    /// @param shape dr + 256·dc.
    /// @param redundancy r.
    /// @param committedSlots Slots taken.
    /// @param provenSlots Slots proven.
    /// @param refunded Whether the refund was paid.
    /// @param deadline The deadline block.
    /// @param postBlock The block of the post.
    /// @param fee The escrowed fee (< 2^128, checked in {postJob}).
    /// @param modelHash sha256 of the model file.
    /// @param weightRoot The weight root.
    /// @param inputRoot The input root.
    /// @param inputUri The input blob's URI.
    struct StoredJob {
        address requester;
        uint8 kind;
        uint16 shape;
        uint8 redundancy;
        uint8 committedSlots;
        uint8 provenSlots;
        bool refunded;
        uint64 deadline;
        uint64 postBlock;
        uint128 fee;
        bytes32 modelHash;
        uint256 weightRoot;
        uint256 inputRoot;
        string inputUri;
    }

    /// @notice An assignment in storage (3 slots).
    /// @param miner The miner.
    /// @param commitBlock The block of the commitment.
    /// @param status The status.
    /// @param jobId The job.
    /// @param outputRoot The committed output root.
    struct StoredAssignment {
        address miner;
        uint64 commitBlock;
        AssignmentStatus status;
        uint256 jobId;
        uint256 outputRoot;
    }

    JobKind[] private _jobKinds;
    StoredJob[] private _jobs;
    StoredAssignment[] private _assignments;
    mapping(uint256 jobId => uint256[] assignmentIds) private _jobAssignments;

    /// @notice Validates and stores the job kinds, and keeps the parameters shared with seed work.
    /// @param kinds The job kinds (at most {MAX_JOB_KINDS}; possibly none).
    /// @param p DemleMining's parameters; the inheriting constructor validates them.
    constructor(JobKind[] memory kinds, IDemleMining.Params memory p) {
        if (kinds.length > MAX_JOB_KINDS) revert InvalidJobKindCount(kinds.length);
        for (uint256 i = 0; i < kinds.length; ++i) {
            JobKind memory given = kinds[i];
            if (address(given.verifier).code.length == 0) revert InvalidJobKindVerifier(i, address(given.verifier));
            uint256 maxTilesLog2 = uint256(given.maxRowBlocksLog2) + given.maxColBlocksLog2;
            if (
                given.macsPerTile == 0 ||
                given.tilesPerProof == 0 ||
                given.tileRows == 0 ||
                given.tileCols == 0 ||
                given.depth == 0 ||
                given.maxRowBlocksLog2 == 0 ||
                given.maxColBlocksLog2 == 0 ||
                maxTilesLog2 > _MAX_TREE_DEPTH
            ) revert InvalidJobKind(i);
            if (given.proofsPerJob == 0 || given.proofsPerJob > MAX_PROOFS_PER_JOB) {
                revert InvalidJobProofCount(i, given.proofsPerJob);
            }
            // One job's bond < 2^128; a sum of bonds and fees (each < 2^128) cannot overflow.
            if (p.bondPerTile > type(uint128).max >> maxTilesLog2) revert InvalidJobKindBond(i);
            // macsPerTile < 2^64 and maxTilesLog2 ≤ 64: the largest job's MAC count fits; its reward must too.
            if (p.initialRewardPerMac > type(uint256).max / (uint256(given.macsPerTile) << maxTilesLog2)) {
                revert InvalidJobKindReward(i);
            }
            _jobKinds.push(given);
        }
        _delay = p.challengeDelay;
        _window = p.proofWindow;
        _bondPerTileWei = p.bondPerTile;
        _bountyBps = p.slashBountyBps;
    }

    /// @inheritdoc IDemleJobMarket
    function postJob(
        uint256 kind,
        bytes32 modelHash,
        uint256 weightRoot,
        uint256 inputRoot,
        string calldata inputUri,
        uint16 shape,
        uint8 redundancy,
        uint64 deadline
    ) external payable override returns (uint256 jobId) {
        _checkJobKindAndShape(kind, shape);
        if (redundancy == 0 || redundancy > MAX_REDUNDANCY) revert InvalidRedundancy(redundancy);
        if (msg.value == 0 || msg.value % redundancy != 0 || msg.value > type(uint128).max) {
            revert InvalidFee(msg.value, redundancy);
        }
        if (inputRoot >= _P) revert JobRootOutOfField(1, inputRoot);
        if (weightRoot >= _P) revert JobRootOutOfField(2, weightRoot);
        if (bytes(inputUri).length == 0 || bytes(inputUri).length > MAX_INPUT_URI_BYTES) {
            revert InvalidInputUri(bytes(inputUri).length);
        }
        uint256 earliest = block.number + _delay + _window + 1;
        if (deadline < earliest) revert DeadlineTooSoon(deadline, earliest);

        jobId = _jobs.length;
        StoredJob storage stored = _jobs.push();
        stored.requester = msg.sender;
        stored.kind = uint8(kind); // < MAX_JOB_KINDS
        stored.shape = shape;
        stored.redundancy = redundancy;
        stored.deadline = deadline;
        stored.postBlock = uint64(block.number);
        stored.fee = uint128(msg.value); // < 2^128, checked above
        stored.modelHash = modelHash;
        stored.weightRoot = weightRoot;
        stored.inputRoot = inputRoot;
        stored.inputUri = inputUri;
        emit JobPosted(
            jobId,
            msg.sender,
            kind,
            modelHash,
            weightRoot,
            inputRoot,
            inputUri,
            shape,
            redundancy,
            deadline,
            msg.value
        );
    }

    /// @inheritdoc IDemleJobMarket
    function commitJob(uint256 jobId, uint256 outputRoot) external payable override returns (uint256 assignmentId) {
        StoredJob storage stored = _job(jobId);
        uint256 lastCommitBlock = uint256(stored.deadline) - _delay - _window; // deadline ≥ postBlock + D + W + 1
        if (block.number > lastCommitBlock) revert JobClosed(jobId, lastCommitBlock);
        uint256 taken = stored.committedSlots;
        if (taken >= stored.redundancy) revert JobFull(jobId, stored.redundancy);
        if (outputRoot >= _P) revert JobRootOutOfField(0, outputRoot);
        uint256[] storage ids = _jobAssignments[jobId];
        for (uint256 i = 0; i < taken; ++i) {
            if (_assignments[ids[i]].miner == msg.sender) revert AlreadyCommittedToJob(jobId, msg.sender, ids[i]);
        }
        uint256 bond = _bondOf(stored);
        if (msg.value != bond) revert JobBondMismatch(msg.value, bond);

        assignmentId = _assignments.length;
        _assignments.push(
            StoredAssignment({
                miner: msg.sender,
                commitBlock: uint64(block.number),
                status: AssignmentStatus.Committed,
                jobId: jobId,
                outputRoot: outputRoot
            })
        );
        ids.push(assignmentId);
        stored.committedSlots = uint8(taken + 1); // ≤ redundancy ≤ 8
        emit JobCommitted(assignmentId, jobId, msg.sender, outputRoot, bond);
    }

    /// @inheritdoc IDemleJobMarket
    function proveJob(uint256 assignmentId, uint256[8][] calldata proofs) external override nonReentrant {
        StoredAssignment storage a = _assignment(assignmentId);
        // The miner is a public input: a front-runner's copy of these proofs would not verify for its own address.
        if (msg.sender != a.miner) revert NotAssignmentMiner(assignmentId, msg.sender);
        if (a.status != AssignmentStatus.Committed) revert AssignmentSettled(assignmentId, a.status);
        uint256 challengeBlock = uint256(a.commitBlock) + _delay;
        if (block.number <= challengeBlock) revert JobTooEarly(assignmentId, challengeBlock + 1);
        if (block.number > challengeBlock + _window) revert JobTooLate(assignmentId, challengeBlock + _window);
        StoredJob storage stored = _jobs[a.jobId];
        JobKind storage kind = _jobKinds[stored.kind];
        if (proofs.length != kind.proofsPerJob) revert WrongJobProofCount(proofs.length, kind.proofsPerJob);
        _verifyJobProofs(
            stored,
            kind.verifier,
            a,
            _jobChallenge(challengeBlock, assignmentId, a.miner, a.outputRoot),
            proofs
        );

        // Effects, then interactions: the mint (this contract's own token) and one transfer of fee share + bond.
        a.status = AssignmentStatus.Proven;
        ++stored.provenSlots; // ≤ committedSlots ≤ 8
        _payProvenSlot(assignmentId, a.jobId, a.miner, stored, uint256(kind.tilesPerProof) * proofs.length);
    }

    /// @inheritdoc IDemleJobMarket
    function slashJob(uint256 assignmentId) external override nonReentrant returns (uint256 bounty) {
        StoredAssignment storage a = _assignment(assignmentId);
        if (a.status != AssignmentStatus.Committed) revert AssignmentSettled(assignmentId, a.status);
        uint256 lastProofBlock = uint256(a.commitBlock) + _delay + _window;
        if (block.number <= lastProofBlock) revert JobWindowOpen(assignmentId, lastProofBlock + 1);

        a.status = AssignmentStatus.Slashed;
        uint256 bond = _bondOf(_jobs[a.jobId]);
        bounty = (bond * _bountyBps) / _BPS;
        uint256 burned = bond - bounty;
        _burnJobBond(burned);
        emit JobSlashed(assignmentId, a.jobId, a.miner, msg.sender, bounty, burned);
        if (bounty != 0) Address.sendValue(payable(msg.sender), bounty);
    }

    /// @inheritdoc IDemleJobMarket
    function refundJob(uint256 jobId) external override nonReentrant returns (uint256 amount) {
        StoredJob storage stored = _job(jobId);
        if (block.number <= stored.deadline) revert JobNotExpired(jobId, uint256(stored.deadline) + 1);
        // After the deadline no assignment can be proven any more: provenSlots is final.
        uint256 unproven = uint256(stored.redundancy) - stored.provenSlots;
        if (stored.refunded || unproven == 0) revert NothingToRefund(jobId);

        stored.refunded = true;
        amount = (stored.fee / stored.redundancy) * unproven;
        address requester = stored.requester;
        emit JobRefunded(jobId, requester, amount);
        Address.sendValue(payable(requester), amount);
    }

    /// @inheritdoc IDemleJobMarket
    function jobKindCount() external view override returns (uint256) {
        return _jobKinds.length;
    }

    /// @inheritdoc IDemleJobMarket
    function jobKind(uint256 kind) external view override returns (JobKind memory) {
        if (kind >= _jobKinds.length) revert UnknownJobKind(kind, _jobKinds.length);
        return _jobKinds[kind];
    }

    /// @inheritdoc IDemleJobMarket
    function jobCount() external view override returns (uint256) {
        return _jobs.length;
    }

    /// @inheritdoc IDemleJobMarket
    function job(uint256 jobId) external view override returns (Job memory) {
        StoredJob storage s = _job(jobId);
        return
            Job({
                requester: s.requester,
                kind: s.kind,
                shape: s.shape,
                redundancy: s.redundancy,
                committedSlots: s.committedSlots,
                provenSlots: s.provenSlots,
                deadline: s.deadline,
                postBlock: s.postBlock,
                fee: s.fee,
                modelHash: s.modelHash,
                weightRoot: s.weightRoot,
                inputRoot: s.inputRoot,
                inputUri: s.inputUri,
                refunded: s.refunded
            });
    }

    /// @inheritdoc IDemleJobMarket
    function jobAssignments(uint256 jobId) external view override returns (uint256[] memory) {
        _job(jobId);
        return _jobAssignments[jobId];
    }

    /// @inheritdoc IDemleJobMarket
    function assignmentCount() external view override returns (uint256) {
        return _assignments.length;
    }

    /// @inheritdoc IDemleJobMarket
    function assignment(uint256 assignmentId) external view override returns (Assignment memory view_) {
        if (assignmentId >= _assignments.length) return view_;
        StoredAssignment storage a = _assignments[assignmentId];
        view_ = Assignment({
            jobId: a.jobId,
            miner: a.miner,
            outputRoot: a.outputRoot,
            commitBlock: a.commitBlock,
            status: a.status
        });
    }

    /// @inheritdoc IDemleJobMarket
    function jobChallengeOf(uint256 assignmentId) public view override returns (uint256) {
        StoredAssignment storage a = _assignment(assignmentId);
        uint256 challengeBlock = uint256(a.commitBlock) + _delay;
        if (block.number <= challengeBlock) revert JobChallengeNotReady(assignmentId, challengeBlock + 1);
        return _jobChallenge(challengeBlock, assignmentId, a.miner, a.outputRoot);
    }

    /// @inheritdoc IDemleJobMarket
    function jobProofChallenge(uint256 assignmentId, uint256 j) external view override returns (uint256) {
        uint256 challenge = jobChallengeOf(assignmentId);
        uint256 count = _jobKinds[_jobs[_assignments[assignmentId].jobId].kind].proofsPerJob;
        if (j >= count) revert JobProofIndexOutOfRange(j, count);
        return _jobProofChallenge(challenge, j);
    }

    /// @inheritdoc IDemleJobMarket
    function jobBond(uint256 jobId) external view override returns (uint256) {
        return _bondOf(_job(jobId));
    }

    /// @inheritdoc IDemleJobMarket
    function jobMacs(uint256 jobId) external view override returns (uint256) {
        return _macsOf(_job(jobId));
    }

    /// @notice Mints the reward of a proven job, min(macs · rewardPerMac(currentEpoch()), cap − totalSupply), to the
    /// miner. Implemented by DemleMining with the token and reward schedule of seed work.
    /// @param miner The receiver.
    /// @param macs The job's work units.
    /// @return minted The amount minted (0 once the cap is reached).
    function _mintJobReward(address miner, uint256 macs) internal virtual returns (uint256 minted);

    /// @notice Records `amount` wei of a slashed job bond as burned (DemleMining's burnedBonds counter).
    /// @param amount The burned part of the bond.
    function _burnJobBond(uint256 amount) internal virtual;

    /// @notice Reverts with UnknownJobKind or JobShapeTooLarge unless `shape` fits kind `kind`'s grid.
    /// @param kind The job kind.
    /// @param shape dr + 256·dc.
    function _checkJobKindAndShape(uint256 kind, uint16 shape) private view {
        if (kind >= _jobKinds.length) revert UnknownJobKind(kind, _jobKinds.length);
        JobKind storage grid = _jobKinds[kind];
        if ((shape & 0xff) > grid.maxRowBlocksLog2 || (shape >> 8) > grid.maxColBlocksLog2) {
            revert JobShapeTooLarge(kind, shape);
        }
    }

    /// @notice Pays a slot that was just proven: emits the proof's events, mints the reward and sends the fee share and
    /// the bond in one transfer (the last step of {proveJob}).
    /// @param assignmentId The assignment.
    /// @param jobId Its job.
    /// @param miner Its miner.
    /// @param stored The job.
    /// @param tilesChecked Tiles the proofs checked.
    function _payProvenSlot(
        uint256 assignmentId,
        uint256 jobId,
        address miner,
        StoredJob storage stored,
        uint256 tilesChecked
    ) private {
        uint256 macs = _macsOf(stored);
        uint256 feeShare = stored.fee / stored.redundancy;
        uint256 bond = _bondOf(stored);
        emit JobProofAccepted(assignmentId, jobId, miner, tilesChecked, macs);
        emit JobFeePaid(jobId, miner, feeShare);
        emit JobRewardMinted(assignmentId, miner, _mintJobReward(miner, macs));
        emit JobBondReturned(assignmentId, miner, bond);
        Address.sendValue(payable(miner), feeShare + bond);
    }

    /// @notice Verifies every proof of an assignment against its public inputs; reverts with
    /// IDemleMining.InvalidProof(j) at the first that fails.
    /// @param stored The job.
    /// @param verifier The job kind's verifier.
    /// @param a The assignment.
    /// @param challenge The assignment's challenge ({jobChallengeOf}).
    /// @param proofs The proofs, in {proveJob}'s layout.
    function _verifyJobProofs(
        StoredJob storage stored,
        IGroth16Verifier6 verifier,
        StoredAssignment storage a,
        uint256 challenge,
        uint256[8][] calldata proofs
    ) private view {
        uint256[6] memory inputs = [
            a.outputRoot,
            stored.inputRoot,
            stored.weightRoot,
            0,
            uint256(uint160(a.miner)),
            uint256(stored.shape)
        ];
        for (uint256 j = 0; j < proofs.length; ++j) {
            uint256[8] calldata w = proofs[j];
            inputs[3] = _jobProofChallenge(challenge, j);
            if (!verifier.verifyProof([w[0], w[1]], [[w[2], w[3]], [w[4], w[5]]], [w[6], w[7]], inputs)) {
                revert IDemleMining.InvalidProof(j);
            }
        }
    }

    /// @notice The job `jobId`, or a revert with UnknownJob.
    /// @param jobId The id.
    /// @return The stored job.
    function _job(uint256 jobId) private view returns (StoredJob storage) {
        if (jobId >= _jobs.length) revert UnknownJob(jobId);
        return _jobs[jobId];
    }

    /// @notice The assignment `assignmentId`, or a revert with UnknownAssignment.
    /// @param assignmentId The id.
    /// @return The stored assignment.
    function _assignment(uint256 assignmentId) private view returns (StoredAssignment storage) {
        if (assignmentId >= _assignments.length) revert UnknownAssignment(assignmentId);
        return _assignments[assignmentId];
    }

    /// @notice bondPerTile · 2^(dr+dc) of a job (< 2^128, checked in the constructor).
    /// @param stored The job.
    /// @return The bond (wei).
    function _bondOf(StoredJob storage stored) private view returns (uint256) {
        return _bondPerTileWei << _tilesLog2(stored.shape);
    }

    /// @notice macsPerTile · 2^(dr+dc) of a job.
    /// @param stored The job.
    /// @return The work units.
    function _macsOf(StoredJob storage stored) private view returns (uint256) {
        return uint256(_jobKinds[stored.kind].macsPerTile) << _tilesLog2(stored.shape);
    }

    /// @notice The challenge of an assignment, from the hash of its challenge block.
    /// @param challengeBlock commitBlock + D, below block.number.
    /// @param assignmentId The assignment.
    /// @param miner Its miner.
    /// @param outputRoot Its output root.
    /// @return The challenge, reduced mod p.
    function _jobChallenge(
        uint256 challengeBlock,
        uint256 assignmentId,
        address miner,
        uint256 outputRoot
    ) private view returns (uint256) {
        bytes32 hash = blockhash(challengeBlock);
        if (hash == bytes32(0)) revert IDemleMining.ChallengeExpired(assignmentId);
        return uint256(keccak256(abi.encode(hash, "demle-job", assignmentId, miner, outputRoot))) % _P;
    }

    /// @notice dr + dc of a shape already checked against its kind's grid.
    /// @param shape dr + 256·dc.
    /// @return log2 of the number of tiles.
    function _tilesLog2(uint16 shape) private pure returns (uint256) {
        return uint256(shape & 0xff) + (shape >> 8);
    }

    /// @notice The challenge public input of proof j.
    /// @param challenge The assignment's challenge.
    /// @param j The proof index.
    /// @return The per-proof challenge, reduced mod p.
    function _jobProofChallenge(uint256 challenge, uint256 j) private pure returns (uint256) {
        return uint256(keccak256(abi.encode(challenge, j))) % _P;
    }
}
