import { createRequire } from "node:module";
import hardhatEthers from "@nomicfoundation/hardhat-ethers";
import { defineConfig } from "hardhat/config";

const require = createRequire(import.meta.url);

// Hardhat's own compiler download cannot work offline: compile with the solc-js build shipped in the `solc` npm package.
// Keep `version` equal to the installed solc package's version (checked by test/toolchain.test.ts).
const compiler = {
  version: "0.8.30",
  path: require.resolve("solc/soljson.js"),
  settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: "cancun" },
};

export default defineConfig({
  plugins: [hardhatEthers],
  // One compiler for both profiles: the single-version form would build `production` without these settings.
  solidity: { profiles: { default: compiler, production: compiler } },
  paths: { sources: "./contracts", tests: { solidity: "./contracts/test" } },
});
