/** Option parsers that reject bad values with the option's name (commander shows the message). */
import { InvalidArgumentError } from 'commander';
import { parseInputShape, parseInputValue } from '../../graphs/onnx/import.js';

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

/**
 * A repeatable `--flag name=v0,v1,…` option: accumulates into a record; a parse error or a repeated
 * name is commander's InvalidArgumentError. Use with commander's (value, previous) form and `{}`.
 */
function namedListOption(flag: string, parse: (arg: string) => [string, number[]]) {
  return (value: string, previous: Record<string, number[]> = {}): Record<string, number[]> => {
    let parsed: [string, number[]];
    try {
      parsed = parse(value);
    } catch (e) {
      throw new InvalidArgumentError((e as Error).message);
    }
    const [name, list] = parsed;
    if (Object.hasOwn(previous, name)) throw new InvalidArgumentError(`${flag} gives '${name}' twice`);
    return { ...previous, [name]: list };
  };
}

/** Repeatable `--input-shape name=d0,d1,…`. */
export const inputShapeOption = namedListOption('--input-shape', parseInputShape);
/** Repeatable `--input-value name=v0,v1,…`. */
export const inputValueOption = namedListOption('--input-value', parseInputValue);

export const INPUT_VALUE_HELP =
  'a fixed value of an ONNX input, repeatable: name=v0,v1,… (the input becomes a constant, so what reads it folds, e.g. sr=16000)';

export const INPUT_SHAPE_HELP = 'shape of a dynamic ONNX input, repeatable: name=d0,d1,… (binds its symbolic dims for every input sharing them)';
