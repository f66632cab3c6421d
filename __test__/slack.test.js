'use strict'
// End-to-end: `daplaya slack serve` started through bin/daplaya.js and sent requests signed as
// Slack signs them; replies and the store (read back with the CLI) are checked, on each store.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const http = require('node:http')
const { STORES, run, runJson, start, stopStarted } = require('./helpers.js')
const { startServer: startDaplayaServer, startSlackApi } = require('./serve-helpers.js')
const daplaya = require('../index.js')

const SECRET = crypto.randomBytes(16).toString('hex')
const APP_ID = 'A0DAPLAYATEST'

const nowSecs = () => Math.floor(Date.now() / 1000)

/**
 * The operator's mapping of the members these tests speak as (`U0<NAME>`) to users of the same
 * name: without it (or a bot token) a member acts as `<handle> (slack <team>/<member>)`.
 */
const PEOPLE = Object.fromEntries(['roadrunner', 'alice', 'bob', 'carol', 'dave', 'mallory'].map((name) => [`U0${name.toUpperCase()}`, name]))
const PEOPLE_VAR = Object.entries(PEOPLE)
  .map(([member, user]) => `${member}=${user}`)
  .join(',')

function sign(secret, timestamp, body) {
  return `v0=${crypto.createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`
}

/** A slash-command body as Slack posts it: each with its own trigger_id, as Slack's are. */
function form(user, text, extra = {}) {
  return new URLSearchParams({
    token: 'legacy-verification-token',
    team_id: 'T0TEAM',
    team_domain: 'daplaya',
    channel_id: 'C0DEPLOYS',
    channel_name: 'deploys',
    user_id: `U0${user.toUpperCase()}`,
    user_name: user,
    command: '/daplaya',
    text,
    api_app_id: APP_ID,
    response_url: 'https://hooks.slack.com/commands/T0TEAM/1/x',
    trigger_id: `${Date.now()}.${crypto.randomBytes(6).toString('hex')}`,
    ...extra,
  }).toString()
}

function signedHeaders(body, { secret = SECRET, timestamp = String(nowSecs()) } = {}) {
  return {
    'content-type': 'application/x-www-form-urlencoded',
    'x-slack-request-timestamp': timestamp,
    'x-slack-signature': sign(secret, timestamp, body),
  }
}

/** Starts `slack serve --port 0 --json`; adds `post` and `say` (a signed slash command). */
async function startServer(env, { extraEnv = {} } = {}) {
  const server = await startDaplayaServer(['slack', 'serve', '--host', '127.0.0.1', '--port', '0', '--json'], {
    ...env,
    DAPLAYA_SLACK_SIGNING_SECRET: SECRET,
    DAPLAYA_SLACK_USERS: PEOPLE_VAR,
    ...extraEnv,
  })
  return Object.assign(server, {
    async post(body, headers) {
      const response = await fetch(server.url, { method: 'POST', headers, body })
      const text = await response.text()
      const type = response.headers.get('content-type') ?? ''
      return { status: response.status, type, text, json: type.startsWith('application/json') ? JSON.parse(text) : null }
    },
    /** Sends a correctly signed slash command from `user`. */
    say(user, text, extra) {
      const body = form(user, text, extra)
      return this.post(body, signedHeaders(body))
    },
  })
}

async function withServer(env, options, test) {
  const server = await startServer(env, options)
  try {
    return await test(server)
  } finally {
    const { code } = await server.stop()
    assert.equal(code, 0, `slack serve stops cleanly on SIGTERM: ${server.stderr()}`)
  }
}

const locksOf = async (env) => {
  const list = await runJson(['locks', 'list'], { env })
  assert.equal(list.code, 0, list.stderr)
  return list.json
}

