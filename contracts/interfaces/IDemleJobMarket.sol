// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IGroth16Verifier6} from "./IGroth16Verifier6.sol";

/// @title IDemleJobMarket
/// @author DEMLE
/// @notice The job market of DEMLE: a requester posts an FP8 inference job (a linear layer Y = X·W of a given model on
/// given inputs) with a fee escrowed in the native coin; up to `redundancy` distinct miners each compute the outputs
/// off-chain, commit their Poseidon Merkle root with a bond ({commitJob}: committing is claiming a slot), and after D
/// blocks prove the tiles chosen by a challenge that did not exist at commit time with the job kind's Groth16
/// verifier ({proveJob}). An accepted proof pays that slot's fee share (fee / redundancy), mints the block reward
/// (macs · rewardPerMac(current epoch), capped by the token cap) and returns the bond. A slot not proven in its window
/// can be slashed ({slashJob}: bounty to the caller, the rest burned); after the deadline the requester gets back the
/// fee shares of every slot that was not proven ({refundJob}). See docs/jobs.md.
/// @dev Implemented by DemleMining (contracts/DemleJobMarket.sol), which shares D, W, bondPerTile, slashBountyBps, the
/// reward schedule, the token and the burned-bond counter with seed work. Block numbers are used for every deadline.
/// Two errors are not declared here because IDemleMining declares them with the same name and arguments (Solidity
/// forbids the duplicate): {proveJob} and {jobChallengeOf} revert with `IDemleMining.ChallengeExpired(assignmentId)`
/// when blockhash(commitBlock + D) is no longer readable, and {proveJob} with `IDemleMining.InvalidProof(j)` when
/// proof j does not verify. Decode reverts with DemleMining's ABI, which holds both.
interface IDemleJobMarket {
    /// @notice Life cycle of an assignment (a miner's commitment to a job slot): None (no such id) → Committed →
    /// Proven or Slashed.
    enum AssignmentStatus {
        None,
        Committed,
        Proven,
        Slashed
    }

    /// @notice A job kind: an input-root circuit, fixed at deployment.
    /// @dev The circuit's public inputs are [outputRoot, inputRoot, weightRoot, challenge, miner, shape]. The contract
    /// cannot read the circuit's parameters from its verifier: the grid and tile fields repeat them (a mismatch makes
    /// every proof of the kind fail), and tileRows/tileCols/depth are stored only so that off-chain tools and auditors
    /// can lay out the input, weight and output files and check a model manifest against the kind.
    /// @param verifier The Groth16 verifier of the kind's circuit (six public inputs).
    /// @param macsPerTile Work units of one output tile, the reward basis: TM·TN·K multiply-accumulates for the linear
    /// layer.
    /// @param tilesPerProof NT: output tiles one proof checks.
    /// @param proofsPerJob Proofs per assignment, each with its own challenge (1 … 32).
    /// @param tileRows TM: rows of an output tile (and of an input row block).
    /// @param tileCols TN: columns of an output tile (and of a weight column block).
    /// @param depth K: the inner dimension, whole.
    /// @param maxRowBlocksLog2 MAX_DR: a job has at most 2^MAX_DR row blocks (depth of the input tree).
    /// @param maxColBlocksLog2 MAX_DC: a job has at most 2^MAX_DC column blocks (depth of the weight tree).
    struct JobKind {
        IGroth16Verifier6 verifier;
        uint64 macsPerTile;
        uint32 tilesPerProof;
        uint32 proofsPerJob;
        uint16 tileRows;
        uint16 tileCols;
        uint32 depth;
        uint8 maxRowBlocksLog2;
        uint8 maxColBlocksLog2;
    }

