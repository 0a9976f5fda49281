// The spawn sequence moved to include/clinux_spawn.h (Swift drives it too); this name stays for
// the sources that include it as before.
#include "clinux_spawn.h"
