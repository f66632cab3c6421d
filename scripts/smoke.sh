#!/bin/sh
# The release smoke test, run by CI on each built binary (POSIX sh: Alpine has no bash): the addon
# loads, the CLI answers --version, and a lock is taken and listed on the embedded store.
set -eu
node bin/daplaya.js --version
store="sqlite:./smoke-$$.db"
node bin/daplaya.js locks lock --env smoke --user ci --ttl 1m --store "$store"
node bin/daplaya.js locks list --json --store "$store" | node -e '
  const locks = JSON.parse(require("fs").readFileSync(0, "utf8"))
  if (!locks.some((lock) => lock.env === "smoke")) throw new Error("the smoke lock is not listed")
'
node -e 'require("./index.js").listLocks({ store: process.argv[1] }).then((locks) => console.log(`API: ${locks.length} lock(s)`))' "$store"
rm -f "./smoke-$$.db"
