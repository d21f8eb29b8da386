// libyaml's event parser (Debian libyaml-dev), for reading configurations without Foundation
// (Sources/ARCHITECTURE.md, configuration loader). Only the YAML module imports it.
#include <yaml.h>
