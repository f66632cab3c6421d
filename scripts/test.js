#!/usr/bin/env node
'use strict'
// `npm test`: builds the addon, starts DynamoDB Local, then runs the Rust tests and the Node
// end-to-end tests against both stores, and stops DynamoDB Local whatever happened. Its last
// lines count the attack tests that ran and list the tests that could not run on this machine.
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { startDynamoDbLocal } = require('./dynamodb-local.js')
const { startDynamoDbProxy } = require('./dynamodb-proxy.js')
const { runtimes, platform } = require('../runtimes')

const root = path.join(__dirname, '..')

// Asynchronous, so the request-logging proxy in this process keeps serving meanwhile.
function step(title, command, args, env) {
  process.stderr.write(`\n== ${title}: ${command} ${args.join(' ')}\n`)
  const child = spawn(command, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } })
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => {
      if (code === 0) resolve()
      else reject(new Error(`${title} failed (${signal ?? `exit ${code}`})`))
    })
  })
}

/** The attack tests of the adversarial suite that ran (scripts/attack-reporter.js counted them). */
function reportAttacks(file) {
  let counts
  try {
    counts = JSON.parse(fs.readFileSync(file, 'utf8'))
  } catch {
    process.stderr.write('\n== attack tests: not counted (the Node tests did not finish)\n')
    return
  }
  const failed = counts.failed ? `, ${counts.failed} failed` : ''
  process.stderr.write(`\n== attack tests: ${counts.passed + counts.failed} ran (${counts.passed} passed${failed}) in ${counts.files.join(', ') || 'no file'}\n`)
}

/**
 * What did not run on this machine and why (scripts/not-run-reporter.js collected it): one line
 * per file and reason, the reason saying what would enable it.
 */
function reportNotRun(file) {
  let skipped
  try {
    skipped = JSON.parse(fs.readFileSync(file, 'utf8'))
  } catch {
    return
  }
  if (skipped.length === 0) {
    process.stderr.write('\n== not run here: none (every test ran)\n')
    return
  }
  const groups = new Map()
  for (const { file: name, name: test, suite, reason } of skipped) {
    const key = `${name}\0${reason}`
    const group = groups.get(key) ?? { name, reason, tests: 0, suites: [] }
    if (suite) group.suites.push(`'${test}'`)
    else group.tests += 1
    groups.set(key, group)
  }
  const lines = [...groups.values()].map(({ name, reason, tests, suites }) => {
    const what = [...suites.map((suite) => `suite ${suite}`), ...(tests ? [`${tests} test${tests === 1 ? '' : 's'}`] : [])]
    return `  ${name} (${what.join(', ')}): ${reason}`
  })
  process.stderr.write(`\n== not run here:\n${lines.join('\n')}\n`)
}

function checkRequestLog(log) {
  const counts = {}
  for (const { operation } of log) counts[operation] = (counts[operation] || 0) + 1
  process.stderr.write(`\n== DynamoDB requests made by the tests: ${JSON.stringify(counts)}\n`)
  if (counts.Scan) throw new Error(`the tests issued ${counts.Scan} Scan request(s): no command may scan`)
}

/** Which runtimes __test__/runtimes.test.js runs on here, and which this platform has no build of. */
function reportRuntimes() {
  const all = runtimes()
  const here = all.filter((runtime) => !runtime.unavailable).map((runtime) => `${runtime.label} (${runtime.version})`)
  process.stderr.write(`\n== runtimes of the runtime test: ${here.join(', ') || 'none'}\n`)
  for (const runtime of all.filter((each) => each.unavailable)) {
    process.stderr.write(`== ${runtime.label} NOT TESTED: not available on ${platform()}: ${runtime.unavailable}\n`)
  }
}

async function main() {
  await step('build the addon', 'npx', ['napi', 'build', '--platform', '--js', 'binding.js', '--dts', 'binding.d.ts'])
  const dynamo = await startDynamoDbLocal()
  // Every test request goes through a proxy that logs its operation: no command may Scan.
  const proxy = await startDynamoDbProxy(dynamo.endpoint)
  process.stderr.write(`DynamoDB Local at ${dynamo.endpoint}, logged through ${proxy.endpoint}\n`)
  const files = process.argv.slice(2)
  // Dummy credentials, and no instance-metadata probing: tests reach only 127.0.0.1.
  const env = {
    DAPLAYA_TEST_DYNAMODB_ENDPOINT: proxy.endpoint,
    AWS_ACCESS_KEY_ID: 'daplayatest',
    AWS_SECRET_ACCESS_KEY: 'daplayatest',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_REGION: 'us-east-1',
  }
  const reports = fs.mkdtempSync(path.join(os.tmpdir(), 'daplaya-reports-'))
  const attacks = path.join(reports, 'attacks.json')
  const notRun = path.join(reports, 'not-run.json')
  try {
    await step('Rust tests', 'cargo', ['test', '--quiet'], env)
    // The usual report on stdout; the count of attack tests, and what was skipped here, in files.
    const reporters = ['--test-reporter=spec', '--test-reporter-destination=stdout']
    for (const [reporter, destination] of [
      ['attack-reporter.js', attacks],
      ['not-run-reporter.js', notRun],
    ]) {
      reporters.push(`--test-reporter=${path.join(__dirname, reporter)}`, `--test-reporter-destination=${destination}`)
    }
    await step('Node tests', process.execPath, ['--test', '--test-concurrency=2', ...reporters, ...(files.length ? files : ['__test__/'])], env)
    checkRequestLog(proxy.log)
  } finally {
    await proxy.stop()
    await dynamo.stop()
    reportAttacks(attacks)
    reportNotRun(notRun)
    fs.rmSync(reports, { recursive: true, force: true })
    if (!files.length || files.some((file) => path.basename(file) === 'runtimes.test.js')) reportRuntimes()
  }
}

main().catch((error) => {
  process.stderr.write(`${error.message}\n`)
  process.exitCode = 1
})
