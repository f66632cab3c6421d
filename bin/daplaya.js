#!/usr/bin/env node
'use strict'
// The CLI is Rust: this shim hands it the arguments, turns signals into cancellation (Node-API
// has no signal API) and sets the exit code (never process.exit(), which can cut output short).
// No top-level `return`: Deno and Bun run this file as a module, where it is a syntax error.

/** The addon, or null once a missing or unloadable binary has been told in one line. */
function loadNative() {
  try {
    return require('../native.js')
  } catch (error) {
    if (error.code !== 'UNSUPPORTED_PLATFORM') throw error
    process.stderr.write(`error: ${error.message}\n`)
    process.exitCode = 1
    return null
  }
}

function main({ runCli, newInterrupt, interrupt }) {
  const handle = newInterrupt()
  let signals = 0
  function onSignal(name) {
    signals += 1
    // `locks run` passes every signal on to its command (true); otherwise the first one cancels.
    if (interrupt(handle, name) || signals === 1) return
    // A second signal while the first is being handled: fall back to the default action.
    process.removeAllListeners(name)
    process.kill(process.pid, name)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  runCli(process.argv.slice(2), handle).then(
    (code) => {
      process.exitCode = code
    },
    (error) => {
      process.stderr.write(`error: ${error.message}\n`)
      process.exitCode = 1
    },
  )
}

const native = loadNative()
if (native) main(native)
