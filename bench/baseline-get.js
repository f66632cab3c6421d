#!/usr/bin/env node
'use strict'
// The baseline a team would write instead of `daplaya locks list --env x`: a minimal script
// with @aws-sdk/client-dynamodb doing the same single request, a consistent GetItem on the
// locks table. Reads the same environment as daplaya (endpoint, region, table, credentials).
//
//   node bench/baseline-get.js <env>                      one GetItem, prints the row (or null)
//   node bench/baseline-get.js <env> --wait <ms> <user>   polls until <user> is not the holder
//                                                         (the benchmark's waiting baseline)
const { DynamoDBClient, GetItemCommand } = require('@aws-sdk/client-dynamodb')

const [env = 'x', mode, intervalMs, user] = process.argv.slice(2)
const client = new DynamoDBClient({
  endpoint: process.env.DAPLAYA_DYNAMODB_ENDPOINT,
  region: process.env.DAPLAYA_AWS_REGION || process.env.AWS_REGION,
})
const TableName = process.env.DAPLAYA_LOCKS_TABLE || 'DaPlayaLocks'

async function get() {
  const { Item } = await client.send(new GetItemCommand({ TableName, Key: { env: { S: env } }, ConsistentRead: true }))
  return Item ?? null
}

async function main() {
  let item = await get()
  if (mode === '--wait') {
    while (item?.active?.BOOL && item.user?.S === user) {
      process.stderr.write(`Still locked at env ${env} by ${user}\n`)
      await new Promise((resolve) => setTimeout(resolve, Number(intervalMs)))
      item = await get()
    }
  }
  process.stdout.write(`${JSON.stringify(item)}\n`)
}

main().catch((error) => {
  process.stderr.write(`error: ${error.name}: ${error.message}\n`)
  process.exitCode = 1
})
