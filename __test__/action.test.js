'use strict'
// The GitHub Action (action.yml, action/): main and post run as the runner runs them, with
// inputs as INPUT_*, outputs and state written to the GITHUB_OUTPUT and GITHUB_STATE files, and
// the state handed back to post as STATE_*. The real CLI runs (DAPLAYA_ACTION_CLI points the
// action at this checkout's bin/daplaya.js), on each store.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { ROOT, BIN, STORES, run, runJson, baseEnv, tempDir } = require('./helpers.js')

const GITHUB = {
  GITHUB_ACTIONS: 'true',
  CI: 'true',
  GITHUB_ACTOR: 'octocat',
  GITHUB_TRIGGERING_ACTOR: 'Hubot',
  GITHUB_SERVER_URL: 'https://github.com',
  GITHUB_REPOSITORY: 'acme/shop',
  GITHUB_RUN_ID: '4242',
}
const RUN_URL = 'https://github.com/acme/shop/actions/runs/4242'
/** The run holding what the action took: the repository, the run and its attempt. */
const RUN = 'github:acme/shop/runs/4242/attempts/1'

/** The runner's file commands: `name<<delimiter`, the value's lines, `delimiter`. */
function readFileCommands(file) {
  const values = {}
  const lines = fs.readFileSync(file, 'utf8').split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const heredoc = /^([^=<]+)<<(.+)$/.exec(lines[i])
    if (!heredoc) continue
    const end = lines.indexOf(heredoc[2], i + 1)
    values[heredoc[1]] = lines.slice(i + 1, end).join('\n')
    i = end
  }
  return values
}

