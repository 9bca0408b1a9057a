#!/usr/bin/env bash
# Source this file: puts a Node >= 22 first on PATH. Hardhat 3 refuses older Node, and npm must run under the same
# Node so Hardhat's native EDR package is installed. When the machine's node is older, the `node@22` npm package is
# installed into .node22/ (from the npm registry only) and used.
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(node_major)" -lt 22 ]; then
  local_bin="$repo_root/.node22/node_modules/node/bin"
  if [ ! -x "$local_bin/node" ]; then
    echo "node $(node --version 2>/dev/null || echo none) is older than 22: installing node@22 into .node22/" >&2
    npm install --no-save --no-package-lock --prefix "$repo_root/.node22" node@22 >&2
  fi
  export PATH="$local_bin:$PATH"
fi
echo "using node $(node --version) at $(command -v node)" >&2
