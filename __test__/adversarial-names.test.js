'use strict'
// Attacks through what a lock is named and how it is taken (docs/guarantees.md, Security): look-alike env
// names, hidden characters in user and holder names, too many or repeated envs, names that look
// like paths, and processes killed with SIGKILL in the middle of their writes. Each test fails
// if its attack works, on each store.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { STORES, run, runJson, start, stopStarted, tempDir, sleep } = require('./helpers.js')
const { SLACK_SECRET, slackSign, slackForm } = require('./adversarial-helpers.js')
const daplaya = require('../index.js')

const LOOK_ALIKES = [
  ['a zero-width space after it', 'uprod\u200B', 'U+200B'],
  ['a byte-order mark before it', '\uFEFFuprod', 'U+FEFF'],
  ['a Cyrillic о in it', 'uprоd', 'Cyrillic'],
  ['a right-to-left override in it', 'up\u202Edorp', 'U+202E'],
  ['a line separator in it', 'up\u2028rod', 'U+2028'],
  ['fullwidth letters', 'ｕｐｒｏｄ', 'U+FF55'],
  ['only Cyrillic letters that look Latin', 'ехо', 'can pass for "exo"'],
]

const listOf = async (env) => {
  const list = await runJson(['locks', 'list'], { env })
  assert.equal(list.code, 0, list.stderr)
  return list.json.map((lock) => [lock.env, lock.user])
}

