// The compatibility suite's operations, in the order they run, all from seed.sql's data.
//
// Each entry is [name, run(prisma, Prisma)] or [name, run, {error: 'P2002'}] when the operation
// is meant to fail with that code. Writes change the data for the operations after them, so the
// list always runs whole and in order; a run against another target must start from seed.sql
// again. Nothing here may depend on the clock or on randomness (no now() or uuid() defaults).

const at = (iso) => new Date(iso)

export const operations = [
  // --- every scalar type, read and written -----------------------------------------------
  ['scalars: findMany of every type', (prisma) => prisma.sample.findMany({ orderBy: { id: 'asc' } })],
  ['scalars: findUnique by id', (prisma) => prisma.sample.findUnique({ where: { id: 1 } })],
  [
    'scalars: create with every type',
    (prisma, Prisma) =>
      prisma.sample.create({
        data: {
          bigNumber: 2n ** 62n + 7n,
          ratio: -1234.5e-3,
          price: new Prisma.Decimal('-98765.4321'),
          label: 'created "quoted" \\ and\nnewline',
          active: false,
          happenedAt: at('2025-06-30T23:59:59.123Z'),
          day: at('2025-06-30T00:00:00.000Z'),
          payload: { a: [1, 2, { b: null }], c: 'ü', d: 1.5, e: true },
          blob: Uint8Array.from([0, 255, 127, 128, 1]),
          uid: '123e4567-e89b-12d3-a456-426614174000',
          role: 'EDITOR',
          roles: ['ADMIN', 'USER', 'ADMIN'],
          labels: ['x', '', 'with,comma', 'with"quote'],
          scores: [2147483647, -2147483648, 0],
          weights: [1.25, -0.5],
          amounts: [new Prisma.Decimal('0.01'), new Prisma.Decimal('-99999999.99')],
        },
      }),
  ],
  [
    'scalars: filters on BigInt, Decimal, DateTime, Boolean, enum',
    (prisma, Prisma) =>
      prisma.sample.findMany({
        where: {
          bigNumber: { gte: -100n },
          price: { lte: new Prisma.Decimal('50000') },
          happenedAt: { gt: at('1990-01-01T00:00:00Z') },
          role: { in: ['ADMIN', 'USER', 'EDITOR'] },
          active: { not: true },
        },
        orderBy: { id: 'asc' },
        select: { id: true, label: true },
      }),
  ],
  [
    'scalars: scalar list filters (has, hasSome, isEmpty)',
    async (prisma) => ({
      has: await prisma.sample.findMany({ where: { roles: { has: 'ADMIN' } }, select: { id: true } }),
      hasSome: await prisma.sample.findMany({ where: { scores: { hasSome: [3, 0] } }, select: { id: true } }),
      isEmpty: await prisma.sample.findMany({ where: { labels: { isEmpty: true } }, select: { id: true } }),
    }),
  ],
  [
    'scalars: Json path and equality filters',
    async (prisma) => ({
      path: await prisma.sample.findMany({
        where: { payload: { path: ['nested', 'list'], array_contains: [2.5] } },
        select: { id: true },
      }),
      equals: await prisma.sample.findMany({ where: { payload: { equals: 'just a string' } }, select: { id: true } }),
      profile: await prisma.user.findMany({
        where: { profile: { path: ['lang'], equals: 'en' } },
        select: { email: true },
        orderBy: { id: 'asc' },
      }),
    }),
  ],
  [
    'scalars: update lists, Json null and BigInt increment',
    (prisma, Prisma) =>
      prisma.sample.update({
        where: { id: 2 },
        data: {
          scores: { push: [7, 8] },
          roles: { set: ['EDITOR'] },
          payload: Prisma.JsonNull,
          bigNumber: { increment: 1000n },
          price: { multiply: 3 },
        },
      }),
  ],
  [
    'scalars: DbNull and JsonNull filters',
    async (prisma, Prisma) => ({
      dbNull: await prisma.user.findMany({ where: { profile: { equals: Prisma.DbNull } }, select: { id: true } }),
      jsonNull: await prisma.sample.findMany({ where: { payload: { equals: Prisma.JsonNull } }, select: { id: true } }),
    }),
  ],

  // --- reads: filtering, ordering, pagination --------------------------------------------
  ['read: findUnique by unique field', (prisma) => prisma.user.findUnique({ where: { email: 'grace@example.com' } })],
  [
    'read: findUnique by compound unique',
    (prisma) => prisma.post.findUnique({ where: { authorId_title: { authorId: 1, title: 'A draft' } } }),
  ],
  ['read: findUnique that finds nothing', (prisma) => prisma.user.findUnique({ where: { id: 999 } })],
  [
    'read: findFirst with ordering, nulls last',
    (prisma) => prisma.user.findFirst({ orderBy: [{ name: { sort: 'desc', nulls: 'last' } }], skip: 1 }),
  ],
  [
    'read: AND / OR / NOT, contains insensitive, startsWith, endsWith',
    (prisma) =>
      prisma.post.findMany({
        where: {
          OR: [
            { title: { contains: 'NOTES', mode: 'insensitive' } },
            { AND: [{ title: { startsWith: 'Comp' } }, { NOT: { body: null } }] },
            { title: { endsWith: 'harmful' } },
          ],
        },
        orderBy: { id: 'asc' },
        select: { id: true, title: true },
      }),
  ],
  [
    'read: ordering by several fields and by relation aggregate',
    async (prisma) => ({
      fields: await prisma.post.findMany({
        orderBy: [{ published: 'desc' }, { rating: { sort: 'asc', nulls: 'first' } }, { id: 'desc' }],
        select: { id: true },
      }),
      byPostCount: await prisma.user.findMany({
        orderBy: [{ posts: { _count: 'desc' } }, { id: 'asc' }],
        select: { id: true },
      }),
    }),
  ],
  [
    'read: cursor pagination',
    async (prisma) => ({
      forward: await prisma.post.findMany({ cursor: { id: 3 }, take: 3, skip: 1, orderBy: { id: 'asc' }, select: { id: true } }),
      backward: await prisma.post.findMany({ cursor: { id: 6 }, take: -2, orderBy: { id: 'asc' }, select: { id: true } }),
    }),
  ],
  [
    'read: offset pagination',
    (prisma) => prisma.post.findMany({ skip: 2, take: 3, orderBy: { views: 'desc' }, select: { id: true, views: true } }),
  ],
  [
    'read: distinct',
    (prisma) =>
      prisma.post.findMany({ distinct: ['authorId'], orderBy: [{ authorId: 'asc' }, { id: 'asc' }], select: { authorId: true, id: true } }),
  ],
  [
    'read: DateTime range filter',
    (prisma) =>
      prisma.post.findMany({
        where: { publishedAt: { gte: at('2024-02-02T00:00:00Z'), lt: at('2024-02-05T00:00:00Z') } },
        orderBy: { publishedAt: 'asc' },
        select: { id: true, publishedAt: true },
      }),
  ],
  ['read: count with filter', (prisma) => prisma.post.count({ where: { published: true, views: { gt: 100 } } })],
  [
    'read: count of selected fields',
    (prisma) => prisma.post.count({ select: { _all: true, body: true, rating: true } }),
  ],

  // --- relations -------------------------------------------------------------------------
  [
    'relations: include (1-n) with nested ordering',
    (prisma) => prisma.user.findMany({ include: { posts: { orderBy: { id: 'desc' } } }, orderBy: { id: 'asc' } }),
  ],
  [
    'relations: nested select through n-m',
    (prisma) =>
      prisma.user.findUnique({
        where: { id: 2 },
        select: { email: true, posts: { select: { title: true, tags: { select: { name: true }, orderBy: { name: 'asc' } } }, orderBy: { id: 'asc' } } },
      }),
  ],
  [
    'relations: self relation both ways',
    (prisma) =>
      prisma.user.findMany({
        select: { id: true, mentor: { select: { email: true } }, mentees: { select: { id: true }, orderBy: { id: 'asc' } } },
        orderBy: { id: 'asc' },
      }),
  ],
  [
    'relations: filters some / every / none / is',
    async (prisma) => ({
      some: await prisma.user.findMany({ where: { posts: { some: { published: false } } }, select: { id: true }, orderBy: { id: 'asc' } }),
      every: await prisma.user.findMany({ where: { posts: { every: { views: { gte: 100 } } } }, select: { id: true }, orderBy: { id: 'asc' } }),
      none: await prisma.tag.findMany({ where: { posts: { none: {} } }, select: { name: true } }),
      is: await prisma.post.findMany({ where: { author: { is: { role: 'EDITOR' } } }, select: { id: true }, orderBy: { id: 'asc' } }),
    }),
  ],
  [
    'relations: _count of relations, filtered',
    (prisma) =>
      prisma.user.findMany({
        select: { id: true, _count: { select: { posts: true, mentees: true } } },
        orderBy: { id: 'asc' },
      }),
  ],
  [
    'relations: _count with a where',
    (prisma) =>
      prisma.tag.findMany({
        select: { name: true, _count: { select: { posts: { where: { published: true } } } } },
        orderBy: { id: 'asc' },
      }),
  ],
  [
    'relations: include with take and where inside',
    (prisma) =>
      prisma.tag.findUnique({
        where: { name: 'history' },
        include: { posts: { where: { views: { gt: 100 } }, take: 2, orderBy: { views: 'desc' }, select: { id: true, views: true } } },
      }),
  ],

  // --- aggregates ------------------------------------------------------------------------
  [
    'aggregate: _avg _sum _min _max _count',
    (prisma) =>
      prisma.post.aggregate({
        _avg: { views: true, rating: true },
        _sum: { views: true },
        _min: { publishedAt: true, title: true },
        _max: { rating: true },
        _count: { _all: true, body: true },
        where: { published: true },
      }),
  ],
  [
    'aggregate: Decimal and BigInt',
    (prisma) => prisma.sample.aggregate({ _sum: { price: true, bigNumber: true }, _avg: { price: true }, _max: { bigNumber: true } }),
  ],
  [
    'groupBy: by author with having and ordering',
    (prisma) =>
      prisma.post.groupBy({
        by: ['authorId'],
        _sum: { views: true },
        _count: { _all: true },
        having: { views: { _sum: { gt: 100 } } },
        orderBy: { authorId: 'asc' },
      }),
  ],
  [
    'groupBy: by two fields',
    (prisma) =>
      prisma.post.groupBy({ by: ['authorId', 'published'], _max: { views: true }, orderBy: [{ authorId: 'asc' }, { published: 'asc' }] }),
  ],

  // --- writes ----------------------------------------------------------------------------
  [
    'write: nested create (1-n, connectOrCreate n-m)',
    (prisma) =>
      prisma.user.create({
        data: {
          email: 'margaret@example.com',
          name: 'Margaret',
          role: 'EDITOR',
          createdAt: at('2024-06-01T00:00:00Z'),
          mentor: { connect: { id: 1 } },
          posts: {
            create: [
              { title: 'Apollo guidance', views: 11, tags: { connectOrCreate: [{ where: { name: 'history' }, create: { name: 'history' } }, { where: { name: 'space' }, create: { name: 'space' } }] } },
              { title: 'Software engineering', published: true },
            ],
          },
        },
        include: { posts: { include: { tags: { orderBy: { name: 'asc' } } }, orderBy: { id: 'asc' } } },
      }),
  ],
  [
    'write: createMany with skipDuplicates',
    (prisma) =>
      prisma.tag.createMany({ data: [{ name: 'space' }, { name: 'networks' }, { name: 'graphics' }], skipDuplicates: true }),
  ],
  [
    'write: createManyAndReturn',
    (prisma) =>
      prisma.post.createManyAndReturn({
        data: [
          { title: 'Batch one', authorId: 3, views: 5 },
          { title: 'Batch two', authorId: 3, rating: 2.5, publishedAt: at('2024-05-05T05:05:05.005Z') },
        ],
        select: { id: true, title: true, views: true, rating: true, publishedAt: true, author: { select: { email: true } } },
      }),
  ],
  ['write: updateMany with increment', (prisma) => prisma.post.updateMany({ where: { authorId: 3 }, data: { views: { increment: 10 } } })],
  [
    'write: updateManyAndReturn',
    (prisma) =>
      prisma.post.updateManyAndReturn({ where: { published: false }, data: { body: 'reviewed' }, select: { id: true, body: true } }),
  ],
  [
    'write: update with nested relation changes',
    (prisma) =>
      prisma.post.update({
        where: { id: 3 },
        data: { published: true, tags: { set: [{ name: 'databases' }], connect: [{ name: 'space' }] }, author: { update: { name: 'Ada L.' } } },
        include: { tags: { orderBy: { id: 'asc' } }, author: true },
      }),
  ],
  [
    'write: upsert that creates',
    (prisma) =>
      prisma.user.upsert({
        where: { email: 'ken@example.com' },
        create: { email: 'ken@example.com', name: 'Ken', createdAt: at('2024-07-01T00:00:00Z') },
        update: { name: 'never' },
      }),
  ],
  [
    'write: upsert that updates',
    (prisma) =>
      prisma.user.upsert({
        where: { email: 'ken@example.com' },
        create: { email: 'ken@example.com', createdAt: at('2024-07-01T00:00:00Z') },
        update: { name: 'Ken T.', profile: { shell: 'sh' } },
      }),
  ],
  ['write: delete one', (prisma) => prisma.post.delete({ where: { id: 8 }, select: { id: true, title: true } })],
  ['write: deleteMany', (prisma) => prisma.tag.deleteMany({ where: { posts: { none: {} } } })],
  [
    'write: delete cascades to posts',
    async (prisma) => ({
      deleted: await prisma.user.delete({ where: { email: 'linus@example.com' }, select: { id: true } }),
      postsLeft: await prisma.post.count({ where: { authorId: 3 } }),
    }),
  ],

  // --- raw SQL ---------------------------------------------------------------------------
  [
    '$queryRaw with parameters and typed columns',
    (prisma) =>
      prisma.$queryRaw`SELECT id, email, created_at, ${1.5}::numeric AS factor, (id::bigint * 10000000000) AS big, profile
        FROM users WHERE id > ${1} AND email LIKE ${'%example.com'} ORDER BY id`,
  ],
  [
    '$queryRaw of every PostgreSQL scalar type',
    (prisma) =>
      prisma.$queryRaw`SELECT big_number, ratio, price, label, active, happened_at, day, payload, blob, uid, role, roles, labels, scores, weights, amounts FROM samples ORDER BY id`,
  ],
  [
    '$executeRaw',
    (prisma) => prisma.$executeRaw`UPDATE posts SET views = views + ${1} WHERE author_id = ${1}`,
  ],
  ['$queryRawUnsafe with positional parameters', (prisma) => prisma.$queryRawUnsafe('SELECT count(*)::int AS n FROM posts WHERE views > $1', 100)],

  // --- transactions ----------------------------------------------------------------------
  [
    'transaction: batch $transaction([...])',
    (prisma) =>
      prisma.$transaction([
        prisma.tag.create({ data: { name: 'batch' } }),
        prisma.post.update({ where: { id: 1 }, data: { tags: { connect: { name: 'batch' } } }, select: { id: true } }),
        prisma.tag.findUnique({ where: { name: 'batch' }, include: { posts: { select: { id: true } } } }),
      ]),
  ],
  [
    'transaction: interactive, committed',
    async (prisma) => {
      const result = await prisma.$transaction(async (tx) => {
        const user = await tx.user.create({ data: { email: 'tx@example.com', createdAt: at('2024-08-01T00:00:00Z') }, select: { id: true } })
        await tx.post.create({ data: { title: 'Inside a transaction', authorId: user.id } })
        return tx.post.count({ where: { authorId: user.id } })
      })
      return { result, visibleAfter: await prisma.user.count({ where: { email: 'tx@example.com' } }) }
    },
  ],
  [
    'transaction: interactive, rolled back on throw',
    async (prisma) => {
      let thrown = null
      try {
        await prisma.$transaction(async (tx) => {
          await tx.user.create({ data: { email: 'rollback@example.com', createdAt: at('2024-08-02T00:00:00Z') } })
          await tx.post.deleteMany({})
          throw new Error('abort on purpose')
        })
      } catch (error) {
        thrown = error.message
      }
      return {
        thrown,
        userLeft: await prisma.user.count({ where: { email: 'rollback@example.com' } }),
        postsLeft: await prisma.post.count(),
      }
    },
  ],
  [
    'transaction: interactive, database error inside rolls back',
    async (prisma) => {
      let code = null
      try {
        await prisma.$transaction(async (tx) => {
          await tx.tag.create({ data: { name: 'inside-failed' } })
          await tx.user.create({ data: { email: 'ada@example.com', createdAt: at('2024-08-03T00:00:00Z') } })
        })
      } catch (error) {
        code = error.code ?? null
      }
      return { code, tagLeft: await prisma.tag.count({ where: { name: 'inside-failed' } }) }
    },
  ],
  [
    'transaction: serializable isolation level',
    (prisma) =>
      prisma.$transaction((tx) => tx.user.findMany({ select: { id: true }, orderBy: { id: 'asc' } }), {
        isolationLevel: 'Serializable',
      }),
  ],

  // --- errors ----------------------------------------------------------------------------
  [
    'error: P2002 unique constraint on create',
    (prisma) => prisma.user.create({ data: { email: 'grace@example.com', createdAt: at('2024-09-01T00:00:00Z') } }),
    { error: 'P2002' },
  ],
  [
    'error: P2002 compound unique on update',
    (prisma) => prisma.post.update({ where: { id: 2 }, data: { title: 'Notes on the engine' } }),
    { error: 'P2002' },
  ],
  ['error: P2025 update of a missing row', (prisma) => prisma.user.update({ where: { id: 999 }, data: { name: 'x' } }), { error: 'P2025' }],
  ['error: P2025 delete of a missing row', (prisma) => prisma.post.delete({ where: { id: 999 } }), { error: 'P2025' }],
  ['error: P2025 findUniqueOrThrow', (prisma) => prisma.user.findUniqueOrThrow({ where: { email: 'nobody@example.com' } }), { error: 'P2025' }],
  ['error: P2025 findFirstOrThrow', (prisma) => prisma.post.findFirstOrThrow({ where: { views: { lt: -1 } } }), { error: 'P2025' }],
  [
    'error: P2003 foreign key',
    (prisma) => prisma.post.create({ data: { title: 'Orphan', authorId: 12345 } }),
    { error: 'P2003' },
  ],

  // --- the state everything above left behind --------------------------------------------
  [
    'final state of every table',
    async (prisma) => ({
      users: await prisma.user.findMany({ orderBy: { id: 'asc' } }),
      posts: await prisma.post.findMany({ orderBy: { id: 'asc' }, include: { tags: { select: { id: true }, orderBy: { id: 'asc' } } } }),
      tags: await prisma.tag.findMany({ orderBy: { id: 'asc' } }),
      samples: await prisma.sample.findMany({ orderBy: { id: 'asc' } }),
    }),
  ],
]
