'use strict'
// Attacks on the Slack endpoint (docs/guarantees.md, Security): copies of signed requests, forged, stale and
// oversized ones, and markup in what members type. Each test fails if its attack works, on each
// store, against the real `slack serve` and `handleSlackCommand`. Alice is mapped to the user
// `alice` as an operator would (docs/slack.md, Who you are); other members are not.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const { STORES, runJson } = require('./helpers.js')
const { startServer, startSlackApi } = require('./serve-helpers.js')
const { exchange, SLACK_SECRET, slackSign, slackForm, nowSecs } = require('./adversarial-helpers.js')
const daplaya = require('../index.js')

/** The operator's mapping of the members these tests speak as. */
const USERS = { U0ALICE: 'alice' }

const locksOf = async (env) => {
  const list = await runJson(['locks', 'list'], { env })
  assert.equal(list.code, 0, list.stderr)
  return list.json
}

/** `slack serve` on `env`, with `send(body, headers)` and `say(user, text, extra)` (signed, kept for replaying). */
async function startSlack(env) {
  const server = await startServer(['slack', 'serve', '--host', '127.0.0.1', '--port', '0', '--json'], {
    ...env,
    DAPLAYA_SLACK_SIGNING_SECRET: SLACK_SECRET,
    DAPLAYA_SLACK_USERS: Object.entries(USERS).map(([member, user]) => `${member}=${user}`).join(','),
  })
  return Object.assign(server, {
    async send({ body, headers }) {
      const response = await fetch(server.url, { method: 'POST', headers, body })
      return { status: response.status, text: await response.text() }
    },
    async say(user, text, extra) {
      const sent = { body: slackForm(user, text, extra), headers: null }
      sent.headers = slackSign(sent.body)
      const answer = await this.send(sent)
      assert.equal(answer.status, 200, answer.text)
      return { sent, reply: JSON.parse(answer.text) }
    },
  })
}

async function withSlack(env, test) {
  const server = await startSlack(env)
  try {
    return await test(server)
  } finally {
    assert.equal((await server.stop()).code, 0, server.stderr())
  }
}

