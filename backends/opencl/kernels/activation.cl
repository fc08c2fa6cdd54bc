// The activations a layer applies last: in the GEMM's and the grouped convolution's epilogue
// (conv.cl) and in the element-wise kernel (elementwise.cl), which is why this file comes first in
// the program. Codes are the host's ActivationCode (opencl_backend.cpp); the definitions are
// models/graph.h's ApplyActivation. OpenCL C 1.2 has no overloading, so one body defines the
// scalar Activate and the float16 Activate16 (the GEMM's vector stores): both compute the same
// function, with builtins that take a vector and scalar parameters alike.

#define ACT_NONE 0
#define ACT_RELU 1
#define ACT_CLIP 2
#define ACT_SIGMOID 3
#define ACT_HARD_SIGMOID 4
#define ACT_HARD_SWISH 5
#define ACT_TANH 6
#define ACT_LEAKY_RELU 7
#define ACT_ELU 8

// Clip is fmin(fmax()) rather than clamp: clamp is undefined for bounds in the wrong order, which
// ApplyActivation defines (the upper bound wins).
#define DEFINE_ACTIVATE(NAME, T)                                                  \
  inline T NAME(const T x, const int kind, const float alpha, const float beta) { \
    switch (kind) {                                                               \
      case ACT_RELU:                                                              \
        return fmax(x, 0.0f);                                                     \
      case ACT_CLIP:                                                              \
        return fmin(fmax(x, alpha), beta);                                        \
      case ACT_SIGMOID:                                                           \
        return 1.0f / (1.0f + exp(-x));                                           \
      case ACT_HARD_SIGMOID:                                                      \
        return fmin(fmax(alpha * x + beta, 0.0f), 1.0f);                          \
      case ACT_HARD_SWISH:                                                        \
        return x * fmin(fmax(x / 6.0f + 0.5f, 0.0f), 1.0f);                       \
      case ACT_TANH:                                                              \
        return tanh(x);                                                           \
      case ACT_LEAKY_RELU:                                                        \
        return select(x, alpha * x, x < 0.0f);                                    \
      case ACT_ELU:                                                               \
        return select(x, alpha * expm1(x), x < 0.0f);                             \
      case ACT_NONE:                                                              \
      default:                                                                    \
        return x;                                                                 \
    }                                                                             \
  }

DEFINE_ACTIVATE(Activate, float)
DEFINE_ACTIVATE(Activate16, float16)
