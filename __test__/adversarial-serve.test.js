'use strict'
// Attacks on `daplaya serve` from the network or from a web page (docs/guarantees.md, Security): each test
// fails if its attack works. The server is the real one, started through bin/daplaya.js.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const net = require('node:net')
const { STORES, run, runJson } = require('./helpers.js')
const { withServe, readEvents } = require('./serve-helpers.js')
const { request, exchange, SLACK_SECRET } = require('./adversarial-helpers.js')

const sqlite = STORES.find((s) => s.name === 'sqlite')
const GUARDED = ['/', '/assets/page.css', '/assets/page.js', '/events', '/api/locks', '/api/jobs?jobname=x', '/metrics']
const ROUTES = [...GUARDED, '/healthz', '/slack/commands']

const ok = async (promise) => {
  const result = await promise
  assert.equal(result.code, 0, result.stderr)
  return result
}

/** `count` requests with random method names on one connection, pipelined; resolves with the answers seen. */
async function randomMethods(port, count) {
  const requests = Array.from({ length: count }, (_, n) => {
    const method = `M${crypto.randomBytes(1 + (n % 24)).toString('hex').toUpperCase()}`
    const path = n % 2 ? '/healthz' : `/no-such-${n}`
    const last = n === count - 1 ? 'Connection: close\r\n' : ''
    return `${method} ${path} HTTP/1.1\r\nHost: localhost\r\n${last}\r\n`
  })
  const received = await exchange(port, requests.join(''))
  return received.split('HTTP/1.1 ').length - 1
}

