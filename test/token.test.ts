// DemleToken: the capped, permit-enabled DEMLE ERC-20 that only the mining contract may mint.
// Runs on Hardhat 3's in-process EDR network; compiles the contracts first, so it works on a fresh clone.
import hre from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import {
  Signature,
  Wallet,
  ZeroAddress,
  id,
  parseEther,
  type BaseContract,
  type ContractRunner,
  type ContractTransactionResponse,
} from "ethers";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { expectCustomError, revertData } from "./helpers/revert.js";

type Connection = Awaited<ReturnType<typeof hre.network.create>>;
type Tx = Promise<ContractTransactionResponse>;

/** The typed view of DemleToken used here (the project has no typechain; hardhat-ethers returns an untyped Contract). */
type DemleToken = Omit<BaseContract, "connect"> & {
  connect(runner: ContractRunner): DemleToken;
  name(): Promise<string>;
  symbol(): Promise<string>;
  decimals(): Promise<bigint>;
  totalSupply(): Promise<bigint>;
  cap(): Promise<bigint>;
  minter(): Promise<string>;
  balanceOf(account: string): Promise<bigint>;
  allowance(owner: string, spender: string): Promise<bigint>;
  nonces(owner: string): Promise<bigint>;
  DOMAIN_SEPARATOR(): Promise<string>;
  eip712Domain(): Promise<[string, string, string, bigint, string, string, bigint[]]>;
  mint(to: string, amount: bigint): Tx;
  transferFrom(from: string, to: string, amount: bigint): Tx;
  permit(owner: string, spender: string, value: bigint, deadline: bigint, v: number, r: string, s: string): Tx;
};

