'use strict'
// Shared by the end-to-end tests: run bin/daplaya.js as a user would, and make fresh stores of
// both kinds (a new SQLite file; new DynamoDB Local tables) so tests never see each other's rows.
const { execFileSync, spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const crypto = require('node:crypto')

const ROOT = path.join(__dirname, '..')
const BIN = path.join(ROOT, 'bin', 'daplaya.js')
const DYNAMODB_ENDPOINT = process.env.DAPLAYA_TEST_DYNAMODB_ENDPOINT

/**
 * Variables a CI sets that daplaya reads for the default user, holder and meta (CI_*, CIRCLE_* are caught
 * by the CI prefix below), and the GitHub Action's INPUT_* / STATE_*. Tests run as if outside any
 * CI, also for the API called in this process: each test sets the ones it means.
 */
const CALLER_VARIABLES = /^(DAPLAYA_USER$|DAPLAYA_HOLDER$|GITHUB_|GITLAB_|BUILDKITE|BUILD_USER|BUILD_URL$|BUILD_TAG$|INPUT_|STATE_)/
for (const key of Object.keys(process.env)) {
  if (CALLER_VARIABLES.test(key)) delete process.env[key]
}

/** The environment every spawned CLI starts from: no CI, no stray store or AWS settings. */
function baseEnv() {
  const env = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(CI|DAPLAYA_|AWS_|NO_COLOR)/.test(key)) env[key] = value
  }
  env.DAPLAYA_STATE_DIR = STATE_DIR
  return env
}

// Each test file runs in its own process: what it made in the temporary directory goes with
// it (a packed install holds a copy of the debug addon, a quarter of a gigabyte).
const madeDirs = []
process.on('exit', () => {
  for (const dir of madeDirs) fs.rmSync(dir, { recursive: true, force: true })
})

function tempDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daplaya-test-'))
  madeDirs.push(dir)
  return dir
}

// The copies of the locks this "machine" took (docs/dynamodb.md, One write for a release) live in this test file's own
// directory, for its CLI runs and for the API called in this process alike.
const STATE_DIR = tempDir()
process.env.DAPLAYA_STATE_DIR = STATE_DIR

function uniqueName(prefix) {
  return `${prefix}-${crypto.randomBytes(4).toString('hex')}`
}

/** The command and arguments that run the CLI with `args`: on this Node, or on `runtime` (runtimes/). */
function cli(args, runtime) {
  return runtime ? runtime.launch(BIN, args) : [process.execPath, [BIN, ...args]]
}

/** Runs the CLI; resolves with { code, signal, stdout, stderr } and never rejects. */
function run(args, { env = {}, cwd, onStderr, timeoutMs = 60_000, runtime } = {}) {
  return new Promise((resolve) => {
    const child = spawn(...cli(args, runtime), {
      cwd,
      env: { ...baseEnv(), ...runtime?.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => {
      stdout += chunk
    })
    child.stderr.on('data', (chunk) => {
      stderr += chunk
      onStderr?.(stderr, child)
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, pid: child.pid })
    })
  })
}

/**
 * A CLI process the test drives while it runs: `waitFor(pattern)` resolves once its stderr
 * matches, `done` when it exits. `stopStarted()` (in an `afterEach`) kills what is still running.
 */
function start(args, { env, detached = false, runtime } = {}) {
  const child = spawn(...cli(args, runtime), {
    env: { ...baseEnv(), ...runtime?.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own session, without a controlling terminal: signals come only from the test, even
    // when `npm test` runs in a terminal (where daplaya leaves Ctrl-C to the terminal).
    detached,
  })
  const proc = { child, pid: child.pid, stdout: '', stderr: '', exited: false, waiters: new Set() }
  const check = () => {
    for (const waiter of proc.waiters) waiter()
  }
  child.stdout.on('data', (chunk) => {
    proc.stdout += chunk
    check()
  })
  child.stderr.on('data', (chunk) => {
    proc.stderr += chunk
    check()
  })
  proc.done = new Promise((resolve) => {
    child.on('close', (code, signal) => {
      proc.exited = true
      check()
      resolve({ code, signal, stdout: proc.stdout, stderr: proc.stderr })
    })
  })
  /** Resolves with the match (and when it was seen) once stderr matches `pattern`. */
  proc.waitFor = (pattern, timeoutMs = 30_000) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`no ${pattern} within ${timeoutMs} ms; stderr:\n${proc.stderr}`)), timeoutMs)
      const finish = (error, match) => {
        clearTimeout(timer)
        proc.waiters.delete(waiter)
        if (error) reject(error)
        else resolve({ match, at: Date.now() })
      }
      const waiter = () => {
        const match = pattern.exec(proc.stderr)
        if (match) finish(null, match)
        else if (proc.exited) finish(new Error(`exited without ${pattern}; stderr:\n${proc.stderr}`))
      }
      proc.waiters.add(waiter)
      waiter()
    })
  started.push(proc)
  return proc
}