describe('attacks on serve', () => {
  it('attack: 10,000 requests with random method names (and 60 KB ones) leave /metrics under 64 KB', async () => {
    const { env } = await sqlite.fresh()
    await withServe(env, [], async (server) => {
      let answered = 0
      for (let batch = 0; batch < 20; batch++) answered += await randomMethods(server.port, 500)
      assert.equal(answered, 10_000, 'every request was answered')
      for (let n = 0; n < 10; n++) {
        const received = await exchange(server.port, `${'X'.repeat(60_000)}${n} /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n`)
        assert.match(received, /^HTTP\/1\.1 431 /, 'a 60 KB method is past the header limit')
      }
      const metrics = await request(server.port, '/metrics', { headers: { host: 'localhost' } })
      assert.equal(metrics.status, 200)
      assert.ok(metrics.body.length < 64 * 1024, `/metrics is ${metrics.body.length} bytes`)
      const counted = [...metrics.body.matchAll(/^daplaya_http_request_duration_seconds_count\{method="other",route="[^"]*",status="\d+"\} (\d+)$/gm)]
      assert.equal(counted.reduce((sum, [, n]) => sum + Number(n), 0), 10_000, 'they were counted, under method="other"')
      assert.ok(!/method="M[0-9A-F]/.test(metrics.body), 'no series named after a client-made method')
    })
  })

  it('attack: 300 silent, trickling or idle connections (slowloris) do not keep /healthz from answering, and are closed', async (t) => {
    const { env } = await sqlite.fresh()
    await withServe(env, [], async (server) => {
      const sockets = []
      const closedByServer = []
      for (let n = 0; n < 300; n++) {
        const socket = net.connect(server.port, '127.0.0.1')
        socket.on('error', () => {})
        socket.on('connect', () => {
          if (n % 3 === 1) {
            // Trickling: a header line every 500 ms, never the blank line that ends them.
            socket.write('GET / HTTP/1.1\r\nHost: localhost\r\n')
            socket.trickle = setInterval(() => socket.write(`X-${n}: y\r\n`), 500)
          } else if (n % 3 === 2) {
            // Idle: one whole request, then nothing on the kept-alive connection.
            socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n')
          }
        })
        // Read what the server sends, so its closing is seen.
        socket.resume()
        closedByServer.push(new Promise((resolve) => socket.on('close', resolve)))
        sockets.push(socket)
      }
      try {
        await Promise.all(sockets.map((socket) => (socket.connecting ? new Promise((resolve) => socket.once('connect', resolve)) : null)))
        const started = Date.now()
        const health = await fetch(`${server.base}/healthz`, { signal: AbortSignal.timeout(30_000) })
        assert.equal(health.status, 200)
        assert.equal(await health.text(), 'ok')
        t.diagnostic(`/healthz answered in ${Date.now() - started} ms while 300 connections were held open`)
        // The server closes them all itself (after its 10 s header-read timeout).
        let timer
        const deadline = new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('the server left connections open')), 90_000)
        })
        try {
          await Promise.race([Promise.all(closedByServer), deadline])
        } finally {
          clearTimeout(timer)
        }
      } finally {
        for (const socket of sockets) {
          clearInterval(socket.trickle)
          socket.destroy()
        }
      }
    })
  })

  it('attack: oversized headers, request lines and bodies are refused and the server keeps answering', async () => {
    const { env } = await sqlite.fresh()
    await withServe(env, [], async (server) => {
      const big = await exchange(server.port, `GET /api/locks HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)
      assert.match(big, /^HTTP\/1\.1 431 /)
      const many = Array.from({ length: 500 }, (_, n) => `X-${n}: ${'b'.repeat(40)}\r\n`).join('')
      assert.match(await exchange(server.port, `GET /api/locks HTTP/1.1\r\nHost: localhost\r\n${many}\r\n`), /^HTTP\/1\.1 431 /)
      const longLine = await exchange(server.port, `GET /api/locks?env=${'e'.repeat(100_000)} HTTP/1.1\r\nHost: localhost\r\n\r\n`)
      assert.match(longLine, /^HTTP\/1\.1 (414|431) /)
      // A body nobody asked for is never read into memory: the route has no POST.
      const declared = `POST /api/locks HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${8 * 1024 * 1024}\r\nConnection: close\r\n\r\n`
      assert.match(await exchange(server.port, `${declared}${'x'.repeat(64 * 1024)}`), /^HTTP\/1\.1 405 /)
      assert.match(await exchange(server.port, 'GET /api/locks HTTP/1.1\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 403 /, 'no Host at all')
      assert.equal((await request(server.port, '/healthz')).body, 'ok')
      assert.deepEqual(JSON.parse((await request(server.port, '/api/locks', { headers: { host: 'localhost' } })).body), [])
    })
  })

  it('attack: DNS rebinding: without a token, a Host that is not this machine gets nothing from any dashboard route', async () => {
    const { env } = await sqlite.fresh()
    await ok(run(['locks', 'lock', '--env', 'prod', '--user', 'alice', '--meta', 'secret-ticket-7'], { env }))
    await withServe(env, [], async (server) => {
      for (const path of GUARDED) {
        for (const host of ['evil.example', `evil.example:${server.port}`, 'localhost.evil.example', '127.0.0.1.nip.io']) {
          const refused = await request(server.port, path, { headers: { host } })
          assert.equal(refused.status, 403, `${path} with Host ${host}`)
          assert.equal(refused.body, 'forbidden')
        }
        // The live-update stream never ends; the other routes answer this machine's names.
        if (path === '/events') continue
        for (const host of ['localhost', `localhost:${server.port}`, `127.0.0.1:${server.port}`, 'app.localhost']) {
          assert.equal((await request(server.port, path, { headers: { host } })).status, 200, `${path} with Host ${host}`)
        }
      }
      assert.match(server.stderr(), /serve: refused GET \/api\/locks \(403\): its Host is not this machine's/)
      // Health checks come with any Host.
      assert.equal((await request(server.port, '/healthz', { headers: { host: 'lb.example' } })).status, 200)
    })
  })

  it('attack: token bypasses: no variant of a wrong, missing or misplaced token opens a guarded route', async () => {
    const { env } = await sqlite.fresh()
    await ok(run(['locks', 'lock', '--env', 'prod', '--user', 'alice', '--meta', 'secret-ticket-7'], { env }))
    const token = crypto.randomBytes(24).toString('hex')
    const digest = crypto.createHash('sha256').update(token).digest('hex')
    const wrongDigest = crypto.createHash('sha256').update(`${token}x`).digest('hex')
    await withServe({ ...env, DAPLAYA_DASHBOARD_TOKEN: token }, [], async (server) => {
      const attempts = [
        ['no credential', {}],
        ['a wrong bearer', { authorization: 'Bearer nope' }],
        ['the token upper-cased', { authorization: `Bearer ${token.toUpperCase()}` }],
        ['the token cut short', { authorization: `Bearer ${token.slice(0, -1)}` }],
        ['the token and more', { authorization: `Bearer ${token}0` }],
        ['Basic with the token', { authorization: `Basic ${Buffer.from(`x:${token}`).toString('base64')}` }],
        ['the bare token as Authorization', { authorization: token }],
        ['the token as the cookie', { cookie: `daplaya_token=${token}` }],
        ['a digest of another token', { cookie: `daplaya_token=${wrongDigest}` }],
        ['a wrong bearer before a right cookie', { authorization: 'Bearer nope', cookie: `daplaya_token=${digest}` }],
        ['the token in another header', { 'x-daplaya-token': token, 'x-api-key': token }],
      ]
      const paths = ['//api/locks', '/api/locks/', '/API/LOCKS', '/%61pi/locks', '/api/./locks', '/api/locks?token=', '/api/locks?token=nope', `/api/locks?Token=${token}`]
      for (const path of [...GUARDED, ...paths]) {
        for (const [what, headers] of attempts) {
          const answer = await request(server.port, path, { headers })
          assert.ok([401, 404].includes(answer.status), `${path}, ${what}: ${answer.status}`)
          assert.ok(!answer.body.includes('secret-ticket-7') && !answer.body.includes('alice'), `${path}, ${what} leaked the lock`)
        }
        for (const method of ['HEAD', 'OPTIONS']) {
          const answer = await request(server.port, path, { method })
          assert.ok([401, 404, 405].includes(answer.status), `${method} ${path}: ${answer.status}`)
        }
      }
      const right = await request(server.port, '/api/locks', { headers: { authorization: `Bearer ${token}` } })
      assert.equal(right.status, 200, 'the real token still works')
      assert.ok(!server.stderr().includes(token), 'the token is never logged')
    })
  })

  it('attack: path traversal in the address reads no file', async () => {
    const { env } = await sqlite.fresh()
    await withServe(env, [], async (server) => {
      for (const path of [
        '/assets/../Cargo.toml',
        '/assets/../../../../etc/passwd',
        '/assets/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
        '/assets/..%2f..%2f..%2fetc%2fpasswd',
        '/assets/page.css/../../package.json',
        '/assets/%252e%252e/package.json',
        '/..%5c..%5cpackage.json',
        '/assets/page.css%00.js',
      ]) {
        const answer = await request(server.port, path, { headers: { host: 'localhost' } })
        assert.ok(answer.status >= 400, `${path}: ${answer.status}`)
        assert.ok(!/root:|\[package\]|"devDependencies"/.test(answer.body), `${path} served a file`)
      }
    })
  })

  for (const store of STORES) {
    it(`attack: XSS: markup in every field is shown as text on the page, its live updates and the JSON (${store.name})`, { skip: store.skip }, async () => {
      const { env } = await store.fresh()
      const fields = {
        env: '<script>alert(1)</script>',
        user: '<img src=x onerror=alert(2)>',
        meta: '"><svg onload=alert(3)>',
        jobname: '<iframe src=javascript:alert(4)>',
        version: "<b onmouseover='alert(5)'>v1</b>",
      }
      await ok(run(['locks', 'lock', '--env', fields.env, '--user', fields.user, '--meta', fields.meta], { env }))
      await ok(run(['locks', 'lock', '--env', 'link', '--user', 'bob', '--meta', 'javascript:alert(6)'], { env }))
      await ok(run(['jobs', 'start', '--jobname', fields.jobname, '--user', fields.user, '--gitversion', fields.version], { env }))
      const raw = [/<script>alert/, /<img src=x/, /<svg onload/, /<iframe/, /<b onmouseover/, /href="javascript:/i]
      const shown = (html, where) => {
        for (const pattern of raw) assert.ok(!pattern.test(html), `${where} has ${pattern}`)
        assert.ok(html.includes('&lt;img src=x onerror=alert(2)&gt;'), `${where} shows the user as text`)
      }
      await withServe(env, ['--jobname', fields.jobname], async (server) => {
        const page = await request(server.port, '/', { headers: { host: 'localhost' } })
        assert.equal(page.status, 200)
        shown(page.body, 'the page')
        assert.ok(page.body.includes('&lt;iframe src=javascript:alert(4)&gt;'), 'the jobname as text')
        assert.match(page.headers['content-security-policy'], /script-src 'self'/)
        const update = await readEvents(await server.get('/events'), (event) => event.event === 'board')
        shown(update.data, 'the live update')
        const locks = await request(server.port, '/api/locks', { headers: { host: 'localhost' } })
        assert.match(locks.headers['content-type'], /^application\/json/)
        assert.equal(JSON.parse(locks.body).find((l) => l.user === fields.user).meta, fields.meta, 'JSON carries the text as typed')
        const problem = await request(server.port, `/?jobname=${encodeURIComponent(`<script>${'x'.repeat(200)}`)}`, { headers: { host: 'localhost' } })
        assert.equal(problem.status, 400)
        assert.ok(!/<script>x/.test(problem.body), 'an error page shows input as text')
      })
    })

    it(`attack: CSRF: no cross-site request to any route, of any method, changes a lock (${store.name})`, { skip: store.skip }, async () => {
      const { env } = await store.fresh()
      await ok(run(['locks', 'lock', '--env', 'prod', '--user', 'alice'], { env }))
      const before = (await runJson(['locks', 'list'], { env })).json
      const crossSite = {
        origin: 'https://evil.example',
        referer: 'https://evil.example/attack.html',
        'sec-fetch-site': 'cross-site',
        'content-type': 'application/x-www-form-urlencoded',
      }
      const form = 'text=release+prod&user_name=alice&command=%2Fdaplaya'
      await withServe({ ...env, DAPLAYA_SLACK_SIGNING_SECRET: SLACK_SECRET }, [], async (server) => {
        for (const path of ROUTES) {
          for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
            const answer = await request(server.port, path, { method, headers: { ...crossSite, host: 'localhost' }, body: form })
            assert.ok([401, 404, 405].includes(answer.status), `${method} ${path}: ${answer.status}`)
          }
          // A page's <img>/<link> to the route (a GET) changes nothing either.
          if (path !== '/events') await request(server.port, path, { headers: { ...crossSite, host: 'localhost' } })
          const get = await request(server.port, `${path}${path.includes('?') ? '&' : '?'}env=prod&text=release+prod`, { headers: { host: 'evil.example' } })
          assert.ok(get.status !== 200 || path === '/healthz', `GET ${path} from a rebound name: ${get.status}`)
        }
      })
      assert.deepEqual((await runJson(['locks', 'list'], { env })).json, before, 'the lock is as it was')
    })
  }
})
