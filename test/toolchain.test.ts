// The toolchain this project depends on: Hardhat compiles with the solc-js in node_modules, never a downloaded one.
import { createRequire } from "node:module";
import hre from "hardhat";
import { describe, expect, it } from "vitest";

const require = createRequire(import.meta.url);

describe("toolchain", () => {
  it("compiles with the installed solc package, at the version the Hardhat config names", () => {
    const solcVersion = (require("solc/package.json") as { version: string }).version;
    const profiles = Object.entries(hre.config.solidity.profiles);
    expect(profiles.length).toBeGreaterThan(0);
    for (const [name, profile] of profiles) {
      for (const compiler of [...profile.compilers, ...Object.values(profile.overrides)]) {
        // A mismatch or a missing path would make Hardhat try to download solc, which fails offline.
        expect({ name, version: compiler.version, path: compiler.path }).toEqual({
          name,
          version: solcVersion,
          path: require.resolve("solc/soljson.js"),
        });
      }
    }
  });

  it("runs on Node 22 or newer (Hardhat 3 refuses older)", () => {
    const major = Number(process.versions.node.split(".")[0]);
    expect(major).toBeGreaterThanOrEqual(22);
  });
});