    /// @notice A job as {job} returns it.
    /// @param requester The account that posted it and receives refunds.
    /// @param kind Its job kind (index into the constructor's list).
    /// @param shape dr + 256·dc: the job has 2^dr row blocks (M = TM·2^dr) and 2^dc column blocks (N = TN·2^dc).
    /// @param redundancy r: slots, i.e. distinct miners that may commit and be paid (1 … 8).
    /// @param committedSlots Slots taken by a commitment (whatever became of it).
    /// @param provenSlots Slots whose assignment was proven (each was paid fee / r).
    /// @param deadline Block number after which unproven fee shares can be refunded; commitments are accepted while
    /// block.number + D + W ≤ deadline.
    /// @param postBlock The block in which it was posted.
    /// @param fee The escrowed fee (wei), a multiple of r.
    /// @param modelHash sha256 of the model file (docs/jobs.md, "Files and content addresses").
    /// @param weightRoot Poseidon Merkle root of W's column blocks.
    /// @param inputRoot Poseidon Merkle root of X's row blocks.
    /// @param inputUri Where the input blob can be fetched.
    /// @param refunded Whether {refundJob} has paid the requester.
    // A view struct (memory only): the fields are in documentation order, not packed.
    // solhint-disable-next-line gas-struct-packing
    struct Job {
        address requester;
        uint8 kind;
        uint16 shape;
        uint8 redundancy;
        uint8 committedSlots;
        uint8 provenSlots;
        uint64 deadline;
        uint64 postBlock;
        uint256 fee;
        bytes32 modelHash;
        uint256 weightRoot;
        uint256 inputRoot;
        string inputUri;
        bool refunded;
    }

    /// @notice An assignment as {assignment} returns it.
    /// @param jobId The job.
    /// @param miner The committing account: the only one that may prove, and the `miner` public input.
    /// @param outputRoot The committed Poseidon Merkle root of the job's float32 outputs.
    /// @param commitBlock The block of the commitment; the challenge comes from blockhash(commitBlock + D).
    /// @param status Committed, Proven or Slashed (None for an unknown id).
    // A view struct (memory only): the fields are in documentation order, not packed.
    // solhint-disable-next-line gas-struct-packing
    struct Assignment {
        uint256 jobId;
        address miner;
        uint256 outputRoot;
        uint64 commitBlock;
        AssignmentStatus status;
    }

    // Events index ids, accounts and the job kind (what a dashboard or a miner filters by), not amounts.
    /* solhint-disable gas-indexed-events */

    /// @notice A job was posted and its fee escrowed.
    /// @param jobId The job id.
    /// @param requester The requester.
    /// @param kind The job kind.
    /// @param modelHash sha256 of the model file.
    /// @param weightRoot The weight root.
    /// @param inputRoot The input root.
    /// @param inputUri Where the input blob can be fetched.
    /// @param shape dr + 256·dc.
    /// @param redundancy r.
    /// @param deadline The deadline (block number).
    /// @param fee The escrowed fee (wei).
    event JobPosted(
        uint256 indexed jobId,
        address indexed requester,
        uint256 indexed kind,
        bytes32 modelHash,
        uint256 weightRoot,
        uint256 inputRoot,
        string inputUri,
        uint16 shape,
        uint8 redundancy,
        uint64 deadline,
        uint256 fee
    );

    /// @notice A miner took a slot of a job by committing its output root with a bond.
    /// @param assignmentId The assignment id.
    /// @param jobId The job.
    /// @param miner The miner.
    /// @param outputRoot The committed output root.
    /// @param bond The bond paid (wei).
    event JobCommitted(
        uint256 indexed assignmentId,
        uint256 indexed jobId,
        address indexed miner,
        uint256 outputRoot,
        uint256 bond
    );

    /// @notice Every proof of an assignment verified: it is Proven.
    /// @param assignmentId The assignment id.
    /// @param jobId The job.
    /// @param miner The miner.
    /// @param tilesChecked Output tiles the proofs checked: proofsPerJob · tilesPerProof.
    /// @param macs The job's work units, the reward basis: macsPerTile · 2^(dr+dc).
    event JobProofAccepted(
        uint256 indexed assignmentId,
        uint256 indexed jobId,
        address indexed miner,
        uint256 tilesChecked,
        uint256 macs
    );

