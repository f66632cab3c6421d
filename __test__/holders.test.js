'use strict'
// One deploy at a time, not one user name at a time: a lock belongs to the run that took it.
// Two runs of one user (two terminals, two CI runs of one actor) never overlap, on each store;
// a later job of the same run releases what an earlier one took and no other run can; breaking
// a lock is explicit and recorded; the line tells the truth about a stalled waiter and about an
// env just released.
const { describe, it, afterEach } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { STORES, run, runJson, start, stopStarted, tempDir, until } = require('./helpers.js')

afterEach(stopStarted)

// `locks run`'s command: records `start <ms> <token>`, holds the lock a moment, `end <ms> <token>`.
const SCRIPTS = tempDir()
const SPAN = path.join(SCRIPTS, 'span.js')
fs.writeFileSync(
  SPAN,
  `const fs = require('node:fs')
const [file, name, ms] = process.argv.slice(2)
const token = process.env.DAPLAYA_FENCING_TOKEN
fs.appendFileSync(file, ['start', name, Date.now(), token].join(' ') + '\\n')
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(ms))
fs.appendFileSync(file, ['end', name, Date.now(), token].join(' ') + '\\n')
`,
)

/** Each command's `{ name, start, end, token }` from a span file. */
function spans(file) {
  const byName = {}
  for (const line of fs.readFileSync(file, 'utf8').trimEnd().split('\n')) {
    const [kind, name, at, token] = line.split(' ')
    byName[name] ??= { name, token }
    byName[name][kind] = Number(at)
  }
  return Object.values(byName)
}

/** No two spans overlap in time, and every token differs. */
function assertNoOverlap(list) {
  const sorted = [...list].sort((a, b) => a.start - b.start)
  for (let i = 1; i < sorted.length; i++) {
    assert.ok(sorted[i].start >= sorted[i - 1].end, `${sorted[i].name} started before ${sorted[i - 1].name} ended: ${JSON.stringify(sorted)}`)
  }
  assert.equal(new Set(list.map((span) => span.token)).size, list.length, `distinct fencing tokens: ${JSON.stringify(list)}`)
}

const POLL = ['--poll-interval', '100ms']

/** Two runs by one person: at two terminals, and in two CI runs of each CI's variables. */
const TWO_RUNS = {
  'two terminals of one user': {
    first: { DAPLAYA_USER: 'alice' },
    second: { DAPLAYA_USER: 'alice' },
    heldBy: /Still locked at env prod by alice in run alice#[0-9a-f-]{36} \(1st in line, 1 waiting\)/,
  },
  'two GitHub runs of one actor': {
    first: { CI: 'true', GITHUB_ACTIONS: 'true', GITHUB_ACTOR: 'octocat', GITHUB_SERVER_URL: 'https://github.com', GITHUB_REPOSITORY: 'acme/app', GITHUB_RUN_ID: '1' },
    second: { CI: 'true', GITHUB_ACTIONS: 'true', GITHUB_ACTOR: 'octocat', GITHUB_SERVER_URL: 'https://github.com', GITHUB_REPOSITORY: 'acme/app', GITHUB_RUN_ID: '2' },
    heldBy: /Still locked at env prod by octocat in run github:acme\/app\/runs\/1\/attempts\/1#[0-9a-f-]{36} \(1st in line, 1 waiting\)/,
  },
  'two GitLab pipelines of one user': {
    first: { CI: 'true', GITLAB_CI: 'true', GITLAB_USER_EMAIL: 'ann@acme.io', CI_PIPELINE_ID: '11', CI_JOB_URL: 'https://gitlab/j/1' },
    second: { CI: 'true', GITLAB_CI: 'true', GITLAB_USER_EMAIL: 'ann@acme.io', CI_PIPELINE_ID: '12', CI_JOB_URL: 'https://gitlab/j/2' },
    heldBy: /Still locked at env prod by ann@acme\.io in run gitlab:pipelines\/11#[0-9a-f-]{36} \(1st in line, 1 waiting\)/,
  },
}

/** GitHub variables of run `id` of acme/app by octocat, in job `job`. */
const github = (id, job = 'deploy') => ({
  CI: 'true',
  GITHUB_ACTIONS: 'true',
  GITHUB_ACTOR: 'octocat',
  GITHUB_SERVER_URL: 'https://github.com',
  GITHUB_REPOSITORY: 'acme/app',
  GITHUB_RUN_ID: String(id),
  GITHUB_RUN_ATTEMPT: '1',
  GITHUB_JOB: job,
})

