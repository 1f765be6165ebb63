// optbridge's single-pass TensorFlow CPU kernels (see native/__init__.py).
//
// Each op updates one variable and its slots in ONE pass over memory, evaluating the
// canonical op order of its optbridge algorithm element by element, every operation
// rounded separately in the variable's dtype (built with -ffp-contract=off: no fused
// multiply-add; sqrt and division are IEEE 754 correctly rounded). The per-step
// constants arrive in one 1-D `scalars` tensor of the variable's dtype, so nothing is
// formed in here (unlike TensorFlow's ApplyAdam, which forms 1 - beta itself).
//
// Variables are read and written exactly as TensorFlow's own training ops do
// (tensorflow/core/kernels/training_ops.cc): locks in address order, copy-on-write when
// a read still holds the buffer (training_op_helpers.h).
#define EIGEN_USE_THREADS

#include <array>
#include <cmath>
#include <utility>
#include <string>
#include <vector>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/resource_var.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/kernels/training_op_helpers.h"

namespace tensorflow {
namespace {

using CPUDevice = Eigen::ThreadPoolDevice;

enum Decay { kNoDecay = 0, kDecoupled = 1, kKeras = 2 };

absl::Status NoOutputs(shape_inference::InferenceContext*) { return absl::OkStatus(); }

Decay ParseDecay(const std::string& s) {
  if (s == "decoupled") return kDecoupled;
  if (s == "keras") return kKeras;
  return kNoDecay;
}

// Step 0 of every kernel: p*decay ("decoupled") or p - (p*wd)*lr ("keras").
template <typename T>
inline T Decayed(int decay, T p, T wd, T lr, T factor) {
  if (decay == kDecoupled) return p * factor;
  if (decay == kKeras) return p - (p * wd) * lr;
  return p;
}

// max(a, b) that propagates NaN from either side (numpy.maximum).
template <typename T>
inline T MaxNaN(T a, T b) {
  return (a > b || a != a) ? a : b;
}

// Locks `ids` (resource inputs), fetches each as an updatable tensor, checks shapes
// against the gradient at input `grad_id` and the scalar vector at `grad_id + 1`.
template <typename T>
bool Prepare(OpKernelContext* ctx, const std::vector<int>& ids, int grad_id, int n_scalars,
             std::vector<Tensor>* tensors) {
  tensors->resize(ids.size());
  for (size_t k = 0; k < ids.size(); ++k) {
    absl::Status s = GetInputTensorFromVariable<CPUDevice, T>(ctx, ids[k], false, false, &(*tensors)[k]);
    if (!s.ok()) {
      ctx->CtxFailure(s);
      return false;
    }
    if (!(*tensors)[k].IsInitialized()) {
      ctx->CtxFailure(absl::FailedPreconditionError("optbridge native op: a variable is not initialized"));
      return false;
    }
    if ((*tensors)[k].dtype() != DataTypeToEnum<T>::value) {
      ctx->CtxFailure(absl::InvalidArgumentError("optbridge native op: a variable's dtype is " +
                                                 DataTypeString((*tensors)[k].dtype()) + ", the gradient's " +
                                                 DataTypeString(DataTypeToEnum<T>::value)));
      return false;
    }
  }
  const Tensor& grad = ctx->input(grad_id);
  for (size_t k = 0; k < ids.size(); ++k) {
    if (!(*tensors)[k].shape().IsSameSize(grad.shape())) {
      ctx->CtxFailure(absl::InvalidArgumentError(
          "optbridge native op: variable and gradient shapes differ: " + (*tensors)[k].shape().DebugString() +
          " vs " + grad.shape().DebugString()));
      return false;
    }
  }
  const Tensor& scalars = ctx->input(grad_id + 1);
  if (scalars.dims() != 1 || scalars.NumElements() != n_scalars) {
    ctx->CtxFailure(absl::InvalidArgumentError("optbridge native op: scalars must be a vector of " +
                                               std::to_string(n_scalars) + " elements"));
    return false;
  }
  return true;
}

// Runs run(args, begin, end) over [0, n) on the op's intra-op thread pool.
template <typename Args>
void ParallelFor(OpKernelContext* ctx, int64_t n, double bytes_loaded, double bytes_stored, double cycles,
                 void (*run)(const Args&, int64_t, int64_t), const Args& args) {
  const CPUDevice& d = ctx->eigen_device<CPUDevice>();
  d.parallelFor(n, Eigen::TensorOpCost(bytes_loaded, bytes_stored, cycles),
                [run, &args](Eigen::Index begin, Eigen::Index end) { run(args, begin, end); });
}

// A table of kernel instantiations, one per flag code 0 .. N-1 (Loop<Code> decodes it at
// compile time, so every loop is straight-line code the compiler vectorizes).
template <typename Args, template <int> class Loop, size_t... Codes>
constexpr std::array<void (*)(const Args&, int64_t, int64_t), sizeof...(Codes)> LoopTable(
    std::index_sequence<Codes...>) {
  return {&Loop<Codes>::Run...};
}

// ---------------------------------------------------------------------------------
// OptbridgeAdam: canonical adam, eps_placement="hat", moment_form "lerp"/"keras".
// scalars = [step_size, one_minus_beta1, one_minus_beta2, eps, beta1, lr, weight_decay, decay]
//   0. p = decayed(p)
//   1. m = m + (g - m)*(1 - b1)      2. v = v + (g*g - v)*(1 - b2)
//   3. amsgrad: vh = max(vh, v)      4. n = nesterov ? m*b1 + (1 - b1)*g : m
//   5. p = p - (step_size*n)/(sqrt(v or vh) + eps)
REGISTER_OP("OptbridgeAdam")
    .Input("var: resource")
    .Input("m: resource")
    .Input("v: resource")
    .Input("vhat: resource")
    .Input("grad: T")
    .Input("scalars: T")
    .Attr("T: {float, double}")
    .Attr("decay: {'none', 'decoupled', 'keras'} = 'none'")
    .Attr("amsgrad: bool = false")
    .Attr("nesterov: bool = false")
    .SetShapeFn(NoOutputs);

template <typename T>
struct AdamArgs {
  T* p;
  T* m;
  T* v;
  T* vh;
  const T* g;
  T step, c1, c2, eps, b1, lr, wd, factor;
};

// Code = decay + 3*amsgrad + 6*nesterov.
template <typename T>
struct AdamLoop {
  template <int Code>
  struct At {
    static void Run(const AdamArgs<T>& a, int64_t begin, int64_t end) {
      constexpr int kDecay = Code % 3;
      constexpr bool kAmsgrad = (Code / 3) % 2;
      constexpr bool kNesterov = (Code / 6) % 2;
      T* __restrict__ p = a.p;
      T* __restrict__ m = a.m;
      T* __restrict__ v = a.v;
      T* __restrict__ vh = a.vh;
      const T* __restrict__ g = a.g;
      for (int64_t i = begin; i < end; ++i) {
        const T gi = g[i];
        const T pi = Decayed(kDecay, p[i], a.wd, a.lr, a.factor);
        const T mi = m[i] + (gi - m[i]) * a.c1;
        const T vi = v[i] + (gi * gi - v[i]) * a.c2;
        m[i] = mi;
        v[i] = vi;
        T second = vi;
        if (kAmsgrad) {
          second = MaxNaN(vh[i], vi);
          vh[i] = second;
        }
        const T num = kNesterov ? mi * a.b1 + a.c1 * gi : mi;
        p[i] = pi - (a.step * num) / (std::sqrt(second) + a.eps);
      }
    }
  };
};

template <typename T>
class AdamOp : public OpKernel {
 public:
  explicit AdamOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    std::string decay;
    bool amsgrad, nesterov;
    OP_REQUIRES_OK(ctx, ctx->GetAttr("decay", &decay));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("amsgrad", &amsgrad));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("nesterov", &nesterov));
    amsgrad_ = amsgrad;
    code_ = ParseDecay(decay) + 3 * amsgrad + 6 * nesterov;
  }

  void Compute(OpKernelContext* ctx) override {
    std::vector<int> ids = {0, 1, 2};
    if (amsgrad_) ids.push_back(3);
    auto locks = MaybeLockVariableInputMutexesInOrder<CPUDevice, T>(ctx, false, false, ids);
    std::vector<Tensor> t;
    if (!Prepare<T>(ctx, ids, 4, 8, &t)) return;
    const auto s = ctx->input(5).flat<T>();
    const AdamArgs<T> a{t[0].flat<T>().data(), t[1].flat<T>().data(), t[2].flat<T>().data(),
                        amsgrad_ ? t[3].flat<T>().data() : nullptr, ctx->input(4).flat<T>().data(),
                        s(0), s(1), s(2), s(3), s(4), s(5), s(6), s(7)};
    static constexpr auto kTable =
        LoopTable<AdamArgs<T>, AdamLoop<T>::template At>(std::make_index_sequence<12>{});
    ParallelFor(ctx, t[0].NumElements(), sizeof(T) * (amsgrad_ ? 5 : 4), sizeof(T) * (amsgrad_ ? 4 : 3), 30,
                kTable[code_], a);
  }

 private:
  bool amsgrad_;
  int code_;
};

