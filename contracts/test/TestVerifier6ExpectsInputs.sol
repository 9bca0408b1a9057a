// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IGroth16Verifier6} from "../interfaces/IGroth16Verifier6.sol";

/// @title TestVerifier6ExpectsInputs
/// @author DEMLE
/// @notice TEST ONLY — NEVER DEPLOY. A fake Groth16 verifier for six public inputs that accepts exactly the
/// (proof words, public inputs) pairs a test registered beforehand. A test computes the public inputs the
/// specification requires independently of the contract under test, registers them with the proof words it will
/// submit ({expectAll}), and so checks that the contract passes those words and exactly those inputs (any other value, order or
/// pairing of proof j with the inputs of proof j' is rejected).
contract TestVerifier6ExpectsInputs is IGroth16Verifier6 {
    /// @notice Whether keccak256(abi.encode(pA, pB, pC, pubSignals)) was registered.
    mapping(bytes32 key => bool accepted) public expected;

    /// @notice Registers (proof, public inputs) pairs that {verifyProof} will accept: words[i] with pubSignals[i].
    /// @param words The proofs, each as [a0, a1, b00, b01, b10, b11, c0, c1].
    /// @param pubSignals The public inputs expected with each, in the same order.
    function expectAll(uint256[8][] calldata words, uint256[6][] calldata pubSignals) external {
        for (uint256 i = 0; i < words.length; ++i) {
            uint256[8] calldata w = words[i];
            expected[_key([w[0], w[1]], [[w[2], w[3]], [w[4], w[5]]], [w[6], w[7]], pubSignals[i])] = true;
        }
    }

    /// @notice True iff this exact (proof, public inputs) pair was registered.
    /// @param pA Proof point A.
    /// @param pB Proof point B.
    /// @param pC Proof point C.
    /// @param pubSignals The 6 public inputs.
    /// @return Whether the pair was registered.
    function verifyProof(
        uint256[2] calldata pA,
        uint256[2][2] calldata pB,
        uint256[2] calldata pC,
        uint256[6] calldata pubSignals
    ) external view override returns (bool) {
        return expected[_key(pA, pB, pC, pubSignals)];
    }

    /// @notice The registration key of a pair.
    /// @param pA Proof point A.
    /// @param pB Proof point B.
    /// @param pC Proof point C.
    /// @param pubSignals The public inputs.
    /// @return keccak256 of their ABI encoding.
    function _key(
        uint256[2] memory pA,
        uint256[2][2] memory pB,
        uint256[2] memory pC,
        uint256[6] memory pubSignals
    ) private pure returns (bytes32) {
        return keccak256(abi.encode(pA, pB, pC, pubSignals));
    }
}
