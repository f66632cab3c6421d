'use strict'
// Attacks on the per-machine copy of a held lock (docs/guarantees.md, Security): a hand-written copy, and a
// careless or hostile neighbour's state dir and files. Each test is an attack that must fail:
// the test fails if the attack works. Through bin/daplaya.js, on each store.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { STORES, BIN, run, runJson, baseEnv, tempDir } = require('./helpers.js')

const unixOnly = process.platform === 'win32' ? 'no file modes or FIFOs on Windows' : false
const asRoot = typeof process.getuid === 'function' && process.getuid() === 0

/** A state dir of its own (0700, as mkdtemp makes it). */
const stateDir = () => fs.mkdtempSync(path.join(tempDir(), 'state-'))

/** The copy files in a state dir. */
const copies = (dir) => fs.readdirSync(dir).filter((name) => name.startsWith('held-'))

const mode = (file) => fs.statSync(file).mode & 0o777

/**
 * The name this machine's copy of `env` held by `user` (their own run) takes in a state dir:
 * learnt as an attacker would, by taking and releasing it once from another dir.
 */
async function copyName(env, storeEnv, name, user) {
  const dir = stateDir()
  const taken = await run(['locks', 'lock', '--env', name, '--user', user], { env: { ...storeEnv, DAPLAYA_STATE_DIR: dir } })
  assert.equal(taken.code, 0, taken.stderr)
  const [file] = copies(dir)
  assert.equal((await run(['locks', 'release', '--env', name, '--user', user], { env: { ...storeEnv, DAPLAYA_STATE_DIR: stateDir() } })).code, 0)
  return file
}

/** Writes `copy` as the copy file `file` in a fresh state dir, which it returns. */
function plant(file, copy) {
  const dir = stateDir()
  fs.writeFileSync(path.join(dir, file), JSON.stringify(copy), { mode: 0o600 })
  return dir
}

/** The copy a lock row (as `locks list --json` shows it) would have, with `lies` told. */
function forged(lock, lies) {
  const { id, user, holder, env, createdAt, updatedAt, active, uberlock, meta, expiresAt, fencingToken } = lock
  // A lock taken in one write has its stamp for revision and token, so the token tells it.
  const copy = { id, user, holder, env, createdAt, updatedAt, active, uberlock, meta, expiresAt, fencingToken, acquisitions: 1, revision: fencingToken }
  return { ...copy, ...lies }
}

const list = async (env) => (await runJson(['locks', 'list'], { env })).json
const history = async (env, name = 'prod') => (await runJson(['locks', 'history', '--env', name], { env })).json

