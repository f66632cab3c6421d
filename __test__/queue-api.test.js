'use strict'
// The deploy queue through the Node API (`require('daplaya')`), on each store: `onWait` is
// called from Rust at each poll with the place in line, `env` takes an array (all or none, one
// result per env), `supersede` rejects with SUPERSEDED, and an abort or a throwing `onWait`
// leaves the line at once.
const { describe, it, afterEach } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const daplaya = require('..')
const { STORES, start, stopStarted, tempDir, sleep, until } = require('./helpers.js')

afterEach(stopStarted)

const POLL = 100

/** The users in line for `env`, in serving order. */
async function line(options, env) {
  const [held] = await daplaya.listLocks({ ...options, env })
  return (held?.queue ?? []).map((waiting) => waiting.user)
}

const untilLine = (options, env, users) => until(() => line(options, env), users, `${users.join(', ')} in line for ${env}`)

async function rejectsWith(promise, code) {
  return assert.rejects(promise, (error) => {
    assert.equal(error.code, code, error.message)
    return true
  })
}

for (const store of STORES) {
  describe(`deploy queue through the API on ${store.name}`, { skip: store.skip }, () => {
    it('onWait is called at each poll with the place in line, the holder and the time waited', async () => {
      const { options, env } = await store.fresh()
      await daplaya.lock({ ...options, env: 'q', user: 'alice', meta: 'https://ci/1' })
      // Someone else waits first, in another process.
      const file = path.join(tempDir(), 'ran')
      // bob holds the env half a second, long enough for carol to see herself next behind him.
      const bobsDeploy = `require('fs').writeFileSync(${JSON.stringify(file)}, 'x'); setTimeout(() => {}, 500)`
      start(['locks', 'run', '--env', 'q', '--user', 'bob', '--poll-interval', '100ms', '--', process.execPath, '-e', bobsDeploy], { env })
      await untilLine(options, 'q', ['bob'])
      const seen = []
      const taken = daplaya.lock({
        ...options,
        env: 'q',
        user: 'carol',
        pollInterval: POLL,
        onWait: (progress) => seen.push(progress),
      })
      await untilLine(options, 'q', ['bob', 'carol'])
      while (seen.length < 3) await sleep(20)
      const progress = seen.at(-1)
      assert.deepEqual(
        { envs: progress.envs, position: progress.position, waiting: progress.waiting, rejoined: progress.rejoined },
        { envs: ['q'], position: 2, waiting: 2, rejoined: false },
      )
      assert.deepEqual(
        progress.holders.map(({ env: name, user, meta }) => ({ env: name, user, meta })),
        [{ env: 'q', user: 'alice', meta: 'https://ci/1' }],
      )
      assert.equal(typeof progress.holders[0].expiresAt, 'number')
      assert.ok(seen.every((p, i) => i === 0 || p.waitedMs >= seen[i - 1].waitedMs), 'time waited grows')
      await daplaya.release({ ...options, env: 'q', user: 'alice' })
      const held = await taken
      assert.equal(held.user, 'carol')
      assert.ok(fs.existsSync(file), 'bob, first in line, was served first')
      // Between bob's turn and carol's, carol was next: position 1, the env held by bob.
      assert.ok(
        seen.some((p) => p.position === 1 && p.holders.some((h) => h.user === 'bob')),
        JSON.stringify(seen.map((p) => [p.position, p.holders.map((h) => h.user)])),
      )
    })

    it('env as an array: all or none, one result per env in order; release takes an array too', async () => {
      const { options } = await store.fresh()
      const bob = await daplaya.lock({ ...options, env: 'us', user: 'bob' })
      await rejectsWith(daplaya.lock({ ...options, env: ['eu', 'us'], user: 'alice', noWait: true }), 'LOCK_BUSY')
      assert.deepEqual(
        (await daplaya.listLocks(options)).map((l) => `${l.env}:${l.user}`),
        ['us:bob'],
      )
      await daplaya.release({ ...options, env: 'us', user: 'bob' })
      const locks = await daplaya.lock({ ...options, env: ['US', 'eu'], user: 'alice' })
      assert.ok(Array.isArray(locks))
      assert.deepEqual(
        locks.map((l) => [l.env, l.outcome]),
        [
          ['us', 'acquired'],
          ['eu', 'acquired'],
        ],
      )
      // Each token is the acquisition's stamp, above the env's previous one.
      assert.ok(locks.every((l) => l.fencingToken === l.createdAt), JSON.stringify(locks))
      assert.ok(locks[0].fencingToken > bob.fencingToken)
      assert.ok(!('userSource' in locks[0]), 'a given user has no userSource')
      process.env.DAPLAYA_USER = 'Dora'
      try {
        const defaulted = await daplaya.lock({ ...options, env: ['ap', 'sa'] })
        assert.deepEqual(
          defaulted.map((l) => [l.env, l.user, l.userSource]),
          [
            ['ap', 'dora', 'DAPLAYA_USER'],
            ['sa', 'dora', 'DAPLAYA_USER'],
          ],
          'each result of a list says where a defaulted user came from',
        )
        await daplaya.release({ ...options, env: ['ap', 'sa'] })
      } finally {
        delete process.env.DAPLAYA_USER
      }
      const one = await daplaya.lock({ ...options, env: ['eu'], user: 'alice' })
      assert.deepEqual(
        one.map((l) => [l.env, l.outcome]),
        [['eu', 'renewed']],
        'an array of one answers with an array',
      )
      const released = await daplaya.release({ ...options, env: ['eu', 'us', 'ap'], user: 'alice' })
      assert.deepEqual(
        released.map((r) => [r.released, r.reason]),
        [
          [true, null],
          [true, null],
          [false, 'notLocked'],
        ],
      )
      await rejectsWith(daplaya.lock({ ...options, env: [], user: 'alice' }), 'INVALID_ARGUMENT')
      await rejectsWith(daplaya.lock({ ...options, env: ['eu', 'EU'], user: 'alice' }), 'INVALID_ARGUMENT')
      await rejectsWith(daplaya.lock({ ...options, env: 42, user: 'alice' }), 'INVALID_ARGUMENT')
    })

    it('supersede: true rejects with SUPERSEDED when a newer waiter joins; runLocked runs nothing', async () => {
      const { options } = await store.fresh()
      await daplaya.lock({ ...options, env: 'q', user: 'c1' })
      const file = path.join(tempDir(), 'ran')
      const c2 = daplaya.runLocked({ ...options, env: 'q', user: 'c2', supersede: true, pollInterval: POLL }, [
        process.execPath,
        '-e',
        `require('fs').writeFileSync(${JSON.stringify(file)}, 'x')`,
      ])
      await untilLine(options, 'q', ['c2'])
      const c3 = daplaya.lock({ ...options, env: 'q', user: 'c3', meta: 'https://ci/3', pollInterval: POLL })
      await assert.rejects(c2, (error) => {
        assert.equal(error.code, 'SUPERSEDED')
        assert.match(error.message, /c3/)
        assert.match(error.message, /https:\/\/ci\/3/)
        return true
      })
      assert.ok(!fs.existsSync(file), 'the command never ran')
      assert.deepEqual(await line(options, 'q'), ['c3'])
      await daplaya.release({ ...options, env: 'q', user: 'c1' })
      assert.equal((await c3).user, 'c3')
    })

    it('runLocked of several envs holds them all and resolves to { exitCode, locks }', async () => {
      const { options } = await store.fresh()
      const file = path.join(tempDir(), 'tokens')
      const ran = await daplaya.runLocked({ ...options, env: ['eu', 'us'], user: 'u' }, [
        process.execPath,
        '-e',
        `require('fs').writeFileSync(${JSON.stringify(file)}, String(process.env.DAPLAYA_FENCING_TOKENS) + ' ' + String(process.env.DAPLAYA_FENCING_TOKEN))`,
      ])
      assert.equal(ran.exitCode, 0)
      assert.deepEqual(
        ran.locks.map((l) => [l.env, l.active]),
        [
          ['eu', false],
          ['us', false],
        ],
      )
      const [eu, us] = ran.locks.map((l) => l.fencingToken)
      assert.equal(fs.readFileSync(file, 'utf8'), `eu=${eu},us=${us} undefined`)
      const single = await daplaya.runLocked({ ...options, env: 'eu', user: 'u' }, ['true'])
      assert.deepEqual([single.exitCode, 'locks' in single], [0, false])
      assert.ok(single.lock.fencingToken > eu, 'fencing tokens increase')
    })

    it('an aborted wait leaves the line at once', async () => {
      const { options } = await store.fresh()
      await daplaya.lock({ ...options, env: 'q', user: 'alice' })
      const controller = new AbortController()
      const waiting = daplaya.lock({ ...options, env: 'q', user: 'bob', pollInterval: POLL, signal: controller.signal })
      await untilLine(options, 'q', ['bob'])
      controller.abort()
      await assert.rejects(waiting, (error) => error.name === 'AbortError')
      assert.deepEqual(await line(options, 'q'), [])
    })

    it('a throw in onWait ends the wait, leaves the line, and rejects with what was thrown', async () => {
      const { options } = await store.fresh()
      await daplaya.lock({ ...options, env: 'q', user: 'alice' })
      const thrown = new Error('enough waiting')
      let calls = 0
      const waiting = daplaya.lock({
        ...options,
        env: 'q',
        user: 'bob',
        pollInterval: POLL,
        onWait: () => {
          calls += 1
          if (calls === 2) throw thrown
        },
      })
      await assert.rejects(waiting, (error) => error === thrown)
      assert.deepEqual(await line(options, 'q'), [])
      await rejectsWith(daplaya.lock({ ...options, env: 'q', user: 'bob', onWait: 'not a function' }), 'INVALID_ARGUMENT')
    })
  })
}
