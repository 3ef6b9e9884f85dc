/** The measurements and checks every phase hands to the report. */

export type Unit = 'creates/s' | 'sends/s' | 'events/s' | 'ms' | 's' | 'MB' | 'B' | 'count' | 'ratio';

export interface Goal {
  comparison: '>=' | '<=' | '=';
  value: number;
}

export interface Metric {
  /** Stable key for the JSON, e.g. `creates.c50.rate`. */
  key: string;
  label: string;
  /** null: not measured (see note). */
  value: number | null;
  unit: Unit;
  goal?: Goal;
  note?: string;
}

/** A correctness property (never a speed): fails the smoke test and makes the CLI exit with 1. */
export interface Check {
  key: string;
  label: string;
  ok: boolean;
  detail: string;
}

export interface PhaseOutcome<Details = unknown> {
  metrics: Metric[];
  checks: Check[];
  /** How the phase measured, in a sentence or two each (for the method notes). */
  notes: string[];
  details: Details;
}

/** Whether a measurement meets its goal; undefined when there is no goal or no value. */
export function meetsGoal({ value, goal }: Metric): boolean | undefined {
  if (goal === undefined || value === null) return undefined;
  switch (goal.comparison) {
    case '>=':
      return value >= goal.value;
    case '<=':
      return value <= goal.value;
    case '=':
      return value === goal.value;
  }
}

export const atLeast = (value: number): Goal => ({ comparison: '>=', value });
export const atMost = (value: number): Goal => ({ comparison: '<=', value });
export const exactly = (value: number): Goal => ({ comparison: '=', value });

export function notMeasured(key: string, label: string, unit: Unit, note: string): Metric {
  return { key, label, value: null, unit, note };
}
