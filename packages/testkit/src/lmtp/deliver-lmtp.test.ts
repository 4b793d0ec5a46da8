import { encodeData } from './deliver-lmtp';

describe('encodeData', () => {
  it('uses CRLF, doubles leading dots and ends with the lone dot', () => {
    expect(encodeData('Subject: x\n\n.hidden\nlast\n')).toBe(
      'Subject: x\r\n\r\n..hidden\r\nlast\r\n.\r\n',
    );
    expect(encodeData('a\r\n.\r\nb')).toBe('a\r\n..\r\nb\r\n.\r\n');
  });
});
