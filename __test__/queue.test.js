'use strict'
// The deploy queue end to end, through bin/daplaya.js, on each store: waiters are served in
// arrival order, a killed waiter is skipped, one that gives up leaves at once, an older
// `--supersede` waiter gives way to a newer one (exit 6, its command never runs), several envs
// are taken all or none, and waiters wanting the same envs in opposite orders both finish.
const { describe, it, afterEach } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { STORES, run, runJson, start, stopStarted, tempDir, until } = require('./helpers.js')

afterEach(stopStarted)

// A command for `locks run`: appends `<name> <DAPLAYA_FENCING_TOKEN> <DAPLAYA_FENCING_TOKENS>`
// to a file, holding the lock a moment so that the next waiter really waits for it.
const SCRIPTS = tempDir()
const RECORD = path.join(SCRIPTS, 'record.js')
fs.writeFileSync(
  RECORD,
  `const fs = require('node:fs')
const [file, name] = process.argv.slice(2)
const { DAPLAYA_FENCING_TOKEN = '-', DAPLAYA_FENCING_TOKENS = '-' } = process.env
fs.appendFileSync(file, [name, DAPLAYA_FENCING_TOKEN, DAPLAYA_FENCING_TOKENS].join(' ') + '\\n')
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50)
`,
)
const records = (file) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trimEnd().split('\n') : [])

const POLL = ['--poll-interval', '100ms']

/** `locks run` of the recording command for `user` on `envs`. */
function waiter(env, user, envs, file, extra = []) {
  const flags = [envs].flat().flatMap((name) => ['--env', name])
  return start(['locks', 'run', ...flags, '--user', user, ...POLL, ...extra, '--', process.execPath, RECORD, file, user], { env })
}

/** The users in line for `name`, in serving order, as `locks list --json` shows them. */
async function line(env, name) {
  const { json } = await runJson(['locks', 'list', '--env', name], { env })
  return json.length === 0 ? [] : (json[0].queue ?? []).map((waiting) => waiting.user)
}

/** Waits until `locks list` shows exactly `users` in line for `name`. */
const untilLine = (env, name, users, what = `${users.join(', ')} in line for ${name}`) => until(() => line(env, name), users, what)

const lock = (env, user, envs, extra = []) =>
  runJson(['locks', 'lock', ...[envs].flat().flatMap((name) => ['--env', name]), '--user', user, ...extra], { env })
const release = (env, user, envs) => runJson(['locks', 'release', ...[envs].flat().flatMap((name) => ['--env', name]), '--user', user], { env })
/** `env:user` of every env held now (`locks list` also lists free envs others wait for, inactive). */
const heldBy = async (env) =>
  (await runJson(['locks', 'list'], { env })).json.filter((lock) => lock.active).map((held) => `${held.env}:${held.user}`)

