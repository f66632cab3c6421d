'use strict'
// A stand-in for the npm registry on a loopback port, serving packed tarballs as a registry
// serves published packages: `GET /<name>` the package document (every version's package.json
// with `dist`: tarball URL, shasum, integrity), `GET /<name>/-/<file>.tgz` the tarball, and 404
// for anything else. npm, Bun and Deno install from it when pointed at it.
const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

function manifestOf(tarball) {
  return JSON.parse(execFileSync('tar', ['-xzOf', tarball, 'package/package.json'], { encoding: 'utf8' }))
}

/** Serves `tarballs`; resolves to `{ url, requested, close() }` (`requested`: the paths asked for). */
async function serveRegistry(tarballs) {
  const documents = new Map()
  const files = new Map()
  const requested = []
  const server = http.createServer((request, response) => {
    const route = decodeURIComponent(new URL(request.url, 'http://registry').pathname)
    requested.push(route)
    const file = files.get(route)
    const document = documents.get(route.slice(1))
    if (file) {
      response.writeHead(200, { 'content-type': 'application/octet-stream' })
      fs.createReadStream(file).pipe(response)
    } else if (document) {
      response.writeHead(200, { 'content-type': 'application/json' })
      response.end(JSON.stringify(document))
    } else {
      response.writeHead(404, { 'content-type': 'application/json' })
      response.end('{"error":"Not found"}')
    }
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${server.address().port}`
  for (const tarball of tarballs) {
    const manifest = manifestOf(tarball)
    const bytes = fs.readFileSync(tarball)
    const route = `/${manifest.name}/-/${path.basename(tarball)}`
    files.set(route, tarball)
    const dist = {
      tarball: `${url}${route}`,
      shasum: crypto.createHash('sha1').update(bytes).digest('hex'),
      integrity: `sha512-${crypto.createHash('sha512').update(bytes).digest('base64')}`,
    }
    const version = { ...manifest, _id: `${manifest.name}@${manifest.version}`, dist }
    documents.set(manifest.name, { name: manifest.name, 'dist-tags': { latest: manifest.version }, versions: { [manifest.version]: version } })
  }
  return {
    url,
    requested,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(resolve)
      }),
  }
}

module.exports = { serveRegistry, manifestOf }
