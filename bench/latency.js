'use strict'
// Operation latency in one long-lived process (run by bench/run.js as a child, so the addon
// and the AWS SDK load fresh and nothing else shares the event loop): lock + release through
// daplaya's JS API on DynamoDB Local and on the embedded store, and the same requests issued
// directly with @aws-sdk/client-dynamodb (GetItem + TransactWriteItems each); and a single read (`listLocks({ env })` against one
// consistent GetItem), where the cost of the layers around one request shows most. The variants
// take turns, so drift hits them alike. Prints one JSON document:
// { variant: { lock: [ms...], release: [ms...], pair: [ms...] } | { read: [ms...] } }.
const daplaya = require('..')
const { GetItemCommand } = require('@aws-sdk/client-dynamodb')
const { makeClient, sdkLock, sdkRelease } = require('./sdk.js')

async function main() {
  const { endpoint, countingEndpoint, locksTable, jobsTable, historyTable, sqlitePath, iterations, warmup } = JSON.parse(process.argv[2])
  const dynamo = { store: 'dynamodb', endpoint, region: 'us-east-1', locksTable, jobsTable, historyTable }
  const tables = { locks: locksTable, history: historyTable }
  const sqlite = { store: `sqlite:${sqlitePath}` }
  const client = makeClient(endpoint)
  const user = 'bench@example.com'
  const variants = {
    daplayaDynamo: {
      lock: () => daplaya.lock({ ...dynamo, env: 'latency-api', user, noWait: true }),
      release: () => daplaya.release({ ...dynamo, env: 'latency-api', user }),
    },
    sdkDynamo: {
      lock: () => sdkLock(client, tables, { env: 'latency-sdk', user }),
      release: () => sdkRelease(client, tables, { env: 'latency-sdk', user }),
    },
    daplayaSqlite: {
      lock: () => daplaya.lock({ ...sqlite, env: 'latency-api', user, noWait: true }),
      release: () => daplaya.release({ ...sqlite, env: 'latency-api', user }),
    },
  }
  const reads = {
    daplayaRead: () => daplaya.listLocks({ ...dynamo, env: 'latency-read' }),
    sdkRead: () => client.send(new GetItemCommand({ TableName: locksTable, Key: { env: { S: 'latency-read' } }, ConsistentRead: true })),
  }
  const samples = Object.fromEntries(Object.keys(variants).map((name) => [name, { lock: [], release: [], pair: [] }]))
  for (const name of Object.keys(reads)) samples[name] = { read: [] }
  const names = [...Object.keys(variants), ...Object.keys(reads)]
  for (let i = 0; i < warmup + iterations; i += 1) {
    // Rotate the order so no variant always runs right after the same other one.
    for (let k = 0; k < names.length; k += 1) {
      const name = names[(i + k) % names.length]
      if (reads[name]) {
        const t0 = process.hrtime.bigint()
        await reads[name]()
        if (i >= warmup) samples[name].read.push(Number(process.hrtime.bigint() - t0) / 1e6)
        continue
      }
      const variant = variants[name]
      const t0 = process.hrtime.bigint()
      const locked = await variant.lock()
      const t1 = process.hrtime.bigint()
      const released = await variant.release()
      const t2 = process.hrtime.bigint()
      if (locked.acquired === false || released.released === false) {
        throw new Error(`${name}: lock or release did nothing: ${JSON.stringify({ locked, released })}`)
      }
      if (i < warmup) continue
      const ms = (from, to) => Number(to - from) / 1e6
      samples[name].lock.push(ms(t0, t1))
      samples[name].release.push(ms(t1, t2))
      samples[name].pair.push(ms(t0, t2))
    }
  }
  // Then 10 lock + release pairs each through a loopback relay that counts TCP connections, so
  // whether calls reuse a kept-alive connection shows (on real DynamoDB each new one is a TLS
  // handshake). The relay's endpoint differs, so both sides start with a new client there.
  const counted = { ...dynamo, endpoint: countingEndpoint }
  const countingClient = makeClient(countingEndpoint)
  const connections = {}
  const count = async (name, pair) => {
    const before = await (await fetch(`${countingEndpoint}/__connections`)).json()
    for (let i = 0; i < 10; i += 1) await pair()
    connections[name] = (await (await fetch(`${countingEndpoint}/__connections`)).json()) - before
  }
  await count('daplayaDynamo', async () => {
    await daplaya.lock({ ...counted, env: 'latency-count', user, noWait: true })
    await daplaya.release({ ...counted, env: 'latency-count', user })
  })
  await count('sdkDynamo', async () => {
    await sdkLock(countingClient, tables, { env: 'latency-count-sdk', user })
    await sdkRelease(countingClient, tables, { env: 'latency-count-sdk', user })
  })
  countingClient.destroy()
  process.stdout.write(`${JSON.stringify({ samples, connections })}\n`)
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`)
  process.exitCode = 1
})
