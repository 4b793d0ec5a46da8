import { InvalidArgumentError } from '../errors/invalid-argument-error';
import { resolveEndpoint } from './endpoint';

describe('resolveEndpoint', () => {
  it.each([
    ['http://127.0.0.1:8080', 'http://127.0.0.1:8080/doveadm/v1'],
    ['http://127.0.0.1:8080/', 'http://127.0.0.1:8080/doveadm/v1'],
    ['http://mail.example.org/proxy/a', 'http://mail.example.org/proxy/a/doveadm/v1'],
    ['https://mail.example.org/proxy/a/', 'https://mail.example.org/proxy/a/doveadm/v1'],
    ['http://127.0.0.1:8080/doveadm/v1', 'http://127.0.0.1:8080/doveadm/v1'],
    ['http://127.0.0.1:8080/doveadm/v1/', 'http://127.0.0.1:8080/doveadm/v1'],
    ['http://127.0.0.1:8080#fragment', 'http://127.0.0.1:8080/doveadm/v1'],
  ])('%s -> %s', (base, endpoint) => {
    expect(resolveEndpoint(base).href).toBe(endpoint);
  });

  it.each(['not a url', 'ftp://host/', 'http://doveadm:secret@host/'])('refuses %s', (base) => {
    expect(() => resolveEndpoint(base)).toThrow(InvalidArgumentError);
  });
});
