# world_labels.py: the vessels of an `xt make-scene` label CSV, for the rule checks of
# tests/cli_make_scene.sh (imported there; standard library only).
import csv


def vessels(path):
    """{scene_id: [((row, col), is_fishing), ...]} over the rows with is_vessel True."""
    v = {}
    for r in csv.DictReader(open(path)):
        if r["is_vessel"] == "True":
            v.setdefault(r["scene_id"], []).append(((int(r["detect_scene_row"]), int(r["detect_scene_column"])), r["is_fishing"] == "True"))
    return v
