'use strict'
// Lock history end to end, on each store: `locks history` (and `lockHistory()`) tells who held an
// env and how each hold ended; the first spec's command forms still work; a renewal without a
// meta keeps the lock's meta.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const daplaya = require('..')
const { STORES, run, runJson, sleep } = require('./helpers.js')

async function ok(args, env) {
  const result = await runJson(args, { env })
  assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`)
  return result.json
}

for (const store of STORES) {
  describe(`lock history on ${store.name}`, { skip: store.skip }, () => {
    it('tells a release, an expiry taken over and a preemption apart, newest first', async () => {
      const { env } = await store.fresh()
      const alice = await ok(['locks', 'lock', '--env', 'prod', '--user', 'alice', '--meta', 'https://ci/1'], env)
      await ok(['locks', 'release', '--env', 'prod', '--user', 'alice'], env)
      const bob = await ok(['locks', 'lock', '--env', 'prod', '--user', 'bob', '--ttl', '300ms'], env)
      // On DynamoDB a lease is over once DynamoDB's clock has certainly passed it: known to
      // about a second from its replies, so a lease may look up to two such widths longer.
      await sleep(300 + 2500)
      const carol = await ok(['locks', 'lock', '--env', 'prod', '--user', 'carol', '--no-wait'], env)
      const dave = await ok(['locks', 'lock', '--env', 'prod', '--user', 'dave', '--uberlock', '--meta', 'INC-42'], env)

      const history = await ok(['locks', 'history', '--env', ' PROD '], env)
      assert.deepEqual(
        history.map((h) => [h.user, h.end, h.endedBy]),
        [
          ['dave', null, null],
          ['carol', 'preempted', 'dave'],
          ['bob', 'expired', null],
          ['alice', 'released', null],
        ],
      )
      assert.deepEqual(
        history.map((h) => h.id),
        [dave.id, carol.id, bob.id, alice.id],
      )
      assert.deepEqual(Object.keys(history[0]).sort(), [
        'acquiredAt', 'end', 'endedAt', 'endedBy', 'env', 'expiresAt', 'fencingToken', 'holder', 'id', 'meta', 'reason', 'uberlock', 'user',
      ])
      assert.equal(history[0].endedAt, null)
      assert.equal(history[0].uberlock, true)
      assert.equal(history[0].meta, 'INC-42')
      assert.equal(history[1].endedAt, dave.createdAt, 'preempted when the uberlock was taken')
      assert.equal(history[2].endedAt, bob.expiresAt, 'expired when its lease ran out')
      assert.ok(history[3].endedAt >= alice.createdAt && history[3].endedAt <= bob.createdAt)
      assert.equal(history[3].meta, 'https://ci/1')
      assert.deepEqual(history.map((h) => h.fencingToken), [dave, carol, bob, alice].map((l) => l.fencingToken))
      assert.ok(history.every((h, n) => n === 0 || h.fencingToken < history[n - 1].fencingToken), 'tokens grow with each acquisition')
      assert.deepEqual(history.map((h) => h.acquiredAt), [dave, carol, bob, alice].map((l) => l.createdAt))

      const limited = await ok(['locks', 'history', '--env', 'prod', '--limit', '2'], env)
      assert.deepEqual(limited, history.slice(0, 2))
      const recent = await ok(['locks', 'history', '--env', 'prod', '--since', '1d'], env)
      assert.deepEqual(recent, history)
      assert.deepEqual(await ok(['locks', 'history', '--env', 'nowhere'], env), [])

      const human = await run(['locks', 'history', '--env', 'prod'], { env })
      assert.equal(human.code, 0, human.stderr)
      const lines = human.stdout.trim().split('\n')
      assert.equal(lines[0], 'prod: 4 holds, newest first')
      assert.match(lines[1], /dave {2}uberlock {2}held now \(uberlock: never expires\) {2}meta: INC-42/)
      assert.match(lines[2], /carol {2}lock {2}preempted by dave /)
      assert.match(lines[3], /bob {2}lock {2}lease expired (just now|.* ago) after 300ms/)
      assert.match(lines[4], /alice {2}lock {2}released /)
      const empty = await run(['locks', 'history', '--env', 'nowhere'], { env })
      assert.equal(empty.stdout.trim(), 'nowhere has no holds in its history')
    })

    it('a lease that lapsed with nobody taking the env reads as expired', async () => {
      const { env, options } = await store.fresh()
      const held = await ok(['locks', 'lock', '--env', 'prod', '--user', 'alice', '--ttl', '3s'], env)
      assert.equal((await daplaya.lockHistory({ ...options, env: 'prod' }))[0].end, null, 'held')
      await sleep(held.expiresAt + 2500 - Date.now())
      const [hold] = await ok(['locks', 'history', '--env', 'prod'], env)
      assert.deepEqual([hold.end, hold.endedAt], ['expired', held.expiresAt])
    })

    it('a renewal or upgrade without a meta keeps it; an explicit meta replaces it', async () => {
      const { env, options } = await store.fresh()
      await ok(['locks', 'lock', '--env', 'x', '--user', 'a', '--meta', 'https://ci/1'], env)
      assert.equal((await ok(['locks', 'lock', '--env', 'x', '--user', 'a'], env)).meta, 'https://ci/1')
      assert.equal((await ok(['locks', 'lock', '--env', 'x', '--user', 'a', '--uberlock'], env)).meta, 'https://ci/1')
      assert.equal((await daplaya.lock({ ...options, env: 'x', user: 'a' })).meta, 'https://ci/1')
      assert.equal((await ok(['locks', 'lock', '--env', 'x', '--user', 'a', '--meta', 'INC-7'], env)).meta, 'INC-7')
      const [hold] = await daplaya.lockHistory({ ...options, env: 'x' })
      assert.equal(hold.meta, 'INC-7', 'the history follows the lock')
      // A fresh acquisition still gets its front door's default.
      await ok(['locks', 'release', '--env', 'x', '--user', 'a', '--uberlock'], env)
      assert.equal((await daplaya.lock({ ...options, env: 'x', user: 'b' })).meta, 'API')
      assert.equal((await ok(['locks', 'lock', '--env', 'y', '--user', 'b'], env)).meta, 'CLI')
    })

    it('the first spec\'s lock, locks --env and release work as locks lock, list and release', async () => {
      const { env } = await store.fresh()
      const held = await ok(['lock', '--env', 'Prod', '--user', 'alice', '--meta', 'https://ci/9'], env)
      assert.equal(held.outcome, 'acquired')
      assert.equal(held.meta, 'https://ci/9')
      const listed = await ok(['locks', '--env', 'prod'], env)
      assert.deepEqual(listed, await ok(['locks', 'list', '--env', 'prod'], env))
      assert.deepEqual(listed.map((l) => l.id), [held.id])
      const busy = await run(['lock', '--env', 'prod', '--user', 'bob', '--no-wait'], { env })
      assert.equal(busy.code, 3)
      assert.match(busy.stderr, /prod/)
      const released = await ok(['release', '--env', 'prod', '--user', 'alice'], env)
      assert.equal(released.released, true)
      assert.deepEqual(await ok(['locks', '--env', 'prod'], env), [])
      const uber = await ok(['lock', '--env', 'prod', '--user', 'bob', '--uberlock'], env)
      assert.equal(uber.uberlock, true)
      assert.equal((await run(['release', '--env', 'prod', '--user', 'bob'], { env })).code, 2, 'an uberlock needs --uberlock')
      assert.equal((await ok(['release', '--env', 'prod', '--user', 'bob', '--uberlock'], env)).released, true)
    })

    it('lockHistory() in the API: the same holds, bad options refused', async () => {
      const { options } = await store.fresh()
      const held = await daplaya.lock({ ...options, env: 'Prod', user: 'alice', meta: 'https://ci/3' })
      await daplaya.release({ ...options, env: 'prod', user: 'alice' })
      const history = await daplaya.lockHistory({ ...options, env: 'PROD', limit: 5, since: '1h' })
      assert.deepEqual(
        history.map((h) => [h.id, h.user, h.meta, h.end]),
        [[held.id, 'alice', 'https://ci/3', 'released']],
      )
      assert.deepEqual(await daplaya.lockHistory({ ...options, env: 'never' }), [])
      for (const bad of [{ env: '' }, { env: 'prod', limit: 0 }, { env: 'prod', limit: 1001 }, { env: 'prod', since: 'soon' }]) {
        await assert.rejects(daplaya.lockHistory({ ...options, ...bad }), { code: 'INVALID_ARGUMENT' }, JSON.stringify(bad))
      }
    })
  })
}

describe('lock history: usage', () => {
  it('the first spec\'s forms stay out of the main --help', async () => {
    const help = await run(['--help'])
    assert.equal(help.code, 0)
    const commands = help.stdout.split('Commands:')[1].split('Options:')[0]
    assert.deepEqual(
      commands.trim().split('\n').map((line) => line.trim().split(/\s+/)[0]),
      ['init', 'locks', 'jobs', 'serve', 'slack', 'completions'],
    )
    const locksHelp = await run(['locks', '--help'])
    assert.match(locksHelp.stdout, /history {2}Who held an env/)
    assert.doesNotMatch(locksHelp.stdout, /^\s+--env/m, "the first spec's locks --env is hidden")
    assert.equal((await run(['lock', '--help'])).code, 0)
  })

  it('bad --limit, --since and DAPLAYA_HISTORY_DAYS: one line, exit 2', async () => {
    for (const [args, env, message] of [
      [['--limit', '0'], {}, /--limit must be from 1 to 1000, not 0/],
      [['--limit', 'lots'], {}, /invalid value 'lots' for '--limit <N>'/],
      [['--since', 'a while'], {}, /invalid duration for --since/],
      [[], { DAPLAYA_HISTORY_DAYS: '0' }, /DAPLAYA_HISTORY_DAYS must be a whole number of days from 1 to 3650, not '0'/],
    ]) {
      const result = await run(['locks', 'history', '--env', 'prod', '--store', 'sqlite:/nonexistent/never.db', ...args], { env })
      assert.equal(result.code, 2, `${args}: ${result.stderr}`)
      assert.match(result.stderr, message)
    }
  })
})
