'use strict'
// The programmatic API (`require('daplaya')`), run unchanged against each store: the same
// semantics as the CLI, errors with a stable `code`.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const daplaya = require('..')
const { STORES, sleep } = require('./helpers.js')

async function rejectsWith(promise, code) {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof Error)
    assert.equal(error.code, code, error.message)
    assert.ok(!error.message.startsWith('['), 'the code prefix is stripped')
    return true
  })
}

for (const store of STORES) {
  describe(`API on ${store.name}`, { skip: store.skip }, () => {
    it('exports typed functions', () => {
      for (const name of ['init', 'listLocks', 'lock', 'release', 'startJob', 'getJob', 'endJob', 'activeJobs', 'skippedJobs']) {
        assert.equal(typeof daplaya[name], 'function', name)
      }
    })

    it('lock, renew, busy, release', async () => {
      const { options } = await store.fresh()
      const held = await daplaya.lock({ ...options, env: 'Prod', user: 'Alice', ttl: '1m' })
      assert.equal(held.outcome, 'acquired')
      assert.equal(held.meta, 'API')
      assert.equal(held.expiresAt - held.updatedAt, 60_000)
      const renewed = await daplaya.lock({ ...options, env: 'prod', user: 'alice', ttl: 120_000 })
      assert.equal(renewed.outcome, 'renewed')
      assert.equal(renewed.id, held.id)
      await rejectsWith(daplaya.lock({ ...options, env: 'prod', user: 'bob', noWait: true }), 'LOCK_BUSY')
      await rejectsWith(daplaya.lock({ ...options, env: 'prod', user: 'bob', timeout: 300, pollInterval: 100 }), 'LOCK_BUSY')
      assert.deepEqual((await daplaya.listLocks(options)).map((l) => l.id), [held.id])
      const released = await daplaya.release({ ...options, env: 'prod', user: 'alice' })
      assert.equal(released.released, true)
      assert.deepEqual(await daplaya.listLocks({ ...options, env: 'prod' }), [])
    })

    it('uberlock: preempts, refuses others, needs the flag to release', async () => {
      const { options } = await store.fresh()
      const normal = await daplaya.lock({ ...options, env: 'prod', user: 'alice' })
      const uber = await daplaya.lock({ ...options, env: 'prod', user: 'bob', uberlock: true })
      assert.equal(uber.outcome, 'preempted')
      assert.equal(uber.preemptedUser, 'alice')
      assert.ok(uber.fencingToken > normal.fencingToken)
      await rejectsWith(daplaya.lock({ ...options, env: 'prod', user: 'alice' }), 'UBERLOCKED')
      await rejectsWith(daplaya.release({ ...options, env: 'prod', user: 'bob' }), 'INVALID_ARGUMENT')
      assert.equal((await daplaya.release({ ...options, env: 'prod', user: 'bob', uberlock: true })).released, true)
    })

    it('many concurrent lock calls: exactly one holder', async () => {
      const { options } = await store.fresh()
      const attempts = await Promise.allSettled(
        Array.from({ length: 12 }, (_, i) => daplaya.lock({ ...options, env: 'race', user: `user${i}`, noWait: true })),
      )
      const winners = attempts.filter((a) => a.status === 'fulfilled')
      assert.equal(winners.length, 1)
      for (const loser of attempts.filter((a) => a.status === 'rejected')) assert.equal(loser.reason.code, 'LOCK_BUSY')
      const [held] = await daplaya.listLocks({ ...options, env: 'race' })
      assert.equal(held.user, winners[0].value.user)
    })

    it('jobs: start, get, end, active, skipped', async () => {
      const { options } = await store.fresh()
      const job = await daplaya.startJob({ ...options, jobname: 'deploy', user: 'Alice', gitversion: 'sha1' })
      assert.equal(job.user, 'alice')
      assert.equal(job.ended, null)
      assert.deepEqual(await daplaya.getJob({ ...options, jobname: 'deploy', gitversion: 'sha1' }), job)
      assert.deepEqual((await daplaya.activeJobs({ ...options, jobname: 'deploy' })).map((j) => j.id), [job.id])
      const ended = await daplaya.endJob({ ...options, gitversion: 'sha1', skipped: true })
      assert.equal(ended.changed, true)
      assert.equal((await daplaya.endJob({ ...options, gitversion: 'sha1' })).changed, false)
      assert.deepEqual((await daplaya.skippedJobs({ ...options, jobname: 'deploy', ttl: '1h' })).map((j) => j.id), [job.id])
      await sleep(50)
      assert.deepEqual(await daplaya.skippedJobs({ ...options, jobname: 'deploy', ttl: 20 }), [])
      await rejectsWith(daplaya.getJob({ ...options, jobname: 'deploy', gitversion: 'nope' }), 'NOT_FOUND')
    })

    it('bad options reject with INVALID_ARGUMENT and store nothing', async () => {
      const { options } = await store.fresh()
      await rejectsWith(daplaya.lock({ ...options, user: 'u' }), 'INVALID_ARGUMENT')
      await rejectsWith(daplaya.lock({ ...options, env: 'e', user: 'u', ttl: 'forever' }), 'INVALID_ARGUMENT')
      await rejectsWith(daplaya.lock({ ...options, env: 'e', user: 'u', ttl: -1 }), 'INVALID_ARGUMENT')
      await rejectsWith(daplaya.lock({ ...options, env: 'e', user: 'u', uberlock: 'yes' }), 'INVALID_ARGUMENT')
      await rejectsWith(daplaya.lock({ ...options, env: 'e', user: 'u', noWait: true, timeout: 5 }), 'INVALID_ARGUMENT')
      await rejectsWith(daplaya.startJob({ ...options, jobname: 'j', user: 'u' }), 'INVALID_ARGUMENT')
      assert.deepEqual(await daplaya.listLocks(options), [])
    })
  })
}
