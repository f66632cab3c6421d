'use strict'
// End-to-end: `daplaya serve` started through bin/daplaya.js, every route asked over HTTP, on
// each store; locks and jobs are made with the CLI as a user would. Then the access rules:
// the dashboard token (header, query, cookie), the open routes, and the loopback-only rule.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const { STORES, run, runJson } = require('./helpers.js')
const { startServe, withServe, readEvents } = require('./serve-helpers.js')

const ok = async (promise) => {
  const result = await promise
  assert.equal(result.code, 0, result.stderr)
  return result
}

for (const store of STORES) {
  describe(`serve on ${store.name}`, { skip: store.skip }, () => {
    it('answers every route, reading what the CLI wrote', async () => {
      const { env } = await store.fresh()
      await ok(run(['locks', 'lock', '--env', 'production', '--user', 'alice', '--meta', 'https://ci.example.com/jobs/42'], { env }))
      await ok(run(['locks', 'lock', '--env', 'staging', '--user', 'bob', '--uberlock', '--meta', '<script>alert("meta")</script>'], { env }))
      await ok(run(['locks', 'lock', '--env', 'qa', '--user', 'carol'], { env }))
      await ok(run(['locks', 'release', '--env', 'qa', '--user', 'carol'], { env }))
      const started = await ok(run(['jobs', 'start', '--jobname', 'deploy-prod', '--user', 'alice', '--gitversion', 'v1'], { env }))
      await ok(run(['jobs', 'start', '--jobname', 'deploy-prod', '--user', 'bob', '--gitversion', 'v2'], { env }))
      await ok(run(['jobs', 'end', '--gitversion', 'v2', '--skipped'], { env }))

      await withServe(env, ['--jobname', 'deploy-prod'], async (server) => {
        assert.equal(server.url, `${server.base}/`)
        assert.equal(server.slackUrl, null)

        // GET /: every held and recently held env, server-rendered.
        const page = await server.get('/')
        assert.equal(page.status, 200)
        assert.match(page.headers.get('content-type'), /^text\/html/)
        assert.match(page.headers.get('content-security-policy'), /script-src 'self'/)
        const html = await page.text()
        assert.match(html, /<title>daplaya · 2 held<\/title>/)
        assert.match(html, /<li class="card held" data-env="production">/)
        assert.match(html, /<li class="card held uber" data-env="staging">.*?<span class="badge">Uberlock<\/span>/s)
        assert.match(html, /<li class="card ended" data-env="qa">.*?<span class="badge">Released<\/span>/s)
        assert.match(html, /<a href="https:\/\/ci.example.com\/jobs\/42" rel="noopener noreferrer">/)
        // Meta is user input: shown as text, never as markup.
        assert.ok(!html.includes('<script>alert'), 'the meta was not escaped')
        assert.ok(html.includes('&lt;script&gt;alert(&quot;meta&quot;)&lt;/script&gt;'))
        assert.match(html, /<article class="jobs" data-jobname="deploy-prod">.*?<code>v1<\/code>/s)
        assert.match(html, /updated <time id="updated"/)

        // The page's own stylesheet and script, nothing from elsewhere.
        for (const [path, type] of [['/assets/page.css', /^text\/css/], ['/assets/page.js', /^text\/javascript/]]) {
          const asset = await server.get(path)
          assert.equal(asset.status, 200, path)
          assert.match(asset.headers.get('content-type'), type)
          assert.ok(!/https?:\/\//.test(await asset.text()), `${path} refers to another site`)
        }
        assert.ok(!/(src|href)="(https?:)?\/\//.test(html.replace(/<a href="https:\/\/ci[^"]*"/g, '')), 'the page loads something from elsewhere')

        // GET /api/locks: the same document as `locks list --json`.
        const cli = await runJson(['locks', 'list'], { env })
        const api = await server.get('/api/locks')
        assert.equal(api.status, 200)
        assert.match(api.headers.get('content-type'), /^application\/json/)
        assert.deepEqual(await api.json(), cli.json)
        const one = await server.get('/api/locks?env=Production')
        assert.deepEqual(await one.json(), (await runJson(['locks', 'list', '--env', 'production'], { env })).json)
        const badEnv = await server.get(`/api/locks?env=${'x'.repeat(200)}`)
        assert.equal(badEnv.status, 400)
        assert.equal((await badEnv.json()).error.code, 'INVALID_ARGUMENT')

        // GET /api/jobs: running and skipped jobs of a jobname.
        const jobs = await (await server.get('/api/jobs?jobname=deploy-prod')).json()
        assert.equal(jobs.jobname, 'deploy-prod')
        assert.deepEqual(jobs.active.map((j) => j.id), [started.stdout.trim()])
        assert.deepEqual(jobs.skipped.map((j) => j.version), ['v2'])
        assert.deepEqual(jobs.active, (await runJson(['jobs', 'active', '--jobname', 'deploy-prod'], { env })).json)
        const noJobname = await server.get('/api/jobs')
        assert.equal(noJobname.status, 400)
        assert.match((await noJobname.json()).error.message, /jobname is required/)

        // GET /healthz
        const health = await server.get('/healthz')
        assert.equal(health.status, 200)
        assert.equal(await health.text(), 'ok')

        // GET /metrics: Prometheus text, counting what the store holds.
        const metrics = await server.get('/metrics')
        assert.equal(metrics.status, 200)
        assert.match(metrics.headers.get('content-type'), /^application\/openmetrics-text/)
        const text = await metrics.text()
        assert.match(text, /^daplaya_envs_held 2$/m)
        assert.match(text, /^daplaya_envs_uberlocked 1$/m)
        assert.match(text, /^daplaya_lock_acquisitions_total\{env="production"\} 1$/m)
        assert.match(text, /^daplaya_store_errors_total 0$/m)
        assert.match(text, /^daplaya_http_request_duration_seconds_count\{method="GET",route="\/api\/locks",status="200"\} 2$/m)
        assert.match(text, /^daplaya_http_request_duration_seconds_count\{method="GET",route="\/api\/locks",status="400"\} 1$/m)

        // No signing secret: no Slack route, and nothing on the page changes a lock.
        assert.equal((await server.get('/slack/commands', { method: 'POST', body: 'x' })).status, 404)
        for (const method of ['POST', 'PUT', 'DELETE']) {
          assert.equal((await server.get('/api/locks', { method })).status, 405, method)
        }
        assert.deepEqual((await runJson(['locks', 'list'], { env })).json, cli.json)
      })
    })

    it('metrics come from the store: every env the page lists has its acquisitions, the same at every scrape', async () => {
      const { env } = await store.fresh()
      // Taken and released before the server starts: it never sees qa held.
      for (let i = 0; i < 3; i += 1) {
        await ok(run(['locks', 'lock', '--env', 'qa', '--user', 'carol'], { env }))
        await ok(run(['locks', 'release', '--env', 'qa', '--user', 'carol'], { env }))
      }
      await ok(run(['locks', 'lock', '--env', 'production', '--user', 'alice'], { env }))
      await withServe(env, [], async (server) => {
        const scrape = async () => {
          const text = await (await server.get('/metrics')).text()
          return text.split('\n').filter((line) => line.startsWith('daplaya_lock_acquisitions_total') || line.startsWith('daplaya_envs_held '))
        }
        const first = await scrape()
        assert.deepEqual(first.sort(), ['daplaya_envs_held 1', 'daplaya_lock_acquisitions_total{env="production"} 1', 'daplaya_lock_acquisitions_total{env="qa"} 3'])
        assert.deepEqual((await scrape()).sort(), first, 'stable from one scrape to the next')
        // Another client's acquisitions are counted at the next scrape, whatever this server saw.
        await ok(run(['locks', 'release', '--env', 'production', '--user', 'alice'], { env }))
        await ok(run(['locks', 'lock', '--env', 'production', '--user', 'bob'], { env }))
        assert.ok((await scrape()).includes('daplaya_lock_acquisitions_total{env="production"} 2'))
      })
    })

    it('sends live updates: a lock taken from the CLI arrives as a board event', async () => {
      const { env } = await store.fresh()
      await withServe(env, [], async (server) => {
        const response = await server.get('/events')
        assert.equal(response.status, 200)
        assert.match(response.headers.get('content-type'), /^text\/event-stream/)
        const first = await readEvents(response, (e) => e.event === 'board')
        assert.match(first.data, /No env is held/)
        assert.ok(Number(first.id) > 0, 'the event id is the read time')
        await ok(run(['locks', 'lock', '--env', 'live-env', '--user', 'dora', '--meta', '<b>bold</b>'], { env }))
        const next = await server.get('/events')
        const update = await readEvents(next, (e) => e.event === 'board' && e.data.includes('live-env'))
        assert.match(update.data, /data-env="live-env"/)
        assert.ok(update.data.includes('&lt;b&gt;bold&lt;/b&gt;'), update.data)
      })
    })
  })
}

