'use strict'
// The public API: every function of the generated binding, with what async napi functions
// cannot do themselves: `error.code` from the `[CODE] message` prefix that crosses from Rust
// (and the fields of a lock refusal: `env`, `holder`, `queue`, `waitedMs`, `by`),
// the `signal` option (an AbortSignal) turned into an interrupt handle Rust can watch, and an
// `onWait` whose throw ends the call instead of the process.
const binding = require('./native.js')

// The CLI shim's and this file's plumbing, not API functions.
const INTERNAL = new Set(['runCli', 'newInterrupt', 'interrupt', 'settleEvents'])

const CODE_PREFIX = /^\[([A-Z_]+)\] /
// Before the fields of a lock refusal (JSON): a line break and an ASCII record separator.
const FIELDS = '\n\x1e'

function withCode(error) {
  const match = error instanceof Error ? CODE_PREFIX.exec(error.message) : null
  if (match) {
    const fields = error.message.indexOf(FIELDS)
    const message = fields === -1 ? error.message : error.message.slice(0, fields)
    if (fields !== -1) Object.assign(error, JSON.parse(error.message.slice(fields + FIELDS.length)))
    error.message = message.slice(match[0].length)
    error.code = match[1]
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

/**
 * `call(options, ...rest)` with `options.signal` listened to while it runs, and `options.onWait`
 * guarded: a throw in it must not reach Rust (napi would raise it as an uncaught exception), so
 * it ends the wait as an abort does and the call rejects with what was thrown.
 */
async function withHooks(call, options, ...rest) {
  const signal = options?.signal
  const onWait = options?.onWait
  // Without hooks, or with one of the wrong kind, which Rust refuses as it refuses any option of
  // the wrong kind (naming what it got and what it takes).
  const hooked = signal !== undefined || onWait !== undefined
  const wrong = (signal !== undefined && !isAbortSignal(signal)) || (onWait !== undefined && typeof onWait !== 'function')
  if (!hooked || wrong) {
    return call(options, ...rest)
  }
  if (signal?.aborted) throw abortError(signal)
  const handle = binding.newInterrupt()
  const onAbort = () => binding.interrupt(handle)
  signal?.addEventListener('abort', onAbort, { once: true })
  let thrown = null
  const passed = { ...options, signal: handle }
  if (onWait !== undefined) {
    passed.onWait = (progress) => {
      if (thrown) return
      try {
        onWait(progress)
      } catch (error) {
        thrown = { error }
        binding.interrupt(handle)
      }
    }
  }
  try {
    return await call(passed, ...rest)
  } catch (error) {
    // Interrupted by onWait's throw or by this signal: the wait ended, nothing is held.
    if (withCode(error).code === 'INTERRUPTED') {
      if (thrown) throw thrown.error
      if (signal?.aborted) throw abortError(signal)
    }
    throw error
  } finally {
    signal?.removeEventListener('abort', onAbort)
  }
}

function exported(call) {
  return async (...args) => {
    try {
      return await withHooks(call, ...args)
    } catch (error) {
      throw withCode(error)
    } finally {
      // Not awaited: the call's answer never waits for its events, but the pending promise keeps
      // Node up (within a bound) until they are delivered.
      binding.settleEvents().catch(() => {})
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
