'use strict'
// The programmatic API (`require('daplaya')`), run unchanged against each store: the same
// semantics as the CLI, errors with a stable `code`.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const daplaya = require('..')
const { STORES, runJson, sleep, tempDir } = require('./helpers.js')

/** Rejects as Node's own APIs do when their `signal` aborts. */
async function rejectsAborted(promise, reason) {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof Error)
    assert.equal(error.name, 'AbortError')
    assert.equal(error.code, 'ABORT_ERR')
    assert.equal(error.cause, reason)
    return true
  })
}

/** Resolves once `file` exists. */
async function appears(file) {
  while (!fs.existsSync(file)) await sleep(20)
}

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
      for (const name of ['init', 'listLocks', 'lockHistory', 'lock', 'release', 'startJob', 'getJob', 'endJob', 'activeJobs', 'skippedJobs']) {
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

    it('lock refusals carry who is in the way, until when, why and who waits', async () => {
      const { options } = await store.fresh()
      const held = await daplaya.lock({ ...options, env: 'prod', user: 'alice', meta: 'https://ci/42', ttl: '10m' })
      const waiter = daplaya.lock({ ...options, env: 'prod', user: 'carol', meta: 'deploy 7', pollInterval: 200, timeout: '1m' })
      while (!(await daplaya.listLocks(options))[0].queue) await sleep(50)
      const [listed] = await daplaya.listLocks(options)
      await assert.rejects(daplaya.lock({ ...options, env: 'prod', user: 'bob', noWait: true }), (error) => {
        assert.equal(error.code, 'LOCK_BUSY')
        assert.match(error.message, /^prod is locked by alice until \d\d:\d\d:\d\d, in (10m|9m\d+s) \(meta: https:\/\/ci\/42\); 1 waiting in line$/)
        assert.deepEqual([error.env, error.waitedMs], ['prod', null])
        assert.deepEqual(error.holder, listed)
        assert.equal(error.holder.expiresAt, held.expiresAt)
        assert.deepEqual(error.queue.map((w) => [w.user, w.meta]), [['carol', 'deploy 7']])
        return true
      })
      await assert.rejects(daplaya.lock({ ...options, env: 'prod', user: 'bob', timeout: 300, pollInterval: 100 }), (error) => {
        assert.equal(error.code, 'LOCK_BUSY')
        assert.match(error.message, /^gave up waiting for prod after \d+ms: locked by alice until /)
        assert.ok(error.waitedMs >= 300, String(error.waitedMs))
        assert.deepEqual(error.queue.map((w) => w.user), ['carol'], 'the line without the call itself')
        return true
      })
      await daplaya.release({ ...options, env: 'prod', user: 'alice' })
      assert.equal((await waiter).user, 'carol')
      await daplaya.lock({ ...options, env: 'prod', user: 'carol', uberlock: true, meta: 'INC-42' })
      await assert.rejects(daplaya.lock({ ...options, env: 'prod', user: 'bob' }), (error) => {
        assert.equal(error.code, 'UBERLOCKED')
        assert.equal(error.message, 'prod is uberlocked (ノ≥∇≤)ノ by carol (meta: INC-42)')
        assert.deepEqual([error.env, error.holder.user, error.holder.meta, error.holder.expiresAt], ['prod', 'carol', 'INC-42', null])
        return true
      })
      // Other errors carry only code and message.
      await assert.rejects(daplaya.getJob({ ...options, jobname: 'j', gitversion: 'v' }), (error) => {
        assert.deepEqual(Object.keys(error).sort(), ['code'])
        return true
      })
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
    it('unknown option keys are refused, named, and nothing waits or is stored', async () => {
      const { options } = await store.fresh()
      await daplaya.lock({ ...options, env: 'prod', user: 'alice' })
      // Misspelt timeout on a held env: refused at once instead of waiting forever.
      await assert.rejects(daplaya.lock({ ...options, env: 'prod', user: 'bob', timout: '3s' }), {
        code: 'INVALID_ARGUMENT',
        message: "unknown option 'timout' (did you mean 'timeout'?)",
      })
      const calls = [
        () => daplaya.init({ ...options, force: true }),
        () => daplaya.listLocks({ ...options, environment: 'prod' }),
        () => daplaya.release({ ...options, env: 'prod', user: 'alice', uberLock: true }),
        () => daplaya.runLocked({ ...options, env: 'prod', user: 'alice', noWiat: true }, [process.execPath, '-e', '']),
        () => daplaya.startJob({ ...options, jobname: 'j', user: 'u', gitversion: 'v', gitVersion: 'v' }),
        () => daplaya.getJob({ ...options, jobname: 'j', gitversion: 'v', skipped: true }),
        () => daplaya.endJob({ ...options, gitversion: 'v', ttl: '1h' }),
        () => daplaya.activeJobs({ ...options, jobname: 'j', window: '1h' }),
        () => daplaya.handleSlackCommand({ headers: {}, body: '' }, { ...options, signingSecret: 's', secret: 's' }),
      ]
      for (const [i, call] of calls.entries()) {
        await assert.rejects(call(), (error) => {
          assert.equal(error.code, 'INVALID_ARGUMENT', `call ${i}: ${error.message}`)
          assert.match(error.message, /^unknown option '(force|environment|uberLock|noWiat|gitVersion|skipped|ttl|window|secret)'/)
          return true
        })
      }
      // `signal` belongs to the calls that wait.
      await rejectsWith(daplaya.release({ ...options, env: 'prod', user: 'alice', signal: new AbortController().signal }), 'INVALID_ARGUMENT')
      await rejectsWith(daplaya.lock({ ...options, env: 'prod', user: 'bob', signal: 'stop' }), 'INVALID_ARGUMENT')
      const [held] = await daplaya.listLocks(options)
      assert.equal(held.user, 'alice')
      await rejectsWith(daplaya.getJob({ ...options, jobname: 'j', gitversion: 'v' }), 'NOT_FOUND')
    })

    it('abort while waiting: rejects with AbortError at once, takes nothing', { timeout: 60_000 }, async () => {
      const { options } = await store.fresh()
      const held = await daplaya.lock({ ...options, env: 'prod', user: 'alice' })
      const controller = new AbortController()
      // The next attempt would come in an hour: only the abort can end this wait.
      const waiting = daplaya.lock({ ...options, env: 'prod', user: 'bob', pollInterval: '1h', signal: controller.signal })
      await sleep(200)
      const reason = new Error('deploy cancelled')
      controller.abort(reason)
      await rejectsAborted(waiting, reason)
      assert.deepEqual((await daplaya.listLocks(options)).map((l) => [l.user, l.id]), [['alice', held.id]])
      await daplaya.release({ ...options, env: 'prod', user: 'alice' })
      assert.deepEqual(await daplaya.listLocks(options), [])
      // The aborted signal ends nothing else: bob's next lock gets the free env.
      assert.equal((await daplaya.lock({ ...options, env: 'prod', user: 'bob', noWait: true })).outcome, 'acquired')
    })

    it('an already-aborted signal rejects at once and touches nothing', async () => {
      const { options } = await store.fresh()
      const reason = new Error('too late')
      await rejectsAborted(daplaya.lock({ ...options, env: 'prod', user: 'bob', signal: AbortSignal.abort(reason) }), reason)
      const ran = path.join(tempDir(), 'ran')
      const command = [process.execPath, '-e', `require('node:fs').writeFileSync(${JSON.stringify(ran)}, '')`]
      await rejectsAborted(daplaya.runLocked({ ...options, env: 'prod', user: 'bob', signal: AbortSignal.abort(reason) }, command), reason)
      assert.equal(fs.existsSync(ran), false, 'the command never ran')
      assert.deepEqual(await daplaya.listLocks(options), [], 'the free env was not taken')
    })

    it('runLocked with signal: abort while waiting runs nothing; abort while running stops the command and releases', { timeout: 60_000 }, async () => {
      const { options } = await store.fresh()
      const dir = tempDir()
      const started = path.join(dir, 'started')
      const stopped = path.join(dir, 'stopped')
      // Says when it runs, and when SIGTERM reached it.
      const script = `const fs = require('node:fs')
        process.on('SIGTERM', () => { fs.writeFileSync(${JSON.stringify(stopped)}, ''); process.exit(143) })
        fs.writeFileSync(${JSON.stringify(started)}, '')
        setInterval(() => {}, 1000)`
      const command = [process.execPath, '-e', script]

      await daplaya.lock({ ...options, env: 'prod', user: 'alice' })
      const waitingController = new AbortController()
      const waiting = daplaya.runLocked({ ...options, env: 'prod', user: 'bob', pollInterval: '1h', signal: waitingController.signal }, command)
      await sleep(200)
      waitingController.abort()
      await rejectsAborted(waiting, waitingController.signal.reason)
      assert.equal(fs.existsSync(started), false, 'the command never ran')
      assert.deepEqual((await daplaya.listLocks(options)).map((l) => l.user), ['alice'])
      await daplaya.release({ ...options, env: 'prod', user: 'alice' })

      const runningController = new AbortController()
      const running = daplaya.runLocked({ ...options, env: 'prod', user: 'bob', signal: runningController.signal }, command)
      await appears(started)
      assert.deepEqual((await daplaya.listLocks(options)).map((l) => l.user), ['bob'])
      runningController.abort()
      await rejectsAborted(running, runningController.signal.reason)
      assert.equal(fs.existsSync(stopped), true, 'the command got SIGTERM')
      assert.deepEqual(await daplaya.listLocks(options), [], 'released once the command exited')
    })

    it('resolves to the documents --json prints', async () => {
      const { env, options } = await store.fresh()
      const cli = async (...args) => {
        const result = await runJson(args, { env })
        assert.equal(result.code, 0, result.stderr)
        return result.json
      }
      assert.deepEqual(await daplaya.init(options), await cli('init'))
      const held = await daplaya.lock({ ...options, env: 'prod', user: 'alice', meta: 'm' })
      const renewed = await cli('locks', 'lock', '--env', 'prod', '--user', 'alice', '--meta', 'm')
      assert.deepEqual(Object.keys(held), Object.keys(renewed))
      assert.deepEqual({ ...held, outcome: 'renewed', updatedAt: 0, expiresAt: 0 }, { ...renewed, updatedAt: 0, expiresAt: 0 })
      const uber = await daplaya.lock({ ...options, env: 'prod', user: 'bob', uberlock: true })
      assert.deepEqual([uber.outcome, uber.preemptedUser, uber.expiresAt], ['preempted', 'alice', null])
      assert.deepEqual(await daplaya.listLocks(options), await cli('locks', 'list'))
      assert.deepEqual(await daplaya.release({ ...options, env: 'prod', user: 'alice' }), await cli('locks', 'release', '--env', 'prod', '--user', 'alice'))
      assert.deepEqual(await daplaya.release({ ...options, env: 'none', user: 'alice' }), await cli('locks', 'release', '--env', 'none', '--user', 'alice'))
      const job = await daplaya.startJob({ ...options, jobname: 'deploy', user: 'alice', gitversion: 'v1' })
      assert.deepEqual(await daplaya.getJob({ ...options, jobname: 'deploy', gitversion: 'v1' }), await cli('jobs', 'get', '--jobname', 'deploy', '--gitversion', 'v1'))
      assert.deepEqual(await daplaya.activeJobs({ ...options, jobname: 'deploy' }), await cli('jobs', 'active', '--jobname', 'deploy'))
      const ended = await daplaya.endJob({ ...options, gitversion: 'v1' })
      assert.deepEqual({ ...ended, job: { ...ended.job, ended: 0 } }, { changed: true, job: { ...job, ended: 0, skipped: false } })
      assert.deepEqual(await daplaya.endJob({ ...options, gitversion: 'v1' }), await cli('jobs', 'end', '--gitversion', 'v1'))
      assert.deepEqual(await daplaya.skippedJobs({ ...options, jobname: 'deploy' }), await cli('jobs', 'skipped', '--jobname', 'deploy'))
    })
  })
}