const sqlite = STORES.find((s) => s.name === 'sqlite')

describe('serve stopping', () => {
  it('SIGTERM ends open live-update streams and the server exits 0', async () => {
    const { env } = await sqlite.fresh()
    const server = await startServe(env)
    const response = await server.get('/events')
    const reader = response.body.getReader()
    assert.match(new TextDecoder().decode((await reader.read()).value), /^event: board/)
    const stopped = server.stop('SIGTERM')
    let chunk
    do chunk = await reader.read()
    while (!chunk.done)
    assert.equal((await stopped).code, 0, server.stderr())
    assert.match(server.stderr(), /daplaya: server stopped\n$/)
  })
})

describe('serve with a store it cannot reach', () => {
  it('answers 503 with the error document, counts store errors, and still answers /healthz', async () => {
    const env = {
      DAPLAYA_STORE: 'dynamodb',
      DAPLAYA_DYNAMODB_ENDPOINT: 'http://127.0.0.1:9',
      DAPLAYA_AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'daplayatest',
      AWS_SECRET_ACCESS_KEY: 'daplayatest',
      AWS_EC2_METADATA_DISABLED: 'true',
    }
    await withServe(env, [], async (server) => {
      const api = await server.get('/api/locks')
      assert.equal(api.status, 503)
      assert.equal((await api.json()).error.code, 'STORE_UNAVAILABLE')
      const page = await server.get('/')
      assert.equal(page.status, 503)
      assert.match(await page.text(), /The store could not be read/)
      const events = await server.get('/events')
      const failed = await readEvents(events, (e) => e.event === 'failed')
      assert.match(failed.data, /127\.0\.0\.1:9/)
      assert.equal((await server.get('/healthz')).status, 200)
      const metrics = await (await server.get('/metrics')).text()
      const errors = Number(/^daplaya_store_errors_total (\d+)$/m.exec(metrics)[1])
      assert.ok(errors >= 4, metrics)
    })
  })
})

