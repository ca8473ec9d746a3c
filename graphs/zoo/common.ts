/**
 * Option checks shared by the zoo builders, so a bad batch or resolution fails with the model's
 * name and the option rather than deep inside shape inference.
 */
import { GraphError } from '../ir.js';

/** Returns `value` when it is a positive integer, else throws naming the model and the option. */
export function positiveInt(model: string, option: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new GraphError(`option '${option}' must be a positive integer, got ${value}`, `zoo model '${model}'`);
  return value;
}
