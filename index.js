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

/** Slack's request as any framework gives it: headers as an object, a Headers or a Map; body raw. */
async function handleSlackCommand(request, options) {
  const { headers, body } = request ?? {}
  const plainHeaders =
    headers != null && typeof headers === 'object' && typeof headers[Symbol.iterator] === 'function' ? Object.fromEntries(headers) : headers
  const rawBody = body instanceof Uint8Array ? Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8') : body
  try {
    return await binding.handleSlackCommand({ headers: plainHeaders, body: rawBody }, options)
  } catch (error) {
    throw withCode(error)
  }
}

/** `locks run` as a function: `command` is an argv array (program first), never a shell line. */
async function runLocked(options, command) {
  if (!Array.isArray(command) || command.length === 0 || !command.every((arg) => typeof arg === 'string')) {
    throw Object.assign(new TypeError('runLocked needs the command as a non-empty array of strings'), { code: 'INVALID_ARGUMENT' })
  }
  try {
    return await binding.runLocked(options, command)
  } catch (error) {
    throw withCode(error)
  }
}

module.exports = {
  init: exported(binding.init),
  listLocks: exported(binding.listLocks),
  lock: exported(binding.lock),
  release: exported(binding.release),
  runLocked,
  startJob: exported(binding.startJob),
  getJob: exported(binding.getJob),
  endJob: exported(binding.endJob),
  activeJobs: exported(binding.activeJobs),
  skippedJobs: exported(binding.skippedJobs),
  handleSlackCommand,
}
