'use strict'
// Events end to end: bin/daplaya.js (and the API) announce what they change to local webhook
// receivers and a local stand-in of Slack's Web API. Each event arrives once per subscriber with
// a valid signature; a receiver that never answers or answers 500 holds back no lock decision;
// the next in line gets a DM when their turn comes.
const { describe, it, afterEach, before, after } = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')
const path = require('node:path')
const fs = require('node:fs')
const { spawn } = require('node:child_process')
const { ROOT, STORES, baseEnv, run, runJson, start, stopStarted, tempDir, until } = require('./helpers.js')

afterEach(stopStarted)

const SECRET = 'test-webhook-secret'

/** The verification snippet of docs/events.md, run as written. */
const verified = (() => {
  const doc = fs.readFileSync(path.join(ROOT, 'docs', 'events.md'), 'utf8')
  const section = doc.slice(doc.indexOf('### Verifying a webhook'))
  const snippet = /```js\n([\s\S]*?)```/.exec(section)[1]
  return new Function('require', `${snippet}\nreturn verified`)(require)
})()

/** One server for the webhooks and Slack: every request is recorded; `/never` never answers. */
let server
let base
const received = []
before(async () => {
  server = http.createServer((request, response) => {
    let body = ''
    request.on('data', (chunk) => {
      body += chunk
    })
    request.on('end', () => {
      const url = new URL(request.url, 'http://x')
      received.push({ path: url.pathname, query: url.searchParams, headers: request.headers, body, at: Date.now() })
      if (url.pathname.endsWith('/never')) return
      // The first attempt of each event fails: it arrives again after a pause.
      if (url.pathname.endsWith('/flaky')) {
        const id = request.headers['x-daplaya-event-id']
        const first = received.filter((seen) => seen.headers['x-daplaya-event-id'] === id).length === 1
        return response.writeHead(first ? 503 : 200).end()
      }
      if (url.pathname.endsWith('/fail')) return response.writeHead(500).end('down')
      if (url.pathname.startsWith('/slack/api/')) {
        const method = url.pathname.slice('/slack/api/'.length)
        const answers = {
          'users.lookupByEmail': () => ({ ok: true, user: { id: `U-${url.searchParams.get('email')}` } }),
          'conversations.open': () => ({ ok: true, channel: { id: `D-${JSON.parse(body).users}` } }),
          'chat.postMessage': () => ({ ok: true, channel: JSON.parse(body).channel, ts: '1.2' }),
        }
        const answer = answers[method]?.() ?? { ok: false, error: 'unknown_method' }
        return response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer))
      }
      response.writeHead(200).end('ok')
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${server.address().port}`
})
after(() => {
  server.closeAllConnections()
  server.close()
})

/** What arrived at `pathPrefix` for a test (its own prefix), parsed. */
const arrived = (prefix) => received.filter((request) => request.path.startsWith(prefix))
const eventsAt = (prefix) => arrived(prefix).map((request) => JSON.parse(request.body))

/** `kind:user` of the events at `prefix`, sorted, duplicates kept. */
const kindsAt = (prefix) => eventsAt(prefix).map((event) => `${event.kind}:${event.user}`).sort()

let tests = 0
/** Settings sending events to two webhooks and Slack (a channel through the bot token, and DMs). */
function subscribed(env) {
  const prefix = `/t${++tests}`
  return {
    prefix,
    env: {
      ...env,
      DAPLAYA_WEBHOOK_URL: `${base}${prefix}/hook/a, ${base}${prefix}/hook/b`,
      DAPLAYA_WEBHOOK_SECRET: SECRET,
      DAPLAYA_SLACK_BOT_TOKEN: 'xoxb-test',
      DAPLAYA_SLACK_API_URL: `${base}/slack/api`,
      DAPLAYA_SLACK_CHANNEL: `#deploys-${tests}`,
    },
  }
}

for (const store of STORES) {
  describe(`events on ${store.name}`, { skip: store.skip }, () => {
    it('each event reaches every webhook once, signed, and Slack: the channel, and a DM for the next in line', async () => {
      const fresh = await store.fresh()
      const { env, prefix } = subscribed(fresh.env)
      const channel = env.DAPLAYA_SLACK_CHANNEL
      assert.equal((await run(['locks', 'lock', '--env', 'production', '--user', 'alice@acme.io'], { env })).code, 0)
      const bob = start(['locks', 'run', '--env', 'production', '--user', 'bob@acme.io', '--poll-interval', '100ms', '--', process.execPath, '-e', ''], { env })
      await bob.waitFor(/in line/)
      assert.equal((await run(['locks', 'release', '--env', 'production', '--user', 'alice@acme.io'], { env })).code, 0)
      assert.equal((await bob.done).code, 0)

      const expected = ['released:alice@acme.io', 'released:bob@acme.io', 'taken:alice@acme.io', 'taken:bob@acme.io', 'turn:bob@acme.io']
      for (const hook of ['/hook/a', '/hook/b']) {
        const requests = arrived(prefix + hook)
        assert.deepEqual(kindsAt(prefix + hook), expected, `${hook} got each event once`)
        for (const request of requests) {
          assert.ok(verified(request.headers, request.body, SECRET), `${hook}: a valid signature`)
          assert.ok(!verified(request.headers, request.body, 'another secret'))
          const event = JSON.parse(request.body)
          assert.equal(request.headers['x-daplaya-event-id'], event.id)
          assert.equal(request.headers['x-daplaya-event'], event.kind)
          assert.equal(event.env, 'production')
        }
      }
      const [turn] = eventsAt(prefix + '/hook/a').filter((event) => event.kind === 'turn')
      assert.equal(turn.by, 'alice@acme.io')
      const [released] = eventsAt(prefix + '/hook/a').filter((event) => event.kind === 'released' && event.user === 'alice@acme.io')
      assert.equal(turn.lockId, released.lockId)

      // Slack: every event in the channel, and one DM to bob, found by his email.
      const slack = received.filter((request) => request.path.startsWith('/slack/api/'))
      const posted = slack.filter((request) => request.path.endsWith('chat.postMessage')).map((request) => JSON.parse(request.body))
      assert.ok(slack.every((request) => request.headers.authorization === 'Bearer xoxb-test'))
      const inChannel = posted.filter((message) => message.channel === channel).map((message) => message.text)
      assert.equal(inChannel.length, expected.length)
      assert.ok(inChannel.includes("bob@acme.io's turn on production: alice@acme.io released it"), inChannel.join('\n'))
      const lookups = slack.filter((request) => request.path.endsWith('users.lookupByEmail') && request.query.get('email') === 'bob@acme.io')
      assert.equal(lookups.length, 1)
      const opened = slack.filter((request) => request.path.endsWith('conversations.open') && JSON.parse(request.body).users === 'U-bob@acme.io')
      assert.equal(opened.length, 1)
      const dms = posted.filter((message) => message.channel === 'D-U-bob@acme.io')
      assert.deepEqual(
        dms.map((message) => message.text),
        ['Your turn on production: alice@acme.io released it'],
      )
      // Nobody else was in line: no other DM.
      assert.equal(posted.filter((message) => message.channel.startsWith('D-')).length, 1)
      received.length = 0
    })

    it('a receiver that never answers, and one that answers 500, hold back no lock decision; the 500 is retried, a bounded number of times', async () => {
      const fresh = await store.fresh()
      const prefix = `/t${++tests}`
      const env = { ...fresh.env, DAPLAYA_WEBHOOK_URL: `${base}${prefix}/never ${base}${prefix}/fail`, DAPLAYA_WEBHOOK_SECRET: SECRET }
      const alice = start(['locks', 'lock', '--env', 'production', '--user', 'alice', '--json'], { env })
      // The decision is printed while the first receiver still holds its request open: had the
      // lock waited for it, this would never come.
      await until(() => alice.stdout.includes('"user": "alice"') || alice.stdout.includes('"user":"alice"'), true, 'the lock decision on stdout')
      await until(() => arrived(prefix + '/never').length > 0, true, 'the request to the receiver that never answers')
      const { code } = await alice.done
      assert.equal(code, 0)
      const failed = arrived(prefix + '/fail')
      assert.equal(failed.length, 3, 'three attempts in all at the receiver that answers 500')
      assert.equal(new Set(failed.map((request) => request.headers['x-daplaya-event-id'])).size, 1, 'the same event each time')
      assert.ok(arrived(prefix + '/never').length <= 3)
      const { json } = await runJson(['locks', 'list', '--env', 'production'], { env: fresh.env })
      assert.equal(json[0].user, 'alice')
    })
  })
}

describe('events from the API', () => {
  it('a script that releases and ends still delivers its events, retried, the call resolving before they are', async () => {
    const prefix = `/t${++tests}`
    const file = path.join(tempDir(), 'locks.db')
    const script = path.join(tempDir(), 'deploy.js')
    fs.writeFileSync(
      script,
      `const { lock, release } = require(${JSON.stringify(ROOT)})
const store = ${JSON.stringify(`sqlite:${file}`)}
lock({ env: 'production', user: 'ci', store })
  .then(() => release({ env: 'production', user: 'ci', store }))
  .then(() => console.log(Date.now()))`,
    )
    // The receiver fails each first attempt: a script whose Node ended with its calls would
    // never send the second.
    const env = { DAPLAYA_WEBHOOK_URL: `${base}${prefix}/flaky`, DAPLAYA_WEBHOOK_SECRET: SECRET }
    // Asynchronous: this process's server must answer meanwhile.
    const deploy = spawn(process.execPath, [script], { env: { ...baseEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    deploy.stdout.on('data', (chunk) => {
      stdout += chunk
    })
    let stderr = ''
    deploy.stderr.on('data', (chunk) => {
      stderr += chunk
    })
    const status = await new Promise((resolve) => deploy.on('close', resolve))
    assert.equal(status, 0, stderr)
    assert.deepEqual(kindsAt(prefix), ['released:ci', 'released:ci', 'taken:ci', 'taken:ci'])
    const resolvedAt = Number(stdout.trim())
    const retried = arrived(prefix).filter((request) => JSON.parse(request.body).kind === 'released').at(-1)
    assert.ok(resolvedAt <= retried.at, 'release() resolved before its event was delivered')
  })

  it('settings that cannot work are refused before any lock is touched: one line, exit 2', async () => {
    const { env } = await STORES[0].fresh()
    const unsigned = await run(['locks', 'lock', '--env', 'production', '--user', 'alice'], { env: { ...env, DAPLAYA_WEBHOOK_URL: `${base}/x` } })
    assert.equal(unsigned.code, 2)
    assert.match(unsigned.stderr, /DAPLAYA_WEBHOOK_SECRET/)
    const { json } = await runJson(['locks', 'list'], { env })
    assert.deepEqual(json, [])
  })
})
