// Pooling, one work-item per output element, in work-groups of ELEMENT_GROUP (a build option, as
// for the element-wise kernels; the host rounds the global size up and the kernels check bounds).
// Pooling is a few percent of a CNN's work: the data reuse worth tiling for is in the
// convolutions. Window sizes are run-time arguments: the loops have bounded trip counts and no
// recursion, which FPGA compilers accept.

// Max or average pooling over NCHW. `average`: 0 max, 1 average; `include_pad`: the divisor counts
// padded positions up to the padded border (ONNX count_include_pad), else only inside ones.
__kernel __attribute__((reqd_work_group_size(ELEMENT_GROUP, 1, 1))) void pool2d(__global const float* restrict in, __global float* restrict out,
                     const int in_h, const int in_w, const int out_h, const int out_w,
                     const int kernel_h, const int kernel_w, const int stride_h,
                     const int stride_w, const int pad_t, const int pad_l, const int pad_b,
                     const int pad_r, const int average, const int include_pad, const int total) {
  const int index = get_global_id(0);
  if (index >= total) return;
  const int ow = index % out_w;
  const int oh = (index / out_w) % out_h;
  const int plane = index / (out_w * out_h);  // n * channels + c
  __global const float* src = in + plane * in_h * in_w;
  float best = -INFINITY;
  float sum = 0.0f;
  int inside = 0;
  int window = 0;
  for (int y = 0; y < kernel_h; ++y) {
    const int ih = oh * stride_h - pad_t + y;
    for (int x = 0; x < kernel_w; ++x) {
      const int iw = ow * stride_w - pad_l + x;
      if (ih < in_h + pad_b && iw < in_w + pad_r) ++window;
      if (ih < 0 || ih >= in_h || iw < 0 || iw >= in_w) continue;
      const float v = src[ih * in_w + iw];
      best = fmax(best, v);
      sum += v;
      ++inside;
    }
  }
  out[index] = average ? sum / (float)(include_pad ? window : inside) : best;
}

// Global average pooling: one work-item per (image, channel), output [N][C].
__kernel __attribute__((reqd_work_group_size(ELEMENT_GROUP, 1, 1))) void global_avg_pool(__global const float* restrict in, __global float* restrict out,
                              const int plane, const int total) {
  const int index = get_global_id(0);
  if (index >= total) return;
  __global const float* src = in + index * plane;
  float sum = 0.0f;
  for (int i = 0; i < plane; ++i) sum += src[i];
  out[index] = sum / (float)plane;
}
