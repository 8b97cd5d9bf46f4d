// resize.h — image resampling as PIL's Image.resize computes it: the evaluation transform of the
// official xT (torchvision Resize on PIL images, xt/datasets/build.py create_imagenet_transforms).
#ifndef XT_FORMATS_RESIZE_H
#define XT_FORMATS_RESIZE_H

#include <stdint.h>

// The official config's data.interpolation (torchvision InterpolationMode, PIL's filters).
typedef enum { XT_INTERP_BILINEAR, XT_INTERP_BICUBIC, XT_INTERP_LANCZOS, XT_INTERP_HAMMING, XT_INTERP_COUNT } xt_interp;

const char *xt_interp_name(xt_interp m);            // "bilinear", ...
int xt_interp_parse(const char *name, xt_interp *out); // -1 + error naming the accepted names

// (C, H, W) uint8 -> (C, oh, ow) uint8, bit for bit as Pillow's ImagingResample (Resample.c):
// separable convolution with the filter's support widened by the scale when shrinking
// (antialiasing), the horizontal pass first into a uint8 image, 22-bit fixed-point weights.
void xt_resize_u8(uint8_t *out, const uint8_t *in, int C, int H, int W, int oh, int ow, xt_interp m);
// The same weights in double and no rounding, for samples that are not 8-bit.
void xt_resize_f32(float *out, const float *in, int C, int H, int W, int oh, int ow, xt_interp m);

// torchvision Resize(int S) output size: the shorter side becomes S, the longer
// int(S * long / short) (_compute_resized_output_size).
void xt_resize_short_side(int H, int W, int S, int *oh, int *ow);
// torchvision CenterCrop offset of an S window in a side of n: int(round((n - S) / 2.0)),
// Python's round (half to even).
int xt_center_crop_offset(int n, int S);

#endif
