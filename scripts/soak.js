#!/usr/bin/env node
'use strict'
// The soak: N processes take one env's lock through the Node API, again and again, and each
// read-modify-writes a counter file while holding it. Exclusion held if the final count is
// the number of acquisitions and no critical section saw another's marker.
//
// `npm run soak` runs 10,000 acquisitions on each store (embedded, then DynamoDB Local, which
// it starts and stops) and prints the time; `__test__/soak.test.js` runs a smaller one.
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const WORKER = path.join(__dirname, 'soak-worker.js')

function worker(config, env) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [WORKER, JSON.stringify(config)], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
}

/**
 * Runs one soak and resolves to { acquisitions, counted, violations, failures, seconds }.
 * `options`: the Node API's store options; `env`: the workers' environment.
 */
async function soak({ options, env = process.env, processes = 16, acquisitions, pollInterval = '10ms' }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daplaya-soak-'))
  fs.writeFileSync(path.join(dir, 'counter'), '0 0')
  const lockEnv = `soak-${process.pid}-${Date.now()}`
  const started = process.hrtime.bigint()
  const results = await Promise.all(
    Array.from({ length: processes }, (_, w) => {
      const count = Math.floor(acquisitions / processes) + (w < acquisitions % processes ? 1 : 0)
      return worker({ options, env: lockEnv, user: `soak-worker-${w}`, count, dir, pollInterval }, env)
    }),
  )
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  const failures = results.filter((r) => r.code !== 0).map((r) => `exit ${r.code ?? r.signal}: ${r.stderr.trim()}`)
  const violations = results.flatMap((r) => (r.code === 0 ? JSON.parse(r.stdout).violations : []))
  const counted = Number(fs.readFileSync(path.join(dir, 'counter'), 'utf8').split(' ')[0])
  fs.rmSync(dir, { recursive: true, force: true })
  return { acquisitions, counted, violations, failures, seconds }
}

async function main() {
  const { startDynamoDbLocal } = require('./dynamodb-local.js')
  const acquisitions = Number(process.env.SOAK_ACQUISITIONS || 10_000)
  const processes = 16
  const dynamo = await startDynamoDbLocal()
  const suffix = `${process.pid}`
  const dynamoOptions = {
    store: 'dynamodb',
    endpoint: dynamo.endpoint,
    region: 'us-east-1',
    locksTable: `SoakLocks${suffix}`,
    jobsTable: `SoakJobs${suffix}`,
  }
  const env = { ...process.env, AWS_ACCESS_KEY_ID: 'daplayasoak', AWS_SECRET_ACCESS_KEY: 'daplayasoak', AWS_EC2_METADATA_DISABLED: 'true' }
  let failed = false
  try {
    process.env.AWS_ACCESS_KEY_ID = env.AWS_ACCESS_KEY_ID
    process.env.AWS_SECRET_ACCESS_KEY = env.AWS_SECRET_ACCESS_KEY
    process.env.AWS_EC2_METADATA_DISABLED = 'true'
    await require('..').init(dynamoOptions)
    const stores = [
      ['embedded (SQLite)', { store: `sqlite:${path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'daplaya-soak-db-')), 'locks.db')}` }, '10ms'],
      ['DynamoDB Local', dynamoOptions, '20ms'],
    ]
    process.stdout.write(`| store | processes | acquisitions | counted | violations | time | per second |\n|---|---:|---:|---:|---:|---:|---:|\n`)
    for (const [name, options, pollInterval] of stores) {
      const result = await soak({ options, env, processes, acquisitions, pollInterval })
      const ok = result.counted === acquisitions && result.violations.length === 0 && result.failures.length === 0
      failed ||= !ok
      process.stdout.write(
        `| ${name} | ${processes} | ${acquisitions} | ${result.counted} | ${result.violations.length} | ${result.seconds.toFixed(1)} s | ${(acquisitions / result.seconds).toFixed(0)} |\n`,
      )
      for (const line of [...result.failures, ...result.violations].slice(0, 10)) process.stderr.write(`  ${line}\n`)
    }
  } finally {
    await dynamo.stop()
  }
  if (failed) {
    process.stderr.write('soak FAILED: exclusion was broken or a worker failed\n')
    process.exitCode = 1
  }
}

if (require.main === module) {
  main().catch((error) => {
    process.stderr.write(`${error.stack}\n`)
    process.exitCode = 1
  })
}

module.exports = { soak }
