'use strict'
// What each command costs on DynamoDB, counted by a proxy in front of it: no command scans,
// an uncontended lock is one request, and a lock that finds the env taken learns the holder
// from its failed write itself. Recording the lock history adds no request: the
// hold rows ride in the lock row's write (one TransactWriteItems), and reading the newest holds
// is one Query however long the history.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
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

  async function requestsOf(args, extraEnv = {}) {
    const start = proxy.log.length
    const result = await run(args, { env: { ...env, ...extraEnv } })
    return { result, operations: proxy.log.slice(start).map((entry) => entry.operation) }
  }

  // The requests each decision makes, in one place: when the write shape changes, change them
  // here. A lock writes first, unread: one TransactWriteItems (the lock row, conditional on the
  // env being free with nobody in line, and its hold row). When the env is not free, that write
  // fails and carries the row, and the lock decides on it (a renewal by its holder writes once
  // more). A release on the machine that took the lock writes on the copy it kept, unread, in
  // one TransactWriteItems; elsewhere it reads the row first. The process holding a lock
  // (`locks run`) renews and releases it with a write on the revision it last wrote.
  const LOCK = ['TransactWriteItems']
  const LOCK_BY_ITS_HOLDER = ['TransactWriteItems', 'TransactWriteItems']
  const LOCK_HELD_ELSEWHERE = ['TransactWriteItems']
  const RELEASE = ['TransactWriteItems']
  const RELEASE_ELSEWHERE = ['GetItem', 'TransactWriteItems']
  const RELEASE_SEVERAL_ELSEWHERE = ['BatchGetItem', 'TransactWriteItems']
  const RELEASE_NOT_HELD = ['GetItem']
  const RENEWAL = ['TransactWriteItems']
  const RELEASE_BY_HOLDER = ['TransactWriteItems']
  // A release from a machine that did not take the lock (it keeps no copy of it).
  const ELSEWHERE = { DAPLAYA_STATE_DIR: '' }

  // Every command, in order (each row may rely on the rows above it): arguments, exit code,
  // requests. Counted exactly, as the operations the proxy saw, never timed.
  const cases = [
    ['lock, uncontended', ['locks', 'lock', '--env', 'prod', '--user', 'alice'], 0, LOCK],
    ['lock again by its holder (a renewal from a new process)', ['locks', 'lock', '--env', 'prod', '--user', 'alice'], 0, LOCK_BY_ITS_HOLDER],
    ['lock on a held env, --no-wait', ['locks', 'lock', '--env', 'prod', '--user', 'bob', '--no-wait'], 3, LOCK_HELD_ELSEWHERE],
    ['list one env', ['locks', 'list', '--env', 'prod'], 0, ['GetItem']],
    // The ActiveLocks index's `active` partition (held envs) and its `queued` one (free envs
    // that others wait for).
    ['list every env', ['locks', 'list'], 0, ['Query', 'Query']],
    ['release', ['locks', 'release', '--env', 'prod', '--user', 'alice'], 0, RELEASE],
    ['release what is not held (first spec\'s form)', ['release', '--env', 'prod', '--user', 'alice'], 0, RELEASE_NOT_HELD],
    ['uberlock', ['locks', 'lock', '--env', 'frozen', '--user', 'alice', '--uberlock'], 0, LOCK],
    ['release an uberlock', ['locks', 'release', '--env', 'frozen', '--user', 'alice', '--uberlock'], 0, RELEASE],
    ['lock several envs, uncontended', ['locks', 'lock', '--env', 'eu', '--env', 'us', '--user', 'alice'], 0, LOCK],
    ['release several envs', ['locks', 'release', '--env', 'eu', '--env', 'us', '--user', 'alice'], 0, RELEASE],
    // Envs not written within the last second: a stamp from a known clock (the renewal's above)
    // may run up to a second ahead of this machine's, and a one-write lock stamped below the
    // env's last write reads it first.
    ['lock (to release elsewhere)', ['locks', 'lock', '--env', 'stage', '--user', 'alice'], 0, LOCK],
    ['release on another machine', ['locks', 'release', '--env', 'stage', '--user', 'alice'], 0, RELEASE_ELSEWHERE, ELSEWHERE],
    ['lock several envs (to release elsewhere)', ['locks', 'lock', '--env', 'asia', '--env', 'africa', '--user', 'alice'], 0, LOCK],
    ['release several envs on another machine', ['locks', 'release', '--env', 'asia', '--env', 'africa', '--user', 'alice'], 0, RELEASE_SEVERAL_ELSEWHERE, ELSEWHERE],
    ['history', ['locks', 'history', '--env', 'prod'], 0, ['Query']],
    ['jobs start', ['jobs', 'start', '--jobname', 'deploy', '--user', 'alice', '--gitversion', 'v1'], 0, ['PutItem']],
    ['jobs get', ['jobs', 'get', '--jobname', 'deploy', '--gitversion', 'v1'], 0, ['Query']],
    ['jobs active', ['jobs', 'active', '--jobname', 'deploy'], 0, ['Query']],
    ['jobs end', ['jobs', 'end', '--gitversion', 'v1'], 0, ['Query', 'UpdateItem']],
    ['jobs start (a second version)', ['jobs', 'start', '--jobname', 'deploy', '--user', 'alice', '--gitversion', 'v2'], 0, ['PutItem']],
    ['jobs end version, skipped', ['jobs', 'end', 'version', 'v2', '--skipped'], 0, ['Query', 'UpdateItem']],
    ['jobs skipped', ['jobs', 'skipped', '--jobname', 'deploy'], 0, ['Query']],
    ['completions (no store)', ['completions', 'bash'], 0, []],
  ]
  for (const [name, args, code, expected, extraEnv] of cases) {
    it(`${name}: ${expected.length} request(s)${expected.length ? `, ${expected.join(' + ')}` : ''}`, async () => {
      const { result, operations } = await requestsOf(args, extraEnv)
      assert.equal(result.code, code, result.stderr)
      assert.equal(operations.length, expected.length, `daplaya ${args.join(' ')} made ${operations.join(' + ') || 'no request'}`)
      assert.deepEqual(operations, expected)
    })
  }

  it('locks run: a lock, its renewals, a release by the holder', async () => {
    // --ttl 1500ms renews every 500 ms; the command outlives a few renewals. How many is up to
    // the clock; each being one request, and the lock and release around them, is not.
    const sleep = `setTimeout(() => {}, 1700)`
    const { result, operations } = await requestsOf(['locks', 'run', '--env', 'ran', '--user', 'alice', '--ttl', '1500ms', '--', process.execPath, '-e', sleep])
    assert.equal(result.code, 0, result.stderr)
    const renewals = operations.slice(LOCK.length, operations.length - RELEASE_BY_HOLDER.length)
    assert.deepEqual(operations.slice(0, LOCK.length), LOCK, operations.join(' '))
    assert.deepEqual(operations.slice(operations.length - RELEASE_BY_HOLDER.length), RELEASE_BY_HOLDER, operations.join(' '))
    assert.ok(renewals.length >= RENEWAL.length, `no renewal in ${operations.join(' ')}`)
    assert.equal(renewals.length % RENEWAL.length, 0, operations.join(' '))
    for (let i = 0; i < renewals.length; i += RENEWAL.length) {
      assert.deepEqual(renewals.slice(i, i + RENEWAL.length), RENEWAL, operations.join(' '))
    }
  })

  it('a copy of the lock that cannot be read costs a read, never the release', async () => {
    const held = await runJson(['locks', 'lock', '--env', 'garbled', '--user', 'alice'], { env })
    assert.equal(held.code, 0, held.stderr)
    const dir = process.env.DAPLAYA_STATE_DIR
    const copies = fs.readdirSync(dir).filter((name) => name.startsWith('held-'))
    assert.ok(copies.length > 0, 'the lock left a copy')
    for (const name of copies) fs.writeFileSync(path.join(dir, name), '{"id": ')
    const { result, operations } = await requestsOf(['locks', 'release', '--env', 'garbled', '--user', 'alice', '--json'])
    assert.equal(result.code, 0, result.stderr)
    const released = JSON.parse(result.stdout)
    assert.deepEqual([released.released, released.lock.id], [true, held.json.id])
    assert.deepEqual(operations, RELEASE_ELSEWHERE)
  })

  it('a locker that loses the race reads nothing more: the failed write returns the holder', async () => {
    // Every process writes at once; the losers' conditional writes fail and carry the winner's
    // row, so they report the holder without a GetItem.
    const start = proxy.log.length
    const racers = await Promise.all(
      ['carol', 'dave', 'erin', 'frank'].map((user) => runJson(['locks', 'lock', '--env', 'race', '--user', user, '--no-wait'], { env })),
    )
    const operations = proxy.log.slice(start).map((entry) => entry.operation)
    assert.equal(racers.filter((r) => r.code === 0).length, 1)
    // A write that collided with the winner's transaction in flight (TransactionConflict, not a
    // failed condition) carries no row: that loser reads it once.
    assert.equal(operations.filter((op) => op === 'TransactWriteItems').length, racers.length, operations.join(' '))
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
