// geo.c — pixel -> map coordinates -> longitude/latitude for point outputs (GeoJSON): the
// geotransform, then for EPSG:4326-like geographic CRSs the identity and for WGS 84 / UTM
// (EPSG 326zz north, 327zz south) the inverse transverse Mercator. Other CRSs give map
// coordinates only (no PROJ dependency for one projection family; see docs/xview3.md).
#include <math.h>

#include "core/core.h"
#include "formats/raster.h"

void xt_georef_apply(const xt_georef *g, double col, double row, double *x, double *y) {
    *x = g->gt[0] + col * g->gt[1] + row * g->gt[2];
    *y = g->gt[3] + col * g->gt[4] + row * g->gt[5];
}

// Inverse transverse Mercator on WGS 84 (Snyder, Map Projections: A Working Manual, eq. 8-18..8-25),
// UTM scale 0.9996, false easting 500 km, false northing 10000 km in the south. Sub-millimetre
// within a zone (tests/test_geo.c checks against the forward series).
static void utm_inverse(double E, double N, int zone, int south, double *lon, double *lat) {
    const double a = 6378137.0, f = 1 / 298.257223563, k0 = 0.9996;
    const double e2 = f * (2 - f), ep2 = e2 / (1 - e2);
    const double e1 = (1 - sqrt(1 - e2)) / (1 + sqrt(1 - e2));
    double x = E - 500000.0, y = south ? N - 10000000.0 : N;
    double mu = y / k0 / (a * (1 - e2 / 4 - 3 * e2 * e2 / 64 - 5 * e2 * e2 * e2 / 256));
    double p1 = mu + (3 * e1 / 2 - 27 * pow(e1, 3) / 32) * sin(2 * mu) + (21 * e1 * e1 / 16 - 55 * pow(e1, 4) / 32) * sin(4 * mu) +
                (151 * pow(e1, 3) / 96) * sin(6 * mu) + (1097 * pow(e1, 4) / 512) * sin(8 * mu);
    double s = sin(p1), c = cos(p1), t = tan(p1);
    double C1 = ep2 * c * c, T1 = t * t, N1 = a / sqrt(1 - e2 * s * s), R1 = a * (1 - e2) / pow(1 - e2 * s * s, 1.5);
    double D = x / (N1 * k0);
    *lat = p1 - (N1 * t / R1) * (D * D / 2 - (5 + 3 * T1 + 10 * C1 - 4 * C1 * C1 - 9 * ep2) * pow(D, 4) / 24 +
                                (61 + 90 * T1 + 298 * C1 + 45 * T1 * T1 - 252 * ep2 - 3 * C1 * C1) * pow(D, 6) / 720);
    *lon = (D - (1 + 2 * T1 + C1) * pow(D, 3) / 6 + (5 - 2 * C1 + 28 * T1 - 3 * C1 * C1 + 8 * ep2 + 24 * T1 * T1) * pow(D, 5) / 120) / c;
    *lat *= 180 / M_PI;
    *lon = *lon * 180 / M_PI + (zone - 1) * 6 - 180 + 3;
}

int xt_georef_lonlat(const xt_georef *g, double x, double y, double *lon, double *lat) {
    if (g->model_type == 2 || (g->epsg >= 4000 && g->epsg < 5000)) { // geographic: x = lon, y = lat (GeoTIFF order)
        *lon = x, *lat = y;
        return 1;
    }
    if ((g->epsg > 32600 && g->epsg <= 32660) || (g->epsg > 32700 && g->epsg <= 32760)) {
        utm_inverse(x, y, g->epsg % 100, g->epsg > 32700, lon, lat);
        return 1;
    }
    return 0;
}