for (const store of STORES) {
  describe(`attacks on the copy of a held lock on ${store.name}`, { skip: store.skip }, () => {
    it('attack: a hand-written copy releases another user\'s uberlock without --uberlock', async () => {
      const { env } = await store.fresh()
      const file = await copyName(env, env, 'prod', 'alice')
      const held = await runJson(['locks', 'lock', '--env', 'prod', '--user', 'alice', '--uberlock', '--meta', 'INC-1'], { env: { ...env, DAPLAYA_STATE_DIR: stateDir() } })
      assert.equal(held.code, 0, held.stderr)
      const before = [await list(env), await history(env)]
      const dir = plant(file, forged(held.json, { uberlock: false, expiresAt: held.json.createdAt + 60_000 }))
      const attack = await run(['locks', 'release', '--env', 'prod', '--user', 'alice'], { env: { ...env, DAPLAYA_STATE_DIR: dir } })
      assert.equal(attack.code, 2, attack.stderr)
      assert.match(attack.stderr, /^error: prod is uberlocked by alice; releasing it needs --uberlock$/m)
      assert.deepEqual([await list(env), await history(env)], before, 'the uberlock and its history are as they were')
    })

    it('attack: a hand-written copy rewrites the hold\'s history to another user and meta, and its token', async () => {
      const { env } = await store.fresh()
      const file = await copyName(env, env, 'prod', 'alice')
      const held = await runJson(['locks', 'lock', '--env', 'prod', '--user', 'alice', '--meta', 'https://ci/1'], { env: { ...env, DAPLAYA_STATE_DIR: stateDir() } })
      assert.equal(held.code, 0, held.stderr)
      const dir = plant(file, forged(held.json, { meta: 'rewritten', fencingToken: 1, createdAt: 1_000 }))
      const released = await runJson(['locks', 'release', '--env', 'prod', '--user', 'alice'], { env: { ...env, DAPLAYA_STATE_DIR: dir } })
      assert.equal(released.code, 0, released.stderr)
      const { lock } = released.json
      assert.deepEqual([lock.id, lock.user, lock.meta, lock.fencingToken, lock.createdAt], [held.json.id, 'alice', 'https://ci/1', held.json.fencingToken, held.json.createdAt])
      const [hold, learnt] = await history(env)
      assert.equal(learnt.user, 'alice', 'the hold the attacker took to learn the name')
      assert.deepEqual(
        [hold.id, hold.user, hold.meta, hold.fencingToken, hold.acquiredAt, hold.end],
        [held.json.id, 'alice', 'https://ci/1', held.json.fencingToken, held.json.createdAt, 'released'],
      )
      assert.equal((await history(env)).length, 2, 'no hold row under a forged key')
    })

    it('attack: a copy claiming the lock as its own releases someone else\'s', async () => {
      const { env } = await store.fresh()
      const file = await copyName(env, env, 'prod', 'mallory')
      const held = await runJson(['locks', 'lock', '--env', 'prod', '--user', 'alice'], { env: { ...env, DAPLAYA_STATE_DIR: stateDir() } })
      const before = await list(env)
      const dir = plant(file, forged(held.json, { user: 'mallory', holder: 'mallory' }))
      const attack = await runJson(['locks', 'release', '--env', 'prod', '--user', 'mallory'], { env: { ...env, DAPLAYA_STATE_DIR: dir } })
      assert.deepEqual([attack.code, attack.json.released, attack.json.reason], [0, false, 'heldByOther'])
      assert.deepEqual(await list(env), before)
    })

    it('attack: a forged fencing token wedges the env or makes the next token go backwards', async () => {
      const { env } = await store.fresh()
      const file = await copyName(env, env, 'prod', 'alice')
      for (const token of [9_223_372_036_854_775_807n, 1]) {
        const held = await runJson(['locks', 'lock', '--env', 'prod', '--user', 'alice'], { env: { ...env, DAPLAYA_STATE_DIR: stateDir() } })
        assert.equal(held.code, 0, held.stderr)
        const copy = JSON.stringify(forged(held.json, {})).replace(`"fencingToken":${held.json.fencingToken}`, `"fencingToken":${token}`)
        const dir = stateDir()
        fs.writeFileSync(path.join(dir, file), copy, { mode: 0o600 })
        const released = await runJson(['locks', 'release', '--env', 'prod', '--user', 'alice'], { env: { ...env, DAPLAYA_STATE_DIR: dir } })
        assert.equal(released.code, 0, released.stderr)
        assert.equal(released.json.lock.fencingToken, held.json.fencingToken)
        const next = await runJson(['locks', 'lock', '--env', 'prod', '--user', 'bob'], { env })
        assert.equal(next.code, 0, `the env is not wedged: ${next.stderr}`)
        assert.ok(next.json.fencingToken > held.json.fencingToken, 'tokens grow')
        assert.equal((await run(['locks', 'release', '--env', 'prod', '--user', 'bob'], { env })).code, 0)
      }
    })

    it('attack: a forged copy turns a 2-second lease into a 10-year one', async () => {
      const { env } = await store.fresh()
      const file = await copyName(env, env, 'prod', 'alice')
      const held = await runJson(['locks', 'lock', '--env', 'prod', '--user', 'alice', '--ttl', '2s'], { env: { ...env, DAPLAYA_STATE_DIR: stateDir() } })
      const decade = 10 * 365 * 86_400_000
      const dir = plant(file, forged(held.json, { updatedAt: held.json.updatedAt + decade, expiresAt: held.json.expiresAt + decade }))
      assert.equal((await run(['locks', 'release', '--env', 'prod', '--user', 'alice'], { env: { ...env, DAPLAYA_STATE_DIR: dir } })).code, 0)
      const next = await runJson(['locks', 'lock', '--env', 'prod', '--user', 'bob', '--ttl', '2s'], { env })
      assert.equal(next.code, 0, next.stderr)
      assert.ok(next.json.expiresAt - Date.now() < 60_000, `a lease of 2 s, not ${next.json.expiresAt - Date.now()} ms`)
      assert.ok(next.json.createdAt - Date.now() < 60_000, 'stamped now')
    })

    it('attack: a FIFO, /dev/zero or a huge file as the copy hangs or bloats the release', { skip: unixOnly }, async () => {
      const { env } = await store.fresh()
      const file = await copyName(env, env, 'prod', 'alice')
      for (const make of [
        (target) => execFileSync('mkfifo', [target]),
        (target) => fs.symlinkSync('/dev/zero', target),
        (target) => execFileSync('truncate', ['-s', '2G', target]),
      ]) {
        const held = await runJson(['locks', 'lock', '--env', 'prod', '--user', 'alice'], { env: { ...env, DAPLAYA_STATE_DIR: stateDir() } })
        assert.equal(held.code, 0, held.stderr)
        const dir = stateDir()
        make(path.join(dir, file))
        const released = await runJson(['locks', 'release', '--env', 'prod', '--user', 'alice'], { env: { ...env, DAPLAYA_STATE_DIR: dir }, timeoutMs: 30_000 })
        assert.equal(released.code, 0, `released, not hung or killed: ${released.signal} ${released.stderr}`)
        assert.equal(released.json.released, true)
      }
    })
  })
}