describe('serve access', () => {
  const TOKEN = crypto.randomBytes(24).toString('hex')
  const GUARDED = ['/', '/assets/page.css', '/assets/page.js', '/events', '/api/locks', '/api/jobs?jobname=x', '/metrics']

  it('with a token, every route but /healthz and /slack/commands needs it', async () => {
    const { env } = await sqlite.fresh()
    const secret = crypto.randomBytes(16).toString('hex')
    const withToken = { ...env, DAPLAYA_DASHBOARD_TOKEN: TOKEN, DAPLAYA_SLACK_SIGNING_SECRET: secret }
    await withServe(withToken, [], async (server) => {
      for (const path of GUARDED) {
        const missing = await server.get(path)
        assert.equal(missing.status, 401, `${path} without a token`)
        assert.match(missing.headers.get('www-authenticate'), /^Bearer/)
        const wrong = await server.get(path, { headers: { authorization: 'Bearer nope' } })
        assert.equal(wrong.status, 401, `${path} with a wrong token`)
        assert.equal((await server.get(`${path}${path.includes('?') ? '&' : '?'}token=nope`)).status, 401)
        const right = await server.get(path, { headers: { authorization: `Bearer ${TOKEN}` } })
        assert.equal(right.status, 200, `${path} with the token`)
        await right.body?.cancel()
      }
      assert.match(server.stderr(), /serve: refused GET \/api\/locks \(401\): wrong or missing DAPLAYA_DASHBOARD_TOKEN/)
      assert.ok(!server.stderr().includes(TOKEN), 'the token is never logged')

      // Open routes: health, and Slack (which checks its own signature).
      assert.equal((await server.get('/healthz')).status, 200)
      const body = new URLSearchParams({ user_name: 'erin', user_id: 'U0ERIN', command: '/daplaya', text: 'leases' }).toString()
      const timestamp = String(Math.floor(Date.now() / 1000))
      const signature = `v0=${crypto.createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`
      const slack = await server.get('/slack/commands', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': timestamp, 'x-slack-signature': signature },
        body,
      })
      assert.equal(slack.status, 200)
      assert.equal((await slack.json()).text, 'No active locks.')
      assert.equal((await server.get('/slack/commands', { method: 'POST', body })).status, 401)
    })
  })

  it('?token= sets an HttpOnly cookie that then opens the page and its live updates', async () => {
    const { env } = await sqlite.fresh()
    await withServe({ ...env, DAPLAYA_DASHBOARD_TOKEN: TOKEN }, [], async (server) => {
      // The page drops the token from its address, keeping the rest of it.
      const page = await server.get(`/?jobname=deploy&token=${TOKEN}`)
      assert.equal(page.status, 303)
      assert.equal(page.headers.get('location'), '.?jobname=deploy')
      const cookie = page.headers.get('set-cookie')
      assert.match(cookie, /^daplaya_token=[0-9a-f]{64}; Path=\/; HttpOnly; SameSite=Lax$/)
      assert.ok(!cookie.includes(TOKEN), 'the cookie holds a digest, not the token')
      const pair = cookie.split(';')[0]
      const api = await server.get(`/api/locks?token=${TOKEN}`)
      assert.equal(api.status, 200)
      assert.equal(api.headers.get('set-cookie'), cookie)
      for (const path of GUARDED) {
        const response = await server.get(path, { headers: { cookie: `theme=dark; ${pair}` } })
        assert.equal(response.status, 200, path)
        await response.body?.cancel()
      }
      assert.equal((await server.get('/', { headers: { cookie: 'daplaya_token=00' } })).status, 401)
      const refused = await server.get('/')
      assert.match(await refused.text(), /\?token=&lt;DAPLAYA_DASHBOARD_TOKEN&gt;/)
    })
  })

  it('without a token it listens on loopback only, and says how to set one', async () => {
    const { env } = await sqlite.fresh()
    for (const host of ['0.0.0.0', '::']) {
      const refused = await run(['serve', '--host', host, '--port', '0'], { env })
      assert.equal(refused.code, 2, refused.stderr)
      const lines = refused.stderr.trim().split('\n')
      assert.equal(lines.length, 1, refused.stderr)
      assert.match(lines[0], /^error: refusing to serve on .* without DAPLAYA_DASHBOARD_TOKEN: set it .*openssl rand -hex 32.* or listen on 127\.0\.0\.1$/)
      assert.equal(refused.stdout, '')
    }
    const alias = await run(['slack', 'serve', '--host', '0.0.0.0', '--port', '0'], { env: { ...env, DAPLAYA_SLACK_SIGNING_SECRET: 's' } })
    assert.equal(alias.code, 2, alias.stderr)
    assert.match(alias.stderr, /without DAPLAYA_DASHBOARD_TOKEN/)

    // With a token, any address; the test reaches it on loopback.
    const server = await startServe({ ...env, DAPLAYA_DASHBOARD_TOKEN: TOKEN }, [], { host: '0.0.0.0' })
    try {
      assert.equal(server.host, '0.0.0.0')
      assert.equal((await server.get('/api/locks', { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200)
    } finally {
      assert.equal((await server.stop()).code, 0)
    }
  })
})