const started = []

/** Kills (SIGCONT, then SIGKILL) every process `start` started that is still running. */
function stopStarted() {
  for (const proc of started.splice(0)) {
    if (!proc.exited) {
      try {
        process.kill(proc.pid, 'SIGCONT')
        proc.child.kill('SIGKILL')
      } catch {}
    }
  }
}

/** Runs the CLI with --json and parses stdout. */
async function runJson(args, options) {
  const result = await run([...args, '--json'], options)
  let json
  try {
    json = JSON.parse(result.stdout)
  } catch {
    throw new Error(`stdout is not one JSON document (exit ${result.code}): ${result.stdout}\n${result.stderr}`)
  }
  return { ...result, json }
}

/**
 * The stores every behaviour is checked against. `fresh()` gives CLI env vars and API options
 * for a store nobody else uses.
 */
const STORES = [
  {
    name: 'sqlite',
    async fresh() {
      const file = path.join(tempDir(), 'locks.db')
      return { env: { DAPLAYA_STORE: `sqlite:${file}` }, options: { store: `sqlite:${file}` } }
    },
  },
  {
    name: 'dynamodb',
    skip: DYNAMODB_ENDPOINT ? false : 'DAPLAYA_TEST_DYNAMODB_ENDPOINT is not set (npm test sets it)',
    async fresh() {
      const locksTable = uniqueName('Locks')
      const jobsTable = uniqueName('Jobs')
      const historyTable = uniqueName('History')
      const env = {
        DAPLAYA_STORE: 'dynamodb',
        DAPLAYA_DYNAMODB_ENDPOINT: DYNAMODB_ENDPOINT,
        DAPLAYA_AWS_REGION: 'us-east-1',
        DAPLAYA_LOCKS_TABLE: locksTable,
        DAPLAYA_JOBS_TABLE: jobsTable,
        DAPLAYA_HISTORY_TABLE: historyTable,
        AWS_ACCESS_KEY_ID: 'daplayatest',
        AWS_SECRET_ACCESS_KEY: 'daplayatest',
        AWS_EC2_METADATA_DISABLED: 'true',
      }
      const init = await run(['init'], { env })
      if (init.code !== 0) throw new Error(`init failed: ${init.stderr}`)
      return { env, options: { store: 'dynamodb', endpoint: DYNAMODB_ENDPOINT, region: 'us-east-1', locksTable, jobsTable, historyTable } }
    },
  },
]

/** Whether util-linux `script` is here to make pseudo-terminals. */
const hasScript = (() => {
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()

/** Quotes one argument for a POSIX shell command line. */
const quote = (arg) => `'${String(arg).replace(/'/g, `'\\''`)}'`

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Reads `read()` every 50 ms until it deep-equals `wanted` (30 s at most, then fails naming `what`). */
async function until(read, wanted, what) {
  const deadline = Date.now() + 30_000
  let seen
  while (Date.now() < deadline) {
    seen = await read()
    if (JSON.stringify(seen) === JSON.stringify(wanted)) return
    await sleep(50)
  }
  throw new Error(`never saw ${what}; last: ${JSON.stringify(seen)}`)
}

module.exports = { ROOT, BIN, STORES, run, runJson, start, stopStarted, baseEnv, tempDir, uniqueName, sleep, until, hasScript, quote }
