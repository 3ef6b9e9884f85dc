/** Every EventLog implementation against the one contract (test/event-log-contract.ts). */
import { silentLogger } from '@blog/common';
import { FileEventLog } from '../src/file-storage/file-event-log';
import type { EventLog } from '../src/log/event-log';
import { MemoryEventLog } from '../src/testing';
import { describeEventLogContract } from './event-log-contract';
import { tempDirs } from './support';

describeEventLogContract('MemoryEventLog', { open: () => Promise.resolve(new MemoryEventLog()) });

const freshDir = tempDirs('event-log-contract-');
const dirOf = new WeakMap<EventLog, string>();
const openFileLog = async (dir: string) => {
  // A small in-memory tail, so that reads come from the file too.
  const log = await FileEventLog.open({ dir, logger: silentLogger(), tailSize: 2 });
  dirOf.set(log, dir);
  return log;
};

describeEventLogContract('FileEventLog', {
  open: () => openFileLog(freshDir()),
  reopen: async (log) => {
    const dir = dirOf.get(log);
    if (dir === undefined) throw new Error('not a log this factory opened');
    await log.close();
    return openFileLog(dir);
  },
});
