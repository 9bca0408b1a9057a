// The README's "Post a job" commands, run as a user runs them: `demle` child processes against a JSON-RPC node (an
// in-process Hardhat server here): deploy, data serve, job example, job post, mine, job status, job result --verify,
// job refund (too early: refused with the contract's error).
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import hre from "hardhat";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setIntervalMining } from "../miner/hardhat.js";

// Hardhat's publicly known development keys (accounts 0, 1 and 9).
const DEPLOYER = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const MINER = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const REQUESTER = "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function demle(args: string[], key?: string, cwd?: string): { child: ChildProcess; done: Promise<Run> } {
  const env = { ...process.env };
  delete env.DEMLE_PRIVATE_KEY;
  if (key) env.DEMLE_PRIVATE_KEY = key;
  const child = spawn(process.execPath, ["--import", "tsx", path.resolve("cli", "demle.ts"), ...args], {
    env,
    cwd: cwd ?? process.cwd(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<Run>((resolve) =>
    child.once("exit", (code) => resolve({ code: code ?? -1, stdout, stderr })),
  );
  return { child, done };
}

describe("the README's job commands through the demle CLI", () => {
  let server: Awaited<ReturnType<typeof hre.network.createServer>>;
  let rpc: string;
  let dataServer: ChildProcess | undefined;
  const dir = mkdtempSync(path.join(os.tmpdir(), "demle-job-cli-"));

  beforeAll(async () => {
    server = await hre.network.createServer({}, "127.0.0.1", 0);
    const { address, port } = await server.listen();
    rpc = `http://${address}:${port}`;
    const { JsonRpcProvider } = await import("ethers");
    const client = new JsonRpcProvider(rpc);
    await setIntervalMining({ request: ({ method, params }) => client.send(method, params ?? []) }, 250);
    client.destroy();
  }, 120_000);

  afterAll(async () => {
    dataServer?.kill("SIGTERM");
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("deploy, serve, post, mine, status, result --verify", async () => {
    const chain = ["--rpc", rpc, "--deployment", path.join(dir, "deployment.json")];
    const deploy = await demle(
      ["deploy", "--rpc", rpc, "--workload", "gemm-demo", "--out", path.join(dir, "deployment.json")],
      DEPLOYER,
    ).done;
    expect(deploy.code, deploy.stderr).toBe(0);
    expect(deploy.stderr).toMatch(/job kinds: gemm_job_demo_2x4x16, conv_job_demo_c4_k3_h8w8_tn2/);

    const serve = demle(["data", "serve", "--dir", path.join(dir, "data"), "--port", "0", ...chain]);
    dataServer = serve.child;
    const dataUrl = await new Promise<string>((resolve, reject) => {
      let out = "";
      serve.child.stdout!.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        const match = /http:\/\/127\.0\.0\.1:\d+/.exec(out);
        if (match) resolve(match[0]);
      });
      void serve.done.then((run) => reject(new Error(`data server exited: ${run.stderr}`)));
    });

    const example = await demle(["job", "example", "--out-dir", path.join(dir, "my-job")]).done;
    expect(example.code, example.stderr).toBe(0);
    expect(readdirSync(path.join(dir, "my-job")).sort()).toEqual(["input.bin", "model.json"]);

    const postArgs = [
      "job",
      "post",
      ...chain,
      "--data",
      dataUrl,
      "--model",
      path.join(dir, "my-job", "model.json"),
      "--input",
      path.join(dir, "my-job", "input.bin"),
      "--fee",
      "0.02",
    ];
    const post = await demle(postArgs, REQUESTER).done;
    expect(post.code, post.stderr).toBe(0);
    expect(post.stdout.trim()).toBe("0");

    // A bad input is refused before anything is published or sent.
    const tooSoon = await demle([...postArgs, "--deadline-blocks", "5"], REQUESTER).done;
    expect(tooSoon.code).toBe(1);
    expect(tooSoon.stderr).toMatch(/^demle: a deadline 5 blocks away is too soon/m);

    const mine = await demle(
      ["mine", ...chain, "--state-dir", path.join(dir, "miner"), "--commitments", "1", "--workers", "2"],
      MINER,
    ).done;
    expect(mine.code, mine.stderr).toBe(0);
    expect(mine.stderr).toMatch(/job #0: proven — fee 0\.02/);

    const status = await demle(["job", "status", "0", ...chain]).done;
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/job #0: done/);
    expect(status.stdout).toMatch(/proven +root [0-9a-f]+… outputs delivered/);

    const out = path.join(dir, "results");
    const result = await demle(["job", "result", "0", ...chain, "--verify", "--out", out, "--element", "100"]).done;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/outputs match the committed root/);
    expect(result.stdout).toMatch(/contract: 0 violation\(s\) in 512 outputs/);
    expect(result.stdout).toMatch(/element 100 = .* Merkle proof of tile \d+: valid/);
    expect(existsSync(out) && readdirSync(out)).toHaveLength(1);

    const refund = await demle(["job", "refund", "0", ...chain], REQUESTER).done;
    expect(refund.code).toBe(1);
    expect(refund.stderr).toMatch(/^demle: refundJob reverted: JobNotExpired\(0, \d+\)$/m);
  }, 600_000);
});
