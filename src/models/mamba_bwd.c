// mamba_bwd.c — placeholder: Mamba context layers for training are not implemented yet.
#include "train/train.h"

xt_mamba_train *xt_mamba_train_new(xt_params *P, const char *prefix, int D, int n_layers) {
    xt_error("xt train", "training the mamba context encoder is not implemented yet");
    return NULL;
}
void xt_mamba_train_free(xt_mamba_train *m) {}
void xt_mamba_train_plan(xt_mamba_train *m, int N, int Lt, xt_arena *act) {}
int xt_mamba_train_forward(xt_mamba_train *m, const xt_params *P, float *x, int N, int Lt, const xt_tap *tap) { return -1; }
size_t xt_mamba_train_scratch_floats(const xt_mamba_train *m, int N, int Lt) { return 0; }
void xt_mamba_train_backward(xt_mamba_train *m, xt_params *P, float *dx, int N, int Lt, float *scratch) {}
