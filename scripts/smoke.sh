#!/bin/sh
# The release smoke test, run by CI on each built binary (POSIX sh: Alpine has no bash): the addon
# loads, the CLI answers --version, and a lock is taken and listed on the embedded store, through
# the CLI and the API. `sh scripts/smoke.sh [node|bun|deno]`: on that runtime (default node).
set -eu
case "${1:-node}" in
  node) run="node" eval="node --input-type=module -e" ;;
  bun) run="bun" eval="bun -e" ;;
  deno) run="deno run -A" eval="deno eval" ;;
  *) echo "usage: sh scripts/smoke.sh [node|bun|deno]" >&2; exit 2 ;;
esac
$run bin/daplaya.js --version
store="sqlite:./smoke-$$.db"
$run bin/daplaya.js locks lock --env smoke --user ci --ttl 1m --store "$store"
$run bin/daplaya.js locks list --json --store "$store" | $eval '
  let input = ""
  for await (const chunk of process.stdin) input += chunk
  if (!JSON.parse(input).some((lock) => lock.env === "smoke")) throw new Error("the smoke lock is not listed")
'
DAPLAYA_STORE="$store" $eval '
  const { listLocks } = await import("./index.mjs")
  const locks = await listLocks()
  if (!locks.some((lock) => lock.env === "smoke")) throw new Error("the API does not list the smoke lock")
  console.log(`API: ${locks.length} lock(s)`)
'
rm -f "./smoke-$$.db"
