import { UserList } from './user-list';

const answer = (list: unknown, tag = 'dw1'): Buffer =>
  Buffer.from(JSON.stringify([['doveadmResponse', { userList: list }, tag]]), 'utf8');

describe('UserList', () => {
  const names = [
    'user1',
    'jürgen.müller@bücher.de',
    '用户@例子.中国',
    'quote"in\\name',
    'slash/and\ttab',
    '',
    'a'.repeat(255),
  ];

  it('reads every name of a doveadm user answer from its bytes, escapes included', () => {
    const list = UserList.scan(answer(names), 'dw1');
    expect(list).toBeDefined();
    expect(list?.length).toBe(names.length);
    expect(list?.toArray()).toEqual(names);
    expect(list?.slice(1, 3)).toEqual(names.slice(1, 3));
    expect(list?.indexOf('quote"in\\name')).toBe(3);
    expect(list?.indexOf('nobody')).toBe(-1);
    expect(() => list?.at(names.length)).toThrow(RangeError);
  });

  it('takes the whitespace Dovecot may put between tokens, and an empty list', () => {
    const spaced = Buffer.from(
      ' [ [ "doveadmResponse" , { "userList" : [ "a" , "b" ] } , "t9" ] ]\n',
      'utf8',
    );
    expect(UserList.scan(spaced, 't9')?.toArray()).toEqual(['a', 'b']);
    expect(UserList.scan(answer([]), 'dw1')?.length).toBe(0);
  });

  it('declines answers of another shape, so that the ordinary parse explains them', () => {
    expect(UserList.scan(answer(['a'], 'other'), 'dw1')).toBeUndefined();
    expect(UserList.scan(answer(['a', 1]), 'dw1')).toBeUndefined();
    expect(
      UserList.scan(Buffer.from('[["error",{"type":"exitCode","exitCode":65},"dw1"]]'), 'dw1'),
    ).toBeUndefined();
    expect(
      UserList.scan(Buffer.from('[["doveadmResponse",{"userList":["a"'), 'dw1'),
    ).toBeUndefined();
    expect(
      UserList.scan(Buffer.from('[["doveadmResponse",{"userList":["a"],"more":1},"dw1"]]'), 'dw1'),
    ).toBeUndefined();
  });

  it('reads a million names (the memory it saves is measured by bench/background.bench)', () => {
    const million = Array.from({ length: 1_000_000 }, (_, i) => `user${i}@example.com`);
    const body = answer(million);
    const list = UserList.scan(body, 'dw1');
    expect(list?.length).toBe(1_000_000);
    expect(list?.at(999_999)).toBe('user999999@example.com');
    expect(list?.slice(500_000, 500_002)).toEqual([
      'user500000@example.com',
      'user500001@example.com',
    ]);
  });

  it('wraps names already decoded', () => {
    expect(UserList.of(names).toArray()).toEqual(names);
  });
});
