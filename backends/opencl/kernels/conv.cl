// Convolution and dense layers as im2col + GEMM, written for FPGA offline compilers (Intel aoc,
// Xilinx v++) as much as for PoCL: OpenCL C 1.2, no recursion, no dynamic allocation, every
// tile size a compile-time constant passed as a build option, and both GEMM operands staged in
// local memory so that each value read from global memory is reused TM (inputs) or TN (weights)
// times.
//
// GEMM view: out[oc][pixel] = sum_k W[oc][k] * B[k][pixel], where a pixel is (image, oh, ow)
// flattened over the whole batch (small late layers still fill the tiles) and k runs over
// (ky, kx, ic) with the input channel innermost, so that a block of 16 consecutive k is 16 input
// channels at one kernel position whenever the channel count is a multiple of 16 (the block of
// the bfp8 precision). For a 1x1, stride-1 convolution or a dense layer B is the input itself
// (row k = channel k of each image); otherwise `im2col` first writes B into a workspace
// [Kp][cols], one output row of one k per work-item, with a per-k table (channel offset, dy, dx)
// built at compile time.
//
// The GEMM is a single-work-item kernel per TM x TN output tile: a loop nest over local-memory
// buffers, the style Intel's and Xilinx's FPGA guides recommend (the compiler pipelines the
// loops; the innermost WM x 16 multiply-adds unroll into parallel DSPs), and the one PoCL turns
// into straight AVX-512 code. Cooperative work-groups with barriers were much slower on PoCL: it
// keeps every value live across a barrier in per-work-item memory (docs/PERFORMANCE.md, "OpenCL
// backend", has the measurements).
//
// Build options (all required):
//   TM  output channels per tile      TN  pixels per tile (a multiple of 16)
//   TK  k per local-memory stage (a multiple of 16)
//   WM  output channels accumulated in registers at a time (with 16 pixels: one float16 each)
// Weights are packed at compile as [OC / TM][Kp][TM] with Kp = K rounded up to TK and OC rounded
// up to TM, zero filled. B's element (k, pixel of image n at position p) is at
// k * row_stride + n * image_stride + p: (cols, out_plane) for the im2col workspace, whose rows
// are the batch's pixel count rounded up to TN; (out_plane, K * out_plane) for the input itself.
//
// A grouped convolution (depthwise above all) would fill the GEMM's 64-channel tiles with the
// zeros between its groups; `grouped_conv_*` computes it directly instead, one work-item per
// output element, reading the same weight pack (K being one group's) and rounding bfp8 the same
// way.

#define BFP_BLOCK 16
#define BFP_MAX 127.0f
#define IM2COL_GROUP 16

#if TN % 16 != 0 || TM % WM != 0 || TK % BFP_BLOCK != 0 || TM % 16 != 0
#error "tile sizes violate the constraints in the header comment"
#endif

// One output row (image n, row oh) of B's row k: work-item (n * out_h + oh, k), a strided copy
// with zeros for the padding. Rows k >= K have dy far outside every image and come out zero.
__kernel __attribute__((reqd_work_group_size(IM2COL_GROUP, 1, 1))) void im2col(
    __global const float* restrict in, __global const int4* restrict ktab,
    __global float* restrict b, const int in_image, const int in_h, const int in_w,
    const int out_h, const int out_w, const int stride_h, const int stride_w, const int pad_t,
    const int pad_l, const int cols, const int rows) {
  const int row = get_global_id(0);
  const int k = get_global_id(1);
  if (row >= rows) return;
  const int n = row / out_h;
  const int oh = row - n * out_h;
  const int4 kt = ktab[k];  // (ic * in_h * in_w, dy, dx, 0)
  const int ih = oh * stride_h - pad_t + kt.y;
  __global float* dst = b + k * cols + row * out_w;
  if ((uint)ih >= (uint)in_h) {
    for (int ow = 0; ow < out_w; ++ow) dst[ow] = 0.0f;
    return;
  }
  __global const float* src = in + n * in_image + kt.x + ih * in_w;
  const int iw0 = kt.z - pad_l;
  for (int ow = 0; ow < out_w; ++ow) {
    const int iw = ow * stride_w + iw0;
    dst[ow] = (uint)iw < (uint)in_w ? src[iw] : 0.0f;
  }
}

