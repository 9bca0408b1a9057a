// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Address} from "@openzeppelin/contracts/utils/Address.sol";

/// @title TestJobMarketActor
/// @author DEMLE
/// @notice TEST ONLY — NEVER DEPLOY. A contract account that acts on the job market as a requester or a miner
/// ({act}) and, when it receives the native coin, tries once to re-enter the market with a call set by the test
/// ({setReentry}). It records the attempt's outcome instead of reverting, so a test can check that the outer call
/// completed and that the re-entrant call was refused.
contract TestJobMarketActor {
    /// @notice The market (DemleMining) this actor calls.
    address public immutable market;
    /// @notice The calldata of the re-entrant call (none if empty).
    bytes public reentryCall;
    /// @notice Whether the re-entrant call was made.
    bool public reentryAttempted;
    /// @notice Whether it succeeded.
    bool public reentrySucceeded;
    /// @notice Its return or revert data.
    bytes public reentryResult;
    /// @notice Total native coin received (wei).
    uint256 public received;

    /// @notice Binds the actor to a market.
    /// @param market_ The market's address.
    constructor(address market_) {
        market = market_;
    }

    /// @notice Calls the market with `data` and msg.value; bubbles up its revert.
    /// @param data The calldata.
    /// @return The market's return data.
    function act(bytes calldata data) external payable returns (bytes memory) {
        return Address.functionCallWithValue(market, data, msg.value);
    }

    /// @notice Sets the call made on the next receipt of native coin, and re-arms it.
    /// @param data The calldata (empty: none).
    function setReentry(bytes calldata data) external {
        reentryCall = data;
        reentryAttempted = false;
        reentrySucceeded = false;
        delete reentryResult;
    }

    // Re-entering from the receipt of the native coin is this test contract's purpose.
    /* solhint-disable no-complex-fallback */
    /// @notice Accepts the native coin and makes the re-entrant call once, recording its outcome.
    receive() external payable {
        received += msg.value;
        if (reentryCall.length != 0 && !reentryAttempted) {
            reentryAttempted = true;
            // solhint-disable-next-line avoid-low-level-calls
            (bool ok, bytes memory result) = market.call(reentryCall);
            reentrySucceeded = ok;
            reentryResult = result;
        }
    }
    /* solhint-enable no-complex-fallback */
}
