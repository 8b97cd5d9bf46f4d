// class_map.h — `xt classify --map/--geojson/--preview`: per-region class probabilities of a
// streamed image (xt_stream_classify's region_logits rows) written as they arrive:
//   - a tiled float32 GeoTIFF, one pixel per region (WP x HP), georeferenced like the input with
//     the pixel size multiplied by the region size S (GCPs: positions divided by S); bands either
//     every class's probability (top = 0) or the `top` best (class index, probability) pairs;
//     NaN (GDAL_NODATA "nan") where a region holds no valid pixel; band descriptions and
//     provenance in the GDAL metadata;
//   - GeoJSON: one polygon per region (clipped to the image), its top class and probability, in
//     lon/lat where geo.c can, else the CRS's map coordinates (with a "crs" member), else pixels;
//   - a PNG quicklook (<= 1024 px a side) of the image with the top class coloured over it.
// Every file is written as PATH.part and renamed when complete. Memory: one row of regions'
// probabilities, the writer's tile row, 4 bytes per region (quicklook colours) and, at the end,
// one strip of the image and the picture (<= 1024 x 1024 x 3 bytes) for the quicklook.
#ifndef XT_RUN_CLASS_MAP_H
#define XT_RUN_CLASS_MAP_H

#include "run/stream.h"

typedef struct xt_class_map_opts {
    const char *tif, *geojson, *png;   // outputs; NULL: not written
    int top;                           // 0: one band per class; N > 0: N (class, probability) pairs
    const char *const *class_names;    // (num_classes) or NULL ("class N")
    const char *const *meta;           // GDAL metadata items (key, value, ..., NULL) or NULL
    const char *compression;           // GeoTIFF compression (NULL: deflate)
    int overviews;                     // 1: the GeoTIFF gets overviews (nearest: class values stay)
} xt_class_map_opts;

// The default band layout for K classes: every class up to 16, else the best 3 pairs.
int xt_class_map_default_top(int num_classes);

typedef struct xt_class_map xt_class_map;

// s: an opened stream (its raster, region grid and model), which must outlive the map.
xt_class_map *xt_class_map_open(const xt_stream *s, const xt_class_map_opts *o);
// One row of regions: logits (WP, K), valid (WP). Rows in order 0 .. HP-1.
int xt_class_map_row(xt_class_map *m, int rr, const float *logits, const uint8_t *valid);
// Finishes every output (the quicklook reads the image once more, in strips) and renames them.
// Frees m. 0 / -1 + error (nothing is left under a final name that was not completed).
int xt_class_map_close(xt_class_map *m, xt_stream *s);
void xt_class_map_abort(xt_class_map *m); // removes the partial files, frees m

#endif
