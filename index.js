'use strict'
// The public API: the generated binding's functions, with the `[CODE] message` prefix that
// crosses from Rust turned into `error.code` (async napi functions cannot set it themselves).
const binding = require('./binding.js')

const CODE_PREFIX = /^\[([A-Z_]+)\] /

function withCode(error) {
  const match = error instanceof Error ? CODE_PREFIX.exec(error.message) : null
  if (match) {
    error.message = error.message.slice(match[0].length)
    error.code = match[1]
  }
  return error
}

function exported(call) {
  return (options) =>
    call(options).catch((error) => {
      throw withCode(error)
    })
}

module.exports = {
  init: exported(binding.init),
  listLocks: exported(binding.listLocks),
  lock: exported(binding.lock),
  release: exported(binding.release),
  startJob: exported(binding.startJob),
  getJob: exported(binding.getJob),
  endJob: exported(binding.endJob),
  activeJobs: exported(binding.activeJobs),
  skippedJobs: exported(binding.skippedJobs),
}
