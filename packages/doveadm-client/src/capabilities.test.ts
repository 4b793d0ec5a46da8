import {
  describeMissingCapabilities,
  findMissingCapabilities,
  SYNC_REQUIREMENTS,
} from './capabilities';

const syncOf24 = {
  command: 'sync',
  parameters: [
    'user',
    'destination',
    'state',
    'fullSync',
    'lockTimeout',
    'onewaySync',
    'allNamespaces',
    'timeout',
    'excludeMailbox',
  ].map((name) => ({ name, type: 'string' })),
};

describe('findMissingCapabilities', () => {
  it('finds nothing missing when every parameter is listed', () => {
    expect(findMissingCapabilities([syncOf24], SYNC_REQUIREMENTS)).toEqual([]);
  });

  it('names a missing command and missing parameters', () => {
    const oldSync = { command: 'sync', parameters: [{ name: 'user', type: 'string' }] };

    const missing = findMissingCapabilities([oldSync], { ...SYNC_REQUIREMENTS, fetch: ['query'] });

    expect(missing).toEqual([
      {
        command: 'sync',
        commandMissing: false,
        missingParameters: [
          'destination',
          'state',
          'fullSync',
          'lockTimeout',
          'onewaySync',
          'allNamespaces',
          'timeout',
          'excludeMailbox',
        ],
      },
      { command: 'fetch', commandMissing: true, missingParameters: ['query'] },
    ]);
    expect(describeMissingCapabilities(missing)).toBe(
      'sync lacks destination, state, fullSync, lockTimeout, onewaySync, allNamespaces, timeout, excludeMailbox; command fetch is missing',
    );
  });
});