// ---------------------------------------------------------------------------------
// OptbridgeRMSProp: canonical rmsprop, every flag.
// scalars = [lr, alpha, one_minus_alpha, eps, momentum, weight_decay, decay]
//   0. p = decayed(p)
//   1. v: torch v*rho + (omr*g)*g | mindspore v + (g*g - v)*omr | keras rho*v + omr*(g*g)
//   2. centered: ga: torch lerp(ga, g, omr) (ATen: ga + omr*(g - ga) for |omr| < 0.5, else
//      g - (g - ga)*(1 - omr)) | mindspore ga + (g - ga)*omr | keras rho*ga + omr*g;
//      s = v - ga*ga (else s = v)
//   3. d = sqrt(s) + eps (eps outside) | sqrt(s + eps), keep = s + eps > 0 (MindSpore centered)
//   4. lr outside: momentum: b = b*mu + g/d, p = p - b*lr; else p = p - (lr*g)/d
//      lr inside: u = (g*lr)/d (0 where not keep); momentum: b = b*mu + u, p = p - b;
//      else p = p - u; elements not kept keep their momentum buffer and parameter
REGISTER_OP("OptbridgeRMSProp")
    .Input("var: resource")
    .Input("square_avg: resource")
    .Input("grad_avg: resource")
    .Input("momentum_buffer: resource")
    .Input("grad: T")
    .Input("scalars: T")
    .Attr("T: {float, double}")
    .Attr("decay: {'none', 'decoupled', 'keras'} = 'none'")
    .Attr("arithmetic: {'torch', 'mindspore', 'keras'}")
    .Attr("centered: bool = false")
    .Attr("eps_inside: bool = false")
    .Attr("lr_inside: bool = false")
    .Attr("use_momentum: bool = false")
    .SetShapeFn(NoOutputs);

