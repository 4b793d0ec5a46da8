import { InvalidArgumentError } from '../errors/invalid-argument-error';

export interface DoveadmCredentials {
  /** `doveadm_password`: sent as HTTP Basic with the fixed user name `doveadm`. */
  password?: string;
  /** `doveadm_api_key`: sent as `X-Dovecot-API <base64>`. */
  apiKey?: string;
}

export function authorizationHeader(credentials: DoveadmCredentials): string | undefined {
  const { password, apiKey } = credentials;
  if (password !== undefined && apiKey !== undefined) {
    throw new InvalidArgumentError('doveadm client: give either password or apiKey, not both');
  }
  if (password !== undefined) {
    return `Basic ${Buffer.from(`doveadm:${password}`, 'utf8').toString('base64')}`;
  }
  if (apiKey !== undefined) {
    return `X-Dovecot-API ${Buffer.from(apiKey, 'utf8').toString('base64')}`;
  }
  return undefined;
}
