'use strict'
// Clients whose clocks are 30 minutes fast or slow, under libfaketime (Debian's `faketime`),
// against DynamoDB Local on the true clock: exclusion and lease lengths follow DynamoDB's
// clock, not the clients'.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { STORES, baseEnv, run, runJson, sleep, tempDir } = require('./helpers.js')

const LIBFAKETIME = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib', '/usr/local/lib']
  .map((dir) => `${dir}/faketime/libfaketime.so.1`)
  .find((file) => fs.existsSync(file))
const dynamodb = STORES.find((s) => s.name === 'dynamodb')
const skip = dynamodb.skip || (!LIBFAKETIME && 'libfaketime is not installed (apt-get install faketime)')

/** The environment of a client whose wall clock is off by `offset` ('+30m', '-30m'). */
function skewed(env, offset) {
  // Only the wall clock: timers and the monotonic clock stay true, as on a real skewed machine.
  return { ...env, LD_PRELOAD: LIBFAKETIME, FAKETIME: offset, DONT_FAKE_MONOTONIC: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1' }
}

const HOLD = `process.on('SIGTERM', () => process.exit(0)); process.stderr.write('ready ' + Date.now() + '\\n'); setTimeout(() => {}, 60_000)`

describe('clients with skewed clocks on DynamoDB', { skip }, () => {
  it('libfaketime really moves the clocks of Node and of the addon here, and not the store clock', async () => {
    const { env } = await dynamodb.fresh()
    for (const [offset, minutes] of [
      ['+30m', 30],
      ['-30m', -30],
    ]) {
      const shift = minutes * 60_000
      const before = Date.now()
      const node = execFileSync(process.execPath, ['-e', 'console.log(Date.now())'], { env: skewed(baseEnv(), offset), encoding: 'utf8' })
      assert.ok(Math.abs(Number(node) - before - shift) < 10_000, `Node under ${offset}: ${node}`)
      // The embedded store stamps from the addon's wall clock (SystemTime): shifted too.
      const local = await runJson(['locks', 'lock', '--env', 'probe', '--user', 'alice', '--store', `sqlite:${path.join(tempDir(), 'x.db')}`], {
        env: skewed({}, offset),
      })
      assert.ok(Math.abs(local.json.createdAt - before - shift) < 10_000, `addon under ${offset}: ${local.json.createdAt - before} ms`)
      // DynamoDB's clock is the true one, and the DynamoDB store stamps from it.
      const shared = await runJson(['locks', 'lock', '--env', 'probe', '--user', `alice${minutes}`, '--ttl', '1m'], { env: skewed(env, offset) })
      assert.equal(shared.code, 0, shared.stderr)
      assert.ok(Math.abs(shared.json.createdAt - before) < 10_000, `stamped ${shared.json.createdAt - before} ms off DynamoDB's clock`)
      await run(['locks', 'release', '--env', 'probe', '--user', `alice${minutes}`], { env })
    }
  })

  it("a skewed client can neither take nor release someone else's live lock", async () => {
    const { env } = await dynamodb.fresh()
    const held = await runJson(['locks', 'lock', '--env', 'prod', '--user', 'alice', '--ttl', '20m'], { env })
    assert.equal(held.code, 0, held.stderr)
    for (const offset of ['+30m', '-30m']) {
      const taken = await run(['locks', 'lock', '--env', 'prod', '--user', 'bob', '--no-wait'], { env: skewed(env, offset) })
      assert.equal(taken.code, 3, `${offset}: ${taken.stderr}`)
      const ran = await run(['locks', 'run', '--env', 'prod', '--user', 'bob', '--no-wait', '--', process.execPath, '-e', 'console.log("RAN")'], {
        env: skewed(env, offset),
      })
      assert.equal(ran.code, 3, `${offset}: ${ran.stderr}`)
      const released = await runJson(['locks', 'release', '--env', 'prod', '--user', 'bob'], { env: skewed(env, offset) })
      assert.deepEqual([released.json.released, released.json.reason], [false, 'heldByOther'], offset)
    }
    const list = await runJson(['locks', 'list'], { env })
    assert.deepEqual(list.json.map((l) => [l.user, l.id, l.expiresAt]), [['alice', held.json.id, held.json.expiresAt]])
  })

  it('a skewed client releasing from the copy its machine kept stamps the release on DynamoDB\'s clock', async () => {
    for (const offset of ['+30m', '-30m']) {
      const { env } = await dynamodb.fresh()
      const held = await runJson(['locks', 'lock', '--env', 'prod', '--user', 'alice'], { env })
      assert.equal(held.code, 0, held.stderr)
      await sleep(1500)
      const before = Date.now()
      const released = await runJson(['locks', 'release', '--env', 'prod', '--user', 'alice'], { env: skewed(env, offset) })
      const after = Date.now()
      assert.equal(released.code, 0, released.stderr)
      const { lock } = released.json
      assert.equal(lock.id, held.json.id)
      assert.ok(lock.updatedAt >= before - 1000 && lock.updatedAt <= after + 2000, `${offset}: released ${lock.updatedAt - before} ms off DynamoDB's clock`)
      const history = await runJson(['locks', 'history', '--env', 'prod'], { env })
      assert.deepEqual([history.json[0].end, history.json[0].endedAt], ['released', lock.updatedAt], offset)
    }
  })

  for (const [holderOffset, takerOffset] of [
    ['+30m', '-30m'],
    ['-30m', '+30m'],
  ]) {
    it(`a holder ${holderOffset} keeps its lease for its --ttl as a taker ${takerOffset} sees it`, async () => {
      const { env } = await dynamodb.fresh()
      const ttl = 4000
      const before = Date.now()
      const held = await runJson(['locks', 'lock', '--env', 'prod', '--user', 'alice', '--ttl', `${ttl}ms`], { env: skewed(env, holderOffset) })
      const after = Date.now()
      assert.equal(held.code, 0, held.stderr)
      // Stamped from the latest reading of DynamoDB's clock: never short, at most its uncertainty
      // (a second of Date resolution, a round trip) long, whatever the holder's clock says.
      assert.ok(held.json.expiresAt >= before + ttl && held.json.expiresAt <= after + ttl + 1500, `expiresAt ${held.json.expiresAt - before} ms after the lock`)
      const taken = await runJson(['locks', 'lock', '--env', 'prod', '--user', 'bob', '--poll-interval', '100ms', '--timeout', '30s'], { env: skewed(env, takerOffset) })
      const tookMs = Date.now() - before
      assert.equal(taken.code, 0, taken.stderr)
      assert.ok(taken.json.fencingToken > held.json.fencingToken, 'fencing tokens increase')
      // Not shortened by the skew (the lease lasted), not lengthened by it (taken promptly). The
      // bounds are loose: only a skew of minutes, not a second of scheduling, may fail them.
      assert.ok(tookMs >= ttl, `taken after ${tookMs} ms: the lease was cut short`)
      assert.ok(tookMs < ttl + 10_000, `taken after ${tookMs} ms: the lease was stretched`)
    })
  }

  it('a skewed holder renews its lease as others see it, cannot renew over a new holder, and a skewed taker takes over promptly', { timeout: 90_000 }, async () => {
    const { env } = await dynamodb.fresh()
    let ready
    const readyAt = new Promise((resolve) => (ready = resolve))
    const holder = run(['locks', 'run', '--env', 'prod', '--user', 'alice', '--ttl', '2s', '--', process.execPath, '-e', HOLD], {
      env: skewed(env, '-30m'),
      onStderr: (text, child) => /ready/.test(text) && ready(child),
    })
    const child = await readyAt
    await sleep(3500)
    const busy = await run(['locks', 'lock', '--env', 'prod', '--user', 'bob', '--no-wait'], { env })
    assert.equal(busy.code, 3, `renewed past its first --ttl as the true clock sees it: ${busy.stderr}`)
    process.kill(child.pid, 'SIGSTOP')
    let taken
    try {
      const stoppedAt = Date.now()
      taken = await runJson(['locks', 'lock', '--env', 'prod', '--user', 'bob', '--ttl', '1m', '--poll-interval', '100ms', '--timeout', '30s'], { env: skewed(env, '+30m') })
      assert.equal(taken.code, 0, taken.stderr)
      assert.ok(Date.now() - stoppedAt < 2000 + 10_000, `taken ${Date.now() - stoppedAt} ms after the holder stopped`)
    } finally {
      process.kill(child.pid, 'SIGCONT')
    }
    const done = await holder
    assert.equal(done.code, 1, done.stderr)
    // Resumed past its lease, it asks the store once: either the answer (bob has it) or, on a
    // machine too loaded to answer within the budget, the lease it can no longer confirm, stops it.
    assert.match(done.stderr, /^error: (lost the lock on prod to bob|could not renew the lock on prod before its lease ran out \(.*\)); stopping the command$/m)
    const list = await runJson(['locks', 'list'], { env })
    assert.deepEqual(list.json.map((l) => [l.user, l.id]), [['bob', taken.json.id]], 'bob keeps the lock')
  })
})
