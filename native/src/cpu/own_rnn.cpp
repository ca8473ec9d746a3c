// Recurrent ops with ONNX semantics (layout 0, default activations): LSTM (gates i, o, f, c; optional
// peepholes) and GRU (gates z, r, h; linear_before_reset either way), forward, reverse or
// bidirectional. Inputs arrive as the IR gives them: X, W, R, B, initial_h, (initial_c), (P), every
// optional one but P filled at import. Outputs Y [seq, dirs, batch, hidden], Y_h, (Y_c). Each step is
// a small matrix product written as loops: recurrent models that ship in exports have hidden sizes of
// tens to hundreds, where a per-step library call costs more than it saves.
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels.hpp"
#include "own_util.hpp"

namespace ts::cpu {

namespace {

inline float sigmoid(float v) { return 1.f / (1.f + std::exp(-v)); }

class RnnKernel : public OwnKernel {
 public:
  explicit RnnKernel(const OpSpec& s) : OwnKernel(s.op == "LSTM" ? "lstm" : "gru"), lstm_(s.op == "LSTM") {
    const std::string w = s.where();
    const Shape& x = s.ins[0].shape;
    if (x.size() != 3) unsupported(s, "X must be [seq, batch, input]");
    seq_ = x[0], batch_ = x[1], input_ = x[2];
    hidden_ = attrInt(s.attrs, "hidden_size", 0, w);
    std::string dir = attrStr(s.attrs, "direction", "forward", w);
    if (dir != "forward" && dir != "reverse" && dir != "bidirectional") unsupported(s, "direction '" + dir + "'");
    dirs_ = dir == "bidirectional" ? 2 : 1;
    reverse_ = dir == "reverse";
    linearBeforeReset_ = attrInt(s.attrs, "linear_before_reset", 0, w) != 0;
    gates_ = lstm_ ? 4 : 3;
    size_t need = lstm_ ? 6 : 5;
    if (s.ins.size() < need || s.ins.size() > need + (lstm_ ? 1 : 0)) unsupported(s, "inputs must be X, W, R, B, initial_h" + std::string(lstm_ ? ", initial_c[, P]" : ""));
    peephole_ = lstm_ && s.ins.size() == 7;
    if (s.ins[1].shape != Shape{dirs_, gates_ * hidden_, input_} || s.ins[2].shape != Shape{dirs_, gates_ * hidden_, hidden_})
      unsupported(s, "W / R shapes do not match direction, hidden_size and input size");
  }

