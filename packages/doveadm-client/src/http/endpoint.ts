import { InvalidArgumentError } from '../errors/invalid-argument-error';

const API_PATH = '/doveadm/v1';

/**
 * Turns the configured base URL into the API endpoint. A path prefix (a reverse proxy's
 * `/mail-a/`) is kept; `/doveadm/v1` is appended unless the URL already names it.
 * Credentials in the URL are refused so that the URL can be logged and shown freely; the
 * message never repeats the URL, which may hold them.
 */
export function resolveEndpoint(baseUrl: string): URL {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new InvalidArgumentError('doveadm client: the url option is not a valid absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidArgumentError(
      `doveadm client: the url must use http: or https:, not ${url.protocol}`,
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw new InvalidArgumentError(
      'doveadm client: the url must not carry credentials; use the password or apiKey option',
    );
  }
  url.hash = '';
  const path = url.pathname.replace(/\/+$/, '');
  url.pathname = path.endsWith(API_PATH) ? path : `${path}${API_PATH}`;
  return url;
}
