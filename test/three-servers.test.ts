/**
 * Three servers on one Redis under faults (issue 15, part 3; the run is
 * test/chaos/three-servers-run.ts, README "Three servers under faults"):
 * 100,000 no-op tasks, each returning its own nonce, submitted in batches
 * of 1,000 round robin over three servers (push, pull, push; two workers
 * each) by keyed clients that retry on the next server; mid-run one server
 * is kill -9'd and restarted on its port, and a worker of another server is
 * kill -9'd. Then the chaos checker reads every task back from the store.
 * Replay the same choices (at the command line's faster pace) with
 * `npm run chaos -- --preset three --seed 15`.
 */

import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { testThreeConfig } from './chaos/three-servers-config.js';
import { runThreeServers } from './chaos/three-servers-run.js';

const SEED = 15;
const TASKS = 100_000;
/** On the cluster: fewer tasks (it shares the two cores with three more redis-servers). */
const CLUSTER_TASKS = 20_000;

describe('three servers under faults, on one Redis and on a Redis Cluster', function () {
  this.timeout(240_000);

  const RUNS = [
    { name: 'one Redis', tasks: TASKS, cluster: false },
    { name: 'Redis Cluster', tasks: CLUSTER_TASKS, cluster: true },
  ];
  for (const { name, tasks, cluster } of RUNS) {
    it(`${name}, seed ${SEED}: ${tasks} tasks round robin, a server and a worker kill -9'd: none lost, all COMPLETED right, re-runs only of tasks a killed process held`, async () => {
      const log: string[] = [];
      const config = testThreeConfig(SEED, tasks, (line) => log.push(line));
      config.cluster = cluster;
      config.historyPath = join(
        tmpdir(),
        `taskgrid-three-test-${cluster ? 'cluster' : 'redis'}-${SEED}.jsonl`,
      );
      const replay = `npm run chaos -- --preset three --tasks ${tasks}${cluster ? ' --cluster' : ''} --seed ${SEED}`;
      const result = await runThreeServers(config, replay);
      const report = `seed ${SEED}\n${log.join('\n')}\n\n${result.table}\n\n${result.violations}`;
      console.log(`\n${result.table.replace(/^/gm, '      ')}\n`);
      const s = result.summary;
      expect(result.submitted, `every batch acknowledged\n${report}`).to.equal(tasks);
      // Both faults hit work in flight (else they test nothing).
      expect(result.heldAtKill.server, report).to.be.greaterThan(0);
      expect(result.heldAtKill.worker, report).to.be.greaterThan(0);
      expect(
        { lost: s.lost, stuck: s.stuck, wrong: s.wrong, changed: s.changed },
        report,
      ).to.deep.equal({ lost: 0, stuck: 0, wrong: 0, changed: 0 });
      expect(result.completedRight, `COMPLETED with the right result\n${report}`).to.equal(
        s.accepted,
      );
      // Re-runs only of tasks a killed process was seen holding: stricter than
      // the checker, which gives unseen claims the benefit of the doubt.
      expect({ notAllowed: s.dupNotAllowed, noHolderSeen: result.dupDoubt }, report).to.deep.equal({
        notAllowed: 0,
        noHolderSeen: 0,
      });
      expect(s.violations.length, report).to.equal(0);
    });
  }
});
