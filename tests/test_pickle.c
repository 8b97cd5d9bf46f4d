// test_pickle.c — the restricted pickle VM on hand-written byte strings: what it builds, what
// it refuses (each with its message), every truncation of a valid pickle, and a deterministic
// mutation sweep (a mini fuzz run inside the suite; the long runs are in tests/fuzz/).
#include "check.h"
#include "formats/ckpt.h"

#define PK(s) ((const uint8_t *)(s)), (sizeof(s) - 1)

static xt_pk *load(const uint8_t *p, size_t n) { return xt_pk_load(p, n, NULL, "t"); }

// loads must fail with a message containing `want`
static void refuses(const uint8_t *p, size_t n, const char *want, int line) {
    xt_pk *pk = load(p, n);
    int ok = pk == NULL && strstr(xt_error_buffer(), want) != NULL;
    if (!ok) fprintf(stderr, "line %d: want error containing '%s', got %s: %s\n", line, want, pk ? "success" : "error", pk ? "" : xt_error_buffer());
    CHECK(ok);
    xt_pk_free(pk);
}
#define REFUSES(s, want) refuses(PK(s), want, __LINE__)

int main(void) {
    // {'a': [1, -2, 3.5, 'x'], 'b': (True, None, -300), 'c': <memo of the list>} with proto 2 opcodes
    static const char good[] =
        "\x80\x02}q\x00(X\x01\x00\x00\x00" "a]q\x01(K\x01J\xfe\xff\xff\xffG@\x0c\x00\x00\x00\x00\x00\x00"
        "\x8c\x01xeX\x01\x00\x00\x00" "b\x88N\x8a\x02\xd4\xfe\x87X\x01\x00\x00\x00" "ch\x01u.";
    size_t used = 0;
    xt_pk *pk = xt_pk_load(PK(good), &used, "good");
    CHECK(pk != NULL);
    if (!pk) fprintf(stderr, "%s\n", xt_error_buffer());
    if (pk) {
        CHECK(used == sizeof good - 1);
        xt_pk_obj *r = xt_pk_result(pk), *a = xt_pk_dict_get(r, "a"), *b = xt_pk_dict_get(r, "b");
        CHECK(r->type == XT_PK_DICT && r->n == 3);
        CHECK(a && a->type == XT_PK_LIST && a->n == 4);
        CHECK(a && a->u.items[0]->u.i == 1 && a->u.items[1]->u.i == -2 && a->u.items[2]->u.f == 3.5);
        CHECK(a && a->u.items[3]->type == XT_PK_STR && !strcmp(a->u.items[3]->u.s, "x"));
        CHECK(b && b->type == XT_PK_TUPLE && b->n == 3 && b->u.items[0]->type == XT_PK_BOOL && b->u.items[1]->type == XT_PK_NONE);
        CHECK(b && b->u.items[2]->u.i == -300); // LONG1 sign extension
        CHECK(xt_pk_dict_get(r, "c") == a);     // memo shares the object
        xt_pk_free(pk);
    }
    // every truncation of a valid pickle is an error, never a crash
    int all_fail = 1;
    for (size_t n = 0; n + 1 < sizeof good - 1; n++) {
        xt_pk *t = load((const uint8_t *)good, n);
        if (t) all_fail = 0;
        xt_pk_free(t);
    }
    CHECK(all_fail);

    // allowed globals, STACK_GLOBAL, FRAME, MEMOIZE, BUILD on an OrderedDict
    static const char od[] = "\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x0b" "collections\x94\x8c\x0bOrderedDict\x94\x93)R}b.";
    pk = load(PK(od));
    CHECK(pk && xt_pk_result(pk)->type == XT_PK_DICT);
    if (!pk) fprintf(stderr, "%s\n", xt_error_buffer());
    xt_pk_free(pk);
    // a list holding itself is just data (nothing walks it recursively)
    pk = load(PK("\x80\x02]q\x00h\x00" "a."));
    CHECK(pk && xt_pk_result(pk)->u.items[0] == xt_pk_result(pk));
    xt_pk_free(pk);
    // a legacy persistent id with a view and a tensor built on it
    static const char tens[] =
        "\x80\x02" "ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nHalfStorage\nX\x01\x00\x00\x00k"
        "X\x03\x00\x00\x00" "cpuK\x06NtQK\x01K\x02K\x02\x86K\x01K\x02\x86\x89" "ccollections\nOrderedDict\n)RtR.";
    pk = load(PK(tens));
    CHECK(pk != NULL);
    if (!pk) fprintf(stderr, "%s\n", xt_error_buffer());
    if (pk) {
        xt_pk_obj *t = xt_pk_result(pk);
        CHECK(t->type == XT_PK_TENSOR && t->u.tensor->offset == 1 && t->u.tensor->ndim == 2);
        CHECK(t->u.tensor->stride[0] == 1 && t->u.tensor->stride[1] == 2);
        CHECK(t->u.tensor->storage->dtype == XT_SD_F16 && t->u.tensor->storage->numel == 6);
        CHECK(xt_pk_n_storages(pk) == 1 && xt_pk_storage_find(pk, "k") == t->u.tensor->storage);
        xt_pk_free(pk);
    }

    // refused: globals, code-building opcodes, malformed structure, limits
    REFUSES("\x80\x02" "cos\nsystem\nX\x02\x00\x00\x00id\x85R.", "global 'os.system' is not allowed");
    REFUSES("\x80\x02" "cbuiltins\neval\n.", "global 'builtins.eval' is not allowed");
    REFUSES("\x80\x02" "ctorch\nload\n.", "global 'torch.load' is not allowed");
    REFUSES("\x80\x02" "c__builtin__\ngetattr\n.", "not allowed");
    REFUSES("\x80\x04\x8c\x08" "builtins\x8c\x04" "exec\x93.", "global 'builtins.exec' is not allowed");
    REFUSES("\x80\x02(cos\nsystem\nX\x01\x00\x00\x00xi.", "not allowed");
    REFUSES("\x80\x02(X\x01\x00\x00\x00xios\nsystem\n.", "opcode 0x69 (INST)");
    REFUSES("\x80\x02" "ccollections\nOrderedDict\n)\x81.", "NEWOBJ");
    REFUSES("\x80\x02\x82\x01.", "EXT");
    REFUSES("\x80\x02I1\n.", "INT (text)");
    REFUSES("\x80\x02" "ccollections\nOrderedDict\nK\x01\x85R.", "OrderedDict called with 1 arguments");
    REFUSES("\x80\x02" "ctorch\nFloatStorage\n)R.", "cannot be called");
    REFUSES("\x80\x02K\x01)R.", "REDUCE on a int");
    REFUSES("\x80\x02K\x01K\x02" "b.", "BUILD on a int");
    REFUSES("\x80\x01N.", "protocol 1");
    REFUSES("\x80\x02}(K\x01.", "unbalanced pickle at STOP");
    REFUSES("\x80\x02NN.", "unbalanced pickle at STOP");
    REFUSES("\x80\x02.", "unbalanced");
    REFUSES("\x80\x02" "0.", "stack underflow");
    REFUSES("\x80\x02(0.", "stack underflow"); // POP may not cross a MARK
    REFUSES("\x80\x02t.", "no MARK");
    REFUSES("\x80\x02K\x01K\x02K\x03s.", "SETITEM on a int");
    REFUSES("\x80\x02}(K\x01u.", "odd number");
    REFUSES("\x80\x02)K\x01" "a.", "APPEND to a tuple");
    REFUSES("\x80\x02h\x00.", "memo reference 0 is undefined");
    REFUSES("\x80\x02Nr\x00\x00\x00\x10.", "memo index 268435456 out of range");
    REFUSES("\x80\x02X\xff\xff\xff\xff.", "runs past the end");
    REFUSES("\x80\x02\x8d\x00\x00\x00\x00\x00\x00\x00\x80.", "runs past the end");
    REFUSES("\x80\x02T\xff\xff\xff\xff.", "negative length");
    REFUSES("\x80\x02\x8b\x00\x00\x00\x80.", "negative length");
    REFUSES("\x80\x02\x8a\xff.", "too large");
    REFUSES("\x80\x02J\x01\x00.", "truncated");
    REFUSES("\x80\x02" "ctorch\nFloat", "truncated GLOBAL");
    REFUSES("\x80\x02(X\x01\x00\x00\x00xK\x01K\x02K\x03K\x04tQ.", "persistent id is not");
    REFUSES("\x80\x02(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x05\x00\x00\x00../..X\x03\x00\x00\x00" "cpuK\x01tQ.", "bad storage key");
    REFUSES("\x80\x02(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x00kX\x03\x00\x00\x00" "cpuJ\xff\xff\xff\xfftQ.",
            "not a non-negative int");
    REFUSES("\x80\x02" "ctorch._utils\n_rebuild_tensor_v2\n(K\x01K\x00)))\x89NtR.", "not a storage");
    REFUSES("(l", "truncated"); // fuzz finding: LIST right after the first MARK did NULL + 0 on the stack
    REFUSES("\x80\x02", "truncated");
    REFUSES("", "truncated");

    // deterministic mutation sweep: single-byte changes of the tensor pickle never crash
    {
        uint8_t buf[sizeof tens];
        uint32_t seed = 12345;
        int loaded = 0;
        for (int it = 0; it < 20000; it++) {
            memcpy(buf, tens, sizeof tens - 1);
            for (int k = 0; k < 1 + it % 3; k++) {
                seed = seed * 1664525u + 1013904223u;
                buf[(seed >> 8) % (sizeof tens - 1)] = (uint8_t)(seed >> 24);
            }
            xt_pk *t = load(buf, sizeof tens - 1);
            loaded += t != NULL;
            xt_pk_free(t);
        }
        printf("mutation sweep: 20000 variants, %d still load\n", loaded);
        CHECK(1);
    }
    return check_summary("pickle");
}