    /// @notice A proven slot's fee share was paid to its miner.
    /// @param jobId The job.
    /// @param miner The miner.
    /// @param amount fee / redundancy (wei).
    event JobFeePaid(uint256 indexed jobId, address indexed miner, uint256 amount);

    /// @notice DEMLE minted for a proven assignment (less than macs · rewardPerMac, or 0, if the cap was reached).
    /// @param assignmentId The assignment id.
    /// @param miner The receiver.
    /// @param amount The amount minted (smallest unit).
    event JobRewardMinted(uint256 indexed assignmentId, address indexed miner, uint256 amount);

    /// @notice The bond of a proven assignment was paid back.
    /// @param assignmentId The assignment id.
    /// @param miner The miner.
    /// @param bond The bond (wei).
    event JobBondReturned(uint256 indexed assignmentId, address indexed miner, uint256 bond);

    /// @notice An assignment not proven in its window was slashed.
    /// @param assignmentId The assignment id.
    /// @param jobId The job.
    /// @param miner The miner that lost its bond.
    /// @param slasher The caller, paid the bounty.
    /// @param bounty bond · slashBountyBps / 10,000 (wei).
    /// @param burned bond − bounty (wei), locked in the contract for good and added to burnedBonds.
    event JobSlashed(
        uint256 indexed assignmentId,
        uint256 indexed jobId,
        address indexed miner,
        address slasher,
        uint256 bounty,
        uint256 burned
    );

    /// @notice After the deadline, the fee shares of the slots that were not proven went back to the requester.
    /// @param jobId The job.
    /// @param requester The requester.
    /// @param amount fee / redundancy · (redundancy − provenSlots) (wei).
    event JobRefunded(uint256 indexed jobId, address indexed requester, uint256 amount);

    /* solhint-enable gas-indexed-events */

    /// @notice The constructor was given more than 8 (MAX_JOB_KINDS) job kinds.
    /// @param count The number given.
    error InvalidJobKindCount(uint256 count);

    /// @notice A job kind's verifier has no code.
    /// @param kind The job kind's index.
    /// @param verifier The address given.
    error InvalidJobKindVerifier(uint256 kind, address verifier);

    /// @notice A job kind has a zero field (macsPerTile, tilesPerProof, tileRows, tileCols, depth, MAX_DR or MAX_DC),
    /// or MAX_DR + MAX_DC > 64.
    /// @param kind The job kind's index.
    error InvalidJobKind(uint256 kind);

    /// @notice A job kind's proofsPerJob is 0 or above 32 (MAX_PROOFS_PER_JOB).
    /// @param kind The job kind's index.
    /// @param proofsPerJob The value given.
    error InvalidJobProofCount(uint256 kind, uint256 proofsPerJob);

    /// @notice The bond of a job kind's largest job (bondPerTile · 2^(MAX_DR+MAX_DC)) does not fit in 128 bits.
    /// @param kind The job kind's index.
    error InvalidJobKindBond(uint256 kind);

    /// @notice The reward of a job kind's largest job (initialRewardPerMac · macsPerTile · 2^(MAX_DR+MAX_DC))
    /// overflows.
    /// @param kind The job kind's index.
    error InvalidJobKindReward(uint256 kind);

    /// @notice No job kind has this index.
    /// @param kind The index given.
    /// @param count {jobKindCount}.
    error UnknownJobKind(uint256 kind, uint256 count);

    /// @notice redundancy is 0 or above 8 (MAX_REDUNDANCY).
    /// @param redundancy The value given.
    error InvalidRedundancy(uint256 redundancy);

    /// @notice The fee (msg.value) is 0, not a multiple of redundancy, or not below 2^128.
    /// @param fee msg.value.
    /// @param redundancy The redundancy given.
    error InvalidFee(uint256 fee, uint256 redundancy);

    /// @notice The job's shape exceeds its kind's grid (dr > MAX_DR or dc > MAX_DC).
    /// @param kind The job kind.
    /// @param shape The shape given, dr + 256·dc.
    error JobShapeTooLarge(uint256 kind, uint256 shape);

