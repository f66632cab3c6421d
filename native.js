'use strict'
// This machine's binary (straight away, or through the generated binding.js), or one clear error
// when no binary for this machine is installed or it fails to load: the platform, the supported
// ones and what to do, in place of napi-rs's chain of load attempts (kept as `error.cause` for
// whoever debugs it).

// The platform packages napi-rs builds from package.json's `napi.targets` (a test keeps them equal).
const SUPPORTED = ['linux-x64-gnu', 'linux-arm64-gnu', 'linux-x64-musl', 'linux-arm64-musl', 'darwin-x64', 'darwin-arm64', 'win32-x64-msvc']

/** This machine in napi-rs's naming (`linux-x64-gnu`, `darwin-arm64`, `win32-x64-msvc`). */
function currentPlatform() {
  if (process.platform === 'linux') {
    const glibc = process.report?.getReport().header.glibcVersionRuntime
    return `linux-${process.arch}-${glibc ? 'gnu' : 'musl'}`
  }
  if (process.platform === 'win32') return `win32-${process.arch}-msvc`
  return `${process.platform}-${process.arch}`
}

function unsupportedPlatform(cause) {
  const platform = currentPlatform()
  const supported = `supported: ${SUPPORTED.join(', ')}`
  const message = SUPPORTED.includes(platform)
    ? `daplaya's native binary for ${platform} is missing or fails to load (package daplaya-${platform}); ` +
      `reinstall daplaya with optional dependencies enabled (no --omit=optional / --no-optional) (${supported})`
    : `daplaya has no native binary for ${platform} (${supported}); ` +
      `run it on a supported platform, or build it from source with a Rust toolchain (docs/development.md)`
  return Object.assign(new Error(message, { cause }), { code: 'UNSUPPORTED_PLATFORM' })
}

/**
 * The binary napi-rs's loader would load first on this machine, loaded directly: the file
 * NAPI_RS_NATIVE_LIBRARY_PATH names, else one built next to this file, else the platform
 * package. Null when unsure, or with the loader's other settings (WASI, version checks):
 * binding.js then decides. Saves compiling binding.js (850 lines that know every platform),
 * most of a millisecond of every CLI start (docs/benchmark.md).
 */
function loadDirectly() {
  const override = process.env.NAPI_RS_NATIVE_LIBRARY_PATH
  if (Object.keys(process.env).some((key) => key.startsWith('NAPI_RS_') && key !== 'NAPI_RS_NATIVE_LIBRARY_PATH')) return null
  const fs = require('node:fs')
  const path = require('node:path')
  const platform = override ? null : currentPlatformCheaply()
  if (!override && (!platform || !SUPPORTED.includes(platform))) return null
  const local = platform && path.join(__dirname, `daplaya.${platform}.node`)
  try {
    const binding = require(override || (fs.existsSync(local) ? local : `daplaya-${platform}`))
    // What binding.js stamps on a native binary (typed in binding.d.ts); an override that is a
    // WASI loader has its own.
    if (!Object.prototype.hasOwnProperty.call(binding, '__napiBindingTarget')) {
      Object.defineProperty(binding, '__napiBindingTarget', { configurable: true, enumerable: true, value: 'native', writable: true })
    }
    return binding
  } catch {
    return null
  }
}

/** currentPlatform() without a process report: glibc or musl as binding.js tells them, from ldd. */
function currentPlatformCheaply() {
  if (process.platform !== 'linux') return currentPlatform()
  try {
    const musl = require('node:fs').readFileSync('/usr/bin/ldd', 'utf8').includes('musl')
    return `linux-${process.arch}-${musl ? 'musl' : 'gnu'}`
  } catch {
    return null
  }
}

const direct = loadDirectly()
if (direct) {
  module.exports = direct
} else {
  try {
    // A path built at run time, not `require('./binding.js')`: Deno reads every file that a
    // literal `require` names before it runs anything, and binding.js names every platform's
    // binary, so each start read this one whole (10 MiB, a third of Deno's start; docs/benchmark.md).
    module.exports = require(require('node:path').join(__dirname, 'binding.js'))
  } catch (cause) {
    throw unsupportedPlatform(cause)
  }
}