/** The users in line for `name`, in serving order, as `locks list --json` shows them. */
async function line(env, name) {
  const { json } = await runJson(['locks', 'list', '--env', name], { env })
  return json.length === 0 ? [] : (json[0].queue ?? []).map((waiting) => waiting.user)
}

for (const store of STORES) {
  describe(`holders on ${store.name}`, { skip: store.skip }, () => {
    for (const [what, runs] of Object.entries(TWO_RUNS)) {
      it(`${what}: two locks run never overlap; the second waits in line, naming the run that holds the env`, async () => {
        const { env } = await store.fresh()
        const file = path.join(tempDir(), 'spans')
        const command = (name, ms) => ['locks', 'run', '--env', 'prod', ...POLL, '--', process.execPath, SPAN, file, name, String(ms)]
        const first = start(command('first', 1500), { env: { ...env, ...runs.first } })
        await first.waitFor(/^Locked prod for /m)
        const second = start(command('second', 100), { env: { ...env, ...runs.second } })
        await second.waitFor(runs.heldBy)
        for (const proc of [first, second]) assert.equal((await proc.done).code, 0, proc.stderr)
        assert.doesNotMatch(second.stderr, /renewed/)
        const list = spans(file)
        assert.equal(list.length, 2)
        assertNoOverlap(list)
        assert.deepEqual((await runJson(['locks', 'list'], { env })).json, [])
      })
    }

    it('many locks run of one user at once: one at a time, each its own holder', { timeout: 120_000 }, async () => {
      const { env } = await store.fresh()
      const file = path.join(tempDir(), 'spans')
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, n) =>
          run(['locks', 'run', '--env', 'prod', '--user', 'alice', ...POLL, '--', process.execPath, SPAN, file, `run-${n}`, '50'], { env, timeoutMs: 100_000 }),
        ),
      )
      assert.deepEqual(results.map((result) => result.code), [0, 0, 0, 0, 0, 0], results.map((r) => r.stderr).join('\n'))
      const list = spans(file)
      assert.equal(list.length, 6)
      assertNoOverlap(list)
    })

    it('a lock taken in one job is released by a later job of the same run; another run is refused (exit 7) and changes nothing', async () => {
      const { env } = await store.fresh()
      const taken = await runJson(['locks', 'lock', '--env', 'prod'], { env: { ...env, ...github(1, 'lock') } })
      assert.equal(taken.code, 0, taken.stderr)
      assert.deepEqual([taken.json.user, taken.json.holder], ['octocat', 'github:acme/app/runs/1/attempts/1'])
      const before = (await runJson(['locks', 'list'], { env })).json

      const refused = await runJson(['locks', 'release', '--env', 'prod'], { env: { ...env, ...github(2, 'cleanup') } })
      assert.equal(refused.code, 7, refused.stderr)
      assert.deepEqual([refused.json.error.code, refused.json.error.exitCode], ['HELD_BY_OTHER_RUN', 7])
      assert.equal(refused.json.error.message, 'prod is held by another run of octocat: github:acme/app/runs/1/attempts/1')
      assert.match(refused.json.error.hint, /--holder github:acme\/app\/runs\/1\/attempts\/1/)
      assert.match(refused.json.error.hint, /daplaya locks release --env prod --force --reason <WHY>/)
      assert.match(refused.stderr, /^error: prod is held by another run of octocat: github:acme\/app\/runs\/1\/attempts\/1\n {2}hint: /m)
      assert.deepEqual((await runJson(['locks', 'list'], { env })).json, before, 'nothing changed')
      // A later attempt of the run is another run too (GitHub's re-run).
      const rerun = await run(['locks', 'release', '--env', 'prod'], { env: { ...env, ...github(1), GITHUB_RUN_ATTEMPT: '2' } })
      assert.equal(rerun.code, 7, rerun.stderr)

      const released = await runJson(['locks', 'release', '--env', 'prod'], { env: { ...env, ...github(1, 'cleanup') } })
      assert.equal(released.code, 0, released.stderr)
      assert.deepEqual([released.json.released, released.json.forced, released.json.lock.id], [true, false, taken.json.id])
      assert.deepEqual((await runJson(['locks', 'list'], { env })).json, [])
    })

    it('--force --reason frees a lock whoever holds it; the history keeps the end, who forced it and why', async () => {
      const { env } = await store.fresh()
      const taken = await runJson(['locks', 'lock', '--env', 'prod', '--uberlock', '--meta', 'INC-7'], { env: { ...env, ...github(1) } })
      assert.equal(taken.code, 0, taken.stderr)
      for (const [args, message] of [
        [['--force'], /^error: the following required arguments were not provided:/m],
        [['--reason', 'x'], /^error: the following required arguments were not provided:/m],
        [['--force', '--reason', ' '], /^error: reason must not be empty$/m],
      ]) {
        const bad = await run(['locks', 'release', '--env', 'prod', '--user', 'bob', ...args], { env })
        assert.equal(bad.code, 2, bad.stderr)
        assert.match(bad.stderr, message)
      }
      const forced = await runJson(['locks', 'release', '--env', 'prod', '--user', 'bob', '--force', '--reason', 'the runner died mid-deploy'], { env })
      assert.equal(forced.code, 0, forced.stderr)
      assert.deepEqual([forced.json.released, forced.json.forced, forced.json.lock.id, forced.json.lock.active], [true, true, taken.json.id, false])
      const text = await run(['locks', 'release', '--env', 'prod', '--user', 'bob', '--force', '--reason', 'again'], { env })
      assert.match(text.stdout, /^Nothing released: prod is not locked$/m)
      const history = (await runJson(['locks', 'history', '--env', 'prod'], { env })).json
      assert.deepEqual(
        [history[0].id, history[0].end, history[0].endedBy, history[0].reason, history[0].user, history[0].holder],
        [taken.json.id, 'forced', 'bob', 'the runner died mid-deploy', 'octocat', 'github:acme/app/runs/1/attempts/1'],
      )
      const human = await run(['locks', 'history', '--env', 'prod'], { env })
      assert.match(human.stdout, /octocat {2}uberlock {2}forced by bob .* \(reason: the runner died mid-deploy\)/)
    })

    it('--holder names the run; DAPLAYA_HOLDER too; locks run is a run of its own and refuses --holder', async () => {
      const { env } = await store.fresh()
      const a = await runJson(['locks', 'lock', '--env', 'prod', '--user', 'alice', '--holder', 'Deploy-42'], { env })
      assert.equal(a.json.holder, 'deploy-42')
      const again = await runJson(['locks', 'lock', '--env', 'prod', '--user', 'alice'], { env: { ...env, DAPLAYA_HOLDER: 'deploy-42' } })
      assert.equal(again.json.outcome, 'renewed')
      const terminal = await run(['locks', 'lock', '--env', 'prod', '--user', 'alice', '--no-wait'], { env })
      assert.equal(terminal.code, 3)
      assert.match(terminal.stderr, /^error: prod is locked by alice in run deploy-42 until \d\d:\d\d:\d\d, in \S+ \(meta: CLI\)$/m)
      const ran = await run(['locks', 'run', '--env', 'prod', '--user', 'alice', '--holder', 'deploy-42', '--', process.execPath, '-e', ''], { env })
      assert.equal(ran.code, 2)
      assert.match(ran.stderr, /^error: locks run holds its lock as a run of its own, never re-entrant/m)
      const text = await run(['locks', 'list'], { env })
      assert.match(text.stdout, /^prod {2}locked by alice in run deploy-42 {2}since /m)
      assert.equal((await run(['locks', 'release', '--env', 'prod', '--user', 'alice', '--holder', 'deploy-42'], { env })).code, 0)
    })

    it('the API: holder on lock and release, HELD_BY_OTHER_RUN, force with a reason; runLocked is its own holder', async () => {
      const { options } = await store.fresh()
      const daplaya = require('..')
      const held = await daplaya.lock({ ...options, env: 'prod', user: 'alice', holder: 'run-1' })
      assert.equal(held.holder, 'run-1')
      await assert.rejects(daplaya.release({ ...options, env: 'prod', user: 'alice', holder: 'run-2' }), (error) => {
        assert.equal(error.code, 'HELD_BY_OTHER_RUN')
        assert.match(error.message, /prod is held by another run of alice: run-1/)
        return true
      })
      await assert.rejects(daplaya.runLocked({ ...options, env: 'prod', user: 'alice', holder: 'run-1' }, [process.execPath, '-e', '']), { code: 'INVALID_ARGUMENT' })
      await assert.rejects(daplaya.release({ ...options, env: 'prod', user: 'bob', force: true }), { code: 'INVALID_ARGUMENT' })
      const forced = await daplaya.release({ ...options, env: 'prod', user: 'bob', force: true, reason: 'stuck' })
      assert.deepEqual([forced.released, forced.forced], [true, true])
      const [hold] = await daplaya.lockHistory({ ...options, env: 'prod' })
      assert.deepEqual([hold.end, hold.endedBy, hold.reason, hold.holder], ['forced', 'bob', 'stuck', 'run-1'])
    })

    it('a waiter stalled past its place and resumed joins at the back, behind the one that moved up, and says so', async () => {
      const { env } = await store.fresh()
      const file = path.join(tempDir(), 'spans')
      assert.equal((await run(['locks', 'lock', '--env', 'q', '--user', 'holder'], { env })).code, 0)
      const waiter = (user) => start(['locks', 'run', '--env', 'q', '--user', user, ...POLL, '--', process.execPath, SPAN, file, user, '50'], { env })
      const stalled = waiter('stalled')
      await until(() => line(env, 'q'), ['stalled'], 'stalled in line')
      const next = waiter('next')
      await until(() => line(env, 'q'), ['stalled', 'next'], 'next behind it')
      stalled.child.kill('SIGSTOP')
      // Its place lapses (2 s without a poll); nobody else writes the row meanwhile.
      await until(() => line(env, 'q'), ['next'], 'the stalled place lapse')
      stalled.child.kill('SIGCONT')
      await until(() => line(env, 'q'), ['next', 'stalled'], 'the stalled waiter back, behind')
      await stalled.waitFor(/^daplaya: lost the place in line for q \(this process stalled\); joined again at the back$/m)
      assert.equal((await run(['locks', 'release', '--env', 'q', '--user', 'holder'], { env })).code, 0)
      for (const proc of [next, stalled]) assert.equal((await proc.done).code, 0, proc.stderr)
      const served = spans(file).sort((a, b) => a.start - b.start)
      assert.deepEqual(served.map((span) => span.name), ['next', 'stalled'])
    })

    it('right after a release, locks list says the first in line takes the env, or that its line waits for other envs', async () => {
      const { env } = await store.fresh()
      for (const name of ['q', 'r']) assert.equal((await run(['locks', 'lock', '--env', name, '--user', 'holder'], { env })).code, 0)
      // The next in line reads fast: killed, it keeps its place (three polls of a minute) but
      // cannot take the env between the release and the list.
      const only = start(['locks', 'lock', '--env', 'q', '--user', 'only-q', '--poll-interval', '1m'], { env })
      await until(() => line(env, 'q'), ['only-q'], 'only-q in line')
      only.child.kill('SIGKILL')
      await only.done
      assert.equal((await run(['locks', 'release', '--env', 'q', '--user', 'holder'], { env })).code, 0)
      const justReleased = await run(['locks', 'list'], { env })
      assert.match(justReleased.stdout, /^q {2}free; the first in line takes it at its next poll$/m)
      assert.doesNotMatch(justReleased.stdout, /other envs too/)

      const both = start(['locks', 'lock', '--env', 's', '--env', 'r', '--user', 'both', '--poll-interval', '1m'], { env })
      await until(() => line(env, 's'), ['both'], 'both in line for s')
      const waiting = await run(['locks', 'list'], { env })
      assert.match(waiting.stdout, /^s {2}free; its line waits for other envs too$/m)
      both.child.kill('SIGINT')
      assert.equal((await both.done).code, 130)
    })
  })
}