    /// @notice A root is not a field element (not below the BN254 scalar field modulus).
    /// @param index Its position among the job proof's public inputs: 0 outputRoot, 1 inputRoot, 2 weightRoot.
    /// @param root The value given.
    error JobRootOutOfField(uint256 index, uint256 root);

    /// @notice inputUri is empty or longer than 512 (MAX_INPUT_URI_BYTES) bytes.
    /// @param length Its length in bytes.
    error InvalidInputUri(uint256 length);

    /// @notice The deadline leaves no room for a commitment's challenge delay and proof window.
    /// @param deadline The deadline given.
    /// @param earliest The smallest deadline accepted: block.number + D + W + 1.
    error DeadlineTooSoon(uint256 deadline, uint256 earliest);

    /// @notice No job has this id.
    /// @param jobId The id.
    error UnknownJob(uint256 jobId);

    /// @notice The job no longer accepts commitments: block.number + D + W > deadline.
    /// @param jobId The job.
    /// @param lastCommitBlock The last block in which a commitment was accepted: deadline − D − W.
    error JobClosed(uint256 jobId, uint256 lastCommitBlock);

    /// @notice Every slot of the job is taken.
    /// @param jobId The job.
    /// @param redundancy Its number of slots.
    error JobFull(uint256 jobId, uint256 redundancy);

    /// @notice The miner already holds a slot of this job (one slot per miner per job).
    /// @param jobId The job.
    /// @param miner The miner.
    /// @param assignmentId Its assignment.
    error AlreadyCommittedToJob(uint256 jobId, address miner, uint256 assignmentId);

    /// @notice msg.value is not the job's bond.
    /// @param paid msg.value.
    /// @param required {jobBond}(jobId).
    error JobBondMismatch(uint256 paid, uint256 required);

    /// @notice No assignment has this id.
    /// @param assignmentId The id.
    error UnknownAssignment(uint256 assignmentId);

    /// @notice Only the assignment's miner may prove it.
    /// @param assignmentId The assignment.
    /// @param caller msg.sender.
    error NotAssignmentMiner(uint256 assignmentId, address caller);

    /// @notice The assignment was already proven or slashed.
    /// @param assignmentId The assignment.
    /// @param status Its status.
    error AssignmentSettled(uint256 assignmentId, AssignmentStatus status);

    /// @notice The challenge of the assignment does not exist yet.
    /// @param assignmentId The assignment.
    /// @param readyBlock The first block in which it exists (commitBlock + D + 1).
    error JobChallengeNotReady(uint256 assignmentId, uint256 readyBlock);

    /// @notice A proof index is not below the kind's proofsPerJob.
    /// @param index The index given.
    /// @param proofsPerJob The kind's proofsPerJob.
    error JobProofIndexOutOfRange(uint256 index, uint256 proofsPerJob);

    /// @notice Proofs were submitted before the challenge existed.
    /// @param assignmentId The assignment.
    /// @param firstBlock The first block in which {proveJob} is accepted (commitBlock + D + 1).
    error JobTooEarly(uint256 assignmentId, uint256 firstBlock);

    /// @notice The assignment's proof window has closed.
    /// @param assignmentId The assignment.
    /// @param lastBlock The last block in which {proveJob} was accepted (commitBlock + D + W).
    error JobTooLate(uint256 assignmentId, uint256 lastBlock);

    /// @notice The number of proofs is not the kind's proofsPerJob.
    /// @param given proofs.length.
    /// @param required proofsPerJob.
    error WrongJobProofCount(uint256 given, uint256 required);

    /// @notice The proof window of the assignment is still open: it cannot be slashed yet.
    /// @param assignmentId The assignment.
    /// @param slashableBlock The first block in which it can be slashed (commitBlock + D + W + 1).
    error JobWindowOpen(uint256 assignmentId, uint256 slashableBlock);

    /// @notice The job's deadline has not passed: nothing can be refunded yet.
    /// @param jobId The job.
    /// @param refundableBlock The first block in which {refundJob} is accepted (deadline + 1).
    error JobNotExpired(uint256 jobId, uint256 refundableBlock);

