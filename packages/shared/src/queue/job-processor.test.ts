import type { Job } from 'bullmq';
import { JobName, QueueName, jobsOn } from './catalogue';
import { type HandlersOf, JobHandlerError, createJobProcessor } from './job-processor';

describe('createJobProcessor', () => {
  const signal = new AbortController().signal;

  it('fails start-up on a missing handler, for every queue of the catalogue', () => {
    for (const queue of Object.values(QueueName)) {
      expect(jobsOn(queue).length).toBeGreaterThan(0);
      let thrown: unknown;
      try {
        createJobProcessor(queue, {} as HandlersOf<typeof queue>);
      } catch (error: unknown) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(JobHandlerError);
      expect((thrown as JobHandlerError).code).toBe('ERR_HANDLER_MISSING');
    }
    expect(() =>
      createJobProcessor(QueueName.Replication, {} as HandlersOf<QueueName.Replication>),
    ).toThrow(/no handler for job\(s\) of queue "replication": sync-user/);
    expect(() =>
      createJobProcessor(QueueName.Scheduler, {} as HandlersOf<QueueName.Scheduler>),
    ).toThrow(/no handler for job\(s\) of queue "scheduler": sweep/);
  });

  it('dispatches by job name with validated data, and refuses unknown names and bad data', async () => {
    const seen: unknown[] = [];
    const processor = createJobProcessor(QueueName.Replication, {
      [JobName.SyncUser]: (job) => {
        seen.push(job.data.user);
        return Promise.resolve('done');
      },
    });
    const data = { user: 'u1', reason: { kind: 'manual' }, requestedAt: 1 };
    await expect(processor({ name: 'sync-user', data } as Job<unknown>, 't', signal)).resolves.toBe(
      'done',
    );
    await expect(
      processor({ name: 'nope', data: {} } as Job<unknown>, 't', signal),
    ).rejects.toThrow(/no handler for job "nope"/);
    await expect(
      processor({ name: 'sync-user', data: { user: '' } } as Job<unknown>, 't', signal),
    ).rejects.toThrow(/invalid sync-user job data/);
    expect(seen).toEqual(['u1']);
  });

  it('gives a sweep from the job scheduler (no data) an empty payload', async () => {
    const seen: unknown[] = [];
    const processor = createJobProcessor(QueueName.Scheduler, {
      [JobName.Sweep]: (job) => {
        seen.push(job.data);
        return Promise.resolve(undefined);
      },
    });
    await processor({ name: 'sweep', data: {} } as Job<unknown>, 't', signal);
    await processor({ name: 'sweep', data: { catchUp: true } } as Job<unknown>, 't', signal);
    await expect(
      processor({ name: 'sweep', data: { catchUp: 'yes' } } as Job<unknown>, 't', signal),
    ).rejects.toThrow(/invalid sweep job data/);
    expect(seen).toEqual([{}, { catchUp: true }]);
  });
});
