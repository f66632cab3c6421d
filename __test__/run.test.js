'use strict'
// `locks run` under faults, on each store: a command holds the lock for exactly its life, and
// no crash, stall, signal or vanished store ever lets two holders overlap unnoticed.
const { describe, it, afterEach } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { STORES, run, runJson, tempDir, uniqueName, start, stopStarted } = require('./helpers.js')

// Commands for `locks run` to run, written once per test file.
const SCRIPTS = tempDir()
function script(name, source) {
  const file = path.join(SCRIPTS, name)
  fs.writeFileSync(file, source)
  return file
}
const pause = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
/** Appends `start <pid> <token>` / `end <pid> <token>` around a short pause. */
const CRITICAL = script(
  'critical.js',
  `const fs = require('node:fs')
const token = process.env.DAPLAYA_FENCING_TOKEN
fs.appendFileSync(process.argv[2], \`start \${process.pid} \${token}\\n\`)
;(${pause})(20)
fs.appendFileSync(process.argv[2], \`end \${process.pid} \${token}\\n\`)
`,
)
/** Says `ready <pid> <token>` on stderr and runs until signalled; records a SIGTERM (then exits 0). */
const HOLDER = script(
  'holder.js',
  `const fs = require('node:fs')
const [marker, mode] = process.argv.slice(2)
const token = process.env.DAPLAYA_FENCING_TOKEN
if (mode !== 'die') {
  process.on('SIGTERM', () => {
    fs.appendFileSync(marker, \`SIGTERM \${token}\\n\`)
    process.exit(mode === 'trap' ? 3 : 0)
  })
}
process.stderr.write(\`ready \${process.pid} \${token}\\n\`)
setTimeout(() => process.exit(9), 60_000)
`,
)

// Whatever a failed test left running: CLI processes, and commands whose daplaya was killed.
const orphans = []
afterEach(() => {
  stopStarted()
  for (const pid of orphans.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {}
  }
})

const READY = /ready (\d+) (\d+)\n/
const LOCK_LIST = (env) => runJson(['locks', 'list'], { env })

/** Checks a critical-section log: one holder at a time, fencing tokens strictly increasing. */
function checkLog(text) {
  const lines = text.trimEnd().split('\n')
  let previousToken = 0
  for (let i = 0; i < lines.length; i += 2) {
    const [kind, pid, token] = lines[i].split(' ')
    assert.equal(kind, 'start', `line ${i + 1}: ${lines[i]}`)
    assert.equal(lines[i + 1], `end ${pid} ${token}`, `line ${i + 2}: another holder started before ${pid} ended`)
    assert.ok(Number(token) > previousToken, `token ${token} after ${previousToken}`)
    previousToken = Number(token)
  }
  return lines.length / 2
}