enum Arithmetic { kTorch = 0, kMindSpore = 1, kKerasArithmetic = 2 };

template <typename T>
struct RMSPropArgs {
  T* p;
  T* v;
  T* ga;
  T* b;
  const T* g;
  T lr, rho, omr, eps, mu, wd, factor, one_minus_w;
  bool small_w;
};

// Code = decay + 3*arithmetic + 9*centered + 18*eps_inside + 36*lr_inside + 72*momentum.
template <typename T>
struct RMSPropLoop {
  template <int Code>
  struct At {
    static void Run(const RMSPropArgs<T>& a, int64_t begin, int64_t end) {
      constexpr int kDecay = Code % 3;
      constexpr int kArith = (Code / 3) % 3;
      constexpr bool kCentered = (Code / 9) % 2;
      constexpr bool kEpsInside = (Code / 18) % 2;
      constexpr bool kLrInside = (Code / 36) % 2;
      constexpr bool kMomentum = (Code / 72) % 2;
      constexpr bool kKeep = kCentered && kArith == kMindSpore && kEpsInside;
      T* __restrict__ p = a.p;
      T* __restrict__ v = a.v;
      T* __restrict__ ga = a.ga;
      T* __restrict__ b = a.b;
      const T* __restrict__ g = a.g;
      for (int64_t i = begin; i < end; ++i) {
        const T gi = g[i];
        const T pi = Decayed(kDecay, p[i], a.wd, a.lr, a.factor);
        T vi;
        if (kArith == kTorch) {
          vi = v[i] * a.rho + (a.omr * gi) * gi;
        } else if (kArith == kMindSpore) {
          vi = v[i] + (gi * gi - v[i]) * a.omr;
        } else {
          vi = a.rho * v[i] + a.omr * (gi * gi);
        }
        v[i] = vi;
        T sq = vi;
        if (kCentered) {
          T gai;
          if (kArith == kTorch) {
            const T diff = gi - ga[i];
            gai = a.small_w ? ga[i] + a.omr * diff : gi - diff * a.one_minus_w;
          } else if (kArith == kMindSpore) {
            gai = ga[i] + (gi - ga[i]) * a.omr;
          } else {
            gai = a.rho * ga[i] + a.omr * gi;
          }
          ga[i] = gai;
          sq = vi - gai * gai;
        }
        bool keep = true;
        T d;
        if (kEpsInside) {
          const T inner = sq + a.eps;
          if (kKeep) keep = inner > T(0);
          d = std::sqrt(inner);
        } else {
          d = std::sqrt(sq) + a.eps;
        }
        if (!kLrInside) {
          if (kMomentum) {
            const T bi = b[i] * a.mu + gi / d;
            b[i] = bi;
            p[i] = pi - bi * a.lr;
          } else {
            p[i] = pi - (a.lr * gi) / d;
          }
        } else if (kMomentum) {
          const T bi = b[i] * a.mu + (gi * a.lr) / d;
          b[i] = keep ? bi : b[i];
          p[i] = keep ? pi - bi : pi;
        } else {
          p[i] = pi - (keep ? (gi * a.lr) / d : T(0));
        }
      }
    }
  };
};

