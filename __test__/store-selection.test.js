'use strict'
// Which store the CLI uses when nothing, a file, or CI is configured.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { run, runJson, tempDir } = require('./helpers.js')

describe('store selection', () => {
  it('with nothing configured, uses the per-user embedded store and says where in one stderr line', async () => {
    const home = tempDir()
    const env = { XDG_DATA_HOME: home }
    const locked = await runJson(['locks', 'lock', '--env', 'demo', '--user', 'me'], { env })
    assert.equal(locked.code, 0, locked.stderr)
    const file = path.join(home, 'daplaya', 'daplaya.db')
    assert.equal(
      locked.stderr,
      `daplaya: using the embedded store at ${file} (set DAPLAYA_STORE or AWS settings to share locks)\n`,
    )
    assert.ok(fs.existsSync(file))
    const listed = await runJson(['locks', 'list'], { env })
    assert.equal(listed.json[0].id, locked.json.id, 'the same file is used again')
  })

  it('refuses the implicit embedded store under CI=true (exit 2) and says how to configure one', async () => {
    const home = tempDir()
    const result = await run(['locks', 'lock', '--env', 'demo', '--user', 'me'], { env: { CI: 'true', XDG_DATA_HOME: home } })
    assert.equal(result.code, 2)
    assert.match(result.stderr, /^error: CI=true and no store is configured.*DAPLAYA_STORE=dynamodb.*DAPLAYA_STORE=sqlite:<path>/)
    assert.equal(result.stderr.trimEnd().split('\n').length, 1)
    assert.ok(!fs.existsSync(path.join(home, 'daplaya')), 'nothing was created')
  })

  it('--store sqlite:<path> and DAPLAYA_STORE pick a file, also under CI', async () => {
    const file = path.join(tempDir(), 'explicit.db')
    const viaFlag = await runJson(['locks', 'lock', '--env', 'demo', '--user', 'me', '--store', `sqlite:${file}`], { env: { CI: 'true' } })
    assert.equal(viaFlag.code, 0, viaFlag.stderr)
    assert.equal(viaFlag.stderr, '')
    const viaEnv = await runJson(['locks', 'list'], { env: { CI: 'true', DAPLAYA_STORE: `sqlite:${file}` } })
    assert.equal(viaEnv.json[0].id, viaFlag.json.id)
  })

  it('an unusable embedded store path is a store failure (exit 1) in one line', async () => {
    const file = path.join(tempDir(), 'not-a-dir')
    fs.writeFileSync(file, 'x')
    const result = await run(['locks', 'list', '--store', `sqlite:${file}/sub/locks.db`])
    assert.equal(result.code, 1)
    assert.match(result.stderr, /^error: embedded store .*not-a-dir/)
    assert.equal(result.stderr.trimEnd().split('\n').length, 1)
  })

  it('a file that is not a SQLite database is a store failure (exit 1)', async () => {
    const file = path.join(tempDir(), 'garbage.db')
    fs.writeFileSync(file, 'this is not sqlite '.repeat(100))
    const result = await run(['locks', 'list', '--store', `sqlite:${file}`])
    assert.equal(result.code, 1)
    assert.match(result.stderr, /^error: embedded store .*garbage\.db: file is not a database\n$/)
  })
})
