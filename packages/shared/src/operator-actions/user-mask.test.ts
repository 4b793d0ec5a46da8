import { UserMask } from './user-mask';

describe('UserMask', () => {
  it.each([
    ['*', 'anyone@example.com', true],
    ['user?', 'user1', true],
    ['user?', 'user12', false],
    ['user*@example.com', 'user12@example.com', true],
    ['user*@example.com', 'user12@example.org', false],
    ['*@example.com', 'a.b@example.com', true],
    ['a.b', 'axb', false],
    ['a[1]', 'a[1]', true],
    ['a[1]', 'a1', false],
    ['?', 'ü', true],
    ['back\\slash*', 'back\\slash-1', true],
  ])('%s matches %s: %s', (mask, user, expected) => {
    expect(new UserMask(mask).matches(user)).toBe(expected);
  });

  it('tells a pattern from a plain name', () => {
    expect(new UserMask('user1@example.com').isPattern).toBe(false);
    expect(new UserMask('user*').isPattern).toBe(true);
    expect(new UserMask('user?').isPattern).toBe(true);
  });

  it("escapes Redis's own glob characters, so they match only themselves", () => {
    expect(new UserMask('a[bc]\\*').redisPattern).toBe('a\\[bc\\]\\\\*');
  });
});
