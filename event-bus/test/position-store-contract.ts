/** What every PositionStore must do, whatever keeps the positions: delivery relies on exactly this. */
import type { PositionStore } from '../src/delivery/position-store';

export interface PositionStoreFactory {
  /** A new, empty store. */
  open(): Promise<PositionStore>;
  /** Another handle on the same positions: the store after a restart, or as another bus replica sees it. */
  reopen(store: PositionStore): Promise<PositionStore>;
}

export function describePositionStoreContract(name: string, factory: PositionStoreFactory): void {
  describe(`PositionStore contract: ${name}`, () => {
    const opened: PositionStore[] = [];
    const track = (store: PositionStore) => {
      opened.push(store);
      return store;
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((store) => store.close().catch(() => undefined)));
    });

    it('knows nothing of a new subscriber, and keeps the highest seq each one acknowledged', async () => {
      const store = track(await factory.open());
      expect(await store.load('http://a:4000')).toBe(0);
      await Promise.all([
        store.save('http://a:4000', 3),
        store.save('http://b:4001', 7),
        store.save('http://a:4000', 5),
      ]);
      await store.save('http://a:4000', 4);
      expect([await store.load('http://a:4000'), await store.load('http://b:4001')]).toEqual([5, 7]);
    });

    it('shows what was stored to the next handle, and a late store never moves a position back', async () => {
      const first = track(await factory.open());
      await first.save('http://a:4000', 5);
      const next = track(await factory.reopen(first));
      expect(await next.load('http://a:4000')).toBe(5);
      await next.save('http://a:4000', 9);
      await first.save('http://a:4000', 6).catch(() => undefined);
      const last = track(await factory.reopen(next));
      expect(await last.load('http://a:4000')).toBe(9);
    });
  });
}