// bfp8: rounds each column's blocks of 16 consecutive k in the staged B tile (16 columns per
// float16) to a shared exponent, the largest magnitude's, keeping 7 bits of it and 8-bit signed
// mantissas (Brainwave's block floating point). Products and sums of such values are exact in
// fp32 within a block, so the GEMM on the rounded floats is bit for bit the integer datapath of
// a BFP accelerator. Same rounding as the weights' at compile (QuantiseWeights).
// RoundToShift is the rounding itself, lane by lane: `shift` = 6 - ilogb(the block's largest
// magnitude), which keeps 7 bits of it.
inline float16 RoundToShift(const float16 v, const int16 shift) {
  return ldexp(clamp(rint(ldexp(v, shift)), -BFP_MAX, BFP_MAX), -shift);
}

inline void QuantiseTile(__local float16* b_tile) {
  for (int block = 0; block < TK / BFP_BLOCK; ++block) {
    for (int c = 0; c < TN / 16; ++c) {
      __local float16* v = b_tile + block * BFP_BLOCK * (TN / 16) + c;
      float16 largest = (float16)(FLT_MIN);  // an all-zero block stays zero
      for (int i = 0; i < BFP_BLOCK; ++i) largest = fmax(largest, fabs(v[i * (TN / 16)]));
      const int16 shift = 6 - ilogb(largest);
      for (int i = 0; i < BFP_BLOCK; ++i) v[i * (TN / 16)] = RoundToShift(v[i * (TN / 16)], shift);
    }
  }
}

// One block of 16 consecutive k of one pixel (the grouped convolution's operand), rounded as
// QuantiseTile rounds a column's.
inline float16 QuantiseBlock(const float16 v) {
  const float16 magnitude = fabs(v);
  const float8 m8 = fmax(magnitude.lo, magnitude.hi);
  const float4 m4 = fmax(m8.lo, m8.hi);
  const float2 m2 = fmax(m4.lo, m4.hi);
  const float largest = fmax(fmax(m2.x, m2.y), FLT_MIN);  // an all-zero block stays zero
  return RoundToShift(v, (int16)(6 - ilogb(largest)));
}

