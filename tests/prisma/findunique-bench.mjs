#!/usr/bin/env node
// Load for bench/accelerate_prisma.py: `prisma.user.findUnique({ where: { id } })` by primary key
// from `concurrency` workers, each sequential, over ids 1..ids, with one PrismaClient.
//
//   node findunique-bench.mjs --target direct  --database-url URL --pool 10 ...
//   node findunique-bench.mjs --target sidecar --socket PATH --executor ID ...
//   common: --concurrency N --requests N --warmup N --ids N
//
// Prints one JSON object: {"requests", "median_ms", "p99_ms", "rps"}.

import { parseArgs } from 'node:util'

import { PrismaPg } from '@prisma/adapter-pg'
import { withAccelerate } from '@prisma/extension-accelerate'

import generated from './generated/client/index.js'
import { unixSocketFetch } from './unix-socket-fetch.mjs'

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
  },
})

function client() {
  if (args.target === 'direct') {
    // pg sets TCP_NODELAY on its sockets.
    return new PrismaClient({ adapter: new PrismaPg({ connectionString: args['database-url'], max: Number(args.pool) }) })
  }
  if (args.target === 'sidecar') {
    const fetch = unixSocketFetch({ socketPath: args.socket, executorId: args.executor, origin: 'http://127.0.0.1:9' })
    globalThis.fetch = fetch
    return new PrismaClient({ accelerateUrl: 'prisma+postgres://127.0.0.1:9/?api_key=bench' }).$extends(withAccelerate({ fetch }))
  }
  throw new Error('--target must be direct or sidecar')
}

async function run(prisma, { concurrency, requests, ids, latencies }) {
  let next = 0
  async function worker() {
    while (next < requests) {
      const id = (next++ % ids) + 1
      const started = process.hrtime.bigint()
      const user = await prisma.user.findUnique({ where: { id } })
      latencies?.push(Number(process.hrtime.bigint() - started) / 1e6)
      if (user?.id !== id) throw new Error(`findUnique(${id}) answered ${JSON.stringify(user)}`)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
}

const prisma = client()
const concurrency = Number(args.concurrency)
const ids = Number(args.ids)
await run(prisma, { concurrency, requests: Number(args.warmup), ids })
const latencies = []
const started = process.hrtime.bigint()
await run(prisma, { concurrency, requests: Number(args.requests), ids, latencies })
const seconds = Number(process.hrtime.bigint() - started) / 1e9
await prisma.$disconnect()
latencies.sort((a, b) => a - b)
const at = (q) => latencies[Math.min(latencies.length - 1, Math.round(q * (latencies.length - 1)))]
process.stdout.write(
  `${JSON.stringify({ requests: latencies.length, median_ms: at(0.5), p99_ms: at(0.99), rps: latencies.length / seconds })}\n`,
)
