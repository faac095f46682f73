-- The data every compatibility run starts from (run it before each run: it empties the tables
-- and restarts the ids, so that two runs see the same rows and produce the same ids).
TRUNCATE "_PostToTag", "posts", "tags", "samples", "users" RESTART IDENTITY CASCADE;

INSERT INTO "users" ("email", "name", "role", "created_at", "profile", "mentor_id") VALUES
    ('ada@example.com',   'Ada',   'ADMIN',  '2024-01-01 09:00:00.000', '{"lang": "en", "theme": "dark", "stars": 5}', NULL),
    ('grace@example.com', 'Grace', 'EDITOR', '2024-01-02 10:30:00.250', '{"lang": "en", "tags": ["navy", "cobol"]}', 1),
    ('linus@example.com', 'Linus', 'USER',   '2024-01-03 11:45:00.500', NULL, 1),
    ('edsger@example.com', NULL,   'USER',   '2024-01-04 12:00:00.750', '{"lang": "nl"}', 2),
    ('barbara@example.com', 'Barbara', 'EDITOR', '2024-01-05 13:15:00.000', '[]', NULL);

INSERT INTO "tags" ("name") VALUES ('databases'), ('compilers'), ('kernels'), ('history');

INSERT INTO "posts" ("title", "body", "published", "views", "rating", "published_at", "author_id") VALUES
    ('Notes on the engine', 'Analytical.', true,  120, 4.5,  '2024-02-01 08:00:00', 1),
    ('Bernoulli numbers',   NULL,          true,  300, 4.9,  '2024-02-02 08:00:00', 1),
    ('A draft',             'Unfinished.', false, 0,   NULL, NULL,                  1),
    ('Compilers',           'A-0 system.', true,  250, 4.8,  '2024-02-03 08:00:00', 2),
    ('Nanoseconds',         NULL,          true,  90,  4.1,  '2024-02-04 08:00:00', 2),
    ('Freax',               'Hobby OS.',   true,  500, 3.9,  '2024-02-05 08:00:00', 3),
    ('GOTO considered harmful', 'Letter.', true,  410, 4.7,  '2024-02-06 08:00:00', 4),
    ('Abstract data types', NULL,          false, 15,  NULL, NULL,                  5);

INSERT INTO "_PostToTag" ("A", "B") VALUES
    (1, 4), (2, 4), (4, 2), (4, 4), (5, 4), (6, 3), (7, 2), (7, 4), (8, 1), (8, 2);

INSERT INTO "samples" ("big_number", "ratio", "price", "label", "active", "happened_at", "day", "payload",
                       "blob", "uid", "role", "roles", "labels", "scores", "weights", "amounts") VALUES
    (9007199254740993, 3.14159, 12345.6789, 'first', true, '2024-03-01 12:34:56.789+00', '2024-03-01',
     '{"nested": {"list": [1, 2.5, "three", null, true]}, "unicode": "Zürich ☃"}',
     '\x00010203fffe', '8f14e45f-ceea-467f-a8f3-6b5d3c3f2b1a', 'ADMIN', '{USER,ADMIN}', '{a,"b c",ä}',
     '{1,-2,3}', '{0.5,1e-10,-3.25}', '{1.10,2.20}'),
    (-42, -0.0001, 0.0001, 'second', false, '1999-12-31 23:59:59.999+00', '1999-12-31',
     '[1, {"a": []}]', '\x', '00000000-0000-0000-0000-000000000000', 'USER', '{}', '{}', '{}', '{}', '{}'),
    (0, 1e300, 99999.9999, 'third', true, '2038-01-19 03:14:07.000+00', '2038-01-19',
     '"just a string"', '\x68656c6c6f', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'EDITOR', '{EDITOR}', NULL, NULL, NULL, NULL);
