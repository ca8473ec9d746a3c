/**
 * TensorBoard's hparams plugin records (tensorboard/plugins/hparams: plugin_data.proto, api.proto),
 * written as summaries with `metadata.plugin_data` { plugin_name: 'hparams', content:
 * HParamsPluginData }: the experiment (hyper-parameters and metrics the dashboard lists) and, per
 * run, the session start (its hyper-parameter values) and end (status). With the runs' metrics as
 * scalars beside them, the HParams dashboard shows a sweep's runs as a table. Hand-encoded: the
 * messages are a handful of fields, and no maintained JS package writes them.
 */
import { type Field, frameRecord, ProtoWriter, parseMessage } from './tensorboard.js';

export type HParamValue = string | number | boolean;

const TAGS = { experiment: '_hparams_/experiment', start: '_hparams_/session_start_info', end: '_hparams_/session_end_info' } as const;
const STATUS = { unknown: 0, success: 1, failure: 2, running: 3 } as const;
export type SessionStatus = keyof typeof STATUS;
const DATA_TYPE = { string: 1, bool: 2, number: 3 } as const;

/** google.protobuf.Value of a string, number or bool. */
function value(v: HParamValue): Uint8Array {
  const w = new ProtoWriter();
  if (typeof v === 'number') w.double(2, v);
  else if (typeof v === 'string') w.string(3, v);
  else w.int64(4, v ? 1 : 0);
  return w.finish();
}

/** One summary event carrying hparams plugin data (the tensor is TF's empty float, as its writer emits). */
function pluginEvent(wallTime: number, tag: string, pluginData: Uint8Array): Uint8Array {
  const meta = new ProtoWriter().bytes(1, new ProtoWriter().string(1, 'hparams').bytes(2, pluginData).finish()).finish();
  const zero = new Uint8Array(4);
  const tensor = new ProtoWriter().int64(1, 1).bytes(2, new Uint8Array()).bytes(5, zero).finish();
  const val = new ProtoWriter().string(1, tag).bytes(8, tensor).bytes(9, meta).finish();
  return new ProtoWriter().double(1, wallTime).int64(2, 0).bytes(5, new ProtoWriter().bytes(1, val).finish()).finish();
}

export interface HParamInfo {
  name: string;
  /** The values a sweep tries (a discrete domain). */
  values: HParamValue[];
}

/** The experiment: its hyper-parameters with their tried values and the metric tags to show. */
export function experimentEvent(wallTime: number, o: { name: string; hparams: HParamInfo[]; metrics: string[] }): Uint8Array {
  const exp = new ProtoWriter().string(6, o.name).double(3, wallTime);
  for (const h of o.hparams) {
    const type = DATA_TYPE[typeof h.values[0] as keyof typeof DATA_TYPE] ?? DATA_TYPE.string;
    const list = new ProtoWriter();
    for (const v of h.values) list.bytes(1, value(v));
    exp.bytes(4, new ProtoWriter().string(1, h.name).int64(4, type).bytes(5, list.finish()).finish());
  }
  for (const tag of o.metrics) exp.bytes(5, new ProtoWriter().bytes(1, new ProtoWriter().string(2, tag).finish()).finish());
  return pluginEvent(wallTime, TAGS.experiment, new ProtoWriter().int64(1, 0).bytes(2, exp.finish()).finish());
}

export function sessionStartEvent(wallTime: number, hparams: Record<string, HParamValue>, group = ''): Uint8Array {
  const start = new ProtoWriter();
  for (const [k, v] of Object.entries(hparams)) start.bytes(1, new ProtoWriter().string(1, k).bytes(2, value(v)).finish());
  if (group) start.string(4, group);
  start.double(5, wallTime);
  return pluginEvent(wallTime, TAGS.start, new ProtoWriter().int64(1, 0).bytes(3, start.finish()).finish());
}

export function sessionEndEvent(wallTime: number, status: SessionStatus): Uint8Array {
  const end = new ProtoWriter().int64(1, STATUS[status]).double(2, wallTime).finish();
  return pluginEvent(wallTime, TAGS.end, new ProtoWriter().int64(1, 0).bytes(4, end).finish());
}