for (const store of STORES) {
  describe(`attacks on Slack (${store.name})`, { skip: store.skip }, () => {
    it('attack: a captured release replayed within the window does not release the user\'s newer lock', async () => {
      const { env } = await store.fresh()
      await withSlack(env, async (server) => {
        await server.say('alice', 'lock prod')
        const { sent: release } = await server.say('alice', 'release prod')
        await server.say('alice', 'lock prod hotfix 2')
        const [newer] = await locksOf(env)
        assert.equal(newer.user, 'alice', 'the member acts as the user mapped to them')
        const replayed = await server.send(release)
        assert.deepEqual(replayed, { status: 409, text: 'already handled' })
        assert.deepEqual(await locksOf(env), [newer], 'the newer lock is untouched')
        assert.match(server.stderr(), /slack: refused "alice" "release prod" \(409\): its signature was acted on already/)
      })
    })

    it('attack: a captured lock replayed is refused and takes nothing', async () => {
      const { env } = await store.fresh()
      await withSlack(env, async (server) => {
        const { sent: lock } = await server.say('alice', 'uberlock prod')
        await server.say('alice', 'release prod')
        assert.deepEqual(await server.send(lock), { status: 409, text: 'already handled' })
        assert.deepEqual(await locksOf(env), [], 'nothing was locked')
        // Its hex digits recased, it is still the same request.
        const upper = { ...lock, headers: { ...lock.headers, 'x-slack-signature': `v0=${lock.headers['x-slack-signature'].slice(3).toUpperCase()}` } }
        assert.deepEqual(await server.send(upper), { status: 409, text: 'already handled' })
        assert.deepEqual(await locksOf(env), [])
      })
    })

    it('attack: a replay after a restart, to another server or to handleSlackCommand on the same store is refused', async () => {
      const { env, options } = await store.fresh()
      const { sent: release } = await withSlack(env, async (server) => {
        await server.say('alice', 'lock prod')
        return server.say('alice', 'release prod')
      })
      assert.equal((await withSlack(env, (server) => server.say('alice', 'lock prod'))).reply.response_type, 'in_channel')
      const [held] = await locksOf(env)
      await withSlack(env, async (restarted) => {
        assert.deepEqual(await restarted.send(release), { status: 409, text: 'already handled' })
      })
      const viaJs = await daplaya.handleSlackCommand({ headers: release.headers, body: release.body }, { ...options, signingSecret: SLACK_SECRET, users: USERS })
      assert.equal(viaJs.status, 409)
      assert.deepEqual(await locksOf(env), [held])
    })

    it('attack: a captured release replayed where Slack\'s users.info tells who members are is refused, also while Slack is unreachable', async () => {
      const { env } = await store.fresh()
      const api = await startSlackApi({ U0CAROL: 'carol@acme.io' })
      const asking = { ...env, DAPLAYA_SLACK_BOT_TOKEN: 'xoxb-test-token', DAPLAYA_SLACK_API_URL: api.url }
      let release
      let newer
      try {
        await withSlack(asking, async (server) => {
          await server.say('carol', 'lock prod')
          release = (await server.say('carol', 'release prod')).sent
          await server.say('carol', 'lock prod again')
          ;[newer] = await locksOf(env)
          assert.equal(newer.user, 'carol@acme.io', 'the member acts as their profile\'s email')
          // The member is told first (remembered), then the copy is refused before it acts.
          assert.deepEqual(await server.send(release), { status: 409, text: 'already handled' })
          assert.deepEqual(await locksOf(env), [newer])
        })
      } finally {
        await api.stop()
      }
      // Slack gone: a copy sent to a fresh server cannot be told apart from its member, and acts on nothing.
      await withSlack(asking, async (server) => {
        const answer = await server.send(release)
        assert.equal(answer.status, 200, answer.text)
        const reply = JSON.parse(answer.text)
        assert.equal(reply.response_type, 'ephemeral')
        assert.match(reply.text, /could not tell who you are .*Nothing changed/)
        assert.deepEqual(await locksOf(env), [newer])
      })
    })

    it('attack: forged, tampered, stale and unsigned requests are refused and change nothing', async () => {
      const { env } = await store.fresh()
      await withSlack(env, async (server) => {
        await server.say('alice', 'lock prod')
        const before = await locksOf(env)
        const body = slackForm('alice', 'release prod')
        const signed = slackSign(body)
        const forgeries = [
          ['no signature', { 'content-type': 'application/x-www-form-urlencoded' }, body],
          ['another secret', slackSign(body, { secret: 'guessed' }), body],
          ['stale by 6 minutes', slackSign(body, { timestamp: String(nowSecs() - 360) }), body],
          ['from 6 minutes ahead', slackSign(body, { timestamp: String(nowSecs() + 360) }), body],
          ['tampered body', signed, body.replace('alice', 'mallory')],
          ['a body added to', signed, `${body}&user_name=mallory`],
          ['the timestamp changed', { ...signed, 'x-slack-request-timestamp': String(nowSecs() - 1) }, body],
          ['v1 signature', { ...signed, 'x-slack-signature': signed['x-slack-signature'].replace('v0=', 'v1=') }, body],
          ['a truncated signature', { ...signed, 'x-slack-signature': signed['x-slack-signature'].slice(0, 40) }, body],
          ['an empty signature', { ...signed, 'x-slack-signature': 'v0=' }, body],
          ['a timestamp that is no number', { ...signed, 'x-slack-request-timestamp': 'now' }, body],
        ]
        for (const [what, headers, sent] of forgeries) {
          assert.deepEqual(await server.send({ body: sent, headers }), { status: 401, text: 'unauthorized' }, what)
        }
        assert.deepEqual(await locksOf(env), before)
        assert.ok(!server.stderr().includes(SLACK_SECRET), 'the secret is never logged')
      })
    })

    it('attack: oversized and slow bodies are refused before the store', async () => {
      const { env } = await store.fresh()
      await withSlack(env, async (server) => {
        const big = `${slackForm('mallory', 'uberlock prod')}&pad=${'x'.repeat(9 * 1024)}`
        assert.deepEqual(await server.send({ body: big, headers: slackSign(big) }), { status: 413, text: 'payload too large' })
        const declared = `POST /slack/commands HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${100 * 1024 * 1024}\r\nConnection: close\r\n\r\n`
        assert.match(await exchange(server.port, declared), /^HTTP\/1\.1 413 /, 'a declared 100 MB body is refused unread')
        // A body that never arrives: answered when the server stops waiting for it (5 s).
        const slow = `POST /slack/commands HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\nConnection: close\r\n\r\ntext=`
        assert.match(await exchange(server.port, slow), /^HTTP\/1\.1 408 /)
        assert.deepEqual(await locksOf(env), [])
      })
    })

    it('attack: mentions and markup in a Slack handle or meta ping nobody and are stored as typed', async () => {
      const { env } = await store.fresh()
      await withSlack(env, async (server) => {
        // An unmapped member acts as their handle, qualified: the handle is theirs to choose.
        const { reply } = await server.say('<!channel>', 'lock prod <!here> <script>x</script> &', { user_id: 'U0MALLORY' })
        assert.equal(reply.response_type, 'in_channel')
        assert.ok(!/<!channel>|<!here>|<script>/.test(reply.text), reply.text)
        assert.match(reply.text, /&lt;!channel&gt;.*&lt;!here&gt; &lt;script&gt;x&lt;\/script&gt; &amp;/)
        const [lock] = await locksOf(env)
        assert.deepEqual([lock.user, lock.meta], ['<!channel> (slack t0team/u0mallory)', '<!here> <script>x</script> &'])
      })
    })
  })
}
