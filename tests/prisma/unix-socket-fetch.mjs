// `fetch` implementations on Node's own http client (keep-alive agent), for the Prisma Client's
// Accelerate requests:
//
// - unixSocketFetch carries them to the executor sidecar's Unix socket, under /executors/{id}: the
//   forwarding the gateway does, without the gateway. Used by the compatibility runner's `sidecar`
//   target and by bench/accelerate_prisma.py, to measure and prove the sidecar alone.
// - tcpFetch sends them to their own origin over TCP, with the same client code, so that a
//   benchmark compares the gateway and the sidecar alone through the same HTTP client (Node's
//   built-in fetch costs ~0.3 ms more per request on loopback).

import http from 'node:http'

function agentFetch({ origin, connect, pathPrefix = '', extraHeaders = {}, dropAuthorization = false, fallback = globalThis.fetch }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 })
  return async function fetch(input, init = {}) {
    const url = new URL(typeof input === 'string' ? input : input.url)
    if (url.origin !== origin) return fallback(input, init)
    const headers = {}
    for (const [name, value] of Object.entries(init.headers ?? {})) {
      if (!(dropAuthorization && name.toLowerCase() === 'authorization')) headers[name] = value
    }
    Object.assign(headers, extraHeaders)
    const body = init.body === undefined ? undefined : Buffer.from(init.body)
    if (body) headers['content-length'] = String(body.length)
    return await new Promise((resolve, reject) => {
      const request = http.request(
        { agent, ...connect, method: init.method ?? 'GET', path: pathPrefix + url.pathname + url.search, headers },
        (response) => {
          const chunks = []
          response.on('data', (chunk) => chunks.push(chunk))
          response.on('end', () => {
            const responseHeaders = new Headers()
            for (const [name, value] of Object.entries(response.headers)) {
              for (const one of Array.isArray(value) ? value : [value]) responseHeaders.append(name, one)
            }
            resolve(new Response(Buffer.concat(chunks), { status: response.statusCode, headers: responseHeaders }))
          })
          response.on('error', reject)
        },
      )
      request.on('error', reject)
      request.end(body)
    })
  }
}

/**
 * fetch(url, init) for requests to `origin`: sent as HTTP/1.1 over `socketPath`, with the path
 * prefixed by `/executors/{executorId}`. Other URLs go to `fallback`. `extraHeaders` are added to
 * every request (e.g. {'Executor-Read-Only': 'true'}).
 */
export function unixSocketFetch({ socketPath, executorId, origin, extraHeaders = {}, fallback = globalThis.fetch }) {
  return agentFetch({
    origin,
    connect: { socketPath },
    pathPrefix: `/executors/${encodeURIComponent(executorId)}`,
    extraHeaders,
    // The gateway authenticates the key and never forwards it.
    dropAuthorization: true,
    fallback,
  })
}

/** fetch(url, init) for requests to `origin` (http://HOST:PORT), over TCP with Node's http client. */
export function tcpFetch({ origin, fallback = globalThis.fetch }) {
  const { hostname, port } = new URL(origin)
  return agentFetch({ origin, connect: { host: hostname, port: Number(port) }, fallback })
}