const CAP = parseEther("21000000");
const PERMIT_TYPES = {
  Permit: [
    { name: "owner", type: "address" },
    { name: "spender", type: "address" },
    { name: "value", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
};

describe("DemleToken", () => {
  let connection: Connection;
  let ethers: Connection["ethers"];
  let deployer: HardhatEthersSigner;
  let minter: HardhatEthersSigner;
  let alice: HardhatEthersSigner;
  let bob: HardhatEthersSigner;
  let token: DemleToken;
  let tokenAddress: string;
  let chainId: bigint;
  // A key-held wallet (not a node account) signs permits: it never needs ETH, as a real permit owner wouldn't.
  const owner = new Wallet(id("demle permit owner"));
  const stranger = new Wallet(id("demle permit stranger"));

  beforeAll(async () => {
    await hre.tasks.getTask("build").run({ quiet: true });
    connection = await hre.network.create();
    ethers = connection.ethers;
    [deployer, minter, alice, bob] = (await ethers.getSigners()) as [
      HardhatEthersSigner,
      HardhatEthersSigner,
      HardhatEthersSigner,
      HardhatEthersSigner,
    ];
    chainId = (await ethers.provider.getNetwork()).chainId;
  });

  afterAll(async () => {
    await connection?.close();
  });

  // Fixture: a fresh token per test, capped at CAP, whose minter stands in for the mining contract.
  beforeEach(async () => {
    token = (await ethers.deployContract("DemleToken", [CAP, minter.address], deployer)) as unknown as DemleToken;
    tokenAddress = await token.getAddress();
  });

  async function signPermit(
    signer: Wallet,
    fields: { owner: string; spender: string; value: bigint; nonce: bigint; deadline: bigint },
  ): Promise<Signature> {
    const domain = { name: "DEMLE", version: "1", chainId, verifyingContract: tokenAddress };
    return Signature.from(await signer.signTypedData(domain, PERMIT_TYPES, fields));
  }

  async function latestTimestamp(): Promise<bigint> {
    const block = await ethers.provider.getBlock("latest");
    if (block === null) throw new Error("no latest block");
    return BigInt(block.timestamp);
  }

  describe("deployment", () => {
    it("has the DEMLE metadata, no supply, the cap and the minter", async () => {
      expect(await token.name()).toBe("DEMLE");
      expect(await token.symbol()).toBe("DEMLE");
      expect(await token.decimals()).toBe(18n);
      expect(await token.totalSupply()).toBe(0n);
      expect(await token.cap()).toBe(CAP);
      expect(await token.minter()).toBe(minter.address);
    });

    it("exposes the EIP-712 domain that permits are signed for", async () => {
      const [, name, version, domainChainId, verifyingContract] = await token.eip712Domain();
      expect([name, version, domainChainId, verifyingContract]).toEqual(["DEMLE", "1", chainId, tokenAddress]);
      expect(await token.DOMAIN_SEPARATOR()).toBe(
        ethers.TypedDataEncoder.hashDomain({ name: "DEMLE", version: "1", chainId, verifyingContract: tokenAddress }),
      );
    });

    it("reverts with DemleInvalidMinter for a zero minter", async () => {
      const factory = await ethers.getContractFactory("DemleToken", deployer);
      await expectCustomError(factory.deploy(CAP, ZeroAddress), factory.interface, "DemleInvalidMinter", []);
    });

    it("reverts with ERC20InvalidCap for a zero cap", async () => {
      const factory = await ethers.getContractFactory("DemleToken", deployer);
      await expectCustomError(factory.deploy(0n, minter.address), factory.interface, "ERC20InvalidCap", [0n]);
    });
  });

  describe("mint", () => {
    it("lets the minter mint, emitting Transfer from the zero address", async () => {
      const amount = parseEther("50");
      const receipt = await (await token.connect(minter).mint(alice.address, amount)).wait();
      const transfers = (receipt?.logs ?? []).map((log) => token.interface.parseLog(log));
      expect(transfers).toHaveLength(1);
      expect(transfers[0]?.name).toBe("Transfer");
      expect([...(transfers[0]?.args ?? [])]).toEqual([ZeroAddress, alice.address, amount]);
      expect(await token.balanceOf(alice.address)).toBe(amount);
      expect(await token.totalSupply()).toBe(amount);
    });

    it("reverts with DemleUnauthorizedMinter(caller) for anyone else, the deployer included", async () => {
      for (const caller of [deployer, alice]) {
        await expectCustomError(
          token.connect(caller).mint(bob.address, 1n),
          token.interface,
          "DemleUnauthorizedMinter",
          [caller.address],
        );
      }
      expect(await token.totalSupply()).toBe(0n);
    });

    it("mints exactly up to the cap, then reverts with ERC20ExceededCap(newSupply, cap)", async () => {
      await (await token.connect(minter).mint(alice.address, CAP - 1n)).wait();
      await (await token.connect(minter).mint(bob.address, 1n)).wait();
      expect(await token.totalSupply()).toBe(CAP);
      await expectCustomError(token.connect(minter).mint(alice.address, 1n), token.interface, "ERC20ExceededCap", [
        CAP + 1n,
        CAP,
      ]);
    });

    it("reverts with ERC20ExceededCap for one mint above the cap on an empty supply", async () => {
      await expectCustomError(
        token.connect(minter).mint(alice.address, CAP + 1n),
        token.interface,
        "ERC20ExceededCap",
        [CAP + 1n, CAP],
      );
    });

    it("reverts with ERC20InvalidReceiver for a mint to the zero address", async () => {
      await expectCustomError(token.connect(minter).mint(ZeroAddress, 1n), token.interface, "ERC20InvalidReceiver", [
        ZeroAddress,
      ]);
    });
  });

  describe("permit (EIP-2612)", () => {
    const value = parseEther("7");

    beforeEach(async () => {
      await (await token.connect(minter).mint(owner.address, parseEther("10"))).wait();
    });

    it("sets the allowance from an off-chain signature, bumps the nonce, and lets the spender pull", async () => {
      const deadline = (await latestTimestamp()) + 3600n;
      const sig = await signPermit(owner, { owner: owner.address, spender: bob.address, value, nonce: 0n, deadline });
      // Anyone may submit the permit: here alice relays it for owner, who holds no ETH.
      await (
        await token.connect(alice).permit(owner.address, bob.address, value, deadline, sig.v, sig.r, sig.s)
      ).wait();
      expect(await token.allowance(owner.address, bob.address)).toBe(value);
      expect(await token.nonces(owner.address)).toBe(1n);

      await (await token.connect(bob).transferFrom(owner.address, alice.address, value)).wait();
      expect(await token.balanceOf(alice.address)).toBe(value);
      expect(await token.allowance(owner.address, bob.address)).toBe(0n);
    });

    it("reverts with ERC2612ExpiredSignature(deadline) past the deadline", async () => {
      const deadline = (await latestTimestamp()) - 1n;
      const sig = await signPermit(owner, { owner: owner.address, spender: bob.address, value, nonce: 0n, deadline });
      await expectCustomError(
        token.connect(bob).permit(owner.address, bob.address, value, deadline, sig.v, sig.r, sig.s),
        token.interface,
        "ERC2612ExpiredSignature",
        [deadline],
      );
      expect(await token.nonces(owner.address)).toBe(0n);
    });

    it("reverts with ERC2612InvalidSigner(signer, owner) for a signature by someone else", async () => {
      const deadline = (await latestTimestamp()) + 3600n;
      const sig = await signPermit(stranger, {
        owner: owner.address,
        spender: bob.address,
        value,
        nonce: 0n,
        deadline,
      });
      await expectCustomError(
        token.connect(bob).permit(owner.address, bob.address, value, deadline, sig.v, sig.r, sig.s),
        token.interface,
        "ERC2612InvalidSigner",
        [stranger.address, owner.address],
      );
      expect(await token.allowance(owner.address, bob.address)).toBe(0n);
    });

    it("rejects a replayed permit (the nonce is spent) with ERC2612InvalidSigner", async () => {
      const deadline = (await latestTimestamp()) + 3600n;
      const sig = await signPermit(owner, { owner: owner.address, spender: bob.address, value, nonce: 0n, deadline });
      const submit = () => token.connect(bob).permit(owner.address, bob.address, value, deadline, sig.v, sig.r, sig.s);
      await (await submit()).wait();
      let caught: unknown;
      try {
        await submit();
      } catch (err) {
        caught = err;
      }
      // With nonce 1 the digest differs, so ecrecover yields an unrelated address: check the name and the owner.
      const decoded = token.interface.parseError(revertData(caught));
      expect(decoded?.name).toBe("ERC2612InvalidSigner");
      expect(decoded?.args[1]).toBe(owner.address);
      expect(decoded?.args[0]).not.toBe(owner.address);
    });
  });
});