for (const store of STORES) {
  describe(`locks run on ${store.name}`, { skip: store.skip }, () => {
    it('runs the command with the lock in its environment, keeps its exit code, then releases', async () => {
      const { env } = await store.fresh()
      const show = 'console.log(JSON.stringify([process.env.DAPLAYA_LOCK_ID, process.env.DAPLAYA_ENV, process.env.DAPLAYA_FENCING_TOKEN])); process.exitCode = 7'
      const first = await run(['locks', 'run', '--env', 'Prod', '--user', 'alice', '--', process.execPath, '-e', show], { env })
      assert.equal(first.code, 7, first.stderr)
      const [id, lockEnv, token] = JSON.parse(first.stdout)
      assert.match(id, /^[0-9a-f-]{36}$/)
      assert.equal(lockEnv, 'prod')
      assert.match(token, /^[1-9][0-9]*$/)
      assert.match(first.stderr, new RegExp(`^Locked prod for alice; .*lock id ${id}, fencing token ${token}\n`))
      assert.match(first.stderr, /Released prod/)
      assert.deepEqual((await LOCK_LIST(env)).json, [], 'released afterwards')

      // --json: one document on stdout; the command's stdout goes to stderr.
      const json = await run(['locks', 'run', '--json', '--env', 'prod', '--user', 'bob', '--', process.execPath, '-e', show], { env })
      assert.equal(json.code, 7, json.stderr)
      const document = JSON.parse(json.stdout)
      assert.equal(document.exitCode, 7)
      assert.equal(document.lock.active, false)
      assert.ok(document.lock.fencingToken > Number(token), 'fencing tokens increase')
      assert.ok(json.stderr.includes(JSON.stringify([document.lock.id, 'prod', String(document.lock.fencingToken)])), json.stderr)
      assert.deepEqual((await LOCK_LIST(env)).json, [])
    })

    it('runLocked from the Node API: same run, rejections with a code', async () => {
      const { runLocked } = require('..')
      const { options } = await store.fresh()
      const seen = path.join(tempDir(), 'seen')
      // The command writes to a file: this process's stdout carries the test report.
      const write = `require('node:fs').writeFileSync(${JSON.stringify(seen)}, process.env.DAPLAYA_ENV + ' ' + process.env.DAPLAYA_FENCING_TOKEN); process.exitCode = 7`
      const result = await runLocked({ ...options, env: 'Prod', user: 'alice' }, [process.execPath, '-e', write])
      assert.equal(result.exitCode, 7)
      assert.deepEqual([result.lock.env, result.lock.active, result.lock.meta], ['prod', false, 'API'])
      assert.equal(fs.readFileSync(seen, 'utf8'), `prod ${result.lock.fencingToken}`)
      assert.deepEqual((await require('..').listLocks(options)), [])
      for (const command of [[], 'echo hi', [1]]) {
        await assert.rejects(runLocked({ ...options, env: 'prod', user: 'alice' }, command), { code: 'INVALID_ARGUMENT' })
      }
      await assert.rejects(runLocked({ ...options, env: 'prod', user: 'alice' }, ['daplaya-no-such-command']), {
        code: 'COMMAND_NOT_FOUND',
        message: /^cannot run daplaya-no-such-command: /,
      })
      await require('..').lock({ ...options, env: 'prod', user: 'carol' })
      await assert.rejects(runLocked({ ...options, env: 'prod', user: 'alice', noWait: true }, [process.execPath, '-e', '']), { code: 'LOCK_BUSY' })
    })

    it('a command that cannot start, or a busy env, runs nothing and holds nothing', async () => {
      const { env } = await store.fresh()
      const missing = await run(['locks', 'run', '--env', 'prod', '--user', 'alice', '--', 'daplaya-no-such-command'], { env })
      assert.equal(missing.code, 127, missing.stderr)
      // Looked up before the lock is taken: no lock, no release, no hold in the history.
      assert.equal(missing.stderr, 'error: cannot run daplaya-no-such-command: command not found\n')
      assert.deepEqual((await LOCK_LIST(env)).json, [])
      assert.deepEqual((await runJson(['locks', 'history', '--env', 'prod'], { env })).json, [])
      const noCommand = await run(['locks', 'run', '--env', 'prod', '--user', 'alice'], { env })
      assert.equal(noCommand.code, 2)

      await run(['locks', 'lock', '--env', 'prod', '--user', 'carol'], { env })
      // Nor does it wait in line for a lock it could not use (a wait would be ended by SIGKILL).
      const notWaiting = await run(['locks', 'run', '--env', 'prod', '--user', 'alice', '--quiet', '--', 'daplaya-no-such-command'], { env, timeoutMs: 20_000 })
      assert.equal(notWaiting.code, 127, notWaiting.stderr)
      const busy = await run(['locks', 'run', '--env', 'prod', '--user', 'alice', '--no-wait', '--', process.execPath, '-e', 'console.log("RAN")'], { env })
      assert.equal(busy.code, 3, busy.stderr)
      assert.equal(busy.stdout, '')
      assert.match(busy.stderr, /^error: prod is locked by carol until \d\d:\d\d:\d\d, in (20m|19m\d+s) \(meta: CLI\)\n$/)
    })

    it('a command that does not exist exits 127, a file that is not executable 126: one line, nothing held', async () => {
      const { env, options } = await store.fresh()
      const notExecutable = script('not-executable.sh', '#!/bin/sh\necho RAN\n')
      fs.chmodSync(notExecutable, 0o644)
      const cases = [
        { program: 'daplaya-no-such-command', exit: 127, code: 'COMMAND_NOT_FOUND' },
        { program: notExecutable, exit: 126, code: 'CANNOT_EXECUTE' },
      ]
      for (const { program, exit, code } of cases) {
        const quiet = await run(['locks', 'run', '--env', 'prod', '--user', 'alice', '--quiet', '--', program], { env })
        assert.equal(quiet.code, exit, quiet.stderr)
        assert.equal(quiet.stdout, '')
        assert.match(quiet.stderr, new RegExp(`^error: cannot run ${program.replace(/[./]/g, '\\$&')}: [^\n]+\n$`))
        const json = await run(['locks', 'run', '--env', 'prod', '--user', 'alice', '--json', '--', program], { env })
        assert.equal(json.code, exit, json.stderr)
        const { error } = JSON.parse(json.stdout)
        assert.deepEqual([error.code, error.exitCode], [code, exit])
        assert.deepEqual((await LOCK_LIST(env)).json, [])

        const { runLocked } = require('..')
        await assert.rejects(runLocked({ ...options, env: 'prod', user: 'alice' }, [program]), {
          code,
          message: /^cannot run /,
        })
        assert.deepEqual(await require('..').listLocks(options), [])
      }
    })

    it('renewals keep the lock past --ttl while the command runs; an uberlock is released too', async () => {
      const { env } = await store.fresh()
      const marker = path.join(tempDir(), 'marker')
      const holder = start(['locks', 'run', '--env', 'prod', '--user', 'alice', '--ttl', '2s', '--', process.execPath, HOLDER, marker], { env })
      await holder.waitFor(READY)
      const first = (await LOCK_LIST(env)).json
      assert.equal(first.length, 1)
      await new Promise((resolve) => setTimeout(resolve, 3000))
      const later = (await LOCK_LIST(env)).json
      assert.deepEqual(later.map((l) => [l.user, l.id]), [['alice', first[0].id]], 'held past the first lease')
      assert.ok(later[0].expiresAt > first[0].expiresAt, 'renewed')
      assert.equal((await run(['locks', 'lock', '--env', 'prod', '--user', 'bob', '--no-wait'], { env })).code, 3)
      holder.child.kill('SIGTERM')
      const done = await holder.done
      assert.equal(done.code, 0, done.stderr)
      assert.deepEqual((await LOCK_LIST(env)).json, [])

      const uber = await run(['locks', 'run', '--env', 'prod', '--user', 'alice', '--uberlock', '--', process.execPath, '-e', ''], { env })
      assert.equal(uber.code, 0, uber.stderr)
      assert.match(uber.stderr, /^Uberlocked prod for alice; never expires/)
      assert.deepEqual((await LOCK_LIST(env)).json, [], 'the uberlock is released at the end')
    })

    it('mutual exclusion: 16 processes take turns 3 times each, one holder at a time', { timeout: 240_000 }, async () => {
      const { env } = await store.fresh()
      const log = path.join(tempDir(), 'critical.log')
      const worker = async (w) => {
        const codes = []
        for (let round = 0; round < 3; round++) {
          const result = await run(
            ['locks', 'run', '--env', 'prod', '--user', `worker-${w}`, '--ttl', '30s', '--poll-interval', '100ms', '--', process.execPath, CRITICAL, log],
            { env, timeoutMs: 200_000 },
          )
          codes.push(result.code === 0 ? 0 : `${result.code} ${result.signal ?? ''} ${result.stderr.split('\n').filter((l) => !/^Still locked/.test(l)).join(' | ')}`)
        }
        return codes
      }
      const results = await Promise.all(Array.from({ length: 16 }, (_, w) => worker(w)))
      assert.deepEqual(results.flat().filter((code) => code !== 0), [], 'every run exits 0')
      assert.equal(checkLog(fs.readFileSync(log, 'utf8')), 48)
      assert.deepEqual((await LOCK_LIST(env)).json, [])
    })

    it('a holder killed with SIGKILL: the next waiter gets the lock within ttl + one poll interval', async () => {
      const { env } = await store.fresh()
      const ttl = 1000
      const poll = 100
      const holder = start(['locks', 'run', '--env', 'prod', '--user', 'alice', '--ttl', `${ttl}ms`, '--', process.execPath, HOLDER, '-', 'die'], { env })
      const ready = (await holder.waitFor(READY)).match
      orphans.push(Number(ready[1])) // its command outlives a SIGKILLed daplaya
      const waiter = start(
        ['locks', 'run', '--env', 'prod', '--user', 'bob', '--poll-interval', `${poll}ms`, '--', process.execPath, '-e', 'console.log(process.env.DAPLAYA_FENCING_TOKEN)'],
        { env },
      )
      await waiter.waitFor(/Still locked at env prod by alice/)
      const killedAt = Date.now()
      holder.child.kill('SIGKILL')
      const { at } = await waiter.waitFor(/^Locked prod for bob/m)
      const done = await waiter.done
      assert.equal(done.code, 0, done.stderr)
      assert.ok(Number(done.stdout) > Number(ready[2]), `token ${done.stdout.trim()} after ${ready[2]}`)
      // Timing belongs in the benchmark; this bound only catches a lock that never lapses.
      assert.ok(at - killedAt < ttl + poll + 3000, `took ${at - killedAt} ms`)
    })

    it('a holder stopped past its lease loses the lock: its command is signalled, it exits 1', async () => {
      const { env } = await store.fresh()
      const marker = path.join(tempDir(), 'marker')
      const holder = start(['locks', 'run', '--env', 'prod', '--user', 'alice', '--ttl', '3s', '--', process.execPath, HOLDER, marker], { env })
      const ready = (await holder.waitFor(READY)).match
      orphans.push(Number(ready[1]))
      // Stop it just after a renewal (one a second), between two store writes: a process
      // frozen inside a SQLite write transaction would block every other writer.
      const first = (await LOCK_LIST(env)).json[0]
      while ((await LOCK_LIST(env)).json[0].updatedAt === first.updatedAt) {}
      process.kill(holder.pid, 'SIGSTOP')
      let taken
      try {
        taken = await runJson(['locks', 'lock', '--env', 'prod', '--user', 'bob', '--ttl', '1m', '--poll-interval', '100ms', '--timeout', '20s'], { env })
      } finally {
        process.kill(holder.pid, 'SIGCONT')
      }
      assert.equal(taken.code, 0, taken.stderr)
      const done = await holder.done
      assert.equal(done.code, 1, done.stderr)
      assert.match(done.stderr, /^error: lost the lock on prod to bob; stopping the command$/m)
      assert.doesNotMatch(done.stderr, /Released/)
      assert.equal(fs.readFileSync(marker, 'utf8'), `SIGTERM ${ready[2]}\n`, 'the command was signalled')
      assert.ok(taken.json.fencingToken > Number(ready[2]), 'fencing tokens increase')
      const list = (await LOCK_LIST(env)).json
      assert.deepEqual(list.map((l) => [l.user, l.id]), [['bob', taken.json.id]], 'bob keeps the lock')
    })

    for (const [signal, mode, expected] of [
      ['SIGINT', 'die', 130],
      ['SIGTERM', 'die', 143],
      ['SIGTERM', 'trap', 3],
    ]) {
      const how = mode === 'die' ? 'dies of it' : 'exits 3 on it'
      it(`${signal} reaches the command, which ${how}: exit ${expected}, lock released`, async () => {
        const { env } = await store.fresh()
        const marker = path.join(tempDir(), 'marker')
        const proc = start(['locks', 'run', '--env', 'prod', '--user', 'alice', '--', process.execPath, HOLDER, marker, mode], { env, detached: true })
        const ready = (await proc.waitFor(READY)).match
        orphans.push(Number(ready[1]))
        proc.child.kill(signal)
        const done = await proc.done
        assert.equal(done.code, expected, done.stderr)
        if (mode === 'trap') assert.equal(fs.readFileSync(marker, 'utf8'), `SIGTERM ${ready[2]}\n`)
        assert.match(done.stderr, /Released prod/)
        assert.deepEqual((await LOCK_LIST(env)).json, [])
      })
    }

    it('a signal while waiting exits 130 and runs nothing', async () => {
      const { env } = await store.fresh()
      const held = await runJson(['locks', 'lock', '--env', 'prod', '--user', 'carol'], { env })
      const proc = start(['locks', 'run', '--env', 'prod', '--user', 'alice', '--poll-interval', '100ms', '--', process.execPath, '-e', 'console.log("RAN")'], {
        env,
        detached: true,
      })
      await proc.waitFor(/Still locked at env prod by carol/)
      proc.child.kill('SIGINT')
      const done = await proc.done
      assert.equal(done.code, 130, done.stderr)
      assert.equal(done.stdout, '')
      assert.match(done.stderr, /error: interrupted\n$/)
      assert.deepEqual((await LOCK_LIST(env)).json.map((l) => l.id), [held.json.id])
    })
  })
}

