import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { PassError } from '../../src/shared/errors.ts';
import { parseHtpasswdUser, verifyHtpasswd } from '../../src/config/htpasswd.ts';

const SEED_HASH = '$apr1$k2qslCn6$0OgA8vhnyC8nJ99YfJMOM/';
const sha = (p: string): string => `{SHA}${createHash('sha1').update(p).digest('base64')}`;
// Cost 4: the lowest bcrypt allows, so the suite stays fast.
const bcrypt2b = bcrypt.hashSync('secret', 4);
const bcrypt2a = bcrypt2b.replace(/^\$2b\$/, '$2a$');
const bcrypt2y = bcrypt2b.replace(/^\$2b\$/, '$2y$');

const accepted: { name: string; line: string; user: string; hash: string }[] = [
  { name: 'the seed $apr1$ user', line: `klefevre:${SEED_HASH}`, user: 'klefevre', hash: SEED_HASH },
  { name: 'bcrypt $2b$', line: `bob:${bcrypt2b}`, user: 'bob', hash: bcrypt2b },
  { name: 'bcrypt $2a$', line: `bob:${bcrypt2a}`, user: 'bob', hash: bcrypt2a },
  { name: 'bcrypt $2y$ (htpasswd -B)', line: `bob:${bcrypt2y}`, user: 'bob', hash: bcrypt2y },
  { name: '{SHA} base64', line: `carol:${sha('password')}`, user: 'carol', hash: sha('password') },
  { name: 'user name with a dot and an @', line: `ops.team@example:${SEED_HASH}`, user: 'ops.team@example', hash: SEED_HASH },
];
for (const c of accepted) {
  test(`parseHtpasswdUser accepts ${c.name}`, () => {
    assert.deepEqual(parseHtpasswdUser(c.line), { user: c.user, hash: c.hash });
  });
}

const refused: { name: string; line: string; names?: string; secret?: string }[] = [
  { name: 'a plain-text password', line: 'admin:S3cretPassw0rd!', names: 'admin', secret: 'S3cretPassw0rd!' },
  { name: 'a 13-character crypt(3) hash', line: 'admin:rl0uE9AvN0hJ.', names: 'admin', secret: 'rl0uE9AvN0hJ.' },
  { name: 'an MD5-crypt $1$ hash', line: 'admin:$1$k2qslCn6$0OgA8vhnyC8nJ99YfJMOM/', names: 'admin', secret: '0OgA8vhnyC8nJ99YfJMOM' },
  { name: 'a SHA-512 crypt $6$ hash', line: 'admin:$6$salt$abcdef', names: 'admin', secret: 'abcdef' },
  { name: 'a truncated $apr1$ hash', line: 'admin:$apr1$k2qslCn6$0OgA8vhnyC8n', names: 'admin', secret: '0OgA8vhnyC8n' },
  { name: 'a malformed bcrypt hash', line: 'admin:$2y$04$tooshort', names: 'admin', secret: 'tooshort' },
  { name: 'a bcrypt $2x$ hash', line: `admin:${bcrypt2b.replace(/^\$2b\$/, '$2x$')}`, names: 'admin' },
  { name: 'a malformed {SHA} hash', line: 'admin:{SHA}abc', names: 'admin', secret: 'abc' },
  { name: 'an empty hash', line: 'admin:', names: 'admin' },
  { name: 'an empty user', line: `:${SEED_HASH}` },
  { name: 'a blank user', line: `  :${SEED_HASH}` },
  { name: 'no colon at all (maybe a bare password)', line: 'justapassword', secret: 'justapassword' },
  { name: 'a user name with a space', line: `a b:${SEED_HASH}` },
];
for (const c of refused) {
  test(`parseHtpasswdUser refuses ${c.name}`, () => {
    assert.throws(
      () => parseHtpasswdUser(c.line),
      (err: unknown) => {
        assert.ok(err instanceof PassError);
        assert.equal(err.code, 'PASS_CONFIG_BAD_USER');
        if (c.names !== undefined) assert.match(err.message, new RegExp(`user "${c.names}"`));
        if (c.secret !== undefined) assert.ok(!err.message.includes(c.secret), `message leaks the secret: ${err.message}`);
        return true;
      },
    );
  });
}

const verifications: { name: string; hash: string; password: string; ok: boolean }[] = [
  { name: 'seed user klefevre with klo98zsd', hash: SEED_HASH, password: 'klo98zsd', ok: true },
  { name: 'seed user with a wrong password', hash: SEED_HASH, password: 'klo98zsD', ok: false },
  { name: 'seed user with an empty password', hash: SEED_HASH, password: '', ok: false },
  { name: 'bcrypt $2b$ right password', hash: bcrypt2b, password: 'secret', ok: true },
  { name: 'bcrypt $2a$ right password', hash: bcrypt2a, password: 'secret', ok: true },
  { name: 'bcrypt $2y$ right password', hash: bcrypt2y, password: 'secret', ok: true },
  { name: 'bcrypt wrong password', hash: bcrypt2y, password: 'Secret', ok: false },
  { name: '{SHA} right password', hash: sha('password'), password: 'password', ok: true },
  { name: '{SHA} wrong password', hash: sha('password'), password: 'passwore', ok: false },
  { name: '{SHA} non-ASCII password', hash: sha('mot-de-passe-é'), password: 'mot-de-passe-é', ok: true },
  { name: 'an unknown hash never verifies', hash: 'plaintext', password: 'plaintext', ok: false },
  { name: 'a broken bcrypt hash never verifies (and does not throw)', hash: '$2y$04$broken', password: 'x', ok: false },
];
for (const c of verifications) {
  test(`verifyHtpasswd: ${c.name}`, () => {
    assert.equal(verifyHtpasswd({ user: 'u', hash: c.hash }, c.password), c.ok);
  });
}
