'use strict'
// The baseline: what a team would write with @aws-sdk/client-dynamodb instead of daplaya, doing
// the same requests daplaya does (a consistent GetItem, then one TransactWriteItems: the lock row
// conditioned on its revision, and the hold's row in the history table), plus the
// BatchWriteItem seeding the cost benchmark uses.
const crypto = require('node:crypto')
const {
  DynamoDBClient,
  GetItemCommand,
  TransactWriteItemsCommand,
  BatchWriteItemCommand,
} = require('@aws-sdk/client-dynamodb')

const REGION = 'us-east-1'
// DynamoDB Local accepts any key made of letters and digits; its tables are per key and region.
const CREDENTIALS = { accessKeyId: 'daplayatest', secretAccessKey: 'daplayatest' }

function makeClient(endpoint) {
  return new DynamoDBClient({ endpoint, region: REGION, credentials: CREDENTIALS })
}

/** A lock row in the same shape daplaya writes. */
function lockItem(lock) {
  const item = {
    env: { S: lock.env },
    id: { S: lock.id },
    user: { S: lock.user },
    createdAt: { N: String(lock.createdAt) },
    updatedAt: { N: String(lock.updatedAt) },
    active: { BOOL: lock.active },
    uberlock: { BOOL: false },
    meta: { S: lock.meta },
    fencingToken: { N: String(lock.fencingToken) },
    revision: { N: String(lock.revision) },
  }
  if (lock.expiresAt != null) item.expiresAt = { N: String(lock.expiresAt) }
  // daplaya's ActiveLocks index key: `active`, or the day a release happened (seeded rows have none).
  if (lock.active) item.activeShard = { S: 'active' }
  else if (lock.releasedOn) item.activeShard = { S: `released#${lock.releasedOn}` }
  return item
}

function lockFromItem(item) {
  if (!item) return null
  return {
    env: item.env.S,
    id: item.id.S,
    user: item.user.S,
    createdAt: Number(item.createdAt.N),
    updatedAt: Number(item.updatedAt.N),
    active: item.active.BOOL,
    meta: item.meta.S,
    expiresAt: item.expiresAt ? Number(item.expiresAt.N) : null,
    fencingToken: Number(item.fencingToken.N),
    revision: Number(item.revision.N),
  }
}

function condition(current) {
  return current
    ? {
        ConditionExpression: '#revision = :expected',
        ExpressionAttributeNames: { '#revision': 'revision' },
        ExpressionAttributeValues: { ':expected': { N: String(current.revision) } },
      }
    : { ConditionExpression: 'attribute_not_exists(#env)', ExpressionAttributeNames: { '#env': 'env' } }
}

async function load(client, table, env) {
  const answer = await client.send(new GetItemCommand({ TableName: table.locks, Key: { env: { S: env } }, ConsistentRead: true }))
  return lockFromItem(answer.Item)
}

/** The hold's row in the history table, keyed as daplaya keys it (env, acquiredAt#id). */
function holdItem(lock, end) {
  const item = {
    env: { S: lock.env },
    hold: { S: `${String(lock.createdAt).padStart(13, '0')}#${lock.id}` },
    id: { S: lock.id },
    user: { S: lock.user },
    meta: { S: lock.meta },
    uberlock: { BOOL: false },
    fencingToken: { N: String(lock.fencingToken) },
    acquiredAt: { N: String(lock.createdAt) },
    expiresAt: { N: String(lock.expiresAt) },
    expiresTtl: { N: String(Math.floor((lock.expiresAt + 90 * 86_400_000) / 1000)) },
  }
  if (end) Object.assign(item, { endedAt: { N: String(end.at) }, end: { S: 'released' }, endedBy: { S: lock.user } })
  return item
}

/** The lock row and its hold's row in one transaction, the lock row conditioned on `current`. */
async function write(client, table, next, current, end) {
  const TransactItems = [
    { Put: { TableName: table.locks, Item: lockItem(next), ...condition(current), ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } },
    { Put: { TableName: table.history, Item: holdItem(next, end) } },
  ]
  await client.send(new TransactWriteItemsCommand({ TransactItems }))
}