  void run(const KernelArgs& a) const override {
    const auto* X = static_cast<const float*>(a.in[0]);
    const auto* W = static_cast<const float*>(a.in[1]);
    const auto* R = static_cast<const float*>(a.in[2]);
    const auto* B = static_cast<const float*>(a.in[3]);
    const auto* H0 = static_cast<const float*>(a.in[4]);
    const auto* C0 = lstm_ ? static_cast<const float*>(a.in[5]) : nullptr;
    const auto* P = peephole_ ? static_cast<const float*>(a.in[6]) : nullptr;
    auto* Y = static_cast<float*>(a.out[0]);
    auto* Yh = static_cast<float*>(a.out[1]);
    auto* Yc = lstm_ ? static_cast<float*>(a.out[2]) : nullptr;
    const int64_t H = hidden_, G = gates_ * H, bh = batch_ * H;
    // Directions are independent: one per thread when there are two.
    parallelFor(dirs_, a.ctx->opThreads, 1, [&](int64_t d0, int64_t d1) {
      std::vector<float> h(static_cast<size_t>(bh)), c(static_cast<size_t>(bh)), g(static_cast<size_t>(batch_ * G)), rh(static_cast<size_t>(batch_ * H));
      for (int64_t d = d0; d < d1; d++) {
        const float* Wd = W + d * G * input_;
        const float* Rd = R + d * G * H;
        const float* Wb = B + d * 2 * G;
        const float* Rb = Wb + G;
        std::memcpy(h.data(), H0 + d * bh, static_cast<size_t>(bh) * 4);
        if (lstm_) std::memcpy(c.data(), C0 + d * bh, static_cast<size_t>(bh) * 4);
        bool back = reverse_ || d == 1;
        for (int64_t step = 0; step < seq_; step++) {
          int64_t t = back ? seq_ - 1 - step : step;
          const float* xt = X + t * batch_ * input_;
          // Pre-activations: x·Wᵀ + Wb (+ h·Rᵀ + Rb, except GRU's candidate gate, done below).
          for (int64_t b = 0; b < batch_; b++)
            for (int64_t j = 0; j < G; j++) {
              float acc = Wb[j];
              const float* wr = Wd + j * input_;
              const float* xr = xt + b * input_;
              for (int64_t k = 0; k < input_; k++) acc += xr[k] * wr[k];
              bool recurrent = lstm_ || j < 2 * H;
              if (recurrent) {
                acc += Rb[j];
                const float* rr = Rd + j * H;
                const float* hr = h.data() + b * H;
                for (int64_t k = 0; k < H; k++) acc += hr[k] * rr[k];
              }
              g[static_cast<size_t>(b * G + j)] = acc;
            }
          for (int64_t b = 0; b < batch_; b++) {
            float* gb = g.data() + b * G;
            float* hb = h.data() + b * H;
            if (lstm_) {
              float* cb = c.data() + b * H;
              for (int64_t k = 0; k < H; k++) {
                float cp = cb[k];
                float i = sigmoid(gb[k] + (P ? P[d * 3 * H + k] * cp : 0.f));
                float f = sigmoid(gb[2 * H + k] + (P ? P[d * 3 * H + 2 * H + k] * cp : 0.f));
                float cn = f * cp + i * std::tanh(gb[3 * H + k]);
                float o = sigmoid(gb[H + k] + (P ? P[d * 3 * H + H + k] * cn : 0.f));
                cb[k] = cn;
                gb[k] = o * std::tanh(cn);  // the new h, written back after the loop
              }
              std::memcpy(hb, gb, static_cast<size_t>(H) * 4);
            } else {
              // Candidate gate: g(x·Whᵀ + Wbh + r ⊙ (h·Rhᵀ + Rbh)) with linear_before_reset,
              // g(x·Whᵀ + Wbh + (r ⊙ h)·Rhᵀ + Rbh) without.
              const float* Rh = Rd + 2 * H * H;
              float* rin = rh.data() + b * H;
              for (int64_t q = 0; q < H; q++) rin[q] = linearBeforeReset_ ? hb[q] : sigmoid(gb[H + q]) * hb[q];
              std::vector<float> cand(static_cast<size_t>(H));
              for (int64_t k = 0; k < H; k++) {
                float acc = Rb[2 * H + k];
                for (int64_t q = 0; q < H; q++) acc += rin[q] * Rh[k * H + q];
                cand[static_cast<size_t>(k)] = gb[2 * H + k] + (linearBeforeReset_ ? sigmoid(gb[H + k]) * acc : acc);
              }
              for (int64_t k = 0; k < H; k++) {
                float z = sigmoid(gb[k]);
                gb[k] = (1.f - z) * std::tanh(cand[static_cast<size_t>(k)]) + z * hb[k];
              }
              std::memcpy(hb, gb, static_cast<size_t>(H) * 4);
            }
          }
          for (int64_t b = 0; b < batch_; b++) std::memcpy(Y + ((t * dirs_ + d) * batch_ + b) * H, h.data() + b * H, static_cast<size_t>(H) * 4);
        }
        std::memcpy(Yh + d * bh, h.data(), static_cast<size_t>(bh) * 4);
        if (Yc) std::memcpy(Yc + d * bh, c.data(), static_cast<size_t>(bh) * 4);
      }
    });
  }

 private:
  bool lstm_;
  int64_t seq_ = 0, batch_ = 0, input_ = 0, hidden_ = 0, dirs_ = 1, gates_ = 4;
  bool reverse_ = false, linearBeforeReset_ = false, peephole_ = false;
};

}  // namespace

KernelPtr makeRnn(const OpSpec& s) {
  requireF32(s);
  return std::make_shared<RnnKernel>(s);
}

}  // namespace ts::cpu
