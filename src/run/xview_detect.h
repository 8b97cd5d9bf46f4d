// xview_detect.h — `xt detect`: whole xView3-SAR scenes through the dense model, streamed, with
// the official tiling and post-processing (run/xview.h), written as CSV, GeoJSON and GeoTIFF maps.
#ifndef XT_XVIEW_DETECT_H
#define XT_XVIEW_DETECT_H

#include "run/xview.h"

typedef struct xt_detect_opts {
    int tile, overlap;     // tile side and overlap; <= 0 / < 0: the config's val_crop_size / overlap (10)
    int order;             // xt_xview_order; < 0: the config's "tiling" (naive)
    int rotate;            // rot-180 TTA, as the official evaluator [1]
    xt_xview_tta tta;      // XT_XVIEW_TTA_XT: the official averaging (length only, bug 20); _SELIM: all maps
    int memfix;            // carry the context memory between a tile's regions (not official, bug 15)
    int chip;              // each tile in one model call, its regions chipped inside the model and the
                           // context over all of them (xT's nested tokenization; the official
                           // evaluator calls the model once per region)
    int selim;             // selimsef's OR rules on is_vessel / is_fishing
    int has_nodata;        // the file's NoData value, turned into the dataset's -32768
    double nodata;
    int maps;              // also write the four maps as tiled GeoTIFFs and a PNG quicklook
    int split;             // under MPI: tiles shared among ranks, rank 0 stitches, post-processes and
                           // writes; the others only run their tiles (res: tiles and calls only)
    const char *out_dir, *scene_id;
    void (*progress)(void *u, long done, long total); // model calls
    void *progress_u;
} xt_detect_opts;
xt_detect_opts xt_detect_default_opts(void);

// The scene: vv a 2-band (VV, VH) raster and vh NULL, or one band each (same size and
// georeferencing, checked). dB values; NoData -32768.
typedef struct xt_detect_scene xt_detect_scene;
xt_detect_scene *xt_detect_scene_open(const char *vv, const char *vh); // NULL + error
void xt_detect_scene_close(xt_detect_scene *s);
void xt_detect_scene_size(const xt_detect_scene *s, int *H, int *W);
// dB window rows [y, y+h) x cols [x, x+w) (may extend past the scene: -32768 there) into vv, vh
// (h, w); random access (training crops), the file's own NoData values untouched. 0 / -1 + error.
int xt_detect_scene_read(xt_detect_scene *s, int y, int x, int h, int w, float *vv, float *vh);

typedef struct xt_detect_result {
    xt_xview_det *dets; // malloc'ed, official order
    int64_t n;
    int tiles, T, overlap;
    long calls;
    double seconds, seconds_model;
} xt_detect_result;

// The written maps' NoData: a scene pixel whose VV and VH are both NoData is 255 in the uint8
// maps (vessel, fishing, center; a computed 255 is written as 254) and NaN in the float32 length
// map, with the GDAL_NODATA tag. Only the files: detections use the official maps, unmarked.
#define XT_DETECT_MAP_NODATA 255

// Runs the scene and writes <out_dir>/<scene_id>.csv, .geojson (and with maps
// .{vessel,fishing,center,length}.tif and .png, a quicklook of VV with the detections drawn), each
// under its final name only when complete. 0 / -1 + error.
int xt_detect_run(const xt_xview *m, xt_detect_scene *scene, const xt_detect_opts *o, xt_detect_result *res);

#endif
