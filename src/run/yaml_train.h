// yaml_train.h — training configs: xt's JSON, or the official xT YAML recipes translated to it.
#ifndef XT_RUN_YAML_TRAIN_H
#define XT_RUN_YAML_TRAIN_H

#include "core/core.h"

// The training config at path as xt's JSON text {"model": {...}, "train": {...}} (malloc'd), or
// NULL + error. A *.yaml / *.yml file is an official xT config (config/*.yaml): base_configs
// merged as OmegaConf.merge, ${a.b} and ${oc.env:VAR, default} resolved, sets ("a.b=value",
// YAML values) applied last; a key that is neither used nor knowingly ignored is an error naming
// the key and the file (docs/training.md, "Official YAML configs"). notes: one "ignored: ..."
// line and what was assumed. sets with a JSON config are an error.
char *xt_train_config_read(const char *path, char *const *sets, int n_sets, xt_sbuf *notes);

#endif