template <typename T>
class RMSPropOp : public OpKernel {
 public:
  explicit RMSPropOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    std::string decay, arithmetic;
    bool eps_inside, lr_inside;
    OP_REQUIRES_OK(ctx, ctx->GetAttr("decay", &decay));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("arithmetic", &arithmetic));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("centered", &centered_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("eps_inside", &eps_inside));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("lr_inside", &lr_inside));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("use_momentum", &momentum_));
    const int arith = arithmetic == "torch" ? kTorch : arithmetic == "mindspore" ? kMindSpore : kKerasArithmetic;
    code_ = ParseDecay(decay) + 3 * arith + 9 * centered_ + 18 * eps_inside + 36 * lr_inside + 72 * momentum_;
  }

  void Compute(OpKernelContext* ctx) override {
    std::vector<int> ids = {0, 1};
    if (centered_) ids.push_back(2);
    if (momentum_) ids.push_back(3);
    auto locks = MaybeLockVariableInputMutexesInOrder<CPUDevice, T>(ctx, false, false, ids);
    std::vector<Tensor> t;
    if (!Prepare<T>(ctx, ids, 4, 7, &t)) return;
    const auto s = ctx->input(5).flat<T>();
    size_t next = 2;
    T* ga = centered_ ? t[next++].flat<T>().data() : nullptr;
    T* b = momentum_ ? t[next++].flat<T>().data() : nullptr;
    const T omr = s(2);
    const RMSPropArgs<T> a{t[0].flat<T>().data(), t[1].flat<T>().data(), ga, b, ctx->input(4).flat<T>().data(),
                           s(0), s(1), omr, s(3), s(4), s(5), s(6), T(1) - omr, std::abs(omr) < T(0.5)};
    static constexpr auto kTable =
        LoopTable<RMSPropArgs<T>, RMSPropLoop<T>::template At>(std::make_index_sequence<144>{});
    ParallelFor(ctx, t[0].NumElements(), sizeof(T) * (next + 1), sizeof(T) * next, 40, kTable[code_], a);
  }

 private:
  bool centered_, momentum_;
  int code_;
};

