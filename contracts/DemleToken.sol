// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Capped} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Capped.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {IDemleToken} from "./interfaces/IDemleToken.sol";

/// @title DemleToken
/// @author DEMLE
/// @notice DEMLE, the proof-of-useful-work token: an ERC-20 with EIP-2612 permits and a hard cap on its supply.
/// New tokens come only from the minter, the mining contract, which pays them for ML work whose proofs it verified.
/// @dev There is no owner and nothing to administer: the minter is immutable and set at deployment. The intended
/// deployment is the mining contract creating this token in its own constructor with `minter_ = address(this)`.
/// Mints are visible as OpenZeppelin's `Transfer(address(0), to, amount)` events.
contract DemleToken is ERC20Capped, ERC20Permit, IDemleToken {
    /// @inheritdoc IDemleToken
    address public immutable override minter;

    /// @notice Deploys the token with no supply.
    /// @param cap_ The hard cap on the total supply, in the smallest unit (18 decimals); must be non-zero.
    /// @param minter_ The only account that may ever mint; must be non-zero.
    constructor(uint256 cap_, address minter_) ERC20("DEMLE", "DEMLE") ERC20Capped(cap_) ERC20Permit("DEMLE") {
        if (minter_ == address(0)) revert DemleInvalidMinter();
        minter = minter_;
    }

    /// @inheritdoc IDemleToken
    function mint(address to, uint256 amount) external override {
        if (msg.sender != minter) revert DemleUnauthorizedMinter(msg.sender);
        _mint(to, amount);
    }

    /// @inheritdoc IDemleToken
    function cap() public view override(ERC20Capped, IDemleToken) returns (uint256) {
        return super.cap();
    }

    /// @notice Moves, mints or burns `value` tokens, refusing any mint that would take the supply past {cap}.
    /// @dev Both ERC20 and ERC20Capped define `_update`; ERC20Capped's adds the cap check on mints.
    /// @param from The sender, or address(0) for a mint.
    /// @param to The receiver, or address(0) for a burn.
    /// @param value The amount moved.
    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Capped) {
        super._update(from, to, value);
    }
}
