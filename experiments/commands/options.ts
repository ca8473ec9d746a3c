/** Option parsers that reject bad values with the option's name (commander shows the message). */
import { InvalidArgumentError } from 'commander';

export function intOption(name: string, min = 1) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} expects an integer >= ${min}, got '${value}'`);
    return n;
  };
}

export function choiceOption<T extends string>(name: string, choices: readonly T[]) {
  return (value: string): T => {
    if (!choices.includes(value as T)) throw new InvalidArgumentError(`${name} expects one of ${choices.join(' | ')}, got '${value}'`);
    return value as T;
  };
}

/** A finite number > 0 (or ≥ `min` when given), e.g. seconds of env time. */
export function numberOption(name: string, min?: number) {
  return (value: string): number => {
    const n = Number(value);
    const ok = value.trim() !== '' && Number.isFinite(n) && (min === undefined ? n > 0 : n >= min);
    if (!ok) throw new InvalidArgumentError(`${name} expects a number ${min === undefined ? '> 0' : `>= ${min}`}, got '${value}'`);
    return n;
  };
}
