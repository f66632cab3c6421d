'use strict'
// What each command costs on DynamoDB, counted by a proxy in front of it: no command scans,
// a lock attempt is at most two requests (one when the env is held), and a lost race learns
// the holder from the failed write itself. Recording the lock history adds no request: the
// hold rows ride in the lock row's write (one TransactWriteItems), and reading the newest holds
// is one Query however long the history.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { startDynamoDbProxy } = require('../scripts/dynamodb-proxy.js')
const daplaya = require('..')
const { STORES, run, runJson } = require('./helpers.js')

const dynamodb = STORES.find((s) => s.name === 'dynamodb')

describe('DynamoDB requests per command', { skip: dynamodb.skip }, () => {
  let proxy
  let env
  let options
  before(async () => {
    ;({ env, options } = await dynamodb.fresh())
    proxy = await startDynamoDbProxy(env.DAPLAYA_DYNAMODB_ENDPOINT)
    env = { ...env, DAPLAYA_DYNAMODB_ENDPOINT: proxy.endpoint }
    options = { ...options, endpoint: proxy.endpoint }
  })
  after(() => proxy.stop())

  async function requestsOf(args) {
    const start = proxy.log.length
    const result = await run(args, { env })
    return { result, operations: proxy.log.slice(start).map((entry) => entry.operation) }
  }

  // Lock and release are two requests each, as before the history (then GetItem + PutItem).
  const cases = [
    [['locks', 'lock', '--env', 'prod', '--user', 'alice'], 0, ['GetItem', 'TransactWriteItems']],
    [['locks', 'lock', '--env', 'prod', '--user', 'alice'], 0, ['GetItem', 'TransactWriteItems']],
    [['locks', 'lock', '--env', 'prod', '--user', 'bob', '--no-wait'], 3, ['GetItem']],
    [['locks', 'list', '--env', 'prod'], 0, ['GetItem']],
    // The ActiveLocks index's `active` partition (held envs) and its `queued` one (free envs
    // that others wait for).
    [['locks', 'list'], 0, ['Query', 'Query']],
    [['locks', 'release', '--env', 'prod', '--user', 'alice'], 0, ['GetItem', 'TransactWriteItems']],
    [['release', '--env', 'prod', '--user', 'alice'], 0, ['GetItem']],
    [['locks', 'history', '--env', 'prod'], 0, ['Query']],
    [['jobs', 'start', '--jobname', 'deploy', '--user', 'alice', '--gitversion', 'v1'], 0, ['PutItem']],
    [['jobs', 'get', '--jobname', 'deploy', '--gitversion', 'v1'], 0, ['Query']],
    [['jobs', 'active', '--jobname', 'deploy'], 0, ['Query']],
    [['jobs', 'end', '--gitversion', 'v1'], 0, ['Query', 'UpdateItem']],
    [['jobs', 'skipped', '--jobname', 'deploy'], 0, ['Query']],
  ]
  for (const [args, code, expected] of cases) {
    it(`${args.join(' ')}: ${expected.join(' + ')}`, async () => {
      const { result, operations } = await requestsOf(args)
      assert.equal(result.code, code, result.stderr)
      assert.deepEqual(operations, expected)
    })
  }

  it('a waiter that loses the race reads nothing more: the failed write returns the holder', async () => {
    // Both processes read the free env, then write; the loser's conditional write fails and
    // carries the winner's row, so it reports the holder without another GetItem.
    const start = proxy.log.length
    const racers = await Promise.all(
      ['carol', 'dave', 'erin', 'frank'].map((user) => runJson(['locks', 'lock', '--env', 'race', '--user', user, '--no-wait'], { env })),
    )
    const operations = proxy.log.slice(start).map((entry) => entry.operation)
    assert.equal(racers.filter((r) => r.code === 0).length, 1)
    assert.ok(operations.length <= racers.length * 2, operations.join(' '))
    assert.ok(operations.every((op) => op === 'GetItem' || op === 'TransactWriteItems'), operations.join(' '))
  })

  it('locks history --limit 5 is one Query after hundreds of holds', async () => {
    const HOLDS = 250
    const ids = []
    for (let n = 0; n < HOLDS; n++) {
      const user = `user${n % 3}`
      ids.push((await daplaya.lock({ ...options, env: 'busy', user })).id)
      await daplaya.release({ ...options, env: 'busy', user })
    }
    const { result, operations } = await requestsOf(['locks', 'history', '--env', 'busy', '--limit', '5', '--json'])
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(operations, ['Query'])
    const newest = JSON.parse(result.stdout)
    assert.deepEqual(newest.map((h) => h.id), ids.slice(-5).reverse())
    assert.ok(newest.every((h) => h.end === 'released'))
  })
})
