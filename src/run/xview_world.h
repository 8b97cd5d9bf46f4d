// xview_world.h — a synthetic xView3-SAR world for training and scoring dense models where the
// answer needs context beyond one region (`xt make-scene`, docs/detection.md).
//
// Each scene: a 2-band (VV, VH) dB raster with multiplicative speckle, land behind a wavy
// coastline on the left, a NoData (-32768) swath edge on the right, and three kinds of objects:
//   * fishing vessels, in fleets of 3-7 ships spaced 96-112 px apart (one ship never shares a
//     64 x 64 window with another: 64 sqrt 2 < 96);
//   * other vessels, alone: no other object within 200 px;
//   * fixed infrastructure (is_vessel False) near the coast: compact squares, not elongated.
// Fishing and other vessels look alike (the same lengths, shapes and brightness): whether a vessel
// fishes shows only in its neighbours, 96-112 px away. The port rule (XT_WORLD_PORTS) instead puts
// unlabelled harbours (21 px open squares) at sea, fishing vessels 150-190 px from one and other
// vessels >= port_gap (320) px from all, and lists the harbours in DIR/ports.csv (scene_id,row,col).
// The grounds rule (XT_WORLD_GROUNDS): fishing grounds of 8-14 vessels >= 150 px apart within
// 300 px of a centre; other vessels >= port_gap (600) px from every fishing vessel. The lanes rule
// (XT_WORLD_LANES) turns it around: other vessels in lanes of 3-5, 150-180 px apart; as many
// fishing vessels alone, >= port_gap (400) px from every other vessel.
// Written in the dataset's layout:
//   DIR/<scene_id>/VV_dB.tif, VH_dB.tif     float32, tiled, georeferenced, NoData -32768
//   DIR/labels.csv                          the official label columns (one file for all scenes)
//   DIR/shoreline/<scene_id>_shoreline.npy  the coastline as the official shoreline contours
#ifndef XT_XVIEW_WORLD_H
#define XT_XVIEW_WORLD_H

#include "formats/raster.h"

// which rule makes a vessel a fishing one
enum { XT_WORLD_FLEETS = 0, XT_WORLD_PORTS = 1, XT_WORLD_GROUNDS = 2, XT_WORLD_LANES = 3 };

typedef struct xt_world_opts {
    int width, height; // scene size in pixels (10 m)
    int scenes;        // how many scenes (ids derived from the seed)
    uint64_t seed;
    double density;    // fleets (harbours) per 1024 x 1024 px of sea [1.0]
    int rule;          // XT_WORLD_FLEETS, XT_WORLD_PORTS, XT_WORLD_GROUNDS or XT_WORLD_LANES
    double port_gap;   // least distance of a non-fishing vessel from every harbour (ports) [320]
                       // or from every fishing vessel (grounds) [600]; of a fishing vessel
                       // from every other vessel (lanes) [400], px
    const xt_georef *geo; // georeference of every scene (NULL: WGS 84 / UTM 33N near 42 N, 10 m)
    const char *compression;
} xt_world_opts;

// Writes opts->scenes scenes under dir (created). Memory: one tile row of a scene and the object
// list. Prints nothing; ids[k] (if non-NULL, 32 bytes each) receive the scene ids. 0 / -1 + error.
int xt_world_write(const char *dir, const xt_world_opts *o, char (*ids)[32]);

#endif