// ---------------------------------------------------------------------------------
// OptbridgeAdagrad: canonical adagrad, every flag.
// scalars = [clr, eps, lr, weight_decay, decay]
//   0. p = decayed(p)     1. update_slots: s = s + g*g
//   2. d = sqrt(s) + eps ("outside") | sqrt(s + eps) ("inside") | sqrt(s) ("none")
//   3. p = p - (clr*g)/d
REGISTER_OP("OptbridgeAdagrad")
    .Input("var: resource")
    .Input("sum: resource")
    .Input("grad: T")
    .Input("scalars: T")
    .Attr("T: {float, double}")
    .Attr("decay: {'none', 'decoupled', 'keras'} = 'none'")
    .Attr("eps_placement: {'outside', 'inside', 'none'}")
    .Attr("update_slots: bool = true")
    .SetShapeFn(NoOutputs);

template <typename T>
struct AdagradArgs {
  T* p;
  T* acc;
  const T* g;
  T clr, eps, lr, wd, factor;
};

// Code = decay + 3*placement (outside, inside, none) + 9*update_slots.
template <typename T>
struct AdagradLoop {
  template <int Code>
  struct At {
    static void Run(const AdagradArgs<T>& a, int64_t begin, int64_t end) {
      constexpr int kDecay = Code % 3;
      constexpr int kPlacement = (Code / 3) % 3;
      constexpr bool kUpdate = (Code / 9) % 2;
      T* __restrict__ p = a.p;
      T* __restrict__ acc = a.acc;
      const T* __restrict__ g = a.g;
      for (int64_t i = begin; i < end; ++i) {
        const T gi = g[i];
        const T pi = Decayed(kDecay, p[i], a.wd, a.lr, a.factor);
        T si = acc[i];
        if (kUpdate) {
          si = si + gi * gi;
          acc[i] = si;
        }
        T d;
        if (kPlacement == 0) {
          d = std::sqrt(si) + a.eps;
        } else if (kPlacement == 1) {
          d = std::sqrt(si + a.eps);
        } else {
          d = std::sqrt(si);
        }
        p[i] = pi - (a.clr * gi) / d;
      }
    }
  };
};

template <typename T>
class AdagradOp : public OpKernel {
 public:
  explicit AdagradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    std::string decay, placement;
    OP_REQUIRES_OK(ctx, ctx->GetAttr("decay", &decay));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("eps_placement", &placement));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("update_slots", &update_slots_));
    const int where = placement == "outside" ? 0 : placement == "inside" ? 1 : 2;
    code_ = ParseDecay(decay) + 3 * where + 9 * update_slots_;
  }

  void Compute(OpKernelContext* ctx) override {
    const std::vector<int> ids = {0, 1};
    auto locks = MaybeLockVariableInputMutexesInOrder<CPUDevice, T>(ctx, false, false, ids);
    std::vector<Tensor> t;
    if (!Prepare<T>(ctx, ids, 2, 5, &t)) return;
    const auto s = ctx->input(3).flat<T>();
    const AdagradArgs<T> a{t[0].flat<T>().data(), t[1].flat<T>().data(), ctx->input(2).flat<T>().data(),
                           s(0), s(1), s(2), s(3), s(4)};
    static constexpr auto kTable =
        LoopTable<AdagradArgs<T>, AdagradLoop<T>::template At>(std::make_index_sequence<18>{});
    ParallelFor(ctx, t[0].NumElements(), sizeof(T) * 3, sizeof(T) * (update_slots_ ? 2 : 1), 25,
                kTable[code_], a);
  }

 private:
  bool update_slots_;
  int code_;
};

#define OPTBRIDGE_REGISTER(T)                                                                   \
  REGISTER_KERNEL_BUILDER(Name("OptbridgeAdam").Device(DEVICE_CPU).TypeConstraint<T>("T"),     \
                          AdamOp<T>);                                                           \
  REGISTER_KERNEL_BUILDER(Name("OptbridgeRMSProp").Device(DEVICE_CPU).TypeConstraint<T>("T"),  \
                          RMSPropOp<T>);                                                        \
  REGISTER_KERNEL_BUILDER(Name("OptbridgeAdagrad").Device(DEVICE_CPU).TypeConstraint<T>("T"),  \
                          AdagradOp<T>);

OPTBRIDGE_REGISTER(float)
OPTBRIDGE_REGISTER(double)

}  // namespace
}  // namespace tensorflow