for (const store of STORES) {
  describe(`deploy queue on ${store.name}`, { skip: store.skip }, () => {
    it('six waiters arriving a moment apart are served in exactly that order, each told its place', async () => {
      const { env } = await store.fresh()
      const file = path.join(tempDir(), 'order')
      assert.equal((await lock(env, 'holder', 'q')).code, 0)
      const users = ['w0', 'w1', 'w2', 'w3', 'w4', 'w5']
      const waiters = []
      for (const user of users) {
        waiters.push(waiter(env, user, 'q', file))
        await untilLine(env, 'q', users.slice(0, waiters.length))
      }
      // Each says where it stands; the CI-log line still begins as the original tool's did.
      assert.match(waiters[5].stderr, /^Still locked at env q by holder \(6th in line, 6 waiting\)$/m)
      assert.match(waiters[0].stderr, /^Still locked at env q by holder \(1st in line, \d waiting\)$/m)
      assert.equal((await release(env, 'holder', 'q')).json.released, true)
      for (const done of await Promise.all(waiters.map((w) => w.done))) assert.equal(done.code, 0, done.stderr)
      const served = records(file)
      assert.deepEqual(
        served.map((record) => record.split(' ')[0]),
        users,
      )
      const tokens = served.map((record) => Number(record.split(' ')[1]))
      assert.ok(
        tokens.every((token, n) => n === 0 || token > tokens[n - 1]),
        `one new fencing token each, in that order: ${tokens.join(', ')}`,
      )
      assert.deepEqual(await heldBy(env), [])
    })

    it('a SIGKILLed waiter in the middle loses its place within a few polls and is skipped', async () => {
      const { env } = await store.fresh()
      const file = path.join(tempDir(), 'order')
      assert.equal((await lock(env, 'holder', 'q')).code, 0)
      const waiters = []
      for (const user of ['w0', 'w1', 'w2']) {
        waiters.push(waiter(env, user, 'q', file))
        await untilLine(env, 'q', ['w0', 'w1', 'w2'].slice(0, waiters.length))
      }
      waiters[1].child.kill('SIGKILL')
      assert.equal((await waiters[1].done).signal, 'SIGKILL')
      // Its place lapses (max(3 polls, 2 s) after its last poll) while the holder still holds.
      await untilLine(env, 'q', ['w0', 'w2'], 'the killed waiter skipped')
      assert.deepEqual(await heldBy(env), ['q:holder'])
      assert.equal((await release(env, 'holder', 'q')).json.released, true)
      for (const w of [waiters[0], waiters[2]]) assert.equal((await w.done).code, 0, w.stderr)
      assert.deepEqual(
        records(file).map((record) => record.split(' ')[0]),
        ['w0', 'w2'],
      )
    })

    it('a waiter stalled past its place finds it gone, joins again at the back, and says so once', async () => {
      const { env } = await store.fresh()
      const file = path.join(tempDir(), 'order')
      assert.equal((await lock(env, 'holder', 'q')).code, 0)
      const stalled = waiter(env, 'stalled', 'q', file)
      await untilLine(env, 'q', ['stalled'])
      stalled.child.kill('SIGSTOP')
      // Its place lapses (2 s without a poll); the next join drops it from the row.
      await untilLine(env, 'q', [], 'the stalled place lapse')
      const next = waiter(env, 'next', 'q', file)
      await untilLine(env, 'q', ['next'])
      stalled.child.kill('SIGCONT')
      await untilLine(env, 'q', ['next', 'stalled'], 'the stalled waiter back in line, behind')
      assert.equal(stalled.stderr.split('daplaya: lost the place in line for q (this process stalled); joined again at the back\n').length, 2, stalled.stderr)
      assert.equal((await release(env, 'holder', 'q')).json.released, true)
      for (const w of [next, stalled]) assert.equal((await w.done).code, 0, w.stderr)
      assert.deepEqual(
        records(file).map((record) => record.split(' ')[0]),
        ['next', 'stalled'],
      )
    })

    it('a waiter that times out leaves the line at once', async () => {
      const { env } = await store.fresh()
      assert.equal((await lock(env, 'holder', 'q')).code, 0)
      const w = start(['locks', 'lock', '--env', 'q', '--user', 'w', ...POLL, '--timeout', '1500ms', '--json'], { env })
      await untilLine(env, 'q', ['w'])
      const done = await w.done
      assert.equal(done.code, 3, done.stderr)
      assert.equal(JSON.parse(done.stdout).error.code, 'LOCK_BUSY')
      // Right after: a place left behind would still look live for 2 s.
      assert.deepEqual(await line(env, 'q'), [])
    })

    it('a waiter interrupted with SIGINT leaves the line at once and exits 130', async () => {
      const { env } = await store.fresh()
      assert.equal((await lock(env, 'holder', 'q')).code, 0)
      const file = path.join(tempDir(), 'ran')
      const w = waiter(env, 'w', 'q', file)
      await untilLine(env, 'q', ['w'])
      w.child.kill('SIGINT')
      const done = await w.done
      assert.equal(done.code, 130, done.stderr)
      assert.deepEqual(await line(env, 'q'), [])
      assert.deepEqual(records(file), [], 'its command never ran')
      assert.deepEqual(await heldBy(env), ['q:holder'])
    })

    it('an older --supersede waiter exits 6 as soon as a newer one joins, and its command never runs', async () => {
      const { env } = await store.fresh()
      const file = path.join(tempDir(), 'deploys')
      assert.equal((await lock(env, 'c1', 'q', ['--meta', 'https://ci/1'])).code, 0)
      const c2 = waiter(env, 'c2', 'q', file, ['--supersede', '--meta', 'https://ci/2', '--json'])
      await untilLine(env, 'q', ['c2'])
      const listed = await runJson(['locks', 'list', '--env', 'q'], { env })
      assert.deepEqual(
        listed.json[0].queue.map(({ user, meta, supersede }) => ({ user, meta, supersede })),
        [{ user: 'c2', meta: 'https://ci/2', supersede: true }],
      )
      assert.equal(typeof listed.json[0].queue[0].joinedAt, 'number')
      const c3 = waiter(env, 'c3', 'q', file, ['--supersede', '--meta', 'https://ci/3'])
      // c2 gives way while c1 still holds: it does not wait for its turn to find out.
      const superseded = await c2.done
      assert.equal(superseded.code, 6, superseded.stderr)
      const error = JSON.parse(superseded.stdout).error
      assert.deepEqual([error.code, error.exitCode], ['SUPERSEDED', 6])
      assert.match(error.message, /c3/)
      assert.match(error.message, /https:\/\/ci\/3/)
      assert.deepEqual([error.env, error.by.user, error.by.meta], ['q', 'c3', 'https://ci/3'])
      // Giving way is what was asked for: said plainly, not as an error.
      assert.match(superseded.stderr, /^Superseded: gave way on q to a newer waiter: c3 \(https:\/\/ci\/3\)$/m)
      assert.doesNotMatch(superseded.stderr, /^error:/m)
      assert.deepEqual(await line(env, 'q'), ['c3'])
      assert.deepEqual(await heldBy(env), ['q:c1'], 'the holder is never affected')
      assert.equal((await release(env, 'c1', 'q')).json.released, true)
      assert.equal((await c3.done).code, 0, c3.stderr)
      assert.deepEqual(
        records(file).map((record) => record.split(' ')[0]),
        ['c3'],
        "c2's command never ran",
      )
    })

    it('several envs are taken all or none', async () => {
      const { env } = await store.fresh()
      assert.equal((await lock(env, 'bob', 'us')).code, 0)
      const refused = await lock(env, 'alice', ['eu', 'us'], ['--no-wait'])
      assert.equal(refused.code, 3, refused.stderr)
      assert.equal(refused.json.error.code, 'LOCK_BUSY')
      assert.deepEqual(await heldBy(env), ['us:bob'], 'eu was not taken alone')

      // Waiting for both holds neither until both are free.
      const alice = start(['locks', 'lock', '--env', 'eu', '--env', 'us', '--user', 'alice', ...POLL, '--json'], { env })
      await alice.waitFor(/Still locked at env us by bob/)
      assert.deepEqual(await heldBy(env), ['us:bob'])
      assert.equal((await release(env, 'bob', 'us')).json.released, true)
      const taken = await alice.done
      assert.equal(taken.code, 0, taken.stderr)
      const locks = JSON.parse(taken.stdout)
      assert.deepEqual(
        locks.map((held) => [held.env, held.user, held.outcome]),
        [
          ['eu', 'alice', 'acquired'],
          ['us', 'alice', 'acquired'],
        ],
      )
      assert.deepEqual(await heldBy(env), ['eu:alice', 'us:alice'])
      const released = await release(env, 'alice', ['eu', 'us'])
      assert.deepEqual(
        released.json.map((r) => [r.lock.env, r.released]),
        [
          ['eu', true],
          ['us', true],
        ],
      )
      assert.deepEqual(await heldBy(env), [])

      // Many at once, in both orders: one takes both, nobody holds one alone.
      const racers = await Promise.all(
        Array.from({ length: 8 }, (_, i) => lock(env, `racer-${i}`, i % 2 ? ['eu', 'us'] : ['us', 'eu'], ['--no-wait'])),
      )
      const winners = racers.filter((r) => r.code === 0)
      assert.equal(winners.length, 1, racers.map((r) => r.stderr).join('\n'))
      for (const loser of racers.filter((r) => r.code !== 0)) assert.equal(loser.code, 3, loser.stderr)
      const winner = winners[0].json[0].user
      assert.deepEqual(await heldBy(env), [`eu:${winner}`, `us:${winner}`])
    })

    it('waiters wanting {eu, us} and {us, eu} behind a holder of both are served in arrival order', async () => {
      const { env } = await store.fresh()
      const file = path.join(tempDir(), 'order')
      assert.equal((await lock(env, 'holder', ['eu', 'us'])).code, 0)
      const first = waiter(env, 'first', ['eu', 'us'], file)
      await untilLine(env, 'us', ['first'])
      const second = waiter(env, 'second', ['us', 'eu'], file)
      await untilLine(env, 'eu', ['first', 'second'])
      assert.deepEqual(await line(env, 'us'), ['first', 'second'], 'the same order on every env they share')
      const released = await release(env, 'holder', ['eu', 'us'])
      assert.equal(released.code, 0, released.stderr)
      for (const w of [first, second]) assert.equal((await w.done).code, 0, w.stderr)
      // Each env's own token, in --env order; DAPLAYA_FENCING_TOKEN only for one env.
      const [firstRecord, secondRecord] = records(file)
      const firstTokens = firstRecord.match(/^first - eu=(\d+),us=(\d+)$/)
      const secondTokens = secondRecord.match(/^second - us=(\d+),eu=(\d+)$/)
      assert.ok(firstTokens && secondTokens, records(file).join(' | '))
      assert.ok(Number(secondTokens[2]) > Number(firstTokens[1]) && Number(secondTokens[1]) > Number(firstTokens[2]), 'tokens grow on each env')
      assert.deepEqual(await heldBy(env), [])
    })

    it('a run of one env gets DAPLAYA_FENCING_TOKEN and DAPLAYA_FENCING_TOKENS; --json of several lists the locks', async () => {
      const { env } = await store.fresh()
      const file = path.join(tempDir(), 'record')
      const one = await run(['locks', 'run', '--env', 'eu', '--user', 'u', '--', process.execPath, RECORD, file, 'one'], { env })
      assert.equal(one.code, 0, one.stderr)
      const several = await run(['locks', 'run', '--env', 'eu', '--env', 'us', '--user', 'u', '--json', '--', process.execPath, RECORD, file, 'two'], { env })
      assert.equal(several.code, 0, several.stderr)
      several.json = JSON.parse(several.stdout)
      assert.equal(several.json.exitCode, 0)
      const [eu, us] = several.json.locks.map((held) => held.fencingToken)
      const [oneRecord, twoRecord] = records(file)
      const [, token] = oneRecord.match(/^one (\d+) eu=\1$/) ?? []
      assert.ok(token, oneRecord)
      assert.equal(twoRecord, `two - eu=${eu},us=${us}`)
      assert.ok(eu > Number(token), "eu's token grows")
      assert.deepEqual(
        several.json.locks.map((held) => [held.env, held.active]),
        [
          ['eu', false],
          ['us', false],
        ],
      )
    })

    it('bad env lists are one-line usage errors and store nothing', async () => {
      const { env } = await store.fresh()
      const many = Array.from({ length: 26 }, (_, i) => ['--env', `e${i}`]).flat()
      for (const [args, message] of [
        [['locks', 'lock', ...many, '--user', 'u'], 'at most 25 envs at once, not 26'],
        [['locks', 'lock', '--env', 'eu', '--env', ' EU ', '--user', 'u'], 'env eu is given twice'],
        [['locks', 'release', '--env', 'eu', '--env', 'eu', '--user', 'u'], 'env eu is given twice'],
        [['locks', 'run', ...many, '--user', 'u', '--', 'true'], 'at most 25 envs at once, not 26'],
      ]) {
        const result = await run(args, { env })
        assert.equal(result.code, 2, result.stderr)
        assert.equal(result.stderr, `error: ${message}\n`)
      }
      const twentyFive = await lock(env, 'u', Array.from({ length: 25 }, (_, i) => `e${i}`))
      assert.equal(twentyFive.code, 0, twentyFive.stderr)
      assert.equal(twentyFive.json.length, 25)
      assert.equal((await heldBy(env)).length, 25)
    })

    it('locks list shows the line in text: who waits, since when', async () => {
      const { env } = await store.fresh()
      assert.equal((await lock(env, 'holder', 'q')).code, 0)
      const file = path.join(tempDir(), 'order')
      waiter(env, 'w0', 'q', file, ['--meta', 'https://ci/7'])
      await untilLine(env, 'q', ['w0'])
      waiter(env, 'w1', 'q', file, ['--supersede'])
      await untilLine(env, 'q', ['w0', 'w1'])
      const text = await run(['locks', 'list'], { env })
      assert.match(text.stdout, /^q {2}locked by holder /m)
      assert.match(text.stdout, /^ {2}1\. w0 {2}waiting since .+ \(\d\d:\d\d:\d\d\) {2}meta: https:\/\/ci\/7$/m)
      assert.match(text.stdout, /^ {2}2\. w1 {2}waiting since .+ {2}meta: CLI {2}\(supersede\)$/m)
    })
  })
}