describe('locks run when DynamoDB goes away', { skip: STORES.find((s) => s.name === 'dynamodb').skip }, () => {
  it('a waiter fails with one clear line, the holder stops its command, both exit 1', { timeout: 180_000 }, async () => {
    const { startDynamoDbLocal } = require('../scripts/dynamodb-local.js')
    const dynamo = await startDynamoDbLocal()
    try {
      const env = {
        DAPLAYA_STORE: 'dynamodb',
        DAPLAYA_DYNAMODB_ENDPOINT: dynamo.endpoint,
        DAPLAYA_AWS_REGION: 'us-east-1',
        DAPLAYA_LOCKS_TABLE: uniqueName('Locks'),
        DAPLAYA_JOBS_TABLE: uniqueName('Jobs'),
        AWS_ACCESS_KEY_ID: 'daplayatest',
        AWS_SECRET_ACCESS_KEY: 'daplayatest',
        AWS_EC2_METADATA_DISABLED: 'true',
      }
      const init = await run(['init'], { env })
      assert.equal(init.code, 0, init.stderr)
      const marker = path.join(tempDir(), 'marker')
      const holder = start(['locks', 'run', '--env', 'prod', '--user', 'alice', '--ttl', '2s', '--', process.execPath, HOLDER, marker], { env })
      const ready = (await holder.waitFor(READY)).match
      orphans.push(Number(ready[1]))
      const waiter = start(['locks', 'run', '--env', 'prod', '--user', 'bob', '--poll-interval', '200ms', '--', process.execPath, '-e', 'console.log("RAN")'], { env })
      await waiter.waitFor(/Still locked at env prod by alice/)
      const stoppedAt = Date.now()
      await dynamo.stop()

      const waited = await waiter.done
      const waiterTook = Date.now() - stoppedAt
      assert.equal(waited.code, 1, waited.stderr)
      assert.equal(waited.stdout, '', 'the command never ran')
      assert.doesNotMatch(waited.stderr, /Locked prod for bob/)
      const lastLines = waited.stderr.trimEnd().split('\n').filter((l) => !/^Still locked/.test(l))
      assert.equal(lastLines.length, 1, waited.stderr)
      assert.match(lastLines[0], /^error: .*DynamoDB/)
      // docs/cli.md promises poll interval + 30 s (the store's operation timeout); generous here.
      assert.ok(waiterTook < 45_000, `the waiter took ${waiterTook} ms`)

      const held = await holder.done
      assert.equal(held.code, 1, held.stderr)
      assert.match(held.stderr, /^error: could not renew the lock on prod before its lease ran out \(.*\); stopping the command$/m)
      assert.equal(fs.readFileSync(marker, 'utf8'), `SIGTERM ${ready[2]}\n`)
    } finally {
      await dynamo.stop()
    }
  })
})
