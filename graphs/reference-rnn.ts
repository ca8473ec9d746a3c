/**
 * LSTM and GRU for the reference evaluator, straight from the ONNX operator definitions (layout 0,
 * default activations, gates i-o-f-c and z-r-h), in float64. Inputs as the IR holds them (ops.ts).
 */
import type { Node } from './ir.js';

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

export function recurrentReference(node: Node, ins: { shape: number[]; data: Float32Array }[]): Float32Array[] {
  const lstm = node.op === 'LSTM';
  const [seq, batch, input] = ins[0].shape;
  const H = node.attrs.hidden_size as number;
  const direction = (node.attrs.direction as string | undefined) ?? 'forward';
  const dirs = direction === 'bidirectional' ? 2 : 1;
  const lbr = !!node.attrs.linear_before_reset;
  const G = (lstm ? 4 : 3) * H;
  const [X, W, R, B, H0] = ins.map((t) => t.data);
  const C0 = lstm ? ins[5].data : undefined;
  const P = lstm && ins[6] ? ins[6].data : undefined;
  const Y = new Float32Array(seq * dirs * batch * H);
  const Yh = new Float32Array(dirs * batch * H);
  const Yc = new Float32Array(dirs * batch * H);
  for (let d = 0; d < dirs; d++) {
    const h = Float64Array.from(H0.subarray(d * batch * H, (d + 1) * batch * H));
    const c = C0 ? Float64Array.from(C0.subarray(d * batch * H, (d + 1) * batch * H)) : new Float64Array(batch * H);
    const back = direction === 'reverse' || d === 1;
    // Row j of (x·Wᵀ + Wb) or (h·Rᵀ + Rb) for batch item b.
    const xw = (t: number, b: number, j: number) => {
      let s = B[d * 2 * G + j];
      for (let k = 0; k < input; k++) s += X[(t * batch + b) * input + k] * W[(d * G + j) * input + k];
      return s;
    };
    const hr = (v: ArrayLike<number>, b: number, j: number) => {
      let s = B[d * 2 * G + G + j];
      for (let k = 0; k < H; k++) s += v[b * H + k] * R[(d * G + j) * H + k];
      return s;
    };
    for (let step = 0; step < seq; step++) {
      const t = back ? seq - 1 - step : step;
      const hn = new Float64Array(batch * H);
      for (let b = 0; b < batch; b++) {
        if (lstm) {
          for (let k = 0; k < H; k++) {
            const cp = c[b * H + k];
            const peep = (q: number, v: number) => (P ? P[d * 3 * H + q * H + k] * v : 0);
            const i = sigmoid(xw(t, b, k) + hr(h, b, k) + peep(0, cp));
            const f = sigmoid(xw(t, b, 2 * H + k) + hr(h, b, 2 * H + k) + peep(2, cp));
            const cn = f * cp + i * Math.tanh(xw(t, b, 3 * H + k) + hr(h, b, 3 * H + k));
            const o = sigmoid(xw(t, b, H + k) + hr(h, b, H + k) + peep(1, cn));
            c[b * H + k] = cn;
            hn[b * H + k] = o * Math.tanh(cn);
          }
        } else {
          const r = Array.from({ length: H }, (_, k) => sigmoid(xw(t, b, H + k) + hr(h, b, H + k)));
          const rh = new Float64Array(batch * H);
          for (let k = 0; k < H; k++) rh[b * H + k] = r[k] * h[b * H + k];
          for (let k = 0; k < H; k++) {
            const z = sigmoid(xw(t, b, k) + hr(h, b, k));
            const cand = Math.tanh(xw(t, b, 2 * H + k) + (lbr ? r[k] * hr(h, b, 2 * H + k) : hr(rh, b, 2 * H + k)));
            hn[b * H + k] = (1 - z) * cand + z * h[b * H + k];
          }
        }
      }
      h.set(hn);
      for (let b = 0; b < batch; b++) for (let k = 0; k < H; k++) Y[((t * dirs + d) * batch + b) * H + k] = h[b * H + k];
    }
    Yh.set(h, d * batch * H);
    Yc.set(c, d * batch * H);
  }
  return lstm ? [Y, Yh, Yc] : [Y, Yh];
}
