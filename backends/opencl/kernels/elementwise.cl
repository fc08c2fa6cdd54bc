// Element-wise layers that fusion could not absorb, and the softmax head.

// out = a + b (b may be null-like: `has_b` 0), then ReLU when `relu`. Covers a standalone ReLU
// and an Add whose operands fusion could not fold into a convolution.
__kernel __attribute__((reqd_work_group_size(ELEMENT_GROUP, 1, 1))) void add_relu(__global const float* restrict a, __global const float* restrict b,
                       __global float* restrict out, const int has_b, const int relu,
                       const int total) {
  const int i = get_global_id(0);
  if (i >= total) return;
  float v = a[i];
  if (has_b) v += b[i];
  out[i] = relu ? fmax(v, 0.0f) : v;
}

// A batch normalisation that did not follow a convolution, folded at compile into a per-channel
// affine map: out = x * scale[c] + shift[c] over NCHW.
__kernel __attribute__((reqd_work_group_size(ELEMENT_GROUP, 1, 1))) void channel_affine(__global const float* restrict in, __global const float* restrict scale,
                             __global const float* restrict shift, __global float* restrict out,
                             const int channels, const int plane, const int total) {
  const int i = get_global_id(0);
  if (i >= total) return;
  const int c = (i / plane) % channels;
  out[i] = in[i] * scale[c] + shift[c];
}

// Softmax over each row of [N][features]: one work-item per row (the head is tiny). The
// maximum is subtracted first so that exp never overflows.
__kernel __attribute__((reqd_work_group_size(ELEMENT_GROUP, 1, 1))) void softmax_rows(__global const float* restrict in, __global float* restrict out,
                           const int features, const int rows) {
  const int row = get_global_id(0);
  if (row >= rows) return;
  __global const float* x = in + row * features;
  __global float* y = out + row * features;
  float peak = -INFINITY;
  for (int i = 0; i < features; ++i) peak = fmax(peak, x[i]);
  float total = 0.0f;
  for (int i = 0; i < features; ++i) total += exp(x[i] - peak);
  const float inv = 1.0f / total;
  for (int i = 0; i < features; ++i) y[i] = exp(x[i] - peak) * inv;
}

// The build options this program was compiled with, for the host to compare with its own before
// it trusts a precompiled binary: a binary built with other tile sizes would compute garbage.
__kernel __attribute__((reqd_work_group_size(1, 1, 1))) void build_config(
    __global int* restrict out) {
  out[0] = TM;
  out[1] = TN;
  out[2] = TK;
  out[3] = WM;
  out[4] = ELEMENT_GROUP;
  out[5] = IM2COL_GROUP;
  out[6] = BFP_BLOCK;
}