// The shared body of the fp32 and bfp8 GEMM kernels (inlined into both; `bfp` is a literal
// there). `weights` is the fp32 pack, or for bfp8 `mantissas` (same layout, 8-bit) with `scales`
// ([OC / TM][Kp / 16][TM], a power of two per block of 16 k and output channel).
inline void GemmBody(const int bfp, __global const float* restrict b,
                     __global const float* restrict weights,
                     __global const char* restrict mantissas,
                     __global const float* restrict scales, __global const float* restrict bias,
                     __global const float* restrict residual, __global float* restrict out,
                     const int out_c, const int out_plane, const int kp,
                     const int has_residual, const int activation, const float alpha,
                     const float beta, const int image_stride, const int row_stride,
                     const int pixels, __local float16* a_tile, __local float16* b_tile,
                     __local float16* c_tile) {
  const int pixel0 = get_group_id(0) * TN;
  const int oc_block = get_group_id(1);
  for (int i = 0; i < TM * TN / 16; ++i) c_tile[i] = (float16)(0.0f);
  // Where each of the tile's pixels starts in B: image * image_stride + position, or -1 past
  // the batch; `whole` marks 16-pixel groups inside one image (one vector load).
  int offset[TN];
  bool whole[TN / 16];
  for (int i = 0; i < TN; ++i) {
    const int pixel = pixel0 + i;
    const int n = pixel / out_plane;
    offset[i] = pixel < pixels ? n * image_stride + pixel - n * out_plane : -1;
  }
  for (int c = 0; c < TN / 16; ++c) {
    whole[c] = offset[c * 16 + 15] >= 0 && offset[c * 16 + 15] - offset[c * 16] == 15;
  }

  for (int k0 = 0; k0 < kp; k0 += TK) {
    // Stage TK x TM weights (contiguous in the pack) and TK x TN inputs (TK rows of B).
    const int a_offset = (oc_block * kp + k0) * TM;
    for (int i = 0; i < TK * TM / 16; ++i) {
      if (bfp) {
        const int row = i / (TM / 16);
        const int col = i - row * (TM / 16);
        const float16 scale =
            vload16(col, scales + (oc_block * (kp / BFP_BLOCK) + (k0 + row) / BFP_BLOCK) * TM);
        a_tile[i] = convert_float16(vload16(i, mantissas + a_offset)) * scale;
      } else {
        a_tile[i] = vload16(i, weights + a_offset);
      }
    }
    for (int row = 0; row < TK; ++row) {
      __global const float* b_row = b + (k0 + row) * row_stride;
      for (int c = 0; c < TN / 16; ++c) {
        if (whole[c]) {
          b_tile[row * (TN / 16) + c] = vload16(0, b_row + offset[c * 16]);
        } else {
          float lane[16];
          for (int j = 0; j < 16; ++j) {
            const int at = offset[c * 16 + j];
            lane[j] = at >= 0 ? b_row[at] : 0.0f;
          }
          b_tile[row * (TN / 16) + c] = vload16(0, lane);
        }
      }
    }
    if (bfp) QuantiseTile(b_tile);
    // WM output channels x 16 pixels at a time, accumulated in registers over the stage.
    for (int mb = 0; mb < TM / WM; ++mb) {
      for (int nb = 0; nb < TN / 16; ++nb) {
        float16 acc[WM];
#pragma unroll
        for (int m = 0; m < WM; ++m) acc[m] = c_tile[(mb * WM + m) * (TN / 16) + nb];
        for (int r = 0; r < TK; ++r) {
          const float16 x = b_tile[r * (TN / 16) + nb];
          __local const float* a = (__local const float*)a_tile + r * TM + mb * WM;
#pragma unroll
          for (int m = 0; m < WM; ++m) acc[m] = fma((float16)(a[m]), x, acc[m]);
        }
#pragma unroll
        for (int m = 0; m < WM; ++m) c_tile[(mb * WM + m) * (TN / 16) + nb] = acc[m];
      }
    }
  }

  // Epilogue: bias, residual, activation; a vector store when 16 pixels are contiguous in one image,
  // element by element otherwise (tile edges, image boundaries inside the tile).
  for (int nb = 0; nb < TN / 16; ++nb) {
    const int first = pixel0 + nb * 16;
    const int n0 = first / out_plane;
    const int p0 = first - n0 * out_plane;
    const bool contiguous = p0 + 16 <= out_plane && first + 16 <= pixels;
    for (int m = 0; m < TM; ++m) {
      const int oc = oc_block * TM + m;
      if (oc >= out_c) break;
      float16 v = c_tile[m * (TN / 16) + nb] + (float16)(bias[oc]);
      if (contiguous) {
        const int o = (n0 * out_c + oc) * out_plane + p0;
        if (has_residual) v += vload16(0, residual + o);
        vstore16(Activate16(v, activation, alpha, beta), 0, out + o);
      } else {
        float lane[16];
        vstore16(v, 0, lane);
        for (int j = 0; j < 16; ++j) {
          const int pixel = first + j;
          if (pixel >= pixels) break;
          const int n = pixel / out_plane;
          const int o = (n * out_c + oc) * out_plane + (pixel - n * out_plane);
          float x = lane[j];
          if (has_residual) x += residual[o];
          out[o] = Activate(x, activation, alpha, beta);
        }
      }
    }
  }
}

#define GEMM_ARGS                                                                             \
  __global const float *restrict bias, __global const float *restrict residual,               \
      __global float *restrict out, const int out_c, const int out_plane, const int kp,       \
      const int has_residual, const int activation, const float alpha, const float beta,      \
      const int image_stride, const int row_stride, const int pixels
#define GEMM_PASS                                                                             \
  bias, residual, out, out_c, out_plane, kp, has_residual, activation, alpha, beta,           \
      image_stride, row_stride, pixels, a_tile, b_tile, c_tile

__kernel __attribute__((reqd_work_group_size(1, 1, 1))) void gemm_fp32(
    __global const float* restrict b, __global const float* restrict weights, GEMM_ARGS) {
  __local float16 a_tile[TK * TM / 16];
  __local float16 b_tile[TK * TN / 16];
  __local float16 c_tile[TM * TN / 16];
  GemmBody(0, b, weights, 0, 0, GEMM_PASS);
}

__kernel __attribute__((reqd_work_group_size(1, 1, 1))) void gemm_bfp8(
    __global const float* restrict b, __global const char* restrict mantissas,
    __global const float* restrict scales, GEMM_ARGS) {
  __local float16 a_tile[TK * TM / 16];
  __local float16 b_tile[TK * TN / 16];
  __local float16 c_tile[TM * TN / 16];
  GemmBody(1, b, 0, mantissas, scales, GEMM_PASS);
}