describe('holders: defaults', () => {
  it('each CI names its run, the same in every job of it', async () => {
    const dir = tempDir()
    const store = { DAPLAYA_STORE: `sqlite:${path.join(dir, 'locks.db')}`, CI: 'true' }
    for (const [variables, holder] of [
      [{ GITHUB_ACTOR: 'octocat', GITHUB_REPOSITORY: 'acme/app', GITHUB_RUN_ID: '7', GITHUB_RUN_ATTEMPT: '3' }, 'github:acme/app/runs/7/attempts/3'],
      [{ GITLAB_USER_EMAIL: 'a@b.c', CI_PIPELINE_ID: '99' }, 'gitlab:pipelines/99'],
      [{ BUILDKITE_BUILD_CREATOR_EMAIL: 'a@b.c', BUILDKITE_BUILD_ID: '0190-ab' }, 'buildkite:0190-ab'],
      [{ CIRCLE_USERNAME: 'c', CIRCLE_WORKFLOW_ID: 'wf-1' }, 'circleci:wf-1'],
      [{ BUILD_USER_EMAIL: 'j@b.c', BUILD_TAG: 'jenkins-deploy-12' }, 'jenkins:jenkins-deploy-12'],
      [{ DAPLAYA_USER: 'me', DAPLAYA_HOLDER: 'Release-9', CI_PIPELINE_ID: '99' }, 'release-9'],
      [{ DAPLAYA_USER: 'me' }, 'me'],
    ]) {
      const env = { ...store, ...variables }
      const taken = await runJson(['locks', 'lock', '--env', 'e'], { env })
      assert.equal(taken.json.holder, holder, JSON.stringify(variables))
      const released = await runJson(['locks', 'release', '--env', 'e'], { env })
      assert.equal(released.json.released, true, JSON.stringify(variables))
    }
  })
})