const dynamodb = STORES.find((s) => s.name === 'dynamodb')

describe('deploy queue: DynamoDB requests per poll', { skip: dynamodb.skip }, () => {
  // Counted by a proxy in front of DynamoDB Local that only the waiter talks to.
  const { startDynamoDbProxy } = require('../scripts/dynamodb-proxy.js')

  for (const envs of [['q'], ['eu', 'us']]) {
    it(`a waiter on ${envs.join(' + ')} makes at most 2 requests a poll, and never a Scan or Query`, async () => {
      const { env } = await dynamodb.fresh()
      assert.equal((await lock(env, 'holder', envs)).code, 0)
      const proxy = await startDynamoDbProxy(env.DAPLAYA_DYNAMODB_ENDPOINT)
      try {
        const waiting = await run(['locks', 'lock', ...envs.flatMap((name) => ['--env', name]), '--user', 'w', '--poll-interval', '200ms', '--timeout', '2s'], {
          env: { ...env, DAPLAYA_DYNAMODB_ENDPOINT: proxy.endpoint },
        })
        assert.equal(waiting.code, 3, waiting.stderr)
        const polls = waiting.stderr.split('\n').filter((l) => l.startsWith('Still locked at env')).length
        const operations = proxy.log.map((entry) => entry.operation)
        assert.ok(polls >= 5, `polled ${polls} times`)
        // Each poll: one read of the rows, then one write (join or heartbeat); the last attempt
        // reads and finds the time up; leaving is one write.
        assert.ok(operations.length <= 2 * (polls + 1) + 1, `${operations.length} requests for ${polls} polls: ${operations.join(' ')}`)
        const reads = ['GetItem', 'BatchGetItem', 'TransactGetItems']
        const allowed = new Set([...reads, 'UpdateItem', 'TransactWriteItems', 'PutItem'])
        assert.ok(
          operations.every((op) => allowed.has(op)),
          operations.join(' '),
        )
        assert.ok(operations.filter((op) => reads.includes(op)).length <= polls + 1, 'one read per poll')
      } finally {
        await proxy.stop()
      }
    })
  }
})
