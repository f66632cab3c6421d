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
    // Under a second of waiting, no `waited` (never `waited 0ms`), and no milliseconds anywhere.
    assert.match(updates[0], /^Waiting for prod: 1st in line, 1 waiting; held \S+ by alice \(since \d\d:\d\d:\d\d, meta: https:\/\/ci\/42\), expires in \S+$/)
    assert.ok(updates.every((update) => !/\dms\b/.test(update)), JSON.stringify(updates))
    assert.ok(!screen.includes('Still locked at env'), 'no line per poll at a terminal')
    assert.match(screen, /\r\x1b\[2Kerror: gave up waiting for prod after \d+s: locked by alice until \d\d:\d\d:\d\d, in \S+ \(meta: https:\/\/ci\/42\)\r?\n/, 'the status line is cleared before the error')
  })

  it('colour only at a terminal, never with NO_COLOR or TERM=dumb', { skip: !hasScript && 'no script(1) from util-linux (Debian: apt-get install bsdutils)' }, async () => {
    const env = freshFile()
    await run(['locks', 'lock', '--env', 'prod', '--user', 'alice'], { env })
    assert.match(runOnTerminal(['locks', 'list'], env), /\x1b\[1mprod\x1b\[0m/)
    assert.ok(!runOnTerminal(['locks', 'list'], { ...env, NO_COLOR: '1' }).includes('\x1b['))
    assert.ok(!(await run(['locks', 'list'], { env })).stdout.includes('\x1b['), 'no colour into a pipe')
    // An error is red at a terminal, and plain on a dumb one, which shows escape codes as text.
    const busy = ['locks', 'lock', '--env', 'prod', '--user', 'bob', '--no-wait']
    assert.match(runOnTerminal(busy, env), /\x1b\[31merror:\x1b\[0m prod is locked by alice/)
    const dumb = runOnTerminal([...busy, '--timeout', '1s', '--poll-interval', '200ms'].filter((a) => a !== '--no-wait'), { ...env, TERM: 'dumb' })
    assert.ok(!dumb.includes('\x1b['), JSON.stringify(dumb))
    assert.match(dumb, /^Still locked at env prod by alice \(1st in line, 1 waiting\)\r?$/m, 'a line per poll, as in a log')
    assert.match(dumb, /^error: gave up waiting for prod after \d+s: locked by alice/m)
  })

  it('--quiet silences progress but not results or errors', async () => {
    const home = tempDir()
    const quietNotice = await run(['locks', 'lock', '--env', 'prod', '--user', 'alice', '--quiet'], { env: { XDG_DATA_HOME: home } })
    assert.equal(quietNotice.code, 0)
    assert.equal(quietNotice.stderr, '', 'no embedded-store notice')
    assert.match(quietNotice.stdout, /^Locked prod for alice/)
    const waited = await run(['locks', 'lock', '--env', 'prod', '--user', 'bob', '--timeout', '600ms', '--poll-interval', '100ms', '-q'], { env: { XDG_DATA_HOME: home } })
    assert.equal(waited.code, 3)
    assert.match(waited.stderr, /^error: gave up waiting for prod after \d+ms: locked by alice until \d\d:\d\d:\d\d, in \S+ \(meta: CLI\)\n$/)
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

  it('says what each flag does where it is: --ttl of locks run renews itself, --store of jobs keeps jobs', async () => {
    const help = async (...command) => (await run([...command, '--help'])).stdout.replace(/\s+/g, ' ')
    assert.match(await help('locks', 'run'), /--ttl <DUR> Lease length, renewed every third of it while the command runs \[default: 20m\]/)
    assert.match(await help('locks', 'lock'), /--ttl <DUR> Lease length, renewed by locking again \[default: 20m\]/)
    for (const command of [['jobs'], ['jobs', 'start'], ['locks', 'lock']]) {
      assert.match(await help(...command), /--store <STORE> Where locks and jobs are kept: `dynamodb` or `sqlite:<path>`/, command.join(' '))
    }
  })

  it('a misspelt flag or subcommand names the one meant; an unknown subcommand lists them', async () => {
    const flag = await run(['locks', 'lock', '--env', 'prod', '--timout', '3s'])
    assert.equal(flag.code, 2)
    assert.match(flag.stderr, /^error: unexpected argument '--timout' found \(did you mean '--timeout'\?\)\n {2}hint: usage: daplaya locks lock .*\(see --help\)\n$/)
    const sub = await run(['locks', 'lok'])
    assert.equal(sub.code, 2)
    assert.equal(sub.stderr, "error: unrecognized subcommand 'lok' (did you mean 'lock'?)\n  hint: daplaya locks takes: list, history, lock, release, run (see daplaya locks --help)\n")
    const json = await runJson(['jobs', 'strat', '--json'])
    assert.equal(json.code, 2)
    assert.deepEqual([json.json.error.code, json.json.error.message], ['INVALID_ARGUMENT', "unrecognized subcommand 'strat' (did you mean 'start'?)"])
  })

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
