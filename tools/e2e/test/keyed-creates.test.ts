/** Keyed creates on two replicas of every service following one bus with a file log (see keyed-creates.ts). */
import { startReplicatedStack } from '@blog/testkit';
import { describeKeyedCreatesAcrossReplicas, ID_MEMORY } from './keyed-creates';

describeKeyedCreatesAcrossReplicas('keyed creates on two replicas of every service, one bus with a file log', {
  start: (dir) => startReplicatedStack({ logDir: dir, busEnv: { EVENT_IDS_REMEMBERED: String(ID_MEMORY) } }),
  duplicateWindowMs: 0,
});