describe('attacks on the state dir', { skip: unixOnly }, () => {
  const sqlite = STORES[0]

  it('attack: an existing state dir open to other users (0777) is used as it is', async () => {
    const { env } = await sqlite.fresh()
    const dir = stateDir()
    fs.chmodSync(dir, 0o777)
    for (const args of [['locks', 'lock', '--env', 'prod', '--user', 'alice'], ['locks', 'release', '--env', 'prod', '--user', 'alice']]) {
      const refused = await run(args, { env: { ...env, DAPLAYA_STATE_DIR: dir } })
      assert.equal(refused.code, 2, refused.stderr)
      assert.match(refused.stderr, new RegExp(`^error: state dir ${dir}: is open to other users \\(mode 0777\\): copies of your locks must be yours alone\\n {2}hint: chmod 700 ${dir}$`, 'm'))
    }
    assert.equal(mode(dir), 0o777, 'left as it was')
    assert.deepEqual(fs.readdirSync(dir), [], 'nothing written there')
    assert.deepEqual(await list(env), [], 'nothing locked')
  })

  it('attack: a state dir of another user, or a link to one, is used', { skip: !asRoot && 'chown needs root' }, async () => {
    const { env } = await sqlite.fresh()
    const theirs = stateDir()
    fs.chownSync(theirs, 65534, 65534)
    const refused = await run(['locks', 'lock', '--env', 'prod', '--user', 'alice'], { env: { ...env, DAPLAYA_STATE_DIR: theirs } })
    assert.equal(refused.code, 2)
    assert.match(refused.stderr, /: belongs to uid 65534, not to you \(uid 0\)$/m)
    const link = path.join(tempDir(), 'link')
    fs.symlinkSync(stateDir(), link)
    const linked = await run(['locks', 'lock', '--env', 'prod', '--user', 'alice'], { env: { ...env, DAPLAYA_STATE_DIR: link } })
    assert.equal(linked.code, 2)
    assert.match(linked.stderr, /: is a symbolic link$/m)
    assert.deepEqual(await list(env), [])
  })

  it('attack: copies readable by others (0644, 0666 under umask 000) and a state dir made open', async () => {
    const { env } = await sqlite.fresh()
    const dir = path.join(tempDir(), 'made', 'state')
    const lock = spawnSync('sh', ['-c', `umask 000; exec "${process.execPath}" "${BIN}" locks lock --env prod --user alice`], {
      env: { ...baseEnv(), ...env, DAPLAYA_STATE_DIR: dir },
      encoding: 'utf8',
    })
    assert.equal(lock.status, 0, lock.stderr)
    assert.equal(mode(dir), 0o700)
    const [copy] = copies(dir)
    assert.equal(mode(path.join(dir, copy)), 0o600)
    assert.deepEqual(fs.readdirSync(dir), [copy], 'no partial file left')
  })

  it('attack: a link planted as the copy makes the write overwrite another file', async () => {
    const { env } = await sqlite.fresh()
    const file = await copyName(env, env, 'prod', 'alice')
    const dir = stateDir()
    const victim = path.join(tempDir(), 'victim')
    fs.writeFileSync(victim, 'precious')
    fs.symlinkSync(victim, path.join(dir, file))
    const lock = await run(['locks', 'lock', '--env', 'prod', '--user', 'alice'], { env: { ...env, DAPLAYA_STATE_DIR: dir } })
    assert.equal(lock.code, 0, lock.stderr)
    assert.equal(fs.readFileSync(victim, 'utf8'), 'precious')
    assert.ok(fs.lstatSync(path.join(dir, file)).isFile(), 'the link was replaced by a copy of our own')
    assert.equal(mode(path.join(dir, file)), 0o600)
  })
})
