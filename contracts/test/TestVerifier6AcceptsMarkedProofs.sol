// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IGroth16Verifier6} from "../interfaces/IGroth16Verifier6.sol";

/// @title TestVerifier6AcceptsMarkedProofs
/// @author DEMLE
/// @notice TEST ONLY — NEVER DEPLOY. A fake Groth16 verifier for six public inputs (a job kind's) that checks no
/// cryptography: it accepts a "proof" iff its first word a0 is 1 and every public input is a field element. It lets
/// tests drive DemleMining's job market without running a prover. A DemleMining deployed with it would mint to anyone;
/// nothing outside test/ may reference it.
contract TestVerifier6AcceptsMarkedProofs is IGroth16Verifier6 {
    /// @notice The BN254 scalar field modulus, as the real verifiers check it.
    uint256 public constant FIELD_MODULUS =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;

    /// @notice True iff `pA[0] == 1` (the test model's mark of a "valid" proof) and every public input is below p.
    /// @dev B and C are ignored.
    /// @param pA Proof point A; only pA[0] is read.
    /// @param pubSignals The 6 public inputs.
    /// @return Whether the marked proof is accepted.
    function verifyProof(
        uint256[2] calldata pA,
        uint256[2][2] calldata,
        uint256[2] calldata,
        uint256[6] calldata pubSignals
    ) external pure override returns (bool) {
        for (uint256 i = 0; i < 6; ++i) {
            if (pubSignals[i] > FIELD_MODULUS - 1) return false;
        }
        return pA[0] == 1;
    }
}