for (const store of STORES) {
  describe(`slack serve on ${store.name}`, { skip: store.skip }, () => {
    it('a /daplaya lock shows up in `locks list`, and release frees it', async () => {
      const { env } = await store.fresh()
      await withServer(env, {}, async (server) => {
        const locked = await server.say('roadrunner', 'lock Production')
        assert.equal(locked.status, 200)
        assert.match(locked.type, /^application\/json/)
        assert.equal(locked.json.response_type, 'in_channel')
        assert.match(locked.json.text, /\*roadrunner\* locked \*production\* \(meta: Slack\)/)
        assert.match(locked.json.text, /expires in 20m/)

        const [lock] = await locksOf(env)
        assert.deepEqual([lock.env, lock.user, lock.meta, lock.uberlock], ['production', 'roadrunner', 'Slack', false])
        assert.equal(lock.expiresAt - lock.updatedAt, 20 * 60 * 1000)

        const renewed = await server.say('roadrunner', 'lock production hotfix for INC-7 & <!channel>')
        assert.equal(renewed.json.response_type, 'in_channel')
        assert.match(renewed.json.text, /renewed the lock on \*production\*/)
        assert.ok(!renewed.json.text.includes('<!channel>'), 'user text is escaped in replies')
        const [again] = await locksOf(env)
        assert.equal(again.id, lock.id, 'the holder renews and keeps the id')
        assert.equal(again.meta, 'hotfix for INC-7 & <!channel>')

        const released = await server.say('roadrunner', 'release production')
        assert.equal(released.status, 200)
        assert.equal(released.json.response_type, 'in_channel')
        assert.match(released.json.text, /\*roadrunner\* released \*production\*/)
        assert.deepEqual(await locksOf(env), [])

        const nothing = await server.say('roadrunner', 'release production')
        assert.equal(nothing.json.response_type, 'ephemeral')
        assert.equal(nothing.json.text, 'Nothing released: *production* is not locked.')
      })
    })

    it('a held env answers at once, ephemeral, with holder, since when and meta; nothing changes', async () => {
      const { env } = await store.fresh()
      const held = await runJson(['locks', 'lock', '--env', 'prod', '--user', 'alice@example.com', '--meta', 'https://ci/42'], { env })
      assert.equal(held.code, 0, held.stderr)
      await withServer(env, {}, async (server) => {
        const busy = await server.say('bob', 'lock prod')
        assert.equal(busy.status, 200)
        assert.equal(busy.json.response_type, 'ephemeral')
        assert.match(busy.json.text, /\*prod\* is locked by \*alice@example\.com\* since (just now|\d+s ago)/)
        assert.match(busy.json.text, /\(meta: https:\/\/ci\/42\)/)
        assert.match(busy.json.text, /expires in/)

        const notYours = await server.say('bob', 'release prod')
        assert.equal(notYours.json.response_type, 'ephemeral')
        assert.match(notYours.json.text, /^Nothing released: \*prod\* is held by \*alice@example\.com\*, not by you/)

        const [lock] = await locksOf(env)
        const { outcome, ...stored } = held.json
        assert.deepEqual(lock, stored, 'the refusal changed nothing')
        assert.match(server.stderr(), /slack: "bob" "lock prod" -> ephemeral/)
      })
    })

    it('the queue: leases shows who waits, and lock on a held env says how many wait; Slack never joins', async () => {
      const { env } = await store.fresh()
      assert.equal((await run(['locks', 'lock', '--env', 'prod', '--user', 'alice', '--meta', 'https://ci/42'], { env })).code, 0)
      const bob = start(['locks', 'lock', '--env', 'prod', '--user', 'bob', '--poll-interval', '100ms', '--meta', 'https://ci/43'], { env })
      await bob.waitFor(/Still locked at env prod by alice \(1st in line/)
      const carol = start(['locks', 'lock', '--env', 'prod', '--user', 'carol', '--poll-interval', '100ms', '--supersede'], { env })
      await carol.waitFor(/Still locked at env prod by alice \(2nd in line/)
      try {
        await withServer(env, {}, async (server) => {
          const leases = await server.say('dave', 'leases prod')
          assert.equal(leases.json.response_type, 'ephemeral')
          assert.match(leases.json.text, /• \*prod\*: locked by \*alice\*/)
          assert.match(leases.json.text, /2 waiting: 1\. \*bob\* since (just now|\d+s ago) \(meta: https:\/\/ci\/43\), 2\. \*carol\* since (just now|\d+s ago) \(meta: CLI; supersede\)/)

          const busy = await server.say('dave', 'lock prod')
          assert.equal(busy.json.response_type, 'ephemeral')
          assert.match(busy.json.text, /\*prod\* is locked by \*alice\*/)
          assert.match(busy.json.text, /2 waiting in line/)
          const [held] = await locksOf(env)
          assert.deepEqual(held.queue.map((w) => w.user), ['bob', 'carol'], 'Slack never joins the line')
        })
        // bob gives up (and leaves); alice releases; the line's next, carol, has it.
        bob.child.kill('SIGINT')
        assert.equal((await bob.done).code, 130)
        assert.equal((await run(['locks', 'release', '--env', 'prod', '--user', 'alice'], { env })).code, 0)
        await carol.done
        await withServer(env, {}, async (server) => {
          const held = await server.say('dave', 'lock prod')
          assert.match(held.json.text, /\*prod\* is locked by \*carol\*/)
        })
      } finally {
        stopStarted()
      }
    })

    it('uberlock: preempts a normal lock, refuses everyone else at once, released by its holder', async () => {
      const { env } = await store.fresh()
      assert.equal((await run(['locks', 'lock', '--env', 'prod', '--user', 'alice'], { env })).code, 0)
      await withServer(env, {}, async (server) => {
        const uber = await server.say('bob', 'uberlock prod incident 12')
        assert.equal(uber.json.response_type, 'in_channel')
        assert.match(uber.json.text, /\*bob\* uberlocked \*prod\* \(ノ≥∇≤\)ノ, preempting \*alice\* \(meta: incident 12\)/)
        const [lock] = await locksOf(env)
        assert.deepEqual([lock.user, lock.uberlock, lock.expiresAt, lock.meta], ['bob', true, null, 'incident 12'])

        const cli = await run(['locks', 'lock', '--env', 'prod', '--user', 'carol'], { env, timeoutMs: 20_000 })
        assert.equal(cli.code, 4, 'the CLI sees the Slack uberlock')
        for (const text of ['lock prod', 'uberlock prod']) {
          const refused = await server.say('carol', text)
          assert.equal(refused.json.response_type, 'ephemeral', text)
          assert.match(refused.json.text, /prod is uberlocked \(ノ≥∇≤\)ノ by bob since .* \(meta: incident 12\)\. Nothing changed\./, text)
        }
        const notYours = await server.say('alice', 'release prod')
        assert.equal(notYours.json.response_type, 'ephemeral')
        assert.equal((await locksOf(env))[0].user, 'bob')

        const released = await server.say('bob', 'release prod')
        assert.equal(released.json.response_type, 'in_channel')
        assert.match(released.json.text, /\*bob\* released the uberlock on \*prod\*/)
        assert.deepEqual(await locksOf(env), [])
      })
    })

    it('leases, help and bad input answer ephemeral', async () => {
      const { env } = await store.fresh()
      await withServer(env, {}, async (server) => {
        const none = await server.say('bob', 'leases')
        assert.deepEqual(none.json, { response_type: 'ephemeral', text: 'No active locks.' })
        await server.say('bob', 'lock staging')
        await server.say('alice', 'uberlock prod freeze')
        const all = await server.say('carol', 'leases')
        assert.equal(all.json.response_type, 'ephemeral')
        const lines = all.json.text.split('\n')
        assert.equal(lines[0], 'Active locks:')
        assert.match(lines[1], /^• \*prod\*: uberlocked by \*alice\* since .*never expires \(meta: freeze\)$/)
        assert.match(lines[2], /^• \*staging\*: locked by \*bob\* since .*expires in .* \(meta: Slack\)$/)
        const one = await server.say('carol', 'leases STAGING')
        assert.equal(one.json.text.split('\n').length, 2)
        const free = await server.say('carol', 'leases qa')
        assert.equal(free.json.text, '*qa* is not locked.')

        for (const text of ['', 'help', 'deploy prod']) {
          const help = await server.say('bob', text)
          assert.equal(help.json.response_type, 'ephemeral', text)
          assert.match(help.json.text, /`\/daplaya lock &lt;ENV&gt; \[META\.\.\.\]`/, text)
        }
        assert.match((await server.say('bob', 'deploy prod')).json.text, /^Unknown command `deploy`/)
        for (const [text, message] of [
          ['lock', /`lock` needs an env/],
          [`lock ${'e'.repeat(129)}`, /env is too long/],
          ['release a b', /unexpected `b` after the env/],
        ]) {
          const bad = await server.say('bob', text)
          assert.equal(bad.json.response_type, 'ephemeral', text)
          assert.match(bad.json.text, message, text)
        }
        assert.equal((await locksOf(env)).length, 2, 'bad input stored nothing')
      })
    })

    it('forged, stale, oversized and wrong-app requests are refused and store nothing', async () => {
      const { env } = await store.fresh()
      await withServer(env, { extraEnv: { DAPLAYA_SLACK_APP_ID: APP_ID } }, async (server) => {
        const body = form('mallory', 'uberlock prod')
        const refusals = [
          ['no signature headers', 401, body, { 'content-type': 'application/x-www-form-urlencoded' }],
          ['signed with another secret', 401, body, signedHeaders(body, { secret: 'not-the-secret' })],
          ['stale timestamp', 401, body, signedHeaders(body, { timestamp: String(nowSecs() - 6 * 60) })],
          ['future timestamp', 401, body, signedHeaders(body, { timestamp: String(nowSecs() + 6 * 60) })],
          ['tampered body', 401, body.replace('mallory', 'alice'), signedHeaders(body)],
          [
            'unprefixed signature',
            401,
            body,
            { ...signedHeaders(body), 'x-slack-signature': signedHeaders(body)['x-slack-signature'].slice(3) },
          ],
        ]
        const otherApp = form('mallory', 'uberlock prod', { api_app_id: 'A0SOMEONEELSE' })
        refusals.push(['another Slack app', 403, otherApp, signedHeaders(otherApp)])
        const noApp = new URLSearchParams({ user_name: 'mallory', text: 'uberlock prod' }).toString()
        refusals.push(['no api_app_id', 403, noApp, signedHeaders(noApp)])
        const big = `${form('mallory', 'uberlock prod')}&pad=${'x'.repeat(9 * 1024)}`
        refusals.push(['a signed 9 KiB body', 413, big, signedHeaders(big)])

        const words = { 401: 'unauthorized', 403: 'forbidden', 413: 'payload too large' }
        for (const [what, status, sent, headers] of refusals) {
          const refused = await server.post(sent, headers)
          assert.equal(refused.status, status, what)
          assert.equal(refused.text, words[status], `${what}: no detail in the answer`)
        }

        // Without Content-Length (chunked), the limit holds while reading.
        const chunked = await new Promise((resolve, reject) => {
          const request = http.request(server.url, { method: 'POST', headers: signedHeaders(big) }, (response) => {
            response.resume()
            response.on('end', () => resolve(response.statusCode))
          })
          request.on('error', reject)
          for (let i = 0; i < big.length; i += 1024) request.write(big.slice(i, i + 1024))
          request.end()
        })
        assert.equal(chunked, 413)

        const wrongMethod = await fetch(server.url)
        assert.equal(wrongMethod.status, 405)
        assert.deepEqual(await locksOf(env), [], 'nothing was stored')
        const stderr = server.stderr()
        assert.match(stderr, /refused a request \(401\): the timestamp is more than 5 minutes away/)
        assert.match(stderr, /refused a request \(403\)/)
        assert.ok(!stderr.includes(SECRET), 'the secret is never logged')

        // The right app, correctly signed, gets through.
        const ok = await server.say('roadrunner', 'lock prod')
        assert.equal(ok.status, 200)
        assert.equal((await locksOf(env))[0].user, 'roadrunner')
      })
    })

    it('history shows the last holds; a lock or uberlock without a meta keeps the lock\'s', async () => {
      const { options } = await store.fresh()
      const say = async (user, text) => {
        const body = form(user, text)
        const response = await daplaya.handleSlackCommand({ headers: signedHeaders(body), body }, { ...options, signingSecret: SECRET, users: PEOPLE })
        assert.equal(response.status, 200)
        return JSON.parse(response.body)
      }
      assert.match((await say('alice', 'uberlock prod INC-42')).text, /\(meta: INC-42\)/)
      assert.match((await say('alice', 'lock prod')).text, /still holds the uberlock on \*prod\* \(meta: INC-42\)/)
      await say('alice', 'release prod')
      await say('bob', 'lock prod')
      for (let n = 0; n < 5; n++) await say('bob', 'lock prod')
      const history = await say('carol', 'history PROD')
      assert.equal(history.response_type, 'ephemeral')
      const lines = history.text.split('\n')
      assert.equal(lines.length, 3, history.text)
      assert.equal(lines[0], 'Last holds of *prod*, newest first:')
      // A lease is stamped from the latest DynamoDB's clock may read (up to a second ahead).
      assert.match(lines[1], /^• \*bob\* locked just now \(.*\): held now, expires in 20m(1s)? \(meta: Slack\)$/)
      assert.match(lines[2], /^• \*alice\* uberlocked .*: released just now after .* \(meta: INC-42\)$/)
      assert.equal((await say('carol', 'history qa')).text, '*qa* has no holds in its history.')
      assert.match((await say('carol', 'history')).text, /`history` needs an env/)
      assert.match((await say('carol', 'help')).text, /`\/daplaya history &lt;ENV&gt;`: the last 5 holds/)
      assert.equal((await daplaya.lockHistory({ ...options, env: 'prod' })).length, 2)
    })

    it('a member acts as the email of their Slack profile: alice releases the lock her pipeline took; an unmapped alice of another workspace cannot', async () => {
      const { env } = await store.fresh()
      const api = await startSlackApi({ U0ACME1: 'Alice@Acme.io' })
      const pipeline = { CI: 'true', GITLAB_CI: 'true', GITLAB_USER_EMAIL: 'alice@acme.io', CI_PIPELINE_ID: '77', CI_JOB_URL: 'https://gitlab/j/77' }
      const taken = await runJson(['locks', 'lock', '--env', 'prod'], { env: { ...env, ...pipeline } })
      assert.equal(taken.code, 0, taken.stderr)
      assert.deepEqual([taken.json.user, taken.json.holder], ['alice@acme.io', 'gitlab:pipelines/77'])
      // A CLI user named like the handle: the bare handle must never act as them.
      assert.equal((await run(['locks', 'lock', '--env', 'staging', '--user', 'alice'], { env })).code, 0)
      try {
        const extraEnv = { DAPLAYA_SLACK_BOT_TOKEN: 'xoxb-test-token', DAPLAYA_SLACK_API_URL: api.url }
        await withServer(env, { extraEnv }, async (server) => {
          const other = { team_id: 'T0OTHER', user_id: 'U0ELSEWHERE' }
          for (const name of ['prod', 'staging']) {
            const refused = await server.say('alice', `release ${name}`, other)
            assert.equal(refused.json.response_type, 'ephemeral', refused.json.text)
            assert.match(refused.json.text, /^Nothing released: /)
          }
          assert.match((await server.say('alice', 'release prod', other)).json.text, /held by \*alice@acme\.io\* in run `gitlab:pipelines\/77`, not by you/)
          const asOther = await server.say('alice', 'lock qa', other)
          assert.match(asOther.json.text, /^:lock: \*alice \(slack t0other\/u0elsewhere\)\* locked \*qa\*/)
          assert.deepEqual((await locksOf(env)).map((lock) => [lock.env, lock.user, lock.holder]), [
            ['prod', 'alice@acme.io', 'gitlab:pipelines/77'],
            ['qa', 'alice (slack t0other/u0elsewhere)', 'alice (slack t0other/u0elsewhere)'],
            ['staging', 'alice', 'alice'],
          ])

          const leases = await server.say('alice', 'leases prod', { user_id: 'U0ACME1' })
          assert.match(leases.json.text, /• \*prod\*: locked by \*alice@acme\.io\* in run `gitlab:pipelines\/77`/)
          const released = await server.say('alice', 'release prod', { user_id: 'U0ACME1' })
          assert.equal(released.json.response_type, 'in_channel', released.json.text)
          assert.match(released.json.text, /^:unlock: \*alice@acme\.io\* released \*prod\*/)
          assert.deepEqual((await locksOf(env)).map((lock) => lock.env), ['qa', 'staging'])
          const [hold] = (await runJson(['locks', 'history', '--env', 'prod'], { env })).json
          assert.deepEqual([hold.id, hold.end, hold.holder], [taken.json.id, 'released', 'gitlab:pipelines/77'])
        })
        const asked = api.requests.map((request) => [request.path, request.user, request.authorization])
        assert.deepEqual(
          [...new Set(asked.map((request) => JSON.stringify(request)))].map((request) => JSON.parse(request)),
          [
            ['/api/users.info', 'U0ELSEWHERE', 'Bearer xoxb-test-token'],
            ['/api/users.info', 'U0ACME1', 'Bearer xoxb-test-token'],
          ],
        )
        assert.equal(asked.length, 2, 'each member asked once: the answer is remembered')
      } finally {
        await api.stop()
      }
    })

    it('force-release breaks anyone\'s lock, says so in the channel and in the history; a refused token changes nothing', async () => {
      const { env } = await store.fresh()
      const taken = await runJson(['locks', 'lock', '--env', 'prod', '--uberlock'], { env: { ...env, CI: 'true', GITHUB_ACTOR: 'octocat', GITHUB_REPOSITORY: 'acme/app', GITHUB_RUN_ID: '5' } })
      assert.equal(taken.code, 0, taken.stderr)
      const api = await startSlackApi({ U0ACME1: 'alice@acme.io' }, { token: 'xoxb-the-right-one' })
      try {
        await withServer(env, { extraEnv: { DAPLAYA_SLACK_BOT_TOKEN: 'xoxb-revoked', DAPLAYA_SLACK_API_URL: api.url } }, async (server) => {
          const refused = await server.say('alice', 'force-release prod deploy stuck', { user_id: 'U0ACME1' })
          assert.equal(refused.json.response_type, 'ephemeral')
          assert.match(refused.json.text, /could not tell who you are \(Slack's users\.info failed: invalid_auth\)\. Nothing changed/)
          assert.equal((await locksOf(env))[0].id, taken.json.id)
        })
        await withServer(env, {}, async (server) => {
          const noReason = await server.say('bob', 'force-release prod')
          assert.match(noReason.json.text, /`force-release` needs a reason/)
          const forced = await server.say('bob', 'force-release prod the deploy runner died <!channel>')
          assert.equal(forced.json.response_type, 'in_channel')
          assert.match(forced.json.text, /^:warning: \*bob\* force-released \*prod\* from \*octocat\* in run `github:acme\/app\/runs\/5\/attempts\/1` \(held since .*\)\. Reason: the deploy runner died &lt;!channel&gt;$/)
          assert.deepEqual(await locksOf(env), [])
          const history = await server.say('carol', 'history prod')
          assert.match(history.json.text, /forced by bob .* \(reason: the deploy runner died &lt;!channel&gt;\)/)
        })
        const [hold] = (await runJson(['locks', 'history', '--env', 'prod'], { env })).json
        assert.deepEqual([hold.end, hold.endedBy, hold.reason], ['forced', 'bob', 'the deploy runner died <!channel>'])
      } finally {
        await api.stop()
      }
    })

    it('a member the operator maps to alice@acme.io releases the lock her pipeline took (handleSlackCommand, users)', async () => {
      const { env, options } = await store.fresh()
      const pipeline = { CI: 'true', GITHUB_ACTOR: 'alice@acme.io', GITHUB_REPOSITORY: 'acme/app', GITHUB_RUN_ID: '31' }
      const taken = await runJson(['locks', 'lock', '--env', 'prod'], { env: { ...env, ...pipeline } })
      assert.equal(taken.code, 0, taken.stderr)
      const say = async (member, text) => {
        const body = form('al', text, { user_id: member })
        const response = await daplaya.handleSlackCommand({ headers: signedHeaders(body), body }, { ...options, signingSecret: SECRET, users: { U0ACME2: 'Alice@Acme.io' } })
        return JSON.parse(response.body)
      }
      assert.match((await say('U0NOBODY', 'release prod')).text, /^Nothing released: \*prod\* is held by \*alice@acme\.io\* in run `github:acme\/app\/runs\/31\/attempts\/1`/)
      const released = await say('U0ACME2', 'release prod')
      assert.match(released.text, /^:unlock: \*alice@acme\.io\* released \*prod\*/)
      assert.deepEqual(await locksOf(env), [])
    })

    it('handleSlackCommand answers from JS as the server does', async () => {
      const { env, options } = await store.fresh()
      const body = form('roadrunner', 'lock prod deploy 9')
      const headers = signedHeaders(body)
      const mixedCase = {
        'Content-Type': headers['content-type'],
        'X-Slack-Request-Timestamp': [headers['x-slack-request-timestamp']],
        'X-SLACK-SIGNATURE': headers['x-slack-signature'],
      }
      const response = await daplaya.handleSlackCommand({ headers: mixedCase, body }, { ...options, signingSecret: SECRET, users: PEOPLE })
      assert.equal(response.status, 200)
      assert.equal(response.headers['content-type'], 'application/json; charset=utf-8')
      const reply = JSON.parse(response.body)
      assert.equal(reply.response_type, 'in_channel')
      assert.match(reply.text, /\*roadrunner\* locked \*prod\* \(meta: deploy 9\)/)
      const [lock] = await locksOf(env)
      assert.deepEqual([lock.env, lock.user, lock.meta], ['prod', 'roadrunner', 'deploy 9'])

      const busyBody = form('bob', 'lock prod')
      const busy = await daplaya.handleSlackCommand(
        { headers: new Headers(signedHeaders(busyBody)), body: Buffer.from(busyBody) },
        { ...options, signingSecret: SECRET, appId: APP_ID, users: PEOPLE },
      )
      assert.equal(busy.status, 200)
      assert.match(JSON.parse(busy.body).text, /is locked by \*roadrunner\* .*\(meta: deploy 9\)/)

      const forged = await daplaya.handleSlackCommand(
        { headers: signedHeaders(body, { secret: 'guess' }), body },
        { ...options, signingSecret: SECRET },
      )
      assert.deepEqual(forged, { status: 401, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'unauthorized' })
      const otherApp = await daplaya.handleSlackCommand({ headers, body }, { ...options, signingSecret: SECRET, appId: 'A0OTHER' })
      assert.equal(otherApp.status, 403)
      assert.equal((await locksOf(env)).length, 1)
    })
  })
}

describe('slack serve basics', () => {
  it('refuses to start without a signing secret (exit 2, one line)', async () => {
    const result = await run(['slack', 'serve', '--port', '0'], { env: { DAPLAYA_STORE: 'sqlite::memory:' } })
    assert.equal(result.code, 2)
    assert.equal(result.stdout, '')
    const lines = result.stderr.trimEnd().split('\n')
    assert.equal(lines.length, 1, result.stderr)
    assert.match(lines[0], /^error: DAPLAYA_SLACK_SIGNING_SECRET is not set/)
    const json = await runJson(['slack', 'serve', '--port', '0'], { env: { DAPLAYA_SLACK_SIGNING_SECRET: '  ' } })
    assert.equal(json.code, 2)
    assert.equal(json.json.error.code, 'INVALID_ARGUMENT')
  })

  it('answers /healthz and stops with exit 0 on SIGINT', async () => {
    const { env } = await STORES[0].fresh()
    const server = await startServer(env)
    assert.equal(server.host, '127.0.0.1')
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/slack\/commands$/)
    const health = await fetch(`${server.base}/healthz`)
    assert.equal(health.status, 200)
    assert.equal(await health.text(), 'ok')
    assert.equal((await fetch(`${server.base}/nope`)).status, 404)
    const { code } = await server.stop('SIGINT')
    assert.equal(code, 0)
    assert.match(server.stderr(), /server stopped/)
  })

  it('a port in use is a clear usage error', async () => {
    const { env } = await STORES[0].fresh()
    const server = await startServer(env)
    try {
      const taken = await run(['slack', 'serve', '--port', String(server.port)], {
        env: { ...env, DAPLAYA_SLACK_SIGNING_SECRET: SECRET },
      })
      assert.equal(taken.code, 2)
      assert.match(taken.stderr, new RegExp(`^error: cannot listen on 127\\.0\\.0\\.1:${server.port}: `))
    } finally {
      await server.stop()
    }
  })

  it('handleSlackCommand without a signing secret rejects with INVALID_ARGUMENT', async () => {
    const saved = process.env.DAPLAYA_SLACK_SIGNING_SECRET
    delete process.env.DAPLAYA_SLACK_SIGNING_SECRET
    try {
      await assert.rejects(
        daplaya.handleSlackCommand({ headers: {}, body: 'text=help' }, { store: 'sqlite::memory:' }),
        (error) => error.code === 'INVALID_ARGUMENT' && /DAPLAYA_SLACK_SIGNING_SECRET is not set/.test(error.message),
      )
      const noBody = await daplaya.handleSlackCommand({ headers: {} }, { signingSecret: SECRET, store: 'sqlite::memory:' })
      assert.equal(noBody.status, 401, 'a request without a body is refused, not thrown')
      await assert.rejects(
        daplaya.handleSlackCommand({ body: { text: 'lock prod' } }, { signingSecret: SECRET }),
        { code: 'INVALID_ARGUMENT', message: 'request.body must be a string, not an object' },
      )
    } finally {
      if (saved !== undefined) process.env.DAPLAYA_SLACK_SIGNING_SECRET = saved
    }
  })
})
