import { FakeTree } from './__tests__/fake-tree';
import { type ReplicaFolderRepairDeps, repairReplicaFolders } from './replica-folder-repair';

function deps(
  source: Record<string, string>,
  replica: Record<string, string>,
  neverUsedOnReplica: string[] = [],
) {
  const a = new FakeTree(new Map(Object.entries(source)));
  const b = new FakeTree(new Map(Object.entries(replica)), new Set(neverUsedOnReplica));
  const repairDeps = {
    source: a,
    replica: b,
    destination: 'tcp:b:1',
  } as unknown as ReplicaFolderRepairDeps;
  return { a, b, repairDeps };
}

describe('repairReplicaFolders', () => {
  it('does nothing when every folder has the same name on both servers', async () => {
    const { b, repairDeps } = deps({ INBOX: 'g0', Work: 'g1' }, { INBOX: 'g0', Work: 'g1' });
    expect(await repairReplicaFolders(repairDeps, 'u', [])).toEqual({
      renamed: [],
      deleted: [],
      unsubscribed: [],
      blocked: [],
      settled: [],
    });
    expect(b.renames).toEqual([]);
  });

  it("drops the replica's subscriptions to names that are a folder on neither server and that the source does not subscribe", async () => {
    const { a, b, repairDeps } = deps(
      { INBOX: 'g0', Work: 'g1' },
      { INBOX: 'g0', Work: 'g1', OnlyOnB: 'g9' },
    );
    a.subscriptions = new Set(['INBOX', 'Work', 'GoneButSubscribedOnA']);
    b.subscriptions = new Set([
      'INBOX',
      'Work',
      'GoneButSubscribedOnA',
      // dsync's temporary name of a rename conflict, subscribed with it, folder gone since.
      'L0-F188-temp-1',
      // A folder B holds (made while B served the user): its subscription stays.
      'OnlyOnB',
    ]);
    const result = await repairReplicaFolders(repairDeps, 'u', []);
    expect(result.unsubscribed).toEqual(['L0-F188-temp-1']);
    expect([...b.subscriptions].sort()).toEqual(
      ['GoneButSubscribedOnA', 'INBOX', 'OnlyOnB', 'Work'].sort(),
    );
    // Nothing else changed, and the source was never written to.
    expect(b.renames).toEqual([]);
    expect(b.deletes).toEqual([]);
    expect(a.unsubscribes).toEqual([]);
  });

  it("puts the source's name on a folder the replica kept under its old name", async () => {
    const { a, b, repairDeps } = deps(
      { INBOX: 'g0', Proj2: 'g1', Keep: 'g2' },
      { INBOX: 'g0', ProjB: 'g1', Keep: 'g2', OnlyOnB: 'g9' },
    );
    const result = await repairReplicaFolders(repairDeps, 'u', []);
    expect(result).toMatchObject({
      renamed: [{ guid: 'g1', from: 'ProjB', to: 'Proj2' }],
      blocked: [],
    });
    // Folders only on the replica stay: they may hold mail that reached B alone.
    expect(Object.fromEntries(b.boxes)).toEqual({ ...Object.fromEntries(a.boxes), OnlyOnB: 'g9' });
  });

  it('renames a parent before its children, and the children move with it', async () => {
    const { b, repairDeps } = deps(
      { INBOX: 'g0', New: 'g1', 'New/Child': 'g2' },
      { INBOX: 'g0', Old: 'g1', 'Old/Child': 'g2' },
    );
    const result = await repairReplicaFolders(repairDeps, 'u', []);
    expect(b.renames).toEqual([['Old', 'New']]);
    expect(result.renamed).toHaveLength(1);
    expect([...b.boxes.keys()].sort()).toEqual(['INBOX', 'New', 'New/Child']);
  });

  it('swapped names: leaves both alone and reports them, never overwrites a folder', async () => {
    const { b, repairDeps } = deps({ X: 'g1', Y: 'g2' }, { X: 'g2', Y: 'g1' });
    const result = await repairReplicaFolders(repairDeps, 'u', []);
    expect(result.renamed).toEqual([]);
    expect(result.blocked).toEqual([
      { guid: 'g1', from: 'Y', to: 'X' },
      { guid: 'g2', from: 'X', to: 'Y' },
    ]);
    expect(b.renames).toEqual([]);
  });

  it('a rename that frees a name lets the next one through', async () => {
    // B: A→C is blocked until C→D moves C away.
    const { b, repairDeps } = deps({ C: 'g1', D: 'g2' }, { A: 'g1', C: 'g2' });
    const result = await repairReplicaFolders(repairDeps, 'u', []);
    expect(b.renames).toEqual([
      ['C', 'D'],
      ['A', 'C'],
    ]);
    expect(result.blocked).toEqual([]);
  });

  it('deletes on the replica, children first, the folders the source deleted, and nothing else', async () => {
    const { a, b, repairDeps } = deps(
      { INBOX: 'g0', Keep: 'g1' },
      { INBOX: 'g0', Keep: 'g1', Gone: 'g2', 'Gone/Child': 'g3', OnlyOnB: 'g9', Settled: 'g5' },
    );
    // g2, g3 left the dsync state; g4 is gone from both; g9 was never in it (made on B alone).
    const result = await repairReplicaFolders(repairDeps, 'u', ['g2', 'g3', 'g4']);
    expect(b.deletes).toEqual(['Gone/Child', 'Gone']);
    expect(result.deleted.map((d) => d.name)).toEqual(['Gone/Child', 'Gone']);
    expect(result.settled.sort()).toEqual(['g2', 'g3', 'g4']);
    expect([...b.boxes.keys()].sort()).toEqual(['INBOX', 'Keep', 'OnlyOnB', 'Settled']);
    expect(a.deletes).toEqual([]);
  });

  it('never deletes a departed GUID the source has again, and reports a delete that fails', async () => {
    const { b, repairDeps } = deps(
      { INBOX: 'g0', Back: 'g1' },
      { INBOX: 'g0', Back: 'g1', Stuck: 'g2' },
    );
    b.mailboxDelete = () => Promise.reject(new Error('exit 65'));
    const result = await repairReplicaFolders(repairDeps, 'u', ['g1', 'g2']);
    expect(result.deleted).toEqual([]);
    expect(result.blocked).toEqual([{ guid: 'g2', name: 'Stuck' }]);
    expect(result.settled).toEqual([]);
  });

  it('deletes a folder that dsync made on the replica under a GUID of its own, once the source lost its name', async () => {
    // `Made` was created on B by dsync from A's folder seen without its GUID, and A deleted
    // it; `Kept` is made on B alone and held mail; `Empty` is made on B alone under a name A
    // has (another GUID): a name A accounts for is never touched.
    const { b, repairDeps } = deps(
      { INBOX: 'g0', Empty: 'g5' },
      { INBOX: 'g0', Made: 'gb1', Kept: 'gb2', Empty: 'gb3', Parent: 'gb4', 'Parent/Mail': 'gb6' },
      ['INBOX', 'Made', 'Empty', 'Parent'],
    );
    const result = await repairReplicaFolders(repairDeps, 'u', []);
    expect(result.deleted).toEqual([{ guid: 'gb1', name: 'Made' }]);
    expect(b.deletes).toEqual(['Made']);
    // A parent whose child held mail stays, with the child.
    expect([...b.boxes.keys()].sort()).toEqual(['Empty', 'INBOX', 'Kept', 'Parent', 'Parent/Mail']);
  });
});
