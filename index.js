'use strict'
// The public API: every function of the generated binding, with what async napi functions
// cannot do themselves: `error.code` from the `[CODE] message` prefix that crosses from Rust,
// and the `signal` option (an AbortSignal) turned into an interrupt handle Rust can watch.
const binding = require('./native.js')

// The CLI shim's and this file's plumbing, not API functions.
const INTERNAL = new Set(['runCli', 'newInterrupt', 'interrupt'])

const CODE_PREFIX = /^\[([A-Z_]+)\] /
const NAPI_CONVERSION = /^(InvalidArg|[A-Za-z]+Expected)$/

function withCode(error) {
  const match = error instanceof Error ? CODE_PREFIX.exec(error.message) : null
  if (match) {
    error.message = error.message.slice(match[0].length)
    error.code = match[1]
  } else if (error instanceof Error && NAPI_CONVERSION.test(error.code)) {
    // napi's own argument conversion failed (a `command` that is not an array of strings).
    error.code = 'INVALID_ARGUMENT'
  }
  return error
}

/** Node's convention (`fs`, `timers/promises`, `child_process`): name `AbortError`, the reason as `cause`. */
function abortError(signal) {
  return Object.assign(new Error('The operation was aborted', { cause: signal.reason }), { name: 'AbortError', code: 'ABORT_ERR' })
}

function isAbortSignal(signal) {
  return typeof signal === 'object' && signal !== null && typeof signal.aborted === 'boolean' && typeof signal.addEventListener === 'function'
}

/** `call(options, ...rest)` with errors coded, and `options.signal` listened to while it runs. */
async function withSignal(call, options, ...rest) {
  const signal = options?.signal
  if (signal === undefined) {
    return call(options, ...rest)
  }
  if (!isAbortSignal(signal)) {
    throw Object.assign(new TypeError('signal must be an AbortSignal'), { code: 'INVALID_ARGUMENT' })
  }
  if (signal.aborted) throw abortError(signal)
  const handle = binding.newInterrupt()
  const onAbort = () => binding.interrupt(handle)
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    return await call({ ...options, signal: handle }, ...rest)
  } catch (error) {
    // Interrupted by this signal: the wait ended and nothing is held.
    if (signal.aborted && withCode(error).code === 'INTERRUPTED') throw abortError(signal)
    throw error
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

function exported(call) {
  return async (...args) => {
    try {
      return await withSignal(call, ...args)
    } catch (error) {
      throw withCode(error)
    }
  }
}

const api = {}
for (const [name, value] of Object.entries(binding)) {
  if (!INTERNAL.has(name)) api[name] = typeof value === 'function' ? exported(value) : value
}

/** Slack's request as any framework gives it: headers as an object, a Headers or a Map; body raw. */
const answerSlack = api.handleSlackCommand
api.handleSlackCommand = (request, options) => {
  const { headers, body } = request ?? {}
  const plainHeaders =
    headers != null && typeof headers === 'object' && typeof headers[Symbol.iterator] === 'function' ? Object.fromEntries(headers) : headers
  const rawBody = body instanceof Uint8Array ? Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8') : body
  return answerSlack({ headers: plainHeaders, body: rawBody }, options)
}

module.exports = api