/** A job on a runner (of run 4242 unless `run` says otherwise): its files, and the steps of the action as the runner starts them. */
function job(storeEnv, run = {}) {
  const dir = tempDir()
  const files = { GITHUB_OUTPUT: path.join(dir, 'output'), GITHUB_STATE: path.join(dir, 'state') }
  for (const file of Object.values(files)) fs.writeFileSync(file, '')
  const env = { ...storeEnv, ...GITHUB, ...run, DAPLAYA_ACTION_CLI: BIN }
  function step(script, extraEnv) {
    const child = spawn(process.execPath, [path.join(ROOT, 'action', script)], {
      env: { ...baseEnv(), ...env, ...files, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const result = { child, stdout: '', stderr: '' }
    child.stdout.on('data', (chunk) => {
      result.stdout += chunk
    })
    child.stderr.on('data', (chunk) => {
      result.stderr += chunk
    })
    result.done = new Promise((resolve) => child.on('close', (code) => resolve(Object.assign(result, { code }))))
    return result
  }
  return {
    env,
    /** The main step with these inputs (`{ env: 'production', ttl: '1h' }`). */
    main(inputs) {
      const inputEnv = {}
      for (const [name, value] of Object.entries(inputs)) inputEnv[`INPUT_${name.toUpperCase()}`] = value
      return step('main.js', inputEnv)
    },
    /** The post step, given back the state main saved, as STATE_* variables. */
    post() {
      const stateEnv = {}
      for (const [name, value] of Object.entries(readFileCommands(files.GITHUB_STATE))) stateEnv[`STATE_${name}`] = value
      return step('post.js', stateEnv).done
    },
    /** State as a main step would have saved it. */
    saveState(values) {
      for (const [name, value] of Object.entries(values)) fs.appendFileSync(files.GITHUB_STATE, `${name}<<EOF\n${value}\nEOF\n`)
    },
    outputs: () => readFileCommands(files.GITHUB_OUTPUT),
    state: () => readFileCommands(files.GITHUB_STATE),
  }
}

const held = async (env, name) => (await runJson(['locks', 'list', '--env', name], { env })).json

describe('action.yml', () => {
  it('is a JavaScript action on node20 with main, an always-run post, and the documented inputs and outputs', () => {
    const yml = fs.readFileSync(path.join(ROOT, 'action.yml'), 'utf8')
    assert.match(yml, /^runs:\n {2}using: node20\n {2}main: action\/main\.js\n {2}post: action\/post\.js\n {2}post-if: always\(\)$/m)
    const section = (name) => yml.split(new RegExp(`^${name}:\\n`, 'm'))[1].split(/^\S/m)[0]
    const names = (text) => [...text.matchAll(/^ {2}([a-z-]+):$/gm)].map((m) => m[1])
    assert.deepEqual(names(section('inputs')), ['env', 'user', 'meta', 'ttl', 'timeout', 'supersede'])
    assert.deepEqual(names(section('outputs')), ['lock-id', 'fencing-token', 'fencing-tokens'])
  })

  it('runs daplaya of the version in package.json at its tag, through npx', () => {
    const { cliCommand } = require('../action/runner.js')
    const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'))
    const { command, args } = cliCommand({})
    assert.equal(path.basename(command, '.cmd'), 'npx')
    assert.deepEqual(args, ['--yes', `daplaya@${version}`])
    assert.deepEqual(cliCommand({ DAPLAYA_ACTION_CLI: BIN }).args, [BIN])
  })
})

for (const store of STORES) {
  describe(`GitHub Action on ${store.name}`, { skip: store.skip }, () => {
    it('main takes the lock for the CI user with the run URL as meta; post releases it after a failed step', async () => {
      const { env: storeEnv } = await store.fresh()
      const runner = job(storeEnv)
      const main = await runner.main({ env: 'production', ttl: '1h', timeout: '1m', supersede: 'false' }).done
      assert.equal(main.code, 0, main.stdout + main.stderr)
      const [lock] = await held(storeEnv, 'production')
      assert.equal(lock.user, 'hubot', 'GITHUB_TRIGGERING_ACTOR, lowercased')
      assert.equal(lock.meta, RUN_URL)
      assert.equal(lock.expiresAt - lock.updatedAt, 60 * 60 * 1000, 'ttl input')
      assert.deepEqual(runner.outputs(), { 'lock-id': lock.id, 'fencing-token': String(lock.fencingToken), 'fencing-tokens': `production=${lock.fencingToken}` })
      assert.deepEqual(runner.state(), { envs: '["production"]', user: 'hubot', holder: RUN })

      // A later step fails (here: it tries to take production as someone else); the job goes on to post.
      const failed = await run(['locks', 'lock', '--env', 'production', '--user', 'mallory', '--no-wait'], { env: storeEnv })
      assert.equal(failed.code, 3)
      assert.equal((await held(storeEnv, 'production'))[0].id, lock.id, 'held across the steps')

      const post = await runner.post()
      assert.equal(post.code, 0, post.stdout + post.stderr)
      assert.match(post.stdout, new RegExp(`released production \\(lock ${lock.id}\\)`))
      assert.deepEqual(await held(storeEnv, 'production'), [])
    })

    it('explicit inputs win over the CI defaults', async () => {
      const { env: storeEnv } = await store.fresh()
      const runner = job(storeEnv)
      const main = await runner.main({ env: 'staging', user: 'Deploy-Bot', meta: 'release 1.2' }).done
      assert.equal(main.code, 0, main.stdout + main.stderr)
      const [lock] = await held(storeEnv, 'staging')
      assert.deepEqual([lock.user, lock.meta], ['deploy-bot', 'release 1.2'])
      assert.equal((await runner.post()).code, 0)
      assert.deepEqual(await held(storeEnv, 'staging'), [])
    })

    it('a busy env fails main with the CLI line; post then releases nothing and leaves the holder alone', async () => {
      const { env: storeEnv } = await store.fresh()
      const bob = await runJson(['locks', 'lock', '--env', 'production', '--user', 'bob'], { env: storeEnv })
      assert.equal(bob.code, 0, bob.stderr)
      const runner = job(storeEnv)
      const main = await runner.main({ env: 'production', timeout: '200ms' }).done
      assert.equal(main.code, 1)
      const refusal = 'gave up waiting for production after \\d+ms: locked by bob until \\d\\d:\\d\\d:\\d\\d, in \\S+ \\(meta: CLI\\)'
      assert.match(main.stderr, new RegExp(`^error: ${refusal}$`, 'm'), 'the CLI line in the log')
      assert.match(main.stdout, new RegExp(`^::error::${refusal}$`, 'm'), 'the step annotation')
      assert.deepEqual(runner.outputs(), {})
      const post = await runner.post()
      assert.equal(post.code, 0)
      assert.match(post.stdout, /nothing to release/)
      assert.deepEqual((await held(storeEnv, 'production')).map((l) => l.id), [bob.json.id])
    })

    it('a job cancelled while main waits takes nothing', async () => {
      const { env: storeEnv } = await store.fresh()
      assert.equal((await run(['locks', 'lock', '--env', 'production', '--user', 'bob'], { env: storeEnv })).code, 0)
      const runner = job(storeEnv)
      const main = runner.main({ env: 'production' })
      const waiting = new Promise((resolve) => {
        main.child.stderr.on('data', () => main.stderr.includes('Still locked at env production by bob') && resolve())
      })
      await Promise.race([waiting, main.done])
      main.child.kill('SIGINT')
      await main.done
      assert.equal(main.code, 1)
      assert.match(main.stdout, /^::error::interrupted$/m)
      assert.deepEqual(runner.state(), {})
      assert.equal((await held(storeEnv, 'production'))[0].user, 'bob')
    })

    it('several envs: main takes all of them at once, outputs every token; post releases them all', async () => {
      const { env: storeEnv } = await store.fresh()
      const runner = job(storeEnv)
      const main = await runner.main({ env: 'staging\nProduction, eu' }).done
      assert.equal(main.code, 0, main.stdout + main.stderr)
      const locks = (await runJson(['locks', 'list'], { env: storeEnv })).json
      assert.deepEqual(locks.map((l) => [l.env, l.user]), [
        ['eu', 'hubot'],
        ['production', 'hubot'],
        ['staging', 'hubot'],
      ])
      const staging = locks.find((l) => l.env === 'staging')
      assert.deepEqual(runner.outputs(), {
        'lock-id': staging.id,
        'fencing-token': String(staging.fencingToken),
        'fencing-tokens': ['staging', 'production', 'eu'].map((env) => `${env}=${locks.find((l) => l.env === env).fencingToken}`).join(','),
      })
      assert.deepEqual(runner.state(), { envs: '["staging","production","eu"]', user: 'hubot', holder: RUN })
      const post = await runner.post()
      assert.equal(post.code, 0, post.stdout + post.stderr)
      for (const name of ['staging', 'production', 'eu']) assert.match(post.stdout, new RegExp(`released ${name} \\(lock `))
      assert.deepEqual((await runJson(['locks', 'list'], { env: storeEnv })).json, [])
    })

    it('supersede: an older waiting run gives way to a newer one and fails its step; post releases nothing', async () => {
      const { env: storeEnv } = await store.fresh()
      assert.equal((await run(['locks', 'lock', '--env', 'production', '--user', 'bob'], { env: storeEnv })).code, 0)
      const older = job(storeEnv)
      const olderMain = older.main({ env: 'production', supersede: 'true', user: 'run-1' })
      const inLine = (user) =>
        new Promise((resolve) => {
          const check = async () => {
            const [lock] = await held(storeEnv, 'production')
            if ((lock.queue ?? []).some((w) => w.user === user)) resolve()
            else setTimeout(check, 50)
          }
          check()
        })
      await inLine('run-1')
      const newer = job(storeEnv)
      const newerMain = newer.main({ env: 'production', supersede: 'true', user: 'run-2', timeout: '1m' })
      const given = await olderMain.done
      assert.equal(given.code, 1)
      assert.match(given.stdout, /^::error::.*run-2/m)
      assert.deepEqual(older.state(), {})
      assert.match((await older.post()).stdout, /nothing to release/)
      assert.equal((await run(['locks', 'release', '--env', 'production', '--user', 'bob'], { env: storeEnv })).code, 0)
      const taken = await newerMain.done
      assert.equal(taken.code, 0, taken.stdout + taken.stderr)
      assert.equal((await held(storeEnv, 'production'))[0].user, 'run-2')
      assert.equal((await newer.post()).code, 0)
    })

    it('run twice by one actor: the second run waits for the first; each post step releases only its own run\'s lock', async () => {
      const { env: storeEnv } = await store.fresh()
      const first = job(storeEnv)
      const firstMain = await first.main({ env: 'production', ttl: '1h' }).done
      assert.equal(firstMain.code, 0, firstMain.stdout + firstMain.stderr)
      assert.match(firstMain.stdout, /acquired production for hubot in run github:acme\/shop\/runs\/4242\/attempts\/1 /)
      const [taken] = await held(storeEnv, 'production')
      assert.deepEqual([taken.user, taken.holder], ['hubot', RUN])

      const second = job(storeEnv, { GITHUB_RUN_ID: '4343' })
      const secondMain = second.main({ env: 'production', timeout: '2m' })
      await new Promise((resolve, reject) => {
        const check = () => secondMain.stderr.includes(`Still locked at env production by hubot in run ${RUN} (1st in line, 1 waiting)`) && resolve()
        secondMain.child.stderr.on('data', check)
        secondMain.done.then(() => reject(new Error(`the second run did not wait: ${secondMain.stdout}${secondMain.stderr}`)))
      })
      // A post step of the second run that believes it holds production (its lease lapsed, say)
      // releases nothing of the first run's: a warning, not a failed job.
      const stray = job(storeEnv, { GITHUB_RUN_ID: '4343' })
      stray.saveState({ envs: '["production"]', user: 'hubot', holder: 'github:acme/shop/runs/4343/attempts/1' })
      const strayPost = await stray.post()
      assert.equal(strayPost.code, 0, strayPost.stdout + strayPost.stderr)
      assert.match(strayPost.stdout, new RegExp(`^::warning::nothing released: production is held by another run of hubot: ${RUN}$`, 'm'))
      assert.equal((await held(storeEnv, 'production'))[0].id, taken.id, 'the first run still holds it')

      const firstPost = await first.post()
      assert.equal(firstPost.code, 0, firstPost.stdout + firstPost.stderr)
      assert.match(firstPost.stdout, new RegExp(`released production \\(lock ${taken.id}\\)`))
      const took = await secondMain.done
      assert.equal(took.code, 0, took.stdout + took.stderr)
      const [next] = await held(storeEnv, 'production')
      assert.deepEqual([next.holder, next.fencingToken > taken.fencingToken], ['github:acme/shop/runs/4343/attempts/1', true])
      assert.equal((await second.post()).code, 0)
      assert.deepEqual(await held(storeEnv, 'production'), [])
    })

    it('a bad input fails the step with one line', async () => {
      const runner = job((await store.fresh()).env)
      for (const [inputs, message] of [
        [{ env: ' ' }, 'input env is required: the env(s) to lock'],
        [{ env: 'production', supersede: 'yes' }, "input supersede must be true or false, not 'yes'"],
      ]) {
        const main = await runner.main(inputs).done
        assert.equal(main.code, 1)
        assert.equal(main.stdout, `::error::${message}\n`)
      }
    })
  })
}
