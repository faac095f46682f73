#!/usr/bin/env node
// Load for bench/accelerate_prisma.py: `prisma.user.findUnique({ where: { id } })` by primary key
// from `concurrency` workers, each sequential, over ids offset+1..offset+ids, with one PrismaClient
// (each query issued from a macrotask of its own, so that the client does not batch them).
//
//   node findunique-bench.mjs --target direct     --database-url URL --pool 10 ...
//   node findunique-bench.mjs --target sidecar    --socket PATH --executor ID ...
//   node findunique-bench.mjs --target accelerate --accelerate-url prisma+postgres://… [--ttl S] ...
//   common: --concurrency N --requests N --warmup N --ids N --id-offset N
//   --read-only (sidecar target): every query with Executor-Read-Only, as the gateway sends a miss
//   --print-request (accelerate target): print the first /query request ({path, headers, body}) and exit
//   --fetch node-http (accelerate target): Node's http client, as the sidecar target uses, instead
//   of the built-in fetch
//
// --ttl S adds `cacheStrategy: { ttl: S }` (the gateway's cache). --info counts every answer's cache
// status (withAccelerateInfo) into "statuses" — but it costs the client ~1 ms a query, so the
// benchmark leaves it off and counts statuses in the gateway's log instead.
//
// Prints one JSON object: {"requests", "median_ms", "p99_ms", "rps"}.

import { parseArgs } from 'node:util'

import { PrismaPg } from '@prisma/adapter-pg'
import { withAccelerate } from '@prisma/extension-accelerate'

import generated from './generated/client/index.js'
import { tcpFetch, unixSocketFetch } from './unix-socket-fetch.mjs'

const { PrismaClient } = generated

const { values: args } = parseArgs({
  options: {
    target: { type: 'string' },
    'database-url': { type: 'string' },
    pool: { type: 'string', default: '10' },
    socket: { type: 'string' },
    executor: { type: 'string' },
    concurrency: { type: 'string', default: '1' },
    requests: { type: 'string', default: '2000' },
    warmup: { type: 'string', default: '200' },
    ids: { type: 'string', default: '10000' },
    'id-offset': { type: 'string', default: '0' },
    'accelerate-url': { type: 'string' },
    ttl: { type: 'string' },
    'read-only': { type: 'boolean', default: false },
    fetch: { type: 'string', default: 'builtin' },
    info: { type: 'boolean', default: false },
    'print-request': { type: 'boolean', default: false },
  },
})

function client() {
  if (args.target === 'direct') {
    // pg sets TCP_NODELAY on its sockets.
    return new PrismaClient({ adapter: new PrismaPg({ connectionString: args['database-url'], max: Number(args.pool) }) })
  }
  if (args.target === 'sidecar') {
    const fetch = unixSocketFetch({
      socketPath: args.socket,
      executorId: args.executor,
      origin: 'http://127.0.0.1:9',
      // As the gateway sends a cache miss: on the executor's read-only connections.
      extraHeaders: args['read-only'] ? { 'Executor-Read-Only': 'true' } : {},
    })
    globalThis.fetch = fetch
    return new PrismaClient({ accelerateUrl: 'prisma+postgres://127.0.0.1:9/?api_key=bench' }).$extends(withAccelerate({ fetch }))
  }
  if (args.target === 'accelerate') {
    if (args.fetch === 'node-http') {
      // The same HTTP client as the sidecar target's, for the client's requests and the extension's.
      const fetch = tcpFetch({ origin: new URL(args['accelerate-url'].replace(/^prisma\+postgres:/, 'http:')).origin })
      globalThis.fetch = fetch
      return new PrismaClient({ accelerateUrl: args['accelerate-url'] }).$extends(withAccelerate({ fetch }))
    }
    return new PrismaClient({ accelerateUrl: args['accelerate-url'] }).$extends(withAccelerate())
  }
  throw new Error('--target must be direct, sidecar or accelerate')
}

const cacheStrategy = args.ttl === undefined ? undefined : { ttl: Number(args.ttl) }
const statuses = {}

const offset = Number(args['id-offset'])

async function findUnique(prisma, id) {
  if (!args.info) return prisma.user.findUnique({ where: { id }, cacheStrategy })
  const { data, info } = await prisma.user.findUnique({ where: { id }, cacheStrategy }).withAccelerateInfo()
  const status = info?.cacheStatus ?? 'batched' // no info: the client sent it in another query's batch
  statuses[status] = (statuses[status] ?? 0) + 1
  return data
}

// Ids follow one sequence across the warm-up and the measured run: with --ids larger than both
// together no id is asked twice (every cached read a miss); with --ids at most the warm-up's
// requests, the measured run asks only ids the warm-up asked (every cached read a hit).
let sequence = 0

async function run(prisma, { concurrency, requests, ids, latencies }) {
  let next = 0
  async function worker() {
    while (next < requests) {
      next += 1
      // Each query from a macrotask of its own, as independent requests to a web application
      // arrive: Prisma Client compacts findUniques issued in the same tick into one batched query,
      // which would measure batches of 32, not 32 concurrent requests.
      await new Promise((resolve) => setImmediate(resolve))
      const id = offset + (sequence++ % ids) + 1
      const started = process.hrtime.bigint()
      const user = await findUnique(prisma, id)
      latencies?.push(Number(process.hrtime.bigint() - started) / 1e6)
      if (user?.id !== id) throw new Error(`findUnique(${id}) answered ${JSON.stringify(user)}`)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
}

if (args['print-request']) {
  // Print the first /query request the client sends ({path, headers, body}) instead of measuring:
  // the benchmark replays it with a lean load generator to measure the gateway's own capacity.
  const sent = globalThis.fetch
  globalThis.fetch = async (input, init) => {
    const url = new URL(typeof input === 'string' ? input : input.url)
    if (url.pathname === '/query') {
      process.stdout.write(`${JSON.stringify({ path: url.pathname, headers: init.headers, body: init.body })}\n`)
      process.exit(0)
    }
    return sent(input, init)
  }
  const prisma = new PrismaClient({ accelerateUrl: args['accelerate-url'] }).$extends(withAccelerate({ fetch: globalThis.fetch }))
  await prisma.user.findUnique({ where: { id: offset + 1 }, cacheStrategy })
}

const prisma = client()
const concurrency = Number(args.concurrency)
const ids = Number(args.ids)
await run(prisma, { concurrency, requests: Number(args.warmup), ids })
for (const status of Object.keys(statuses)) delete statuses[status]
const latencies = []
const started = process.hrtime.bigint()
await run(prisma, { concurrency, requests: Number(args.requests), ids, latencies })
const seconds = Number(process.hrtime.bigint() - started) / 1e9
await prisma.$disconnect()
latencies.sort((a, b) => a - b)
const at = (q) => latencies[Math.min(latencies.length - 1, Math.round(q * (latencies.length - 1)))]
process.stdout.write(
  `${JSON.stringify({ requests: latencies.length, median_ms: at(0.5), p99_ms: at(0.99), rps: latencies.length / seconds, statuses })}\n`,
)