    /// @notice The job was already refunded, or every slot was proven.
    /// @param jobId The job.
    error NothingToRefund(uint256 jobId);

    /// @notice Posts a job and escrows its fee (msg.value). Job ids are 0, 1, …
    /// @dev Reverts with UnknownJobKind, InvalidRedundancy (r = 0 or r > 8), InvalidFee (0, not a multiple of r, or
    /// ≥ 2^128), JobShapeTooLarge, JobRootOutOfField (index 1 inputRoot, 2 weightRoot), InvalidInputUri (empty or
    /// > 512 bytes) or DeadlineTooSoon (deadline < block.number + D + W + 1). Accepted even when the token supply is
    /// at its cap (the fee still pays the miners). Emits {JobPosted}.
    /// @param kind The job kind, below {jobKindCount}.
    /// @param modelHash sha256 of the model file (not checked on chain: the weight root is what the proofs bind).
    /// @param weightRoot Poseidon Merkle root of W's column blocks (docs/jobs.md, "Commitments").
    /// @param inputRoot Poseidon Merkle root of X's row blocks.
    /// @param inputUri Where miners fetch the input blob: 1 … 512 bytes, stored on chain.
    /// @param shape dr + 256·dc with dr ≤ MAX_DR and dc ≤ MAX_DC of the kind.
    /// @param redundancy r: the number of miners that may each commit, prove and be paid fee / r (1 … 8).
    /// @param deadline A block number ≥ block.number + D + W + 1.
    /// @return jobId The job id.
    function postJob(
        uint256 kind,
        bytes32 modelHash,
        uint256 weightRoot,
        uint256 inputRoot,
        string calldata inputUri,
        uint16 shape,
        uint8 redundancy,
        uint64 deadline
    ) external payable returns (uint256 jobId);

    /// @notice Takes a slot of a job by committing the root of its outputs and paying {jobBond}(jobId).
    /// @dev Accepted while block.number + D + W ≤ deadline (JobClosed), a slot is free (JobFull), the miner holds no
    /// slot of the job yet (AlreadyCommittedToJob), outputRoot < p (JobRootOutOfField with index 0) and msg.value is
    /// the bond (JobBondMismatch); UnknownJob for an unknown id. A slot, once taken, stays taken even if its
    /// assignment is slashed (its fee share is refunded after the deadline). Emits {JobCommitted}.
    /// @param jobId The job.
    /// @param outputRoot The Poseidon Merkle root of the job's float32 outputs (the seed-mode output tree).
    /// @return assignmentId The assignment id (0, 1, … across all jobs).
    function commitJob(uint256 jobId, uint256 outputRoot) external payable returns (uint256 assignmentId);

    /// @notice Proves an assignment with the kind's proofsPerJob Groth16 proofs: pays the miner fee / r and the bond
    /// (one transfer) and mints macs · rewardPerMac(currentEpoch()) DEMLE, capped by the token cap.
    /// @dev Proof j is checked by the kind's verifier against the public inputs [outputRoot, inputRoot, weightRoot,
    /// {jobProofChallenge}(assignmentId, j), uint160(miner), shape]. Only the miner may call (NotAssignmentMiner),
    /// in blocks commitBlock + D + 1 … commitBlock + D + W (JobTooEarly, JobTooLate), once (AssignmentSettled), with
    /// exactly proofsPerJob proofs (WrongJobProofCount); IDemleMining.InvalidProof(j) at the first proof that fails,
    /// IDemleMining.ChallengeExpired(assignmentId) if the challenge block hash is unreadable. All state changes
    /// precede the transfer; non-reentrant. Emits {JobProofAccepted}, {JobFeePaid}, {JobRewardMinted},
    /// {JobBondReturned}.
    /// @param assignmentId The assignment.
    /// @param proofs proofsPerJob proofs, each as [a0, a1, b00, b01, b10, b11, c0, c1] in the order of snarkjs'
    /// `groth16.exportSolidityCallData` (see {IGroth16Verifier6}).
    function proveJob(uint256 assignmentId, uint256[8][] calldata proofs) external;

