// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title IDemleToken
/// @author DEMLE
/// @notice The part of the DEMLE token that the mining contract uses: minting rewards within the hard cap.
interface IDemleToken is IERC20 {
    /// @notice `caller` tried to mint but is not the token's minter.
    /// @param caller The account that called {mint}.
    error DemleUnauthorizedMinter(address caller);

    /// @notice The constructor was given the zero address as minter.
    error DemleInvalidMinter();

    /// @notice Mints `amount` tokens (18 decimals) to `to`.
    /// @dev Only the minter may call it. Reverts with OpenZeppelin's `ERC20ExceededCap` if the total supply would
    /// pass {cap}, and with `ERC20InvalidReceiver` if `to` is the zero address. Emits a `Transfer` from address(0).
    /// @param to The account credited.
    /// @param amount The amount minted, in the smallest unit.
    function mint(address to, uint256 amount) external;

    /// @notice The hard cap on the total supply, in the smallest unit.
    /// @return The maximum total supply.
    function cap() external view returns (uint256);

    /// @notice The only account allowed to mint: the mining contract, fixed at deployment.
    /// @return The minter's address.
    function minter() external view returns (address);
}
