/** Something due at a moment: what time brings, collected by each resource and run in time order. */
export interface Task {
  at: number;
  /** Order of tasks due at the same second: phase changes before renewals, etc. */
  priority: number;
  customer: string;
  run: () => void;
}
