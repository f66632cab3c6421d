'use strict'
// End-to-end: bin/daplaya.js driven as a user would, against each store.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const { STORES, run, runJson, sleep } = require('./helpers.js')

for (const store of STORES) {
  describe(`CLI on ${store.name}`, { skip: store.skip }, () => {
    it('init succeeds and is safe to run twice', async () => {
      const { env } = await store.fresh()
      for (let i = 0; i < 2; i++) {
        const result = await runJson(['init'], { env })
        assert.equal(result.code, 0, result.stderr)
        assert.equal(result.json.tables.length, 3, 'locks, jobs and the lock history')
        assert.ok(result.json.tables.every((t) => t.created === false), 'already created by fresh()')
      }
    })

    it('locks, renews keeping the id, and lists with the seeds field names', async () => {
      const { env } = await store.fresh()
      const first = await runJson(['locks', 'lock', '--env', ' Production ', '--user', 'Alice@Example.com', '--meta', 'https://ci/1'], { env })
      assert.equal(first.code, 0, first.stderr)
      assert.equal(first.json.outcome, 'acquired')
      assert.equal(first.json.env, 'production')
      assert.equal(first.json.user, 'alice@example.com')
      assert.equal(first.json.meta, 'https://ci/1')
      assert.equal(first.json.active, true)
      assert.equal(first.json.uberlock, false)
      assert.equal(first.json.fencingToken, first.json.createdAt, 'the fencing token is the stamp of the acquisition')
      const ttl = first.json.expiresAt - first.json.updatedAt
      assert.equal(ttl, 20 * 60 * 1000, 'default lease is 20 minutes')
      assert.deepEqual(
        Object.keys(first.json).slice(0, 8),
        ['id', 'user', 'env', 'createdAt', 'updatedAt', 'active', 'uberlock', 'meta'],
      )

      const again = await runJson(['locks', 'lock', '--env', 'PRODUCTION', '--user', 'alice@example.com', '--ttl', '30m'], { env })
      assert.equal(again.code, 0, again.stderr)
      assert.equal(again.json.outcome, 'renewed')
      assert.equal(again.json.id, first.json.id)
      assert.equal(again.json.createdAt, first.json.createdAt)
      assert.equal(again.json.fencingToken, first.json.fencingToken)
      assert.ok(again.json.expiresAt - again.json.updatedAt === 30 * 60 * 1000)

      const list = await runJson(['locks', 'list'], { env })
      assert.equal(list.code, 0)
      assert.deepEqual(list.json.map((l) => [l.env, l.user, l.id]), [['production', 'alice@example.com', first.json.id]])
      const one = await runJson(['locks', 'list', '--env', 'production'], { env })
      assert.equal(one.json.length, 1)
      const none = await runJson(['locks', 'list', '--env', 'staging'], { env })
      assert.deepEqual(none.json, [])

      const human = await run(['locks', 'list'], { env })
      assert.match(human.stdout, /^production {2}locked by alice@example\.com/)
    })

    it('a lease just taken is never "expires just now", however short', async () => {
      const { env } = await store.fresh()
      const short = await run(['locks', 'lock', '--env', 'prod', '--user', 'alice', '--ttl', '1s'], { env })
      assert.equal(short.code, 0, short.stderr)
      assert.match(short.stdout, /^Locked prod for alice; expires in (1s|<1s), lock id /)
      assert.doesNotMatch(short.stdout, /just now/)
    })

    it('refuses a held env at once with --no-wait (exit 3), with one clear line', async () => {
      const { env } = await store.fresh()
      assert.equal((await run(['locks', 'lock', '--env', 'prod', '--user', 'alice'], { env })).code, 0)
      const busy = await run(['locks', 'lock', '--env', 'prod', '--user', 'bob', '--no-wait'], { env })
      assert.equal(busy.code, 3)
      assert.equal(busy.stdout, '')
      assert.match(busy.stderr, /^error: prod is locked by alice until \d\d:\d\d:\d\d, in (20m|19m\d+s) \(meta: CLI\)\n$/)
      const json = await runJson(['locks', 'lock', '--env', 'prod', '--user', 'bob', '--no-wait'], { env })
      assert.equal(json.code, 3)
      assert.equal(json.json.error.code, 'LOCK_BUSY')
      // The same fields as the API's error: who holds it, until when, the line, no wait.
      const [listed] = (await runJson(['locks', 'list'], { env })).json
      const { env: busyEnv, holder, queue, waitedMs } = json.json.error
      assert.deepEqual({ busyEnv, holder, queue, waitedMs }, { busyEnv: 'prod', holder: listed, queue: [], waitedMs: null })
      assert.equal(json.json.error.exitCode, 3)
    })

    it('waits, saying who holds the env and its place in line, until --timeout (exit 3)', async () => {
      const { env } = await store.fresh()
      await run(['locks', 'lock', '--env', 'prod', '--user', 'alice'], { env })
      const waited = await run(['locks', 'lock', '--env', 'prod', '--user', 'bob', '--timeout', '1s', '--poll-interval', '200'], { env })
      assert.equal(waited.code, 3)
      const stillLocked = waited.stderr.split('\n').filter((l) => l === 'Still locked at env prod by alice (1st in line, 1 waiting)')
      assert.ok(stillLocked.length >= 3, waited.stderr)
    })

    it('a waiter gets the lock once the holder releases it', async () => {
      const { env } = await store.fresh()
      const held = await runJson(['locks', 'lock', '--env', 'prod', '--user', 'alice'], { env })
      let released = false
      const waiter = runJson(['locks', 'lock', '--env', 'prod', '--user', 'bob', '--poll-interval', '200ms'], {
        env,
        onStderr: (text) => {
          if (!released && text.includes('Still locked at env prod by alice')) {
            released = true
            run(['locks', 'release', '--env', 'prod', '--user', 'alice'], { env })
          }
        },
      })
      const got = await waiter
      assert.equal(got.code, 0, got.stderr)
      assert.equal(got.json.user, 'bob')
      assert.notEqual(got.json.id, held.json.id)
      assert.ok(got.json.fencingToken > held.json.fencingToken, 'fencing tokens increase')
    })

    it('a lease expires after --ttl and someone else may take the env', async () => {
      const { env } = await store.fresh()
      // A TTL long enough for bob's process to start and ask while alice still holds the env on a
      // loaded machine (600 ms was not, at load average 20+ on 2 cores).
      const held = await runJson(['locks', 'lock', '--env', 'prod', '--user', 'alice', '--ttl', '3s'], { env })
      assert.equal((await run(['locks', 'lock', '--env', 'prod', '--user', 'bob', '--no-wait'], { env })).code, 3)
      // Past its end by the store's clock, which each DynamoDB client knows to about a second
      // (the HTTP Date header): stamped from the latest reading and judged from the earliest, a
      // lease may look up to two such widths longer, never shorter.
      await sleep(3000 + 2500)
      assert.deepEqual((await runJson(['locks', 'list'], { env })).json, [], 'an expired lock is not listed')
      const taken = await runJson(['locks', 'lock', '--env', 'prod', '--user', 'bob', '--no-wait'], { env })
      assert.equal(taken.code, 0, taken.stderr)
      assert.equal(taken.json.outcome, 'acquired')
      assert.ok(taken.json.fencingToken > held.json.fencingToken)
    })

    it('uberlock preempts a normal holder, refuses others at once (exit 4) and never expires', async () => {
      const { env } = await store.fresh()
      await run(['locks', 'lock', '--env', 'prod', '--user', 'alice'], { env })
      const uber = await runJson(['locks', 'lock', '--env', 'prod', '--user', 'bob', '--uberlock', '--meta', 'incident'], { env })
      assert.equal(uber.code, 0, uber.stderr)
      assert.equal(uber.json.outcome, 'preempted')
      assert.equal(uber.json.preemptedUser, 'alice')
      assert.equal(uber.json.uberlock, true)
      assert.equal(uber.json.expiresAt, null)
      const human = await run(['locks', 'lock', '--env', 'prod', '--user', 'bob', '--uberlock'], { env })
      assert.match(human.stdout, /Uberlocked prod for bob/)

      // No --no-wait: an uberlock refuses at once, it is never waited on.
      const started = Date.now()
      const refused = await run(['locks', 'lock', '--env', 'prod', '--user', 'carol'], { env, timeoutMs: 20_000 })
      assert.equal(refused.code, 4)
      assert.equal(refused.stderr, 'error: prod is uberlocked (ノ≥∇≤)ノ by bob (meta: incident)\n')
      assert.ok(Date.now() - started < 15_000)
      assert.equal((await run(['locks', 'lock', '--env', 'prod', '--user', 'carol', '--uberlock'], { env })).code, 4)
      const api = await runJson(['locks', 'lock', '--env', 'prod', '--user', 'carol', '--no-wait'], { env })
      assert.equal(api.json.error.code, 'UBERLOCKED')

      const withoutFlag = await run(['locks', 'release', '--env', 'prod', '--user', 'bob'], { env })
      assert.equal(withoutFlag.code, 2)
      assert.match(withoutFlag.stderr, /needs --uberlock/)
      assert.equal((await runJson(['locks', 'list', '--env', 'prod'], { env })).json[0].user, 'bob')
      const released = await runJson(['locks', 'release', '--env', 'prod', '--user', 'bob', '--uberlock'], { env })
      assert.equal(released.code, 0)
      assert.equal(released.json.released, true)
      assert.equal(released.json.lock.active, false)
      assert.deepEqual((await runJson(['locks', 'list'], { env })).json, [])
    })

    it('releasing what you do not hold changes nothing and says so', async () => {
      const { env } = await store.fresh()
      const notLocked = await runJson(['locks', 'release', '--env', 'prod', '--user', 'bob'], { env })
      assert.equal(notLocked.code, 0)
      assert.deepEqual([notLocked.json.released, notLocked.json.reason], [false, 'notLocked'])
      const held = await runJson(['locks', 'lock', '--env', 'prod', '--user', 'alice'], { env })
      const other = await run(['locks', 'release', '--env', 'prod', '--user', 'bob'], { env })
      assert.equal(other.code, 0)
      assert.match(other.stdout, /Nothing released: prod is held by alice, not by you/)
      const list = await runJson(['locks', 'list'], { env })
      assert.deepEqual(list.json, [held.json].map(({ outcome, ...lock }) => lock))
      const mine = await runJson(['locks', 'release', '--env', 'PROD', '--user', 'ALICE'], { env })
      assert.deepEqual([mine.json.released, mine.json.lock.id], [true, held.json.id])
      assert.ok(mine.json.lock.updatedAt >= held.json.updatedAt)
    })

    it('records jobs: start, get, end (also `end version V`), active and skipped', async () => {
      const { env } = await store.fresh()
      const started = await run(['jobs', 'start', '--jobname', 'deploy-prod', '--user', 'alice', '--gitversion', 'abc123'], { env })
      assert.equal(started.code, 0, started.stderr)
      const id = started.stdout.trim()
      assert.match(id, /^[0-9a-f-]{36}$/)
      const got = await runJson(['jobs', 'get', '--jobname', 'deploy-prod', '--gitversion', 'abc123'], { env })
      assert.deepEqual(
        { ...got.json, started: 0 },
        { id, user: 'alice', jobname: 'deploy-prod', version: 'abc123', started: 0, ended: null, skipped: false },
      )
      assert.deepEqual((await runJson(['jobs', 'active', '--jobname', 'deploy-prod'], { env })).json.map((j) => j.id), [id])

      const ended = await runJson(['jobs', 'end', 'version', 'abc123', '--skipped'], { env })
      assert.equal(ended.code, 0, ended.stderr)
      assert.equal(ended.json.changed, true)
      assert.equal(ended.json.job.skipped, true)
      assert.ok(ended.json.job.ended >= ended.json.job.started)
      const again = await runJson(['jobs', 'end', '--gitversion', 'abc123'], { env })
      assert.equal(again.code, 0)
      assert.equal(again.json.changed, false)
      assert.equal(again.json.job.ended, ended.json.job.ended, 'ending an ended job changes nothing')

      assert.deepEqual((await runJson(['jobs', 'active', '--jobname', 'deploy-prod'], { env })).json, [])
      assert.deepEqual((await runJson(['jobs', 'skipped', '--jobname', 'deploy-prod'], { env })).json.map((j) => j.id), [id])
      await sleep(300)
      assert.deepEqual((await runJson(['jobs', 'skipped', '--jobname', 'deploy-prod', '--ttl', '200'], { env })).json, [], 'outside --ttl')

      const newer = await run(['jobs', 'start', '--jobname', 'deploy-prod', '--user', 'bob', '--gitversion', 'abc123'], { env })
      const latest = await runJson(['jobs', 'get', '--jobname', 'deploy-prod', '--gitversion', 'abc123'], { env })
      assert.equal(latest.json.id, newer.stdout.trim(), 'get returns the most recent job')
    })

    it('jobs end names the jobs when a version runs under two jobnames (exit 2)', async () => {
      const { env } = await store.fresh()
      await run(['jobs', 'start', '--jobname', 'deploy-a', '--user', 'u', '--gitversion', 'v1'], { env })
      await run(['jobs', 'start', '--jobname', 'deploy-b', '--user', 'u', '--gitversion', 'v1'], { env })
      const ambiguous = await run(['jobs', 'end', '--gitversion', 'v1'], { env })
      assert.equal(ambiguous.code, 2)
      assert.match(ambiguous.stderr, /deploy-a, deploy-b/)
      const one = await runJson(['jobs', 'end', '--gitversion', 'v1', '--jobname', 'deploy-b'], { env })
      assert.equal(one.json.job.jobname, 'deploy-b')
      assert.equal((await runJson(['jobs', 'active', '--jobname', 'deploy-a'], { env })).json.length, 1)
    })

    it('missing jobs are not found (exit 5)', async () => {
      const { env } = await store.fresh()
      const get = await runJson(['jobs', 'get', '--jobname', 'nope', '--gitversion', 'v'], { env })
      assert.equal(get.code, 5)
      assert.equal(get.json.error.code, 'NOT_FOUND')
      const end = await run(['jobs', 'end', 'version', 'v'], { env })
      assert.equal(end.code, 5)
      assert.equal(end.stderr, 'error: no job at version v\n')
    })

    it('bad input: one clear line, exit 2, nothing stored', async () => {
      const { env } = await store.fresh()
      const cases = [
        [['locks', 'lock', '--env', '', '--user', 'u'], /env must not be empty/],
        [['locks', 'lock', '--env', '   ', '--user', 'u'], /env must not be empty/],
        [['locks', 'lock', '--env', 'e'.repeat(129), '--user', 'u'], /env is too long/],
        [['locks', 'lock', '--env', 'e', '--user', 'u'.repeat(257)], /user is too long/],
        [['locks', 'lock', '--env', 'e', '--user', 'u', '--meta', 'm'.repeat(1025)], /meta is too long/],
        [['locks', 'lock', '--env', 'e', '--user', 'u', '--meta', ''], /meta must not be empty/],
        [['locks', 'lock', '--env', 'e', '--user', 'u', '--ttl', 'soon'], /invalid duration for --ttl/],
        [['locks', 'lock', '--env', 'e', '--user', 'u', '--ttl', '0'], /--ttl must be greater than zero/],
        [['locks', 'lock', '--env', 'e', '--user', 'u', '--poll-interval=-5'], /invalid duration for --poll-interval/],
        [['locks', 'lock', '--env', 'e', '--user', 'u', '--timeout', '1s', '--no-wait'], /cannot be used with/],
        [['locks', 'lock', '--env', 'e', '--user', 'u', '--bogus'], /unexpected argument '--bogus'/],
        [['locks', 'lock', '--user', 'u'], /^error: the following required arguments were not provided: --env <ENV>\n/],
        [['locks', 'unlock', '--env', 'e'], /unrecognized subcommand 'unlock'/],
        [['jobs', 'start', '--jobname', 'j', '--user', 'u', '--gitversion', ''], /gitversion must not be empty/],
        [['jobs', 'end'], /jobs end needs a version/],
        [['jobs', 'active', '--jobname', 'j', '--ttl', '5 minutes'], /invalid duration/],
        [['locks', 'list', '--store', 'mysql'], /unknown store 'mysql'/],
      ]
      for (const [args, message] of cases) {
        const result = await run(args, { env })
        assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`)
        assert.equal(result.stdout, '', args.join(' '))
        const lines = result.stderr.trimEnd().split('\n')
        assert.match(lines[0], /^error: /, args.join(' '))
        assert.match(result.stderr, message, args.join(' '))
        assert.ok(lines.length <= 2, `at most an error line and a hint: ${result.stderr}`)
        assert.ok(!/panicked|RUST_BACKTRACE|\{ .*: .* \}/.test(result.stderr), result.stderr)
      }
      const json = await runJson(['locks', 'lock', '--env', '', '--user', 'u'], { env })
      assert.equal(json.json.error.code, 'INVALID_ARGUMENT')
      assert.deepEqual((await runJson(['locks', 'list'], { env })).json, [], 'nothing was stored')
      assert.equal((await run(['jobs', 'get', '--jobname', 'j', '--gitversion', ''], { env })).code, 2)
    })
  })
}

describe('CLI basics', () => {
  it('--help and --version answer on stdout with exit 0', async () => {
    const help = await run(['--help'])
    assert.equal(help.code, 0)
    assert.match(help.stdout, /Usage: daplaya/)
    const lockHelp = await run(['locks', 'lock', '--help'])
    assert.match(lockHelp.stdout, /--uberlock/)
    const version = await run(['--version'])
    assert.equal(version.code, 0)
    assert.equal(version.stdout.trim(), `daplaya ${require('../package.json').version}`)
  })

  it('no command is a usage error (exit 2)', async () => {
    const result = await run([])
    assert.equal(result.code, 2)
    assert.match(result.stderr, /Usage: daplaya/)
  })
})
