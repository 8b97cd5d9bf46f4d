// test_json.c — the JSON parser used for configs and safetensors headers: valid documents,
// escapes, and hostile input (each must fail with a message, never crash).
#include "check.h"
#include "formats/safetensors.h"

static xt_json *P(const char *s) { return xt_json_parse(s, strlen(s), "test"); }

int main(void) {
    xt_json *j = P(" {\"a\": 1, \"b\": [1, 2.5e1, -3], \"c\": \"x\\u00e9\\n\", \"d\": {\"e\": true}, \"f\": null} ");
    CHECK(j && j->type == XT_JSON_OBJ && j->n == 5);
    int a = 0, arr[4], n;
    CHECK(xt_json_int(j, "a", 7, &a) == 0 && a == 1);
    CHECK(xt_json_int(j, "zz", 7, &a) == 0 && a == 7);          // default
    n = xt_json_int_array(j, "b", arr, 4);
    CHECK(n == 3 && arr[0] == 1 && arr[1] == 25 && arr[2] == -3);
    CHECK(xt_json_int_array(j, "b", arr, 2) == -1);               // too many entries
    CHECK(strcmp(xt_json_str(j, "c", ""), "x\xc3\xa9\n") == 0);   // \u00e9 -> UTF-8
    int bl = 0;
    CHECK(xt_json_bool(xt_json_get(j, "d"), "e", 0, &bl) == 0 && bl == 1);
    CHECK(xt_json_int(j, "c", 0, &a) == -1 && strstr(xt_error_buffer(), "'c' must be a number"));
    double f;
    CHECK(xt_json_num(j, "f", 2.0, &f) == 0 && f == 2.0);         // null -> default
    // the setters through xt_json_get_mut: a present key replaced, an absent one appended
    xt_json *d = xt_json_get_mut(j, "d");
    CHECK(d && d == xt_json_get(j, "d") && xt_json_get_mut(j, "zz") == NULL && xt_json_get_mut(d, "e")->type == XT_JSON_BOOL);
    xt_json_set_bool(d, "e", 0);
    xt_json_set_str(d, "g", "h");
    CHECK(d->n == 2 && xt_json_bool(d, "e", 1, &bl) == 0 && bl == 0 && !strcmp(xt_json_str(d, "g", ""), "h"));
    xt_json_free(j);

    // non-integer where an integer is needed
    j = P("{\"k\": 1.5}");
    CHECK(j && xt_json_int(j, "k", 0, &a) == -1);
    xt_json_free(j);

    // Python's json.dumps writes NaN/Infinity; accepted as numbers
    j = P("[NaN, Infinity, -Infinity]");
    CHECK(j && j->n == 3 && isnan(j->items[0]->num) && isinf(j->items[2]->num));
    xt_json_free(j);

    const char *bad[] = {"", "{", "{\"a\":}", "{\"a\" 1}", "[1,]", "[1 2]", "\"abc", "{\"a\":1}x",
                         "\"\\q\"", "\"\\u12\"", "\"\\ud800\"", "tru", "{1:2}", "[\"\x01\"]", "-"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        xt_json *b = P(bad[i]);
        CHECK(b == NULL);
        CHECK(strstr(xt_error_buffer(), "json: test:") != NULL);
        xt_json_free(b);
    }
    // nesting bomb: rejected by the depth limit, no stack overflow
    char deep[20001];
    memset(deep, '[', 20000);
    deep[20000] = 0;
    CHECK(P(deep) == NULL && strstr(xt_error_buffer(), "nesting too deep"));

    // string builder escapes
    xt_sbuf s = {0};
    xt_sbuf_json_str(&s, "a\"b\\c\n\x01");
    CHECK(strcmp(s.p, "\"a\\\"b\\\\c\\n\\u0001\"") == 0);
    j = P(s.p);
    CHECK(j && strcmp(j->str, "a\"b\\c\n\x01") == 0);
    xt_json_free(j);
    xt_sbuf_free(&s);
    return check_summary("json");
}
