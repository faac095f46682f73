#!/usr/bin/env node
// Accelerate behaviours the compatibility list (operations.mjs) does not cover, with the real,
// pinned Prisma Client and @prisma/extension-accelerate against the gateway:
//
//   node accelerate-scenarios.mjs --scenario NAME --accelerate-url prisma+postgres://… [options]
//
//   cache        findUnique with cacheStrategy {ttl: 60, tags: ['users']}: miss → a write behind the
//                cache's back (--database-url, adapter-pg) → ttl, stale → $accelerate.invalidate →
//                miss, fresh → ttl → $accelerate.invalidateAll() → miss
//   swr          {ttl: 1, swr: 60}: miss → write behind, wait past the ttl → swr, stale → the
//                gateway's background refresh → ttl, fresh
//   find         one findMany: its result or its error (for keys, disabled projects, timeouts)
//   two-gateways interactive transactions whose /transaction/start goes to --accelerate-url and
//                whose queries, commit and rollback go to --second-url (another gateway process)
//
// One JSON line per step: {"step", "ok": true, "data", "info"?} or {"step", "ok": false,
// "error": {"code", "name", "message"}}; `info` is withAccelerateInfo()'s, with lastModified as
// an ISO string.

import { parseArgs } from 'node:util'

import { PrismaPg } from '@prisma/adapter-pg'
import { withAccelerate } from '@prisma/extension-accelerate'

import generated from './generated/client/index.js'

const { PrismaClient } = generated

const { values: args } = parseArgs({
  options: {
    scenario: { type: 'string' },
    'accelerate-url': { type: 'string' },
    'second-url': { type: 'string' },
    'database-url': { type: 'string' },
  },
})

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function report(step, fields) {
  process.stdout.write(`${JSON.stringify({ step, ...fields })}\n`)
}

async function attempt(step, run) {
  try {
    const outcome = await run()
    if (outcome && typeof outcome === 'object' && 'info' in outcome && 'data' in outcome) {
      const { info } = outcome
      report(step, {
        ok: true,
        data: outcome.data,
        info: { ...info, lastModified: Number.isNaN(info.lastModified.getTime()) ? null : info.lastModified.toISOString() },
      })
    } else {
      report(step, { ok: true, data: outcome ?? null })
    }
    return outcome
  } catch (error) {
    report(step, {
      ok: false,
      error: { code: error?.code ?? null, name: error?.constructor?.name ?? typeof error, message: String(error?.message ?? error) },
    })
    return null
  }
}

function accelerated(url = args['accelerate-url'], options = {}) {
  return new PrismaClient({ accelerateUrl: url }).$extends(withAccelerate(options))
}

function direct() {
  if (!args['database-url']) throw new Error('--database-url is required for this scenario')
  return new PrismaClient({ adapter: new PrismaPg({ connectionString: args['database-url'] }) })
}

const scenarios = {
  async cache() {
    const prisma = accelerated()
    const behind = direct()
    const read = () =>
      prisma.user
        .findUnique({ where: { id: 1 }, select: { id: true, name: true }, cacheStrategy: { ttl: 60, tags: ['users'] } })
        .withAccelerateInfo()
    try {
      await attempt('first read', read)
      await attempt('write behind the cache', () => behind.user.update({ where: { id: 1 }, data: { name: 'Changed behind the cache' }, select: { name: true } }))
      await attempt('read within the ttl', read)
      await attempt('invalidate the tag', () => prisma.$accelerate.invalidate({ tags: ['users'] }))
      await attempt('read after invalidate', read)
      await attempt('read again', read)
      await attempt('invalidate all', () => prisma.$accelerate.invalidateAll())
      await attempt('read after invalidate all', read)
    } finally {
      await prisma.$disconnect()
      await behind.$disconnect()
    }
  },

  async swr() {
    const prisma = accelerated()
    const behind = direct()
    const read = () =>
      prisma.user.findUnique({ where: { id: 2 }, select: { name: true }, cacheStrategy: { ttl: 1, swr: 60 } }).withAccelerateInfo()
    try {
      await attempt('first read', read)
      await attempt('write behind the cache', () => behind.user.update({ where: { id: 2 }, data: { name: 'Refreshed' }, select: { name: true } }))
      await sleep(1200)
      await attempt('read after the ttl', read)
      // The gateway refreshes in the background; the first fresh answer comes from the cache again.
      const deadline = Date.now() + 5000
      for (;;) {
        const outcome = await read()
        if (outcome.data?.name === 'Refreshed' || Date.now() > deadline) {
          await attempt('read once refreshed', async () => outcome)
          break
        }
        await sleep(100)
      }
    } finally {
      await prisma.$disconnect()
      await behind.$disconnect()
    }
  },

  async find() {
    const prisma = accelerated()
    try {
      await attempt('findMany', () => prisma.user.findMany({ select: { id: true }, orderBy: { id: 'asc' } }))
    } finally {
      await prisma.$disconnect()
    }
  },

  async 'two-gateways'() {
    if (!args['second-url']) throw new Error('--second-url is required for two-gateways')
    const first = new URL(args['accelerate-url'].replace(/^prisma\+postgres:/, 'http:'))
    const second = new URL(args['second-url'].replace(/^prisma\+postgres:/, 'http:'))
    const seen = { first: [], second: [] }
    const originalFetch = globalThis.fetch
    // The client asks one origin; this sends /transaction/start to the first gateway process and
    // everything else to the second, as a load balancer without stickiness might.
    const split = async (input, init) => {
      const url = new URL(typeof input === 'string' ? input : input.url)
      const to = url.pathname === '/transaction/start' ? 'first' : 'second'
      seen[to].push(url.pathname.replace(/\/transaction\/[^/]+\//, '/transaction/ID/'))
      url.host = (to === 'first' ? first : second).host
      return originalFetch(url.href, init)
    }
    globalThis.fetch = split
    const prisma = accelerated(args['accelerate-url'], { fetch: split })
    try {
      await attempt('committed across two processes', () =>
        prisma.$transaction(async (tx) => {
          const user = await tx.user.create({ data: { email: 'two@example.com', createdAt: new Date('2024-10-01T00:00:00Z') }, select: { id: true } })
          await tx.post.create({ data: { title: 'Through two gateways', authorId: user.id } })
          return tx.post.count({ where: { authorId: user.id } })
        }),
      )
      await attempt('rolled back across two processes', async () => {
        try {
          await prisma.$transaction(async (tx) => {
            await tx.user.create({ data: { email: 'rolled-back@example.com', createdAt: new Date('2024-10-02T00:00:00Z') } })
            throw new Error('abort on purpose')
          })
        } catch (error) {
          return error.message
        }
        return 'not rolled back'
      })
      await attempt('batch across two processes', () =>
        prisma.$transaction([
          prisma.tag.create({ data: { name: 'two-gateways' }, select: { name: true } }),
          prisma.tag.count({ where: { name: 'two-gateways' } }),
        ]),
      )
      report('requests', { ok: true, data: seen })
    } finally {
      globalThis.fetch = originalFetch
      await prisma.$disconnect()
    }
  },
}

const run = scenarios[args.scenario]
if (!run) throw new Error(`--scenario must be one of ${Object.keys(scenarios).join(', ')}`)
if (!args['accelerate-url']) throw new Error('--accelerate-url is required')
await run()
