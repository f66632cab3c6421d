#!/usr/bin/env node
'use strict'
// Where the start-up of `daplaya locks list --env x` on DynamoDB goes, measured inside one cold
// process that does what bin/daplaya.js does, step by step, with the same environment. Prints
// one JSON line: the clock origin (epoch ms, so the parent can tell how long Node took to get
// there and to exit afterwards) and each step's end, in ms since that origin.
//
//   node bench/startup-parts.js <env>
const { performance } = require('node:perf_hooks')

const [env = 'x'] = process.argv.slice(2)
const marks = { script: performance.now() }
const binding = require('../native.js')
marks.addon = performance.now()

async function main() {
  // The first call into the addon parses a command line with clap (the Tokio runtime started
  // when the addon loaded).
  await binding.runCli(['--version', '--quiet'], binding.newInterrupt())
  marks.firstCall = performance.now()
  // The API keeps one client per store settings: the first call builds it (region, credentials,
  // HTTP client) and opens the connection, the second is one request on that connection.
  await binding.listLocks({ env })
  marks.clientAndRequest = performance.now()
  await binding.listLocks({ env })
  marks.request = performance.now()
  process.stdout.write(`\n${JSON.stringify({ origin: performance.timeOrigin, marks })}\n`)
}

main().catch((error) => {
  process.stderr.write(`error: ${error.message}\n`)
  process.exitCode = 1
})