    /// @notice Forfeits the bond of an assignment that was not proven in its window, paying the caller a bounty of
    /// bond · slashBountyBps / 10,000; the rest is burned (added to IDemleMining.burnedBonds, like seed-work bonds).
    /// @dev Anyone may call it from block commitBlock + D + W + 1 on (JobWindowOpen before); UnknownAssignment,
    /// AssignmentSettled. Non-reentrant. Emits {JobSlashed}.
    /// @param assignmentId The assignment.
    /// @return bounty The amount paid to the caller (wei).
    function slashJob(uint256 assignmentId) external returns (uint256 bounty);

    /// @notice After the deadline, pays the requester the fee shares of the slots that were not proven (never taken,
    /// slashed, or left unproven): fee / r · (r − provenSlots). Anyone may call it; it pays once.
    /// @dev Reverts with UnknownJob, JobNotExpired (block.number ≤ deadline), NothingToRefund (already refunded, or
    /// every slot proven). Non-reentrant. Emits {JobRefunded}.
    /// @param jobId The job.
    /// @return amount The amount paid to the requester (wei).
    function refundJob(uint256 jobId) external returns (uint256 amount);

    /// @notice The number of job kinds.
    /// @return The count (≤ 8).
    function jobKindCount() external view returns (uint256);

    /// @notice A job kind, as given to the constructor. Reverts with UnknownJobKind.
    /// @param kind The index.
    /// @return The job kind.
    function jobKind(uint256 kind) external view returns (JobKind memory);

    /// @notice The number of jobs posted; ids are 0 … jobCount − 1.
    /// @return The count.
    function jobCount() external view returns (uint256);

    /// @notice A job. Reverts with UnknownJob.
    /// @param jobId The id.
    /// @return The job.
    function job(uint256 jobId) external view returns (Job memory);

    /// @notice The assignments of a job, in commit order. Reverts with UnknownJob.
    /// @param jobId The id.
    /// @return The assignment ids (at most redundancy).
    function jobAssignments(uint256 jobId) external view returns (uint256[] memory);

    /// @notice The number of assignments made; ids are 0 … assignmentCount − 1.
    /// @return The count.
    function assignmentCount() external view returns (uint256);

    /// @notice An assignment (all fields 0 and status None for an unknown id).
    /// @param assignmentId The id.
    /// @return The assignment.
    function assignment(uint256 assignmentId) external view returns (Assignment memory);

    /// @notice The challenge of an assignment: keccak256(abi.encode(blockhash(commitBlock + D), "demle-job",
    /// assignmentId, miner, outputRoot)) mod p. Reverts with UnknownAssignment, JobChallengeNotReady before block
    /// commitBlock + D + 1, IDemleMining.ChallengeExpired once the block hash is no longer readable.
    /// @param assignmentId The assignment.
    /// @return The challenge, a field element.
    function jobChallengeOf(uint256 assignmentId) external view returns (uint256);

    /// @notice The `challenge` public input of proof j: keccak256(abi.encode({jobChallengeOf}(assignmentId), j)) mod p.
    /// Reverts as {jobChallengeOf}, or with JobProofIndexOutOfRange unless j < proofsPerJob.
    /// @param assignmentId The assignment.
    /// @param j The proof index.
    /// @return The challenge of proof j, a field element.
    function jobProofChallenge(uint256 assignmentId, uint256 j) external view returns (uint256);

    /// @notice The bond of a commitment to a job: bondPerTile · 2^(dr+dc). Reverts with UnknownJob.
    /// @param jobId The job.
    /// @return The bond (wei).
    function jobBond(uint256 jobId) external view returns (uint256);

    /// @notice Work units of a job, the reward basis: macsPerTile · 2^(dr+dc). Reverts with UnknownJob.
    /// @param jobId The job.
    /// @return The MACs.
    function jobMacs(uint256 jobId) external view returns (uint256);
}
