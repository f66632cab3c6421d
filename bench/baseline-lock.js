#!/usr/bin/env node
'use strict'
// The baseline a team would write instead of `daplaya locks lock` / `locks release`: a minimal
// script on @aws-sdk/client-dynamodb making the same requests (sdk.js), one attempt, reading the
// same environment as daplaya (endpoint, region, table, credentials).
//
//   node bench/baseline-lock.js lock <env> <user>      exits 0 when taken, 3 when held by another
//   node bench/baseline-lock.js release <env> <user>   exits 0 when released, 3 when not held
const { DynamoDBClient } = require('@aws-sdk/client-dynamodb')
const { sdkLock, sdkRelease } = require('./sdk.js')

const [action, env, user] = process.argv.slice(2)
const client = new DynamoDBClient({
  endpoint: process.env.DAPLAYA_DYNAMODB_ENDPOINT,
  region: process.env.DAPLAYA_AWS_REGION || process.env.AWS_REGION,
})
const table = {
  locks: process.env.DAPLAYA_LOCKS_TABLE || 'DaPlayaLocks',
  history: process.env.DAPLAYA_HISTORY_TABLE || 'DaPlayaLockHistory',
}

async function main() {
  if (action === 'lock') {
    const outcome = await sdkLock(client, table, { env, user })
    process.stdout.write(`${JSON.stringify(outcome)}\n`)
    if (!outcome.acquired) process.exitCode = 3
  } else if (action === 'release') {
    const outcome = await sdkRelease(client, table, { env, user })
    process.stdout.write(`${JSON.stringify(outcome)}\n`)
    if (!outcome.released) process.exitCode = 3
  } else {
    throw new Error(`unknown action ${action}: lock or release`)
  }
}

main().catch((error) => {
  process.stderr.write(`error: ${error.name}: ${error.message}\n`)
  process.exitCode = 1
})
