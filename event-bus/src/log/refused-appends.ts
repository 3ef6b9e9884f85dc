import type { Logger } from '@blog/common';
import type { EventLogHealth } from './event-log';

/** Why a log refused appends: a code for the metrics (ENOSPC, TIMEOUT…) and words for the publisher. */
export interface AppendFault {
  code: string;
  message: string;
}

/**
 * Whether a log is refusing appends, and since when: one error line when refusals start, a warning with
 * their count and duration when an append is stored again.
 */
export class RefusedAppends {
  private fault: { code: string; reason: string; since: number; refused: number } | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly onFault: ((code: string) => void) | undefined,
    private readonly lastSeq: () => number,
  ) {}

  health(): EventLogHealth {
    return this.fault ? { writable: false, reason: this.fault.reason } : { writable: true };
  }

  /** `count` appends were refused for `fault`. */
  refused(fault: AppendFault, count: number): void {
    this.onFault?.(fault.code);
    if (this.fault?.code === fault.code) {
      this.fault.refused += count;
      return;
    }
    this.fault = {
      code: fault.code,
      reason: fault.message,
      since: this.fault?.since ?? Date.now(),
      refused: (this.fault?.refused ?? 0) + count,
    };
    this.logger.error(
      { code: fault.code, reason: fault.message, lastSeq: this.lastSeq() },
      'event log cannot write: refusing appends until a write succeeds',
    );
  }

  /** An append was stored. */
  stored(): void {
    if (!this.fault) return;
    const { since, refused } = this.fault;
    this.fault = undefined;
    this.logger.warn(
      { refusedAppends: refused, unwritableMs: Date.now() - since, lastSeq: this.lastSeq() },
      'event log writable again',
    );
  }
}
