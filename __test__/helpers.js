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
 * Variables a CI sets that daplaya reads for the default user and meta (CI_*, CIRCLE_* are caught
 * by the CI prefix below), and the GitHub Action's INPUT_* / STATE_*. Tests run as if outside any
 * CI, also for the API called in this process: each test sets the ones it means.
 */
const CALLER_VARIABLES = /^(DAPLAYA_USER$|GITHUB_|GITLAB_|BUILDKITE|BUILD_USER|BUILD_URL$|INPUT_|STATE_)/
for (const key of Object.keys(process.env)) {
  if (CALLER_VARIABLES.test(key)) delete process.env[key]
}

/** The environment every spawned CLI starts from: no CI, no stray store or AWS settings. */
function baseEnv() {
  const env = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(CI|DAPLAYA_|AWS_|NO_COLOR)/.test(key)) env[key] = value
  }
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

function uniqueName(prefix) {
  return `${prefix}-${crypto.randomBytes(4).toString('hex')}`
}

/** Runs the CLI; resolves with { code, signal, stdout, stderr } and never rejects. */
function run(args, { env = {}, cwd, onStderr, timeoutMs = 60_000 } = {}) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd,
      env: { ...baseEnv(), ...env },
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

module.exports = { ROOT, BIN, STORES, run, runJson, baseEnv, tempDir, uniqueName, sleep, hasScript, quote }
