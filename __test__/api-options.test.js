'use strict'
// Every option of every API function, given a value of the wrong kind, is refused with
// INVALID_ARGUMENT naming the option, what it got and what it takes, in a JS caller's words:
// never a Rust type. The options are read from binding.d.ts, so an option added later without a
// row here fails this test.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const daplaya = require('..')
const { ROOT, tempDir } = require('./helpers.js')

const DECLARATIONS = fs.readFileSync(path.join(ROOT, 'binding.d.ts'), 'utf8')
// What a message written by a Rust program for Rust programmers would say.
const RUST = /`|\b(?:f64|f32|i64|i32|u64|u32|usize|String|Vec|Option|Either|bool|napi|Array<T>|[Rr]ust)\b/

/** The fields of each `export interface` of binding.d.ts, with their declared types. */
function interfaces() {
  const found = {}
  for (const [, name, body] of DECLARATIONS.matchAll(/^export interface (\w+) \{\n([\s\S]*?)\n\}/gm)) {
    found[name] = [...body.matchAll(/^ {2}(\w+)\??: (.+)$/gm)].map(([, field, type]) => ({ field, type }))
  }
  return found
}

/** Each exported function and the options interface it takes. */
function functions() {
  return [...DECLARATIONS.matchAll(/^export declare function (\w+)\((.*)\): /gm)].map(([, name, params]) => ({
    name,
    options: /\boptions\??: (\w+)/.exec(params)?.[1],
  }))
}

/** A value of the wrong kind for a declared type, and how the message shows it. */
const WRONG = {
  string: [42, '42'],
  boolean: ['yes', "'yes'"],
  number: ['20', "'20'"],
  'number | string': [true, 'true'],
  'string | string[]': [{ name: 'prod' }, 'an object'],
  '(progress: WaitProgress) => void': ['log', "'log'"],
  AbortSignal: [1.5, '1.5'],
  'Record<string, string>': ['U1=alice', "'U1=alice'"],
}

const store = () => `sqlite:${path.join(tempDir(), 'locks.db')}`

/** Options every function accepts as they are, so that only the option under test is wrong. */
function valid(fn) {
  const base = { store: store() }
  switch (fn) {
    case 'lock':
    case 'runLocked':
    case 'release':
      return { ...base, env: 'prod', user: 'alice' }
    case 'lockHistory':
      return { ...base, env: 'prod' }
    case 'startJob':
      return { ...base, jobname: 'deploy', user: 'alice', gitversion: 'v1' }
    case 'getJob':
      return { ...base, jobname: 'deploy', gitversion: 'v1' }
    case 'endJob':
      return { ...base, gitversion: 'v1' }
    case 'activeJobs':
    case 'skippedJobs':
      return { ...base, jobname: 'deploy' }
    case 'handleSlackCommand':
      return { ...base, signingSecret: 'secret' }
    default:
      return base
  }
}

/** Calls `fn` as a user would: the options, then what else it takes. */
function call(fn, options) {
  switch (fn) {
    case 'runLocked':
      return daplaya.runLocked(options, [process.execPath, '-e', ''])
    case 'handleSlackCommand':
      return daplaya.handleSlackCommand({ headers: {}, body: '' }, options)
    default:
      return daplaya[fn](options)
  }
}

async function refused(promise, name, got) {
  await assert.rejects(promise, (error) => {
    assert.equal(error.code, 'INVALID_ARGUMENT', error.message)
    assert.ok(error.message.startsWith(`${name} must be `), error.message)
    assert.ok(error.message.endsWith(`, not ${got}`), error.message)
    assert.doesNotMatch(error.message, RUST)
    return true
  })
}

describe('API options of the wrong kind', () => {
  const declared = interfaces()
  const rows = functions().flatMap(({ name, options }) => {
    assert.ok(options, `${name} takes no options object?`)
    assert.ok(declared[options], `no interface ${options} in binding.d.ts`)
    return declared[options].map(({ field, type }) => ({ fn: name, field, type }))
  })

  it('covers every option of every function', () => {
    const names = functions().map(({ name }) => name)
    for (const [name, value] of Object.entries(daplaya)) {
      if (typeof value === 'function') assert.ok(names.includes(name), `${name} is not in binding.d.ts`)
    }
    assert.ok(rows.length >= 100, `${rows.length} rows`)
    const types = new Set(rows.map((row) => row.type))
    for (const type of types) assert.ok(WRONG[type], `no wrong value for options of type ${type}: add one to WRONG`)
  })

  for (const { fn, field, type } of rows) {
    it(`${fn}({ ${field}: <not ${type}> })`, async () => {
      const [value, shown] = WRONG[type]
      await refused(call(fn, { ...valid(fn), [field]: value }), `option '${field}'`, shown)
    })
  }

  it('options that are not an object', async () => {
    for (const { name } of functions()) {
      const given = name === 'runLocked' ? daplaya.runLocked('prod', ['true']) : name === 'handleSlackCommand' ? daplaya.handleSlackCommand({ body: '' }, 'prod') : daplaya[name]('prod')
      await refused(given, 'options', "'prod'")
    }
    await refused(daplaya.lock(['prod']), 'options', 'an array')
  })

  it('values given as null are refused, not read as left out', async () => {
    await refused(daplaya.lock({ ...valid('lock'), user: null }), "option 'user'", 'null')
    await refused(daplaya.lock({ ...valid('lock'), ttl: null }), "option 'ttl'", 'null')
  })

  it('an element of an array', async () => {
    await refused(daplaya.lock({ ...valid('lock'), env: ['eu', 7] }), "option 'env[1]'", '7')
    await refused(daplaya.runLocked(valid('runLocked'), ['echo', 1]), 'command[1]', '1')
  })

  it("runLocked's command and handleSlackCommand's request", async () => {
    await refused(daplaya.runLocked(valid('runLocked'), 'echo hi'), 'command', "'echo hi'")
    await refused(daplaya.runLocked(valid('runLocked')), 'command', 'undefined')
    await refused(daplaya.handleSlackCommand({ headers: 'x-slack-signature: v0=1', body: '' }, valid('handleSlackCommand')), 'request.headers', "'x-slack-signature: v0=1'")
    await refused(daplaya.handleSlackCommand({ headers: {}, body: 42 }, valid('handleSlackCommand')), 'request.body', '42')
  })

  it('a member of an object of strings', async () => {
    await refused(daplaya.handleSlackCommand({ headers: {}, body: '' }, { ...valid('handleSlackCommand'), users: { U1: 'alice', U2: 7 } }), "option 'users.U2'", '7')
  })

  it('a count is a whole number, and text is shown cut short', async () => {
    await refused(daplaya.lockHistory({ ...valid('lockHistory'), limit: 2.5 }), "option 'limit'", '2.5')
    const long = 'x'.repeat(100)
    await refused(daplaya.lock({ ...valid('lock'), noWait: long }), "option 'noWait'", `'${'x'.repeat(40)}…'`)
  })
})
