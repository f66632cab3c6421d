'use strict'
// The generated binding.js, or one clear error when no binary for this machine is installed or
// it fails to load: the platform, the supported ones and what to do, in place of napi-rs's chain
// of load attempts (kept as `error.cause` for whoever debugs it).

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
      `run it on a supported platform, or build it from source with a Rust toolchain (README: Development)`
  return Object.assign(new Error(message, { cause }), { code: 'UNSUPPORTED_PLATFORM' })
}

try {
  module.exports = require('./binding.js')
} catch (cause) {
  throw unsupportedPlatform(cause)
}
