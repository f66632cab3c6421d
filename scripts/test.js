#!/usr/bin/env node
'use strict'
// `npm test`: builds the addon, starts DynamoDB Local, then runs the Rust tests and the Node
// end-to-end tests against both stores, and stops DynamoDB Local whatever happened.
const { spawnSync } = require('node:child_process')
const path = require('node:path')
const { startDynamoDbLocal } = require('./dynamodb-local.js')

const root = path.join(__dirname, '..')

function step(title, command, args, env) {
  process.stderr.write(`\n== ${title}: ${command} ${args.join(' ')}\n`)
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } })
  if (result.status !== 0) {
    throw new Error(`${title} failed (${result.signal ?? `exit ${result.status}`})`)
  }
}

async function main() {
  step('build the addon', 'npx', ['napi', 'build', '--platform', '--js', 'binding.js', '--dts', 'binding.d.ts'])
  const dynamo = await startDynamoDbLocal()
  process.stderr.write(`DynamoDB Local at ${dynamo.endpoint}\n`)
  // Dummy credentials, and no instance-metadata probing: tests reach only 127.0.0.1.
  const env = {
    DAPLAYA_TEST_DYNAMODB_ENDPOINT: dynamo.endpoint,
    AWS_ACCESS_KEY_ID: 'daplaya-test',
    AWS_SECRET_ACCESS_KEY: 'daplaya-test',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_REGION: 'us-east-1',
  }
  try {
    step('Rust tests', 'cargo', ['test', '--quiet'], env)
    const files = process.argv.slice(2)
    step('Node tests', process.execPath, ['--test', '--test-concurrency=2', ...(files.length ? files : ['__test__/'])], env)
  } finally {
    await dynamo.stop()
  }
}

main().catch((error) => {
  process.stderr.write(`${error.message}\n`)
  process.exitCode = 1
})
