import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../graphs/builder.js';
import { checkSchedule, type Schedule, ScheduleError, scheduleFromString, scheduleToString, sequentialSchedule, validateSchedule } from '../graphs/schedule.js';

/** Inception-like block: a shared input feeding a 1x1, a 3x3 and a 1x1→3x3 chain, then concat. */
function block() {
  const b = new GraphBuilder('block');
  const x = b.input('x', [1, 8, 16, 16]);
  const a = b.conv(x, { out: 8, kernel: 1, name: 'a' });
  const c = b.conv(x, { out: 8, kernel: 3, pad: 1, name: 'c' });
  const d1 = b.conv(x, { out: 4, kernel: 1, name: 'd1' });
  const d2 = b.conv(d1, { out: 8, kernel: 3, pad: 1, name: 'd2' });
  const s = b.conv(x, { out: 8, kernel: 3, stride: 2, pad: 1, name: 's' });
  b.output(b.concat([a, c, d2], 1, 'cat'));
  b.output(s);
  return b.build();
}

const sched = (stages: Schedule['stages']): Schedule => ({ model: 'block', batch: 1, stages });

describe('schedules', () => {
  it('accepts sequential and parallel/merge schedules that respect dependencies', () => {
    const g = block();
    expect(checkSchedule(g, sequentialSchedule(g))).toEqual([]);
    const s = sched([
      { kind: 'merge', groups: [['a'], ['c']] },
      { kind: 'parallel', groups: [['d1', 'd2'], ['s']] },
      { kind: 'parallel', groups: [['cat']] },
    ]);
    expect(validateSchedule(g, s)).toBe(s);
  });

  it('names the node and the rule for each violation', () => {
    const g = block();
    const rules = (s: Schedule) => checkSchedule(g, s).map((v) => `${v.rule}:${v.node ?? ''}`);
    expect(rules(sched([{ kind: 'parallel', groups: [['a', 'c', 'd1', 'd2', 's', 'cat']] }]))).toEqual([]);
    expect(rules(sched([{ kind: 'parallel', groups: [['a', 'c', 'd2', 'd1', 's', 'cat']] }]))).toEqual(['chain-order:d2']);
    expect(
      rules(
        sched([
          { kind: 'parallel', groups: [['a', 'c', 'd1', 's'], ['d2']] },
          { kind: 'parallel', groups: [['cat']] },
        ]),
      ),
    ).toEqual(['concurrent-dependency:d2']);
    expect(
      rules(
        sched([
          { kind: 'parallel', groups: [['cat']] },
          { kind: 'parallel', groups: [['a', 'c', 'd1', 'd2', 's']] },
        ]),
      ),
    ).toEqual(['stage-order:cat', 'stage-order:cat', 'stage-order:cat']);
    expect(rules(sched([{ kind: 'parallel', groups: [['a', 'c', 'd1', 'd2', 's', 'cat', 'a', 'zz']] }]))).toEqual(['duplicate-node:a', 'unknown-node:zz']);
    expect(rules(sched([{ kind: 'parallel', groups: [['a', 'c', 'd1', 'd2', 'cat']] }]))).toEqual(['missing-node:s']);
    expect(rules(sched([{ kind: 'parallel', groups: [] }, ...sequentialSchedule(g).stages]))).toEqual(['empty-stage:']);
    // Merge: different strides, a non-conv, a dependent pair.
    const merged = (groups: string[][]) =>
      rules(sched([{ kind: 'merge', groups }, ...sequentialSchedule(g).stages.filter((st) => !groups.flat().includes(st.groups[0][0]))]));
    expect(merged([['a'], ['s']])).toEqual(['merge:a']);
    expect(merged([['a'], ['c'], ['d1']])).toEqual([]);
    expect(merged([['d1'], ['d2']])).toEqual(['merge:d1', 'concurrent-dependency:d2']);
  });

  it('throws a ScheduleError quoting the violations', () => {
    const g = block();
    expect(() => validateSchedule(g, { ...sequentialSchedule(g), model: 'other' })).toThrow(ScheduleError);
    expect(() => validateSchedule(g, { ...sequentialSchedule(g), model: 'other' })).toThrow(/\[format\] schedule is for model 'other', graph is 'block'/);
  });

  it('round-trips through JSON and rejects foreign documents', () => {
    const g = block();
    const s = sequentialSchedule(g);
    expect(scheduleFromString(scheduleToString(s))).toEqual(s);
    expect(() => scheduleFromString('{"stages": []}', 'plan.json')).toThrow(/plan.json: not a topsched schedule/);
  });
});
