// Query the demo database through Accelerate with a cache strategy, and show where each answer
// came from. Run it with `make prisma-example` beside `make run`, or by hand:
//
//   DATABASE_URL='prisma+postgres://127.0.0.1:8000/?api_key=dpk_…' node query.mjs
//
// (behind TLS in production: prisma://HOST/?api_key=…, plus the one-line fetch of the console's
// Accelerate tab so that $accelerate.invalidate() reaches HOST instead of Prisma's service).

import { withAccelerate } from '@prisma/extension-accelerate'

import generated from './generated/client/index.js'

const { PrismaClient } = generated

const accelerateUrl = process.env.DATABASE_URL
if (!accelerateUrl) {
  console.error('Set DATABASE_URL to the Accelerate connection string (prisma+postgres://HOST:PORT/?api_key=…).')
  process.exit(2)
}

const prisma = new PrismaClient({ accelerateUrl }).$extends(withAccelerate())

async function readUsers(label) {
  const { data, info } = await prisma.user
    .findMany({
      include: { _count: { select: { posts: true } } },
      orderBy: { id: 'asc' },
      cacheStrategy: { ttl: 60, swr: 60, tags: ['demo_users'] },
    })
    .withAccelerateInfo()
  console.log(
    `${label.padEnd(28)} ${data.length} users, cacheStatus=${info.cacheStatus}, ` +
      `lastModified=${info.lastModified?.toISOString?.() ?? info.lastModified}, region=${info.region}`,
  )
  return data
}

try {
  const users = await readUsers('first read:')
  for (const user of users) console.log(`  ${user.id} ${user.name} <${user.email}>, ${user._count.posts} post(s)`)
  await readUsers('the same read again:')
  await prisma.$accelerate.invalidate({ tags: ['demo_users'] })
  await readUsers('after invalidate:')
} catch (error) {
  console.error(`${error.name}${error.code ? ` ${error.code}` : ''}: ${error.message}`)
  process.exitCode = 1
} finally {
  await prisma.$disconnect()
}
