// classify.c — the smallest complete libxt program: classify one image file of any size.
//   cc -Iinclude examples/classify.c build/libxt.a $(LIBS) -o classify   (see the Makefile)
//   ./classify model.safetensors scene.tif
#include <stdio.h>
#include <stdlib.h>

#include "xt.h"

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODEL IMAGE\n", argv[0]);
        return 2;
    }
    xt_model *m = xt_model_load(argv[1]);
    if (!m) {
        fprintf(stderr, "classify: %s\n", xt_error_buffer());
        return 1;
    }
    int K = xt_model_num_classes(m), best = 0;
    float *probs = malloc(sizeof(float) * K);
    xt_classify_params p = xt_classify_default_params(); // all cores, config normalisation
    int rc = probs ? xt_classify_file(m, argv[2], &p, probs) : -1;
    if (rc == 0) {
        xt_softmax(probs, probs, K);
        for (int i = 1; i < K; i++) best = probs[i] > probs[best] ? i : best;
        printf("%s: class %d (p = %.4f)\n", argv[2], best, probs[best]);
    } else fprintf(stderr, "classify: %s\n", probs ? xt_error_buffer() : "out of memory");
    free(probs);
    xt_model_free(m);
    return rc ? 1 : 0;
}
