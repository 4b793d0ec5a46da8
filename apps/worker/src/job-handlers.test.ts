import type { Job } from 'bullmq';
import { JobName } from '@dovewarden/shared';
import { JobHandlers } from './job-handlers';

describe('JobHandlers', () => {
  const noop = () => Promise.resolve(undefined);

  it('fails start-up on a missing or duplicate handler', () => {
    expect(() => new JobHandlers().assertComplete()).toThrow(/no handler for job\(s\): sync-user/);
    const handlers = new JobHandlers().register(JobName.SyncUser, noop);
    expect(() => handlers.register(JobName.SyncUser, noop)).toThrow(/two handlers/);
    expect(() => handlers.assertComplete()).not.toThrow();
  });

  it('dispatches by job name and refuses unknown names', async () => {
    const seen: string[] = [];
    const handlers = new JobHandlers().register(JobName.SyncUser, (job) => {
      seen.push(job.name);
      return Promise.resolve('done');
    });
    const signal = new AbortController().signal;
    await expect(
      handlers.dispatch({ name: 'sync-user', data: {} } as Job<unknown>, 't', signal),
    ).resolves.toBe('done');
    expect(() =>
      handlers.dispatch({ name: 'nope', data: {} } as Job<unknown>, 't', signal),
    ).toThrow(/no handler for job "nope"/);
    expect(seen).toEqual(['sync-user']);
  });
});