/**
 * One lock attempt, as daplaya makes it: GetItem (consistent), decide, one TransactWriteItems.
 * `table` is { locks, history }.
 */
async function sdkLock(client, table, { env, user, ttlMs = 20 * 60_000, meta = 'SDK' }) {
  const current = await load(client, table, env)
  const now = Date.now()
  const held = current && current.active && (current.expiresAt == null || current.expiresAt > now)
  if (held && current.user !== user) return { acquired: false, holder: current.user }
  const next = held
    ? { ...current, updatedAt: now, expiresAt: now + ttlMs, revision: current.revision + 1 }
    : {
        env,
        id: crypto.randomUUID(),
        user,
        createdAt: now,
        updatedAt: now,
        active: true,
        meta,
        expiresAt: now + ttlMs,
        fencingToken: (current?.fencingToken ?? 0) + 1,
        revision: (current?.revision ?? 0) + 1,
      }
  await write(client, table, next, current)
  return { acquired: true, lock: next }
}

/** A release, as daplaya makes it: GetItem (consistent), the lock row with active=false and the hold ended. */
async function sdkRelease(client, table, { env, user }) {
  const current = await load(client, table, env)
  if (!current || !current.active || current.user !== user) return { released: false }
  const now = Date.now()
  const releasedOn = new Date(now).toISOString().slice(0, 10)
  const next = { ...current, active: false, updatedAt: now, revision: current.revision + 1, releasedOn }
  await write(client, table, next, current, { at: next.updatedAt })
  return { released: true }
}

/** Writes items 25 per BatchWriteItem, `concurrency` batches in flight, retrying unprocessed ones. */
async function batchWrite(client, table, items, { concurrency = 8 } = {}) {
  let next = 0
  async function worker() {
    while (next < items.length) {
      const slice = items.slice(next, next + 25)
      next += 25
      let requests = { [table]: slice.map((Item) => ({ PutRequest: { Item } })) }
      for (let attempt = 0; requests && requests[table]?.length; attempt += 1) {
        if (attempt > 10) throw new Error(`BatchWriteItem on ${table} kept leaving items unprocessed`)
        if (attempt) await new Promise((resolve) => setTimeout(resolve, 20 * attempt))
        const answer = await client.send(new BatchWriteItemCommand({ RequestItems: requests }))
        requests = answer.UnprocessedItems
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
}

/** Released locks of other envs: rows in the table, none in the sparse ActiveLocks index. */
function unrelatedLockItems(count, now = Date.now()) {
  return Array.from({ length: count }, (_, i) =>
    lockItem({
      env: `seeded-env-${i}`,
      id: crypto.randomUUID(),
      user: `user${i % 97}@example.com`,
      createdAt: now - 86_400_000 - i,
      updatedAt: now - 86_400_000 - i,
      active: false,
      meta: `https://ci.example.com/job/${i}`,
      expiresAt: now - 86_400_000 - i + 1_200_000,
      fencingToken: 1 + (i % 50),
      revision: 2 + (i % 50),
    }),
  )
}

/**
 * Jobs of other jobnames at other versions, spread over the last 30 days (so some of them are
 * inside the `jobs active` window, just under other jobnames); most ended, some skipped.
 */
function unrelatedJobItems(count, now = Date.now()) {
  return Array.from({ length: count }, (_, i) => {
    const started = now - Math.floor((i / Math.max(count, 1)) * 30 * 86_400_000)
    const item = {
      version: { S: `seeded-${crypto.createHash('sha1').update(String(i >> 2)).digest('hex')}` },
      id: { S: crypto.randomUUID() },
      user: { S: `user${i % 97}@example.com` },
      jobname: { S: `seeded-job-${i % 200}` },
      started: { N: String(started) },
      skipped: { BOOL: i % 10 === 0 },
    }
    if (i % 20 !== 0) item.ended = { N: String(started + 60_000) }
    return item
  })
}

module.exports = {
  REGION,
  CREDENTIALS,
  makeClient,
  sdkLock,
  sdkRelease,
  batchWrite,
  unrelatedLockItems,
  unrelatedJobItems,
}
