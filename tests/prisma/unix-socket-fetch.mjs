// A `fetch` that carries the Prisma Client's Accelerate requests to the executor sidecar's Unix
// socket, under /executors/{id}: the forwarding the gateway does, without the gateway. Used by
// the compatibility runner's `sidecar` target and by bench/accelerate_prisma.py, to measure and
// prove the sidecar alone.

import http from 'node:http'

/**
 * fetch(url, init) for requests to `origin`: sent as HTTP/1.1 over `socketPath`, with the path
 * prefixed by `/executors/{executorId}`. Other URLs go to `fallback`. `extraHeaders` are added to
 * every request (e.g. {'Executor-Read-Only': 'true'}).
 */
export function unixSocketFetch({ socketPath, executorId, origin, extraHeaders = {}, fallback = globalThis.fetch }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 })
  const prefix = `/executors/${encodeURIComponent(executorId)}`
  return async function fetch(input, init = {}) {
    const url = new URL(typeof input === 'string' ? input : input.url)
    if (url.origin !== origin) return fallback(input, init)
    const headers = {}
    for (const [name, value] of Object.entries(init.headers ?? {})) {
      // The gateway authenticates the key and never forwards it.
      if (name.toLowerCase() !== 'authorization') headers[name] = value
    }
    Object.assign(headers, extraHeaders)
    const body = init.body === undefined ? undefined : Buffer.from(init.body)
    if (body) headers['content-length'] = String(body.length)
    return await new Promise((resolve, reject) => {
      const request = http.request(
        { agent, socketPath, method: init.method ?? 'GET', path: prefix + url.pathname, headers },
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