// The grouped convolution: work-item (n, oc, oh, ow) over NCHW sums its group's k = (ky * kernel_w
// + kx) * group_channels + ic in blocks of 16, with the im2col table `ktab` (k rows up to k16, K
// rounded up to 16; rows past K read zeros) and the weight pack's layout ([OC / TM][Kp][TM], bfp8
// scales as for the GEMM). `group_out` output channels share a group; `group_image` is the
// offset of one group's input channels.
inline void GroupedConvBody(
    const int bfp, __global const float* restrict in, __global const int4* restrict ktab,
    __global const float* restrict weights, __global const char* restrict mantissas,
    __global const float* restrict scales, __global const float* restrict bias,
    __global const float* restrict residual, __global float* restrict out, const int in_image,
    const int group_image, const int in_h, const int in_w, const int out_h, const int out_w,
    const int stride_h, const int stride_w, const int pad_t, const int pad_l, const int out_c,
    const int group_out, const int kp, const int k16, const int has_residual,
    const int activation, const float alpha, const float beta, const int total) {
  const int index = get_global_id(0);
  if (index >= total) return;
  const int ow = index % out_w;
  const int oh = (index / out_w) % out_h;
  const int oc = (index / (out_w * out_h)) % out_c;
  const int n = index / (out_w * out_h * out_c);
  __global const float* src = in + n * in_image + (oc / group_out) * group_image;
  const int ih0 = oh * stride_h - pad_t;
  const int iw0 = ow * stride_w - pad_l;
  const int tile = oc / TM;
  const int lane = oc - tile * TM;
  float16 acc = (float16)(0.0f);
  for (int k0 = 0; k0 < k16; k0 += BFP_BLOCK) {
    float x[BFP_BLOCK];
    float w[BFP_BLOCK];
    for (int i = 0; i < BFP_BLOCK; ++i) {
      const int4 kt = ktab[k0 + i];  // (ic * in_h * in_w, dy, dx, 0)
      const int ih = ih0 + kt.y;
      const int iw = iw0 + kt.z;
      x[i] = (uint)ih < (uint)in_h && (uint)iw < (uint)in_w ? src[kt.x + ih * in_w + iw] : 0.0f;
      const int at = (tile * kp + k0 + i) * TM + lane;
      w[i] = bfp ? mantissas[at] * scales[(tile * (kp / BFP_BLOCK) + k0 / BFP_BLOCK) * TM + lane]
                 : weights[at];
    }
    const float16 b = vload16(0, x);
    acc = fma(vload16(0, w), bfp ? QuantiseBlock(b) : b, acc);
  }
  const float8 s8 = acc.lo + acc.hi;
  const float4 s4 = s8.lo + s8.hi;
  const float2 s2 = s4.lo + s4.hi;
  float v = s2.x + s2.y + bias[oc];
  if (has_residual) v += residual[index];
  out[index] = Activate(v, activation, alpha, beta);
}

#define GROUPED_ARGS                                                                          \
  __global const float *restrict bias, __global const float *restrict residual,               \
      __global float *restrict out, const int in_image, const int group_image, const int in_h, \
      const int in_w, const int out_h, const int out_w, const int stride_h, const int stride_w, \
      const int pad_t, const int pad_l, const int out_c, const int group_out, const int kp,   \
      const int k16, const int has_residual, const int activation, const float alpha,         \
      const float beta, const int total
#define GROUPED_PASS                                                                          \
  bias, residual, out, in_image, group_image, in_h, in_w, out_h, out_w, stride_h, stride_w,   \
      pad_t, pad_l, out_c, group_out, kp, k16, has_residual, activation, alpha, beta, total

__kernel __attribute__((reqd_work_group_size(ELEMENT_GROUP, 1, 1))) void grouped_conv_fp32(
    __global const float* restrict in, __global const int4* restrict ktab,
    __global const float* restrict weights, GROUPED_ARGS) {
  GroupedConvBody(0, in, ktab, weights, 0, 0, GROUPED_PASS);
}

__kernel __attribute__((reqd_work_group_size(ELEMENT_GROUP, 1, 1))) void grouped_conv_bfp8(
    __global const float* restrict in, __global const int4* restrict ktab,
    __global const char* restrict mantissas, __global const float* restrict scales,
    GROUPED_ARGS) {
  GroupedConvBody(1, in, ktab, 0, mantissas, scales, GROUPED_PASS);
}
