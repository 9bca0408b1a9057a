// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IGroth16Verifier6
/// @author DEMLE
/// @notice The verifier contract that snarkjs generates (`zKey.exportSolidityVerifier`, groth16 template; contract
/// `Groth16Verifier`) for a circuit with six public inputs. For DEMLE that is a job circuit (input-root mode,
/// circuits/gemm_job.circom), whose public inputs are, in order: outputRoot, inputRoot, weightRoot, challenge, miner,
/// shape.
/// @dev The generated verifier never reverts on bad input: it returns false when a public input is not below the
/// BN254 scalar field modulus, when a proof point is not on its curve, or when the pairing check fails. Its function
/// `verifyProof(uint[2],uint[2][2],uint[2],uint[6])` has exactly this selector.
interface IGroth16Verifier6 {
    /// @notice Checks a Groth16 proof against six public inputs.
    /// @dev The arguments are in the order snarkjs' `groth16.exportSolidityCallData` prints them. In particular each
    /// G2 coordinate of B is given imaginary part first: `_pB = [[pi_b[0][1], pi_b[0][0]], [pi_b[1][1], pi_b[1][0]]]`
    /// where `pi_b` is the proof object's field.
    /// @param _pA The proof's G1 point A: [pi_a[0], pi_a[1]].
    /// @param _pB The proof's G2 point B, coordinates swapped as described above.
    /// @param _pC The proof's G1 point C: [pi_c[0], pi_c[1]].
    /// @param _pubSignals The public inputs, each of which must be below the field modulus.
    /// @return True if and only if the proof is valid for these public inputs.
    function verifyProof(
        uint256[2] calldata _pA,
        uint256[2][2] calldata _pB,
        uint256[2] calldata _pC,
        uint256[6] calldata _pubSignals
    ) external view returns (bool);
}