for (const store of STORES) {
  describe(`attacks through names and writes (${store.name})`, { skip: store.skip }, () => {
    it('attack: a look-alike of a held env is refused everywhere (exit 2, one line), and nothing is stored', async () => {
      const { env, options } = await store.fresh()
      assert.equal((await run(['locks', 'lock', '--env', 'uprod', '--user', 'alice'], { env })).code, 0)
      for (const [what, name, named] of LOOK_ALIKES) {
        const cli = await run(['locks', 'lock', '--env', name, '--user', 'mallory', '--no-wait'], { env })
        assert.equal(cli.code, 2, `${what}: ${cli.stderr}`)
        const lines = cli.stderr.trimEnd().split('\n')
        assert.equal(lines.length, 1, `${what}: one line: ${cli.stderr}`)
        assert.match(lines[0], /^error: env ".*" (has|mixes|can pass for)/, what)
        assert.ok(lines[0].includes(named), `${what}: ${lines[0]}`)
        await assert.rejects(daplaya.lock({ ...options, env: name, user: 'mallory', noWait: true }), { code: 'INVALID_ARGUMENT' }, what)
        // Slack splits its text into words at any whitespace (a line separator too).
        if (/\s/.test(name)) continue
        const body = slackForm('mallory', `lock ${name}`)
        const slack = await daplaya.handleSlackCommand({ headers: slackSign(body), body }, { ...options, signingSecret: SLACK_SECRET })
        const reply = JSON.parse(slack.body)
        assert.equal(reply.response_type, 'ephemeral', what)
        assert.match(reply.text, /names are limited|so it can pass|can pass for/, what)
      }
      assert.deepEqual(await listOf(env), [['uprod', 'alice']], 'one uprod, held by alice')
      assert.equal((await run(['locks', 'release', '--env', 'uprod\u200B', '--user', 'alice'], { env })).code, 2)
      assert.deepEqual(await listOf(env), [['uprod', 'alice']])
    })

    it('attack: a user name with invisible or text-direction characters is refused, and nothing is stored', async () => {
      const { env } = await store.fresh()
      for (const user of ['alice\u200B', '\u202Eecila', 'ali\u2066ce', 'al\u00ADice']) {
        const result = await run(['locks', 'lock', '--env', 'prod', '--user', user], { env })
        assert.equal(result.code, 2, result.stderr)
        assert.match(result.stderr, /^error: user ".*" has an invisible or text-direction character \(U\+[0-9A-F]{4}\)/)
      }
      assert.deepEqual(await listOf(env), [])
    })

    it('attack: a holder with invisible or text-direction characters is refused, and nothing is stored', async () => {
      const { env, options } = await store.fresh()
      for (const holder of ['run-1\u200B', '\u202E1-nur']) {
        const given = await run(['locks', 'lock', '--env', 'prod', '--user', 'alice', '--holder', holder], { env })
        assert.equal(given.code, 2, given.stderr)
        assert.match(given.stderr, /^error: holder ".*" has an invisible or text-direction character \(U\+[0-9A-F]{4}\)/)
        const fromVariable = await run(['locks', 'lock', '--env', 'prod', '--user', 'alice'], { env: { ...env, DAPLAYA_HOLDER: holder } })
        assert.equal(fromVariable.code, 2, fromVariable.stderr)
        assert.match(fromVariable.stderr, /^error: holder ".*" has an invisible .* \(from DAPLAYA_HOLDER\)$/m)
        await assert.rejects(daplaya.lock({ ...options, env: 'prod', user: 'alice', holder }), { code: 'INVALID_ARGUMENT' })
      }
      assert.deepEqual(await listOf(env), [])
    })

    it('attack: 26 envs at once, or one env twice, are refused and store nothing', async () => {
      const { env, options } = await store.fresh()
      const flags = (envs) => envs.flatMap((name) => ['--env', name])
      const many = Array.from({ length: 26 }, (_, n) => `e${n}`)
      const tooMany = await run(['locks', 'lock', ...flags(many), '--user', 'mallory'], { env })
      assert.equal(tooMany.code, 2, tooMany.stderr)
      assert.match(tooMany.stderr, /^error: .*at most 25 envs at once, not 26/)
      await assert.rejects(daplaya.lock({ ...options, env: many, user: 'mallory' }), { code: 'INVALID_ARGUMENT' })
      for (const twice of [['eu', 'EU'], ['eu', ' eu ', 'us'], ['prod', 'prod']]) {
        const repeated = await run(['locks', 'lock', ...flags(twice), '--user', 'mallory'], { env })
        assert.equal(repeated.code, 2, `${twice}: ${repeated.stderr}`)
        assert.match(repeated.stderr, /^error: env (eu|prod) is given twice\n$/)
        await assert.rejects(daplaya.lock({ ...options, env: twice, user: 'mallory' }), { code: 'INVALID_ARGUMENT' })
      }
      assert.deepEqual(await listOf(env), [])
    })

    it('attack: an env named like a path writes nothing outside the state dir', async () => {
      const { env } = await store.fresh()
      const stateDir = tempDir()
      const target = path.join(os.tmpdir(), `daplaya-pwned-${process.pid}-${Date.now()}`)
      const name = `../../../../../../..${target}`
      const locked = await run(['locks', 'lock', '--env', name, '--user', 'alice'], { env: { ...env, DAPLAYA_STATE_DIR: stateDir } })
      assert.equal(locked.code, 0, locked.stderr)
      assert.deepEqual(await listOf(env), [[name, 'alice']], 'the name is a name')
      assert.ok(!fs.existsSync(target), `${target} was written`)
      assert.ok(!fs.existsSync(`${target}.json`), `${target}.json was written`)
      const released = await run(['locks', 'release', '--env', name, '--user', 'alice'], { env: { ...env, DAPLAYA_STATE_DIR: stateDir } })
      assert.equal(released.code, 0, released.stderr)
      assert.ok(!fs.existsSync(target))
    })

    it('attack: SIGKILL in the middle of writes leaves no env split or wedged', async () => {
      const { env } = await store.fresh()
      try {
        for (let round = 0; round < 3; round++) {
          const runners = Array.from({ length: 8 }, (_, n) => {
            const envs = n % 2 ? ['--env', 'eu', '--env', 'us'] : ['--env', 'prod']
            const runner = start(['locks', 'lock', ...envs, '--user', `runner-${round}-${n}`, '--ttl', '2s', '--poll-interval', '50ms', '--timeout', '30s'], { env })
            setTimeout(() => runner.child.kill('SIGKILL'), 50 + Math.floor(Math.random() * 1500))
            return runner.done
          })
          await Promise.all(runners)
          const list = await runJson(['locks', 'list'], { env })
          assert.equal(list.code, 0, list.stderr)
          const holder = (name) => list.json.find((lock) => lock.env === name)?.user ?? null
          // A lock of several envs is all or none: eu and us held by the same runner, or neither.
          assert.equal(holder('eu'), holder('us'), JSON.stringify(list.json))
        }
        // Every env is usable again once the killed holders' leases run out.
        for (const envs of [['--env', 'prod'], ['--env', 'eu', '--env', 'us']]) {
          const taken = await runJson(['locks', 'lock', ...envs, '--user', 'survivor', '--poll-interval', '100ms', '--timeout', '60s'], { env })
          assert.equal(taken.code, 0, taken.stderr)
        }
        assert.deepEqual((await listOf(env)).sort(), [['eu', 'survivor'], ['prod', 'survivor'], ['us', 'survivor']])
      } finally {
        stopStarted()
        await sleep(0)
      }
    })
  })
}
