'use strict'
// People at a terminal: a live waiting line, --quiet, help with examples, completions, local
// times. The terminal is a real pseudo-terminal made by util-linux `script`.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync } = require('node:child_process')
const { BIN, baseEnv, hasScript, quote, run, runJson, tempDir } = require('./helpers.js')
const path = require('node:path')

/** Runs the CLI with stdout and stderr on a pseudo-terminal; returns what the terminal showed. */
function runOnTerminal(args, env) {
  const command = [process.execPath, BIN, ...args].map(quote).join(' ')
  try {
    return execFileSync('script', ['-qec', command, '/dev/null'], { env: { ...baseEnv(), TERM: 'xterm', ...env }, encoding: 'utf8' })
  } catch (error) {
    return error.stdout
  }
}

function freshFile() {
  return { DAPLAYA_STORE: `sqlite:${path.join(tempDir(), 'locks.db')}` }
}

describe('at a terminal', () => {
  it('waiting shows one live status line (place in line, holder, meta, held for, waited), cleared at the end', { skip: !hasScript && 'no script(1) from util-linux (Debian: apt-get install bsdutils)' }, async () => {
    const env = freshFile()
    await run(['locks', 'lock', '--env', 'prod', '--user', 'alice', '--meta', 'https://ci/42'], { env })
    const screen = runOnTerminal(['locks', 'lock', '--env', 'prod', '--user', 'bob', '--timeout', '1s', '--poll-interval', '200ms'], { ...env, NO_COLOR: '1' })
    const updates = screen.split('\r\x1b[2K').filter((part) => part.startsWith('Waiting for prod'))
    assert.ok(updates.length >= 3, JSON.stringify(screen))
    assert.match(updates[0], /^Waiting for prod: 1st in line, 1 waiting; held \S+ by alice \(since \d\d:\d\d:\d\d, meta: https:\/\/ci\/42\), expires in \S+; waited \S+$/)
    assert.ok(!screen.includes('Still locked at env'), 'no line per poll at a terminal')
    assert.match(screen, /\r\x1b\[2Kerror: prod is locked by alice\r?\n/, 'the status line is cleared before the error')
  })

  it('colour only at a terminal, never with NO_COLOR', { skip: !hasScript && 'no script(1) from util-linux (Debian: apt-get install bsdutils)' }, async () => {
    const env = freshFile()
    await run(['locks', 'lock', '--env', 'prod', '--user', 'alice'], { env })
    assert.match(runOnTerminal(['locks', 'list'], env), /\x1b\[1mprod\x1b\[0m/)
    assert.ok(!runOnTerminal(['locks', 'list'], { ...env, NO_COLOR: '1' }).includes('\x1b['))
    assert.ok(!(await run(['locks', 'list'], { env })).stdout.includes('\x1b['), 'no colour into a pipe')
  })

  it('--quiet silences progress but not results or errors', async () => {
    const home = tempDir()
    const quietNotice = await run(['locks', 'lock', '--env', 'prod', '--user', 'alice', '--quiet'], { env: { XDG_DATA_HOME: home } })
    assert.equal(quietNotice.code, 0)
    assert.equal(quietNotice.stderr, '', 'no embedded-store notice')
    assert.match(quietNotice.stdout, /^Locked prod for alice/)
    const waited = await run(['locks', 'lock', '--env', 'prod', '--user', 'bob', '--timeout', '600ms', '--poll-interval', '100ms', '-q'], { env: { XDG_DATA_HOME: home } })
    assert.equal(waited.code, 3)
    assert.equal(waited.stderr, 'error: prod is locked by alice\n')
  })

  it('times shown to people are relative and in local time', async () => {
    const env = { ...freshFile(), TZ: 'Asia/Kolkata' }
    const held = await runJson(['locks', 'lock', '--env', 'prod', '--user', 'alice'], { env })
    const list = await run(['locks', 'list'], { env })
    const local = new Date(held.json.createdAt + 330 * 60_000).toISOString().slice(11, 19)
    assert.match(list.stdout, new RegExp(`since (just now|\\d+(ms|s) ago) \\(${local}\\)  expires in (20m|19m\\d+s)`))
  })
})

describe('help', () => {
  const commands = [
    ['init'],
    ['locks', 'list'],
    ['locks', 'lock'],
    ['locks', 'release'],
    ['locks', 'run'],
    ['jobs', 'start'],
    ['jobs', 'get'],
    ['jobs', 'end'],
    ['jobs', 'active'],
    ['jobs', 'skipped'],
    ['serve'],
    ['slack', 'serve'],
    ['completions'],
  ]
  for (const command of commands) {
    it(`${command.join(' ')} --help has a one-line purpose and an example`, async () => {
      const help = await run([...command, '--help'])
      assert.equal(help.code, 0)
      const [purpose] = help.stdout.split('\n')
      assert.match(purpose, /^[A-Z][^\n]{10,}$/)
      assert.match(help.stdout, new RegExp(`Example:\\n  (\\S+=\\S+ )?daplaya ${command.join(' ')}`))
    })
  }

  it('--version prints the package version', async () => {
    assert.equal((await run(['--version'])).stdout, `daplaya ${require('../package.json').version}\n`)
  })
})

describe('completions', () => {
  const expected = { bash: /complete -F _daplaya/, zsh: /^#compdef daplaya/, fish: /complete -c daplaya/ }
  for (const [shell, pattern] of Object.entries(expected)) {
    it(`${shell} completions cover the subcommands`, async () => {
      const result = await run(['completions', shell])
      assert.equal(result.code, 0)
      assert.match(result.stdout, pattern)
      for (const word of ['locks', 'jobs', 'uberlock', 'poll-interval']) assert.ok(result.stdout.includes(word), word)
    })
  }
  it('an unknown shell is a usage error', async () => {
    const result = await run(['completions', 'tcsh'])
    assert.equal(result.code, 2)
    assert.match(result.stderr, /^error: invalid value 'tcsh'/)
  })
})
