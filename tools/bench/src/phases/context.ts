import type { Profile } from '../profile';
import type { Target } from '../target';

export interface PhaseContext {
  target: Target;
  profile: Profile;
  /** Unique to this run and part of every title and content it creates, so runs on one stack never mix. */
  marker: string;
  /** Where services started by a phase write their logs. */
  logDir: string;
  /** A line of progress for the operator (stderr). */
  progress: (message: string) => void;
}
