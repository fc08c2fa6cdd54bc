// Element-wise layers that fusion could not absorb, Concat's and Pad's copies, and the softmax
// head.

// out = a + b (b is not read when `has_b` is 0), then the activation (activation.cl). Covers a
// standalone ReLU or other activation, and an Add whose operands fusion could not fold into a
// convolution, with the activation that follows it.
__kernel __attribute__((reqd_work_group_size(ELEMENT_GROUP, 1, 1))) void add_activation(
    __global const float* restrict a, __global const float* restrict b,
    __global float* restrict out, const int has_b, const int activation, const float alpha,
    const float beta, const int total) {
  const int i = get_global_id(0);
  if (i >= total) return;
  float v = a[i];
  if (has_b) v += b[i];
  out[i] = Activate(v, activation, alpha, beta);
}

// One input of a Concat: each of its rows of `block` elements (the axes from the concat axis on,
// for every index of the axes before it, batch included) goes to `offset` within the output's
// rows of `out_block`.
__kernel __attribute__((reqd_work_group_size(ELEMENT_GROUP, 1, 1))) void concat_copy(
    __global const float* restrict in, __global float* restrict out, const int block,
    const int out_block, const int offset, const int total) {
  const int i = get_global_id(0);
  if (i >= total) return;
  const int row = i / block;
  out[row * out_block + offset + (i - row * block)] = in[i];
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

// Constant padding of [C][H][W] per sample (a lower rank as [1][H][W] or [1][1][W]), one
// work-item per output element: positions outside the input, which starts at (begin_c, begin_h,
// begin_w) in the output, take `value`.
__kernel __attribute__((reqd_work_group_size(ELEMENT_GROUP, 1, 1))) void pad_constant(
    __global const float* restrict in, __global float* restrict out, const int in_c,
    const int in_h, const int in_w, const int out_c, const int out_h, const int out_w,
    const int begin_c, const int begin_h, const int begin_w, const float value, const int total) {
  const int i = get_global_id(0);
  if (i >= total) return;
  const int iw = i % out_w - begin_w;
  const int ih = (i / out_w) % out_h - begin_h;
  const int ic = (i / (out_w * out_h)) % out_c - begin_c;
  const int n = i / (out_w * out_h * out_c);
  const bool inside = (uint)ic < (uint)in_c && (uint)ih < (uint)in_h && (uint)iw < (uint)in_w;
  out[i] = inside ? in[((n * in_c + ic) * in_h + ih) * in_w + iw] : value;
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