/** Framed records of events, ready to be written as an events file. */
export function eventsFile(events: Uint8Array[]): Uint8Array {
  const recs = events.map(frameRecord);
  const out = new Uint8Array(recs.reduce((s, r) => s + r.length, 0));
  let at = 0;
  for (const r of recs) {
    out.set(r, at);
    at += r.length;
  }
  return out;
}

// ─── Reading (the tests check what was written with these) ──────────────────────────────────────

export interface DecodedHParams {
  experiment?: { name: string; hparams: { name: string; type: number; values: HParamValue[] }[]; metrics: string[] };
  sessionStart?: { hparams: Record<string, HParamValue>; group: string; startTimeSecs: number };
  sessionEnd?: { status: SessionStatus; endTimeSecs: number };
}

const dec = new TextDecoder();
const str = (f: Field) => dec.decode(f.value as Uint8Array);
const dbl = (f: Field) => new DataView(Uint8Array.from(f.value as Uint8Array).buffer).getFloat64(0, true);

function readValue(b: Uint8Array): HParamValue {
  let v: HParamValue = '';
  for (const f of parseMessage(b, 'Value')) {
    if (f.field === 2 && f.wire === 1) v = dbl(f);
    else if (f.field === 3) v = str(f);
    else if (f.field === 4) v = (f.value as bigint) !== 0n;
  }
  return v;
}

/** Decodes HParamsPluginData (an events file's hparams plugin content). */
export function decodeHParams(content: Uint8Array): DecodedHParams {
  const out: DecodedHParams = {};
  for (const f of parseMessage(content, 'HParamsPluginData')) {
    const b = f.value as Uint8Array;
    if (f.field === 2 && f.wire === 2) {
      const exp: NonNullable<DecodedHParams['experiment']> = { name: '', hparams: [], metrics: [] };
      for (const x of parseMessage(b, 'Experiment')) {
        if (x.field === 6) exp.name = str(x);
        else if (x.field === 4) {
          const h = { name: '', type: 0, values: [] as HParamValue[] };
          for (const y of parseMessage(x.value as Uint8Array, 'HParamInfo')) {
            if (y.field === 1) h.name = str(y);
            else if (y.field === 4) h.type = Number(y.value);
            else if (y.field === 5) for (const z of parseMessage(y.value as Uint8Array, 'ListValue')) h.values.push(readValue(z.value as Uint8Array));
          }
          exp.hparams.push(h);
        } else if (x.field === 5)
          for (const y of parseMessage(x.value as Uint8Array, 'MetricInfo'))
            if (y.field === 1) for (const z of parseMessage(y.value as Uint8Array, 'MetricName')) if (z.field === 2) exp.metrics.push(str(z));
      }
      out.experiment = exp;
    } else if (f.field === 3 && f.wire === 2) {
      const s = { hparams: {} as Record<string, HParamValue>, group: '', startTimeSecs: 0 };
      for (const x of parseMessage(b, 'SessionStartInfo')) {
        if (x.field === 1) {
          let k = '';
          let v: HParamValue = '';
          for (const y of parseMessage(x.value as Uint8Array, 'hparams entry')) {
            if (y.field === 1) k = str(y);
            else if (y.field === 2) v = readValue(y.value as Uint8Array);
          }
          s.hparams[k] = v;
        } else if (x.field === 4) s.group = str(x);
        else if (x.field === 5) s.startTimeSecs = dbl(x);
      }
      out.sessionStart = s;
    } else if (f.field === 4 && f.wire === 2) {
      const e = { status: 'unknown' as SessionStatus, endTimeSecs: 0 };
      for (const x of parseMessage(b, 'SessionEndInfo')) {
        if (x.field === 1) e.status = (Object.entries(STATUS).find(([, n]) => BigInt(n) === x.value)?.[0] ?? 'unknown') as SessionStatus;
        else if (x.field === 2) e.endTimeSecs = dbl(x);
      }
      out.sessionEnd = e;
    }
  }
  return out;
}
