// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IGroth16Verifier5
/// @author DEMLE
/// @notice verifyProof of a snarkjs Groth16 verifier with five public inputs (the DEMLE GEMM proof circuits).
interface IGroth16Verifier5 {
    /// @notice Checks a Groth16 proof against the verifier's key.
    /// @param pA proof point A (G1)
    /// @param pB proof point B (G2, coordinates in snarkjs' Solidity order)
    /// @param pC proof point C (G1)
    /// @param pubSignals the public inputs
    /// @return valid whether the proof verifies
    function verifyProof(
        uint256[2] calldata pA,
        uint256[2][2] calldata pB,
        uint256[2] calldata pC,
        uint256[5] calldata pubSignals
    ) external view returns (bool valid);
}

/// @title VerifierGasProbe
/// @author DEMLE
/// @notice Benchmark helper for bench/prover.ts, not part of the protocol. Verifies proofs through a generated
///         verifier inside a transaction and reports, per proof, the gas of its verifyProof call measured with
///         gasleft() around the external call (the call itself: account access, argument encoding, the verifier's
///         execution). The transaction's gasUsed additionally holds the 21,000 base, the calldata, this loop and
///         one storage write (the counter), like a contract that records that a proof was verified.
contract VerifierGasProbe {
    struct Proof {
        uint256[2] pA;
        uint256[2][2] pB;
        uint256[2] pC;
        uint256[5] pubSignals;
    }

    /// @notice Proofs verified through this probe so far.
    uint256 public verifiedCount;

    /// @notice One per verified proof.
    /// @param index the proof's position in the batch
    /// @param gasUsed the gas of its verifyProof call
    event Verified(uint256 indexed index, uint256 indexed gasUsed);

    error ProofRejected(uint256 index);

    /// @notice Verifies every proof with `verifier`; reverts with ProofRejected if one fails.
    /// @param verifier the generated verifier
    /// @param proofs the proofs with their public inputs
    /// @return totalGas the sum of the measured verifyProof call costs
    function verifyAll(IGroth16Verifier5 verifier, Proof[] calldata proofs) external returns (uint256 totalGas) {
        for (uint256 i = 0; i < proofs.length; ++i) {
            Proof calldata proof = proofs[i];
            uint256 before = gasleft();
            bool ok = verifier.verifyProof(proof.pA, proof.pB, proof.pC, proof.pubSignals);
            uint256 used = before - gasleft();
            if (!ok) revert ProofRejected(i);
            emit Verified(i, used);
            totalGas += used;
        }
        verifiedCount += proofs.length;
    }
}
